/**
 * Reads the dead letters a stream's target set aside, from the store its spec names (the NDJSON
 * file of dead-letter-file, or the table of dead-letter-table), and records re-sends without
 * rewriting what the stream writes: a file gets a sidecar `<file>.resent` of appended, fsynced
 * `{"id","failedAt","resentAt"}` lines; a table gets a `resent_at` column (added when first
 * needed). A re-send counts for the letter it was made for: the same event set aside again later
 * (a newer `failedAt`) shows as not re-sent.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { pgClientConfig } from '../config/connection-url.js';
import type { ConnectionConfig, DeadLetterConfig, StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { quoteIdent } from '../source/sql-quoting.js';

/** One stored dead letter; `event` is the event's JSON text as stored (the bytes a file holds). */
export interface StoredDeadLetter {
  readonly id: string;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: Date;
  readonly event: Buffer;
  readonly resentAt: Date | undefined;
}

export interface DeadLetterRecords {
  /** The latest letter of each id, newest first, `limit` at most. */
  list(limit: number): Promise<StoredDeadLetter[]>;
  /** The latest letter of `id`. */
  find(id: string): Promise<StoredDeadLetter | undefined>;
  /** Records that `letter` was re-sent at `at` (durable when it resolves). */
  markResent(letter: StoredDeadLetter, at: Date): Promise<void>;
}

/** The dead-letter settings of the stream's target; undefined for a target without dead letters. */
export function deadLetterConfigOf(stream: StreamConfig): DeadLetterConfig | undefined {
  const target = stream.target;
  return 'deadLetter' in target ? target.deadLetter : undefined;
}

/** The records of the store `config` names (the same place dead-letter-setup writes to). */
export function deadLetterRecords(config: DeadLetterConfig, stream: StreamConfig): DeadLetterRecords {
  const store = config.store;
  if (store.kind === 'file') return new DeadLetterFileRecords(store.path ?? path.join(stream.stateDir, 'dead-letters.ndjson'));
  return new DeadLetterTableRecords(store.connection, store.table, stream.name);
}

/** Newest first by failure time, `limit` at most. */
function newestFirst(letters: Iterable<StoredDeadLetter>, limit: number): StoredDeadLetter[] {
  return [...letters].sort((a, b) => b.failedAt.getTime() - a.failedAt.getTime()).slice(0, limit);
}

class DeadLetterFileRecords implements DeadLetterRecords {
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  async list(limit: number): Promise<StoredDeadLetter[]> {
    return newestFirst((await this.#read()).values(), limit);
  }

  async find(id: string): Promise<StoredDeadLetter | undefined> {
    return (await this.#read()).get(id);
  }

  async markResent(letter: StoredDeadLetter, at: Date): Promise<void> {
    const line = `${JSON.stringify({ id: letter.id, failedAt: letter.failedAt.toISOString(), resentAt: at.toISOString() })}\n`;
    const handle = await fs.open(this.#marksFile, 'a');
    try {
      await handle.appendFile(line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  get #marksFile(): string {
    return `${this.#file}.resent`;
  }

  /** The latest letter of each id, with its re-send mark. */
  async #read(): Promise<Map<string, StoredDeadLetter>> {
    const letters = new Map<string, StoredDeadLetter>();
    for (const line of await readLines(this.#file)) {
      const letter = parseLetterLine(line);
      if (letter !== undefined) letters.set(letter.id, letter);
    }
    for (const line of await readLines(this.#marksFile)) {
      const mark = parseJson(line) as { id?: unknown; failedAt?: unknown; resentAt?: unknown } | undefined;
      if (typeof mark?.id !== 'string' || typeof mark.failedAt !== 'string' || typeof mark.resentAt !== 'string') continue;
      const letter = letters.get(mark.id);
      if (letter !== undefined && letter.failedAt.toISOString() === mark.failedAt) letters.set(mark.id, { ...letter, resentAt: new Date(mark.resentAt) });
    }
    return letters;
  }
}

/** The complete lines of a file (a line being appended is left out); none when it does not exist. */
async function readLines(file: string): Promise<Buffer[]> {
  let content: Buffer;
  try {
    content = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PgcdcError('TARGET_FAILED', `cannot read the dead-letter file ${file}: ${(error as Error).message}`, { cause: error, hint: 'check that pgcdc may read it' });
  }
  const lines: Buffer[] = [];
  for (let start = 0, end = content.indexOf(0x0a); end !== -1; start = end + 1, end = content.indexOf(0x0a, start)) {
    if (end > start) lines.push(content.subarray(start, end));
  }
  return lines;
}

function parseJson(text: Buffer | string): unknown {
  try {
    return JSON.parse(text.toString());
  } catch {
    return undefined;
  }
}

/**
 * One line of dead-letter-file: `{"failedAt","id","attempts","error","event":<event>}`. The event is
 * kept as the bytes written (numbers exactly as rendered), cut out after the head the writer made.
 */
function parseLetterLine(line: Buffer): StoredDeadLetter | undefined {
  const parsed = parseJson(line) as { failedAt?: unknown; id?: unknown; attempts?: unknown; error?: unknown; event?: unknown } | undefined;
  if (typeof parsed?.id !== 'string' || typeof parsed.failedAt !== 'string' || typeof parsed.error !== 'string' || typeof parsed.attempts !== 'number') return undefined;
  const head = Buffer.from(`{"failedAt":"${parsed.failedAt}","id":${JSON.stringify(parsed.id)},"attempts":${parsed.attempts},"error":${JSON.stringify(parsed.error)},"event":`, 'utf8');
  const event = line.subarray(0, head.length).equals(head) ? line.subarray(head.length, line.length - 1) : Buffer.from(JSON.stringify(parsed.event), 'utf8');
  return { id: parsed.id, error: parsed.error, attempts: parsed.attempts, failedAt: new Date(parsed.failedAt), event, resentAt: undefined };
}

/** `undefined_table`: the stream has not set anything aside yet. */
const UNDEFINED_TABLE = '42P01';

class DeadLetterTableRecords implements DeadLetterRecords {
  readonly #connection: ConnectionConfig;
  readonly #qualified: string;
  readonly #stream: string;

  constructor(connection: ConnectionConfig, table: string, stream: string) {
    this.#connection = connection;
    this.#qualified = table.split('.').map(quoteIdent).join('.');
    this.#stream = stream;
  }

  list(limit: number): Promise<StoredDeadLetter[]> {
    return this.#select('ORDER BY failed_at DESC, event_id LIMIT $2', [this.#stream, limit]);
  }

  async find(id: string): Promise<StoredDeadLetter | undefined> {
    return (await this.#select('AND event_id = $2', [this.#stream, id]))[0];
  }

  async markResent(letter: StoredDeadLetter, at: Date): Promise<void> {
    await this.#run(async (client) => {
      await client.query(`ALTER TABLE ${this.#qualified} ADD COLUMN IF NOT EXISTS resent_at timestamptz`);
      await client.query(`UPDATE ${this.#qualified} SET resent_at = $4 WHERE stream = $1 AND event_id = $2 AND failed_at = $3`, [this.#stream, letter.id, letter.failedAt, at]);
    });
  }

  /** Rows of this stream; `resent_at` read through to_jsonb, so a table without the column reads too. */
  async #select(rest: string, params: unknown[]): Promise<StoredDeadLetter[]> {
    return this.#run(async (client) => {
      try {
        const { rows } = await client.query<{ event_id: string; error: string; attempts: number; failed_at: Date; event: string; resent_at: string | null }>(
          `SELECT event_id, error, attempts, failed_at, event::text AS event, to_jsonb(d)->>'resent_at' AS resent_at FROM ${this.#qualified} d WHERE stream = $1 ${rest}`,
          params,
        );
        return rows.map((row) => {
          const resentAt = row.resent_at === null ? undefined : new Date(row.resent_at);
          return {
            id: row.event_id,
            error: row.error,
            attempts: row.attempts,
            failedAt: row.failed_at,
            event: Buffer.from(row.event, 'utf8'),
            // A re-send made before the event was set aside again does not count.
            resentAt: resentAt !== undefined && resentAt >= row.failed_at ? resentAt : undefined,
          };
        });
      } catch (error) {
        if ((error as { code?: string }).code === UNDEFINED_TABLE) return [];
        throw error;
      }
    });
  }

  async #run<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const connection = this.#connection;
    const client = new pg.Client(pgClientConfig(connection));
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await work(client);
    } catch (error) {
      throw new PgcdcError('TARGET_FAILED', `cannot read the dead-letter table ${this.#qualified} of ${connection.host}:${connection.port}/${connection.database}: ${(error as Error).message}`, {
        cause: error,
        hint: 'check deadLetter.table.url and that its user may read and alter the table',
      });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
