/**
 * The figures of a stream as `pgcdc serve`'s JSON API and dashboard show them (`StreamStats`,
 * `HistoryPoint`), and the states a served stream goes through.
 */

/** Where a stream run by `pgcdc serve` stands. */
export type StreamRunState = 'starting' | 'running' | 'paused' | 'stopped' | 'failed' | 'restarting';

/** One table of a snapshot (also in `pgcdc status`). */
export interface SnapshotTableStats {
  readonly table: string;
  readonly rowsDone: number;
  /** PostgreSQL's estimate when the snapshot was planned; 0 for a table never analyzed. */
  readonly estimatedRows: number;
  readonly chunksDone: number;
  readonly chunks: number;
  /** Since the snapshot started (across restarts), while it runs. */
  readonly rowsPerSecond: number | null;
  /** While it runs, when the table has an estimate. */
  readonly etaSeconds: number | null;
}

/** An alert of the stream (see spec.alerts). */
export interface AlertStats {
  readonly name: string;
  readonly active: boolean;
  /** When it became active (ISO 8601), or null. */
  readonly since: string | null;
  readonly value: number | null;
  readonly threshold: number;
}

/** A stream's figures, as the JSON API and the dashboard show them. */
export interface StreamStats {
  readonly events: number;
  readonly transactions: number;
  /** Over the last 10 seconds. */
  readonly eventsPerSecond: number;
  /** Delivered events by operation: c, u, d, t (truncate), r (snapshot read), m (message). */
  readonly eventsByOperation: Readonly<Record<string, number>>;
  readonly bytes: number;
  readonly batches: number;
  readonly confirmedLsn: string | null;
  readonly receivedLsn: string | null;
  /** The source server's current WAL position. */
  readonly serverLsn: string | null;
  /** Server's current WAL position minus the slot's confirmed position. */
  readonly lagBytes: number | null;
  /** Now minus the commit time of the last delivered change (0 when caught up and idle). */
  readonly lagSeconds: number | null;
  readonly slot: { readonly walStatus: string | null; readonly retainedWalBytes: number | null; readonly active: boolean | null } | null;
  readonly queue: { readonly bytes: number; readonly maxBytes: number };
  readonly retries: number;
  readonly deadLetters: number;
  readonly connected: boolean;
  readonly restarts: number;
  readonly snapshot: { readonly status: string; readonly tables: readonly SnapshotTableStats[] } | null;
  readonly alerts: readonly AlertStats[];
}

/** One sample of the last hour's history (every 5 seconds). */
export interface HistoryPoint {
  /** Unix time in seconds. */
  readonly t: number;
  readonly eventsPerSecond: number;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
}
