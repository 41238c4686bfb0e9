/**
 * Publishes batches of messages to JetStream over one connection, pipelined: messages go out in
 * order, batch after batch, at most `maxPending` unacknowledged, and a batch settles once each of
 * its messages has its PubAck (a duplicate's included) or was refused for good. The PubAcks come
 * back on one inbox subscription (reply subject `<inbox>.<n>`, n numbering every publish of the
 * connection), so there is no request object or timer per message. Any failure (connection lost,
 * no PubAck within the timeout, JetStream unavailable or refusing) stops the publisher and is
 * reported once; the caller publishes the unsettled batches again, from their first message
 * without a PubAck, on a new connection.
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox } from '@nats-io/transport-node';
import type { NatsMessage } from './nats-messages.js';

/** What became of one message of a batch. */
export const MessageState = {
  Pending: 0,
  Stored: 1,
  /** Refused for good (too large): set aside or stopping the stream. */
  Refused: 2,
} as const;

/** Why publishing stopped. */
export interface PublishFailure {
  /** `lost`: connection lost or no PubAck in time; `unavailable`: JetStream answered 503 or nobody did; `refused`: JetStream refused the write; `permission`: publish not allowed. */
  readonly kind: 'lost' | 'unavailable' | 'refused' | 'permission';
  readonly message: string;
}

/** JetStream's error code of a message over the stream's `max_msg_size`. */
const MESSAGE_TOO_LARGE = 10054;

/** A batch's messages and what became of each, across connections. */
export class OutgoingBatch {
  readonly messages: readonly NatsMessage[];
  readonly states: Uint8Array;
  /** Why messages were refused, by index. */
  readonly refusals = new Map<number, string>();
  /** Messages neither stored nor refused. */
  unsettled: number;
  /** On the current connection: the next index to publish, and the publish number of index 0. */
  next = 0;
  base = 0;
  #published!: () => void;
  #settled!: () => void;
  /** Resolves once every message was handed to a connection (or the batch settled). */
  readonly published = new Promise<void>((resolve) => (this.#published = resolve));
  /** Resolves once every message is stored or refused. */
  readonly settled = new Promise<void>((resolve) => (this.#settled = resolve));

  constructor(messages: readonly NatsMessage[]) {
    this.messages = messages;
    this.states = new Uint8Array(messages.length);
    this.unsettled = messages.length;
  }

  /** Marks message `index` stored or refused; true when that settled the batch. */
  settle(index: number, state: number): boolean {
    this.states[index] = state;
    if (--this.unsettled > 0) return false;
    this.#published();
    this.#settled();
    return true;
  }

  markPublished(): void {
    this.#published();
  }
}

export class JetStreamPublisher {
  readonly #connection: NatsConnection;
  readonly #inbox: string;
  readonly #inboxPrefixLength: number;
  readonly #subscription: Subscription;
  readonly #maxPending: number;
  readonly #onFailure: (failure: PublishFailure) => void;
  readonly #onProgress: () => void;
  readonly #timer: NodeJS.Timeout;
  /** Publishes so far on this connection. */
  #sequence = 0;
  /** Batches with messages still to publish, in order. */
  readonly #toPublish: OutgoingBatch[] = [];
  /** Batches with messages published and not settled, in order. */
  readonly #unsettled: OutgoingBatch[] = [];
  #inFlight = 0;
  #progressed = false;
  /** Writes HPUB frames straight into the connection's outbound buffer (undefined: through `publish`). */
  readonly #frames: FrameWriter | undefined;
  #failure: PublishFailure | undefined;

  constructor(connection: NatsConnection, options: { maxPending: number; timeoutMs: number; onFailure: (failure: PublishFailure) => void; onProgress: () => void }) {
    this.#connection = connection;
    this.#maxPending = options.maxPending;
    this.#onFailure = options.onFailure;
    this.#onProgress = options.onProgress;
    this.#inbox = createInbox();
    this.#inboxPrefixLength = this.#inbox.length + 1;
    const protocol = (connection as unknown as { protocol?: { sendCommand?: (command: Uint8Array) => void } }).protocol;
    this.#frames = typeof protocol?.sendCommand === 'function' ? new FrameWriter(`${this.#inbox}.`, (frames) => protocol.sendCommand!(frames)) : undefined;
    this.#subscription = connection.subscribe(`${this.#inbox}.*`, { callback: (error, msg) => (error ? this.#fail({ kind: 'lost', message: error.message }) : this.#onAck(msg)) });
    void connection.closed().then((error) => this.#fail({ kind: 'lost', message: `the connection to ${connection.getServer()} was lost${error ? ` (${error.message})` : ''}` }));
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === 'error') {
          const text = status.error.message;
          this.#fail(/permission/i.test(text) ? { kind: 'permission', message: text } : { kind: 'lost', message: text });
        }
      }
    })().catch(() => undefined);
    this.#timer = setInterval(() => {
      if (!this.#progressed && this.#inFlight > 0) this.#fail({ kind: 'lost', message: `no PubAck from ${connection.getServer()} within ${options.timeoutMs} ms` });
      this.#progressed = false;
    }, options.timeoutMs);
    this.#timer.unref();
  }

  /** Whether the publisher still works (no failure, connection open). */
  get usable(): boolean {
    return this.#failure === undefined && !this.#connection.isClosed();
  }

  /** The server's `max_payload` (headers and data of one message). */
  get maxPayload(): number {
    return this.#connection.info?.max_payload ?? Number.POSITIVE_INFINITY;
  }

  /** Queues `batch`'s messages not settled yet, after those queued before. */
  add(batch: OutgoingBatch): void {
    if (batch.unsettled === 0) return;
    batch.next = 0;
    batch.base = this.#sequence;
    this.#sequence += batch.messages.length;
    this.#toPublish.push(batch);
    this.#unsettled.push(batch);
    if (this.#failure === undefined) this.#pump();
  }

  /** Publishes the next messages while the window allows. */
  #pump(): void {
    try {
      while (this.#inFlight < this.#maxPending && this.#toPublish.length > 0) {
        const batch = this.#toPublish[0]!;
        const { messages, states } = batch;
        const frames = this.#frames;
        while (batch.next < messages.length && this.#inFlight < this.#maxPending) {
          const index = batch.next++;
          if (states[index] !== MessageState.Pending) continue;
          if (frames) frames.add(messages[index]!, batch.base + index);
          else this.#connection.publish(messages[index]!.subject, messages[index]!.data, { reply: `${this.#inbox}.${batch.base + index}`, headers: messages[index]! as unknown as MsgHdrs });
          this.#inFlight++;
        }
        frames?.flush();
        if (batch.next === messages.length) {
          this.#toPublish.shift();
          batch.markPublished();
        }
      }
    } catch (error) {
      this.#fail({ kind: 'lost', message: (error as Error).message });
    }
  }

  #onAck(msg: Msg): void {
    if (this.#failure) return;
    const sequence = Number(msg.subject.slice(this.#inboxPrefixLength));
    let at = 0;
    let batch: OutgoingBatch | undefined;
    for (; at < this.#unsettled.length; at++) {
      const candidate = this.#unsettled[at]!;
      if (sequence >= candidate.base && sequence < candidate.base + candidate.messages.length) {
        batch = candidate;
        break;
      }
    }
    if (batch === undefined) return;
    const index = sequence - batch.base;
    if (batch.states[index] !== MessageState.Pending) return;
    const subject = batch.messages[index]!.subject;
    if (msg.headers !== undefined && msg.data.length === 0) {
      const code = msg.headers.code;
      this.#fail({ kind: 'unavailable', message: code === 503 ? `no JetStream stream answered for subject "${subject}" (no responders)` : `JetStream answered ${code} ${msg.headers.description} for subject "${subject}"` });
      return;
    }
    let state: number = MessageState.Stored;
    // A PubAck is {"stream":…}; anything else is read as text.
    if (msg.data.length > 0 && msg.data[2] !== 0x73 /* s */ && msg.string().includes('"error"')) {
      const answer = parseError(msg.string());
      if (answer.errCode !== MESSAGE_TOO_LARGE) {
        this.#fail({ kind: answer.code === 503 ? 'unavailable' : 'refused', message: `JetStream refused the message on "${subject}": ${answer.description} (code ${answer.code}, error ${answer.errCode})` });
        return;
      }
      batch.refusals.set(index, `JetStream refused the message of ${batch.messages[index]!.size} bytes for subject "${subject}": ${answer.description}`);
      state = MessageState.Refused;
    }
    this.#inFlight--;
    this.#progressed = true;
    if (batch.settle(index, state)) {
      this.#unsettled.splice(at, 1);
      this.#onProgress();
    }
    // Refilled in groups: fewer, larger writes.
    if (this.#inFlight <= this.#maxPending - PUMP_GROUP || this.#inFlight === 0) this.#pump();
  }

  /** Stops publishing and reports `failure` (once). */
  #fail(failure: PublishFailure): void {
    if (this.#failure) return;
    this.#failure = failure;
    clearInterval(this.#timer);
    this.#onFailure(failure);
  }

  /** Closes the connection; no failure is reported after. */
  async close(): Promise<void> {
    this.#failure ??= { kind: 'lost', message: 'closed' };
    clearInterval(this.#timer);
    this.#subscription.unsubscribe();
    await this.#connection.close().catch(() => undefined);
  }
}

function parseError(text: string): { code: number; errCode: number; description: string } {
  try {
    const error = (JSON.parse(text) as { error: { code?: number; err_code?: number; description?: string } }).error;
    return { code: error.code ?? 0, errCode: error.err_code ?? 0, description: error.description ?? text };
  } catch {
    return { code: 0, errCode: 0, description: text };
  }
}

/**
 * Encodes messages as NATS HPUB frames (`HPUB <subject> <reply> <header bytes> <total bytes>`, the
 * header block, the data, CRLF) into one buffer per pump, handed to the client's outbound queue at
 * once: no protocol line string, encoding or buffer list per message. The client's `publish` does
 * the same one message at a time.
 */
class FrameWriter {
  readonly #reply: string;
  readonly #send: (frames: Uint8Array) => void;
  #buffer = Buffer.allocUnsafe(FRAME_CHUNK_BYTES);
  /** Start of the frames not handed over yet, and their end. */
  #start = 0;
  #used = 0;

  constructor(reply: string, send: (frames: Uint8Array) => void) {
    this.#reply = reply;
    this.#send = send;
  }

  add(message: NatsMessage, sequence: number): void {
    const headerBytes = message.headerBytes;
    const data = message.data;
    const line = `HPUB ${message.subject} ${this.#reply}${sequence} ${headerBytes} ${headerBytes + data.length}\r\n`;
    const room = line.length * 3 + headerBytes + data.length + 2;
    if (this.#used + room > this.#buffer.length) {
      this.flush();
      this.#buffer = Buffer.allocUnsafe(Math.max(room, FRAME_CHUNK_BYTES));
      this.#start = this.#used = 0;
    }
    const buffer = this.#buffer;
    let at = this.#used;
    at += buffer.write(line, at, 'utf8');
    at += buffer.write(message.headerText, at, 'utf8');
    buffer.set(data, at);
    at += data.length;
    buffer[at++] = 13;
    buffer[at++] = 10;
    this.#used = at;
  }

  /** Hands the frames written since the last flush to the client (that part of the buffer is never written again). */
  flush(): void {
    if (this.#used === this.#start) return;
    this.#send(this.#buffer.subarray(this.#start, this.#used));
    this.#start = this.#used;
  }
}

/** Messages acknowledged before the window is refilled (at most the window). */
const PUMP_GROUP = 64;

/** Frames handed to the client at once, at most (a larger message gets a buffer of its own). */
const FRAME_CHUNK_BYTES = 256 * 1024;
