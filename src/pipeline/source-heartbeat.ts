/**
 * Source heartbeats (Debezium's `heartbeat.interval.ms` and `heartbeat.action.query`): every
 * interval, the action query (when there is one) runs on the source in autocommit, on a connection
 * of its own, and the server is asked for a keepalive once it has finished. The keepalive carries
 * the server's WAL position; with nothing pending the checkpointer confirms it, so a slot whose
 * database sees no captured change follows the WAL other databases write (docs/heartbeats.md).
 * A failing query is logged once per distinct error; the stream goes on.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { asPgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { CatalogConnection } from '../source/catalog-connection.js';

export interface SourceHeartbeatOptions {
  readonly connection: ConnectionConfig;
  readonly intervalMs: number;
  readonly actionQuery: string | undefined;
  readonly logger: Logger;
  /** Asks the server for a keepalive (a status update requesting a reply). */
  readonly requestKeepalive: () => void;
}

export class SourceHeartbeat {
  readonly #options: SourceHeartbeatOptions;
  #timer: NodeJS.Timeout | undefined;
  #connection: CatalogConnection | undefined;
  /** The beat running, so beats never overlap and `stop` waits for it. */
  #beating: Promise<void> | undefined;
  /** The last error logged, so one that repeats is logged once. */
  #lastError: string | undefined;
  #stopped = false;

  constructor(options: SourceHeartbeatOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.#beat(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops beating; waits for a beat that is running and closes the query connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating;
    await this.#connection?.close();
    this.#connection = undefined;
  }

  #beat(): void {
    if (this.#beating !== undefined || this.#stopped) return;
    const query = this.#options.actionQuery;
    if (query === undefined) {
      this.#options.requestKeepalive();
      return;
    }
    this.#beating = this.#runActionQuery(query).finally(() => {
      this.#beating = undefined;
      // After the query's commit: the keepalive's position is past it.
      if (!this.#stopped) this.#options.requestKeepalive();
    });
  }

  /** The query connection; a query may take one interval at most (at least 5 s), so a stop never waits long. */
  async #open(): Promise<CatalogConnection> {
    const { connection, intervalMs } = this.#options;
    const open = await CatalogConnection.open({ ...connection, applicationName: `${connection.applicationName}-heartbeat` });
    try {
      await open.query(`set statement_timeout = ${Math.max(intervalMs, 5000)}`);
    } catch (error) {
      await open.close();
      throw error;
    }
    return open;
  }

  async #runActionQuery(query: string): Promise<void> {
    try {
      // Opened at the first beat, and again after a failure to open (the connection reconnects itself once lost).
      this.#connection ??= await this.#open();
      await this.#connection.query(query);
      if (this.#lastError !== undefined) this.#options.logger.info('heartbeat action query succeeds again');
      this.#lastError = undefined;
    } catch (error) {
      const failure = asPgcdcError(error);
      const line = failure.toLine();
      if (line === this.#lastError) return;
      this.#lastError = line;
      this.#options.logger.warn({ code: failure.code, error: line }, 'heartbeat action query failed; the stream goes on (logged once until the error changes)');
    }
  }
}
