/**
 * Turns change records into NATS messages: the subject is the record's destination, the data its
 * value (empty for a tombstone), and the headers one pre-encoded block (`NATS/1.0` then
 * `Nats-Msg-Id` from the record's position, `pgcdc-key`, the metadata headers, Debezium's headers,
 * the configured ones) as one text: no header object per message.
 */
import type { ChangeRecord } from '../records/change-records.js';
import { METADATA_HEADERS, RecordMetadataReader } from '../records/record-metadata.js';

const EMPTY = new Uint8Array(0);

/**
 * One message to publish: its header block as text (written straight into the publisher's frames)
 * and its byte length. It is its own header object for the client's `publish`, which only calls
 * `encode()` on the headers it is given.
 */
export class NatsMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** `NATS/1.0\r\n` and the headers, ending with an empty line. */
  readonly headerText: string;
  readonly headerBytes: number;
  /** The `Nats-Msg-Id`. */
  readonly id: string;
  /** The record (its value for a dead letter). */
  readonly record: ChangeRecord;

  constructor(subject: string, data: Uint8Array, headerText: string, id: string, record: ChangeRecord) {
    this.subject = subject;
    this.data = data;
    this.headerText = headerText;
    this.headerBytes = Buffer.byteLength(headerText, 'utf8');
    this.id = id;
    this.record = record;
  }

  /** Bytes the server counts against `max_payload`: headers and data. */
  get size(): number {
    return this.headerBytes + this.data.length;
  }

  encode(): Uint8Array {
    return Buffer.from(this.headerText, 'utf8');
  }
}

/** A header value on one line (NATS headers end at CR/LF). */
function headerValue(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

export class NatsMessageEncoder {
  #metadata = new RecordMetadataReader();
  readonly #idPrefix: string;
  /** The configured headers, encoded once. */
  readonly #extra: string;

  constructor(idPrefix: string, headers: Readonly<Record<string, string>>) {
    this.#idPrefix = `${idPrefix}:`;
    this.#extra = Object.entries(headers)
      .map(([name, value]) => `${name}: ${headerValue(value)}\r\n`)
      .join('');
  }

  /**
   * Ids restart from the next record seen: after a failed write the pipeline delivers the tail
   * again from a transaction's start, whose records must get the ids they had.
   */
  restart(): void {
    this.#metadata = new RecordMetadataReader();
  }

  /** The messages of `records`, in order (every record of the stream must come through here). */
  encode(records: readonly ChangeRecord[]): NatsMessage[] {
    const messages: NatsMessage[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) messages[i] = this.#message(records[i]!);
    return messages;
  }

  #message(record: ChangeRecord): NatsMessage {
    const meta = this.#metadata.of(record);
    const id = this.#idPrefix + meta.id;
    let block = `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n${METADATA_HEADERS.op}: ${meta.op}\r\n${METADATA_HEADERS.lsn}: ${meta.lsn}\r\n`;
    if (meta.table !== undefined) block += `${METADATA_HEADERS.table}: ${headerValue(meta.table)}\r\n`;
    if (meta.txId !== undefined) block += `${METADATA_HEADERS.txId}: ${meta.txId}\r\n`;
    // JSON text has no raw CR or LF.
    if (record.key !== null) block += `${METADATA_HEADERS.key}: ${record.key.toString('utf8')}\r\n`;
    if (record.headers) for (const [name, value] of record.headers) block += `${name.toString('latin1')}: ${headerValue(value.toString('utf8'))}\r\n`;
    block += this.#extra + '\r\n';
    return new NatsMessage(record.topic, record.value ?? EMPTY, block, id, record);
  }
}
