/**
 * Dead letters as rows of a PostgreSQL table, created if missing: `(stream, event_id)` is the key,
 * so an event set aside again after a restart updates its row instead of adding one. Written
 * through node-postgres; a letter is durable once its INSERT commits.
 */
import pg from 'pg';
import { pgClientConfig } from '../../config/connection-url.js';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { quoteIdent } from '../../source/sql-quoting.js';
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.js';

export interface DeadLetterTableOptions {
  readonly connection: ConnectionConfig;
  /** `table` or `schema.table`. */
  readonly table: string;
  /** The stream the letters come from (a table may hold several streams' letters). */
  readonly stream: string;
}

export class DeadLetterTable implements DeadLetterStore {
  readonly #options: DeadLetterTableOptions;
  readonly #qualified: string;
  #client: pg.Client | undefined;

  constructor(options: DeadLetterTableOptions) {
    this.#options = options;
    this.#qualified = options.table.split('.').map(quoteIdent).join('.');
  }

  get description(): string {
    const { connection, table } = this.#options;
    return `table ${table} of ${connection.host}:${connection.port}/${connection.database}`;
  }

  async open(): Promise<void> {
    const client = new pg.Client(pgClientConfig(this.#options.connection));
    client.on('error', () => undefined); // a lost connection fails the next query, which reports it
    try {
      await client.connect();
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#qualified} (stream text NOT NULL, event_id text NOT NULL, failed_at timestamptz NOT NULL, ` +
          'attempts integer NOT NULL, error text NOT NULL, event jsonb NOT NULL, PRIMARY KEY (stream, event_id))',
      );
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.#failure('cannot prepare', error);
    }
    this.#client = client;
  }

  async add(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const client = this.#client;
    if (!client) throw new PgcdcError('INTERNAL', 'dead-letter table written before it was opened');
    try {
      await client.query(
        `INSERT INTO ${this.#qualified} (stream, event_id, failed_at, attempts, error, event) ` +
          'SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::integer[], $5::text[], $6::jsonb[]) ' +
          'ON CONFLICT (stream, event_id) DO UPDATE SET failed_at = excluded.failed_at, attempts = excluded.attempts, error = excluded.error, event = excluded.event',
        [
          this.#options.stream,
          letters.map((letter) => letter.id),
          letters.map((letter) => letter.failedAt.toISOString()),
          letters.map((letter) => letter.attempts),
          letters.map((letter) => letter.error),
          letters.map((letter) => letter.event.toString('utf8')),
        ],
      );
    } catch (error) {
      throw this.#failure('cannot write to', error);
    }
  }

  async close(): Promise<void> {
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  #failure(action: string, error: unknown): PgcdcError {
    return new PgcdcError('TARGET_FAILED', `${action} the dead-letter ${this.description}: ${(error as Error).message}`, {
      cause: error,
      hint: 'check deadLetter.table.url and that its user may create and write the table; the events are sent again on the next run',
    });
  }
}
