/**
 * Tells when the target's WAL is on disk past a position. The Postgres target commits
 * asynchronously (as native logical replication's apply worker does) and records, with each
 * commit, the WAL position after it; a batch is durable once the target has flushed its WAL that
 * far. The flushed position is read on a connection of its own, every few milliseconds while
 * something waits. The server's WAL writer flushes asynchronous commits within wal_writer_delay
 * (200 ms by default); a batch that waited longer than FORCE_AFTER_MS has its flush forced by a
 * synchronous commit of a one-row update on that connection, which flushes all WAL before it.
 * A failure of that connection fails the waiting batches as the target's failure (`asFailure`),
 * so the stream reconnects and says it was the target.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { parseLsn, type Lsn } from '../../source/lsn.js';
import { quoteLiteral } from '../../source/sql-quoting.js';
import type { WireConnection } from '../../source/wire/wire-connection.js';

const POLL_MS = 5;
const FORCE_AFTER_MS = 20;

interface Waiter {
  readonly lsn: Lsn;
  readonly since: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A synchronous commit of a one-row upsert: when it returns, the target's WAL is on disk up to it,
 * so every asynchronous commit before it (on any connection) is durable.
 */
export function forceFlushSql(stream: string): string {
  return `BEGIN; SET LOCAL synchronous_commit = on;
    INSERT INTO pgcdc.flush_marks VALUES (${quoteLiteral(stream)}, now()) ON CONFLICT (stream) DO UPDATE SET at = EXCLUDED.at; COMMIT`;
}

export class TargetFlushWatcher {
  readonly #open: () => Promise<WireConnection>;
  readonly #forceFlushSql: string;
  readonly #asFailure: (error: unknown) => PgcdcError;
  #connection: WireConnection | undefined;
  readonly #waiters: Waiter[] = [];
  #flushed: Lsn = 0;
  #polling = false;
  #closed = false;

  constructor(open: () => Promise<WireConnection>, stream: string, asFailure: (error: unknown) => PgcdcError) {
    this.#open = open;
    this.#asFailure = asFailure;
    this.#forceFlushSql = forceFlushSql(stream);
  }

  /** Resolves once the target's WAL is flushed at or past `lsn`. */
  durableAt(lsn: Lsn): Promise<void> {
    if (lsn <= this.#flushed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ lsn, since: Date.now(), resolve, reject });
      if (!this.#polling) void this.#poll();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new PgcdcError('TARGET_UNREACHABLE', 'the target was closed before its WAL was flushed'));
    await this.#connection?.close().catch(() => undefined);
    this.#connection = undefined;
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#waiters.length > 0 && !this.#closed) {
        this.#connection ??= await this.#open();
        const force = Date.now() - this.#waiters[0]!.since >= FORCE_AFTER_MS;
        if (force) await this.#connection.query(this.#forceFlushSql);
        const [result] = await this.#connection.query('SELECT pg_current_wal_flush_lsn()::text');
        this.#flushed = Math.max(this.#flushed, parseLsn(result?.rows[0]?.[0] ?? '0/0'));
        let kept = 0;
        for (const waiter of this.#waiters) {
          if (waiter.lsn <= this.#flushed) waiter.resolve();
          else this.#waiters[kept++] = waiter;
        }
        this.#waiters.length = kept;
        if (kept > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } catch (error) {
      this.#connection?.destroy();
      this.#connection = undefined;
      const failure = this.#asFailure(error);
      for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    } finally {
      this.#polling = false;
    }
  }
}
