/**
 * A stream's state lives with its slot, in the source database: the same spec run from two
 * directories continues instead of snapshotting again; a slot the state does not know stops the
 * run with what was found and the commands to go on; a state file of an older pgcdc is taken over;
 * teardown forgets the state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { readStreamState } from '../support/stream-state.js';
import { readEvents, tempDir } from '../support/stream-fixtures.js';

/** A native File-target spec in `dir`/stream.yaml without stateDir (the default). */
function writeSpec(dir: string, url: string, name: string, outFile: string, source: Record<string, unknown> = {}): string {
  const specFile = path.join(dir, 'stream.yaml');
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name },
    spec: { source: { type: 'Postgres', postgres: { url, snapshotMode: 'initial', statusIntervalMs: 100, ...source } }, target: { type: 'File', file: { path: outFile } }, maxRetries: 0 },
  };
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 2));
  return specFile;
}

const ops = (file: string) => readEvents(file).map((event) => `${event.op}${event.after?.id ?? event.before?.id}`);

describe('stream state', () => {
  const server = useTestServer();

  it('is found from any directory: the second run continues where the first stopped', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key); insert into items values (1), (2)');
    const home = tempDir();
    const elsewhere = tempDir();
    const outFile = path.join(home, 'out.ndjson');
    const specFile = writeSpec(home, url, 'wander', outFile);
    const first = await runCli(['run', '-c', 'stream.yaml', '--stop-at', 'now'], {}, 60_000, home);
    expect(first.code, first.stderr).toBe(0);
    await sql(url, 'insert into items values (3)');
    const second = await runCli(['run', '-c', path.relative(elsewhere, specFile), '--stop-at', 'now'], {}, 60_000, elsewhere);
    expect(second.code, second.stderr).toBe(0);
    expect(ops(outFile)).toStrictEqual(['r1', 'r2', 'c3']);
    const state = await readStreamState(url, 'pgcdc_wander');
    expect(state).toMatchObject({ initialSnapshotDone: true, slot: { name: 'pgcdc_wander' } });
    expect(fs.existsSync(path.join(home, '.pgcdc', 'wander', 'stream-state.json'))).toBe(false);

    const teardown = await runCli(['teardown', '-c', specFile], {}, 60_000, elsewhere);
    expect(teardown.code, teardown.stderr).toBe(0);
    expect(teardown.stdout).toContain('schema pgcdc: dropped (no other stream uses it)');
    expect(await readStreamState(url, 'pgcdc_wander')).toBeUndefined();
    expect((await sql(url, "select to_regnamespace('pgcdc') as schema")).rows[0].schema).toBeNull();
  });

  it('teardown keeps the pgcdc schema while another stream uses it, and says so', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const [one, two] = [tempDir(), tempDir()];
    const specs = [writeSpec(one, url, 'one', path.join(one, 'out.ndjson')), writeSpec(two, url, 'two', path.join(two, 'out.ndjson'))];
    for (const spec of specs) expect((await runCli(['run', '-c', spec, '--stop-at', 'now'])).code).toBe(0);
    expect((await runCli(['teardown', '-c', specs[0]!])).stdout).toContain('schema pgcdc: kept: used by stream two');
    expect((await runCli(['teardown', '-c', specs[1]!])).stdout).toContain('schema pgcdc: dropped');
  });

  it('stops on a slot it has no record of, and takes the snapshot once init adopted it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key); insert into items values (1)');
    await sql(url, "select pg_create_logical_replication_slot('foreign_slot', 'pgoutput')");
    const dir = tempDir();
    const outFile = path.join(dir, 'out.ndjson');
    const specFile = writeSpec(dir, url, 'adopt', outFile, { slotName: 'foreign_slot' });
    const refused = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(refused.code).toBe(1);
    expect(errorLine(refused)).toBe(
      'pgcdc: error[STATE_INVALID] replication slot "foreign_slot" exists, but pgcdc.stream_state on the source has no record of it, so whether this stream\'s snapshot was taken is unknown ' +
        '(fix: adopt the slot with "pgcdc init -c FILE" then run, to take the snapshot while streaming from it; or set snapshotMode: no_data to stream only; ' +
        'or run "pgcdc teardown -c FILE" (drops the slot) then run, to start afresh)',
    );
    expect(readEvents(outFile)).toStrictEqual([]);

    expect((await runCli(['init', '-c', specFile])).code).toBe(0);
    await sql(url, 'insert into items values (2)');
    const adopted = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(adopted.code, adopted.stderr).toBe(0);
    // The rows are read between watermarks while streaming from the adopted slot: each row once.
    expect(new Set(readEvents(outFile).map((event) => event.after.id))).toStrictEqual(new Set([1, 2]));
  });

  it('takes over the state file an older pgcdc left in the state directory', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key); insert into items values (1)');
    const dir = tempDir();
    const outFile = path.join(dir, 'out.ndjson');
    const specFile = writeSpec(dir, url, 'legacy', outFile);
    expect((await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 60_000, dir)).code).toBe(0);
    // What an older pgcdc kept: the state in .pgcdc/<name>/stream-state.json, nothing in the database.
    const state = await readStreamState(url, 'pgcdc_legacy');
    await sql(url, 'delete from pgcdc.stream_state');
    fs.mkdirSync(path.join(dir, '.pgcdc', 'legacy'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.pgcdc', 'legacy', 'stream-state.json'), JSON.stringify(state));
    await sql(url, 'insert into items values (2)');
    const resumed = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 60_000, dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(ops(outFile)).toStrictEqual(['r1', 'c2']);
    expect(await readStreamState(url, 'pgcdc_legacy')).toMatchObject({ initialSnapshotDone: true });
    expect(fs.readdirSync(path.join(dir, '.pgcdc', 'legacy'))).toContain('stream-state.json.taken-over');
  });
});
