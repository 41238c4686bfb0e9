/**
 * What a running stream tells whoever watches it (`pgcdc serve`'s metrics, dashboard and alerts):
 * its live parts, read when asked (`StreamProbe`: nothing is computed on the hot path for it), and
 * a few events as they happen (`StreamObserver`). Every method is optional; a stream run without
 * an observer pays nothing.
 */
import type { StreamEvent } from '../events/stream-event.js';
import type { SnapshotProgress } from '../snapshot/snapshot-progress.js';
import type { Lsn } from '../source/lsn.js';
import type { StreamCounters } from './stream-processor.js';

/** The running stream's live state, read on demand (a metrics scrape, an API call). */
export interface StreamProbe {
  /** Transactions and events received, events filtered out. */
  readonly counters: StreamCounters;
  /** The position the target has durably accepted everything up to (what the slot is told). */
  confirmed(): Lsn;
  /** The end of the last message received from the server. */
  received(): Lsn;
  /** Bytes waiting in the delivery queue, and its bound. */
  queue(): { readonly bytes: number; readonly maxBytes: number };
  /** The current snapshot's progress (its record says whether one is running). */
  snapshot(): SnapshotProgress;
}

/** Connection to the source's replication stream. */
export type SourceConnectionState = 'connected' | 'disconnected';

export interface StreamObserver {
  /** The pipeline is built (called at every start of the stream, with that run's parts). */
  attached?(probe: StreamProbe): void;
  /** A batch the target made durable: its events, queued bytes and seconds from write to durable. */
  delivered?(events: readonly StreamEvent[], bytes: number, writeSeconds: number): void;
  /** The replication connection opened or closed. */
  connection?(state: SourceConnectionState): void;
  /** A delivery was tried again after a failure (targets with retries). */
  retried?(): void;
  /** Events set aside as dead letters. */
  deadLettered?(count: number): void;
}
