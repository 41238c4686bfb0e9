/**
 * Turns Relation messages into `TableInfo`: column renderers chosen once per relation, the event key
 * (primary key, else replica identity index) read from the catalog, and the include/exclude filters
 * applied. Holds the latest description of every relation the stream has announced.
 */
import type { ColumnInfo, TableInfo } from '../events/stream-event.js';
import { type MessageKeyRule, messageKeyColumnsOf } from '../config/message-key-columns.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { STATE_TABLE } from '../state/state-store.js';
import type { ChangeFilter } from '../pipeline/change-filter.js';
import type { RelationMessage } from './pgoutput-messages.js';
import { type ColumnMasks, maskedNullRenderer, maskedRenderer, maskedUnchangedRenderer, writeJsonNull } from './values/column-masks.js';
import { representedColumn, type ValueRepresentations } from './values/debezium-representations.js';
import type { PgType } from './values/pg-type.js';
import type { CatalogQuery, TypeCatalog } from './values/type-catalog.js';
import { isStructured, jsonShape, type JsonShape } from './values/json-shape.js';
import { renderString } from './values/scalar-renderers.js';
import { unchangedToastRenderer, valueRenderer } from './values/value-renderer.js';

const TABLE_FACTS_SQL = `
  select (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
           where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped) as column_names,
         (select array_agg(format_type(a.atttypid, a.atttypmod) order by a.attnum) from pg_attribute a
           where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped) as column_types,
         (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
           where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped and a.attnotnull) as not_null_columns,
         coalesce(
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
  /** Column masking and truncation rules; masked columns are rendered masked everywhere. */
  readonly masks?: ColumnMasks;
  /** Debezium's `message.key.columns`: the event key of matching tables. */
  readonly messageKeyColumns?: readonly MessageKeyRule[];
  /** Told once per column a mask rule names but cannot mask (not a character type: left as is). */
  readonly onUnmaskable?: (column: string, typeName: string) => void;
  /**
   * Write json, jsonb and composite values (and arrays of them) as their text, a JSON string, as
   * Debezium does: for events with a Kafka Connect schema, which has no type for any JSON value.
   */
  readonly structuredAsText?: boolean;
  /** Debezium's value representations of numeric, dates and times, bytea, interval and hstore columns (a Kafka target's). */
  readonly representations?: ValueRepresentations;
  /** `spec.transform`'s declarative shortcuts, applied to each included table once described. */
  readonly shortcuts?: { apply(table: TableInfo): TableInfo };
}

export class RelationRegistry {
  readonly #tables = new Map<number, TableInfo>();
  readonly #query: CatalogQuery;
  readonly #types: TypeCatalog;
  readonly #options: RelationRegistryOptions;
  readonly #toldUnmaskable = new Set<string>();

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
    // pgcdc's own bookkeeping (stream state, DDL capture's previous descriptions) is never captured.
    const isStateTable = message.schema === STATE_TABLE.schema && (message.table === STATE_TABLE.table || message.table === 'ddl_table_state');
    const included = !isSignalTable && !isStateTable && filter.includesTable(message.schema, message.table, names);
    await this.#types.load(message.columns.map((column) => column.typeOid));
    const { keyNames, typeNames, notNull } = included ? await this.#tableFacts(message) : { keyNames: [], typeNames: new Map<string, string>(), notNull: new Set<string>() };
    const columns: ColumnInfo[] = message.columns.map((column) => {
      const jsonKey = `${JSON.stringify(column.name)}:`;
      const typeName = typeNames.get(column.name) ?? this.#types.sqlName(column.typeOid);
      const mask = included ? this.#maskOf(message, column.name, column.typeOid, column.typeModifier, typeName) : undefined;
      let shape: JsonShape = jsonShape(this.#types, column.typeOid);
      const asText = this.#options.structuredAsText === true && isStructured(shape);
      if (asText) shape = { kind: 'string', type: shape.kind === 'json' || shape.kind === 'object' ? shape.type : 'array' };
      const represented = mask === undefined && this.#options.representations !== undefined ? representedColumn(this.#options.representations, this.#baseType(column.typeOid), this.#typeModifier(column.typeOid, column.typeModifier)) : undefined;
      return {
        name: column.name,
        typeOid: column.typeOid,
        typeModifier: column.typeModifier,
        typeName,
        isReplicaIdentity: column.isKey,
        notNull: notNull.has(column.name),
        included: included && filter.includesColumn(message.schema, message.table, column.name),
        jsonKey,
        jsonKeyAfterComma: `,${jsonKey}`,
        shape: mask ? { kind: 'string', type: 'text' } : (represented?.shape ?? shape),
        render: mask ? maskedRenderer(mask) : (represented?.render ?? (asText ? renderString : valueRenderer(this.#types, column.typeOid))),
        renderUnchanged: mask
          ? maskedUnchangedRenderer(mask, unavailableValuePlaceholder)
          : unchangedToastRenderer(this.#types, column.typeOid, unavailableValuePlaceholder),
        renderNull: mask ? maskedNullRenderer(mask) : writeJsonNull,
      };
    });
    const keyColumns = ((included ? this.#configuredKey(message, names) : undefined) ?? keyNames).map((name) => names.indexOf(name)).filter((index) => index >= 0);
    const table: TableInfo = {
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
    return this.#options.shortcuts === undefined ? table : this.#options.shortcuts.apply(table);
  }

  /**
   * The event key (primary key, else replica identity index; the Relation's key flags if the table
   * is gone), each column's SQL type as `format_type` spells it, and the NOT NULL columns.
   */
  async #tableFacts(message: RelationMessage): Promise<{ keyNames: string[]; typeNames: Map<string, string>; notNull: Set<string> }> {
    const { rows } = await this.#query(TABLE_FACTS_SQL, [message.oid]);
    const names = (rows[0]?.column_names as string[] | null) ?? [];
    const types = (rows[0]?.column_types as string[] | null) ?? [];
    const typeNames = new Map(names.map((name, i) => [name, types[i]!]));
    const notNull = new Set((rows[0]?.not_null_columns as string[] | null) ?? []);
    const fromCatalog = rows[0]?.key_columns as string[] | null | undefined;
    if (fromCatalog && fromCatalog.length > 0) return { keyNames: fromCatalog, typeNames, notNull };
    const flagged = message.replicaIdentity === 'd' || message.replicaIdentity === 'i' ? message.columns.filter((c) => c.isKey).map((c) => c.name) : [];
    return { keyNames: flagged, typeNames, notNull };
  }

  /** The key columns messageKeyColumns gives the table, checked against its columns, or undefined. */
  #configuredKey(message: RelationMessage, names: readonly string[]): readonly string[] | undefined {
    const configured = messageKeyColumnsOf(this.#options.messageKeyColumns ?? [], message.schema, message.table);
    const missing = configured?.filter((name) => !names.includes(name)) ?? [];
    if (missing.length > 0) {
      throw new PgcdcError('CONFIG_INVALID', `messageKeyColumns names ${missing.join(', ')} as key columns of ${message.schema}.${message.table}, which has no such column`, {
        hint: `columns of ${message.schema}.${message.table}: ${names.join(', ')}; fix the entry or the table expression`,
      });
    }
    return configured;
  }

  /** The mask of a column, if a rule names it and it can be masked. */
  #maskOf(message: RelationMessage, column: string, typeOid: number, typeModifier: number, typeName: string) {
    const masks = this.#options.masks;
    if (masks === undefined || masks.isEmpty) return undefined;
    const mask = masks.for({ schema: message.schema, table: message.table, column, type: this.#baseType(typeOid), typeModifier });
    if (mask !== 'not-character') return mask;
    const name = `${message.schema}.${message.table}.${column}`;
    if (!this.#toldUnmaskable.has(name)) {
      this.#toldUnmaskable.add(name);
      this.#options.onUnmaskable?.(name, typeName);
    }
    return undefined;
  }

  /** A column's type modifier, or the first its domains give (a domain column's own is -1). */
  #typeModifier(typeOid: number, typeModifier: number): number {
    let type = this.#types.get(typeOid);
    while (typeModifier < 0 && type.kind === 'domain') {
      typeModifier = type.baseTypeModifier ?? -1;
      type = this.#types.get(type.baseOid);
    }
    return typeModifier;
  }

  #baseType(typeOid: number): PgType {
    let type = this.#types.get(typeOid);
    while (type.kind === 'domain') type = this.#types.get(type.baseOid);
    return type;
  }

  /** Forgets everything (after a reconnect the server announces relations again). */
  clear(): void {
    this.#tables.clear();
  }
}

