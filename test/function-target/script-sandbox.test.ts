/**
 * The PgLambda script sandbox on real isolates: compile errors with their position, limits (time,
 * memory) that stop a script and leave the sandbox working, no way out to the host, console
 * forwarding, asynchronous scripts, and the response and request objects scripts use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { type ScriptAnswer, type ScriptOutcome, outcomeError } from '../../src/targets/function/script-outcome.js';
import { type ConsoleLevel, ScriptSandbox, type ScriptSandboxOptions } from '../../src/targets/function/script-sandbox.js';
import { DELETE, INSERT, UPDATE } from './sandbox-events.js';

const opened: ScriptSandbox[] = [];
afterEach(() => {
  for (const sandbox of opened.splice(0)) sandbox.close();
});

function open(script: string, options: Partial<ScriptSandboxOptions> = {}): ScriptSandbox {
  const sandbox = ScriptSandbox.open({ script, origin: 'spec.target.pgLambda.script', ...options });
  opened.push(sandbox);
  return sandbox;
}

function compileError(script: string): PgcdcError {
  try {
    open(script);
  } catch (error) {
    expect(error).toBeInstanceOf(PgcdcError);
    return error as PgcdcError;
  }
  throw new Error('the script compiled');
}

function answer(outcome: ScriptOutcome): ScriptAnswer {
  if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.error.toLine()}`);
  return outcome;
}

/** The answer's body: what the script wrote. */
async function bodyOf(script: string, event: Record<string, unknown> | string = INSERT): Promise<string> {
  return answer(await open(script).invoke(event)).body;
}

describe('compiling', () => {
  it('rejects a syntax error at start with its line and column', () => {
    const error = compileError("const data = event.data;\nconst op = ;\nresponse.end('OK');");
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe("the PgLambda script (spec.target.pgLambda.script) does not compile: line 2, column 12: Unexpected token ';'");
    expect(error.hint).toContain('at line 2');
  });

  it('tells an unclosed block as the end of the script', () => {
    const error = compileError("if (event.data.op === 'c') {\n  response.end('OK');");
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/^the PgLambda script \(spec\.target\.pgLambda\.script\) does not compile: at the end \(line 2\): /);
  });

  it('rejects a script that closes the function it runs in', () => {
    const error = compileError("response.end('OK'); }); (function () {");
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('does not compile as a function body');
  });

  it('rejects limits out of range', () => {
    expect(() => open('', { memoryLimitMb: 4 })).toThrow(/memory limit is 4 MB/);
    expect(() => open('', { timeoutMs: 0 })).toThrow(/time limit is 0 ms/);
  });
});

describe('limits', () => {
  it('stops a script that loops forever at its time limit, and runs the next event on a fresh isolate', async () => {
    const sandbox = open("if (event.data.op === 'd') { for (;;) {} }\nresponse.end(event.data.op);", { timeoutMs: 200 });
    const stopped = await sandbox.invoke(DELETE);
    expect(stopped).toMatchObject({ kind: 'failure', ok: false, reason: 'timeout' });
    expect(outcomeError(stopped)?.toLine()).toBe(
      'the PgLambda script ran longer than its time limit of 200 ms and was stopped (fix: make the script finish sooner (no endless loop or interval, response.end() on every path), or raise timeoutMs)',
    );
    expect(sandbox.replacements).toBe(1);
    expect(answer(await sandbox.invoke(INSERT)).body).toBe('c');
  });

  it('stops an interval that is never cleared at the time limit', async () => {
    const sandbox = open('setInterval(() => {}, 10);', { timeoutMs: 200 });
    expect(await sandbox.invoke(INSERT)).toMatchObject({ kind: 'failure', reason: 'timeout' });
  });

  it('stops a script that exceeds its memory limit, and runs the next event', async () => {
    const sandbox = open(
      "if (event.data.op === 'c') { const hoard = []; for (;;) hoard.push('x'.repeat(1024) + hoard.length); }\nresponse.end('fine');",
      { memoryLimitMb: 16, timeoutMs: 30_000 },
    );
    const stopped = await sandbox.invoke(INSERT);
    expect(stopped).toMatchObject({ kind: 'failure', reason: 'memory' });
    expect(outcomeError(stopped)?.message).toBe('the PgLambda script used more than its memory limit of 16 MB and was stopped');
    expect(answer(await sandbox.invoke(UPDATE)).body).toBe('fine');
  });
});

describe('isolation', () => {
  it.each([
    ['process', 'typeof process'],
    ['require', 'typeof require'],
    ['module', 'typeof module'],
    ['Buffer', 'typeof Buffer'],
    ['fetch', 'typeof fetch'],
    ['XMLHttpRequest', 'typeof XMLHttpRequest'],
    ['WebSocket', 'typeof WebSocket'],
    ['axios', 'typeof axios'],
  ])('offers no %s', async (_name, expression) => {
    expect(await bodyOf(`response.end(${expression});`)).toBe('undefined');
  });

  it('cannot reach the file system or the environment through any global', async () => {
    const body = await bodyOf(`
      const found = Object.getOwnPropertyNames(globalThis).filter((name) => /process|require|module|fs|env|fetch|import/i.test(name));
      let dynamicImport;
      try { await import('node:fs'); dynamicImport = 'loaded'; } catch (error) { dynamicImport = error.constructor.name; }
      response.end(JSON.stringify({ found, dynamicImport }));`);
    expect(JSON.parse(body)).toEqual({ found: [], dynamicImport: expect.not.stringMatching(/^loaded$/) });
  });

  it('fails a script that uses what the sandbox does not offer, naming the line', async () => {
    const outcome = await open("const fs = require('fs');\nresponse.end(fs.readFileSync('/etc/passwd', 'utf8'));").invoke(INSERT);
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'threw' });
    expect(outcomeError(outcome)?.message).toBe('the PgLambda script threw ReferenceError: require is not defined at line 1, column 12');
  });
});

describe('console', () => {
  it('forwards each console line with its level, formatted like Node.js', async () => {
    const lines: [ConsoleLevel, string][] = [];
    const sandbox = open(
      `console.log('Received change:', JSON.stringify(event.data.after));
       console.info('after', event.data.after, 'count %d of %s', 3, 'x');
       console.warn('%s has %i rows %j', 'customers', 42.5, { a: [1] });
       console.error(new TypeError('bad row'));
       console.debug([1, 'two', null, undefined, { deep: { deeper: { deepest: { bottom: 1 } } } }]);
       response.end();`,
      { onConsole: (level, message) => lines.push([level, message]) },
    );
    answer(await sandbox.invoke(INSERT));
    expect(lines).toEqual([
      ['log', 'Received change: {"id":1,"name":"Ada","tags":["vip"]}'],
      ['info', "after { id: 1, name: 'Ada', tags: [ 'vip' ] } count %d of %s 3 x"],
      ['warn', 'customers has 42 rows {"a":[1]}'],
      ['error', expect.stringMatching(/^TypeError: bad row\n\s+at .*pglambda\.js:4:/)],
      ['debug', "[ 1, 'two', null, undefined, { deep: { deeper: [Object] } } ]"],
    ]);
  });

  it('sends the lines of one event to the sink given for it', async () => {
    const general: string[] = [];
    const forEvent: string[] = [];
    const sandbox = open("console.log(event.id); response.end('OK');", { onConsole: (_level, line) => general.push(line) });
    await sandbox.invoke({ ...INSERT, id: 'first' }, { onConsole: (_level, line) => forEvent.push(line) });
    await sandbox.invoke({ ...INSERT, id: 'second' });
    expect(forEvent).toEqual(['first']);
    expect(general).toEqual(['second']);
  });

  it('logs what a script throws after it has answered, and keeps the answer', async () => {
    const lines: string[] = [];
    const sandbox = open("response.end('done');\nnull.oops;", { onConsole: (_level, line) => lines.push(line) });
    expect(answer(await sandbox.invoke(INSERT)).body).toBe('done');
    expect(lines).toEqual([expect.stringMatching(/^after response\.end\(\): TypeError: Cannot read properties of null/)]);
  });
});

describe('asynchronous scripts', () => {
  it('awaits a script that answers after awaiting', async () => {
    expect(await bodyOf("const op = await Promise.resolve(event.data.op);\nresponse.end('op ' + op);")).toBe('op c');
  });

  it('waits for response.end called from a timer, in the order of the delays', async () => {
    const body = await bodyOf(`
      const order = [];
      setTimeout(() => { order.push('late'); response.end(order.join(',')); }, 1000);
      setTimeout(() => order.push('early'), 10);
      const cancelled = setTimeout(() => order.push('cancelled'), 20);
      clearTimeout(cancelled);
      setImmediate(() => order.push('immediate'));
      queueMicrotask(() => order.push('microtask'));`);
    expect(body).toBe('microtask,immediate,early,late');
  });

  it('answers 200 with what was written when the script returns without response.end', async () => {
    const outcome = answer(await open("response.setHeader('X-Op', event.data.op);\nresponse.write('partial');\nreturn;").invoke(UPDATE));
    expect(outcome).toEqual({ kind: 'answer', ok: true, status: 200, statusMessage: 'OK', headers: { 'x-op': 'u' }, body: 'partial', ended: false });
  });

  it('fails a script whose promise rejects, naming the line', async () => {
    const outcome = await open("await null;\nthrow new Error('cannot handle ' + event.data.op);").invoke(DELETE);
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'threw' });
    expect(outcomeError(outcome)?.message).toBe('the PgLambda script threw Error: cannot handle d at line 2, column 7');
  });

  it('fails a script that throws from a timer', async () => {
    const outcome = await open("setTimeout(() => { throw new RangeError('late failure'); }, 5);").invoke(INSERT);
    expect(outcomeError(outcome)?.message).toBe('the PgLambda script threw RangeError: late failure at line 1, column 26');
  });

  it('fails at once a script that waits for a promise nothing can settle', async () => {
    const outcome = await open('await new Promise(() => {});').invoke(INSERT);
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'stalled' });
    expect(outcomeError(outcome)?.hint).toBe('call response.end() on every path, and await only promises the script itself settles');
  });

  it('runs events one after the other when invoked together', async () => {
    const sandbox = open("globalThis.seen = (globalThis.seen || 0) + 1;\nawait null;\nresponse.end(event.id + '#' + seen);");
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => sandbox.invoke({ ...INSERT, id })));
    expect(outcomes.map((outcome) => answer(outcome).body)).toEqual(['a#1', 'b#2', 'c#3']);
  });
});

describe('the objects a script sees', () => {
  it('gives the CloudEvent, frozen, with the Debezium change as data', async () => {
    const body = await bodyOf(`
      'use strict';
      let assigned;
      try { event.id = 'changed'; assigned = 'yes'; } catch (error) { assigned = error.constructor.name; }
      response.end(JSON.stringify({ id: event.id, type: event.type, op: event.data.op, table: event.data.source.table, after: event.data.after, assigned, json: JSON.parse(event.toString()).id }));`);
    expect(JSON.parse(body)).toEqual({ id: 'lambda-stream:24512064', type: 'io.debezium.postgresql.datachangeevent', op: 'c', table: 'customers', after: { id: 1, name: 'Ada', tags: ['vip'] }, assigned: 'TypeError', json: 'lambda-stream:24512064' });
  });

  it('takes the event as JSON text', async () => {
    expect(await bodyOf("response.end(event.data.after.name);", JSON.stringify(INSERT))).toBe('Ada');
  });

  it('gives the request that would carry the event', async () => {
    const body = await bodyOf("response.end(JSON.stringify({ method: request.method, type: request.headers['ce-type'], contentType: request.get('Content-Type'), body: JSON.parse(request.body).id }));");
    expect(JSON.parse(body)).toEqual({ method: 'POST', type: 'io.debezium.postgresql.datachangeevent', contentType: 'application/cloudevents+json; charset=utf-8', body: 'lambda-stream:24512064' });
  });

  it("collects Node's writeHead, setHeader, write and end", async () => {
    const outcome = answer(await open("response.setHeader('X-Seen', ['a', 'b']);\nresponse.writeHead(202, 'Taken', { 'Content-Type': 'text/plain' });\nresponse.write('one ');\nresponse.end(new Uint8Array([0xc3, 0xa9]));").invoke(INSERT));
    expect(outcome).toEqual({ kind: 'answer', ok: true, status: 202, statusMessage: 'Taken', headers: { 'x-seen': 'a, b', 'content-type': 'text/plain' }, body: 'one é', ended: true });
  });

  it("collects Express's status, set, json and sendStatus", async () => {
    expect(answer(await open("response.status(201).set('X-Id', event.id).json({ saved: event.data.after.id });").invoke(INSERT))).toMatchObject({
      status: 201,
      headers: { 'x-id': 'lambda-stream:24512064', 'content-type': 'application/json; charset=utf-8' },
      body: '{"saved":1}',
    });
    expect(answer(await open('response.sendStatus(404);').invoke(INSERT))).toMatchObject({ status: 404, ok: false, body: 'Not Found' });
  });

  it('turns an answer outside 200-299 into an error to retry on', async () => {
    const outcome = await open("response.writeHead(500);\nresponse.end('database down');").invoke(INSERT);
    expect(outcome.ok).toBe(false);
    expect(outcomeError(outcome)?.toLine()).toBe(
      'the PgLambda script answered 500 Internal Server Error: "database down" (fix: the script answers a status outside 200-299 for this event; fix the script or the data it rejects)',
    );
    expect(outcomeError(answer(await open("response.end('OK');").invoke(INSERT)))).toBeUndefined();
  });

  it('keeps globals the script sets from one event to the next', async () => {
    const sandbox = open("globalThis.count = (globalThis.count || 0) + 1;\nresponse.end(String(count));");
    const bodies = [];
    for (const event of [INSERT, UPDATE, DELETE]) bodies.push(answer(await sandbox.invoke(event)).body);
    expect(bodies).toEqual(['1', '2', '3']);
  });

  it('rejects invocations after close', async () => {
    const sandbox = open("response.end('OK');");
    sandbox.close();
    await expect(sandbox.invoke(INSERT)).rejects.toThrow('the PgLambda sandbox is closed');
  });
});
