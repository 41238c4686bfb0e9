/**
 * The contract every target implements. The pipeline calls `write` with one batch at a time, in
 * commit order; a write resolves only when the target has durably accepted every event in the
 * batch, and only then is the source acknowledged. Delivery is at least once: after a crash the
 * unacknowledged tail is delivered again, so targets must tolerate seeing it twice.
 */
import type { EventBatch } from '../events/stream-event.js';

export interface Target {
  /** Prepares the target (opens files, connects); called once before the first write. */
  open(): Promise<void>;
  /** Writes a batch; resolves when it is durable, rejects (with a PgcdcError) when it cannot be. */
  write(batch: EventBatch): Promise<void>;
  /** Releases resources; pending writes have already settled. */
  close(): Promise<void>;
}
