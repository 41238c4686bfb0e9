/**
 * The RedisStreams target on a real Redis Cluster (three masters from Debian's redis-server): every
 * key of a stream gets the hash tag `{<topicPrefix>}` (stream keys and position key in one slot,
 * so each script run is atomic there). Under a concurrent workload with pgcdc killed with -9 at
 * random instants, each change the source logged (the trigger-written audit table, not captured)
 * is on the table's stream exactly once, in order per key, and the stream rebuilds the table; all
 * the stream's keys live on one node.
 */
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { CHANGE_LOG_SQL, changesPerKey, ITEMS_ONLY, loggedChanges, rebuild, recordedChanges, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { useRedisCluster } from '../support/redis-server.js';
import { below, testRandom } from '../support/seeded-random.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

describe('RedisStreams target on a Redis Cluster', () => {
  const server = useTestServer();
  const cluster = useRedisCluster(3);

  it('writes every change once with hash-tagged keys when pgcdc is killed with -9 under a concurrent workload', async () => {
    const url = await createDatabase(server(), 'redis_cluster');
    await sql(url, `create table items (id int primary key, qty int); ${CHANGE_LOG_SQL}`);
    const { specFile } = await targetStream({
      url,
      name: 'c1',
      dir: tempDir(),
      source: ITEMS_ONLY,
      target: { type: 'RedisStreams', redisStreams: { url: `redis://${cluster().addresses[0]}`, cluster: { nodes: cluster().addresses }, schemasEnable: false, batchSize: 40 } },
    });
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    let writing = true;
    const workload = (async () => {
      let id = 1;
      while (writing) {
        await sql(url, `begin; insert into items values (${id}, 1), (${id + 1}, 2); update items set qty = qty + 1 where id = ${1 + below(testRandom, id + 1)}; delete from items where id = ${1 + below(testRandom, id + 1)}; commit`);
        id += 2;
      }
    })();
    try {
      for (let kill = 0; kill < 3; kill++) {
        const run = startCli(['run', '-c', specFile]);
        await new Promise((resolve) => setTimeout(resolve, 1000 + below(testRandom, 2500)));
        run.child.kill('SIGKILL');
        await run.finished();
      }
    } finally {
      writing = false;
      await workload;
    }
    const last = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 180_000);
    expect(last.code, last.stderr.slice(-3000)).toBe(0);
    const perNode = await cluster().readStreams('*c1*');
    const holding = perNode.filter(({ records }) => records.length > 0);
    expect(holding.length).toBe(1);
    const records = holding[0]!.records;
    expect(new Set(records.map((record) => record.topic))).toEqual(new Set(['{c1}.public.items']));
    const node = cluster().nodes[holding[0]!.node]!;
    expect(await node.with((client) => client.exists('{c1}.pgcdc:position:c1'))).toBe(1);
    const logged = await loggedChanges(url);
    expect(recordedChanges(records).length).toBe(logged.length);
    expect(changesPerKey(recordedChanges(records))).toEqual(changesPerKey(logged));
    expect(rebuild(records)).toEqual(await sourceTable(url));
  }, 300_000);
});
