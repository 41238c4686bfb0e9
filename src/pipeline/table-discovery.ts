/**
 * Finds tables that appear while the stream runs (or while it was stopped) and that the filters
 * select: adds them to a filtered publication and, unless the snapshot mode is never, snapshots
 * them between watermarks, so they join the stream with their existing rows.
 */
import type { SourceConfig } from '../config/stream-config.js';
import type { Logger } from '../logging/logger.js';
import type { SnapshotController } from '../snapshot/snapshot-controller.js';
import type { CatalogConnection } from '../source/catalog-connection.js';
import { ensurePublication } from '../source/publication-manager.js';

export interface TableDiscoveryOptions {
  readonly catalog: CatalogConnection;
  readonly source: SourceConfig;
  readonly snapshots: SnapshotController;
  readonly logger: Logger;
  readonly signalTable: { readonly schema: string; readonly table: string } | undefined;
  readonly intervalMs: number;
}

export class TableDiscovery {
  readonly #options: TableDiscoveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: TableDiscoveryOptions) {
    this.#options = options;
  }

  /** Looks now, then every interval (never two looks at once). */
  start(): void {
    const look = (): void => {
      this.#running ??= this.check()
        .catch((error: unknown) => this.#options.logger.warn({ error: (error as Error).message }, 'looking for new tables failed; trying again later'))
        .finally(() => (this.#running = undefined));
    };
    look();
    this.#timer = setInterval(look, this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One look: new captured tables are published and snapshotted (or just known, without snapshots). */
  async check(): Promise<void> {
    const { catalog, source, snapshots, logger, signalTable } = this.#options;
    const fresh = await snapshots.newTables();
    if (fresh.length === 0) return;
    logger.info({ tables: fresh.map((t) => `${t.schema}.${t.table}`) }, 'new tables to capture');
    await ensurePublication(catalog, source, await snapshots.capturedTables(), logger, signalTable);
    if (source.snapshotMode === 'never' || source.snapshotMode === 'no_data') await snapshots.markKnown(fresh);
    else await snapshots.snapshotTables(fresh);
  }
}
