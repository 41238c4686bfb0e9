/**
 * The stream's local state directory (SGStream's persistent volume): which slot this stream created
 * and on which server, so that a slot dropped behind its back is reported instead of silently
 * re-created (which would skip every change in between). Written atomically.
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

export interface StreamState {
  readonly version: 1;
  readonly slot: SlotRecord | undefined;
}

const FILE = 'stream-state.json';

export class StateStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
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
