/**
 * Cut-over help: sets every sequence the replicated tables own (serial and identity columns) on
 * the target to the source's current value, so that writes can move to the target without key
 * collisions. Run at `--stop-at`, after a tombstone, and by `pgcdc sync-sequences`.
 */
import type { TableDescription } from '../../ddl/table-description.js';
import { sequenceName } from '../../ddl/table-statements.js';
import type { CatalogQuery } from '../../decoding/values/type-catalog.js';
import type { Logger } from '../../logging/logger.js';
import { quoteLiteral } from '../../source/sql-quoting.js';
import type { WireConnection } from '../../source/wire/wire-connection.js';

/** Copies each owned sequence's position from the source; returns how many were set. */
export async function syncSequences(source: CatalogQuery, target: WireConnection, tables: readonly TableDescription[], logger: Logger): Promise<number> {
  let synced = 0;
  for (const sequence of tables.flatMap((table) => table.sequences)) {
    const name = sequenceName(sequence);
    let position: { last_value: string; is_called: boolean } | undefined;
    try {
      ({ rows: [position] } = await source(`SELECT last_value::text AS last_value, is_called FROM ${name}`, []));
    } catch (error) {
      logger.warn({ sequence: name, error: (error as Error).message }, 'cannot read a sequence on the source (grant SELECT on it); not synchronised');
      continue;
    }
    const outcome = await target.run(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${position!.last_value}, ${position!.is_called})`);
    if (outcome.failure) {
      logger.warn({ sequence: name, error: outcome.failure.message }, 'cannot set a sequence on the target; not synchronised');
      continue;
    }
    synced++;
  }
  return synced;
}
