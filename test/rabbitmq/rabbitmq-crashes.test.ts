/**
 * The RabbitMQ target across crashes, against a real broker (durable queue, persistent messages,
 * publisher confirms) and the `pgcdc` command line, under a concurrent workload. The oracle is the
 * source's own trigger-written log of every row change (`audit`, not captured) and its rows: after
 * pgcdc is killed with -9 at random instants, and after the broker is killed with -9 and started
 * again mid-stream, every logged change is in the queue (at least once), a consumer de-duplicating
 * by message-id sees exactly the logged changes in order per key (a redelivery repeats a change
 * with its id, nothing else), and the queue rebuilds the table. While the broker is down nothing
 * is acknowledged at the source past what it held.
 */
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { expectExactlyOnce, ITEMS_ONLY, ITEMS_TABLE, itemsWorkload, rebuild, sourceTable } from '../support/change-oracles.js';
import { confirmedAtMost, createDatabase, sql, useTestServer, waitFor, walPosition } from '../support/postgres.js';
import { asKafkaRecords, deduplicated, type RabbitMQMessage, useRabbitMQServer } from '../support/rabbitmq-server.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';


/**
 * Nothing lost: every message-id once gives exactly the logged changes, in order per key; a
 * repeated message-id is the same message again; the queue rebuilds the table.
 */
async function expectEveryChangeOnce(url: string, messages: readonly RabbitMQMessage[]): Promise<void> {
  const byId = new Map<string, RabbitMQMessage>();
  for (const message of messages) {
    expect(message.messageId).toBeDefined();
    const first = byId.get(message.messageId!);
    if (first === undefined) byId.set(message.messageId!, message);
    else expect(identity(message)).toEqual(identity(first));
  }
  await expectExactlyOnce(url, asKafkaRecords(deduplicated(messages)));
  // Redeliveries repeat whole tails in order: the messages as received rebuild the table too.
  expect(rebuild(asKafkaRecords(messages))).toEqual(await sourceTable(url));
}

/** What a redelivery must repeat: the change itself (processing times and the previous commit in `source.sequence` may differ). */
function identity(message: RabbitMQMessage): unknown {
  const event = message.body === null ? null : JSON.parse(message.body);
  return {
    routingKey: message.routingKey,
    key: message.headers['pgcdc-key'],
    op: message.headers['pgcdc-op'],
    change: event && { op: event.op, before: event.before, after: event.after, lsn: event.source.lsn, txId: event.source.txId },
  };
}

describe('RabbitMQ target, crashes', () => {
  const server = useTestServer();
  const rabbit = useRabbitMQServer();

  async function crashStream(name: string) {
    const url = await createDatabase(server(), 'rabbitmq_crash');
    await sql(url, ITEMS_TABLE);
    const { specFile } = await targetStream({
      url,
      name,
      dir: tempDir(),
      maxRetries: -1,
      source: ITEMS_ONLY,
      target: {
        type: 'RabbitMQ',
        // Small groups: many confirms in flight at any instant.
        rabbitmq: { url: rabbit().url(), schemasEnable: false, exchange: { name: `${name}x`, declare: true }, queue: { name: `${name}q` }, maxUnconfirmed: 64, retryBackoffDelay: 2, confirmTimeout: '10s' },
      },
    });
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0); // the slot, exchange and queue
    return { url, specFile };
  }

  it('loses nothing when pgcdc is killed with -9 at random instants under a concurrent workload', async () => {
    const { url, specFile } = await crashStream('c1');
    const changes = itemsWorkload(url, { keyChanges: true, pauseMs: 10 });
    try {
      for (let kill = 0; kill < 4; kill++) {
        const run = startCli(['run', '-c', specFile]);
        await new Promise((resolve) => setTimeout(resolve, 1500 + below(testRandom, 3000)));
        run.child.kill('SIGKILL');
        await run.finished();
      }
    } finally {
      await changes.stop();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr).toBe(0);
    const messages = await rabbit().consume('c1q');
    expect(messages.length).toBeGreaterThan(100);
    await expectEveryChangeOnce(url, messages);
  }, 300_000);

  it('resumes by itself and loses nothing when the broker is killed with -9 and started again mid-stream', async () => {
    const { url, specFile } = await crashStream('c2');
    const run = startCli(['run', '-c', specFile]);
    const changes = itemsWorkload(url, { keyChanges: true, pauseMs: 10 });
    try {
      await waitFor(async () => ((await rabbit().queueDepth('c2q')) > 50 ? true : undefined), 60_000, 'messages before the crash');
      await rabbit().kill();
      const down = await walPosition(url);
      const before = changes.committed();
      await waitFor(() => (changes.committed() >= before + 20 ? true : undefined), 60_000, 'transactions while the broker is down');
      // The broker holds nothing written after `down`: nothing after it may be acknowledged.
      expect(await confirmedAtMost(url, down)).toBe(true);
      await rabbit().restart();
      const back = await walPosition(url);
      await waitFor(
        async () => {
          if (run.child.exitCode !== null) throw new Error(`pgcdc exited with ${run.child.exitCode}: ${run.output().stderr.slice(-3000)}`);
          const { rows } = await sql(url, 'select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where database = current_database()', [back]);
          return rows[0].ok ? true : undefined;
        },
        180_000,
        'the same pgcdc to resume after the broker came back',
      );
    } finally {
      await changes.stop();
      run.child.kill('SIGTERM');
      await run.finished();
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr).toBe(0);
    expect(run.output().stderr).toMatch(/RabbitMQ message not delivered; retrying/);
    await expectEveryChangeOnce(url, await rabbit().consume('c2q'));
  }, 400_000);
});
