/**
 * File target: newline-delimited Debezium JSON appended to a file. Each batch is written with one
 * writev and made durable with fdatasync before the write resolves. On open, a partial last line
 * left by a crash is cut off, so every line in the file is a whole event.
 */
import fs from 'node:fs/promises';
import type { FileTargetConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { DebeziumJsonEncoder } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import type { Logger } from '../../logging/logger.js';
import type { Target } from '../target.js';
import { cutPartialLastLine, writeAll } from './ndjson-append.js';

export class FileTarget implements Target {
  readonly #config: FileTargetConfig;
  readonly #encoder: DebeziumJsonEncoder;
  readonly #logger: Logger;
  readonly #writer = new JsonWriter(1024 * 1024);
  #handle: fs.FileHandle | undefined;
  /** Regular files are fsynced; devices, pipes and sockets cannot be. */
  #syncable = false;

  constructor(config: FileTargetConfig, encoder: DebeziumJsonEncoder, logger: Logger) {
    this.#config = config;
    this.#encoder = encoder;
    this.#logger = logger;
  }

  async open(): Promise<void> {
    const path = this.#config.path;
    try {
      this.#handle = await fs.open(path, 'a+');
      const stat = await this.#handle.stat();
      this.#syncable = stat.isFile();
      const dropped = this.#syncable ? await cutPartialLastLine(this.#handle, stat.size) : 0;
      if (dropped > 0) this.#logger.warn({ path, droppedBytes: dropped }, 'cut a partial last line left by an interrupted run; its event will be delivered again');
    } catch (error) {
      throw new PgcdcError('TARGET_FAILED', `cannot open ${path} for appending: ${(error as Error).message}`, {
        cause: error,
        hint: 'check that the directory exists and is writable',
      });
    }
  }

  async write(batch: EventBatch): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw new PgcdcError('INTERNAL', 'file target written before it was opened');
    this.#encoder.encode(batch.events, this.#writer);
    const chunks = this.#writer.take();
    if (chunks.length === 0) return;
    try {
      await writeAll(handle, chunks);
      if (this.#syncable) await handle.datasync();
      this.#writer.recycle();
    } catch (error) {
      throw new PgcdcError('TARGET_FAILED', `cannot write to ${this.#config.path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'check free disk space and permissions; nothing after the last durable batch was acknowledged',
      });
    }
  }

  async close(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
