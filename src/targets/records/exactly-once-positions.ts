/**
 * Exactly-once bookkeeping of the targets that store a stream position atomically with what they
 * write (Kafka transactions, Redis MULTI/EXEC), free of any I/O. Every streamed event has a
 * position: the commit LSN of its transaction (a non-transactional message: its own LSN) and its
 * ordinal in that transaction (begin = 0, the changes, the commit). The target stores, with a
 * batch's records, the position reached; after a restart the slot sends again what it was not
 * acknowledged for, and the events at or below the stored position are dropped before they become
 * records. A transaction split over batches resumes at the
 * event after the last one written. Snapshot reads have no place in the WAL: they are always
 * written (an interrupted snapshot chunk is read again, as Debezium reads an interrupted snapshot
 * again).
 */
import type { StreamEvent } from '../../events/stream-event.js';
import type { Lsn } from '../../source/lsn.js';

/** How far a stream's changes are in the target. */
export interface StreamPosition {
  /** Commit LSN of the last transaction written (of a non-transactional message: its LSN). */
  readonly lsn: Lsn;
  /** Events of that transaction written so far, begin and commit included. */
  readonly events: number;
}

export const NO_POSITION: StreamPosition = { lsn: -1, events: 0 };

/** True when `a` is further in the stream than `b`. */
export function isAfter(a: StreamPosition, b: StreamPosition): boolean {
  return a.lsn > b.lsn || (a.lsn === b.lsn && a.events > b.events);
}

export class ExactlyOncePositions {
  #committed: StreamPosition = NO_POSITION;
  /** The transaction of the events seen last, and how many of its events were seen. */
  #lsn: Lsn = -1;
  #ordinal = 0;

  /** The position the target holds (read back at start, then set after each commit). */
  get committed(): StreamPosition {
    return this.#committed;
  }

  set committed(position: StreamPosition) {
    this.#committed = position;
  }

  /** The position after the last event passed to `unwritten`. */
  get reached(): StreamPosition {
    return { lsn: this.#lsn, events: this.#ordinal };
  }

  /** The events will come again from a transaction's start (after a failed write). */
  restart(): void {
    this.#lsn = -1;
    this.#ordinal = 0;
  }

  /** The events of `events` the target does not hold yet, in order (`events` itself when that is all of them). */
  unwritten(events: readonly StreamEvent[]): readonly StreamEvent[] {
    let kept: StreamEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (this.#written(event)) kept ??= events.slice(0, i);
      else kept?.push(event);
    }
    return kept ?? events;
  }

  /** Counts `event` in its transaction; true when the target already has it. */
  #written(event: StreamEvent): boolean {
    if (event.kind === 'row' && event.snapshot !== undefined) return false;
    const lsn = event.kind === 'message' && event.txn === null ? event.lsn : event.txn!.commitLsn;
    if (event.kind === 'begin' || lsn !== this.#lsn) {
      this.#lsn = lsn;
      this.#ordinal = 0;
    }
    const ordinal = this.#ordinal++;
    const committed = this.#committed;
    return lsn < committed.lsn || (lsn === committed.lsn && ordinal < committed.events);
  }
}
