/**
 * Streaming over replication connections: one connection from START_REPLICATION to a graceful stop
 * or a failure (`streamOnce`), and the loop around it (`streamWithRetries`): reconnecting with
 * backoff, and synchronising tables between two connections when a target loads them itself.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError, asPgcdcError, isRetryable } from '../errors/pgcdc-error.js';
import { PgoutputDecoder } from '../decoding/pgoutput-decoder.js';
import type { Logger } from '../logging/logger.js';
import { formatLsn, type Lsn } from '../source/lsn.js';
import { ReplicationSession } from '../source/replication-session.js';
import type { PausedStreamWork } from '../snapshot/paused-stream-work.js';
import { StandbyStatusReporter } from '../source/standby-status-reporter.js';
import { sleepUnlessAborted } from './abortable-waits.js';
import { SourceHeartbeat } from './source-heartbeat.js';
import type { StreamObserver } from './stream-observer.js';
import { StreamProcessor, type StreamProcessorParts } from './stream-processor.js';

export type StopReason = 'signal' | 'stop-at' | 'snapshot-complete' | 'tombstone';

/**
 * How long a graceful stop waits for the transaction being received to end. Stopping in its middle
 * leaves its first part with a target that keeps what it takes (a broker, an endpoint), and the
 * slot sends the whole transaction again at the next start: a duplicate a stop should not cause.
 */
const STOP_TRANSACTION_WAIT_MS = 30_000;

/** Everything that lives across connections: what a stream processor needs but its decoder. */
export type PipelineParts = Omit<StreamProcessorParts, 'decoder'>;

export interface StreamingOptions {
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Stop once the confirmed position reaches it (and `stopAtAfter` has resolved, when given). */
  readonly stopAt?: Lsn;
  /** What `stopAt` also waits for: the snapshot planned at start. */
  readonly stopAtAfter?: Promise<void>;
  /** Stop once it resolves (initial_only snapshots finished while streaming). */
  readonly until?: Promise<void>;
  /** Stop once it resolves: a tombstone signal was delivered. */
  readonly tombstone?: Promise<void>;
  /** A session already open on the slot (the one that exported the initial snapshot). */
  readonly session?: ReplicationSession;
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** Tables the target loads itself, synchronised while the stream is stopped (see snapshot/table-sync). */
  readonly tableSync?: TableSyncStep;
  /** Told when the replication connection opens and closes. */
  readonly observer?: StreamObserver;
  /** Called with the end of each message received (and each keepalive's position). */
  readonly onReceived?: (lsn: Lsn) => void;
}

export interface TableSyncStep {
  /** Table synchronisation (a target that loads tables itself) or blocking snapshots. */
  readonly synchronizer: PausedStreamWork;
  /**
   * Raise `stopAt` to each synchronisation's position: a stop then waits until the tables copied at
   * a later snapshot are consistent with the others (`--stop-at`, initial_only).
   */
  readonly catchUp: boolean;
  /** Called after each synchronisation. */
  readonly afterSync: () => void;
}

/**
 * Streams until stopped; reconnects with backoff after retryable failures. When tables wait to be
 * synchronised, the stream stops at a transaction boundary, they are copied, and it goes on.
 */
export async function streamWithRetries(config: StreamConfig, parts: PipelineParts, options: StreamingOptions): Promise<StopReason> {
  const { logger, tableSync } = options;
  const delays = options.retryDelayMs ?? { initial: 1000, max: 30_000 };
  let failures = 0;
  let slotFailures = 0;
  let session = options.session;
  let stopAt = options.stopAt;
  for (let connectedOnce = false; ; ) {
    const confirmedBefore = parts.checkpointer.confirmed;
    try {
      if (tableSync?.synchronizer.hasWork) {
        const reached = await tableSync.synchronizer.run(options.signal);
        if (reached === undefined) return 'signal';
        if (tableSync.catchUp && reached > 0) stopAt = Math.max(stopAt ?? 0, reached);
        tableSync.afterSync();
      }
      const outcome = await streamOnce(config, parts, { ...options, ...(stopAt !== undefined ? { stopAt } : {}) }, session, () => {
        connectedOnce = true;
        slotFailures = 0;
      });
      session = undefined;
      if (outcome !== 'sync') return outcome;
    } catch (error) {
      session = undefined;
      let failure = asPgcdcError(error);
      // Deliver what was received before the failure; a target failing for good ends the run.
      try {
        await parts.queue.drain();
      } catch (targetFailure) {
        failure = asPgcdcError(targetFailure);
        if (!isRetryable(failure)) throw failure;
        await parts.queue.reset(); // what was not delivered comes again from the acknowledged position
      }
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
      if (await sleepUnlessAborted(delay, options.signal)) return 'signal';
    }
  }
}

/** Resolves once `processor` handed over the transaction it is receiving, or after STOP_TRANSACTION_WAIT_MS. */
function transactionEnded(processor: StreamProcessor): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_TRANSACTION_WAIT_MS)));
  return Promise.race([processor.stopAtTransactionEnd(), waited]).finally(() => clearTimeout(timer));
}

/**
 * One replication connection, from START_REPLICATION to a graceful stop or a failure; `sync` when
 * it stopped at a transaction boundary for tables to be synchronised.
 */
async function streamOnce(
  config: StreamConfig,
  parts: PipelineParts,
  options: StreamingOptions,
  open: ReplicationSession | undefined,
  onStarted: () => void,
): Promise<StopReason | 'sync'> {
  const { source } = config;
  const { queue, checkpointer, spill, registry, counters } = parts;
  const session = open ?? (await ReplicationSession.open(source.connection, (notice) => options.logger.debug({ notice }, 'server notice')));
  const reporter = new StandbyStatusReporter(session, checkpointer, source.statusIntervalMs);
  const heartbeat =
    source.heartbeatIntervalMs > 0
      ? new SourceHeartbeat({ connection: source.connection, intervalMs: source.heartbeatIntervalMs, actionQuery: source.heartbeatActionQuery, logger: options.logger, requestKeepalive: () => reporter.send(true) })
      : undefined;
  let stopPolling: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopWaitingForWork: (() => void) | undefined;
  let sessionProcessor: StreamProcessor | undefined;
  try {
    // After a reconnect the server resends everything after the confirmed position.
    await spill.reset();
    registry.clear();
    checkpointer.resetPending();
    const processor = new StreamProcessor({ ...parts, decoder: new PgoutputDecoder(session.protocolVersion) }, source);
    sessionProcessor = processor;
    const onReceived = options.onReceived;
    processor.onReceived = onReceived
      ? (lsn) => {
          reporter.received(lsn);
          onReceived(lsn);
        }
      : (lsn) => reporter.received(lsn);
    processor.onKeepaliveSeen = (_walEnd, replyRequested) => replyRequested && reporter.send();
    const { ended } = await session.startReplication(
      { slotName: source.slotName, publicationNames: [source.publicationName], startLsn: checkpointer.confirmed, streamInProgress: source.streamInProgressTransactions },
      processor,
    );
    onStarted();
    options.observer?.connection?.('connected');
    reporter.start();
    heartbeat?.start();
    const stopReason = await new Promise<StopReason | 'sync'>((resolve, reject) => {
      ended.then(() => reject(new PgcdcError('CONNECTION_LOST', 'the server ended the replication stream')), reject);
      // Tables to synchronise: finish the transaction being received, then stop for them.
      stopWaitingForWork = options.tableSync?.synchronizer.onWork(() => void processor.stopAtTransactionEnd().then(() => resolve('sync')));
      queue.onFailure(reject);
      if (options.signal?.aborted) resolve('signal');
      options.signal?.addEventListener('abort', () => void transactionEnded(processor).then(() => resolve('signal')), { once: true });
      options.until?.then(() => resolve('snapshot-complete'), reject);
      options.tombstone?.then(() => resolve('tombstone'), reject);
      const stopAt = options.stopAt;
      if (stopAt !== undefined) {
        let ready = options.stopAtAfter === undefined;
        const check = (): void => {
          if (ready && checkpointer.confirmed >= stopAt) resolve('stop-at');
        };
        options.stopAtAfter?.then(() => {
          ready = true;
          check();
        }, reject);
        unsubscribe = checkpointer.onAdvance(check);
        check();
        // Keepalives carry the server's position: ask for them so an idle source reaches stopAt.
        stopPolling = setInterval(() => reporter.send(true), 50);
      }
    });
    // Graceful stop: take nothing more (a signal waited for the transaction being received to end),
    // deliver what was taken, acknowledge it, end the stream.
    processor.stop();
    await queue.drain();
    reporter.send();
    session.endStreaming();
    await Promise.race([ended.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (stopReason === 'sync') options.logger.info({ confirmed: formatLsn(checkpointer.confirmed) }, 'streaming paused to copy tables');
    else options.logger.info({ confirmed: formatLsn(checkpointer.confirmed), reason: stopReason, ...counters }, 'stopped');
    return stopReason;
  } finally {
    // Messages this session received before it ended may still be waiting behind a pending step
    // (a relation's catalog lookup): none may reach the queue, which the next session refills
    // from the slot, nor the checkpointer.
    sessionProcessor?.stop();
    options.observer?.connection?.('disconnected');
    clearInterval(stopPolling);
    unsubscribe?.();
    stopWaitingForWork?.();
    const heartbeatStopped = heartbeat?.stop(); // no beat asks for a keepalive from here on
    reporter.stop();
    session.destroy();
    await heartbeatStopped;
  }
}
