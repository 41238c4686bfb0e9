/**
 * The sandbox of a transform function: one isolated-vm isolate with a memory limit, the user's
 * function compiled once, and a runner called once per batch with every row event of the batch (one
 * JSON text per line) that returns, for each, `1` when the function gave it back unchanged, `null`
 * when it dropped it, or the new event(s). One call per batch: crossing the isolate boundary is
 * the cost. The isolate has no network, file system, environment or timers: only JavaScript
 * itself, a `console` whose lines go to pgcdc's log, and what `grants` gives (sandbox-grants):
 * `process.env` with the variables `grants.env` names, and with `grants.allowNetwork` a `fetch`.
 *
 * Only with `allowNetwork` may the function be `async`: the batch call then starts the function for
 * every event (their fetches go out together), and the host hands each fetch's reply into the
 * isolate as it comes, without blocking the event loop, until every event's promise has settled;
 * the time limit covers the whole batch, fetches included. Past it, the fetches in flight are
 * aborted and the isolate is replaced. Without it, the batch is one synchronous call, as above.
 */
import ivm, { type Isolate, type Reference } from '../targets/function/isolated-vm-package.js';
import { grantsAnything, SandboxGrants } from '../targets/function/sandbox-grants.js';
import type { TransformScriptConfig } from '../config/transform-settings.js';
import { PgcdcError } from '../errors/pgcdc-error.js';

/** The file name the function has in stack traces and compile errors. */
export const TRANSFORM_FILE_NAME = 'transform.js';

/** Time our own set-up code may take in the isolate (the function's top level included). */
const SETUP_TIMEOUT_MS = 5_000;
const TIMEOUT_MESSAGE = 'Script execution timed out.';

/** What the function made of a batch's events. */
export type BatchOutcome =
  /**
   * `resultsJson`: a JSON array, one entry per event: 1 (unchanged), null (dropped), an object or an
   * array of objects, 0 for an event listed in `failures` (its index and why).
   */
  | { readonly kind: 'done'; readonly resultsJson: string; readonly failures: readonly (readonly [number, string])[] }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'memory' };

/** Receives each line the function writes with `console`. */
export type TransformConsole = (level: string, message: string) => void;

/** Installs `console` in the isolate before the user's script runs: each line goes to `log(level, text)`. */
const CONSOLE_SOURCE = `(function (log) {
  const text = (args) => args.map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a); } catch { return String(a); } })())).join(' ');
  const consoleObject = {};
  for (const level of ['log', 'info', 'debug', 'warn', 'error']) consoleObject[level] = (...args) => { log(level, text(args)); };
  Object.defineProperty(globalThis, 'console', { value: Object.freeze(consoleObject), writable: false, configurable: false });
})`;

/**
 * The start of both runners, inside `(function (completion) { … })`: the user's function (or the
 * reason there is none), and how one event's result is recorded in a batch (`lines` in, `out` one
 * JSON text per event: 1 unchanged, null dropped, the new event(s), or 0 with its `failures` entry).
 */
const RUNNER_PRELUDE = `
  const text = (args) => args.map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a); } catch { return String(a); } })())).join(' ');
  const fn = typeof completion === 'function' ? completion : globalThis.transform;
  if (typeof fn !== 'function') return 'the script gives no function: write an expression giving one, e.g. (event) => event, or declare function transform(event) { … }';
  const describe = (error) => error instanceof Error ? (error.stack || (error.name + ': ' + error.message)) : 'threw ' + text([error]);
  const newBatch = (input) => {
    const lines = input.split('\\n');
    return { lines, out: new Array(lines.length), failures: undefined, waiting: 0 };
  };
  const fail = (batch, i, message) => {
    (batch.failures ??= []).push([i, message]);
    batch.out[i] = '0';
  };
  const accept = (batch, i, result) => {
    if (result === undefined) return fail(batch, i, 'the function returned undefined: return the event, null to drop it, or an array of events');
    if (result !== null && typeof result !== 'object') return fail(batch, i, 'the function returned ' + typeof result + ': return the event, null to drop it, or an array of events');
    let json;
    try {
      json = result === null ? 'null' : JSON.stringify(result);
    } catch (error) {
      return fail(batch, i, 'the returned value cannot be written as JSON: ' + describe(error));
    }
    const line = batch.lines[i];
    batch.out[i] = json === line || json === JSON.stringify(JSON.parse(line)) ? '1' : json;
  };
  const results = (batch) => {
    const all = '[' + batch.out.join(',') + ']';
    return batch.failures === undefined ? all : { results: all, failures: batch.failures.sort((a, b) => a[0] - b[0]) };
  };`;

/**
 * Evaluated in the isolate with the user's completion value: returns the batch runner, or a string
 * saying why there is no function. Events come as lines of JSON; results go out as one JSON array.
 */
const RUNNER_SOURCE = `(function (completion) {${RUNNER_PRELUDE}
  return function run(input) {
    const batch = newBatch(input);
    for (let i = 0; i < batch.lines.length; i++) {
      let result;
      try {
        result = fn(JSON.parse(batch.lines[i]));
      } catch (error) {
        fail(batch, i, describe(error));
        continue;
      }
      if (result !== null && result !== undefined && typeof result.then === 'function') fail(batch, i, 'the function returned a Promise: a transform function is synchronous unless spec.transform.grants.allowNetwork is given');
      else accept(batch, i, result);
    }
    return results(batch);
  };
})`;

/**
 * The batch runner when the function may be async (network grant), evaluated as RUNNER_SOURCE is:
 * `{ run, collect, abandon }`. `run(input)` starts the function for every event and returns the
 * results as RUNNER_SOURCE's runner does once all are settled, else undefined; `collect()` (called
 * after the isolate ran its microtasks) does the same for the batch under way; `abandon()` fails
 * the events still waiting (for nothing: no fetch is in flight) and returns the results. A
 * continuation of an earlier batch (cut off at its time limit) changes nothing.
 */
const ASYNC_RUNNER_SOURCE = `(function (completion) {${RUNNER_PRELUDE}
  let current;
  const finish = (batch) => {
    current = undefined;
    return results(batch);
  };
  const collect = () => (current === undefined || current.waiting > 0 ? undefined : finish(current));
  const run = (input) => {
    const batch = newBatch(input);
    current = batch;
    for (let i = 0; i < batch.lines.length; i++) {
      let result;
      try {
        result = fn(JSON.parse(batch.lines[i]));
      } catch (error) {
        fail(batch, i, describe(error));
        continue;
      }
      if (result === null || (typeof result !== 'object' && typeof result !== 'function') || typeof result.then !== 'function') {
        accept(batch, i, result);
        continue;
      }
      batch.waiting++;
      Promise.resolve(result).then(
        (value) => { if (current === batch) { batch.waiting--; accept(batch, i, value); } },
        (error) => { if (current === batch) { batch.waiting--; fail(batch, i, describe(error)); } },
      );
    }
    return collect();
  };
  const abandon = () => {
    const batch = current;
    for (let i = 0; i < batch.out.length; i++) {
      if (batch.out[i] === undefined) fail(batch, i, 'the promise the function returned never settled: it waits for something that cannot come (no fetch of it is in flight)');
    }
    return finish(batch);
  };
  return { run, collect, abandon };
})`;

/** What a call of the batch runner gives: the results, or undefined while events still wait for fetches. */
type RunnerResult = string | { results: string; failures: [number, string][] } | undefined;

/**
 * A compiled transform function in its isolate.
 *
 * @example
 * const sandbox = new TransformSandbox(config.transform.script, (level, line) => logger.info(line));
 * const outcome = await sandbox.run('{"op":"c",…}\n{"op":"u",…}');
 */
export class TransformSandbox {
  readonly #script: TransformScriptConfig;
  readonly #onConsole: TransformConsole;
  #isolate!: Isolate;
  #run!: Reference;
  /** With the network grant: the async runner's parts (`run` is then its `run`) and the grants settling fetches. */
  #waiting: { readonly collect: Reference; readonly abandon: Reference; readonly grants: SandboxGrants } | undefined;
  /** The last batch under way (network grant only: each batch runs to its end before the next starts). */
  #queue: Promise<unknown> = Promise.resolve();

  /** @throws PgcdcError CONFIG_INVALID when the function does not compile or gives no function */
  constructor(script: TransformScriptConfig, onConsole: TransformConsole) {
    this.#script = script;
    this.#onConsole = onConsole;
    this.#open();
  }

  /** A fresh isolate after one went over its memory limit (V8 disposed it), or a batch over its time limit left fetches behind. */
  reset(): void {
    this.dispose();
    this.#open();
  }

  #open(): void {
    const script = this.#script;
    const onConsole = this.#onConsole;
    this.#isolate = new ivm.Isolate({ memoryLimit: script.memoryLimitMb });
    this.#waiting = undefined;
    let grants: SandboxGrants | undefined;
    try {
      const context = this.#isolate.createContextSync();
      const installConsole = this.#isolate.compileScriptSync(CONSOLE_SOURCE, { filename: 'pgcdc-transform-console.js' }).runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as Reference;
      installConsole.applySync(undefined, [new ivm.Callback(onConsole)], { timeout: SETUP_TIMEOUT_MS });
      grants = grantsAnything(script.grants)
        ? SandboxGrants.install(this.#isolate, context, script.grants, { memoryLimitMb: script.memoryLimitMb, setting: 'spec.transform.grants', setupTimeoutMs: SETUP_TIMEOUT_MS })
        : undefined;
      let compiled;
      try {
        compiled = this.#isolate.compileScriptSync(script.source, { filename: TRANSFORM_FILE_NAME });
      } catch (error) {
        throw compileError(error, script);
      }
      let completion: Reference;
      try {
        completion = compiled.runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as Reference;
      } catch (error) {
        throw new PgcdcError('CONFIG_INVALID', `the transform function (${script.origin}) fails when loaded: ${firstLine(error)}`, { cause: error, hint: 'fix the top level of the script' });
      }
      const mayWait = grants !== undefined && script.grants.allowNetwork !== undefined;
      const source = mayWait ? ASYNC_RUNNER_SOURCE : RUNNER_SOURCE;
      const factory = this.#isolate.compileScriptSync(source, { filename: 'pgcdc-transform-runtime.js' }).runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as Reference;
      const runner = factory.applySync(undefined, [completion.derefInto()], { timeout: SETUP_TIMEOUT_MS, result: { reference: true } }) as Reference;
      if (runner.typeof !== (mayWait ? 'object' : 'function')) {
        const why = runner.copySync() as string;
        throw new PgcdcError('CONFIG_INVALID', `the transform function (${script.origin}) cannot be used: ${why}`, { hint: 'see docs/transforms.md for the forms a transform takes' });
      }
      if (mayWait) {
        const part = (name: string): Reference => runner.getSync(name, { reference: true }) as Reference;
        this.#run = part('run');
        this.#waiting = { collect: part('collect'), abandon: part('abandon'), grants: grants! };
      } else this.#run = runner;
    } catch (error) {
      grants?.close();
      this.dispose();
      throw error;
    }
  }

  /**
   * Runs the function for each event of `linesJson` (one event JSON per line), within the time
   * limit. Synchronously, on pgcdc's thread: isolated-vm's asynchronous call (on the isolate's own
   * thread) measured no faster on a quiet machine (bench/transform-throughput.mjs), and three times
   * slower than no function at all on a machine loaded five times over its cores, where each hop
   * between threads waits to be scheduled. With the network grant, the batch may wait for fetches
   * (the event loop free meanwhile); batches then run one after the other, each to its end.
   */
  run(linesJson: string): Promise<BatchOutcome> {
    if (this.#waiting === undefined) return Promise.resolve(this.#runNow(linesJson));
    const run = this.#queue.then(() => this.#runWaiting(linesJson));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #runNow(linesJson: string): BatchOutcome {
    let result: string | { results: string; failures: [number, string][] };
    try {
      result = this.#run.applySync(undefined, [linesJson], { timeout: this.#script.timeoutMs, result: { copy: true } }) as typeof result;
    } catch (error) {
      return this.#stopped(error);
    }
    return doneOf(result);
  }

  /**
   * A batch whose events may wait for fetches (network grant): the runner started for every event,
   * then each reply handed in as it comes (the event loop free meanwhile) until every event settled,
   * all before the deadline. Every call gets the whole limit, the deadline being checked between
   * calls: isolated-vm starts a timer thread for a call whose deadline comes before those already
   * queued, so shrinking limits would spawn a thread per call (as script-sandbox does).
   */
  async #runWaiting(linesJson: string): Promise<BatchOutcome> {
    const { timeoutMs } = this.#script;
    const deadline = performance.now() + timeoutMs;
    const { collect, abandon, grants } = this.#waiting!;
    let outcome: BatchOutcome | undefined;
    try {
      let result = this.#run.applySync(undefined, [linesJson], { timeout: timeoutMs, result: { copy: true } }) as RunnerResult;
      while (result === undefined) {
        // Called anew: the promises settled by the last call's microtasks are counted now.
        result = collect.applySync(undefined, [], { timeout: timeoutMs, result: { copy: true } }) as RunnerResult;
        if (result !== undefined) break;
        if (grants.inFlight === 0) {
          result = abandon.applySync(undefined, [], { timeout: timeoutMs, result: { copy: true } }) as RunnerResult;
          break;
        }
        const next = performance.now() < deadline ? await grants.nextReply(deadline) : undefined;
        if (next === undefined) {
          outcome = { kind: 'timeout' };
          break;
        }
        if (this.#isolate.isDisposed) throw new PgcdcError('INTERNAL', 'the transform sandbox was closed while the function waited for a fetch', { hint: 'report this as a bug of pgcdc: the target closed during a write' });
        grants.settle.applySync(undefined, [next.id, SandboxGrants.replyArgument(next.reply)], { timeout: timeoutMs });
      }
      outcome ??= doneOf(result!);
    } catch (error) {
      if (error instanceof PgcdcError) throw error;
      outcome = this.#stopped(error);
    }
    grants.endInvocation(timeoutMs, outcome.kind === 'done' && !this.#isolate.isDisposed);
    // Cut off at the time limit: the isolate may hold half-run continuations; the next batch gets a fresh one.
    if (outcome.kind === 'timeout') this.reset();
    return outcome;
  }

  /** A call into the isolate that threw: stopped at a limit, or a failure of the sandbox itself. */
  #stopped(error: unknown): BatchOutcome {
    if (this.#isolate.isDisposed) return { kind: 'memory' };
    if (error instanceof Error && error.message === TIMEOUT_MESSAGE) return { kind: 'timeout' };
    if (error instanceof Error && /memory limit/i.test(error.message)) return { kind: 'memory' };
    throw new PgcdcError('INTERNAL', `the transform sandbox failed: ${(error as Error).message}`, { cause: error, hint: 'report this as a bug of pgcdc' });
  }

  dispose(): void {
    this.#waiting?.grants.close();
    if (!this.#isolate.isDisposed) this.#isolate.dispose();
  }
}

function doneOf(result: Exclude<RunnerResult, undefined>): BatchOutcome {
  if (typeof result === 'string') return { kind: 'done', resultsJson: result, failures: [] };
  return { kind: 'done', resultsJson: result.results, failures: result.failures };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** `Unexpected token ';' [transform.js:2:11]` → a CONFIG_INVALID error naming line 2, column 11. */
function compileError(error: unknown, script: TransformScriptConfig): PgcdcError {
  const text = firstLine(error);
  const located = /^(.*) \[transform\.js:(\d+):(\d+)\]$/s.exec(text);
  const what = `the transform function (${script.origin}) does not compile`;
  if (located === null) return new PgcdcError('CONFIG_INVALID', `${what}: ${text}`, { cause: error, hint: 'fix the syntax of the script' });
  return new PgcdcError('CONFIG_INVALID', `${what}: line ${located[2]}, column ${located[3]}: ${located[1]}`, { cause: error, hint: `fix the script at line ${located[2]}` });
}
