/**
 * Removing what a stream set up on the source: the replication slot, the publication (unless it
 * is user-managed), DDL capture (database-wide: every stream of the database loses it) and the
 * local state. `pgcdc teardown` and the `tombstone` signal both use it.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { removeDdlCapture } from '../ddl/ddl-capture.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { dropPublication } from '../source/publication-manager.js';
import { dropSlot } from '../source/slot-manager.js';
import { StateStore } from '../state/state-store.js';

export interface TeardownResult {
  readonly slotDropped: boolean;
  readonly publicationDropped: boolean;
}

/**
 * Drops the slot (waiting up to `slotWaitMs` for a walsender that is just ending to release it),
 * the publication, and the state directory.
 */
export async function tearDownStream(catalog: CatalogConnection, config: StreamConfig, slotWaitMs = 0): Promise<TeardownResult> {
  const slotDropped = await dropSlotWhenReleased(catalog, config.source.slotName, slotWaitMs);
  const publicationDropped = await dropPublication(catalog, config.source);
  await removeDdlCapture((text, params) => catalog.query(text, params));
  await new StateStore(config.stateDir).remove();
  return { slotDropped, publicationDropped };
}

async function dropSlotWhenReleased(catalog: CatalogConnection, slotName: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await dropSlot(catalog, slotName);
    } catch (error) {
      if (!(error instanceof PgcdcError) || error.code !== 'SLOT_ACTIVE' || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
