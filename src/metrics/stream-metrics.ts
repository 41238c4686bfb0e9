/**
 * One stream's metrics: it is the stream's `StreamObserver` (counting delivered batches, retries,
 * dead letters, connection changes; keeping the probe of the running pipeline), polls the slot's
 * status on its own connection, samples throughput and lag once a second for the history, and
 * evaluates the stream's alerts. `read()` gathers every figure at once for a scrape or an API call;
 * nothing on the stream's hot path waits for it.
 */
import { StreamAlerts } from '../alerts/stream-alerts.js';
import { recordTarget, type StreamConfig } from '../config/stream-config.js';
import type { PgcdcError } from '../errors/pgcdc-error.js';
import type { StreamEvent } from '../events/stream-event.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { SourceConnectionState, StreamObserver, StreamProbe } from '../pipeline/stream-observer.js';
import type { TableProgress } from '../snapshot/snapshot-progress.js';
import { formatLsn, type Lsn } from '../source/lsn.js';
import { DeliveryTally } from './delivery-tally.js';
import { SlotStatusPoller, type SlotStatus } from './slot-status-poller.js';
import type { HistoryPoint, StreamRunState, StreamStats } from './stream-stats.js';
import { ThroughputHistory } from './throughput-history.js';

/** What a StreamMetrics gets from ServeMetrics (all optional for a stream watched on its own). */
export interface StreamMetricsContext {
  readonly logger?: Logger;
  /** How often the slot status is read (default 5000 ms). */
  readonly slotPollIntervalMs?: number;
  /** Told each batch's write time (the exporters' histograms). */
  readonly batchWritten?: (stream: string, seconds: number) => void;
}

/** Every figure of a stream at one instant: what the exporters and `stats()` read. */
export interface StreamReading {
  readonly stream: string;
  readonly at: number;
  readonly state: StreamRunState;
  readonly tally: DeliveryTally;
  readonly eventsPerSecond: number;
  readonly retries: number;
  readonly deadLetters: number;
  readonly restarts: number;
  readonly connected: boolean;
  readonly filtered: number;
  readonly queue: { readonly bytes: number; readonly maxBytes: number };
  readonly receivedLsn: Lsn | null;
  readonly confirmedLsn: Lsn | null;
  readonly slotName: string;
  readonly slotStatus: SlotStatus | undefined;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
  readonly retainedWalBytes: number | null;
  readonly snapshot: { readonly status: string; readonly kind: string; readonly running: boolean; readonly tables: readonly TableProgress[] } | null;
  readonly alerts: StreamAlerts | undefined;
  /** `name` of the Debezium metrics: the topic prefix of a record target, else the stream's name. */
  readonly debeziumName: string;
}

const TICK_MS = 1000;
const HISTORY_EVERY_TICKS = 5;

export class StreamMetrics {
  readonly name: string;
  readonly observer: StreamObserver;
  #config: StreamConfig;
  readonly #context: StreamMetricsContext;
  readonly #logger: Logger;
  #state: StreamRunState = 'starting';
  #restarts = 0;
  #retries = 0;
  #deadLetters = 0;
  #connected = false;
  #probe: StreamProbe | undefined;
  readonly #tally = new DeliveryTally();
  readonly #history = new ThroughputHistory();
  #poller: SlotStatusPoller;
  #alerts: StreamAlerts | undefined;
  /** When the stream was last seen with nothing pending (for the lag in seconds). */
  #caughtUpAt: number | undefined;
  #ticks = 0;
  #lastEvaluation = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(name: string, config: StreamConfig, context: StreamMetricsContext = {}) {
    this.name = name;
    this.#config = config;
    this.#context = context;
    this.#logger = context.logger ?? silentLogger();
    this.#alerts = config.alerts && new StreamAlerts(name, config.alerts, this.#logger);
    this.#poller = this.#startPoller(config);
    this.observer = {
      attached: (probe) => {
        this.#probe = probe;
      },
      delivered: (events, bytes, writeSeconds) => this.#delivered(events, bytes, writeSeconds),
      connection: (state: SourceConnectionState) => {
        this.#connected = state === 'connected';
      },
      retried: () => {
        this.#retries++;
      },
      deadLettered: (count) => {
        this.#deadLetters += count;
      },
    };
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
  }

  /** A changed spec: a new slot or source is polled, the alerts are rebuilt. */
  reconfigure(config: StreamConfig): void {
    const previous = this.#config;
    this.#config = config;
    if (previous.source.slotName !== config.source.slotName || JSON.stringify(previous.source.connection) !== JSON.stringify(config.source.connection)) {
      void this.#poller.close();
      this.#poller = this.#startPoller(config);
    }
    if (JSON.stringify(previous.alerts) !== JSON.stringify(config.alerts)) this.#alerts = config.alerts && new StreamAlerts(this.name, config.alerts, this.#logger);
  }

  /** The supervisor's view: state changes (a 'restarting' counts a restart), with the failure when failed. */
  setState(state: StreamRunState, _error?: PgcdcError): void {
    if (state === 'restarting') this.#restarts++;
    if (state !== 'running') this.#connected = false;
    const wasFailed = this.#state === 'failed';
    this.#state = state;
    // The failed alert does not wait for the next evaluation.
    if ((state === 'failed') !== wasFailed) this.#evaluateAlerts(this.read());
  }

  get state(): StreamRunState {
    return this.#state;
  }

  /** Every figure now (cheap: counters read in place, the slot status as last polled). */
  read(now = Date.now()): StreamReading {
    const probe = this.#probe;
    const status = this.#poller.status;
    const slot = status?.slot ?? null;
    const queue = probe?.queue() ?? { bytes: 0, maxBytes: 0 };
    const confirmedLsn = probe?.confirmed() ?? null;
    const receivedLsn = probe?.received() ?? null;
    const progress = probe?.snapshot();
    const record = progress?.record;
    return {
      stream: this.name,
      at: now,
      state: this.#state,
      tally: this.#tally,
      eventsPerSecond: this.#history.eventsPerSecond(this.#tally.events, now),
      retries: this.#retries,
      deadLetters: this.#deadLetters,
      restarts: this.#restarts,
      connected: this.#connected,
      filtered: probe?.counters.filtered ?? 0,
      queue,
      receivedLsn,
      confirmedLsn,
      slotName: this.#config.source.slotName,
      slotStatus: status,
      lagBytes: status && slot?.confirmedFlushLsn != null ? Math.max(0, status.serverLsn - slot.confirmedFlushLsn) : null,
      lagSeconds: this.#lagSeconds(queue.bytes, receivedLsn, confirmedLsn, now),
      retainedWalBytes: status && slot?.restartLsn != null ? Math.max(0, status.serverLsn - slot.restartLsn) : null,
      snapshot:
        progress && record && record.tables.length > 0
          ? { status: record.status, kind: record.kind, running: record.status === 'running' && !progress.complete, tables: progress.figures(now) }
          : null,
      alerts: this.#alerts,
      debeziumName: recordTarget(this.#config.target)?.topicPrefix ?? this.name,
    };
  }

  async stats(): Promise<StreamStats> {
    const r = this.read();
    const { tally } = r;
    const slot = r.slotStatus?.slot ?? null;
    return {
      events: tally.events,
      transactions: tally.transactions,
      eventsPerSecond: r.eventsPerSecond,
      eventsByOperation: { c: tally.total('c'), u: tally.total('u'), d: tally.total('d'), t: tally.total('t'), r: tally.total('r'), m: tally.total('m') },
      bytes: tally.bytes,
      batches: tally.batches,
      confirmedLsn: r.confirmedLsn === null ? null : formatLsn(r.confirmedLsn),
      receivedLsn: r.receivedLsn === null ? null : formatLsn(r.receivedLsn),
      serverLsn: r.slotStatus ? formatLsn(r.slotStatus.serverLsn) : null,
      lagBytes: r.lagBytes,
      lagSeconds: r.lagSeconds,
      slot: r.slotStatus ? { walStatus: slot?.walStatus ?? null, retainedWalBytes: r.retainedWalBytes, active: slot?.active ?? null } : null,
      queue: r.queue,
      retries: r.retries,
      deadLetters: r.deadLetters,
      connected: r.connected,
      restarts: r.restarts,
      snapshot: r.snapshot && {
        status: r.snapshot.running ? 'running' : r.snapshot.status,
        tables: r.snapshot.tables.map((t) => ({
          table: t.name,
          rowsDone: t.rowsDone,
          estimatedRows: t.estimatedRows,
          chunksDone: t.chunksDone,
          chunks: t.chunks,
          rowsPerSecond: t.rowsPerSecond ?? null,
          etaSeconds: t.etaSeconds ?? null,
        })),
      },
      alerts: (r.alerts?.states ?? []).map((a) => ({ name: a.name, active: a.active, since: a.since === null ? null : new Date(a.since).toISOString(), value: a.value, threshold: a.threshold })),
    };
  }

  /** The last hour, one point every 5 seconds, the oldest first. */
  history(): readonly HistoryPoint[] {
    return this.#history.points();
  }

  /** Reads the slot status now (tests, and an API call that wants fresh figures). */
  pollSlot(): Promise<void> {
    return this.#poller.poll();
  }

  /** Resolves once every alert notification queued was sent or given up. */
  async alertsIdle(): Promise<void> {
    await this.#alerts?.idle();
  }

  close(): void {
    clearInterval(this.#timer);
    void this.#poller.close();
  }

  #startPoller(config: StreamConfig): SlotStatusPoller {
    const poller = new SlotStatusPoller(config.source.connection, config.source.slotName, this.#logger);
    poller.start(this.#context.slotPollIntervalMs ?? 5000);
    return poller;
  }

  #delivered(events: readonly StreamEvent[], bytes: number, writeSeconds: number): void {
    this.#tally.add(events, bytes);
    this.#context.batchWritten?.(this.name, writeSeconds);
  }

  /**
   * Now minus the commit time of the last delivered change, counted from no earlier than the last
   * moment nothing was pending (a change that arrives after an idle hour is not an hour late);
   * 0 while the stream runs with nothing pending.
   */
  #lagSeconds(queueBytes: number, received: Lsn | null, confirmed: Lsn | null, now: number): number | null {
    const running = this.#state === 'running' && this.#connected;
    const pending = queueBytes > 0 || (received !== null && confirmed !== null && received > confirmed);
    if (running && !pending && this.#probe !== undefined) {
      this.#caughtUpAt = now;
      return 0;
    }
    const since = Math.max(this.#tally.lastCommitMs ?? -Infinity, this.#caughtUpAt ?? -Infinity);
    return Number.isFinite(since) ? Math.max(0, (now - since) / 1000) : null;
  }

  #tick(): void {
    const now = Date.now();
    this.#history.sample(this.#tally.events, now);
    const reading = this.read(now);
    if (++this.#ticks % HISTORY_EVERY_TICKS === 0) {
      this.#history.addPoint({ t: Math.floor(now / 1000), eventsPerSecond: reading.eventsPerSecond, lagBytes: reading.lagBytes, lagSeconds: reading.lagSeconds });
    }
    if (this.#alerts && now - this.#lastEvaluation >= this.#alerts.evaluationIntervalMs - TICK_MS / 2) this.#evaluateAlerts(reading);
  }

  #evaluateAlerts(reading: StreamReading): void {
    if (!this.#alerts) return;
    this.#lastEvaluation = reading.at;
    this.#alerts.evaluate({ lagBytes: reading.lagBytes, lagSeconds: reading.lagSeconds, retainedWalBytes: reading.retainedWalBytes, deadLetters: reading.deadLetters, failed: reading.state === 'failed' }, reading.at);
  }
}
