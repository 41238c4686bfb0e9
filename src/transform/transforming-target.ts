/**
 * The transform stage of a stream (`spec.transform`): wraps the target so that each batch passes
 * through `keepOperations` and the JavaScript function before the target encodes it. It runs for
 * every event target and every path into the queue (streaming, snapshots). An event the function
 * fails for either fails the batch's write with TRANSFORM_FAILED (policy `stop`: the stream stops
 * there, nothing of the batch acknowledged, the event named), or is stored in the dead-letter store
 * (durably, before the rest of its batch is written) and left out. The declarative column
 * shortcuts are not here: the relation registry applies them once per table (`table-shortcuts`).
 */
import { recordTarget, type StreamConfig } from '../config/stream-config.js';
import type { TransformConfig } from '../config/transform-settings.js';
import type { EventBatch, StreamEvent } from '../events/stream-event.js';
import { EventIds } from '../events/event-ids.js';
import type { Logger } from '../logging/logger.js';
import type { DeliveryObserver } from '../targets/delivery/reliable-delivery.js';
import { formatLsn } from '../source/lsn.js';
import { deadLetterSetup } from '../targets/delivery/dead-letter-setup.js';
import type { DeadLetterStore } from '../targets/delivery/dead-letter-store.js';
import type { Target, WrittenBatch } from '../targets/target.js';
import type { EventTransform, TransformFailure } from './event-transform.js';
import { OperationFilter } from './operation-filter.js';

/** Prefix of the ids of the dead letters a transform stores (apart from the target's own). */
const LETTER_ID_PREFIX = 'transform:';

/** `target` behind the transform stage the stream asks for, or `target` itself when there is nothing to do per event. */
export async function withTransform(target: Target, stream: StreamConfig, logger: Logger, observer?: DeliveryObserver): Promise<Target> {
  const transform = stream.transform;
  if (transform === undefined) return target;
  const operations = new OperationFilter(transform.keepOperations);
  const script = transform.script;
  if (operations.isEmpty && script === undefined) return target;
  if (script === undefined) return new TransformingTarget(target, operations, undefined, logger, observer);
  const [{ TransformSandbox }, { EventTransform }] = await Promise.all([import('./transform-sandbox.js'), import('./event-transform.js')]);
  const sandbox = new TransformSandbox(script, (level, line) => {
    const fields = { transform: script.origin };
    if (level === 'error') logger.error(fields, line);
    else if (level === 'warn') logger.warn(fields, line);
    else if (level === 'debug') logger.debug(fields, line);
    else logger.info(fields, line);
  });
  const { store } = deadLetterSetup(transform.deadLetter, stream, 'spec.transform');
  const events = new EventTransform(sandbox, { ...script, policy: transform.deadLetter.policy, newFieldsAsText: recordTarget(stream.target)?.schemasEnable === true });
  return new TransformingTarget(target, operations, { events, store, dispose: () => sandbox.dispose() }, logger, observer);
}

/** Compiles the transform function (before anything touches the source): a CONFIG_INVALID error when it cannot be used. */
export async function checkTransform(transform: TransformConfig | undefined): Promise<void> {
  if (transform?.script === undefined) return;
  const { TransformSandbox } = await import('./transform-sandbox.js');
  new TransformSandbox(transform.script, () => undefined).dispose();
}

/** The function's part of the stage. */
interface ScriptStage {
  readonly events: EventTransform;
  /** Undefined with the stop policy. */
  readonly store: DeadLetterStore | undefined;
  readonly dispose: () => void;
}

class TransformingTarget implements Target {
  readonly #inner: Target;
  readonly #operations: OperationFilter;
  readonly #script: ScriptStage | undefined;
  readonly #logger: Logger;
  readonly #observer: DeliveryObserver | undefined;
  readonly #ids = new EventIds();
  readonly batching?: Target['batching'];

  constructor(inner: Target, operations: OperationFilter, script: ScriptStage | undefined, logger: Logger, observer: DeliveryObserver | undefined) {
    this.#inner = inner;
    this.#observer = observer;
    this.#operations = operations;
    this.#script = script;
    this.#logger = logger;
    if (inner.batching !== undefined) this.batching = inner.batching;
  }

  async open(): Promise<void> {
    await this.#script?.store?.open();
    await this.#inner.open();
  }

  write(batch: EventBatch): Promise<void | WrittenBatch> {
    const kept = this.#operations.isEmpty ? batch.events : this.#operations.apply(batch.events);
    if (this.#script === undefined) return this.#inner.write(kept === batch.events ? batch : { events: kept });
    return this.#writeTransformed(kept, this.#script);
  }

  /** Runs the function over the batch (synchronously, or awaiting its fetches when the network is granted), then writes what it kept. */
  async #writeTransformed(kept: readonly StreamEvent[], script: ScriptStage): Promise<void | WrittenBatch> {
    const { events, failures } = await script.events.apply(kept);
    if (failures.length > 0) await this.#setAside(failures);
    return this.#inner.write({ events });
  }

  /** Stores the events the function failed for, durably, before anything after them is acknowledged. */
  async #setAside(failures: readonly TransformFailure[]): Promise<void> {
    const store = this.#script!.store!;
    const failedAt = new Date();
    const letters = failures.map((failure) => ({
      id: LETTER_ID_PREFIX + this.#ids.idOf(failure.event.op, failure.event),
      event: Buffer.from(failure.eventJson, 'utf8'),
      error: failure.error,
      attempts: 1,
      failedAt,
    }));
    await store.add(letters);
    this.#observer?.deadLettered?.(letters.length);
    for (const failure of failures) {
      const { event } = failure;
      this.#logger.warn({ table: `${event.table.schema}.${event.table.table}`, lsn: formatLsn(event.lsn), deadLetters: store.description }, `transform failed, event dead-lettered: ${failure.error}`);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#inner.close();
    } finally {
      this.#script?.dispose();
      await this.#script?.store?.close();
    }
  }
}
