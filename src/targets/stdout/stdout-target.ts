/**
 * Stdout target: newline-delimited Debezium JSON on standard output (logs go to standard error).
 * A batch is acknowledged once it has been handed to the operating system.
 */
import type { DebeziumJsonEncoder } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Target } from '../target.js';

export class StdoutTarget implements Target {
  readonly #encoder: DebeziumJsonEncoder;
  readonly #out: NodeJS.WritableStream;
  readonly #writer = new JsonWriter(256 * 1024);

  constructor(encoder: DebeziumJsonEncoder, out: NodeJS.WritableStream = process.stdout) {
    this.#encoder = encoder;
    this.#out = out;
  }

  async open(): Promise<void> {}

  write(batch: EventBatch): Promise<void> {
    this.#encoder.encode(batch.events, this.#writer);
    const chunks = this.#writer.take();
    if (chunks.length === 0) return Promise.resolve();
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return new Promise((resolve, reject) => {
      this.#out.write(data, (error) => {
        this.#writer.recycle();
        if (error) reject(new PgcdcError('TARGET_FAILED', `cannot write to standard output: ${error.message}`, { cause: error, hint: 'the reader of pgcdc\'s output went away' }));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {}
}
