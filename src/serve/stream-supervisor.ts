/**
 * One stream of `pgcdc serve`: runs `runStream` in this process with its own logger, abort signal
 * and metrics observer, and moves it between states on the operator's actions (pause, resume,
 * restart, stop), a changed spec, or the run ending or failing. Nothing a stream does escapes
 * it: its failure is a state, never an exception, and nothing here waits on another stream.
 * A spec that could not be loaded is a supervisor too, `failed` with the config error.
 *
 * States: starting → running (the pipeline is built: the observer's `attached`) / paused /
 * stopped / failed / restarting. A stream that fails stays failed until resumed, restarted or its
 * spec changes (runStream has retried what could be retried already).
 */
import type { StreamConfig } from '../config/stream-config.js';
import { asPgcdcError, type PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import type { ServeMetrics, StreamMetrics, StreamRunState } from '../metrics/serve-metrics.js';
import { runStream } from '../pipeline/run-stream.js';
import type { StreamObserver } from '../pipeline/stream-observer.js';
import { CapturedTableNames } from './captured-table-names.js';
import { RecentLogLines, teeWarnings, type LogLine } from './recent-log-lines.js';
import { HttpError } from './serve-server.js';

/** A failure as the API shows it. */
export interface FailureView {
  readonly code: string;
  readonly message: string;
  readonly hint: string | null;
  /** ISO 8601. */
  readonly at: string;
}

/** A stream as `GET /api/streams` lists it. */
export interface StreamView {
  readonly name: string;
  readonly state: StreamRunState;
  readonly target: string | null;
  readonly source: { readonly slot: string; readonly publication: string; readonly database: string } | null;
  readonly since: string;
  readonly error: FailureView | null;
  readonly file: string;
}

interface Run {
  readonly controller: AbortController;
  /** Set when an action stops the run: its end then sets no state of its own. */
  halting: boolean;
  done: Promise<void>;
}

export interface SupervisorContext {
  /** The process logger; the stream logs through a child with `{stream: name}`. */
  readonly logger: Logger;
  readonly metrics: ServeMetrics;
}

export class StreamSupervisor {
  /** The stream's name (metadata.name), or the file's name when its spec has none usable. */
  readonly name: string;
  readonly file: string;
  readonly #context: SupervisorContext;
  readonly #logger: Logger;
  readonly #recent = new RecentLogLines(20);
  #config: StreamConfig | undefined;
  #metrics: StreamMetrics | undefined;
  #tables: CapturedTableNames | undefined;
  #state: StreamRunState = 'stopped';
  #since = new Date();
  #error: FailureView | null = null;
  #run: Run | undefined;
  /** Actions run one after the other, each after the previous one finished. */
  #actions: Promise<unknown> = Promise.resolve();

  private constructor(name: string, file: string, context: SupervisorContext) {
    this.name = name;
    this.file = file;
    this.#context = context;
    this.#logger = teeWarnings(context.logger.child({ stream: name }), this.#recent);
  }

  /** A stream of a valid spec, not started yet. */
  static of(config: StreamConfig, file: string, context: SupervisorContext): StreamSupervisor {
    const supervisor = new StreamSupervisor(config.name, file, context);
    supervisor.#config = config;
    supervisor.#metrics = context.metrics.stream(config.name, config);
    supervisor.#tables = new CapturedTableNames(config);
    return supervisor;
  }

  /** A spec that cannot run: failed with its error for good (until its file changes). */
  static invalid(key: string, file: string, error: unknown, context: SupervisorContext): StreamSupervisor {
    const supervisor = new StreamSupervisor(key, file, context);
    supervisor.#fail(asPgcdcError(error));
    return supervisor;
  }

  get state(): StreamRunState {
    return this.#state;
  }

  get config(): StreamConfig | undefined {
    return this.#config;
  }

  get metrics(): StreamMetrics | undefined {
    return this.#metrics;
  }

  get lastErrors(): readonly LogLine[] {
    return this.#recent.list();
  }

  /** The captured tables (empty when the source cannot be read). */
  tables(): Promise<readonly string[]> {
    return this.#tables?.get() ?? Promise.resolve([]);
  }

  view(): StreamView {
    const config = this.#config;
    return {
      name: this.name,
      state: this.#state,
      target: config?.target.type ?? null,
      source: config ? { slot: config.source.slotName, publication: config.source.publicationName, database: config.source.connection.database } : null,
      since: this.#since.toISOString(),
      error: this.#error,
      file: this.file,
    };
  }

  /** Starts the stream once `after` settled (a stream of the same name still stopping). */
  start(after: Promise<unknown> = Promise.resolve()): Promise<void> {
    return this.#enqueue(async () => {
      await after;
      if (this.#config && this.#run === undefined) this.#launch('starting');
    });
  }

  /** Graceful stop (what was received is delivered and acknowledged), then paused. */
  pause(): Promise<void> {
    this.#runnable();
    return this.#enqueue(async () => {
      await this.#halt();
      this.#setState('paused');
    });
  }

  /** Starts a paused, stopped or failed stream again; a running one is left alone. */
  resume(): Promise<void> {
    this.#runnable();
    return this.#enqueue(async () => {
      if (this.#run === undefined) this.#launch('starting');
    });
  }

  /** Graceful stop, then start. */
  restart(): Promise<void> {
    this.#runnable();
    return this.#enqueue(async () => {
      await this.#halt();
      this.#launch('restarting');
    });
  }

  /** Graceful stop, then stopped. */
  stop(): Promise<void> {
    this.#runnable();
    return this.#enqueue(async () => {
      await this.#halt();
      this.#setState('stopped');
    });
  }

  /** The spec changed: a running (or failed) stream restarts with it; a paused or stopped one stays so. */
  replace(config: StreamConfig): Promise<void> {
    return this.#enqueue(async () => {
      this.#config = config;
      this.#metrics = this.#context.metrics.stream(config.name, config);
      this.#tables?.reconfigure(config);
      if (this.#state === 'paused' || this.#state === 'stopped') return;
      this.#logger.info('the spec changed: restarting the stream with it');
      await this.#halt();
      this.#launch('restarting');
    });
  }

  /** The spec is gone: graceful stop (the directory then forgets the stream's metrics). */
  dispose(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#halt();
      this.#setState('stopped');
    });
  }

  #runnable(): void {
    if (this.#config === undefined) throw new HttpError(409, `${this.name} cannot run: ${this.#error?.message ?? 'its spec is invalid'}; fix the spec file ${this.file}`);
  }

  #enqueue(action: () => Promise<void>): Promise<void> {
    const next = this.#actions.then(action);
    this.#actions = next.catch((error: unknown) => this.#logger.error({ err: error }, 'stream action failed'));
    return next;
  }

  #launch(state: 'starting' | 'restarting'): void {
    const config = this.#config!;
    const run: Run = { controller: new AbortController(), halting: false, done: Promise.resolve() };
    this.#run = run;
    this.#error = null;
    this.#setState(state);
    const observer = this.#observer(run);
    run.done = runStream(config, { logger: this.#logger, signal: run.controller.signal, observer }).then(
      (result) => {
        if (this.#run === run) this.#run = undefined;
        if (run.halting) return;
        this.#logger.info({ stopReason: result.stopReason }, 'the stream ended');
        this.#setState('stopped');
      },
      (error: unknown) => {
        if (this.#run === run) this.#run = undefined;
        const failure = asPgcdcError(error);
        this.#logger.error({ code: failure.code }, `the stream failed: ${failure.toLine()}`);
        if (!run.halting) this.#fail(failure);
      },
    );
  }

  /** Stops the current run gracefully and waits for its end. */
  async #halt(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    run.halting = true;
    run.controller.abort();
    await run.done;
  }

  /** The metrics' observer, plus `attached` marking the run as running. */
  #observer(run: Run): StreamObserver {
    const inner = this.#metrics!.observer;
    return {
      attached: (probe) => {
        inner.attached?.(probe);
        if (this.#run === run && !run.halting) this.#setState('running');
      },
      delivered: inner.delivered?.bind(inner),
      connection: inner.connection?.bind(inner),
      retried: inner.retried?.bind(inner),
      deadLettered: inner.deadLettered?.bind(inner),
    };
  }

  #fail(error: PgcdcError): void {
    // One line: a config error lists each problem on a line of its own.
    const message = error.message.split('\n').map((line) => line.trim()).filter(Boolean).join('; ');
    this.#error = { code: error.code, message, hint: error.hint ?? null, at: new Date().toISOString() };
    this.#setState('failed', error);
  }

  #setState(state: StreamRunState, error?: PgcdcError): void {
    if (state === this.#state && state !== 'failed') return;
    this.#state = state;
    this.#since = new Date();
    this.#metrics?.setState(state, error);
  }
}
