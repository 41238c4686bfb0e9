/**
 * File target: newline-delimited Debezium JSON appended to a file. Each batch is written with one
 * writev and made durable with fdatasync before the write resolves. On open, a partial last line
 * left by a crash is cut off, so every line in the file is a whole event.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileTargetConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { DebeziumJsonEncoder } from '../../events/debezium-json-encoder.js';
import type { EventBatch } from '../../events/stream-event.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import type { Logger } from '../../logging/logger.js';
import type { Target } from '../target.js';
import { cutPartialLastLine, writeAll } from './ndjson-append.js';

/**
 * Before the source is touched: the file can be appended to (its directory exists and is
 * writable; the file, if it exists, is writable and not a directory).
 */
export async function checkFileTarget(config: FileTargetConfig): Promise<void> {
  const file = config.path;
  const directory = path.dirname(file);
  const refuse = (reason: string, hint: string): PgcdcError => new PgcdcError('TARGET_FAILED', `cannot write ${file}: ${reason}`, { hint });
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat?.isDirectory()) throw refuse('it is a directory', 'set spec.target.file.path to a file');
  if (stat) {
    if (!(await fs.access(file, constants.W_OK).then(() => true, () => false))) throw refuse('no permission to write it', `let this user write ${file}, or choose another spec.target.file.path`);
    return;
  }
  const parent = await fs.stat(directory).catch(() => undefined);
  if (!parent) throw refuse(`the directory ${directory} does not exist`, `create ${directory}, or choose another spec.target.file.path`);
  if (!parent.isDirectory()) throw refuse(`${directory} is not a directory`, 'choose another spec.target.file.path');
  if (!(await fs.access(directory, constants.W_OK).then(() => true, () => false))) {
    throw refuse(`no permission to create files in ${directory}`, `let this user write ${directory}, or choose another spec.target.file.path`);
  }
}

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
