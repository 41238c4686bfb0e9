/**
 * An ordinary SQL connection to the source (node-postgres) for catalog queries, checks and slot or
 * publication management. It reconnects once when the server went away, and turns driver errors
 * into PgcdcErrors with hints.
 */
import pg from 'pg';
import { pgClientConfig } from '../config/connection-url.js';
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { SOURCE_SESSION_SETTINGS, sessionOptionsParameter } from './session-settings.js';
import { lostWhileConnecting, serverErrorToPgcdcError, socketErrorToPgcdcError, type ConnectionContext } from './wire/server-error.js';

export class CatalogConnection {
  readonly #config: ConnectionConfig;
  #client: pg.Client | undefined;
  #broken = false;
  /** The query running (or the last one), which the next waits for. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(config: ConnectionConfig) {
    this.#config = config;
  }

  /** Connects, failing with a PgcdcError that says what is wrong. */
  static async open(config: ConnectionConfig): Promise<CatalogConnection> {
    const connection = new CatalogConnection(config);
    await connection.#connect();
    return connection;
  }

  get context(): ConnectionContext {
    const { host, port, database, user } = this.#config;
    return { host, port, database, user };
  }

  /**
   * Runs a parameterised query; reconnects once if the connection was lost. Queries from several
   * callers at once (snapshot workers, table discovery) run one after the other.
   */
  query<Row extends Record<string, any> = any>(text: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    const result = this.#queue.then(() => this.#query<Row>(text, params));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #query<Row extends Record<string, any>>(text: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    if (this.#broken || !this.#client) await this.#connect();
    try {
      return await this.#client!.query<Row>(text, params);
    } catch (error) {
      if (!this.#broken) throw this.#toPgcdcError(error);
      await this.#connect();
      try {
        return await this.#client!.query<Row>(text, params);
      } catch (retryError) {
        throw this.#toPgcdcError(retryError);
      }
    }
  }

  /** The source's server_version_num. */
  async serverVersionNum(): Promise<number> {
    const { rows } = await this.query<{ v: number }>("select current_setting('server_version_num')::int as v");
    return rows[0]!.v;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    await this.close();
    const client = new pg.Client({ ...pgClientConfig(this.#config), options: sessionOptionsParameter(SOURCE_SESSION_SETTINGS) });
    client.on('error', () => {
      this.#broken = true;
    });
    client.on('end', () => {
      this.#broken = true;
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw lostWhileConnecting(this.#toPgcdcError(error), this.context);
    }
    this.#client = client;
    this.#broken = false;
  }

  #toPgcdcError(error: unknown): PgcdcError {
    if (error instanceof PgcdcError) return error;
    const e = error as NodeJS.ErrnoException & { severity?: string; detail?: string; hint?: string };
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
      return serverErrorToPgcdcError({ severity: e.severity ?? 'ERROR', code: e.code, message: e.message, detail: e.detail, hint: e.hint }, this.context);
    }
    if (typeof e.code === 'string') return socketErrorToPgcdcError(e, this.context);
    if (/timeout/i.test(e.message ?? '')) {
      return new PgcdcError('SOURCE_UNREACHABLE', `cannot reach PostgreSQL at ${this.#config.host}:${this.#config.port}: ${e.message}`, {
        cause: error,
        hint: 'check the host, port, network and firewalls, or raise connect_timeout',
      });
    }
    if (/terminated|Connection terminated|ended/i.test(e.message ?? '')) {
      return new PgcdcError('CONNECTION_LOST', `the connection to ${this.#config.host}:${this.#config.port} was lost: ${e.message}`, { cause: error });
    }
    return new PgcdcError('QUERY_FAILED', e.message ?? String(error), { cause: error });
  }
}
