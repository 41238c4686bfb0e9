/**
 * Which changes a blocking snapshot's rows already hold: for each table a blocking snapshot read
 * completely at position P, the stream drops the table's changes committed before P (the exported
 * snapshot saw them; delivered after the rows, they would be applied twice). Kept in the stream's
 * state with the table's last chunk, so the rule survives a restart that streams from before P.
 */
import type { Lsn } from '../source/lsn.js';
import type { StateStore } from '../state/state-store.js';

export class SnapshotCoverage {
  readonly #state: StateStore;
  readonly #positions = new Map<number, Lsn>();

  constructor(state: StateStore) {
    this.#state = state;
  }

  /** Reads the positions recorded in the stream's state (before streaming, and after each blocking snapshot). */
  async load(): Promise<void> {
    const recorded = (await this.#state.read()).snapshotCoverage ?? {};
    this.#positions.clear();
    for (const [oid, position] of Object.entries(recorded)) this.#positions.set(Number(oid), position);
  }

  /**
   * Whether a change of table `oid` committed at `commitLsn` is in a blocking snapshot's rows. A
   * commit record before the snapshot's consistent point is visible to the exported snapshot, one
   * after it is not (as PostgreSQL's table synchronisation decides).
   */
  covers(oid: number, commitLsn: Lsn): boolean {
    return this.#positions.size > 0 && commitLsn < (this.#positions.get(oid) ?? 0);
  }
}
