/**
 * A seeded random workload for exactness tests of the Postgres target, on a table with a primary
 * key and a TOASTed column and on a keyless REPLICA IDENTITY FULL table (duplicate rows included):
 * inserts, updates leaving the TOASTed value unchanged and updates changing it, deletes,
 * primary-key changes, rollbacks, multi-statement transactions, and schema changes (ADD/DROP
 * COLUMN, column type changes, which rewrite the table) at random moments. Also the independent
 * oracle: each table's row count and an order-independent digest of its rows.
 */
import pg from 'pg';
import { below, seededRandom, type Random } from './seeded-random.js';
import { sql } from './postgres.js';

/** `keyed` and `keyless` (or the same shapes under other names). */
export function exactnessSchemaSql(keyed = 'keyed', keyless = 'keyless'): string {
  return `
    create table ${keyed} (id bigint primary key, v int not null, doc text);
    alter table ${keyed} alter column doc set storage external;
    create sequence ${keyed}_ids start 10000000;
    create table ${keyless} (n int, v int, doc text);
    alter table ${keyless} replica identity full;
    alter table ${keyless} alter column doc set storage external`;
}

/** Rows to start with: every tenth document is TOASTed; keyless rows repeat (three of each). */
export function exactnessSeedSql(rows: number, keyed = 'keyed', keyless = 'keyless'): string {
  return `
    insert into ${keyed} select g, g, case when g % 10 = 0 then repeat(md5(g::text), 100) else md5(g::text) end from generate_series(1, ${rows}) g;
    insert into ${keyless} select g % ${Math.max(1, Math.floor(rows / 30))}, 0, case when g % 10 = 0 then repeat(md5(g::text), 100) else 'k' end from generate_series(1, ${Math.max(3, Math.floor(rows / 10))}) g`;
}

/** Schema changes made once each, at random moments, in this order. */
export function exactnessSchemaChanges(keyed = 'keyed', keyless = 'keyless'): string[] {
  return [
    `alter table ${keyed} add column extra int default 7`,
    `alter table ${keyless} alter column v type bigint`,
    `alter table ${keyed} drop column extra`,
    `alter table ${keyless} add column note text`,
  ];
}

export interface ExactnessWorkload {
  /** Stops the writes (the schema changes not made yet are made now) and resolves with the committed transactions. */
  stop(): Promise<number>;
}

export interface ExactnessWorkloadOptions {
  readonly seed: number;
  readonly keyed?: string;
  readonly keyless?: string;
  /** Concurrent connections writing (default 2). */
  readonly workers?: number;
  /** Pause between a worker's transactions, in ms (default 3: some hundreds of transactions per second). */
  readonly pauseMs?: number;
  /** Make the schema changes (default true). */
  readonly schemaChanges?: boolean;
}

export function startExactnessWorkload(url: string, options: ExactnessWorkloadOptions): ExactnessWorkload {
  const keyed = options.keyed ?? 'keyed';
  const keyless = options.keyless ?? 'keyless';
  const changes = options.schemaChanges === false ? [] : exactnessSchemaChanges(keyed, keyless);
  let stopped = false;
  let committed = 0;
  let changesMade = 0;
  const worker = async (random: Random, makesSchemaChanges: boolean): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      while (!stopped) {
        const statements = Array.from({ length: random() < 0.1 ? 2 + below(random, 4) : 1 }, () => randomStatement(random, keyed, keyless));
        const schemaChange = makesSchemaChanges && changesMade < changes.length && random() < 0.01;
        if (schemaChange) statements.push(changes[changesMade]!);
        const rollback = random() < 0.05 && !schemaChange;
        try {
          await client.query('begin');
          for (const statement of statements) await client.query(statement);
          await client.query(rollback ? 'rollback' : 'commit');
          if (!rollback) committed++;
          if (schemaChange) changesMade++;
        } catch {
          await client.query('rollback').catch(() => undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 3));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const random = seededRandom(options.seed);
  const loops = Array.from({ length: options.workers ?? 2 }, (_, i) => worker(seededRandom(Math.floor(random() * 2 ** 32)), i === 0));
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      while (changesMade < changes.length) await sql(url, changes[changesMade++]!);
      return committed;
    },
  };
}

function randomStatement(random: Random, keyed: string, keyless: string): string {
  const pick = random();
  const someKey = `(select id from ${keyed} where id >= ${1 + below(random, 60_000)} order by id limit 1)`;
  const someRow = `(select ctid from ${keyless} where n >= ${below(random, 2_000)} order by n limit 1)`;
  const doc = random() < 0.5 ? `repeat(md5(random()::text), 100)` : 'md5(random()::text)';
  if (pick < 0.15) return `insert into ${keyed} select nextval('${keyed}_ids'), g, ${doc} from generate_series(1, ${1 + below(random, 20)}) g`;
  if (pick < 0.35) return `update ${keyed} set v = v + 1 where id = ${someKey}`;
  if (pick < 0.45) return `update ${keyed} set doc = ${doc} where id = ${someKey}`;
  if (pick < 0.52) return `delete from ${keyed} where id = ${someKey}`;
  if (pick < 0.6) return `update ${keyed} set id = nextval('${keyed}_ids') where id = ${someKey}`;
  if (pick < 0.62) return `update ${keyed} set v = v + 1 where id in (select id from ${keyed} where id >= ${1 + below(random, 60_000)} order by id limit 50)`;
  if (pick < 0.74) return `insert into ${keyless} (n, v, doc) values (${below(random, 2_000)}, 0, ${doc}), (${below(random, 2_000)}, 0, 'k')`;
  if (pick < 0.86) return `update ${keyless} set v = v + 1 where ctid = ${someRow}`;
  if (pick < 0.92) return `update ${keyless} set doc = ${doc} where ctid = ${someRow}`;
  return `delete from ${keyless} where ctid = ${someRow}`;
}

/** A table's row count and an order-independent digest of its rows (as JSON: column order does not matter). */
export async function tableDigest(url: string, table: string): Promise<{ rows: number; digest: string }> {
  const { rows } = await sql(url, `select count(*)::int as rows, md5(coalesce(string_agg(r, '|' order by r), '')) as digest from (select to_jsonb(t)::text collate "C" as r from ${table} t) x`);
  return { rows: rows[0].rows, digest: rows[0].digest };
}
