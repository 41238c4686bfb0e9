/**
 * Turns Relation messages into `TableInfo`: column renderers chosen once per relation, the event key
 * (primary key, else replica identity index) read from the catalog, and the include/exclude filters
 * applied. Holds the latest description of every relation the stream has announced.
 */
import type { ColumnInfo, TableInfo } from '../events/stream-event.js';
import type { ChangeFilter } from '../pipeline/change-filter.js';
import type { RelationMessage } from './pgoutput-messages.js';
import type { TypeCatalog } from './values/type-catalog.js';
import { unchangedToastRenderer, valueRenderer } from './values/value-renderer.js';

/** Runs a catalog query on an ordinary (non-replication) connection. */
export type CatalogQuery = (text: string, params: unknown[]) => Promise<{ rows: any[] }>;

const KEY_COLUMNS_SQL = `
  select coalesce(
    (select array_agg(a.attname::text order by k.ord)
       from pg_index i
       cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = $1::oid and i.indisprimary),
    (select array_agg(a.attname::text order by k.ord)
       from pg_index i
       cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = $1::oid and i.indisreplident)
  ) as key_columns`;

export interface RelationRegistryOptions {
  readonly filter: ChangeFilter;
  readonly unavailableValuePlaceholder: string;
  /** The signal table, whose rows are never events. */
  readonly signalTable?: { readonly schema: string; readonly table: string };
}

export class RelationRegistry {
  readonly #tables = new Map<number, TableInfo>();
  readonly #query: CatalogQuery;
  readonly #types: TypeCatalog;
  readonly #options: RelationRegistryOptions;

  constructor(query: CatalogQuery, types: TypeCatalog, options: RelationRegistryOptions) {
    this.#query = query;
    this.#types = types;
    this.#options = options;
  }

  /** The latest description of a relation, or undefined if the stream has not announced it. */
  get(oid: number): TableInfo | undefined {
    return this.#tables.get(oid);
  }

  /** Describes a relation and remembers it as the current description. */
  async register(message: RelationMessage): Promise<TableInfo> {
    const table = await this.describe(message);
    this.#tables.set(message.oid, table);
    return table;
  }

  /** Builds a TableInfo without remembering it. */
  async describe(message: RelationMessage): Promise<TableInfo> {
    const { filter, unavailableValuePlaceholder, signalTable } = this.#options;
    const names = message.columns.map((column) => column.name);
    const isSignalTable = signalTable !== undefined && signalTable.schema === message.schema && signalTable.table === message.table;
    const included = !isSignalTable && filter.includesTable(message.schema, message.table, names);
    await this.#types.load(message.columns.map((column) => column.typeOid));
    const keyNames = included ? await this.#keyColumnNames(message) : [];
    const columns: ColumnInfo[] = message.columns.map((column) => {
      const jsonKey = `${JSON.stringify(column.name)}:`;
      return {
        name: column.name,
        typeOid: column.typeOid,
        typeModifier: column.typeModifier,
        isReplicaIdentity: column.isKey,
        included: included && filter.includesColumn(message.schema, message.table, column.name),
        jsonKey,
        jsonKeyAfterComma: `,${jsonKey}`,
        render: valueRenderer(this.#types, column.typeOid),
        renderUnchanged: unchangedToastRenderer(this.#types, column.typeOid, unavailableValuePlaceholder),
      };
    });
    const keyColumns = keyNames.map((name) => names.indexOf(name)).filter((index) => index >= 0);
    return {
      oid: message.oid,
      schema: message.schema,
      table: message.table,
      replicaIdentity: message.replicaIdentity,
      columns,
      keyColumns,
      included,
      isSignalTable,
      sourceJson: `"schema":${JSON.stringify(message.schema)},"table":${JSON.stringify(message.table)}`,
    };
  }

  /** Primary key, else replica identity index; falls back to the Relation's key flags if the table is gone. */
  async #keyColumnNames(message: RelationMessage): Promise<string[]> {
    const { rows } = await this.#query(KEY_COLUMNS_SQL, [message.oid]);
    const fromCatalog = rows[0]?.key_columns as string[] | null | undefined;
    if (fromCatalog && fromCatalog.length > 0) return fromCatalog;
    if (message.replicaIdentity === 'd' || message.replicaIdentity === 'i') {
      return message.columns.filter((column) => column.isKey).map((column) => column.name);
    }
    return [];
  }

  /** Forgets everything (after a reconnect the server announces relations again). */
  clear(): void {
    this.#tables.clear();
  }
}

