/**
 * Snapshot work done while streaming waits at a transaction boundary: table synchronisation (a
 * target that keeps tables) and blocking snapshots (targets that receive events). The stream
 * connection stops at the end of the transaction being received when there is work, drains the
 * queue, runs it, and streams on from where it stopped.
 */
import type { Lsn } from '../source/lsn.js';

export interface PausedStreamWork {
  /** Tables wait to be read (and the snapshot is not paused). */
  readonly hasWork: boolean;
  /** Calls `wanted` once there is work (at once if there is some now); returns what stops calling it. */
  onWork(wanted: () => void): () => void;
  /**
   * Does the work; the stream must be stopped. Resolves with the position the stream must reach
   * for what was read to be consistent with the rest (0 when nothing was read), or undefined when
   * `signal` stopped it (the next run goes on from the stream's state).
   */
  run(signal?: AbortSignal): Promise<Lsn | undefined>;
}
