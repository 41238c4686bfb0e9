/**
 * The stream's local state directory (SGStream's persistent volume): which slot this stream created
 * and on which server, so that a slot dropped behind its back is reported instead of silently
 * re-created (which would skip every change in between), and the progress of snapshots, so that an
 * interrupted one resumes. Written atomically; updates are serialised.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Lsn } from '../source/lsn.js';

export interface SlotRecord {
  readonly name: string;
  readonly systemId: string;
  readonly database: string;
  readonly createdAt: string;
  readonly consistentPoint: Lsn;
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
}

export type SnapshotStatus = 'running' | 'paused' | 'done' | 'stopped';

/** A snapshot's plan and progress. */
export interface SnapshotRecord {
  readonly id: string;
  /** `initial` reads at the slot's exported snapshot; `incremental` between watermarks while streaming. */
  readonly kind: 'initial' | 'incremental';
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
}

const FILE = 'stream-state.json';

export class StateStore {
  readonly dir: string;
  #updates: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads, changes and writes the state; concurrent updates run one after the other. */
  update(change: (state: StreamState) => StreamState): Promise<StreamState> {
    const next = this.#updates.then(async () => {
      const state = change(await this.read());
      await this.write(state);
      return state;
    });
    this.#updates = next.catch(() => undefined);
    return next;
  }

  /** Directory for spilled streamed transactions. */
  get spillDir(): string {
    return path.join(this.dir, 'spill');
  }

  async read(): Promise<StreamState> {
    const file = path.join(this.dir, FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, slot: undefined };
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

  async write(state: StreamState): Promise<void> {
    try {
      await fsp.mkdir(this.dir, { recursive: true });
      const file = path.join(this.dir, FILE);
      const temporary = `${file}.tmp`;
      const handle = await fsp.open(temporary, 'w');
      try {
        await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temporary, file);
      const dir = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    } catch (error) {
      throw new PgcdcError('STATE_INVALID', `cannot write the state directory ${this.dir}: ${(error as Error).message}`, {
        hint: 'make stateDir point to a writable directory',
      });
    }
  }

  /** Removes the whole state directory (teardown). */
  async remove(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
