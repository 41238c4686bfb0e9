/**
 * Reads, every few seconds on a connection of its own, where the source server's WAL is and what a
 * stream's slot holds (pg_replication_slots: confirmed_flush_lsn, restart_lsn, wal_status, active),
 * so that a metrics scrape only reads the last figures and never waits on the source. A failed poll
 * is logged once (at debug) and retried at the next tick; the figures it had stay, marked by `at`.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import type { Logger } from '../logging/logger.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import { parseLsn, type Lsn } from '../source/lsn.js';

/** What the last successful poll saw. */
export interface SlotStatus {
  /** Unix milliseconds of the poll. */
  readonly at: number;
  /** The server's current WAL position (its last received one on a standby). */
  readonly serverLsn: Lsn;
  /** Null when the slot does not exist (yet). */
  readonly slot: {
    readonly confirmedFlushLsn: Lsn | null;
    readonly restartLsn: Lsn | null;
    /** `reserved`, `extended`, `unreserved` or `lost`. */
    readonly walStatus: string | null;
    readonly active: boolean;
  } | null;
}

const SLOT_QUERY = `select (case when pg_is_in_recovery() then pg_last_wal_receive_lsn() else pg_current_wal_lsn() end)::text as server_lsn,
  s.confirmed_flush_lsn::text as confirmed_flush_lsn, s.restart_lsn::text as restart_lsn, s.wal_status, s.active, s.slot_name is not null as found
from (select 1) as one left join pg_replication_slots s on s.slot_name = $1`;

export class SlotStatusPoller {
  readonly #connection: ConnectionConfig;
  readonly #slotName: string;
  readonly #logger: Logger;
  #catalog: CatalogConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #failing = false;
  #status: SlotStatus | undefined;

  constructor(connection: ConnectionConfig, slotName: string, logger: Logger) {
    this.#connection = connection;
    this.#slotName = slotName;
    this.#logger = logger;
  }

  /** The last figures, or undefined before the first successful poll. */
  get status(): SlotStatus | undefined {
    return this.#status;
  }

  /** Polls now, then every `intervalMs`. */
  start(intervalMs: number): void {
    if (this.#timer !== undefined) return;
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), intervalMs);
    this.#timer.unref();
  }

  /** One poll (a poll still running is awaited instead of starting another). */
  poll(): Promise<void> {
    this.#polling ??= this.#pollOnce().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    try {
      this.#catalog ??= await CatalogConnection.open(this.#connection);
      const { rows } = await this.#catalog.query<{ server_lsn: string | null; confirmed_flush_lsn: string | null; restart_lsn: string | null; wal_status: string | null; active: boolean | null; found: boolean }>(SLOT_QUERY, [this.#slotName]);
      const row = rows[0]!;
      if (row.server_lsn === null) return;
      this.#status = {
        at: Date.now(),
        serverLsn: parseLsn(row.server_lsn),
        slot: row.found
          ? {
              confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
              restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
              walStatus: row.wal_status,
              active: row.active === true,
            }
          : null,
      };
      if (this.#failing) this.#logger.debug({ slot: this.#slotName }, 'slot status readable again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#logger.debug({ slot: this.#slotName, error: (error as Error).message }, 'cannot read the slot status; trying again at the next poll');
      this.#failing = true;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.#catalog?.close();
    this.#catalog = undefined;
  }
}
