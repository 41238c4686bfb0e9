/**
 * PgLambda target: a StackGres PgLambda script run by pgcdc itself, once per event. Each change is
 * rendered as the structured CloudEvent StackGres would POST to its function (cloudevent-records)
 * and handed to the script in the sandbox (script-sandbox), which answers like an HTTP handler.
 *
 * The sandbox runs on the main thread (synchronously, or, with the network grant, waiting for the
 * script's fetches without blocking), so events go one at a time, in commit order,
 * through one lane of the generic delivery machinery (targets/delivery): a script that throws,
 * runs out of time or memory, or answers a status outside 200-299 is retried with backoff, then
 * the event is dead-lettered or stops the stream. A write resolves once every event of the batch
 * succeeded or was durably set aside, so the slot never advances past an unprocessed event.
 * What the script logs goes to pgcdc's log with the event's id and position.
 */
import type { PgLambdaTargetConfig, StreamConfig } from '../../config/stream-config.js';
import type { EventBatch } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { formatLsn } from '../../source/lsn.js';
import { type CloudEventBatch, CloudEventRenderer } from '../cloudevent/cloudevent-records.js';
import { deadLetterSetup } from '../delivery/dead-letter-setup.js';
import type { DeadLetterStore } from '../delivery/dead-letter-store.js';
import { DeliveryFailure } from '../delivery/delivery-failure.js';
import { type DeliveryChannel, type DeliveryObserver, ReliableDelivery } from '../delivery/reliable-delivery.js';
import { sgStreamRetryPolicy } from '../delivery/retry-backoff.js';
import type { Target } from '../target.js';
import type { ConsoleLevel } from './sandbox-isolate.js';
import { ScriptSandbox } from './script-sandbox.js';
import { outcomeError } from './script-outcome.js';

const SETTINGS = 'spec.target.pgLambda';

/** The log method of each console level (`console.log` is info). */
const LOG_METHODS: Readonly<Record<ConsoleLevel, 'info' | 'debug' | 'warn' | 'error'>> = { log: 'info', info: 'info', debug: 'debug', warn: 'warn', error: 'error' };

export class PgLambdaTarget implements Target {
  readonly #renderer: CloudEventRenderer;
  readonly #sandbox: ScriptSandbox;
  readonly #store: DeadLetterStore | undefined;
  readonly #delivery: ReliableDelivery;
  readonly #logger: Logger;
  /** The event the script is running for, to tag what it logs. */
  #current: { records: CloudEventBatch; index: number } | undefined;

  /** @throws PgcdcError CONFIG_INVALID when the script does not compile (with its line) */
  constructor(config: PgLambdaTargetConfig, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver) {
    this.#logger = logger;
    this.#renderer = CloudEventRenderer.forStream(stream, true);
    const deadLetter = deadLetterSetup(config.deadLetter, stream, SETTINGS);
    this.#store = deadLetter.store;
    this.#delivery = new ReliableDelivery({
      // One lane, one event per call: the sandbox runs one event at a time anyway, and a retried
      // event must not run the events before it again.
      limits: { concurrency: 1, maxGroupItems: 1, maxGroupBytes: Number.MAX_SAFE_INTEGER },
      retry: sgStreamRetryPolicy(config.retryLimit, config.retryBackoffDelaySeconds),
      maxItemBytes: Number.MAX_SAFE_INTEGER,
      deadLetter: deadLetter.handling,
      logger,
      itemName: 'PgLambda event',
      policySetting: `${SETTINGS}.deadLetter.policy`,
      observer,
    });
    this.#sandbox = openSandbox(config, (level, message) => this.#log(level, message));
  }

  async open(): Promise<void> {
    await this.#store?.open();
  }

  async write(batch: EventBatch): Promise<void> {
    const records = this.#renderer.render(batch.events);
    if (records.count === 0) return;
    await this.#delivery.deliver(records, this.#channel(records));
  }

  async close(): Promise<void> {
    this.#sandbox.close();
    await this.#store?.close();
  }

  #channel(records: CloudEventBatch): DeliveryChannel {
    return {
      send: async (group) => this.#invoke(records, group[0]!),
      describe: (index) => ({ id: records.id(index), event: records.record(index) }),
    };
  }

  /** Runs the script for one event; a failure (or an answer outside 2xx) is worth retrying. */
  async #invoke(records: CloudEventBatch, index: number): Promise<void> {
    this.#current = { records, index };
    let outcome;
    try {
      outcome = await this.#sandbox.invoke(records.record(index).toString('utf8'));
    } finally {
      this.#current = undefined;
    }
    const error = outcomeError(outcome);
    if (error !== undefined) throw new DeliveryFailure(error.message, { retryable: true, scope: 'event', cause: error, ...(error.hint === undefined ? {} : { hint: error.hint }) });
  }

  /** A line the script logged, with the id and position of the event it runs for. */
  #log(level: ConsoleLevel, message: string): void {
    const current = this.#current;
    const lsn = current?.records.lsn(current.index);
    const fields = { script: 'pgLambda', id: current?.records.id(current.index), ...(lsn === undefined ? {} : { lsn: formatLsn(lsn) }) };
    this.#logger[LOG_METHODS[level]](fields, message);
  }
}

/** The script compiled in its sandbox, before any event. */
export function openSandbox(config: PgLambdaTargetConfig, onConsole?: (level: ConsoleLevel, message: string) => void): ScriptSandbox {
  return ScriptSandbox.open({
    script: config.script,
    origin: config.origin,
    memoryLimitMb: config.memoryLimitMb,
    timeoutMs: config.timeoutMs,
    ...(config.grants === undefined ? {} : { grants: config.grants }),
    ...(onConsole === undefined ? {} : { onConsole }),
  });
}
