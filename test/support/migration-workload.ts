/**
 * A concurrent random workload for migration tests, beside the basic one on `t`: TOASTed documents
 * whose updates mostly leave the big column unchanged, an append-only journal without a key (a
 * change applied twice shows there as a duplicate row), truncates, and schema changes made while
 * the writes go on.
 */
import pg from 'pg';
import { startWorkload, WORKLOAD_TABLE_SQL } from './random-workload.js';
import { testRandom } from './seeded-random.js';

export const MIGRATION_SCHEMA_SQL = `
  ${WORKLOAD_TABLE_SQL};
  create table docs (id int primary key, title text, body text);
  alter table docs alter column body set storage external;
  create table journal (n bigint, at timestamptz default now(), note text);
  alter table journal replica identity full;
  create table scratch (id int primary key, v int)`;

/** Rows to start with: `rows` in t, 50 TOASTed documents, a few journal and scratch rows. */
export function seedSql(rows: number): string {
  return `
    insert into t select nextval('t_ids'), g, md5(g::text) from generate_series(1, ${rows}) g;
    insert into docs select g, 'doc ' || g, repeat(md5(g::text), 3000) from generate_series(1, 50) g;
    insert into journal (n, note) select g, 'seed' from generate_series(1, 10) g;
    insert into scratch select g, g from generate_series(1, 10) g`;
}

/** Schema changes made at random moments of the workload, in this order. */
export const SCHEMA_CHANGES = [
  'alter table t add column extra int default 0',
  "alter table docs add column tag text default 'none'",
  'create index t_v on t (v)',
  'alter table scratch alter column v type bigint',
];

export interface MigrationWorkload {
  stop(): Promise<{ transactions: number; schemaChanges: number }>;
}

export function startMigrationWorkload(url: string): MigrationWorkload {
  const basic = startWorkload(url, 2);
  let stopped = false;
  let transactions = 0;
  let schemaChanges = 0;
  let journal = 1000;
  const extra = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (!stopped) {
        const pick = testRandom();
        const statements =
          pick < 0.35
            ? [`update docs set title = 'title ' || ${Math.floor(testRandom() * 1000)} where id = ${1 + Math.floor(testRandom() * 50)}`]
            : pick < 0.45
              ? [`update docs set body = repeat(md5(random()::text), 3000) where id = ${1 + Math.floor(testRandom() * 50)}`]
              : pick < 0.85
                ? [`insert into journal (n, note) values (${journal++}, 'a'), (${journal++}, 'b')`]
                : pick < 0.95
                  ? [`update scratch set v = v + 1 where id = ${1 + Math.floor(testRandom() * 10)}`]
                  : ['truncate scratch', `insert into scratch select g, g * ${journal} from generate_series(1, 10) g`];
        if (schemaChanges < SCHEMA_CHANGES.length && testRandom() < 0.02) statements.push(SCHEMA_CHANGES[schemaChanges++]!);
        await client.query('begin');
        for (const statement of statements) await client.query(statement);
        await client.query('commit');
        transactions++;
      }
    } finally {
      await client.end();
    }
  })();
  return {
    /** Stops the writes; schema changes that did not happen yet are made now, still ahead of the stream. */
    async stop() {
      stopped = true;
      const [totals] = await Promise.all([basic.stop(), extra]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        while (schemaChanges < SCHEMA_CHANGES.length) await client.query(SCHEMA_CHANGES[schemaChanges++]!);
      } finally {
        await client.end();
      }
      return { transactions: transactions + totals.committed, schemaChanges };
    },
  };
}
