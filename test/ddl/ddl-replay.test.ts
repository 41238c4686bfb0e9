/**
 * DDL capture on a source and replay on a target, step by step: every DDL command's `pgcdc.ddl`
 * message (read through a test_decoding slot) is turned into statements for the target, after
 * which the target's schema must equal the source's; replaying a message again must be harmless.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createStatements } from '../../src/ddl/create-statements.js';
import { installDdlCapture } from '../../src/ddl/ddl-capture.js';
import type { DdlMessage } from '../../src/ddl/ddl-message.js';
import { ReplicatedSchema } from '../../src/ddl/replicated-schema.js';
import { replayStatements } from '../../src/ddl/replay-statements.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';
import { createDecodingSlot, describeUserTables, queryOf, readDdlMessages, readDecoded, runStatements, schemaSnapshot } from '../support/ddl-catalog.js';

const server = useTestServer();

let source: string;
let target: string;
let slot: string;
let state: ReplicatedSchema;
let slots = 0;

beforeEach(async () => {
  source = await createDatabase(server(), 'src');
  target = await createDatabase(server(), 'tgt');
  const result = await withClient(source, (client) => installDdlCapture(queryOf(client)));
  expect(result).toEqual({ installed: true });
  slot = `ddl_${process.pid}_${++slots}`;
  await createDecodingSlot(source, slot);
  state = ReplicatedSchema.fromDescriptions([]);
});

/**
 * Runs `ddl` on the source, replays its messages on the target, checks both schemas are equal and
 * that replaying the same messages again changes nothing; returns the statements replayed.
 */
async function step(ddl: string): Promise<string[]> {
  await sql(source, ddl);
  const messages = await readDdlMessages(source, slot);
  const statements: string[] = [];
  for (const message of messages) {
    const replayed = replayStatements(message, state);
    await runStatements(target, replayed);
    state.apply(message);
    statements.push(...replayed);
  }
  state = ReplicatedSchema.fromJSON(JSON.parse(JSON.stringify(state))); // kept between runs as JSON
  const expected = await schemaSnapshot(source);
  expect(await schemaSnapshot(target)).toEqual(expected);
  await replayAgain(messages);
  expect(await schemaSnapshot(target)).toEqual(expected);
  return statements;
}

/** A crash after the target committed but before the position was saved: the same messages again. */
async function replayAgain(messages: readonly DdlMessage[]): Promise<void> {
  for (const message of messages) {
    const again = replayStatements(message, state);
    if (message.event === 'ddl_command_end') expect(again.filter((s) => !s.startsWith('CREATE SCHEMA IF NOT EXISTS'))).toEqual([]);
    await runStatements(target, again);
  }
}

describe('DDL replay', () => {
  it('follows a scripted sequence of schema changes', async () => {
    expect(await step(`create schema shop`)).toEqual(['CREATE SCHEMA IF NOT EXISTS "shop"']);
    expect(await step(`create type shop.status as enum ('new', 'paid')`)).toEqual([`CREATE TYPE "shop"."status" AS ENUM ('new', 'paid')`]);
    expect(await step(`create table shop.orders (id serial primary key, status shop.status not null default 'new', total int)`)).toEqual([
      'CREATE SEQUENCE IF NOT EXISTS "shop"."orders_id_seq" AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE',
      [
        'CREATE TABLE IF NOT EXISTS "shop"."orders" (',
        `  "id" integer DEFAULT nextval('shop.orders_id_seq'::regclass) NOT NULL,`,
        `  "status" shop.status DEFAULT 'new'::shop.status NOT NULL,`,
        '  "total" integer,',
        '  CONSTRAINT "orders_pkey" PRIMARY KEY (id)',
        ')',
      ].join('\n'),
      'ALTER SEQUENCE "shop"."orders_id_seq" OWNED BY "shop"."orders"."id"',
    ]);
    expect(await step(`alter table shop.orders add column note text`)).toEqual(['ALTER TABLE "shop"."orders" ADD COLUMN IF NOT EXISTS "note" text']);
    expect(await step(`alter table shop.orders rename column note to comment`)).toEqual(['ALTER TABLE "shop"."orders" RENAME COLUMN "note" TO "comment"']);
    expect(await step(`alter table shop.orders alter column total type numeric(12,2)`)).toEqual([
      'ALTER TABLE "shop"."orders" ALTER COLUMN "total" TYPE numeric(12,2) USING "total"::numeric(12,2)',
    ]);
    expect(await step(`alter table shop.orders alter column total set not null`)).toEqual(['ALTER TABLE "shop"."orders" ALTER COLUMN "total" SET NOT NULL']);
    expect(await step(`alter table shop.orders alter column comment set default 'none'`)).toEqual([
      `ALTER TABLE "shop"."orders" ALTER COLUMN "comment" SET DEFAULT 'none'::text`,
    ]);
    expect(await step(`create index orders_status on shop.orders (status) where total > 0`)).toEqual([
      'CREATE INDEX IF NOT EXISTS "orders_status" ON "shop"."orders" USING btree (status) WHERE (total > (0)::numeric)',
    ]);
    expect(await step(`drop index shop.orders_status`)).toEqual(['DROP INDEX IF EXISTS "shop"."orders_status"']);
    expect(await step(`alter type shop.status add value 'shipped' after 'paid'; alter type shop.status add value 'draft' before 'new'`)).toEqual([
      `ALTER TYPE "shop"."status" ADD VALUE IF NOT EXISTS 'shipped' AFTER 'paid'`,
      `ALTER TYPE "shop"."status" ADD VALUE IF NOT EXISTS 'draft' BEFORE 'new'`,
    ]);
    expect(await step(`alter table shop.orders rename to purchases`)).toEqual(['ALTER TABLE IF EXISTS "shop"."orders" RENAME TO "purchases"']);
    expect(await step(`alter table shop.purchases drop column comment`)).toEqual(['ALTER TABLE IF EXISTS "shop"."purchases" DROP COLUMN IF EXISTS "comment"']);
    expect(await step(`drop table shop.purchases`)).toEqual(['DROP TABLE IF EXISTS "shop"."purchases"']);
    expect(await step(`drop schema shop cascade`)).toEqual(['DROP TYPE IF EXISTS "shop"."status"', 'DROP SCHEMA IF EXISTS "shop"']);
    expect(await schemaSnapshot(target)).toEqual({ schemas: [], types: [], tables: [] });
  });

  it('replays constraints, identities, moves, renames, types and partitions', async () => {
    await step(`create schema "Quoted Schema"; create schema app`);
    await step(`create table "Quoted Schema"."Mixed" ("Id" int generated by default as identity primary key, "Val" text not null)`);
    await step(`create type app.addr as (street text, zip int); create domain app.zip as int check (value > 0)`);
    await step(`alter table "Quoted Schema"."Mixed" add column home app.addr, add column zip app.zip default 1`);
    await step(`alter table "Quoted Schema"."Mixed" add constraint val_short check (length("Val") < 100), add constraint val_unique unique ("Val")`);
    expect(await step(`alter table "Quoted Schema"."Mixed" rename constraint val_short to "Val short"`)).toEqual([
      'ALTER TABLE "Quoted Schema"."Mixed" RENAME CONSTRAINT "val_short" TO "Val short"',
    ]);
    await step(`alter table "Quoted Schema"."Mixed" drop constraint val_unique`);
    await step(`create index mixed_zip on "Quoted Schema"."Mixed" (zip)`);
    expect(await step(`alter index "Quoted Schema".mixed_zip rename to "Mixed zip"`)).toEqual([
      'ALTER INDEX IF EXISTS "Quoted Schema"."mixed_zip" RENAME TO "Mixed zip"',
    ]);
    await step(`alter table "Quoted Schema"."Mixed" alter column "Id" set generated always, alter column "Val" drop not null, alter column zip drop default`);
    await step(`alter table "Quoted Schema"."Mixed" replica identity full`);
    expect(await step(`alter table "Quoted Schema"."Mixed" set schema app`)).toEqual(['ALTER TABLE IF EXISTS "Quoted Schema"."Mixed" SET SCHEMA "app"']);
    await step(`create table app.child (id bigint primary key, mixed_id int references app."Mixed" ("Id") on delete cascade, created timestamptz default now())`);
    await step(`alter table app.child add column amount numeric(10,2) not null default 0 check (amount >= 0)`);
    await step(`alter table app.child add column seq bigserial`);
    await step(`alter table app.child alter column amount type numeric(14,4), alter column created type timestamp`);
    expect(await step(`alter schema app rename to application`)).toEqual(['ALTER SCHEMA "app" RENAME TO "application"']);
    await step(`alter table application.child add column note text`);
    await step(`alter type application.addr rename to address`);
    await step(`alter type application.address add attribute country text`);
    await step(`alter domain application.zip add constraint zip_small check (value < 100000)`);
    await step(`create type application.level as enum ('low', 'high'); alter table application.child add column level application.level`);
    await step(`alter type application.level rename value 'high' to 'top'`);
    await step(
      `create table application.log (at date not null, msg text) partition by range (at);
       create table application.log_2024 partition of application.log for values from ('2024-01-01') to ('2025-01-01')`,
    );
    await step(`create index on application.log (at)`);
    await step(`alter table application.log add column level int default 0`);
    await step(`create table application.log_2025 partition of application.log for values from ('2025-01-01') to ('2026-01-01')`);
    await step(`alter table application.child drop column mixed_id, drop column level`);
    await step(`drop type application.level`);
    await step(`drop table application.log`);
    await step(`drop schema "Quoted Schema"`);
    await step(`drop schema application cascade`);
    expect(await schemaSnapshot(target)).toEqual({ schemas: [], types: [], tables: [] });
  });

  it('continues from an initial copy made with createStatements', async () => {
    await sql(source, `create type public.kind as enum ('a', 'b'); create table public.items (id bigserial primary key, kind public.kind, label text)`);
    await readDdlMessages(source, slot); // the copy below starts after these
    const tables = await describeUserTables(source);
    await runStatements(target, createStatements(tables));
    state = ReplicatedSchema.fromDescriptions(tables);
    expect(await step(`alter table public.items rename column label to title; alter type public.kind add value 'c'`)).toEqual([
      'ALTER TABLE "public"."items" RENAME COLUMN "label" TO "title"',
      `ALTER TYPE "public"."kind" ADD VALUE IF NOT EXISTS 'c' AFTER 'b'`,
    ]);
    expect(await step(`alter table public.items add column extra public.kind[] default '{c}'`)).toEqual([
      `ALTER TABLE "public"."items" ADD COLUMN IF NOT EXISTS "extra" public.kind[] DEFAULT '{c}'::public.kind[]`,
    ]);
  });

  it('keeps DML in the DDL transaction in order, and captures nothing that was rolled back', async () => {
    await sql(
      source,
      `begin;
       create table public.t (id int primary key);
       insert into public.t values (1);
       alter table public.t add column v text;
       insert into public.t values (2, 'x');
       commit;
       begin; create table public.never (x int); rollback;`,
    );
    const decoded = await readDecoded(source, slot, true);
    const lines = decoded.map((line) => (line.kind === 'ddl' ? `message ${line.message.commandTag}` : line.data.replace(/^(BEGIN|COMMIT) \d+/, '$1')));
    expect(lines).toEqual([
      'BEGIN',
      'message CREATE TABLE',
      'table public.t: INSERT: id[integer]:1',
      'message ALTER TABLE',
      "table public.t: INSERT: id[integer]:2 v[text]:'x'",
      'COMMIT',
    ]);
    expect(new Set(decoded.map((line) => line.xid)).size).toBe(1);
    const messages = await readDdlMessages(source, slot);
    expect(messages.map((m) => [m.event, m.commandTag, m.query?.includes('create table public.t')])).toEqual([
      ['ddl_command_end', 'CREATE TABLE', true],
      ['ddl_command_end', 'ALTER TABLE', true],
    ]);
    for (const message of messages) {
      await runStatements(target, replayStatements(message, state));
      state.apply(message);
    }
    expect(await schemaSnapshot(target)).toEqual(await schemaSnapshot(source));
  });

  it('emits nothing for temporary tables, pgcdc objects, comments and grants', async () => {
    await sql(
      source,
      `create temp table scratch (x int);
       alter table scratch add column y int;
       create index on scratch (x);
       drop table scratch;
       create table pgcdc.internal (x int);
       drop table pgcdc.internal;
       create table public.kept (x int);`,
    );
    expect((await readDdlMessages(source, slot)).map((m) => m.tables.map((t) => t.name))).toEqual([['kept']]);
    await sql(source, `comment on table public.kept is 'hello'; grant select on public.kept to public; create temp table other (x int); drop table other`);
    expect(await readDdlMessages(source, slot)).toEqual([]);
  });
});
