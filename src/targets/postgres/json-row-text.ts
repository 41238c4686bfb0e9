/**
 * Row events for the Postgres target from changes whose values are JSON texts (a Kafka source's
 * decoded change records): there is no source catalog, so the target's own table gives the shape:
 * its columns in its order, their types from its catalog, its primary key. Each image becomes a
 * pgoutput-layout tuple holding each value's PostgreSQL input text, which the target writes as SQL
 * literals exactly as it writes what pgoutput sends.
 */
import type { TupleRef } from '../../decoding/pgoutput-messages.js';
import { writeJsonNull } from '../../decoding/values/column-masks.js';
import { jsonShape } from '../../decoding/values/json-shape.js';
import { TypeCatalog, type CatalogQuery } from '../../decoding/values/type-catalog.js';
import { unchangedToastRenderer, valueRenderer } from '../../decoding/values/value-renderer.js';
import { targetDescriptions } from '../../ddl/describe-tables.js';
import type { TableDescription } from '../../ddl/table-description.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER, textTuple } from '../../events/json-valued-rows.js';
import type { ColumnInfo, TableInfo } from '../../events/stream-event.js';
import { UNCHANGED, type ColumnValue } from '../../kafka-source/decoded-change.js';
import { asciiJson } from '../../transform/table-shortcuts.js';
import { inputTypeOf, postgresInputText, UnconvertibleValue, type InputType } from './postgres-input-text.js';

/** A target table as the Postgres target sees it, with how each column's JSON values are input. */
export interface TargetTable extends TableInfo {
  /** Aligned with `columns`. */
  readonly inputTypes: readonly InputType[];
  /** Index in `columns` by column name. */
  readonly columnIndex: ReadonlyMap<string, number>;
}

export interface TargetTableShapesOptions {
  /** Written for unchanged TOASTed values by targets that render events (default Debezium's). */
  readonly unavailableValuePlaceholder?: string;
}

/** What a table's description gives, before a key is chosen. */
interface TableShape {
  readonly description: TableDescription;
  readonly columns: readonly ColumnInfo[];
  readonly inputTypes: readonly InputType[];
  readonly columnIndex: ReadonlyMap<string, number>;
  /** Column indexes of the primary key; empty without one. */
  readonly primaryKey: readonly number[];
  /** TargetTables by the record key columns they were asked with (tables without a primary key). */
  readonly byRecordKey: Map<string, TargetTable>;
}

/**
 * The shapes of the target's existing tables, read from its catalog (cached; `forget` after DDL).
 * `query` must run on one session of the target (descriptions set and restore search_path).
 */
export class TargetTableShapes {
  readonly #query: CatalogQuery;
  readonly #placeholder: string;
  #catalog: TypeCatalog;
  readonly #shapes = new Map<string, Promise<TableShape | undefined>>();

  constructor(query: CatalogQuery, options: TargetTableShapesOptions = {}) {
    this.#query = query;
    this.#catalog = new TypeCatalog(query);
    this.#placeholder = options.unavailableValuePlaceholder ?? DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER;
  }

  /**
   * The target's table `schema.table` (columns in its order, types from its catalog, key = its
   * primary key, else `recordKeyColumns`), or undefined when the target has no such table.
   *
   * @throws PgcdcError TARGET_FAILED when a record key column is not a column of the table
   */
  async table(schema: string, table: string, recordKeyColumns: readonly string[]): Promise<TargetTable | undefined> {
    const cacheKey = `${schema}\u0000${table}`;
    let pending = this.#shapes.get(cacheKey);
    if (pending === undefined) {
      pending = this.#read(schema, table);
      this.#shapes.set(cacheKey, pending);
      // A table that is not there (or a failed read) is asked again next time.
      void pending.then(
        (shape) => shape === undefined && this.#shapes.delete(cacheKey),
        () => this.#shapes.delete(cacheKey),
      );
    }
    const shape = await pending;
    return shape === undefined ? undefined : targetTable(shape, recordKeyColumns);
  }

  /** Forgets what was read of `schema.table` (and the types: DDL may have changed a composite). */
  forget(schema: string, table: string): void {
    this.#shapes.delete(`${schema}\u0000${table}`);
    this.#catalog = new TypeCatalog(this.#query);
  }

  async #read(schema: string, table: string): Promise<TableShape | undefined> {
    const [description] = await targetDescriptions(this.#query, [{ schema, table }]);
    if (description === undefined) return undefined;
    const catalog = this.#catalog;
    await catalog.load(description.columns.map((column) => column.typeOid));
    const primary = description.constraints.find((constraint) => constraint.type === 'p');
    const names = description.columns.map((column) => column.name);
    const primaryKey = (primary?.columns ?? []).map((name) => names.indexOf(name));
    const columns = description.columns.map((column, index): ColumnInfo => {
      const jsonKey = `${asciiJson(column.name)}:`;
      return {
        name: column.name,
        typeOid: column.typeOid,
        typeModifier: column.typmod,
        typeName: column.type,
        isReplicaIdentity: primaryKey.includes(index),
        notNull: column.notNull,
        // A generated column is computed by the target: a record's value for it is not written.
        included: column.generated === null,
        jsonKey,
        jsonKeyAfterComma: `,${jsonKey}`,
        shape: jsonShape(catalog, column.typeOid),
        render: valueRenderer(catalog, column.typeOid),
        renderUnchanged: unchangedToastRenderer(catalog, column.typeOid, this.#placeholder),
        renderNull: writeJsonNull,
      };
    });
    return {
      description,
      columns,
      inputTypes: description.columns.map((column) => inputTypeOf(catalog, column.typeOid, column.typmod)),
      columnIndex: new Map(names.map((name, index) => [name, index])),
      primaryKey,
      byRecordKey: new Map(),
    };
  }
}

function targetTable(shape: TableShape, recordKeyColumns: readonly string[]): TargetTable {
  const cacheKey = shape.primaryKey.length > 0 ? '' : recordKeyColumns.join('\u0000');
  let table = shape.byRecordKey.get(cacheKey);
  if (table !== undefined) return table;
  const { description } = shape;
  let keyColumns = shape.primaryKey;
  let columns = shape.columns;
  if (keyColumns.length === 0 && recordKeyColumns.length > 0) {
    keyColumns = recordKeyColumns.map((name) => {
      const index = shape.columnIndex.get(name);
      if (index === undefined) {
        throw new PgcdcError('TARGET_FAILED', `the record key column ${JSON.stringify(name)} is not a column of ${description.schema}.${description.name} on the target`, {
          hint: `add the column to the target table, or give ${description.schema}.${description.name} a primary key on the target`,
        });
      }
      return index;
    });
    columns = columns.map((column, index) => (keyColumns.includes(index) ? { ...column, isReplicaIdentity: true } : column));
  }
  table = {
    oid: description.oid,
    schema: description.schema,
    table: description.name,
    replicaIdentity: keyColumns.length > 0 ? 'd' : 'f',
    columns,
    keyColumns,
    included: true,
    isSignalTable: false,
    sourceJson: `"schema":${asciiJson(description.schema)},"table":${asciiJson(description.name)}`,
    inputTypes: shape.inputTypes,
    columnIndex: shape.columnIndex,
  };
  shape.byRecordKey.set(cacheKey, table);
  return table;
}

/** Where each table column's value is in a record's columns (-1: the record lacks it), for the column list seen last. */
interface RecordLayout {
  readonly names: readonly string[];
  readonly positions: Int32Array;
}

const layouts = new WeakMap<TargetTable, RecordLayout>();

/** The input texts of one tuple being written (reused: one tuple is written at a time). */
const texts: (string | null | typeof UNCHANGED)[] = [];

/**
 * A TupleData for `table` from a decoded image: values by the record's column names (a column the
 * record lacks is unchanged, `u`: an update leaves it as it is, an insert gives it its default),
 * each JSON text turned into the PostgreSQL input text of the column's type.
 *
 * @throws PgcdcError TARGET_FAILED naming the table and column when a record column is not a column
 *   of the table, or a value does not fit its column's type
 */
export function postgresTextTuple(table: TargetTable, columns: readonly string[], values: readonly ColumnValue[], kind: 'N' | 'O' | 'K'): TupleRef {
  const positions = layoutOf(table, columns).positions;
  const count = table.columns.length;
  texts.length = count;
  for (let i = 0; i < count; i++) {
    const at = positions[i]!;
    const value = at < 0 ? UNCHANGED : values[at]!;
    let text: string | null | typeof UNCHANGED;
    if (typeof value !== 'string') text = value;
    else if (!table.columns[i]!.included) text = null;
    else text = inputText(table, i, value);
    texts[i] = text;
  }
  const tuple = textTuple(texts, kind);
  texts.fill(null);
  return tuple;
}

function inputText(table: TargetTable, index: number, json: string): string | null {
  try {
    return postgresInputText(json, table.inputTypes[index]!);
  } catch (error) {
    if (!(error instanceof UnconvertibleValue)) throw error;
    const column = table.columns[index]!;
    throw new PgcdcError('TARGET_FAILED', `the value of ${table.schema}.${table.table}.${column.name} does not fit its type ${column.typeName} on the target: ${error.message}`, {
      hint: `make the target column's type match the source's (the record holds ${json.length > 80 ? `${json.slice(0, 80)}…` : json})`,
    });
  }
}

function layoutOf(table: TargetTable, names: readonly string[]): RecordLayout {
  const last = layouts.get(table);
  if (last !== undefined && sameNames(last.names, names)) return last;
  const positions = new Int32Array(table.columns.length).fill(-1);
  names.forEach((name, at) => {
    const index = table.columnIndex.get(name);
    if (index === undefined) {
      throw new PgcdcError('TARGET_FAILED', `the record's column ${JSON.stringify(name)} is not a column of ${table.schema}.${table.table} on the target`, {
        hint: `add the column to the target table (ALTER TABLE ${table.schema}.${table.table} ADD COLUMN …), or drop it from the records`,
      });
    }
    positions[index] = at;
  });
  const layout = { names, positions };
  layouts.set(table, layout);
  return layout;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
