/**
 * Runs a StackGres PgLambda script for one event at a time in an isolated V8 isolate, within a
 * memory limit and a time limit per event, and replaces the isolate after a script was stopped at
 * a limit so the next event runs on a fresh one.
 *
 * What the script sees (and nothing else: no `require`, `process`, `Buffer`, file system, network
 * or environment, unless granted):
 * - `event`: the CloudEvent (frozen, as the CloudEvents SDK makes it), `event.data` the Debezium
 *   change (`op`, `before`, `after`, `source`, …);
 * - `response`: Node's `ServerResponse` methods (`statusCode`, `writeHead`, `setHeader`, `write`,
 *   `end`, …) and Express's (`status`, `set`, `send`, `json`, `sendStatus`);
 * - `request`: the structured-mode HTTP POST that would carry the event (`method`, `url`,
 *   `headers`, `body` = the CloudEvent JSON, `get(name)`);
 * - `console.log/info/debug/trace/warn/error`, formatted like Node's, sent to `onConsole`;
 * - ECMAScript's built-ins, and `setTimeout`/`setInterval`/`setImmediate`/`queueMicrotask` with
 *   their `clear*`: timers run in virtual time as soon as the script is otherwise idle, in order of
 *   their delays (with no I/O in the sandbox there is nothing else to wait for); timers still
 *   pending when the response ends are dropped.
 * - with grants (sandbox-grants): `fetch` and `Headers` to the allowed hosts (`allowNetwork`),
 *   `process.env` with the named variables (`env`).
 *
 * The script is the body of `async function (event, response, request)`: StackGres `eval`s it in a
 * request handler, and every such script runs here unchanged; `await` and `return` work too.
 * Globals it sets live across events, as in StackGres's long-running function.
 *
 * The invocation ends when the script calls `response.end()` (later code still runs, and what it
 * throws is logged); or, when it never does, once it has finished with no timer pending: the answer
 * is then what it wrote, 200 when it set nothing (`ended: false`). StackGres's examples always call
 * `response.end()`; there a script that does not would hold the HTTP request until its read timeout
 * and fail, here it succeeds, since it did all its work without error.
 *
 * Limits: the script is stopped when one run of it (the script itself, or one timer callback)
 * exceeds the time limit, and no timer starts after the limit, so an event takes less than twice
 * the limit; the isolate's heap is capped at the memory limit. Each run leaves an expired timer
 * entry in isolated-vm's watchdog until the time limit has passed (about 200 bytes each: some 20 MB
 * at 20,000 events/s with a 5 s limit).
 *
 * Calls run synchronously on the calling thread: the event loop waits for the script, at most the
 * time limit per run. Node.js 20 must run with `--no-node-snapshot` for isolated-vm to be safe.
 *
 * With the network grant, an invocation may wait for its fetches: that wait does not block the
 * event loop, the whole invocation (script runs and fetches) must end within the time limit, and
 * invocations are queued so each still runs to its end before the next starts. Timers fire (in
 * virtual time) only while no fetch is in flight; fetches still in flight when the invocation ends
 * are aborted. Without it the invocation is one synchronous run, exactly as above.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIMEOUT_MS, MIN_MEMORY_LIMIT_MB } from './sandbox-limits.js';
import type { SandboxGrantsConfig } from './sandbox-grants.js';
import { type CallResult, type ConsoleSink, type RawAnswer, type RawFailure, SandboxIsolate, SCRIPT_FILE_NAME } from './sandbox-isolate.js';
import type { ScriptFailure, ScriptFailureReason, ScriptOutcome } from './script-outcome.js';

export type { ConsoleLevel, ConsoleSink } from './sandbox-isolate.js';


export interface ScriptSandboxOptions {
  /** The script's source. */
  readonly script: string;
  /** Where the script comes from, for messages, e.g. `spec.target.pgLambda.script` or a file name. */
  readonly origin: string;
  /** Heap limit of the isolate in MB (at least 8); default 128. */
  readonly memoryLimitMb?: number;
  /** Time the script may take for one event, in milliseconds; default 5000. */
  readonly timeoutMs?: number;
  /** Receives what the script logs; lines are dropped when not given. */
  readonly onConsole?: ConsoleSink;
  /** What the script may reach beyond ECMAScript (network, environment); nothing when absent. */
  readonly grants?: SandboxGrantsConfig;
}

/** A CloudEvent as an object (`specversion`, `id`, `source`, `type`, `time`, `datacontenttype`, `data`, extensions). */
export type CloudEventObject = Readonly<Record<string, unknown>>;

export interface InvokeOptions {
  /** Receives what the script logs for this event, instead of the sandbox's `onConsole`. */
  readonly onConsole?: ConsoleSink;
}

const dropConsole: ConsoleSink = () => undefined;

/** The options, limits filled in. */
type SandboxSettings = Required<Omit<ScriptSandboxOptions, 'onConsole' | 'grants'>> & { readonly grants: SandboxGrantsConfig | undefined };

/**
 * A compiled PgLambda script, ready to run for events one at a time.
 *
 * @example
 * const sandbox = ScriptSandbox.open({ script, origin: 'spec.target.pgLambda.script', onConsole: (level, line) => logger.info({ level }, line) });
 * const outcome = await sandbox.invoke(cloudEventJson); // { kind: 'answer', ok: true, status: 200, body: 'OK', … }
 * sandbox.close();
 */
export class ScriptSandbox {
  readonly #options: SandboxSettings;
  readonly #defaultConsole: ConsoleSink;
  #console: ConsoleSink;
  #isolate: SandboxIsolate | undefined;
  #replacements = 0;
  /** The last queued invocation (network grant only: invocations that wait for fetches are queued). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: SandboxSettings, onConsole: ConsoleSink | undefined) {
    this.#options = options;
    this.#defaultConsole = onConsole ?? dropConsole;
    this.#console = this.#defaultConsole;
    this.#isolate = this.#newIsolate();
  }

  /**
   * Compiles the script in a new isolate.
   *
   * @throws PgcdcError CONFIG_INVALID when the script does not compile (with its line and column)
   *   or a limit is out of range
   */
  static open(options: ScriptSandboxOptions): ScriptSandbox {
    const { memoryLimitMb = DEFAULT_MEMORY_LIMIT_MB, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
    if (!Number.isInteger(memoryLimitMb) || memoryLimitMb < MIN_MEMORY_LIMIT_MB) {
      throw new PgcdcError('CONFIG_INVALID', `the PgLambda memory limit is ${memoryLimitMb} MB; expected a whole number of at least ${MIN_MEMORY_LIMIT_MB}`, {
        hint: `set memoryLimitMb to ${MIN_MEMORY_LIMIT_MB} or more`,
      });
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new PgcdcError('CONFIG_INVALID', `the PgLambda time limit is ${timeoutMs} ms; expected a whole number of at least 1`, { hint: 'set timeoutMs to 1 or more' });
    }
    return new ScriptSandbox({ script: options.script, origin: options.origin, memoryLimitMb, timeoutMs, grants: options.grants }, options.onConsole);
  }

  /**
   * Runs the script for one event: the CloudEvent as JSON text (parsed once, inside the isolate),
   * or as an object. Resolves with what the script answered or why it gave no answer; rejects
   * only when the sandbox itself cannot go on (closed, or V8 lost control of the isolate).
   * Invocations run one after the other, each to its end, in the order they are called.
   */
  async invoke(event: string | CloudEventObject, options: InvokeOptions = {}): Promise<ScriptOutcome> {
    const eventJson = typeof event === 'string' ? event : JSON.stringify(event);
    if (this.#options.grants?.allowNetwork !== undefined) {
      const run = this.#queue.then(() => this.#invokeWithIo(eventJson, options));
      this.#queue = run.catch(() => undefined);
      return run;
    }
    const isolate = this.#liveIsolate();
    this.#console = options.onConsole ?? this.#defaultConsole;
    try {
      return this.#run(isolate, eventJson);
    } finally {
      this.#console = this.#defaultConsole;
    }
  }

  /** How many times the isolate was replaced after a script was stopped at a limit. */
  get replacements(): number {
    return this.#replacements;
  }

  /** Frees the isolate; `invoke` rejects afterwards. */
  close(): void {
    this.#isolate?.dispose();
    this.#isolate = undefined;
  }

  #run(isolate: SandboxIsolate, eventJson: string): ScriptOutcome {
    const { timeoutMs } = this.#options;
    const deadline = performance.now() + timeoutMs;
    // Every call gets the same limit: isolated-vm starts a timer thread for a call whose deadline
    // comes before those already queued, so shrinking limits would spawn a thread per call.
    let result: CallResult = isolate.invoke(eventJson, timeoutMs);
    while (result.kind === 'pending') {
      result = performance.now() < deadline ? isolate.resume(timeoutMs) : { kind: 'timeout' };
    }
    return this.#finish(result, false);
  }

  /** One invocation that may wait for fetches (network grant), the event loop free meanwhile. */
  async #invokeWithIo(eventJson: string, options: InvokeOptions): Promise<ScriptOutcome> {
    const isolate = this.#liveIsolate();
    this.#console = options.onConsole ?? this.#defaultConsole;
    try {
      const { timeoutMs } = this.#options;
      const deadline = performance.now() + timeoutMs;
      let waited = false;
      let result: CallResult = isolate.invoke(eventJson, timeoutMs);
      while (result.kind === 'pending') {
        if (performance.now() >= deadline) result = { kind: 'timeout' };
        else if (isolate.waitingForIo) {
          waited = true;
          result = await isolate.awaitIo(deadline, timeoutMs);
          if (this.#isolate !== isolate) throw new PgcdcError('INTERNAL', 'the PgLambda sandbox was closed while a script waited for a fetch', { hint: 'report this as a bug of pgcdc: the target closed during a write' });
          if (result.kind === 'pending') result = isolate.resume(timeoutMs);
        } else result = isolate.resume(timeoutMs);
      }
      if (result.kind === 'done') isolate.endInvocation(timeoutMs);
      return this.#finish(result, waited);
    } finally {
      this.#console = this.#defaultConsole;
    }
  }

  /** The outcome of a finished call loop; the isolate is replaced after a stop at a limit. */
  #finish(result: Exclude<CallResult, { kind: 'pending' }>, waitedForFetch: boolean): ScriptOutcome {
    const { timeoutMs } = this.#options;
    if (result.kind === 'done') return this.#outcomeOf(result.outcome);
    this.#replaceIsolate();
    return result.kind === 'timeout'
      ? failure('timeout', `the PgLambda script ran longer than its time limit of ${timeoutMs} ms and was stopped`, {
          hint: waitedForFetch
            ? 'the time limit covers the whole invocation, fetches included: make the script finish sooner (fewer or faster requests, response.end() on every path), or raise timeoutMs'
            : 'make the script finish sooner (no endless loop or interval, response.end() on every path), or raise timeoutMs',
        })
      : failure('memory', `the PgLambda script used more than its memory limit of ${this.#options.memoryLimitMb} MB and was stopped`, {
          hint: 'raise memoryLimitMb, or keep less in memory (globals the script sets live across events)',
        });
  }

  #outcomeOf(raw: RawAnswer | RawFailure): ScriptOutcome {
    if (!('failure' in raw)) return { kind: 'answer', ok: raw.status >= 200 && raw.status < 300, ...raw };
    switch (raw.failure) {
      case 'threw':
        return failure('threw', `the PgLambda script threw ${oneLine(`${raw.name}: ${raw.message}`)}${scriptLocation(raw.stack)}`, {
          hint: 'fix the script; until then this event fails each time it is retried',
        });
      case 'stalled':
        return failure('stalled', `the PgLambda script gave no answer: ${raw.message}`, {
          hint: 'call response.end() on every path, and await only promises the script itself settles',
        });
      case 'input':
        throw new PgcdcError('INTERNAL', `the PgLambda sandbox was given an event it cannot read: ${raw.message}`, { hint: 'report this as a bug of pgcdc' });
    }
  }

  #liveIsolate(): SandboxIsolate {
    const isolate = this.#isolate;
    if (isolate === undefined) {
      throw new PgcdcError('INTERNAL', 'the PgLambda sandbox is closed', { hint: 'report this as a bug of pgcdc: an event was sent after the target closed' });
    }
    if (isolate.catastrophe !== undefined) {
      throw new PgcdcError('INTERNAL', `the PgLambda sandbox's V8 isolate failed beyond recovery: ${isolate.catastrophe}`, {
        hint: 'restart pgcdc; report this as a bug of pgcdc with the script that ran',
      });
    }
    return isolate;
  }

  #replaceIsolate(): void {
    this.#isolate?.dispose();
    this.#isolate = this.#newIsolate();
    this.#replacements++;
  }

  #newIsolate(): SandboxIsolate {
    return new SandboxIsolate({
      script: this.#options.script,
      origin: this.#options.origin,
      memoryLimitMb: this.#options.memoryLimitMb,
      onConsole: (level, message) => this.#console(level, message),
      ...(this.#options.grants === undefined ? {} : { grants: this.#options.grants }),
    });
  }
}

function failure(reason: ScriptFailureReason, message: string, options: { hint: string }): ScriptFailure {
  return { kind: 'failure', ok: false, reason, error: new PgcdcError('TARGET_FAILED', message, options) };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** ` at line 3, column 6` from the first frame of the script in a stack trace. */
function scriptLocation(stack: string): string {
  const frame = new RegExp(`${SCRIPT_FILE_NAME.replace('.', '\\.')}:(\\d+):(\\d+)`).exec(stack);
  return frame === null ? '' : ` at line ${frame[1]}, column ${frame[2]}`;
}
