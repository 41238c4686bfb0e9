/**
 * Reads and rewrites a stream's state where pgcdc keeps it (pgcdc.stream_state on the source),
 * for tests that look at snapshot progress or stage a crash.
 */
import type { StreamState } from '../../src/state/state-store.js';
import { sql } from './postgres.js';

/** The state of the stream reading `slot`, or undefined when none is stored yet. */
export async function readStreamState(url: string, slot: string): Promise<StreamState | undefined> {
  const exists = (await sql(url, "select to_regclass('pgcdc.stream_state') is not null as found")).rows[0].found as boolean;
  if (!exists) return undefined;
  const { rows } = await sql(url, 'select state from pgcdc.stream_state where slot_name = $1', [slot]);
  return rows[0]?.state as StreamState | undefined;
}

/** Replaces the stored state of the stream reading `slot`. */
export async function writeStreamState(url: string, slot: string, state: StreamState): Promise<void> {
  await sql(url, 'update pgcdc.stream_state set state = $2::jsonb where slot_name = $1', [slot, JSON.stringify(state)]);
}
