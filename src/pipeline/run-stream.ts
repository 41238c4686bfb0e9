/**
 * `runStream` wires the whole pipeline by hand, top to bottom: check the source, make sure the
 * publication and slot exist, open the target, then stream (replication session → pgoutput
 * decoder → stream processor → delivery queue → target → checkpointer → standby status updates),
 * reconnecting with backoff when the connection drops, until stopped.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError, asPgcdcError, isRetryable } from '../errors/pgcdc-error.js';
import { PgoutputDecoder } from '../decoding/pgoutput-decoder.js';
import { RelationRegistry } from '../decoding/relation-registry.js';
import { TypeCatalog } from '../decoding/values/type-catalog.js';
import type { StreamEvent } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import { formatLsn, parseLsn, type Lsn } from '../source/lsn.js';
import { ensurePublication } from '../source/publication-manager.js';
import { ReplicationSession } from '../source/replication-session.js';
import { dropSlot, ensureSlot } from '../source/slot-manager.js';
import { assertChecksPass, checkSource } from '../source/source-prerequisites.js';
import { StandbyStatusReporter } from '../source/standby-status-reporter.js';
import { StateStore } from '../state/state-store.js';
import { createTarget } from '../targets/create-target.js';
import type { Target } from '../targets/target.js';
import { ChangeFilter } from './change-filter.js';
import { Checkpointer } from './checkpointer.js';
import { DeliveryQueue } from './delivery-queue.js';
import { MARKER_MESSAGE_PREFIX, StreamProcessor, newStreamCounters, type StreamCounters } from './stream-processor.js';
import { StreamedTransactionSpill } from './streamed-transaction-spill.js';

export interface RunStreamOptions {
  readonly logger: Logger;
  /** Stop once everything up to this position is delivered and acknowledged; `now` = the source's WAL position at start. */
  readonly stopAt?: 'now' | Lsn;
  /** Aborting stops the stream gracefully: what was received is delivered and acknowledged first. */
  readonly signal?: AbortSignal;
  /** A target to use instead of the one the spec names (library use, benchmarks). */
  readonly target?: Target;
  /** Called after each durable batch. */
  readonly onDelivered?: (events: readonly StreamEvent[]) => void;
  /** Reconnect backoff: first delay and cap, in milliseconds (default 1000 and 30000). */
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** Queue bounds in bytes (default 8 MiB waiting, 1 MiB per batch). */
  readonly queueBytes?: { readonly max: number; readonly batch: number };
}

export type StopReason = 'signal' | 'stop-at';

export interface RunStreamResult {
  readonly stopReason: StopReason;
  /** The slot position acknowledged when the stream stopped. */
  readonly confirmedLsn: Lsn;
  readonly counters: StreamCounters;
}

/** Runs a stream until it is stopped (signal or `stopAt`) or fails for good. */
export async function runStream(config: StreamConfig, options: RunStreamOptions): Promise<RunStreamResult> {
  const { logger } = options;
  for (const warning of config.warnings) logger.warn(warning);
  const { source } = config;
  if (source.snapshotMode !== 'never' && source.snapshotMode !== 'no_data') {
    throw new PgcdcError('CONFIG_INVALID', `snapshotMode ${source.snapshotMode} needs an initial snapshot, which this version of pgcdc cannot take yet`, {
      hint: 'set spec.source.postgres.snapshotMode (or debeziumProperties.snapshotMode) to never to stream changes only',
    });
  }
  const state = new StateStore(config.stateDir);
  const catalog = await CatalogConnection.open(source.connection);
  let target: Target | undefined;
  try {
    // 1. The source must be capturable; stop with the fix if it is not.
    const facts = await checkSource(catalog, config);
    for (const check of facts.checks) if (check.verdict === 'warn') logger.warn({ check: check.name, fix: check.hint }, check.message);
    assertChecksPass(facts.checks);
    const stopAt = options.stopAt === 'now' ? await currentWalPosition(catalog) : options.stopAt;

    // 2. Publication and slot.
    await ensurePublication(catalog, source, facts.capturedTables, logger);
    const slot = await ensureSlot(catalog, source.connection, source, state, logger);

    // 3. Target and the pipeline around it.
    target = options.target ?? createTarget(config, logger);
    await target.open();
    const checkpointer = new Checkpointer(slot.confirmedFlush);
    const queue = new DeliveryQueue(target, checkpointer, {
      maxBytes: options.queueBytes?.max ?? 8 * 1024 * 1024,
      maxBatchBytes: options.queueBytes?.batch ?? 1024 * 1024,
      ...(options.onDelivered ? { onDelivered: options.onDelivered } : {}),
    });
    const query = (text: string, params: unknown[]) => catalog.query(text, params);
    const registry = new RelationRegistry(query, new TypeCatalog(query), {
      filter: new ChangeFilter(source.includes, source.excludes),
      unavailableValuePlaceholder: source.unavailableValuePlaceholder,
    });
    const spill = new StreamedTransactionSpill(state.spillDir);
    logger.info(
      { slot: source.slotName, publication: source.publicationName, from: formatLsn(slot.confirmedFlush), target: config.target.type, ...(stopAt !== undefined ? { stopAt: formatLsn(stopAt) } : {}) },
      'streaming',
    );

    // 4. Stream, reconnecting after failures.
    const parts = { registry, queue, checkpointer, spill, counters: newStreamCounters() };
    const result = await streamWithRetries(config, options, parts, stopAt);
    if (source.slotDropOnStop) {
      await dropSlot(catalog, source.slotName);
      await state.remove();
      logger.info({ slot: source.slotName }, 'dropped the replication slot (slotDropOnStop)');
    }
    return result;
  } finally {
    await target?.close();
    await catalog.close();
  }
}

interface PipelineParts {
  readonly registry: RelationRegistry;
  readonly queue: DeliveryQueue;
  readonly checkpointer: Checkpointer;
  readonly spill: StreamedTransactionSpill;
  readonly counters: StreamCounters;
}

async function streamWithRetries(config: StreamConfig, options: RunStreamOptions, parts: PipelineParts, stopAt: Lsn | undefined): Promise<RunStreamResult> {
  const { logger } = options;
  const delays = options.retryDelayMs ?? { initial: 1000, max: 30_000 };
  let failures = 0;
  let slotFailures = 0;
  for (let connectedOnce = false; ; ) {
    const confirmedBefore = parts.checkpointer.confirmed;
    try {
      return await streamOnce(config, options, parts, stopAt, () => {
        connectedOnce = true;
        slotFailures = 0;
      });
    } catch (error) {
      const failure = asPgcdcError(error);
      // Deliver what was received before the failure; a failing target ends the run.
      await parts.queue.drain();
      // maxRetries bounds consecutive failures: a connection that made progress starts a new count.
      if (parts.checkpointer.confirmed > confirmedBefore) failures = 0;
      const slotBusy = failure.code === 'SLOT_ACTIVE';
      const unreachableAtStart = !connectedOnce && failure.code === 'SOURCE_UNREACHABLE';
      if (!isRetryable(failure) || unreachableAtStart) throw failure;
      if (slotBusy ? slotFailures >= config.source.slotMaxRetries : config.maxRetries >= 0 && failures >= config.maxRetries) throw failure;
      const delay = slotBusy ? config.source.slotRetryDelayMs : Math.min(delays.max, delays.initial * 2 ** failures);
      if (slotBusy) slotFailures++;
      else failures++;
      logger.warn({ error: failure.toLine(), code: failure.code, retryInMs: delay, confirmed: formatLsn(parts.checkpointer.confirmed) }, 'replication interrupted; reconnecting');
      if (await sleepUnlessAborted(delay, options.signal)) {
        return { stopReason: 'signal', confirmedLsn: parts.checkpointer.confirmed, counters: parts.counters };
      }
    }
  }
}

/** One replication connection, from START_REPLICATION to a graceful stop or a failure. */
async function streamOnce(config: StreamConfig, options: RunStreamOptions, parts: PipelineParts, stopAt: Lsn | undefined, onStarted: () => void): Promise<RunStreamResult> {
  const { source } = config;
  const { queue, checkpointer, spill, registry, counters } = parts;
  const session = await ReplicationSession.open(source.connection, (notice) => options.logger.debug({ notice }, 'server notice'));
  const reporter = new StandbyStatusReporter(session, checkpointer, source.statusIntervalMs);
  let stopPolling: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  try {
    // After a reconnect the server resends everything after the confirmed position.
    await spill.reset();
    registry.clear();
    checkpointer.resetPending();
    const processor = new StreamProcessor({ decoder: new PgoutputDecoder(session.protocolVersion), registry, queue, checkpointer, spill, counters }, source);
    processor.onReceived = (lsn) => reporter.received(lsn);
    processor.onKeepaliveSeen = (_walEnd, replyRequested) => replyRequested && reporter.send();
    const { ended } = await session.startReplication(
      { slotName: source.slotName, publicationNames: [source.publicationName], startLsn: checkpointer.confirmed, streamInProgress: source.streamInProgressTransactions },
      processor,
    );
    onStarted();
    reporter.start();
    const stopReason = await new Promise<StopReason>((resolve, reject) => {
      ended.then(() => reject(new PgcdcError('CONNECTION_LOST', 'the server ended the replication stream')), reject);
      queue.onFailure(reject);
      if (options.signal?.aborted) resolve('signal');
      options.signal?.addEventListener('abort', () => resolve('signal'), { once: true });
      if (stopAt !== undefined) {
        const check = (): void => {
          if (checkpointer.confirmed >= stopAt) resolve('stop-at');
        };
        unsubscribe = checkpointer.onAdvance(check);
        check();
        // Keepalives carry the server's position: ask for them so an idle source reaches stopAt.
        stopPolling = setInterval(() => reporter.send(true), 50);
      }
    });
    // Graceful stop: take nothing more, deliver what was taken, acknowledge it, end the stream.
    processor.stop();
    await queue.drain();
    reporter.send();
    session.endStreaming();
    await Promise.race([ended.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    options.logger.info({ confirmed: formatLsn(checkpointer.confirmed), reason: stopReason, ...counters }, 'stopped');
    return { stopReason, confirmedLsn: checkpointer.confirmed, counters };
  } finally {
    clearInterval(stopPolling);
    unsubscribe?.();
    reporter.stop();
    session.destroy();
  }
}

/**
 * The source's current WAL position, made reachable: a transactional marker message (never
 * delivered to targets) committed synchronously, which flushes every earlier commit, including
 * asynchronous ones, to the WAL the walsender reads. Its position is after all of them.
 */
async function currentWalPosition(catalog: CatalogConnection): Promise<Lsn> {
  await catalog.query('begin');
  try {
    await catalog.query('set local synchronous_commit = on');
    const { rows } = await catalog.query<{ lsn: string }>('select pg_logical_emit_message(true, $1, $2)::text as lsn', [MARKER_MESSAGE_PREFIX, 'stop-at']);
    await catalog.query('commit');
    return parseLsn(rows[0]!.lsn);
  } catch (error) {
    await catalog.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Sleeps; returns true if the signal aborted the wait. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
