/**
 * Decides how a run starts, from the snapshot mode (Debezium's meanings), the slot and the local
 * state: take the initial snapshot from a new slot's exported snapshot, snapshot between
 * watermarks while streaming from an existing slot, resume an interrupted snapshot, just stream,
 * or (initial_only, already done) nothing at all. Creates the slot when the start needs one.
 */
import type { StreamConfig } from '../config/stream-config.js';
import type { Logger } from '../logging/logger.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import type { Lsn } from '../source/lsn.js';
import { createSlotWithSnapshot, dropSlot, ensureSlot, readSlot, type SlotWithSnapshot } from '../source/slot-manager.js';
import type { SnapshotRecord, StateStore } from '../state/state-store.js';
import { PgcdcError } from '../errors/pgcdc-error.js';

export type StreamStart =
  /** A new slot: read everything at its exported snapshot, then stream. */
  | { readonly kind: 'exported'; readonly position: Lsn; readonly slot: SlotWithSnapshot }
  /** An existing slot without a snapshot: snapshot between watermarks while streaming. */
  | { readonly kind: 'incremental'; readonly position: Lsn }
  /** An interrupted snapshot: finish it between watermarks while streaming. */
  | { readonly kind: 'resume'; readonly position: Lsn; readonly record: SnapshotRecord }
  /** Stream only. */
  | { readonly kind: 'stream'; readonly position: Lsn }
  /** initial_only, and the snapshot is already done. */
  | { readonly kind: 'finished' };

export async function prepareStart(catalog: CatalogConnection, config: StreamConfig, state: StateStore, logger: Logger): Promise<StreamStart> {
  const { source } = config;
  const mode = source.snapshotMode;
  const recorded = await state.read();
  // A snapshot left running or paused by an earlier run of this stream (with its slot).
  const unfinished = recorded.snapshot?.status === 'running' || recorded.snapshot?.status === 'paused';
  const interrupted = unfinished && recorded.slot?.name === source.slotName ? recorded.snapshot : undefined;
  if (mode === 'initial_only' && recorded.initialSnapshotDone) return { kind: 'finished' };

  let slot = await readSlot(catalog, source.slotName);
  const ours = recorded.slot?.name === source.slotName;
  const lost = (!slot && ours && !recorded.slot?.pending) || slot?.walStatus === 'lost';
  if (slot && !ours && (mode === 'initial' || mode === 'initial_only')) throw unknownSlot(config);
  if (lost && mode === 'when_needed') {
    logger.warn({ slot: source.slotName }, 'the replication slot is gone or invalidated: taking a new snapshot (when_needed)');
    if (slot) await dropSlot(catalog, source.slotName);
    await state.update((current) => ({ ...current, slot: undefined, snapshot: undefined, initialSnapshotDone: false, knownTables: [] }));
    slot = undefined;
  }
  const wantsSnapshot =
    mode === 'always' || mode === 'when_needed' ? !slot : (mode === 'initial' || mode === 'initial_only') && !recorded.initialSnapshotDone;
  if (!slot && !lost && (wantsSnapshot || mode === 'when_needed') && !interrupted) {
    const created = await createSlotWithSnapshot(source.connection, source, state, logger);
    return { kind: 'exported', position: created.consistentPoint, slot: created };
  }
  // Every other start streams from an existing slot (ensureSlot reports a lost one).
  const { confirmedFlush } = await ensureSlot(catalog, source.connection, source, state, logger);
  if (interrupted) return { kind: 'resume', position: confirmedFlush, record: interrupted };
  if (mode === 'always' || wantsSnapshot) return { kind: 'incremental', position: confirmedFlush };
  return { kind: 'stream', position: confirmedFlush };
}

/**
 * The slot exists but this stream's state has no record of it: never start over silently (the
 * slot may belong to a run whose snapshot is done, with its state removed, or to another tool).
 */
function unknownSlot(config: StreamConfig): PgcdcError {
  const { slotName } = config.source;
  return new PgcdcError('STATE_INVALID', `replication slot "${slotName}" exists, but pgcdc.stream_state on the source has no record of it, so whether this stream's snapshot was taken is unknown`, {
    hint:
      'adopt the slot with "pgcdc init -c FILE" then run, to take the snapshot while streaming from it; or set snapshotMode: no_data to stream only; ' +
      'or run "pgcdc teardown -c FILE" (drops the slot) then run, to start afresh',
  });
}
