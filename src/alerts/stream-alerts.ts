/**
 * A stream's alerts (`spec.alerts`): each threshold given is compared with the stream's figures at
 * every evaluation; one crossed for the `for` duration fires (a warning line naming the stream,
 * alert, value and threshold; the webhook told `firing`), and resolves once it is no longer crossed
 * (an info line; the webhook told `resolved`). A figure that is unknown (the slot status not read
 * yet) changes nothing. Dead letters per minute are counted over a sliding minute of evaluations.
 */
import { ALERT_NAMES, type AlertName, type AlertsConfig } from '../config/alert-settings.js';
import type { Logger } from '../logging/logger.js';
import { AlertWebhook } from './alert-webhook.js';

/** What the alerts are evaluated on. */
export interface AlertFigures {
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
  readonly retainedWalBytes: number | null;
  /** Dead letters since the metrics started (a running total). */
  readonly deadLetters: number;
  readonly failed: boolean;
}

/** One alert's state, for the API and the `pgcdc_alert_active` metric. */
export interface AlertState {
  readonly name: AlertName;
  readonly threshold: number;
  active: boolean;
  /** Unix milliseconds it fired, when active. */
  since: number | null;
  /** The figure at the last evaluation. */
  value: number | null;
  /** Since when the threshold has been crossed (before `for` elapsed). */
  crossedSince: number | null;
}

const MINUTE_MS = 60_000;

export class StreamAlerts {
  readonly #stream: string;
  readonly #config: AlertsConfig;
  readonly #logger: Logger;
  readonly #webhook: AlertWebhook | undefined;
  readonly states: readonly AlertState[];
  /** Dead-letter totals seen over the last minute, oldest first (one at or before the minute's start). */
  readonly #deadLetterSamples: { t: number; total: number }[] = [];

  constructor(stream: string, config: AlertsConfig, logger: Logger) {
    this.#stream = stream;
    this.#config = config;
    this.#logger = logger;
    this.#webhook = config.webhook && new AlertWebhook(config.webhook, logger);
    this.#deadLetterSamples.push({ t: Date.now(), total: 0 });
    this.states = ALERT_NAMES.filter((name) => config.thresholds[name] !== undefined).map((name) => ({
      name,
      threshold: config.thresholds[name]!,
      active: false,
      since: null,
      value: null,
      crossedSince: null,
    }));
  }

  get evaluationIntervalMs(): number {
    return this.#config.evaluationIntervalMs;
  }

  /** Compares every threshold with the figures; fires and resolves alerts. */
  evaluate(figures: AlertFigures, now = Date.now()): void {
    const perMinute = this.#deadLettersPerMinute(figures.deadLetters, now);
    for (const state of this.states) {
      const value = state.name === 'deadLettersPerMinute' ? perMinute : state.name === 'failed' ? (figures.failed ? 1 : 0) : figures[state.name];
      if (value === null) continue;
      state.value = value;
      const crossed = state.name === 'failed' ? value >= state.threshold : value > state.threshold;
      if (!crossed) {
        state.crossedSince = null;
        if (state.active) this.#resolve(state, now);
        continue;
      }
      state.crossedSince ??= now;
      if (!state.active && now - state.crossedSince >= this.#config.forMs) this.#fire(state, now);
    }
  }

  /** Resolves once every webhook notification queued was sent or given up. */
  async idle(): Promise<void> {
    await this.#webhook?.idle();
  }

  #fire(state: AlertState, now: number): void {
    state.active = true;
    state.since = now;
    this.#logger.warn(
      { stream: this.#stream, alert: state.name, value: state.value, threshold: state.threshold },
      `alert ${state.name} firing for stream ${this.#stream}: ${state.value} is above the threshold ${state.threshold}`,
    );
    this.#notify(state, 'firing', now);
  }

  #resolve(state: AlertState, now: number): void {
    state.active = false;
    state.since = null;
    this.#logger.info(
      { stream: this.#stream, alert: state.name, value: state.value, threshold: state.threshold },
      `alert ${state.name} resolved for stream ${this.#stream}: ${state.value} is back within the threshold ${state.threshold}`,
    );
    this.#notify(state, 'resolved', now);
  }

  #notify(state: AlertState, status: 'firing' | 'resolved', now: number): void {
    this.#webhook?.send({ stream: this.#stream, alert: state.name, status, value: state.value, threshold: state.threshold, at: new Date(now).toISOString() });
  }

  #deadLettersPerMinute(total: number, now: number): number {
    const samples = this.#deadLetterSamples;
    samples.push({ t: now, total });
    while (samples.length > 1 && samples[1]!.t <= now - MINUTE_MS) samples.shift();
    return total - samples[0]!.total;
  }
}
