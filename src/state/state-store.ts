/**
 * A stream's state: which slot this stream created and on which server (so that a slot dropped
 * behind its back is reported instead of silently re-created, which would skip every change in
 * between), and the progress of snapshots (so that an interrupted one resumes). A stream's
 * identity is its slot, so the state is kept next to the slot, in the source database
 * (`pgcdc.stream_state`, one row per slot): every run finds it, from whatever directory or
 * machine. Updates are serialised; each is one atomic UPDATE. The local state directory holds
 * only what can be lost: spilled in-progress transactions (the server sends them again) and the
 * default dead-letter file. A state file an older pgcdc left there is taken over once.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { StreamConfig } from '../config/stream-config.js';
import type { Lsn } from '../source/lsn.js';

export interface SlotRecord {
  readonly name: string;
  readonly systemId: string;
  readonly database: string;
  readonly createdAt: string;
  readonly consistentPoint: Lsn;
  /**
   * Written just before the slot is created and cleared once it exists: a slot found with a
   * pending record is this stream's (created, then the process died), a missing one was never made.
   */
  readonly pending?: boolean;
}

/** A range of heap pages `[fromPage, toPage)`; `toPage` null reaches the end of the table. */
export interface ChunkRecord {
  readonly fromPage: number;
  readonly toPage: number | null;
  readonly done: boolean;
}

export interface SnapshotTableRecord {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly estimatedRows: number;
  readonly rowsDone: number;
  /** Extra SQL condition (execute-snapshot `additional-conditions`). */
  readonly condition: string | undefined;
  readonly chunks: readonly ChunkRecord[];
  /**
   * A blocking snapshot's position P: the table's rows are read as of P (its changes committed
   * before P are in them). Cleared when the table's snapshot is stopped.
   */
  readonly position?: Lsn | undefined;
}

export type SnapshotStatus = 'running' | 'paused' | 'done' | 'stopped';

/** A snapshot's plan and progress. */
export interface SnapshotRecord {
  readonly id: string;
  /**
   * `initial` reads at the slot's exported snapshot; `incremental` between watermarks while
   * streaming; `blocking` at a temporary slot's exported snapshot while streaming waits.
   */
  readonly kind: 'initial' | 'incremental' | 'blocking';
  readonly status: SnapshotStatus;
  readonly startedAt: string;
  readonly finishedAt: string | undefined;
  readonly tables: readonly SnapshotTableRecord[];
}

export interface StreamState {
  readonly version: 1;
  readonly slot: SlotRecord | undefined;
  /** The latest snapshot, running or finished. */
  readonly snapshot?: SnapshotRecord | undefined;
  /** The initial snapshot (snapshotMode initial/initial_only) has completed. */
  readonly initialSnapshotDone?: boolean;
  /**
   * `schema.table` of every table the stream has taken on: copied completely by a snapshot, or
   * captured when streaming started without one. Captured tables not listed are new.
   */
  readonly knownTables?: readonly string[];
  /**
   * Table OID → position P of the blocking snapshot that last read the table completely: the
   * stream drops the table's changes committed before P (the snapshot's rows hold them).
   */
  readonly snapshotCoverage?: Readonly<Record<string, Lsn>>;
}

/** The file older versions kept the state in, under the state directory. */
const LEGACY_FILE = 'stream-state.json';

/** Where the state lives in the source database. */
export const STATE_TABLE = { schema: 'pgcdc', table: 'stream_state' } as const;

const CREATE_SQL = `
  CREATE TABLE IF NOT EXISTS pgcdc.stream_state (
    slot_name text PRIMARY KEY,
    stream text NOT NULL,
    state jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`;

const EMPTY: StreamState = { version: 1, slot: undefined };

/** Runs one parameterised query on the source. */
export type StateQuery = (text: string, params?: unknown[]) => Promise<{ rows: any[] }>;

/** The state store of `config`'s stream on its source (read and written through `catalog`). */
export function streamStateStore(catalog: { query: StateQuery }, config: StreamConfig): StateStore {
  return new StateStore((text, params) => catalog.query(text, params), config.source.slotName, config.name, config.stateDir);
}

export class StateStore {
  /** The local directory: spill files, default dead letters. */
  readonly dir: string;
  readonly #query: StateQuery;
  readonly #slotName: string;
  readonly #stream: string;
  #updates: Promise<unknown> = Promise.resolve();
  #tableReady = false;

  /** The state of the stream `stream` whose slot is `slotName`, read and written with `query`. */
  constructor(query: StateQuery, slotName: string, stream: string, dir: string) {
    this.#query = query;
    this.#slotName = slotName;
    this.#stream = stream;
    this.dir = dir;
  }

  /**
   * Reads, changes and writes the state; concurrent updates run one after the other. A change
   * that changes nothing writes nothing (each write is a transaction on the source).
   */
  update(change: (state: StreamState) => StreamState): Promise<StreamState> {
    const next = this.#updates.then(async () => {
      const current = await this.read();
      const state = change(current);
      if (!isDeepStrictEqual(state, current)) await this.write(state);
      return state;
    });
    this.#updates = next.catch(() => undefined);
    return next;
  }

  /** Directory for spilled streamed transactions. */
  get spillDir(): string {
    return path.join(this.dir, 'spill');
  }

  /** The stored state; an empty one when the stream has none (nor a state file of an older pgcdc). */
  async read(): Promise<StreamState> {
    const rows = (await this.#tableExists()) ? await this.#run('read', `SELECT state FROM pgcdc.stream_state WHERE slot_name = $1`, [this.#slotName]) : [];
    if (rows.length === 0) return (await this.#takeOverLegacyState()) ?? EMPTY;
    const state = rows[0].state as StreamState;
    if (state.version !== 1) {
      throw new PgcdcError('STATE_INVALID', `the state of slot "${this.#slotName}" in pgcdc.stream_state has unknown version ${String(state.version)}`, {
        hint: 'it was written by a newer pgcdc: run that version',
      });
    }
    return state;
  }

  async write(state: StreamState): Promise<void> {
    await this.#ensureTable();
    await this.#run(
      'write',
      `INSERT INTO pgcdc.stream_state (slot_name, stream, state) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (slot_name) DO UPDATE SET stream = excluded.stream, state = excluded.state, updated_at = now()`,
      [this.#slotName, this.#stream, JSON.stringify(state)],
    );
  }

  /** Forgets the stream: its row, and the local directory. */
  async remove(): Promise<void> {
    if (await this.#tableExists()) await this.#run('remove', `DELETE FROM pgcdc.stream_state WHERE slot_name = $1`, [this.#slotName]);
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  /**
   * The state file an older pgcdc kept in the local directory, if there is one: stored in the
   * database and renamed (`.taken-over`), so that it is read once.
   */
  async #takeOverLegacyState(): Promise<StreamState | undefined> {
    const file = path.join(this.dir, LEGACY_FILE);
    const state = await this.#legacyState(file);
    if (state === undefined) return undefined;
    await this.write(state);
    await fsp.rename(file, `${file}.taken-over`);
    return state;
  }

  async #legacyState(file: string): Promise<StreamState | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new PgcdcError('STATE_INVALID', `cannot read ${file}: ${(error as Error).message}`, { hint: 'check the permissions of the state directory (stateDir)' });
    }
    try {
      const state = JSON.parse(text) as StreamState;
      if (state.version !== 1) throw new Error(`unknown version ${String(state.version)}`);
      return state;
    } catch (error) {
      throw new PgcdcError('STATE_INVALID', `${file} is corrupt: ${(error as Error).message}`, {
        hint: `remove ${file} if the slot it describes is gone, or restore it from a backup`,
      });
    }
  }

  /** Whether pgcdc.stream_state exists (nothing was ever stored when it does not). */
  async #tableExists(): Promise<boolean> {
    if (!this.#tableReady) {
      const [found] = await this.#run('find', `SELECT to_regclass('pgcdc.stream_state') IS NOT NULL AS found`, []);
      this.#tableReady = found.found === true;
    }
    return this.#tableReady;
  }

  async #ensureTable(): Promise<void> {
    if (await this.#tableExists()) return;
    // Existence first: CREATE … IF NOT EXISTS still needs the privilege to create.
    const [found] = await this.#run('find', `SELECT to_regnamespace('pgcdc') IS NOT NULL AS found`, []);
    if (!found.found) await this.#run('create', 'CREATE SCHEMA IF NOT EXISTS pgcdc', []);
    await this.#run('create', CREATE_SQL, []);
    this.#tableReady = true;
  }

  /** Runs a state statement; failures become errors that say what could not be done and the fix. */
  async #run(what: string, text: string, params: unknown[]): Promise<any[]> {
    try {
      return (await this.#query(text, params)).rows;
    } catch (error) {
      const denied = error instanceof PgcdcError ? error.code === 'PERMISSION_DENIED' : (error as { code?: string }).code === '42501';
      const message = `cannot ${what} the stream's state in pgcdc.stream_state on the source: ${(error as Error).message}`;
      if (denied) {
        throw new PgcdcError('PERMISSION_DENIED', message, {
          cause: error,
          hint: 'grant the role CREATE on the database (for the pgcdc schema), or create the schema and GRANT USAGE, CREATE ON SCHEMA pgcdc TO it',
        });
      }
      if (error instanceof PgcdcError) throw error;
      throw new PgcdcError('STATE_INVALID', message, { cause: error });
    }
  }
}
