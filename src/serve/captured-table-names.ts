/**
 * The `schema.table` names a served stream captures (its filters applied to the source's tables),
 * for the dashboard's snapshot picker; read from the source, and kept for a while so that a
 * dashboard polling every stream does not query the source on each poll.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { ChangeFilter } from '../pipeline/change-filter.js';
import { listSourceTables, selectCapturedTables } from '../source/captured-tables.js';
import { CatalogConnection } from '../source/catalog-connection.js';

const KEPT_MS = 30_000;

/** The captured tables of one stream, read at most every 30 seconds. */
export class CapturedTableNames {
  #config: StreamConfig;
  #names: readonly string[] = [];
  #readAt = -Infinity;
  #reading: Promise<readonly string[]> | undefined;

  constructor(config: StreamConfig) {
    this.#config = config;
  }

  /** A changed spec may capture other tables. */
  reconfigure(config: StreamConfig): void {
    this.#config = config;
    this.#readAt = -Infinity;
  }

  /** The names as last read (empty if the source could not be read), read again when old. */
  get(): Promise<readonly string[]> {
    if (Date.now() - this.#readAt < KEPT_MS) return Promise.resolve(this.#names);
    this.#reading ??= readCapturedTableNames(this.#config)
      .catch(() => this.#names)
      .then((names) => {
        this.#names = names;
        this.#readAt = Date.now();
        this.#reading = undefined;
        return names;
      });
    return this.#reading;
  }
}

/** Reads the tables the stream's filters select, signal table excluded. */
export async function readCapturedTableNames(config: StreamConfig): Promise<string[]> {
  const catalog = await CatalogConnection.open(config.source.connection);
  try {
    const filter = new ChangeFilter(config.source.includes, config.source.excludes);
    return selectCapturedTables(await listSourceTables(catalog), filter)
      .map((table) => `${table.schema}.${table.table}`)
      .filter((name) => name !== config.source.signalTable);
  } finally {
    await catalog.close();
  }
}
