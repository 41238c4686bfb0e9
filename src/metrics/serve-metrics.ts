/**
 * STUB — being replaced by the metrics helper. The contract below is fixed: `pgcdc serve` (src/serve)
 * creates one ServeMetrics, asks it for a StreamMetrics per stream, passes that stream's `observer`
 * to runStream, tells it the stream's state, and serves `scrape()` at GET /metrics and `stats()` /
 * `history()` in its JSON API.
 */
import type { StreamConfig } from '../config/stream-config.js';
import type { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import type { StreamObserver } from '../pipeline/stream-observer.js';

/** Where a stream run by `pgcdc serve` stands. */
export type StreamRunState = 'starting' | 'running' | 'paused' | 'stopped' | 'failed' | 'restarting';

/** One table of the running snapshot. */
export interface SnapshotTableStats {
  readonly table: string;
  readonly rowsDone: number;
  readonly estimatedRows: number;
  readonly chunksDone: number;
  readonly chunks: number;
  readonly rowsPerSecond: number | null;
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

export interface ServeMetricsOptions {
  readonly logger: Logger;
}

export class ServeMetrics {
  readonly #streams = new Map<string, StreamMetrics>();

  constructor(_options: ServeMetricsOptions) {}

  /** The metrics of a stream (created on first use; a changed spec replaces the config). */
  stream(name: string, config: StreamConfig): StreamMetrics {
    let metrics = this.#streams.get(name);
    if (!metrics) this.#streams.set(name, (metrics = new StreamMetrics(name, config)));
    return metrics;
  }

  /** Forgets a stream that was removed. */
  remove(name: string): void {
    this.#streams.get(name)?.close();
    this.#streams.delete(name);
  }

  /** The Prometheus text exposition of every stream's metrics. */
  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' };
  }

  async close(): Promise<void> {
    for (const name of [...this.#streams.keys()]) this.remove(name);
  }
}

export class StreamMetrics {
  readonly name: string;
  readonly observer: StreamObserver = {};
  #state: StreamRunState = 'starting';
  #restarts = 0;

  constructor(name: string, _config: StreamConfig) {
    this.name = name;
  }

  /** The supervisor's view: state changes (a 'restarting' counts a restart), with the failure when failed. */
  setState(state: StreamRunState, _error?: PgcdcError): void {
    if (state === 'restarting') this.#restarts++;
    this.#state = state;
  }

  get state(): StreamRunState {
    return this.#state;
  }

  async stats(): Promise<StreamStats> {
    return {
      events: 0,
      transactions: 0,
      eventsPerSecond: 0,
      eventsByOperation: {},
      bytes: 0,
      batches: 0,
      confirmedLsn: null,
      receivedLsn: null,
      serverLsn: null,
      lagBytes: null,
      lagSeconds: null,
      slot: null,
      queue: { bytes: 0, maxBytes: 0 },
      retries: 0,
      deadLetters: 0,
      connected: false,
      restarts: this.#restarts,
      snapshot: null,
      alerts: [],
    };
  }

  history(): readonly HistoryPoint[] {
    return [];
  }

  close(): void {}
}
