/**
 * The generic delivery machinery without any network: per-key order and bounded concurrency of
 * ordered-dispatch (sends settled in an order the test chooses), barriers, groups, retries with a
 * limit, the success-status rule, bisection of rejected groups, the dead-letter and stop policies,
 * and failures of the target itself. The channel is a test implementation of the extension point
 * (what a webhook or PgLambda target will plug in), recording every send.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { DeadLetterFile } from '../../src/targets/delivery/dead-letter-file.js';
import type { DeadLetter, DeadLetterStore } from '../../src/targets/delivery/dead-letter-store.js';
import { DeliveryFailure } from '../../src/targets/delivery/delivery-failure.js';
import { BARRIER, dispatchInOrder, type DispatchItems } from '../../src/targets/delivery/ordered-dispatch.js';
import { ReliableDelivery, type DeadLetterHandling, type DeliveryChannel } from '../../src/targets/delivery/reliable-delivery.js';
import { retryDelayMs, sendWithRetries, sgStreamRetryPolicy } from '../../src/targets/delivery/retry-backoff.js';
import { judgeStatus } from '../../src/targets/delivery/success-status.js';
import { tempDir } from '../support/stream-fixtures.js';

/** Items with the given keys, each `bytes` long. */
function items(keys: readonly number[], bytes: readonly number[] = keys.map(() => 10)): DispatchItems {
  return { count: keys.length, keyOf: (i) => keys[i]!, bytesOf: (i) => bytes[i]! };
}

/** Sends that complete when the test says so, in any order. */
class ControlledSends {
  readonly started: number[][] = [];
  readonly #pending: { group: number[]; settle: (error?: Error) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  send = (group: readonly number[]): Promise<void> => {
    this.started.push([...group]);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      this.#pending.push({
        group: [...group],
        settle: (error) => {
          this.inFlight--;
          if (error) reject(error);
          else resolve();
        },
      });
    });
  };

  /** Settles the most recent pending send first (the worst order for a naive dispatcher). */
  async settleAll(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const next = this.#pending.pop();
      if (!next) return;
      next.settle();
    }
  }
}

class MemoryStore implements DeadLetterStore {
  readonly letters: DeadLetter[] = [];
  readonly description = 'memory';
  async open(): Promise<void> {}
  async add(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
  async close(): Promise<void> {}
}

function delivery(deadLetter: DeadLetterHandling, options: { limit?: number; maxGroupItems?: number; maxItemBytes?: number; concurrency?: number } = {}): ReliableDelivery {
  return new ReliableDelivery({
    limits: { concurrency: options.concurrency ?? 4, maxGroupItems: options.maxGroupItems ?? 1, maxGroupBytes: 1000 },
    retry: { limit: options.limit, initialDelayMs: 0, maxDelayMs: 0 },
    maxItemBytes: options.maxItemBytes ?? 100,
    deadLetter,
    logger: silentLogger(),
    itemName: 'event',
    policySetting: 'deadLetter.policy',
  });
}

/** A channel whose sends fail as `outcome(index, attempt)` says (undefined: delivered). */
function channel(outcome: (index: number, attempt: number) => DeliveryFailure | undefined): DeliveryChannel & { sends: number[][] } {
  const attempts = new Map<number, number>();
  const sends: number[][] = [];
  return {
    sends,
    async send(group) {
      sends.push([...group]);
      for (const index of group) {
        const attempt = (attempts.get(index) ?? 0) + 1;
        attempts.set(index, attempt);
        const failure = outcome(index, attempt);
        if (failure) throw failure;
      }
    },
    describe: (index) => ({ id: `id-${index}`, event: Buffer.from(JSON.stringify({ index })) }),
  };
}

const rejected = () => new DeliveryFailure('answered HTTP 400', { retryable: false, scope: 'event' });
const unavailable = () => new DeliveryFailure('answered HTTP 503', { retryable: true, scope: 'event' });

describe('ordered dispatch', () => {
  it('never lets an item overtake an earlier one of its key, and runs keys in parallel', async () => {
    const keys = [1, 2, 3, 1, 2, 3, 1, 1, 4, 5, 6, 7, 1];
    const sends = new ControlledSends();
    const done = dispatchInOrder(items(keys), { concurrency: 4, maxGroupItems: 1, maxGroupBytes: 1000 }, sends.send);
    await sends.settleAll();
    await done;
    expect(sends.started.flat().sort((a, b) => a - b)).toEqual(keys.map((_, i) => i));
    for (const key of new Set(keys)) {
      const ofKey = keys.flatMap((k, i) => (k === key ? [i] : []));
      expect(sends.started.flat().filter((i) => keys[i] === key)).toEqual(ofKey);
    }
    expect(sends.maxInFlight).toBe(4);
  });

  it('holds a barrier until everything before it settled, and everything after it until it did', async () => {
    const keys = [1, 2, 3, BARRIER, 1, 2];
    const order: string[] = [];
    await dispatchInOrder(items(keys), { concurrency: 3, maxGroupItems: 1, maxGroupBytes: 1000 }, async (group) => {
      order.push(`start ${group[0]}`);
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`end ${group[0]}`);
    });
    const barrierStart = order.indexOf('start 3');
    expect(order.slice(0, barrierStart).filter((e) => e.startsWith('end'))).toHaveLength(3);
    expect(order[barrierStart + 1]).toBe('end 3');
  });

  it('groups consecutive items of a lane by count and bytes; a large item goes alone', async () => {
    const groups: number[][] = [];
    await dispatchInOrder(items([0, 0, 0, 0, 0, 0], [10, 10, 10, 50, 10, 10]), { concurrency: 1, maxGroupItems: 2, maxGroupBytes: 40 }, async (group) => {
      groups.push([...group]);
    });
    expect(groups).toEqual([[0, 1], [2], [3], [4, 5]]);
  });
});

describe('retries and statuses', () => {
  it('backs off from a tenth of the maximum, doubling up to it (SGStream retryBackoffDelay)', () => {
    const policy = sgStreamRetryPolicy(undefined, 60);
    expect([1, 2, 3, 4, 5].map((retry) => retryDelayMs(policy, retry))).toEqual([6000, 12_000, 24_000, 48_000, 60_000]);
  });

  it('retries a retryable failure up to the limit, and a final one never', async () => {
    const signal = new AbortController().signal;
    let calls = 0;
    const outcome = await sendWithRetries(async () => {
      calls++;
      throw unavailable();
    }, { limit: 3, initialDelayMs: 0, maxDelayMs: 0 }, signal);
    expect([outcome.delivered, outcome.attempts, calls]).toEqual([false, 4, 4]);
    calls = 0;
    const final = await sendWithRetries(async () => {
      calls++;
      throw rejected();
    }, { limit: 3, initialDelayMs: 0, maxDelayMs: 0 }, signal);
    expect([final.delivered, final.attempts, calls]).toEqual([false, 1, 1]);
  });

  it('judges statuses: success by the rule, 408/429/5xx and unaccepted 2xx retried, other 4xx and 3xx rejected', () => {
    const verdicts = (rule: '2xx' | '200', retryClientErrors = false) => [200, 202, 301, 400, 404, 408, 429, 500, 503].map((s) => judgeStatus(s, rule, retryClientErrors));
    expect(verdicts('2xx')).toEqual(['delivered', 'delivered', 'reject', 'reject', 'reject', 'retry', 'retry', 'retry', 'retry']);
    expect(verdicts('200')).toEqual(['delivered', 'retry', 'reject', 'reject', 'reject', 'retry', 'retry', 'retry', 'retry']);
    expect(verdicts('2xx', true)).toEqual(['delivered', 'delivered', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  });
});

describe('reliable delivery', () => {
  it('splits a rejected group until only the bad item is set aside', async () => {
    const store = new MemoryStore();
    const sink = channel((index) => (index === 5 ? rejected() : undefined));
    await delivery({ policy: 'dead-letter', store }, { maxGroupItems: 8, concurrency: 1 }).deliver(items([0, 0, 0, 0, 0, 0, 0, 0]), sink);
    expect(store.letters.map((l) => [l.id, l.error, l.attempts])).toEqual([['id-5', 'answered HTTP 400', 1]]);
    expect(sink.sends).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]);
  });

  it('sets aside an item whose retries ran out, with its attempts, and delivers the others', async () => {
    const store = new MemoryStore();
    const sink = channel((index) => (index === 1 ? unavailable() : undefined));
    const settled = delivery({ policy: 'dead-letter', store }, { limit: 2 });
    await settled.deliver(items([1, 2, 3]), sink);
    expect(store.letters.map((l) => [l.id, l.attempts])).toEqual([['id-1', 3]]);
    expect(settled.deadLettered).toBe(1);
  });

  it('with the stop policy, rejects with TARGET_FAILED naming the event and sets nothing aside', async () => {
    const sink = channel((index) => (index === 2 ? rejected() : undefined));
    const error = await delivery({ policy: 'stop' }).deliver(items([1, 2, 3]), sink).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).code).toBe('TARGET_FAILED');
    expect((error as PgcdcError).message).toBe('event id-2 failed after 1 attempt: answered HTTP 400');
  });

  it('never sends an item over the size limit; it fails on its own between its neighbours', async () => {
    const store = new MemoryStore();
    const sink = channel(() => undefined);
    await delivery({ policy: 'dead-letter', store }, { maxGroupItems: 10, concurrency: 1 }).deliver(items([0, 0, 0], [10, 500, 10]), sink);
    expect(sink.sends).toEqual([[0], [2]]);
    expect(store.letters.map((l) => [l.id, l.attempts, l.error])).toEqual([['id-1', 0, 'the event is 500 bytes, more than the 100 allowed']]);
  });

  it('turns a failure of the target itself into TARGET_UNREACHABLE, never a dead letter', async () => {
    const store = new MemoryStore();
    const sink = channel(() => new DeliveryFailure('cannot connect', { retryable: true, scope: 'target', hint: 'start it' }));
    const error = (await delivery({ policy: 'dead-letter', store }, { limit: 1 }).deliver(items([1]), sink).catch((e: unknown) => e)) as PgcdcError;
    expect([error.code, error.message, error.hint]).toEqual(['TARGET_UNREACHABLE', 'cannot connect (after 2 attempts)', 'start it']);
    expect(store.letters).toEqual([]);
  });
});

describe('dead-letter file', () => {
  it('appends one fsynced NDJSON line per letter, and cuts a partial line left by a crash', async () => {
    const file = path.join(tempDir(), 'letters', 'dead.ndjson');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, '{"id":"old"}\n{"id":"half');
    const store = new DeadLetterFile(file);
    await store.open();
    const failedAt = new Date('2026-01-02T03:04:05.678Z');
    await Promise.all([
      store.add([{ id: 'a:1', event: Buffer.from('{"specversion":"1.0","data":{"x":1}}\n'), error: 'answered HTTP 400: "bad"', attempts: 1, failedAt }]),
      store.add([{ id: 'a:2', event: Buffer.from('{"data":null}'), error: 'too large', attempts: 0, failedAt }]),
    ]);
    await store.close();
    expect(fs.readFileSync(file, 'utf8').split('\n')).toEqual([
      '{"id":"old"}',
      '{"failedAt":"2026-01-02T03:04:05.678Z","id":"a:1","attempts":1,"error":"answered HTTP 400: \\"bad\\"","event":{"specversion":"1.0","data":{"x":1}}}',
      '{"failedAt":"2026-01-02T03:04:05.678Z","id":"a:2","attempts":0,"error":"too large","event":{"data":null}}',
      '',
    ]);
  });
});
