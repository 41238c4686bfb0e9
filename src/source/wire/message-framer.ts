/**
 * Splits the byte stream of a PostgreSQL connection into backend messages (type byte, Int32 length,
 * payload), handing out views into the received chunks without copying when a message fits in one.
 * A handler may return a promise to hold processing (backpressure); the rest waits, in order.
 */

/** Receives one backend message; `payload` is `[start, end)` of `buf`. */
export type MessageHandler = (type: number, buf: Buffer, start: number, end: number) => void | Promise<void>;

/** Called when processing must stop reading (`pause`) or may read again (`resume`). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class MessageFramer {
  #chunk: Buffer = Buffer.alloc(0);
  #offset = 0;
  /** Pieces of a message larger than what has arrived so far. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  #needed = 0;
  #queue: Buffer[] = [];
  #busy = false;
  #handler: MessageHandler;
  #failed: ((error: unknown) => void) | undefined;
  readonly #flow: FlowControl;

  constructor(handler: MessageHandler, flow: FlowControl, onError?: (error: unknown) => void) {
    this.#handler = handler;
    this.#flow = flow;
    this.#failed = onError;
  }

  /** Replaces the handler; takes effect from the next message. */
  setHandler(handler: MessageHandler): void {
    this.#handler = handler;
  }

  /** Feeds a chunk read from the socket. */
  push(chunk: Buffer): void {
    if (this.#busy) {
      this.#queue.push(chunk);
      return;
    }
    this.#run(chunk);
  }

  #run(chunk: Buffer): void {
    try {
      const pending = this.#consume(chunk);
      if (pending) this.#wait(pending);
    } catch (error) {
      this.#fail(error);
    }
  }

  #wait(pending: Promise<void>): void {
    this.#busy = true;
    this.#flow.pause();
    pending.then(
      () => {
        try {
          // Continue with what is left of the current chunk, then the queued chunks.
          const next = this.#consume(undefined);
          if (next) return this.#wait(next);
          while (this.#queue.length > 0) {
            const more = this.#consume(this.#queue.shift()!);
            if (more) return this.#wait(more);
          }
          this.#busy = false;
          this.#flow.resume();
        } catch (error) {
          this.#fail(error);
        }
      },
      (error: unknown) => this.#fail(error),
    );
  }

  #fail(error: unknown): void {
    this.#busy = true; // stop processing anything else
    this.#queue = [];
    if (this.#failed) this.#failed(error);
    else throw error;
  }

  /** Processes messages until the data runs out or a handler returns a promise. */
  #consume(chunk: Buffer | undefined): Promise<void> | undefined {
    if (chunk !== undefined) {
      if (this.#needed > 0) {
        // Completing a message that spans chunks.
        this.#parts.push(chunk);
        this.#partsLength += chunk.length;
        if (this.#partsLength < this.#needed) return undefined;
        const joined = Buffer.concat(this.#parts, this.#partsLength);
        this.#parts = [];
        this.#partsLength = 0;
        this.#needed = 0;
        this.#chunk = joined;
      } else if (this.#offset < this.#chunk.length) {
        // A header or a small tail was left over: join it with the new chunk.
        this.#chunk = Buffer.concat([this.#chunk.subarray(this.#offset), chunk]);
      } else {
        this.#chunk = chunk;
      }
      this.#offset = 0;
    }
    const buf = this.#chunk;
    let offset = this.#offset;
    const length = buf.length;
    while (length - offset >= 5) {
      const size = buf.readUInt32BE(offset + 1) + 1;
      if (length - offset < size) {
        this.#parts = [buf.subarray(offset)];
        this.#partsLength = length - offset;
        this.#needed = size;
        this.#chunk = Buffer.alloc(0);
        this.#offset = 0;
        return undefined;
      }
      const type = buf[offset]!;
      const start = offset + 5;
      offset += size;
      const result = this.#handler(type, buf, start, offset);
      if (result !== undefined) {
        this.#offset = offset;
        return result;
      }
    }
    this.#offset = offset;
    return undefined;
  }
}
