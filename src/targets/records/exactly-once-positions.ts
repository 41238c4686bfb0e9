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

/** A running count: the transaction (commit LSN) of the events counted last, and how many of its events were counted. */
interface PositionCounter {
  lsn: Lsn;
  events: number;
}

/**
 * Counts `event` in `counter`; returns its ordinal in its transaction (begin = 0), or undefined for
 * a snapshot read, which has no place in the WAL.
 */
function countEvent(counter: PositionCounter, event: StreamEvent): number | undefined {
  if (event.kind === 'row' && event.snapshot !== undefined) return undefined;
  const lsn = event.kind === 'message' && event.txn === null ? event.lsn : event.txn!.commitLsn;
  if (event.kind === 'begin' || lsn !== counter.lsn) {
    counter.lsn = lsn;
    counter.events = 0;
  }
  return counter.events++;
}

/**
 * The position after `last` (one of `events`) when the events before `events` reached `start`:
 * for a target that cuts a batch into several atomic writes, each with its own position.
 */
export function positionAfter(start: StreamPosition, events: readonly StreamEvent[], last: StreamEvent): StreamPosition {
  const counter: PositionCounter = { lsn: start.lsn, events: start.events };
  for (const event of events) {
    countEvent(counter, event);
    if (event === last) break;
  }
  return counter;
}

export class ExactlyOncePositions {
  #committed: StreamPosition = NO_POSITION;
  /** The events seen last: their transaction and how many of its events were seen. */
  readonly #seen: PositionCounter = { lsn: -1, events: 0 };

  /** The position the target holds (read back at start, then set after each commit). */
  get committed(): StreamPosition {
    return this.#committed;
  }

  set committed(position: StreamPosition) {
    this.#committed = position;
  }

  /** The position after the last event passed to `unwritten`. */
  get reached(): StreamPosition {
    return { lsn: this.#seen.lsn, events: this.#seen.events };
  }

  /** The events will come again from a transaction's start (after a failed write). */
  restart(): void {
    this.#seen.lsn = -1;
    this.#seen.events = 0;
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
    const ordinal = countEvent(this.#seen, event);
    if (ordinal === undefined) return false;
    const committed = this.#committed;
    return this.#seen.lsn < committed.lsn || (this.#seen.lsn === committed.lsn && ordinal < committed.events);
  }
}
