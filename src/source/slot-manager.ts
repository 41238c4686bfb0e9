/**
 * Finds, creates and drops the stream's durable pgoutput replication slot. A slot this stream
 * created earlier (recorded in the state directory) that has since disappeared or been invalidated
 * is an error, never silently re-created: the changes in between would be lost.
 */
import type { ConnectionConfig, SourceConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import type { StateStore } from '../state/state-store.js';
import type { CatalogConnection } from './catalog-connection.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';
import { ReplicationSession, type CreatedSlot } from './replication-session.js';

export interface SlotPosition {
  /** The slot's confirmed_flush_lsn: streaming resumes after it. */
  readonly confirmedFlush: Lsn;
  readonly created: boolean;
}

export interface SlotDetails {
  readonly name: string;
  readonly plugin: string | null;
  readonly slotType: string;
  readonly database: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly confirmedFlush: Lsn | undefined;
  readonly restartLsn: Lsn | undefined;
  readonly walStatus: string | null;
}

const SLOT_SQL = `
  select slot_name, plugin, slot_type, database, active, active_pid,
         confirmed_flush_lsn::text as confirmed_flush, restart_lsn::text as restart_lsn, wal_status
    from pg_replication_slots where slot_name = $1`;

/** Reads the slot, or undefined when it does not exist. */
export async function readSlot(catalog: CatalogConnection, name: string): Promise<SlotDetails | undefined> {
  const { rows } = await catalog.query(SLOT_SQL, [name]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    name: row.slot_name,
    plugin: row.plugin,
    slotType: row.slot_type,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    confirmedFlush: row.confirmed_flush ? parseLsn(row.confirmed_flush) : undefined,
    restartLsn: row.restart_lsn ? parseLsn(row.restart_lsn) : undefined,
    walStatus: row.wal_status,
  };
}

/**
 * Returns the slot's position, creating the slot if this stream never had one. An existing slot
 * the state has no record of (made by `pg_create_logical_replication_slot`, another tool, or a
 * pgcdc whose state was removed) is adopted: recorded as this stream's.
 */
export async function ensureSlot(
  catalog: CatalogConnection,
  connection: ConnectionConfig,
  source: SourceConfig,
  state: StateStore,
  logger: Logger,
): Promise<SlotPosition> {
  const name = source.slotName;
  const existing = await readSlot(catalog, name);
  const recorded = (await state.read()).slot;
  if (existing) {
    const confirmedFlush = usablePosition(existing, connection.database);
    if (recorded?.name !== name || recorded.pending) await recordSlot(catalog, name, state, confirmedFlush);
    return { confirmedFlush, created: false };
  }
  if (recorded && recorded.name === name && !recorded.pending) {
    throw new PgcdcError('SLOT_LOST', `replication slot "${name}" that this stream created on ${recorded.createdAt} no longer exists`, {
      hint: `changes since then may be lost: run "pgcdc teardown -c FILE" to forget it, then "pgcdc run" to start over (with a snapshot, per snapshotMode)`,
    });
  }
  const session = await ReplicationSession.open(connection);
  try {
    const slot = await createRecordedSlot(session, name, false, state, logger);
    return { confirmedFlush: slot.consistentPoint, created: true };
  } finally {
    await session.close();
  }
}

/** A new slot whose exported snapshot stays usable while `session` runs no other command. */
export interface SlotWithSnapshot {
  readonly session: ReplicationSession;
  readonly consistentPoint: Lsn;
  readonly snapshotName: string;
}

/** Creates the slot with an exported snapshot, for the initial snapshot; the caller keeps `session`. */
export async function createSlotWithSnapshot(connection: ConnectionConfig, source: SourceConfig, state: StateStore, logger: Logger): Promise<SlotWithSnapshot> {
  const session = await ReplicationSession.open(connection);
  try {
    const slot = await createRecordedSlot(session, source.slotName, true, state, logger);
    if (!slot.snapshotName) throw new PgcdcError('PROTOCOL', 'CREATE_REPLICATION_SLOT exported no snapshot');
    return { session, consistentPoint: slot.consistentPoint, snapshotName: slot.snapshotName };
  } catch (error) {
    session.destroy();
    throw error;
  }
}

/**
 * A temporary slot (dropped when `session` closes) whose exported snapshot and consistent point
 * give a new starting point for tables whose load starts again while the stream's own slot stays.
 */
export async function createTemporarySnapshot(connection: ConnectionConfig, name: string, logger: Logger, signal?: AbortSignal): Promise<SlotWithSnapshot> {
  const session = await ReplicationSession.open(connection);
  // Aborting gives up the creation (it may wait for running transactions): the session goes, and the temporary slot with it.
  const giveUp = (): void => session.destroy();
  if (signal?.aborted) giveUp();
  signal?.addEventListener('abort', giveUp, { once: true });
  try {
    const slot = await session.createSlot(name, { exportSnapshot: true, temporary: true });
    if (!slot.snapshotName) throw new PgcdcError('PROTOCOL', 'CREATE_REPLICATION_SLOT exported no snapshot');
    logger.info({ slot: name, consistentPoint: formatLsn(slot.consistentPoint) }, 'created a temporary slot for a new snapshot');
    return { session, consistentPoint: slot.consistentPoint, snapshotName: slot.snapshotName };
  } catch (error) {
    session.destroy();
    throw error;
  } finally {
    signal?.removeEventListener('abort', giveUp);
  }
}

/** Records an existing slot the state does not know as this stream's. */
async function recordSlot(catalog: CatalogConnection, name: string, state: StateStore, position: Lsn): Promise<void> {
  const { rows } = await catalog.query<{ system_id: string; database: string }>('select system_identifier::text as system_id, current_database() as database from pg_control_system()');
  await state.update((current) => ({
    ...current,
    slot: { name, systemId: rows[0]!.system_id, database: rows[0]!.database, createdAt: new Date().toISOString(), consistentPoint: position },
  }));
}

/**
 * Creates the slot, recorded as pending first: whatever instant the process dies at, a slot that
 * exists has a record saying it is this stream's.
 */
async function createRecordedSlot(session: ReplicationSession, name: string, exportSnapshot: boolean, state: StateStore, logger: Logger): Promise<CreatedSlot> {
  const identity = await session.identifySystem();
  const record = { name, systemId: identity.systemId, database: identity.database, createdAt: new Date().toISOString(), consistentPoint: 0 };
  await state.update((current) => ({ ...current, slot: { ...record, pending: true } }));
  const slot = await session.createSlot(name, { exportSnapshot });
  await state.update((current) => ({ ...current, slot: { ...record, consistentPoint: slot.consistentPoint } }));
  logger.info({ slot: name, consistentPoint: formatLsn(slot.consistentPoint) }, 'created replication slot');
  return slot;
}

/** Drops the slot if it exists; fails if a consumer is still attached. */
export async function dropSlot(catalog: CatalogConnection, name: string): Promise<boolean> {
  const slot = await readSlot(catalog, name);
  if (!slot) return false;
  if (slot.active) {
    throw new PgcdcError('SLOT_ACTIVE', `replication slot "${name}" is in use by process ${slot.activePid}`, {
      hint: 'stop the pgcdc (or other consumer) reading it first',
    });
  }
  await catalog.query('select pg_drop_replication_slot($1)', [name]);
  return true;
}

function usablePosition(slot: SlotDetails, database: string): Lsn {
  if (slot.slotType !== 'logical' || slot.plugin !== 'pgoutput') {
    throw new PgcdcError('CONFIG_INVALID', `replication slot "${slot.name}" exists but is a ${slot.slotType} slot for plugin ${slot.plugin ?? 'none'}`, {
      hint: 'choose another slotName, or drop that slot if nothing uses it',
    });
  }
  if (slot.database !== database) {
    throw new PgcdcError('CONFIG_INVALID', `replication slot "${slot.name}" belongs to database ${slot.database}, not ${database}`, {
      hint: 'choose another slotName for this database',
    });
  }
  if (slot.walStatus === 'lost') {
    throw new PgcdcError('SLOT_LOST', `replication slot "${slot.name}" was invalidated: the WAL it needed was removed (max_slot_wal_keep_size)`, {
      hint: 'changes were lost: run "pgcdc teardown -c FILE", then "pgcdc run" to start over with a snapshot',
    });
  }
  return slot.confirmedFlush ?? 0;
}
