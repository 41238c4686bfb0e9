/**
 * Grants of the PgLambda sandbox on real isolates and real HTTP servers (node:http on 127.0.0.1):
 * without grants nothing leaks out (no fetch, process, require, import); `env` shows the named
 * variables only; `allowNetwork` reaches the listed hosts only (a host not listed, or the same
 * server under another name, never sees a request; a redirect is not followed); a slow server hits
 * the event's time limit (retried, then dead-lettered); an end-to-end stream whose script POSTs
 * each change delivers every change once; a granted variable that is not set fails at start.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { hostAllowed, parseHostPattern, type HostPattern } from '../../src/targets/function/network-allow-list.js';
import type { SandboxGrantsConfig } from '../../src/targets/function/sandbox-grants.js';
import type { ScriptAnswer, ScriptOutcome } from '../../src/targets/function/script-outcome.js';
import { ScriptSandbox, type ScriptSandboxOptions } from '../../src/targets/function/script-sandbox.js';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { readEvents, targetStream, tempDir } from '../support/stream-fixtures.js';
import { INSERT } from './sandbox-events.js';

/** A request a test server received. */
interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A real HTTP server on 127.0.0.1 recording every request; `answer` decides the reply. */
interface RecordingServer {
  readonly port: number;
  readonly seen: SeenRequest[];
  answer: (request: SeenRequest, response: http.ServerResponse) => void;
  close(): Promise<void>;
}

async function recordingServer(): Promise<RecordingServer> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const seenRequest = { method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(seenRequest);
      recorder.answer(seenRequest, response);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const recorder: RecordingServer = {
    port: (server.address() as AddressInfo).port,
    seen,
    answer: (_request, response) => response.end('OK'),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return recorder;
}

function pattern(entry: string): HostPattern {
  const parsed = parseHostPattern(entry);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

function network(hosts: string[], requestTimeoutMs?: number): SandboxGrantsConfig {
  return { allowNetwork: { hosts: hosts.map(pattern), requestTimeoutMs } };
}

const opened: ScriptSandbox[] = [];
afterEach(() => {
  for (const sandbox of opened.splice(0)) sandbox.close();
});

function open(script: string, options: Partial<ScriptSandboxOptions> = {}): ScriptSandbox {
  const sandbox = ScriptSandbox.open({ script, origin: 'spec.target.pgLambda.script', ...options });
  opened.push(sandbox);
  return sandbox;
}

function answer(outcome: ScriptOutcome): ScriptAnswer {
  if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.error.toLine()}`);
  return outcome;
}

async function bodyOf(script: string, options: Partial<ScriptSandboxOptions> = {}): Promise<any> {
  return JSON.parse(answer(await open(script, options).invoke(INSERT)).body);
}

/** Tries the usual ways out of a sandbox and reports what each gave. */
const ESCAPES = `
  const tried = {};
  const attempt = async (name, fn) => { try { const value = await fn(); tried[name] = typeof value; } catch (error) { tried[name] = 'threw ' + error.name; } };
  await attempt('constructor', () => this.constructor.constructor('return process')());
  await attempt('functionProcess', () => Function('return process')());
  await attempt('asyncConstructor', () => (async () => {}).constructor('return process')());
  await attempt('import', () => import('node:fs'));
  await attempt('require', () => require('fs'));
  await attempt('globalProcess', () => globalThis.process.env);
  const globals = Object.getOwnPropertyNames(globalThis).filter((name) => /process|require|module|fs|env|fetch|import|headers/i.test(name));
`;

describe('without grants', () => {
  it('offers no fetch, process or require, and every usual escape fails', async () => {
    const seen = await bodyOf(`${ESCAPES}
      response.end(JSON.stringify({ fetch: typeof fetch, process: typeof process, require: typeof require, Headers: typeof Headers, tried, globals }));`);
    expect(seen).toEqual({
      fetch: 'undefined',
      process: 'undefined',
      require: 'undefined',
      Headers: 'undefined',
      tried: {
        constructor: 'threw ReferenceError',
        functionProcess: 'threw ReferenceError',
        asyncConstructor: 'threw ReferenceError',
        import: expect.stringMatching(/^threw /),
        require: 'threw ReferenceError',
        globalProcess: 'threw TypeError',
      },
      globals: [],
    });
  });

  it('an empty grants object grants nothing', async () => {
    const seen = await bodyOf("response.end(JSON.stringify([typeof fetch, typeof process]));", { grants: {} });
    expect(seen).toEqual(['undefined', 'undefined']);
  });
});

describe('env grant', () => {
  it('shows the named variables in process.env, and nothing else of the environment, nor a way out', async () => {
    expect(process.env.PATH).toBeDefined();
    const seen = await bodyOf(`${ESCAPES}
      response.end(JSON.stringify({ env: process.env, keys: Object.keys(process).sort(), path: process.env.PATH, fetch: typeof fetch, tried }));`, {
      grants: { env: { API_TOKEN: 'secret-token', EMPTY: '' } },
    });
    expect(seen).toEqual({
      env: { API_TOKEN: 'secret-token', EMPTY: '' },
      keys: ['env'],
      fetch: 'undefined',
      tried: {
        constructor: 'object',
        functionProcess: 'object',
        asyncConstructor: 'object',
        import: expect.stringMatching(/^threw /),
        require: 'threw ReferenceError',
        globalProcess: 'object',
      },
    });
  });
});

describe('network grant', () => {
  let allowed: RecordingServer;
  let other: RecordingServer;
  beforeAll(async () => {
    allowed = await recordingServer();
    other = await recordingServer();
  });
  afterAll(async () => {
    await allowed.close();
    await other.close();
  });
  afterEach(() => {
    allowed.seen.length = 0;
    other.seen.length = 0;
    allowed.answer = (_request, response) => response.end('OK');
  });

  it('reaches an allowed host, and the script answers with what it got', async () => {
    allowed.answer = (request, response) => {
      response.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'r-7' });
      response.end(JSON.stringify({ received: JSON.parse(request.body).id, method: request.method }));
    };
    const script = `
      const reply = await fetch('http://127.0.0.1:${allowed.port}/changes?table=' + event.data.source.table, {
        method: 'post',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t0ken' },
        body: JSON.stringify({ id: event.data.after.id, name: event.data.after.name }),
      });
      const data = await reply.json();
      response.end(JSON.stringify({ status: reply.status, ok: reply.ok, statusText: reply.statusText, requestId: reply.headers.get('X-Request-Id'), data }));`;
    const seen = await bodyOf(script, { grants: network([`127.0.0.1:${allowed.port}`]) });
    expect(allowed.seen).toHaveLength(1);
    const [request] = allowed.seen;
    expect(request).toMatchObject({ method: 'POST', url: '/changes?table=customers', body: '{"id":1,"name":"Ada"}' });
    expect(request!.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer t0ken' });
    expect(seen).toEqual({ status: 201, ok: true, statusText: 'Created', requestId: 'r-7', data: { received: 1, method: 'POST' } });
  });

  it('refuses a host not in the list, and the same server under a name not in the list; neither sees a request', async () => {
    const script = `
      const results = [];
      for (const url of ['http://127.0.0.1:${other.port}/', 'http://localhost:${allowed.port}/', 'ftp://127.0.0.1:${allowed.port}/', '/relative']) {
        try { const reply = await fetch(url); results.push('reached ' + reply.status); } catch (error) { results.push(error.name + ': ' + error.message); }
      }
      response.end(JSON.stringify(results));`;
    const seen = await bodyOf(script, { grants: network([`127.0.0.1:${allowed.port}`]) });
    expect(seen).toEqual([
      `TypeError: fetch refused: 127.0.0.1:${other.port} is not in spec.target.pgLambda.grants.allowNetwork.hosts (127.0.0.1:${allowed.port})`,
      `TypeError: fetch refused: localhost:${allowed.port} is not in spec.target.pgLambda.grants.allowNetwork.hosts (127.0.0.1:${allowed.port})`,
      `TypeError: fetch refused: ftp://127.0.0.1:${allowed.port}/ is not an http: or https: URL`,
      'TypeError: fetch refused: "/relative" is not an absolute URL',
    ]);
    expect(other.seen).toEqual([]);
    expect(allowed.seen).toEqual([]);
  });

  it('does not follow a redirect to a host not in the list: the script gets the 3xx', async () => {
    allowed.answer = (_request, response) => {
      response.writeHead(302, { location: `http://127.0.0.1:${other.port}/steal` });
      response.end();
    };
    const seen = await bodyOf(
      `const reply = await fetch('http://127.0.0.1:${allowed.port}/start');
       response.end(JSON.stringify({ status: reply.status, location: reply.headers.get('location'), redirected: reply.redirected }));`,
      { grants: network([`127.0.0.1:${allowed.port}`]) },
    );
    expect(seen).toEqual({ status: 302, location: `http://127.0.0.1:${other.port}/steal`, redirected: false });
    expect(allowed.seen.map((request) => request.url)).toEqual(['/start']);
    expect(other.seen).toEqual([]);
  });

  it('a host without port allows every port of it; a refused header is a TypeError', async () => {
    const seen = await bodyOf(
      `const a = await fetch('http://127.0.0.1:${allowed.port}/a');
       const b = await fetch('http://127.0.0.1:${other.port}/b');
       let header;
       try { await fetch('http://127.0.0.1:${allowed.port}/c', { headers: { Host: 'elsewhere.example' } }); } catch (error) { header = error.message; }
       response.end(JSON.stringify([await a.text(), await b.text(), header]));`,
      { grants: network(['127.0.0.1']) },
    );
    expect(seen).toEqual(['OK', 'OK', 'fetch refused: the host header cannot be set by the script']);
    expect(allowed.seen.map((request) => request.url)).toEqual(['/a']);
    expect(other.seen.map((request) => request.url)).toEqual(['/b']);
  });

  it('sends a byte body as it is; a request the script tampered with is refused by the host', async () => {
    allowed.answer = (request, response) => response.end(request.body);
    const seen = await bodyOf(
      `const bytes = await (await fetch('http://127.0.0.1:${allowed.port}/bytes', { method: 'PUT', body: new Uint8Array([104, 105, 33]) })).text();
       Array.from = () => [[42, { value: 'not a string' }]];
       let tampered;
       try { await fetch('http://127.0.0.1:${allowed.port}/tampered', { headers: { a: 'b' } }); tampered = 'sent'; } catch (error) { tampered = error.message; }
       response.end(JSON.stringify([bytes, tampered]));`,
      { grants: network([`127.0.0.1:${allowed.port}`]) },
    );
    expect(seen).toEqual(['hi!', 'fetch refused: the request is malformed (url, method and header values must be strings)']);
    expect(allowed.seen.map((request) => [request.method, request.url])).toEqual([['PUT', '/bytes']]);
  });

  it('a slow server makes the invocation exceed its time limit; the sandbox goes on with the next event', async () => {
    allowed.answer = (request, response) => {
      if (request.url === '/slow') return; // never answers; the server's close ends the socket
      response.end('fast');
    };
    const sandbox = open(`const reply = await fetch('http://127.0.0.1:${allowed.port}/' + event.data.after.name); response.end(await reply.text());`, {
      grants: network([`127.0.0.1:${allowed.port}`]),
      timeoutMs: 1000,
    });
    const slow = await sandbox.invoke({ ...INSERT, data: { after: { name: 'slow' }, source: {} } });
    expect(slow).toMatchObject({ kind: 'failure', reason: 'timeout' });
    if (slow.kind !== 'failure') throw new Error('expected a failure');
    expect(slow.error.message).toBe('the PgLambda script ran longer than its time limit of 1000 ms and was stopped');
    expect(slow.error.hint).toContain('fetches included');
    expect(answer(await sandbox.invoke({ ...INSERT, data: { after: { name: 'fast' }, source: {} } })).body).toBe('fast');
    expect(sandbox.replacements).toBe(1);
    expect(allowed.seen.map((request) => request.url)).toEqual(['/slow', '/fast']);
  });

  it("allowNetwork.timeoutMs rejects a slow request with a TimeoutError the script can catch", async () => {
    allowed.answer = () => undefined;
    const seen = await bodyOf(
      `try { await fetch('http://127.0.0.1:${allowed.port}/slow'); response.end('"reached"'); }
       catch (error) { response.statusCode = 503; response.end(JSON.stringify(error.name + ': ' + error.message)); }`,
      { grants: network([`127.0.0.1:${allowed.port}`], 100), timeoutMs: 30_000 },
    );
    expect(seen).toBe(`TimeoutError: fetch http://127.0.0.1:${allowed.port}/slow timed out after 100 ms`);
  });

  it('runs invocations one after the other, each to its end, in the order they were asked for', async () => {
    allowed.answer = (request, response) => response.end(request.url);
    const sandbox = open(
      `const first = await (await fetch('http://127.0.0.1:${allowed.port}/' + event.id + '/1')).text();
       const second = await (await fetch('http://127.0.0.1:${allowed.port}/' + event.id + '/2')).text();
       response.end(first + ' ' + second);`,
      { grants: network([`127.0.0.1:${allowed.port}`]) },
    );
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => sandbox.invoke({ ...INSERT, id })));
    expect(outcomes.map((outcome) => answer(outcome).body)).toEqual(['/a/1 /a/2', '/b/1 /b/2', '/c/1 /c/2']);
    expect(allowed.seen.map((request) => request.url)).toEqual(['/a/1', '/a/2', '/b/1', '/b/2', '/c/1', '/c/2']);
  });
});

describe('host allow-list entries', () => {
  it.each([
    ['api.example.com', 'https://api.example.com/x', true],
    ['api.example.com', 'http://api.example.com:8080/x', true],
    ['api.example.com', 'https://API.Example.com/', true],
    ['api.example.com', 'https://evil-api.example.com/', false],
    ['api.example.com', 'https://api.example.com.evil.net/', false],
    ['api.example.com:8443', 'https://api.example.com:8443/', true],
    ['api.example.com:8443', 'https://api.example.com/', false],
    ['api.example.com:443', 'https://api.example.com/', true],
    ['*.example.com', 'https://a.b.example.com/', true],
    ['*.example.com', 'https://example.com/', false],
    ['*.example.com', 'https://notexample.com/', false],
    ['[::1]:8080', 'http://[::1]:8080/', true],
    ['127.0.0.1', 'http://localhost/', false],
  ])('%s allows %s: %s', (entry, url, allowedUrl) => {
    expect(hostAllowed([pattern(entry)], new URL(url))).toBe(allowedUrl);
  });

  it.each([
    ['https://api.example.com', /has a scheme, path or user/],
    ['api.example.com/path', /has a scheme, path or user/],
    ['a.*.example.com', /wildcard only as a whole first label/],
    ['*.com', /wildcard before a domain of at least two labels/],
    ['api.example.com:99999', /port is out of range/],
  ])('rejects %s', (entry, message) => {
    expect(parseHostPattern(entry)).toMatch(message);
  });
});

describe('grants in a PgLambda stream', () => {
  const server = useTestServer();
  let receiver: RecordingServer;
  beforeAll(async () => {
    receiver = await recordingServer();
  });
  afterAll(async () => {
    await receiver.close();
  });
  afterEach(() => {
    receiver.seen.length = 0;
    receiver.answer = (_request, response) => response.end('OK');
  });

  let counter = 0;
  async function grantedStream(url: string, script: string, pgLambda: Record<string, unknown>) {
    const dir = tempDir('pgcdc-grants-');
    const target = { type: 'PgLambda', pgLambda: { script, knative: { http: { retryBackoffDelay: 0 } }, ...pgLambda } };
    return targetStream({ url, name: `grants${process.pid}x${++counter}`, dir, target });
  }

  const POSTING_SCRIPT = `
    const reply = await fetch(process.env.PGCDC_TEST_RECEIVER + '/changes', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lsn': String(event.data.source.lsn) },
      body: JSON.stringify({ op: event.data.op, before: event.data.before, after: event.data.after }),
    });
    if (!reply.ok) throw new Error('receiver answered ' + reply.status);
    response.end();`;

  it('a script POSTing each change to an allowed server delivers every change once, in commit order', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, n int, note text)');
    process.env.PGCDC_TEST_RECEIVER = `http://127.0.0.1:${receiver.port}`;
    const { config } = await grantedStream(url, POSTING_SCRIPT, { grants: { allowNetwork: { hosts: [`127.0.0.1:${receiver.port}`] }, env: ['PGCDC_TEST_RECEIVER'] } });
    expect(config.target).toMatchObject({ grants: { env: { PGCDC_TEST_RECEIVER: `http://127.0.0.1:${receiver.port}` } } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const statements = [
      "insert into items select g, g * 10, 'row ' || g from generate_series(1, 40) g",
      'update items set n = n + 1 where id % 3 = 0',
      'delete from items where id % 7 = 0',
      "begin; insert into items values (41, 0, 'late'); update items set note = 'changed' where id = 1; commit",
    ];
    for (const statement of statements) await sql(url, statement);
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    const changes = receiver.seen.map((request) => JSON.parse(request.body));
    // Each change once, statement after statement (rows of one statement come in the table's
    // physical order, so each statement's are compared sorted), the last transaction in its order.
    const seen = changes.map((change): [string, number] => [change.op, (change.after ?? change.before).id]);
    const byId = (rows: [string, number][]) => [...rows].sort((a, b) => a[1] - b[1]);
    expect(seen).toHaveLength(40 + 13 + 5 + 2);
    expect(byId(seen.slice(0, 40))).toEqual(Array.from({ length: 40 }, (_, index) => ['c', index + 1]));
    expect(byId(seen.slice(40, 53))).toEqual(Array.from({ length: 13 }, (_, index) => ['u', (index + 1) * 3]));
    expect(byId(seen.slice(53, 58))).toEqual(Array.from({ length: 5 }, (_, index) => ['d', (index + 1) * 7]));
    expect(seen.slice(58)).toEqual([
      ['c', 41],
      ['u', 1],
    ]);
    // Replaying what the receiver got gives the source's rows (the source's own to_jsonb()).
    const replayed = new Map<number, unknown>();
    for (const change of changes) {
      if (change.op === 'd') replayed.delete(change.before.id);
      else replayed.set(change.after.id, change.after);
    }
    const { rows } = await sql(url, 'select to_jsonb(items) as row from items order by id');
    expect([...replayed.entries()].sort(([a], [b]) => a - b).map(([, row]) => row)).toEqual(rows.map((row: { row: unknown }) => row.row));
    expect(receiver.seen.every((request) => request.method === 'POST' && request.url === '/changes')).toBe(true);
  });

  it('a slow server makes the event exceed its time limit: retried, then dead-lettered', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, n int, note text)');
    receiver.answer = (request, response) => {
      if (JSON.parse(request.body).after?.note === 'slow') return; // never answers
      response.end('OK');
    };
    process.env.PGCDC_TEST_RECEIVER = `http://127.0.0.1:${receiver.port}`;
    const { config } = await grantedStream(url, POSTING_SCRIPT, {
      timeoutMs: 1000,
      knative: { http: { retryLimit: 1, retryBackoffDelay: 0 } },
      grants: { allowNetwork: { hosts: [`127.0.0.1:${receiver.port}`] }, env: ['PGCDC_TEST_RECEIVER'] },
    });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, "insert into items values (1, 0, 'ok'), (2, 0, 'slow'), (3, 0, 'ok')");
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    expect(receiver.seen.map((request) => JSON.parse(request.body).after.id)).toEqual([1, 2, 2, 3]);
    const letters = readEvents(path.join(config.stateDir, 'dead-letters.ndjson'));
    expect(letters.map((letter) => [letter.event.data.after.id, letter.attempts, letter.error])).toEqual([
      [2, 2, 'the PgLambda script ran longer than its time limit of 1000 ms and was stopped'],
    ]);
  });

  it('a granted variable missing from the environment is a configuration error at start', async () => {
    delete process.env.PGCDC_TEST_NOT_SET;
    const spec = {
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name: 'grants-missing' },
      spec: {
        source: { type: 'Postgres', postgres: { url: 'postgres://postgres@127.0.0.1:1/db' } },
        target: { type: 'PgLambda', pgLambda: { script: 'response.end();', grants: { env: ['PGCDC_TEST_NOT_SET'] } } },
      },
    };
    const error = await parseStreamConfig(JSON.stringify(spec), { fileName: 'grants.yaml', cwd: tempDir() }).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).code).toBe('CONFIG_INVALID');
    expect((error as PgcdcError).message).toContain("spec.target.pgLambda.grants.env[0] is PGCDC_TEST_NOT_SET, which is not set in pgcdc's environment");
  });

  it('an SGStream document takes the same grants in its pgLambda section', async () => {
    process.env.PGCDC_TEST_TOKEN = 'sg-token';
    const document = [
      'apiVersion: stackgres.io/v1alpha1',
      'kind: SGStream',
      'metadata:',
      '  name: lambda-stream',
      'spec:',
      '  source:',
      '    type: Postgres',
      '    postgres: {host: db.example.com, database: shop}',
      '  target:',
      '    type: PgLambda',
      '    pgLambda:',
      '      script: response.end();',
      '      grants:',
      '        allowNetwork: {hosts: ["*.example.com:443"], timeoutMs: 2000}',
      '        env: [PGCDC_TEST_TOKEN]',
      '',
    ].join('\n');
    const config = await parseStreamConfig(document, { fileName: 'sg.yaml', cwd: tempDir() });
    expect(config.target).toMatchObject({
      type: 'PgLambda',
      grants: { allowNetwork: { hosts: [{ text: '*.example.com:443', host: 'example.com', wildcard: true, port: 443 }], requestTimeoutMs: 2000 }, env: { PGCDC_TEST_TOKEN: 'sg-token' } },
    });
    const bad = await parseStreamConfig(document.replace('"*.example.com:443"', '"https://api.example.com"'), { fileName: 'sg.yaml', cwd: tempDir() }).then(
      () => undefined,
      (rejection: unknown) => rejection as PgcdcError,
    );
    expect(bad?.message).toBe(
      'sg.yaml:14: spec.target.pgLambda.grants.allowNetwork.hosts[0] is "https://api.example.com", which has a scheme, path or user; expected a host name, host:port or *.domain',
    );
  });

  it('pgcdc validate and run say so in one line, before touching the source', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const dir = tempDir('pgcdc-grants-cli-');
    process.env.PGCDC_TEST_RECEIVER = 'http://127.0.0.1:1'; // set here, not in the CLI's environment
    const { specFile, config } = await targetStream({
      url,
      name: `grantscli${process.pid}`,
      dir,
      target: { type: 'PgLambda', pgLambda: { script: 'response.end();', grants: { env: ['PGCDC_TEST_RECEIVER'] } } },
    });
    const line = fs.readFileSync(specFile, 'utf8').split('\n').findIndex((text) => text.includes('"PGCDC_TEST_RECEIVER"')) + 1;
    for (const command of ['validate', 'run']) {
      const result = await runCli([command, '-c', specFile], { PGCDC_TEST_RECEIVER: undefined });
      expect(result.code).toBe(2);
      expect(errorLine(result)).toBe(
        `pgcdc: error[CONFIG_INVALID] ${specFile}:${line}: spec.target.pgLambda.grants.env[0] is PGCDC_TEST_RECEIVER, which is not set in pgcdc's environment; expected every granted variable to be set when pgcdc starts (fix: set PGCDC_TEST_RECEIVER in the environment pgcdc starts in, or remove it from spec.target.pgLambda.grants.env)`,
      );
    }
    const { rows } = await sql(url, 'select count(*)::int as slots from pg_replication_slots where slot_name = $1', [config.source.slotName]);
    expect(rows[0].slots).toBe(0);
  });
});
