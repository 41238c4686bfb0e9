/**
 * One isolate of the script sandbox: a V8 isolate (isolated-vm) with a memory limit and one
 * context holding the sandbox runtime and the user's script, compiled once as the body of
 * `async function (event, response, request)`. Calls into it are synchronous and bounded in time;
 * a script that does not compile is a CONFIG_INVALID error naming its line and column. With grants
 * (sandbox-grants), the context also holds `fetch` and/or `process.env`; a script waiting for a
 * fetch is handed its reply by `awaitIo`, which waits without blocking the event loop.
 */
import ivm, { type Isolate, type Reference, type Script } from './isolated-vm-package.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { SandboxGrants, type SandboxGrantsConfig, grantsAnything } from './sandbox-grants.js';
import { SANDBOX_RUNTIME_SOURCE } from './sandbox-runtime-source.js';

/** The file name the script has in stack traces and compile errors. */
export const SCRIPT_FILE_NAME = 'pglambda.js';

/** Levels of the sandbox's `console` methods (`trace` is reported as `debug`). */
export type ConsoleLevel = 'log' | 'info' | 'debug' | 'warn' | 'error';

/** Receives each line the script writes with `console`. */
export type ConsoleSink = (level: ConsoleLevel, message: string) => void;

/** What the script answered, as the runtime reports it. */
export interface RawAnswer {
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** False when the script finished without calling `response.end()`. */
  readonly ended: boolean;
}

/** Why the script gave no answer, as the runtime reports it. */
export interface RawFailure {
  /** `threw`: the script (or a timer of it) threw; `stalled`: it waits for nothing that can come; `input`: the event is not a JSON object. */
  readonly failure: 'threw' | 'stalled' | 'input';
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

/** The result of one bounded call into the isolate; `pending` means: resume once more. */
export type CallResult =
  | { readonly kind: 'done'; readonly outcome: RawAnswer | RawFailure }
  | { readonly kind: 'pending' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'memory' };

/** What an isolate is made of. */
export interface SandboxIsolateOptions {
  readonly script: string;
  /** Where the script comes from, for messages, e.g. `spec.target.pgLambda.script`. */
  readonly origin: string;
  readonly memoryLimitMb: number;
  readonly onConsole: ConsoleSink;
  /** What the script may reach beyond ECMAScript; nothing when absent. */
  readonly grants?: SandboxGrantsConfig;
  /** Where the grants are set, for messages; default `spec.target.pgLambda.grants`. */
  readonly grantsSetting?: string;
}

/** Time our own set-up code may take in the isolate (it runs no user code). */
const SETUP_TIMEOUT_MS = 5_000;

const TIMEOUT_MESSAGE = 'Script execution timed out.';

/**
 * An isolate ready to run the script for one event at a time.
 *
 * @example
 * const isolate = new SandboxIsolate({ script, origin: 'spec.target.pgLambda.script', memoryLimitMb: 128, onConsole });
 * let result = isolate.invoke(eventJson, 5000);
 * while (result.kind === 'pending') result = isolate.resume(remainingMs());
 */
export class SandboxIsolate {
  readonly #isolate: Isolate;
  readonly #invoke: Reference;
  readonly #resume: Reference;
  readonly #grants: SandboxGrants | undefined;
  #catastrophe: string | undefined;

  /** @throws PgcdcError CONFIG_INVALID when the script does not compile */
  constructor(options: SandboxIsolateOptions) {
    this.#isolate = new ivm.Isolate({
      memoryLimit: options.memoryLimitMb,
      onCatastrophicError: (message) => {
        this.#catastrophe = message;
      },
    });
    try {
      const userFunction = compileScript(this.#isolate, options);
      const context = this.#isolate.createContextSync();
      this.#grants = grantsAnything(options.grants)
        ? SandboxGrants.install(this.#isolate, context, options.grants, {
            memoryLimitMb: options.memoryLimitMb,
            setting: options.grantsSetting ?? 'spec.target.pgLambda.grants',
            setupTimeoutMs: SETUP_TIMEOUT_MS,
          })
        : undefined;
      const factory = this.#isolate
        .compileScriptSync(SANDBOX_RUNTIME_SOURCE, { filename: 'pgcdc-sandbox-runtime.js' })
        .runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as Reference;
      const userFunctionReference = userFunction.runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as Reference;
      const runtime = factory.applySync(undefined, [new ivm.Callback(options.onConsole), userFunctionReference.derefInto(), options.script], {
        timeout: SETUP_TIMEOUT_MS,
        result: { reference: true },
      }) as Reference;
      this.#invoke = runtime.getSync('invoke', { reference: true }) as Reference;
      this.#resume = runtime.getSync('resume', { reference: true }) as Reference;
      const bodyProblem = (runtime.getSync('checkBody', { reference: true }) as Reference).applySync(undefined, [], { timeout: SETUP_TIMEOUT_MS }) as string | undefined;
      if (bodyProblem !== undefined) {
        throw new PgcdcError('CONFIG_INVALID', `the PgLambda script (${options.origin}) does not compile as a function body: ${bodyProblem}`, {
          hint: 'check that every "}" of the script closes a "{" of the script: it runs as the body of a function',
        });
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Starts the script for one event (the CloudEvent as JSON). */
  invoke(eventJson: string, timeoutMs: number): CallResult {
    return this.#call(this.#invoke, [eventJson], timeoutMs);
  }

  /**
   * Lets the script go on (after its microtasks ran): reports the outcome, else (when no fetch is
   * in flight) fires its next timer.
   */
  resume(timeoutMs: number): CallResult {
    return this.#call(this.#resume, this.#grants === undefined ? [] : [this.waitingForIo], timeoutMs);
  }

  /** True while a `fetch` of the script has not been handed its reply (only with the network grant). */
  get waitingForIo(): boolean {
    return this.#grants !== undefined && this.#grants.inFlight > 0;
  }

  /**
   * Waits (without blocking the event loop) for the reply of one of the script's fetches and hands
   * it in, running the script's code that awaited it; `timeout` when no reply came before
   * `deadline` (a `performance.now()` time). Then `resume` tells what the script did.
   */
  async awaitIo(deadline: number, timeoutMs: number): Promise<CallResult> {
    const next = this.#grants === undefined ? undefined : await this.#grants.nextReply(deadline);
    if (next === undefined) return { kind: 'timeout' };
    if (this.#isolate.isDisposed) return { kind: 'memory' };
    return this.#call(this.#grants!.settle, [next.id, SandboxGrants.replyArgument(next.reply)], timeoutMs);
  }

  /** After an invocation: aborts the script's fetches still in flight (it no longer waits for them). */
  endInvocation(timeoutMs: number): void {
    this.#grants?.endInvocation(timeoutMs, !this.#isolate.isDisposed);
  }

  /** Set when V8 lost control of the isolate: the process should stop. */
  get catastrophe(): string | undefined {
    return this.#catastrophe;
  }

  dispose(): void {
    this.#grants?.close();
    if (!this.#isolate.isDisposed) this.#isolate.dispose();
  }

  #call(fn: Reference, args: readonly unknown[], timeoutMs: number): CallResult {
    let outcome: RawAnswer | RawFailure | undefined;
    try {
      outcome = fn.applySync(undefined, [...args], { timeout: Math.max(1, Math.ceil(timeoutMs)), result: { copy: true } }) as RawAnswer | RawFailure | undefined;
    } catch (error) {
      if (this.#isolate.isDisposed) return { kind: 'memory' };
      if (error instanceof Error && error.message === TIMEOUT_MESSAGE) return { kind: 'timeout' };
      throw new PgcdcError('INTERNAL', `the PgLambda sandbox failed: ${(error as Error).message}`, { cause: error, hint: 'report this as a bug of pgcdc' });
    }
    return outcome === undefined ? { kind: 'pending' } : { kind: 'done', outcome };
  }
}

/**
 * The script compiled as the body of `async function (event, response, request)`, its lines
 * numbered as in the script itself.
 */
function compileScript(isolate: Isolate, options: SandboxIsolateOptions): Script {
  const wrapped = `(async function (event, response, request) {\n${options.script}\n})`;
  try {
    return isolate.compileScriptSync(wrapped, { filename: SCRIPT_FILE_NAME, lineOffset: -1 });
  } catch (error) {
    throw compileError(error, options);
  }
}

/**
 * `Unexpected token ';' [pglambda.js:2:11]` → a CONFIG_INVALID error naming line 2, column 11; a
 * problem found on the wrapper's closing line (an unclosed block) is told as the end of the script.
 */
function compileError(error: unknown, options: SandboxIsolateOptions): PgcdcError {
  const text = error instanceof Error ? error.message : String(error);
  const located = /^(.*) \[pglambda\.js:(\d+):(\d+)\]$/s.exec(text);
  const reason = (located?.[1] ?? text).replace(/\s+/g, ' ');
  const what = `the PgLambda script (${options.origin}) does not compile`;
  if (located === null) return new PgcdcError('CONFIG_INVALID', `${what}: ${reason}`, { cause: error, hint: 'fix the syntax of the script' });
  const scriptLines = options.script.split('\n').length;
  const line = Number(located[2]);
  const where = line > scriptLines ? `at the end (line ${scriptLines})` : `line ${line}, column ${located[3]}`;
  return new PgcdcError('CONFIG_INVALID', `${what}: ${where}: ${reason}`, {
    cause: error,
    hint: `fix the script ${line > scriptLines ? 'where a block, string or comment is left open' : `at line ${line}`}; it runs as the body of an async function with event, response and request in scope`,
  });
}
