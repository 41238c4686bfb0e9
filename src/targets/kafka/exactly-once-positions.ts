/**
 * The Kafka target's exactly-once bookkeeping, free of any I/O. Every streamed event has a
 * position: the commit LSN of its transaction (a non-transactional message: its own LSN) and its
 * ordinal in that transaction (begin = 0, the changes, the commit). Each Kafka transaction carries,
 * with a batch's records, the position reached as one record on the offsets topic; after a restart
 * the slot sends again what it was not acknowledged for, and the events at or below the committed
 * position are dropped before they become records. A transaction split over batches resumes at the
 * event after the last one written. Snapshot reads have no place in the WAL: they are always
 * written (an interrupted snapshot chunk is read again, as Debezium reads an interrupted snapshot
 * again).
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { StreamEvent } from '../../events/stream-event.js';
import type { Lsn } from '../../source/lsn.js';
import type { KafkaRecord } from './kafka-records.js';

/** How far a stream's changes are in Kafka. */
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

  /** The position Kafka holds (read from the offsets topic at start, then after each commit). */
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

  /** The events of `events` Kafka does not hold yet, in order (`events` itself when that is all of them). */
  unwritten(events: readonly StreamEvent[]): readonly StreamEvent[] {
    let kept: StreamEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (this.#written(event)) kept ??= events.slice(0, i);
      else kept?.push(event);
    }
    return kept ?? events;
  }

  /** Counts `event` in its transaction; true when Kafka already has it. */
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

/** Kafka Connect's offset key of a source partition: `["<stream>",{"server":"<topic prefix>"}]`. */
export function offsetKey(stream: string, topicPrefix: string): Buffer {
  return Buffer.from(JSON.stringify([stream, { server: topicPrefix }]));
}

/**
 * The offsets-topic record of `position` (Debezium's offset fields `lsn`, `lsn_commit`, plus the
 * count of the transaction's events already written).
 */
export function offsetRecord(topic: string, key: Buffer, position: StreamPosition, partition: number): KafkaRecord {
  const value = `{"lsn":${position.lsn},"lsn_commit":${position.lsn},"events":${position.events}}`;
  return { topic, key, value: Buffer.from(value), partition };
}

/** The position of an offsets-topic record's value; a value pgcdc did not write is refused. */
export function parseOffsetValue(value: Buffer, topic: string, key: Buffer): StreamPosition {
  let parsed: { lsn_commit?: unknown; events?: unknown } | undefined;
  try {
    parsed = JSON.parse(value.toString('utf8')) as typeof parsed;
  } catch {
    // reported below
  }
  if (typeof parsed?.lsn_commit !== 'number' || typeof parsed.events !== 'number') {
    throw new PgcdcError('TARGET_FAILED', `the offsets topic "${topic}" holds, under ${key.toString('utf8')}, a value pgcdc did not write: ${value.toString('utf8').slice(0, 200)}`, {
      hint: 'give this stream an offsets topic of its own (spec.target.kafka.offsetsTopic), or another name (metadata.name) so that its key differs',
    });
  }
  return { lsn: parsed.lsn_commit, events: parsed.events };
}
