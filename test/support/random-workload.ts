/**
 * A concurrent random write workload on `t (id int primary key, v int, s text)`: inserts, updates
 * (some changing the primary key), deletes, multi-row transactions and rollbacks, from several
 * connections at once, until stopped.
 */
import pg from 'pg';
import { testRandom } from './seeded-random.js';

export const WORKLOAD_TABLE_SQL = 'create table t (id int primary key, v int not null, s text); create sequence t_ids start 1';

export interface RunningWorkload {
  /** Stops and resolves with the number of committed and rolled-back transactions. */
  stop(): Promise<{ committed: number; rolledBack: number }>;
}

export function startWorkload(url: string, workers = 2): RunningWorkload {
  let stopped = false;
  let committed = 0;
  let rolledBack = 0;
  const loops = Array.from({ length: workers }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (!stopped) {
        const statements = randomTransaction();
        const rollback = testRandom() < 0.1;
        try {
          await client.query('begin');
          for (const statement of statements) await client.query(statement);
          await client.query(rollback ? 'rollback' : 'commit');
          if (rollback) rolledBack++;
          else committed++;
        } catch {
          await client.query('rollback').catch(() => undefined);
          rolledBack++;
        }
      }
    } finally {
      await client.end();
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { committed, rolledBack };
    },
  };
}

function randomTransaction(): string[] {
  const pick = testRandom();
  const value = Math.floor(testRandom() * 1000);
  if (pick < 0.4) return [`insert into t values (nextval('t_ids'), ${value}, md5(random()::text))`];
  if (pick < 0.55) return [`insert into t select nextval('t_ids'), g, repeat('x', 50) from generate_series(1, ${50 + Math.floor(testRandom() * 300)}) g`];
  if (pick < 0.75) return [`update t set v = v + 1 where id = (select id from t order by random() limit 1)`];
  if (pick < 0.85) return [`update t set id = nextval('t_ids') where id = (select id from t order by random() limit 1)`];
  if (pick < 0.95) return [`delete from t where id = (select id from t order by random() limit 1)`];
  return [`insert into t values (nextval('t_ids'), ${value}, 'a')`, `update t set v = v * 2 where id in (select id from t order by random() limit 5)`];
}
