/**
 * Counts what a stream delivered, batch by batch (`StreamObserver.delivered`): events by table and
 * operation, transactions, bytes, batches, and the commit time of the last delivered change. One
 * pass over the batch's events, no allocation per event: each table's counters are found through
 * its TableInfo (a WeakMap) and incremented in place.
 */
import type { StreamEvent, TableInfo } from '../events/stream-event.js';

/** Debezium's operation codes, plus `t` (truncate) and `m` (logical message). */
export const OPERATIONS = ['c', 'u', 'd', 'r', 't', 'm'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Delivered events of one table (`table` is empty for logical messages). */
export interface TableTally {
  readonly table: string;
  c: number;
  u: number;
  d: number;
  r: number;
  t: number;
  m: number;
}

export class DeliveryTally {
  /** By `schema.table`; the entry `''` holds messages. */
  readonly tables = new Map<string, TableTally>();
  readonly #byInfo = new WeakMap<TableInfo, TableTally>();
  readonly #messages: TableTally;
  /** Row, truncate and message events. */
  events = 0;
  transactions = 0;
  bytes = 0;
  batches = 0;
  /** Unix milliseconds: commit time of the last delivered change, and when it was delivered. */
  lastCommitMs: number | undefined;
  lastDeliveredMs: number | undefined;

  constructor() {
    this.#messages = this.#tally('');
  }

  /** Counts a durable batch. */
  add(events: readonly StreamEvent[], bytes: number): void {
    let counted = 0;
    let commitMicros = -1;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      switch (event.kind) {
        case 'row':
          this.#forTable(event.table)[event.op]++;
          counted++;
          commitMicros = event.txn.commitTimeMicros;
          break;
        case 'truncate':
          this.#forTable(event.table).t++;
          counted++;
          commitMicros = event.txn.commitTimeMicros;
          break;
        case 'message':
          this.#messages.m++;
          counted++;
          if (event.txn !== null) commitMicros = event.txn.commitTimeMicros;
          break;
        case 'schema':
          counted++; // a schema change: an event, but no operation of a table's tally
          commitMicros = event.txn.commitTimeMicros;
          break;
        case 'commit':
          this.transactions++;
          commitMicros = event.txn.commitTimeMicros;
          break;
        case 'begin':
          break;
      }
    }
    this.events += counted;
    this.bytes += bytes;
    this.batches++;
    if (commitMicros >= 0) this.lastCommitMs = commitMicros / 1000;
    if (counted > 0) this.lastDeliveredMs = Date.now();
  }

  /** Delivered events of one operation, all tables. */
  total(op: Operation): number {
    let sum = 0;
    for (const tally of this.tables.values()) sum += tally[op];
    return sum;
  }

  #forTable(info: TableInfo): TableTally {
    let tally = this.#byInfo.get(info);
    if (tally === undefined) {
      tally = this.#tally(`${info.schema}.${info.table}`);
      this.#byInfo.set(info, tally);
    }
    return tally;
  }

  #tally(table: string): TableTally {
    let tally = this.tables.get(table);
    if (tally === undefined) this.tables.set(table, (tally = { table, c: 0, u: 0, d: 0, r: 0, t: 0, m: 0 }));
    return tally;
  }
}
