/**
 * `runStream` wires the whole pipeline by hand, top to bottom: check the source, make sure the
 * signal table and publication exist, decide how to start (snapshot mode, slot, state), open the
 * target, take the initial snapshot when there is one, then stream (replication session →
 * pgoutput decoder → stream processor → delivery queue → target → checkpointer → standby status)
 * with incremental snapshots (or, for a target that loads tables itself, table synchronisation)
 * alongside, reconnecting with backoff, until stopped.
 */
import { recordTarget, type StreamConfig } from '../config/stream-config.js';
import { ddlCaptureInstalled, installDdlCapture, requireDdlCapture, targetReplaysDdl } from '../ddl/ddl-capture.js';
import { DDL_MESSAGE_PREFIX } from '../ddl/ddl-message.js';
import type { CatalogQuery } from '../decoding/values/type-catalog.js';
import { ColumnMasks } from '../decoding/values/column-masks.js';
import { RelationRegistry } from '../decoding/relation-registry.js';
import { TypeCatalog } from '../decoding/values/type-catalog.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { StreamEvent } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import { runInitialSnapshot } from '../snapshot/initial-snapshot.js';
import { SnapshotController } from '../snapshot/snapshot-controller.js';
import { watchSnapshotProgress } from '../snapshot/snapshot-progress-reporter.js';
import { ensureSignalTable, handleSignal, signalTableName, type StreamSignalHandlers } from '../snapshot/signals.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import { formatLsn, parseLsn, type Lsn } from '../source/lsn.js';
import { ensurePublication, unpublishedTables } from '../source/publication-manager.js';
import { dropSlot } from '../source/slot-manager.js';
import { assertChecksPass, checkSource } from '../source/source-prerequisites.js';
import { type StateStore, streamStateStore } from '../state/state-store.js';
import { checkTarget, createTarget } from '../targets/create-target.js';
import { COMMAND_MESSAGE_PREFIX } from '../targets/postgres/postgres-target.js';
import type { Target } from '../targets/target.js';
import { ChangeFilter } from './change-filter.js';
import { Checkpointer } from './checkpointer.js';
import { DeliveryQueue, EVENT_OVERHEAD } from './delivery-queue.js';
import { MARKER_MESSAGE_PREFIX, newStreamCounters, type StreamCounters } from './stream-processor.js';
import { streamWithRetries, type StopReason } from './stream-connection.js';
import { prepareStart } from './stream-start.js';
import { StreamedTransactionSpill } from './streamed-transaction-spill.js';
import type { StreamObserver } from './stream-observer.js';
import { TableDiscovery } from './table-discovery.js';
import { TableShortcuts } from '../transform/table-shortcuts.js';
import { withTransform } from '../transform/transforming-target.js';
import { tearDownStream } from './stream-teardown.js';

export type { StopReason } from './stream-connection.js';

export interface RunStreamOptions {
  readonly logger: Logger;
  /** Stop once everything up to this position is delivered and acknowledged; `now` = the source's WAL position at start. */
  readonly stopAt?: 'now' | Lsn;
  /**
   * Aborting stops the stream gracefully: the transaction being received is received whole (for up
   * to 30 s: a target keeping its first part would get it again), and what was received is
   * delivered and acknowledged first.
   */
  readonly signal?: AbortSignal;
  /** A target to use instead of the one the spec names (library use, benchmarks). */
  readonly target?: Target;
  /** Called after each durable batch. */
  readonly onDelivered?: (events: readonly StreamEvent[]) => void;
  /** Reconnect backoff: first delay and cap, in milliseconds (default 1000 and 30000). */
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** Queue bounds in bytes (default 4 MiB waiting, 1 MiB per batch). */
  readonly queueBytes?: { readonly max: number; readonly batch: number };
  /** Show snapshot progress on standard error's terminal (when it is one). */
  readonly progressDisplay?: boolean;
  /** Told the stream's live state and events (`pgcdc serve`'s metrics). */
  readonly observer?: StreamObserver;
}

export interface RunStreamResult {
  readonly stopReason: StopReason;
  /** The slot position acknowledged when the stream stopped. */
  readonly confirmedLsn: Lsn;
  readonly counters: StreamCounters;
}

/** Runs a stream until it is stopped (signal, `stopAt`, initial_only done) or fails for good. */
export async function runStream(config: StreamConfig, options: RunStreamOptions): Promise<RunStreamResult> {
  if (config.kafkaSource !== undefined) {
    const { runKafkaSourcedStream } = await import('../kafka-source/kafka-sourced-stream.js');
    return runKafkaSourcedStream(config, options);
  }
  const { logger } = options;
  for (const warning of config.warnings) logger.warn(warning);
  if (options.target === undefined) await checkTarget(config, logger);
  const { source } = config;
  const catalog = await CatalogConnection.open(source.connection);
  const state = streamStateStore(catalog, config);
  const snapshotStop = new AbortController();
  const background: Promise<unknown>[] = [];
  let target: Target | undefined;
  let discovery: TableDiscovery | undefined;
  let stopWatching: (() => void) | undefined;
  /** The session that exported the new slot's snapshot, until streaming takes it over. */
  let exportingSession: { destroy(): void } | undefined;
  try {
    // 1. The source must be capturable; stop with the fix if it is not.
    const facts = await checkSource(catalog, config);
    for (const check of facts.checks) if (check.verdict === 'warn') logger.warn({ check: check.name, fix: check.hint }, check.message);
    assertChecksPass(facts.checks);
    const signalTable = (await ensureSignalTable(catalog, source, logger)) ? signalTableName(source) : undefined;
    if (source.captureDdl) {
      if ((await requireDdlCapture((text, params) => catalog.query(text, params))) === 'installed') logger.info('installed DDL capture (event triggers) on the source');
    } else if (targetReplaysDdl(config.target)) await ensureDdlCapture(catalog, logger);
    let stopAt = options.stopAt === 'now' ? await currentWalPosition(catalog) : options.stopAt;

    // 2. Publication, then how to start: it may create the slot with an exported snapshot.
    const unpublished = await unpublishedTables(catalog, source.publicationName, facts.capturedTables);
    await ensurePublication(catalog, source, facts.capturedTables, logger, signalTable);
    const start = await prepareStart(catalog, config, state, logger);
    if (start.kind === 'exported') exportingSession = start.slot.session;
    if (start.kind === 'finished') {
      logger.info('the initial_only snapshot of this stream is already done');
      return { stopReason: 'snapshot-complete', confirmedLsn: 0, counters: newStreamCounters() };
    }

    // 3. Target and the pipeline around it.
    target = await withTransform(options.target ?? (await createTarget(config, logger, options.observer)), config, logger, options.observer);
    await target.open();
    const checkpointer = new Checkpointer(start.position);
    const queue = new DeliveryQueue(target, checkpointer, {
      maxBytes: options.queueBytes?.max ?? 4 * 1024 * 1024,
      maxBatchBytes: options.queueBytes?.batch ?? 1024 * 1024,
      ...(options.onDelivered ? { onDelivered: options.onDelivered } : {}),
      ...(options.observer?.delivered ? { onBatchDurable: options.observer.delivered.bind(options.observer) } : {}),
      ...(target.batching ? { linger: target.batching } : {}),
    });
    const query: CatalogQuery = (text, params) => catalog.query(text, params);
    const tableFilter = new ChangeFilter(source.includes, source.excludes);
    const registry = new RelationRegistry(query, new TypeCatalog(query), {
      filter: tableFilter,
      unavailableValuePlaceholder: source.unavailableValuePlaceholder,
      ...(signalTable ? { signalTable } : {}),
      masks: new ColumnMasks(source.columnMasks),
      messageKeyColumns: config.target.type === 'Kafka' ? [...config.target.keyColumns, ...source.messageKeyColumns] : source.messageKeyColumns,
      structuredAsText: recordTarget(config.target)?.schemasEnable === true,
      ...(config.target.type === 'Kafka' && config.target.valueRepresentations !== undefined ? { representations: config.target.valueRepresentations } : {}),
      ...(config.transform === undefined ? {} : { shortcuts: new TableShortcuts(config.transform, source.unavailableValuePlaceholder) }),
      onUnmaskable: (column, typeName) =>
        logger.warn({ column, type: typeName }, `${column} is named by a column mask rule but is of type ${typeName}, not a character type: its values are not masked (as in Debezium)`),
    });
    const loader = target.snapshotLoader;
    const snapshots = new SnapshotController({
      catalog,
      source,
      registry,
      state,
      queue,
      logger,
      // A target that loads tables itself gets them by table synchronisation, never between watermarks.
      ...(loader ? { tableSync: { connection: source.connection, catalog, slotName: source.slotName, loader, queue, parallelism: source.snapshotParallelism, logger } } : {}),
    });
    stopWatching = watchSnapshotProgress(snapshots, logger, options.progressDisplay ?? false);
    // Watchers see the live parts from here on, through the initial snapshot too.
    const counters = newStreamCounters();
    let received: Lsn = start.position;
    options.observer?.attached?.({
      counters,
      confirmed: () => checkpointer.confirmed,
      received: () => Math.max(received, checkpointer.confirmed),
      queue: () => ({ bytes: queue.queuedBytes, maxBytes: queue.maxBytes }),
      snapshot: () => snapshots.progress,
    });

    // 4. The snapshot this start needs; a target keeping tables creates them first.
    const capturedOids = (await snapshots.capturedTables()).map((t) => t.oid);
    if (start.kind === 'exported') {
      const tables = await snapshots.planAll('initial', source.snapshotChunkRows);
      await target.prepareTables?.(query, capturedOids, loader ? { tables: [...tables.keys()], position: start.position } : undefined);
      const outcome = await runInitialSnapshot({
        connection: source.connection,
        snapshotName: start.slot.snapshotName,
        consistentPoint: start.position,
        progress: snapshots.progress,
        tables,
        queue,
        ...(loader ? { loader } : {}),
        parallelism: source.snapshotParallelism,
        logger,
        guard: catalog,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (outcome === 'stopped') {
        start.slot.session.destroy();
        await queue.drain();
        logger.info('stopped during the initial snapshot; the next run finishes it');
        return { stopReason: 'signal', confirmedLsn: start.position, counters: newStreamCounters() };
      }
      // Tables DDL changed since the slot's snapshot are still pending: read (or synchronised) while streaming.
      if (outcome === 'done') {
        await loader?.finishLoad();
        await snapshots.progress.setStatus('done');
        if (source.snapshotMode === 'initial_only') {
          start.slot.session.destroy();
          await forgetSlot(catalog, config, state, logger);
          await target.syncSequences?.(query);
          return { stopReason: 'snapshot-complete', confirmedLsn: start.position, counters: newStreamCounters() };
        }
      }
    } else {
      await target.prepareTables?.(query, capturedOids, undefined);
      if (start.kind === 'incremental') {
        await snapshots.planAll(source.snapshotMode === 'initial' || source.snapshotMode === 'initial_only' ? 'initial' : 'incremental', source.incrementalSnapshotChunkRows);
      } else if (start.kind === 'resume') {
        await snapshots.resume(start.record);
      } else {
        // A table the publication did not publish before this start (created, or newly selected,
        // while the stream was stopped) is left to table discovery, which snapshots it below: the
        // slot never carried its rows.
        await snapshots.markAllKnown(source.snapshotMode === 'never' || source.snapshotMode === 'no_data' ? [] : unpublished);
      }
    }

    // 5. Stream, with incremental snapshots (or table synchronisation) and table discovery alongside.
    let snapshotDone!: () => void;
    const untilSnapshotDone = new Promise<void>((resolve) => (snapshotDone = resolve));
    const checkSnapshotDone = (): void => {
      if (snapshots.progress.complete) snapshotDone();
    };
    // Changes that blocking snapshots' rows hold are dropped, also after a restart.
    await snapshots.coverage.load();
    if (snapshots.snapshotter) background.push(snapshots.snapshotter.run(snapshotStop.signal, checkSnapshotDone));
    else checkSnapshotDone();
    if (source.tableDiscoveryIntervalMs > 0) {
      discovery = new TableDiscovery({ catalog, source, snapshots, logger, signalTable, intervalMs: source.tableDiscoveryIntervalMs });
      // Tables new since the last run are planned before streaming starts.
      await discovery.check();
      discovery.start();
    }
    // A stop (--stop-at, initial_only) waits until tables copied at a later snapshot are consistent with the rest.
    const catchUp = snapshots.tableSync !== undefined && (stopAt !== undefined || source.snapshotMode === 'initial_only');
    logger.info(
      { slot: source.slotName, publication: source.publicationName, from: formatLsn(start.position), target: config.target.type, ...(stopAt !== undefined ? { stopAt: formatLsn(stopAt) } : {}) },
      'streaming',
    );
    let tombstoned!: () => void;
    const tombstone = new Promise<void>((resolve) => (tombstoned = resolve));
    const signals: StreamSignalHandlers = {
      snapshots,
      tombstone: (at) => {
        logger.info('tombstone signal: stopping once everything before it is delivered');
        const stop = checkpointer.onAdvance((confirmed) => {
          if (confirmed < at.txn.commitLsn) return;
          stop();
          tombstoned();
        });
      },
      command: (sql, at) => {
        if (config.target.type !== 'Postgres') {
          throw new PgcdcError('CONFIG_INVALID', `command signals run SQL on a Postgres target; this stream's target is ${config.target.type}`);
        }
        const content = Buffer.from(sql, 'utf8');
        return queue.push({ kind: 'message', prefix: COMMAND_MESSAGE_PREFIX, content, txn: at.txn, lsn: at.lsn }, content.length + EVENT_OVERHEAD);
      },
    };
    const stopReason = await streamWithRetries(
      config,
      {
        registry,
        queue,
        checkpointer,
        spill: new StreamedTransactionSpill(state.spillDir),
        counters,
        snapshotter: snapshots.snapshotter,
        snapshotCoverage: snapshots.coverage,
        ...(target.prepareTables ? { requiredMessagePrefixes: [DDL_MESSAGE_PREFIX] } : {}),
        // A target that keeps tables replays the DDL messages themselves; the others get schema-change events.
        ...(source.captureDdl && !target.prepareTables ? { schemaChanges: tableFilter } : {}),
        onSignal: (id, type, data, at) => handleSignal(id, type, data, at, signals, logger),
      },
      {
        logger,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(stopAt !== undefined ? { stopAt } : {}),
        // --stop-at also waits for the snapshot planned at start; initial_only stops when it is done.
        stopAtAfter: untilSnapshotDone,
        ...(source.snapshotMode === 'initial_only' && !catchUp ? { until: untilSnapshotDone } : {}),
        ...(snapshots.pausedStreamWork ? { tableSync: { synchronizer: snapshots.pausedStreamWork, catchUp, afterSync: checkSnapshotDone } } : {}),
        tombstone,
        ...(start.kind === 'exported' ? { session: start.slot.session } : {}),
        ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
        ...(options.observer ? { observer: options.observer } : {}),
        onReceived: (lsn) => {
          if (lsn > received) received = lsn;
        },
      },
    );
    // Cut-over: a target keeping tables takes the source's sequence values when the stream ends for good.
    if (stopReason === 'stop-at' || stopReason === 'tombstone' || stopReason === 'snapshot-complete') await target.syncSequences?.(query);
    const initialOnlyDone = source.snapshotMode === 'initial_only' && stopReason === 'stop-at' && snapshots.progress.complete;
    if (stopReason === 'tombstone') await afterTombstone(catalog, config, logger);
    else if (stopReason === 'snapshot-complete' || source.slotDropOnStop || initialOnlyDone) await forgetSlot(catalog, config, state, logger);
    return { stopReason, confirmedLsn: checkpointer.confirmed, counters };
  } finally {
    // Left open when something failed before streaming began: it would keep the process alive.
    exportingSession?.destroy();
    discovery?.stop();
    stopWatching?.();
    snapshotStop.abort();
    await Promise.allSettled(background);
    await target?.close();
    await catalog.close();
  }
}

/** Drops the slot when the stream no longer needs it (initial_only done, slotDropOnStop). */
async function forgetSlot(catalog: CatalogConnection, config: StreamConfig, state: StateStore, logger: Logger): Promise<void> {
  await dropSlot(catalog, config.source.slotName);
  await state.update((current) => ({ ...current, slot: undefined }));
  logger.info({ slot: config.source.slotName }, 'dropped the replication slot');
}

/** Installs DDL capture on the source when missing (schema changes then reach the target in order). */
async function ensureDdlCapture(catalog: CatalogConnection, logger: Logger): Promise<void> {
  const query: CatalogQuery = (text, params) => catalog.query(text, params);
  if (await ddlCaptureInstalled(query)) return;
  const result = await installDdlCapture(query);
  if (result.installed) logger.info('installed DDL capture (event triggers) on the source');
  else logger.warn(result.warning);
}

/** After a tombstone: the stream is over; drop its slot and publication unless told to keep them. */
async function afterTombstone(catalog: CatalogConnection, config: StreamConfig, logger: Logger): Promise<void> {
  if (config.source.skipDropReplicationSlotAndPublicationOnTombstone) {
    logger.info({ slot: config.source.slotName, publication: config.source.publicationName }, 'stream ended by a tombstone signal; slot and publication kept');
    return;
  }
  const { slotDropped, publicationDropped } = await tearDownStream(catalog, config, 10_000);
  logger.info({ slot: config.source.slotName, slotDropped, publication: config.source.publicationName, publicationDropped }, 'stream ended by a tombstone signal; slot and publication dropped');
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
