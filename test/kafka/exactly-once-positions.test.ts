/**
 * The exactly-once bookkeeping on its own: which events of a redelivered stream Kafka holds
 * already, given the committed position (a whole transaction, part of one, a non-transactional
 * message), and that snapshot reads are always written.
 */
import { describe, expect, it } from 'vitest';
import type { StreamEvent, TransactionInfo } from '../../src/events/stream-event.js';
import { ExactlyOncePositions, isAfter, NO_POSITION } from '../../src/targets/records/exactly-once-positions.js';

function txn(commitLsn: number): TransactionInfo {
  return { xid: commitLsn, commitLsn, commitTimeMicros: 0, previousCommitLsn: 0, origin: undefined };
}

/** A transaction's events: begin, `rows` inserts, commit; each named `<commit lsn>:<ordinal>`. */
function transaction(commitLsn: number, rows: number): StreamEvent[] {
  const info = txn(commitLsn);
  const events: StreamEvent[] = [{ kind: 'begin', txn: info }];
  for (let i = 0; i < rows; i++) events.push({ kind: 'row', op: 'c', table: undefined as never, lsn: commitLsn - 10 + i, txn: info, before: null, after: null });
  events.push({ kind: 'commit', txn: info, endLsn: commitLsn + 1 });
  return events;
}

function message(lsn: number): StreamEvent {
  return { kind: 'message', lsn, txn: null, prefix: 'p', content: Buffer.alloc(0) };
}

function read(snapshotLsn: number): StreamEvent {
  return { kind: 'row', op: 'r', table: undefined as never, lsn: snapshotLsn, txn: txn(snapshotLsn), before: null, after: null, snapshot: 'true' };
}

describe('exactly-once positions', () => {
  it('write everything when nothing is committed, and tell the position reached', () => {
    const positions = new ExactlyOncePositions();
    const events = [...transaction(100, 2), message(150), ...transaction(200, 1).slice(0, 2)];
    expect(positions.unwritten(events)).toBe(events);
    expect(positions.reached).toEqual({ lsn: 200, events: 2 });
  });

  it('skip the transactions committed, and the written part of the one cut between batches', () => {
    const positions = new ExactlyOncePositions();
    positions.committed = { lsn: 200, events: 2 };
    const redelivered = [...transaction(100, 2), message(150), ...transaction(200, 3), ...transaction(300, 1)];
    const unwritten = positions.unwritten(redelivered);
    expect(unwritten).toEqual([...transaction(200, 3).slice(2), ...transaction(300, 1)]);
    expect(positions.reached).toEqual({ lsn: 300, events: 3 });
  });

  it('count a transaction across batches, and from its start again after a restart', () => {
    const positions = new ExactlyOncePositions();
    const events = transaction(100, 4);
    positions.committed = { lsn: 100, events: 3 };
    expect(positions.unwritten(events.slice(0, 2))).toEqual([]);
    expect(positions.unwritten(events.slice(2))).toEqual(events.slice(3));
    positions.restart();
    expect(positions.unwritten(events)).toEqual(events.slice(3));
  });

  it('always write snapshot reads, without counting them', () => {
    const positions = new ExactlyOncePositions();
    positions.committed = { lsn: 500, events: 3 };
    const reads = [read(50), read(50)];
    expect(positions.unwritten(reads)).toBe(reads);
    expect(positions.reached).toEqual({ lsn: -1, events: 0 });
  });

  it('order positions by commit LSN, then events written', () => {
    expect(isAfter({ lsn: 2, events: 0 }, { lsn: 1, events: 9 })).toBe(true);
    expect(isAfter({ lsn: 1, events: 3 }, { lsn: 1, events: 2 })).toBe(true);
    expect(isAfter({ lsn: 1, events: 2 }, { lsn: 1, events: 2 })).toBe(false);
    expect(isAfter(NO_POSITION, { lsn: 0, events: 0 })).toBe(false);
  });
});
