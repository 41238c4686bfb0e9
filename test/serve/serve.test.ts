/**
 * `pgcdc serve` end to end: the built CLI runs a directory of stream specs (File targets on two
 * databases of a real PostgreSQL) and is driven through its HTTP API. Both streams deliver; pause
 * really stops a stream (its slot goes inactive, its output stops growing while the other stream
 * delivers) and resume delivers the rest; specs added, changed and removed in the directory, and
 * created and deleted through the API, are picked up; an unreachable source is one failed stream
 * with one clear error while the other keeps delivering, and /readyz says so; SIGTERM exits 0 with
 * everything acknowledged and each output equal to its source. Then authentication and TLS.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine, runCli, startCli } from '../support/cli.js';
import { freePort } from '../support/expected-failures.js';
import { type Served, startServe } from '../support/serve-process.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents, tempDir } from '../support/stream-fixtures.js';



/** What the events of a File target's output leave: id → v. */
function rebuiltRows(file: string): Map<number, string> {
  const rows = new Map<number, string>();
  for (const event of readEvents(file)) {
    if (event.op === 'd') rows.delete(event.before.id);
    else if (event.after) rows.set(event.after.id, event.after.v);
  }
  return rows;
}

async function sourceRows(url: string): Promise<Map<number, string>> {
  const { rows } = await sql(url, 'select id, v from items order by id');
  return new Map(rows.map((row) => [row.id as number, row.v as string]));
}

const createdIds = (file: string): Set<number> => new Set(readEvents(file).filter((e) => e.op === 'c').map((e) => e.after.id as number));

describe('pgcdc serve', () => {
  const server = useTestServer();
  let urlA: string;
  let urlB: string;
  let outA: string;
  let outB: string;
  let streamsDir: string;
  let serve: Served;
  let nextId = 1;

  const api = async (route: string, init: RequestInit = {}): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${serve.origin}${route}`, init);
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
  const streamState = async (name: string): Promise<string | undefined> => (await api('/api/streams')).body.find((s: any) => s.name === name)?.state;
  const waitState = (name: string, state: string, timeoutMs = 30_000) =>
    waitFor(async () => ((await streamState(name)) === state ? true : undefined), timeoutMs, `${name} to be ${state}`);
  const insert = async (url: string, count: number): Promise<number[]> => {
    const ids = Array.from({ length: count }, () => nextId++);
    await sql(url, "insert into items select g, 'v' || g from unnest($1::int[]) g", [ids]);
    return ids;
  };
  const delivered = (file: string, ids: readonly number[], what: string) =>
    waitFor(() => (ids.every((id) => createdIds(file).has(id)) ? true : undefined), 30_000, what);
  const slotActive = async (url: string, slot: string): Promise<boolean> =>
    (await sql(url, 'select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true;

  /** Copies a fixture stream's spec into the served directory as `<file>`. */
  const addSpec = async (url: string, name: string, file: string, options: { maxRetries?: number } = {}) => {
    const stream = await fileStream({ url, name, source: { statusIntervalMs: 200 }, ...options });
    fs.copyFileSync(stream.specFile, path.join(streamsDir, file));
    return stream;
  };

  beforeAll(async () => {
    urlA = await createDatabase(server(), 'servea');
    urlB = await createDatabase(server(), 'serveb');
    for (const url of [urlA, urlB]) await sql(url, 'create table items (id int primary key, v text)');
    streamsDir = tempDir('pgcdc-serve-');
    outA = (await addSpec(urlA, 'alpha', 'alpha.yaml')).outFile;
    outB = (await addSpec(urlB, 'beta', 'beta.json')).outFile;
    serve = await startServe(streamsDir);
  }, 60_000);

  afterAll(async () => {
    if (serve && serve.program.child.exitCode === null) {
      serve.program.child.kill('SIGKILL');
      await serve.program.finished();
    }
  });

  it('runs every stream of the directory and shows each one', async () => {
    await waitState('alpha', 'running');
    await waitState('beta', 'running');
    await delivered(outA, await insert(urlA, 5), 'alpha to deliver');
    await delivered(outB, await insert(urlB, 5), 'beta to deliver');

    const { body: list } = await api('/api/streams');
    expect(list.map((s: any) => s.name)).toEqual(['alpha', 'beta']);
    expect(list[0]).toMatchObject({ state: 'running', target: 'File', source: { slot: expect.any(String), database: expect.stringContaining('servea') }, error: null, file: 'alpha.yaml' });
    const { status, body: detail } = await api('/api/streams/alpha');
    expect(status).toBe(200);
    expect(detail.tables).toEqual(['public.items']);
    expect(Array.isArray(detail.lastErrors)).toBe(true);
    expect(detail.stats).toBeTypeOf('object');
    expect((await api('/api/streams/alpha/history')).body).toHaveProperty('points');
    expect((await api('/readyz')).status).toBe(200);
    expect((await api('/api/streams/nope')).body).toEqual({ error_code: 404, message: 'no stream named nope' });
    const metrics = await fetch(`${serve.origin}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const page = await fetch(`${serve.origin}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${serve.origin}/vendor/uplot.iife.min.js`)).status).toBe(200);
  }, 60_000);

  it('pauses a stream (its output stops growing) and resumes it', async () => {
    const slot = (await api('/api/streams/alpha')).body.source.slot as string;
    const paused = await api('/api/streams/alpha/pause', { method: 'POST' });
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('paused');
    expect(await slotActive(urlA, slot)).toBe(false);

    const whilePaused = await insert(urlA, 5);
    // beta delivering rows inserted after alpha's shows time passed with alpha's slot readable.
    await delivered(outB, await insert(urlB, 3), 'beta to deliver while alpha is paused');
    await delivered(outB, await insert(urlB, 3), 'beta to deliver again');
    expect(whilePaused.some((id) => createdIds(outA).has(id))).toBe(false);
    expect(await streamState('alpha')).toBe('paused');

    const resumed = await api('/api/streams/alpha/resume', { method: 'POST' });
    expect(resumed.status).toBe(200);
    await waitState('alpha', 'running');
    await delivered(outA, whilePaused, 'alpha to deliver what was written while paused');
  }, 60_000);

  it('picks up specs added, changed and removed in the directory, and through the API', async () => {
    // Added.
    const gamma = await addSpec(urlA, 'gamma', 'gamma.yaml');
    await waitState('gamma', 'running');
    await delivered(gamma.outFile, await insert(urlA, 2), 'gamma to deliver');

    // Changed: the new spec writes elsewhere.
    const spec = JSON.parse(fs.readFileSync(path.join(streamsDir, 'gamma.yaml'), 'utf8'));
    const movedOut = path.join(gamma.dir, 'moved.ndjson');
    spec.spec.target.file.path = movedOut;
    fs.writeFileSync(path.join(streamsDir, 'gamma.yaml'), JSON.stringify(spec));
    const afterChange = await insert(urlA, 2);
    await delivered(movedOut, afterChange, 'gamma to write where its changed spec says');
    expect(afterChange.some((id) => createdIds(gamma.outFile).has(id))).toBe(false);

    // A second file with a name already taken.
    fs.copyFileSync(path.join(streamsDir, 'gamma.yaml'), path.join(streamsDir, 'gamma-copy.yaml'));
    await waitState('gamma-copy.yaml', 'failed');
    const duplicate = (await api('/api/streams/gamma-copy.yaml')).body;
    expect(duplicate.error.message).toBe('gamma-copy.yaml names its stream gamma, the name of the stream of gamma.yaml');
    fs.unlinkSync(path.join(streamsDir, 'gamma-copy.yaml'));

    // Removed: forgotten, its slot released.
    fs.unlinkSync(path.join(streamsDir, 'gamma.yaml'));
    await waitFor(async () => ((await streamState('gamma')) === undefined && (await streamState('gamma-copy.yaml')) === undefined ? true : undefined), 20_000, 'gamma to be gone');
    await waitFor(async () => ((await slotActive(urlA, spec.spec.source.postgres.slotName ?? 'gamma')) ? undefined : true), 20_000, 'gamma to release its slot');

    // Through the API: a bad spec is refused, a good one is written into the directory and runs.
    const bad = await api('/api/streams', { method: 'POST', body: 'apiVersion: pgcdc/v1\nkind: Stream\nmetadata: {name: delta}\nspec: {}\n' });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe(400);
    expect(bad.body.message).toContain('spec.source is missing');
    const delta = await fileStream({ url: urlB, name: 'delta', source: { statusIntervalMs: 200 } });
    const created = await api('/api/streams', { method: 'POST', body: fs.readFileSync(delta.specFile, 'utf8') });
    expect(created.status).toBe(201);
    expect(fs.existsSync(path.join(streamsDir, 'delta.yaml'))).toBe(true);
    expect((await api('/api/streams', { method: 'POST', body: fs.readFileSync(delta.specFile, 'utf8') })).status).toBe(409);
    await waitState('delta', 'running');
    await delivered(delta.outFile, await insert(urlB, 2), 'delta to deliver');
    expect((await api('/api/streams/delta', { method: 'DELETE' })).status).toBe(204);
    expect(fs.existsSync(path.join(streamsDir, 'delta.yaml'))).toBe(false);
    expect(await streamState('delta')).toBeUndefined();
  }, 90_000);

  it('shows a stream whose source is unreachable as failed while the others keep delivering', async () => {
    const port = await freePort();
    const broken = await fileStream({ url: `postgres://postgres@127.0.0.1:${port}/nowhere?connect_timeout=2`, name: 'broken', maxRetries: 0 });
    fs.copyFileSync(broken.specFile, path.join(streamsDir, 'broken.yaml'));
    await waitState('broken', 'failed');
    const { body } = await api('/api/streams/broken');
    expect(body.error).toMatchObject({ code: 'SOURCE_UNREACHABLE', at: expect.any(String) });
    expect(body.error.message).not.toContain('\n');
    expect(body.error.message).toContain(`127.0.0.1:${port}`);
    const ready = await api('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'not ready', states: { running: 2, failed: 1 } });
    await delivered(outB, await insert(urlB, 3), 'beta to deliver beside the failed stream');
    await delivered(outA, await insert(urlA, 3), 'alpha to deliver beside the failed stream');

    fs.unlinkSync(path.join(streamsDir, 'broken.yaml'));
    await waitFor(async () => ((await api('/readyz')).status === 200 ? true : undefined), 20_000, 'ready without the broken stream');
  }, 60_000);

  it('stops on SIGTERM with everything delivered and acknowledged (exit 0)', async () => {
    const lastPositions: Record<string, string> = {};
    for (const [name, url] of [['alpha', urlA], ['beta', urlB]] as const) {
      await sql(url, "update items set v = v || '-u' where id % 3 = 0");
      await sql(url, 'delete from items where id % 4 = 0');
      // A position inside the last transaction: the slot must be confirmed beyond it.
      const { rows } = await sql(url, "with i as (insert into items values (100000, 'last')) select pg_current_wal_lsn()::text as lsn");
      lastPositions[name] = rows[0].lsn;
    }
    // A graceful stop delivers what the stream received: wait until the last change reached it.
    await delivered(outA, [100000], 'alpha to deliver the last row');
    await delivered(outB, [100000], 'beta to deliver the last row');
    serve.program.child.kill('SIGTERM');
    const result = await serve.program.finished();
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('pgcdc serve stopped');

    for (const [name, url, out] of [['alpha', urlA, outA], ['beta', urlB, outB]] as const) {
      expect(rebuiltRows(out)).toEqual(await sourceRows(url));
      const { rows } = await sql(url, 'select confirmed_flush_lsn > $2::pg_lsn as past from pg_replication_slots where slot_name = $1', [
        (await sql(url, "select slot_name from pg_replication_slots where database = current_database()")).rows[0].slot_name,
        lastPositions[name],
      ]);
      expect(rows[0].past).toBe(true);
    }
  }, 60_000);
});

describe('pgcdc serve authentication and TLS', () => {
  const emptyDir = tempDir('pgcdc-serve-empty-');

  it('refuses to listen beyond the loopback without authentication', async () => {
    const port = await freePort();
    const result = await runCli(['serve', '--streams', emptyDir, '--listen', `0.0.0.0:${port}`], { PGCDC_SERVE_TOKEN: '' });
    expect(result.code).toBe(2);
    expect(errorLine(result)).toMatch(/^pgcdc: error\[CONFIG_INVALID\] refusing to listen on 0\.0\.0\.0:\d+ without authentication.*\(fix: give --token/);
  });

  it('with a token, answers 401 without it and 200 with it (healthz and readyz stay open)', async () => {
    const served = await startServe(emptyDir, [], { PGCDC_SERVE_TOKEN: 'sesame' });
    try {
      const denied = await fetch(`${served.origin}/api/streams`);
      expect(denied.status).toBe(401);
      expect(await denied.json()).toMatchObject({ error_code: 401 });
      expect((await fetch(`${served.origin}/api/streams`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${served.origin}/`)).status).toBe(401);
      const allowed = await fetch(`${served.origin}/api/streams`, { headers: { authorization: 'Bearer sesame' } });
      expect(allowed.status).toBe(200);
      expect(await allowed.json()).toEqual([]);
      // The page opened once with ?token= sets a cookie its files are fetched with.
      const page = await fetch(`${served.origin}/?token=sesame`);
      expect(page.status).toBe(200);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      expect((await fetch(`${served.origin}/dashboard/app.js`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${served.origin}/api/streams`, { headers: { cookie } })).status).toBe(401);
      expect((await fetch(`${served.origin}/healthz`)).status).toBe(200);
      // Probes need no secret.
      expect(await (await fetch(`${served.origin}/readyz`)).json()).toEqual({ status: 'ready', states: {} });
    } finally {
      served.program.child.kill('SIGTERM');
      expect((await served.program.finished()).code).toBe(0);
    }
  }, 60_000);

  it('serves HTTPS with a certificate and basic auth on every interface', async () => {
    const dir = tempDir('pgcdc-serve-tls-');
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const program = startCli(['serve', '--streams', emptyDir, '--listen', `0.0.0.0:${port}`, '--tls-cert', cert, '--tls-key', key], { PGCDC_SERVE_BASIC_AUTH: 'ops:secret' });
    const ca = fs.readFileSync(cert);
    const get = (route: string, auth?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = https.get({ host: '127.0.0.1', port, path: route, ca, headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        });
        request.on('error', reject);
      });
    try {
      await waitFor(async () => ((await get('/healthz')).status === 200 ? true : undefined), 30_000, 'HTTPS /healthz');
      expect((await get('/api/streams')).status).toBe(401);
      expect((await get('/api/streams', 'ops:wrong')).status).toBe(401);
      expect(await get('/api/streams', 'ops:secret')).toEqual({ status: 200, body: '[]' });
    } finally {
      program.child.kill('SIGTERM');
      expect((await program.finished()).code).toBe(0);
    }
  }, 60_000);
});
