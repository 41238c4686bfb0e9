/**
 * Sends the data of a `COPY … FROM STDIN`: bytes are gathered into CopyData messages of about 256
 * KiB and written to the socket; writing waits while the socket's buffer is full.
 */
import type net from 'node:net';

const MESSAGE_BYTES = 256 * 1024;

export class CopyInSink {
  readonly #socket: net.Socket;
  #buf = Buffer.allocUnsafe(MESSAGE_BYTES + 5);
  #pos = 5;

  constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /** Adds bytes (whole rows, or whole CopyData payloads); returns a promise when the caller should wait. */
  write(src: Buffer, start: number, end: number): Promise<void> | undefined {
    const length = end - start;
    if (this.#pos + length > this.#buf.length) {
      const waiting = this.#send();
      if (length > MESSAGE_BYTES) {
        this.#socket.write(copyData(src.subarray(start, end)));
        return waiting ?? this.#drained();
      }
      src.copy(this.#buf, this.#pos, start, end);
      this.#pos += length;
      return waiting;
    }
    src.copy(this.#buf, this.#pos, start, end);
    this.#pos += length;
    return undefined;
  }

  /** Sends what is gathered and waits until the socket can take more. */
  async flush(): Promise<void> {
    await this.#send();
  }

  #send(): Promise<void> | undefined {
    if (this.#pos === 5) return undefined;
    const message = this.#buf.subarray(0, this.#pos);
    message[0] = 0x64; // d
    message.writeInt32BE(this.#pos - 1, 1);
    this.#buf = Buffer.allocUnsafe(MESSAGE_BYTES + 5);
    this.#pos = 5;
    return this.#socket.write(message) ? undefined : this.#drained();
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => this.#socket.once('drain', () => resolve()));
  }
}

function copyData(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0x64;
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}
