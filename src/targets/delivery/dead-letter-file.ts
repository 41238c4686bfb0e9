/**
 * Dead letters as NDJSON lines appended to a file, `{"failedAt","id","attempts","error","event"}`,
 * fsynced before `add` resolves. Letters arriving while a write runs go out together in the next
 * one (one fsync for all of them).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { cutPartialLastLine, writeAll } from '../file/ndjson-append.js';
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.js';

interface PendingWrite {
  readonly lines: Buffer[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class DeadLetterFile implements DeadLetterStore {
  readonly #path: string;
  #handle: fs.FileHandle | undefined;
  #pending: PendingWrite[] = [];
  #writing = false;

  constructor(file: string) {
    this.#path = file;
  }

  get description(): string {
    return this.#path;
  }

  async open(): Promise<void> {
    try {
      await fs.mkdir(path.dirname(this.#path), { recursive: true });
      this.#handle = await fs.open(this.#path, 'a+');
      await cutPartialLastLine(this.#handle, (await this.#handle.stat()).size);
    } catch (error) {
      throw new PgcdcError('TARGET_FAILED', `cannot open the dead-letter file ${this.#path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'check that its directory is writable, or choose another deadLetter.file',
      });
    }
  }

  add(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    const lines = letters.map(letterLine);
    return new Promise((resolve, reject) => {
      this.#pending.push({ lines, resolve, reject });
      void this.#flush();
    });
  }

  async close(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      try {
        const handle = this.#handle;
        if (!handle) throw new PgcdcError('INTERNAL', 'dead-letter file written before it was opened');
        await writeAll(handle, batch.flatMap((write) => write.lines));
        await handle.datasync();
        for (const write of batch) write.resolve();
      } catch (error) {
        const failure = new PgcdcError('TARGET_FAILED', `cannot write to the dead-letter file ${this.#path}: ${(error as Error).message}`, {
          cause: error,
          hint: 'check free disk space and permissions; the events are sent again on the next run',
        });
        for (const write of batch) write.reject(failure);
      }
    }
    this.#writing = false;
  }
}

/** One NDJSON line; the event is embedded as the JSON it is. */
function letterLine(letter: DeadLetter): Buffer {
  const head = `{"failedAt":"${letter.failedAt.toISOString()}","id":${JSON.stringify(letter.id)},"attempts":${letter.attempts},"error":${JSON.stringify(letter.error)},"event":`;
  return Buffer.concat([Buffer.from(head, 'utf8'), trimEnd(letter.event), Buffer.from('}\n')]);
}

/** The event without trailing whitespace (records may end with a newline). */
function trimEnd(event: Buffer): Buffer {
  let end = event.length;
  while (end > 0 && (event[end - 1] === 0x0a || event[end - 1] === 0x20)) end--;
  return event.subarray(0, end);
}
