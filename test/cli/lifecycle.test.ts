/**
 * The commands a user runs, end to end through the real command line: init, status, run (stopped
 * by SIGTERM), teardown; the Stdout target; an SGStream document with secrets from a directory;
 * and the demo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents, tempDir } from '../support/stream-fixtures.js';

describe('command line lifecycle', () => {
  const server = useTestServer();

  it('init, status, run until SIGTERM, status again, teardown', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key, total numeric(10,2))');
    const { specFile, outFile, config, dir } = await fileStream({ url });
    const slot = config.source.slotName;

    const init = await runCli(['init', '-c', specFile]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(new RegExp(`slot ${slot}: created at [0-9A-F]+/[0-9A-F]+`));
    const initAgain = await runCli(['init', '-c', specFile]);
    expect(initAgain.stdout).toContain(`slot ${slot}: already present`);

    const before = JSON.parse((await runCli(['status', '-c', specFile, '--json'])).stdout);
    expect(before.slot).toMatchObject({ name: slot, exists: true, active: false });
    // The captured table and the signal table.
    expect(before.publication).toEqual({ name: config.source.publicationName, exists: true, tables: 2 });

    const run = startCli(['run', '-c', specFile]);
    await waitFor(async () => (JSON.parse((await runCli(['status', '-c', specFile, '--json'])).stdout).slot.active ? true : undefined));
    await sql(url, 'insert into orders values (1, 9.99), (2, 19.99)');
    await waitFor(() => (readEvents(outFile).length === 2 ? true : undefined));
    run.child.kill('SIGTERM');
    const finished = await run.finished();
    expect(finished.code).toBe(0);
    expect(finished.stderr).toContain('"msg":"stopped"');

    const after = JSON.parse((await runCli(['status', '-c', specFile, '--json'])).stdout);
    expect(after.slot.active).toBe(false);
    // Everything delivered was acknowledged on the graceful stop.
    const { rows } = await sql(url, 'select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::int as behind from pg_replication_slots where slot_name = $1', [slot]);
    expect(rows[0].behind).toBeLessThan(1024);
    const text = (await runCli(['status', '-c', specFile])).stdout;
    expect(text).toMatch(new RegExp(`slot ${slot}: inactive, confirmed [0-9A-F]+/[0-9A-F]+, lag \\d+`));

    const teardown = await runCli(['teardown', '-c', specFile]);
    expect(teardown.code).toBe(0);
    expect(teardown.stdout).toBe(`slot ${slot}: dropped\npublication ${config.source.publicationName}: dropped\nDDL capture: removed\nschema pgcdc: dropped (no other stream uses it)\n`);
    expect(fs.existsSync(path.join(dir, 'state'))).toBe(false);
    const gone = JSON.parse((await runCli(['status', '-c', specFile, '--json'])).stdout);
    expect(gone.slot).toEqual({ name: slot, exists: false });
    expect(gone.publication.exists).toBe(false);
  });

  it('a SIGTERM while a transaction is delivered stops after it: the next run delivers none of it again', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table orders (id int primary key)');
    const { specFile, outFile } = await fileStream({ url });
    expect((await runCli(['init', '-c', specFile])).code).toBe(0);
    const rows = 200_000;
    await sql(url, `insert into orders select generate_series(1, ${rows})`);
    const run = startCli(['run', '-c', specFile]);
    await waitFor(() => (fs.existsSync(outFile) && fs.statSync(outFile).size > 0 ? true : undefined), 60_000, 'the first events of the transaction');
    run.child.kill('SIGTERM');
    const deliveredAtSignal = readEvents(outFile).length;
    expect(deliveredAtSignal, 'the signal came in the middle of the transaction').toBeLessThan(rows);
    const finished = await run.finished();
    expect(finished.code, finished.stderr).toBe(0);
    // The File target keeps what it took: stopping in the middle would leave the transaction's first
    // part there, and the slot would send all of it again.
    expect(readEvents(outFile).length).toBe(rows);
    await sql(url, `insert into orders values (${rows + 1})`);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'])).code).toBe(0);
    const ids = readEvents(outFile).map((event) => event.after.id as number);
    expect(ids.length).toBe(rows + 1);
    expect(new Set(ids).size).toBe(rows + 1);
  });

  it('streams to standard output, logs JSON to standard error, and never prints the password', async () => {
    const admin = await createDatabase(server());
    const password = 'Unguessable-9f2c41';
    await sql(admin, `create role stdout_user login replication password '${password}'; grant create on database ${new URL(admin).pathname.slice(1)} to stdout_user`);
    await sql(admin, 'create table t (id int primary key, note text); alter table t owner to stdout_user');
    const url = admin.replace(`//postgres:${server().password}@`, `//stdout_user:${password}@`);
    const dir = tempDir();
    const spec = path.join(dir, 'stdout.yaml');
    fs.writeFileSync(spec, `apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: to-stdout\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: "${url}"\n      snapshotMode: never\n  target:\n    type: Stdout\n  stateDir: ${dir}/state\n`);
    expect((await runCli(['init', '-c', spec])).code).toBe(0);
    await sql(admin, "insert into t values (1, 'hello')");
    const result = await runCli(['--log-level', 'debug', 'run', '-c', spec, '--stop-at', 'now']);
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.map((e) => [e.op, e.after])).toEqual([['c', { id: 1, note: 'hello' }]]);
    for (const line of result.stderr.trim().split('\n')) expect(JSON.parse(line).name).toBe('pgcdc');
    expect(result.stderr).not.toContain(password);
    expect(result.stdout).not.toContain(password);
  });

  it('runs a StackGres SGStream document with credentials from a secrets directory', async () => {
    const url = await createDatabase(server());
    const database = new URL(url).pathname.slice(1);
    await sql(url, 'create table public.users (id int primary key, email text); create table public.audit_logs (id int primary key)');
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'secrets', 'pg-credentials'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'secrets', 'pg-credentials', 'username'), 'postgres\n');
    fs.writeFileSync(path.join(dir, 'secrets', 'pg-credentials', 'password'), `${server().password}\n`);
    const spec = path.join(dir, 'sgstream.yaml');
    fs.writeFileSync(
      spec,
      `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: external-migration
spec:
  source:
    type: Postgres
    postgres:
      host: 127.0.0.1
      port: ${server().port}
      database: ${database}
      username: { name: pg-credentials, key: username }
      password: { name: pg-credentials, key: password }
      excludes: ["public\\\\.audit_logs"]
      debeziumProperties:
        slotName: sg_slot
        snapshotMode: never
        snapshotDelayMs: 5000
  target:
    type: File
    file:
      path: ${dir}/out.ndjson
  maxRetries: 0
  pods:
    persistentVolume:
      size: 1Gi
`,
    );
    const args = ['--secrets-dir', path.join(dir, 'secrets')];
    // The state lives in the source database, keyed by the slot.
    expect((await runCli(['init', '-c', spec, ...args], {}, 60_000, dir)).code).toBe(0);
    await sql(url, "insert into users values (1, 'ada@example.com'); insert into audit_logs values (1)");
    const result = await runCli(['run', '-c', spec, ...args, '--stop-at', 'now'], {}, 60_000, dir);
    expect(result.code).toBe(0);
    const { rows: state } = await sql(url, "select stream, state->'slot'->>'name' as slot from pgcdc.stream_state where slot_name = 'sg_slot'");
    expect(state).toStrictEqual([{ stream: 'external-migration', slot: 'sg_slot' }]);
    expect(result.stderr).toMatch(/debeziumProperties\.snapshotDelayMs is accepted but not applied/);
    const events = readEvents(path.join(dir, 'out.ndjson'));
    expect(events.map((e) => [e.source.name, e.source.table, e.after])).toEqual([['external-migration', 'users', { id: 1, email: 'ada@example.com' }]]);
    const { rows } = await sql(url, "select count(*)::int as n from pg_replication_slots where slot_name = 'sg_slot'");
    expect(rows[0].n).toBe(1);
  });

  it('pgcdc demo streams a live workload to stdout until Ctrl-C', async () => {
    const demo = startCli(['demo', '--interval', '100']);
    await waitFor(() => (demo.output().stdout.split('\n').filter(Boolean).length >= 5 ? true : undefined), 60_000, 'demo events');
    demo.child.kill('SIGINT');
    const result = await demo.finished();
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.length).toBeGreaterThanOrEqual(5);
    for (const event of events) {
      expect(['c', 'u', 'd']).toContain(event.op);
      expect(['customers', 'orders']).toContain(event.source.table);
    }
  }, 90_000);
});
