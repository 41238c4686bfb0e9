/**
 * Schema changes as events (`captureDdl`): a real PostgreSQL, DDL run while a concurrent writer
 * inserts rows, streamed into a File target and into the CloudEvent HTTP target. Every row before a
 * DDL has the old shape, the schema-change event comes between, the rows after it have the new
 * shape; rows are matched against the source's own `to_jsonb()` (taken in the inserting
 * transaction), column lists against the catalog (`information_schema.columns`), and DDL on an
 * excluded table is not an event.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents } from '../support/stream-fixtures.js';

interface CatalogColumn {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  primaryKey: boolean;
}

/** A table's columns as the catalog tells them (information_schema, and format_type for the type). */
async function catalogColumns(url: string, schema: string, table: string): Promise<CatalogColumn[]> {
  const { rows } = await sql(
    url,
    `select c.column_name::text as name,
            format_type(a.atttypid, a.atttypmod) as type,
            c.is_nullable = 'YES' as nullable,
            c.column_default::text as "default",
            exists (select from information_schema.table_constraints tc
                    join information_schema.key_column_usage k on k.constraint_schema = tc.constraint_schema and k.constraint_name = tc.constraint_name
                    where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = c.table_schema and tc.table_name = c.table_name
                      and k.column_name = c.column_name) as "primaryKey"
       from information_schema.columns c
       join pg_attribute a on a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass and a.attname = c.column_name
      where c.table_schema = $1 and c.table_name = $2
      order by c.ordinal_position`,
    [schema, table],
  );
  return rows as CatalogColumn[];
}

/** Inserts rows into shop.orders one transaction at a time until stopped, keeping each row's `to_jsonb()`. */
class ConcurrentWriter {
  readonly rows = new Map<number, unknown>();
  #stop = false;
  #done: Promise<void> | undefined;

  start(url: string): void {
    this.#done = (async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (let id = 1; !this.#stop && id <= 100_000; id++) {
          const { rows } = await client.query('insert into shop.orders as o (id) values ($1) returning to_jsonb(o.*) as row', [id]);
          this.rows.set(id, rows[0].row);
        }
      } finally {
        await client.end();
      }
    })();
  }

  /** Waits until `more` rows were inserted after the ones inserted so far. */
  async advance(more: number): Promise<void> {
    const target = this.rows.size + more;
    await waitFor(() => (this.rows.size >= target ? true : undefined), 30_000, `${target} rows written`);
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

const SOURCE = {
  includes: ['shop\\.(orders|created|created2)'],
  captureDdl: true,
  publicationAutocreateMode: 'all_tables',
};

describe('schema-change events', () => {
  const server = useTestServer();
  const receivers: CloudEventReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  it('come between the rows of the old and the new shape, in a File and a CloudEvent target', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create schema shop; create schema other;
       create table shop.orders (id int primary key, name text default 'x', qty int not null default 1);
       create table shop.audit (id int primary key);`,
    );
    const file = await fileStream({ url, name: `schema-file-${process.pid}`, source: SOURCE });
    const receiver = await CloudEventReceiver.start();
    receivers.push(receiver);
    const cloud = await cloudEventStream({ url, receiverUrl: receiver.url, name: `schema-ce-${process.pid}`, source: SOURCE, cloudEvent: { mode: 'structured' } });
    // Slots (and DDL capture) in place before the workload.
    await runStream(file.config, { logger: silentLogger(), stopAt: 'now' });
    await runStream(cloud.config, { logger: silentLogger(), stopAt: 'now' });

    // DDL on shop.orders under a concurrent writer; the catalog's columns after each step.
    const catalogs = [await catalogColumns(url, 'shop', 'orders')];
    const writer = new ConcurrentWriter();
    writer.start(url);
    const steps = [
      { sql: "alter table shop.orders add column note text default 'n'", operation: 'ALTER' },
      { sql: 'alter table shop.orders alter column qty type numeric(10,2)', operation: 'ALTER' },
      { sql: 'alter table shop.orders rename column name to title', operation: 'ALTER' },
      { sql: 'alter table shop.orders drop column qty', operation: 'ALTER' },
    ];
    try {
      await writer.advance(20);
      for (const step of steps) {
        await sql(url, step.sql);
        catalogs.push(await catalogColumns(url, 'shop', 'orders'));
        await writer.advance(20);
      }
    } finally {
      await writer.stop();
    }
    // Excluded tables: no event.
    await sql(url, 'alter table shop.audit add column at timestamptz; create table other.ignored (id int primary key); drop table other.ignored');
    // CREATE, RENAME and DROP of a captured table, with rows between.
    await sql(url, "create table shop.created (id bigint primary key, label varchar(20) not null default 'l')");
    const created = await catalogColumns(url, 'shop', 'created');
    const createdRow = (await sql(url, 'insert into shop.created as c (id) values (1) returning to_jsonb(c.*) as row')).rows[0].row;
    await sql(url, 'alter table shop.created rename to created2');
    const renamed = await catalogColumns(url, 'shop', 'created2');
    const renamedRow = (await sql(url, "insert into shop.created2 as c (id, label) values (2, 'r') returning to_jsonb(c.*) as row")).rows[0].row;
    await sql(url, 'drop table shop.created2');

    await runStream(file.config, { logger: silentLogger(), stopAt: 'now' });
    await runStream(cloud.config, { logger: silentLogger(), stopAt: 'now' });

    const expectedSchemaChanges = [
      ...steps.map((step, i) => ({
        operation: step.operation,
        schema: 'shop',
        table: 'orders',
        previous: null,
        commandTag: 'ALTER TABLE',
        query: step.sql,
        before: catalogs[i],
        after: catalogs[i + 1],
      })),
      { operation: 'CREATE', schema: 'shop', table: 'created', previous: null, commandTag: 'CREATE TABLE', query: expect.stringContaining('create table shop.created'), before: null, after: created },
      { operation: 'RENAME', schema: 'shop', table: 'created2', previous: { schema: 'shop', table: 'created' }, commandTag: 'ALTER TABLE', query: 'alter table shop.created rename to created2', before: created, after: renamed },
      { operation: 'DROP', schema: 'shop', table: 'created2', previous: null, commandTag: 'DROP TABLE', query: 'drop table shop.created2', before: renamed, after: null },
    ];
    const oracle = new Map<string, unknown>([
      ...[...writer.rows].map(([id, row]) => [`orders:${id}`, row] as const),
      ['created:1', createdRow],
      ['created2:2', renamedRow],
    ]);

    // File: the events in commit order.
    const fileEvents = readEvents(file.outFile);
    checkShapes(fileEvents, catalogs[0]!.map((c) => c.name), oracle);
    const fileSchema = fileEvents.filter((e) => e.op === 'schema');
    expect(fileSchema.map((e) => e.schemaChange)).toEqual(expectedSchemaChanges);
    for (const event of fileSchema) {
      expect(event.databaseName).toBe(new URL(url).pathname.slice(1));
      expect([event.source.schema, event.source.table]).toEqual([event.schemaChange.schema, event.schemaChange.table]);
      expect(typeof event.source.lsn).toBe('number');
      expect(typeof event.source.txId).toBe('number');
    }
    expect(fileEvents.filter((e) => e.op === 'c')).toHaveLength(writer.rows.size + 2);
    // pgcdc's own DDL messages are not events.
    expect(fileEvents.filter((e) => e.op === 'm')).toEqual([]);

    // CloudEvent: the same events; a schema change is a barrier, so arrival order keeps the rows around it.
    expect(receiver.rejected).toEqual([]);
    const arrived = receiver.accepted;
    const byPosition = inPositionOrder(arrived);
    checkShapes(byPosition.map((e) => e.data), catalogs[0]!.map((c) => c.name), oracle);
    const cloudSchema = byPosition.filter((e) => e.type === 'io.pgcdc.schema.change');
    expect(cloudSchema.map((e) => e.data.schemaChange)).toEqual(expectedSchemaChanges);
    for (const event of cloudSchema) {
      expect(event.iodebeziumop).toBe('schema');
      expect([event.iodebeziumschema, event.iodebeziumtable]).toEqual([event.data.schemaChange.schema, event.data.schemaChange.table]);
      const at = arrived.indexOf(event);
      const position = byPosition.indexOf(event);
      // Everything before it in commit order arrived before it, everything after it arrived after it.
      expect(new Set(arrived.slice(0, at))).toEqual(new Set(byPosition.slice(0, position)));
    }
    expect(byPosition.filter((e) => e.type !== 'io.pgcdc.schema.change').map((e) => e.data.after)).toEqual(
      fileEvents.filter((e) => e.op === 'c').map((e) => e.after),
    );
  });
});

/**
 * Walks events in commit order: each schema change of a table starts from the columns its rows had
 * so far; each row has exactly the columns of the last schema change of its table, and equals the
 * source's own `to_jsonb()` of it.
 */
function checkShapes(events: readonly any[], ordersColumns: readonly string[], oracle: ReadonlyMap<string, unknown>): void {
  const shapes = new Map<string, readonly string[]>([['orders', ordersColumns]]);
  for (const event of events) {
    if (event.op === 'schema') {
      const change = event.schemaChange;
      const table = change.previous?.table ?? change.table;
      if (change.before !== null) expect(change.before.map((c: CatalogColumn) => c.name)).toEqual(shapes.get(table));
      shapes.delete(table);
      if (change.after !== null) shapes.set(change.table, change.after.map((c: CatalogColumn) => c.name));
      continue;
    }
    if (event.op !== 'c') continue;
    const table = event.source.table as string;
    expect(Object.keys(event.after), `columns of a ${table} row`).toEqual(shapes.get(table));
    expect(event.after).toEqual(oracle.get(`${table}:${event.after.id}`));
  }
}

/** CloudEvents sorted by the position their id carries (`<commitLsn>:<lsn>:<n>`). */
function inPositionOrder(events: readonly any[]): any[] {
  const position = (event: any): number[] => String(event.id).split(':').map(Number);
  return [...events].sort((a, b) => {
    const [x, y] = [position(a), position(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}
