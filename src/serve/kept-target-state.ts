/**
 * The target state of a stream of `pgcdc serve`'s directory kept across restarts, as Kafka
 * Connect keeps a connector's in its config topic: a paused or stopped stream has a
 * `<name>.state` file beside its spec (`{"state":"PAUSED"}` or `STOPPED`, written whole and
 * synced by whole-file-write), which the directory reads when it loads the stream; a resumed one has none. Stream
 * names hold no dot, so the file never collides with a spec, and the directory's scan reads no
 * `.state` file.
 */
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileWhole } from './whole-file-write.js';

export type KeptTargetState = 'paused' | 'stopped';

const CONNECT_NAMES: Readonly<Record<KeptTargetState, string>> = { paused: 'PAUSED', stopped: 'STOPPED' };

function stateFile(dir: string, name: string): string {
  return path.join(dir, `${name}.state`);
}

/** The state kept for stream `name`, or undefined (run it). An unreadable file counts as none. */
export async function readKeptTargetState(dir: string, name: string): Promise<KeptTargetState | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile(dir, name), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state = (JSON.parse(text) as { state?: unknown }).state;
    return state === 'PAUSED' ? 'paused' : state === 'STOPPED' ? 'stopped' : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps `state` for stream `name` durably (undefined: forgets it, the stream runs at the next start). */
export async function keepTargetState(dir: string, name: string, state: KeptTargetState | undefined): Promise<void> {
  const file = stateFile(dir, name);
  if (state === undefined) {
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    return;
  }
  await writeFileWhole(dir, path.basename(file), `${JSON.stringify({ state: CONNECT_NAMES[state] })}\n`);
}
