/**
 * Bad input through the real command line: each case gives exactly one error line that says what
 * is wrong and how to fix it, a non-zero exit, and acknowledges nothing that was not delivered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectionConfig } from '../../src/config/stream-config.js';
import { freePort } from '../../src/embedded/embedded-postgres-server.js';
import { ReplicationSession } from '../../src/source/replication-session.js';
import { errorLine, runCli, startCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents, tempDir } from '../support/stream-fixtures.js';

describe('bad input on the command line', () => {
  const server = useTestServer();

  it('malformed YAML names the file, line and column', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'broken.yaml');
    fs.writeFileSync(file, 'apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: x\nspec:\n  source: [unclosed\n');
    const result = await runCli(['run', '-c', file]);
    expect(result.code).toBe(2);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[CONFIG_UNREADABLE\] .*broken\.yaml.*line \d+.*column \d+/);
  });

  it('an unknown key is rejected with the nearest valid key', async () => {
    const url = await createDatabase(server());
    const result = await runCli(['validate', '-c', writeSpec(url, { slotname: 'x' })]);
    expect(result.code).toBe(2);
    expect(errorLine(result)).toMatch(/spec\.source\.postgres\.slotname.*did you mean slotName/);
  });

  it('a wrong password fails at once with AUTH_FAILED', async () => {
    const url = await createDatabase(server());
    const wrong = url.replace(/:[^:@/]+@/, ':not-the-password@');
    const result = await runCli(['run', '-c', writeSpec(wrong)]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/error\[AUTH_FAILED\] password authentication failed for postgres@127\.0\.0\.1:\d+\/\w+ \(fix: check the user name and password/);
  });

  it('an unreachable host fails at once with SOURCE_UNREACHABLE', async () => {
    const port = await freePort();
    const result = await runCli(['run', '-c', writeSpec(`postgres://postgres:x@127.0.0.1:${port}/db`)]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(new RegExp(`error\\[SOURCE_UNREACHABLE\\] cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}: connection refused \\(fix: check that the server is running`));
  });

  it('a role without REPLICATION is told how to grant it', async () => {
    const url = await createDatabase(server());
    await sql(url, "create role plain_user login password 'pw'; create table t (id int primary key)");
    await sql(url, `grant create on database ${new URL(url).pathname.slice(1)} to plain_user; grant select on t to plain_user`);
    const result = await runCli(['run', '-c', writeSpec(url.replace('postgres:pgcdc@', 'plain_user:pw@'))]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/error\[PERMISSION_DENIED\] role plain_user has neither REPLICATION nor SUPERUSER \(fix: run ALTER ROLE "plain_user" WITH REPLICATION\)/);
  });

  it('a table without primary key or replica identity is named with the fix', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table keyless (a int, b text)');
    const result = await runCli(['run', '-c', writeSpec(url)]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/error\[NO_REPLICA_IDENTITY\] table public\.keyless has neither a primary key nor a replica identity.*fix: add a primary key, or run ALTER TABLE "public"\."keyless" REPLICA IDENTITY FULL/);
    const { rows } = await sql(url, 'select count(*)::int as n from pg_publication');
    expect(rows[0].n).toBe(0);
  });

  it('a slot already in use elsewhere is reported and nothing is acknowledged', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const spec = await fileStream({ url, source: { slotMaxRetries: 0 } });
    expect((await runCli(['init', '-c', spec.specFile])).code).toBe(0);
    const holder = await ReplicationSession.open(spec.config.source.connection);
    await holder.startReplication({ slotName: spec.config.source.slotName, publicationNames: [spec.config.source.publicationName], startLsn: 0, streamInProgress: false }, { onMessage: () => undefined, onKeepalive: () => undefined });
    const before = await confirmedFlush(url, spec.config.source.slotName);
    await sql(url, 'insert into t values (1)');
    try {
      const result = await runCli(['run', '-c', spec.specFile]);
      expect(result.code).toBe(1);
      expect(errorLine(result)).toMatch(/error\[SLOT_ACTIVE\] .*replication slot .* is active for PID \d+.*fix: another pgcdc \(or another consumer\) is reading this slot/);
    } finally {
      holder.destroy();
    }
    expect(await confirmedFlush(url, spec.config.source.slotName)).toBe(before);
    expect(readEvents(spec.outFile)).toEqual([]);
  });

  it('a slot dropped while running stops the stream with SLOT_LOST', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const spec = await fileStream({ url });
    const run = startCli(['run', '-c', spec.specFile]);
    await waitFor(async () => ((await sql(url, 'select active from pg_replication_slots where slot_name = $1', [spec.config.source.slotName])).rows[0]?.active ? true : undefined));
    await sql(url, 'insert into t values (1)');
    await waitFor(() => (readEvents(spec.outFile).length === 1 ? true : undefined));
    // An administrator ends the walsender and drops the slot before pgcdc reconnects.
    await waitFor(async () => {
      await sql(url, 'select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active', [spec.config.source.slotName]);
      const dropped = await sql(url, 'select pg_drop_replication_slot($1)', [spec.config.source.slotName]).then(() => true, () => undefined);
      return dropped;
    });
    const result = await run.finished();
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/error\[SLOT_LOST\] .*replication slot "[^"]+" (does not exist|that this stream created .* no longer exists).*fix: .*teardown/);
  });

  it('a target that cannot write stops the stream without acknowledging the change', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const spec = await fileStream({ url });
    expect((await runCli(['init', '-c', spec.specFile])).code).toBe(0);
    const before = await confirmedFlush(url, spec.config.source.slotName);
    await sql(url, 'insert into t values (1)');
    const full = writeSpec(url, { slotName: spec.config.source.slotName, publicationName: spec.config.source.publicationName }, '/dev/full', spec.dir);
    const result = await runCli(['run', '-c', full, '--stop-at', 'now']);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/error\[TARGET_FAILED\] cannot write to \/dev\/full: .*ENOSPC.*fix: check free disk space/);
    expect(await confirmedFlush(url, spec.config.source.slotName)).toBe(before);
  });
});

/** Writes a native spec (File target) and returns its path. */
function writeSpec(url: string, postgres: Record<string, unknown> = {}, targetPath?: string, dir = tempDir()): string {
  const file = path.join(dir, `spec-${Math.random().toString(36).slice(2)}.yaml`);
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: `bad-${Math.random().toString(36).slice(2, 8)}` },
    spec: {
      source: { type: 'Postgres', postgres: { url, snapshotMode: 'never', slotMaxRetries: 0, ...postgres } },
      target: { type: 'File', file: { path: targetPath ?? path.join(dir, 'out.ndjson') } },
      maxRetries: 0,
      stateDir: path.join(dir, 'state'),
    },
  };
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

async function confirmedFlush(url: string, slot: string): Promise<string> {
  const { rows } = await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot]);
  return rows[0].lsn;
}
