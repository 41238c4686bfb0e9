/**
 * Writes the SQL that applies runs of row changes to a PostgreSQL target: multi-row INSERT … ON
 * CONFLICT for inserts and snapshot reads, multi-row UPDATE … FROM (VALUES …) for updates,
 * DELETE … WHERE key IN (…) for deletes, and row-by-row statements where a run cannot be grouped
 * (a changed key, a table without a key). Values are the text pgoutput or COPY sent, written as
 * SQL literals; each statement is recorded with what it should affect, to check the outcome. On a
 * table loaded from a snapshot every row a change is about must be there: its updates fail through
 * `pgcdc.expect_rows` when rows are missing, inside the transaction (nothing of it is committed).
 */
import type { ConflictPolicy } from '../../config/stream-config.js';
import type { TupleRef } from '../../decoding/pgoutput-messages.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { copyRowField } from '../../events/copy-row.js';
import type { TableInfo } from '../../events/stream-event.js';
import { columnBounds } from '../../events/tuple-json.js';
import { qualifiedName, quoteIdent } from '../../source/sql-quoting.js';

const KIND_TEXT = 0x74; // t
const KIND_UNCHANGED = 0x75; // u
const TAB = 0x09;
const NEWLINE = 0x0a;

/** What a statement is expected to do, to check its command tag and to explain a failure. */
export interface StatementExpectation {
  readonly table: TableInfo | undefined;
  readonly kind: 'insert' | 'update' | 'delete' | 'truncate' | 'command' | 'other';
  /** Rows the statement should affect; undefined when any count is fine. */
  readonly rows: number | undefined;
  /** The row images, to find the one a failure is about. */
  readonly tuples: readonly TupleRef[];
  /** Where the statement's text starts in the writer's output. */
  readonly offset: number;
  /** A COPY … FROM STDIN: its rows follow the statements as COPY data. */
  readonly copy?: boolean;
}

/** The savepoint each statement runs in when statements are applied one row at a time. */
export const ROW_SAVEPOINT = 'pgcdc_row';

/** A value of a row image: text, NULL, or unchanged TOAST (not sent). */
interface Field {
  kind: number;
  buf: Buffer;
  start: number;
  end: number;
}

/** Reads column `index` of a row image (pgoutput TupleData or a COPY row). */
export function field(tuple: TupleRef, index: number): Field {
  if (tuple.kind === 'C') return copyRowField(tuple, index);
  const bounds = columnBounds(tuple, index);
  return { kind: bounds.kind, buf: tuple.buf, start: bounds.start, end: bounds.end };
}

/** The columns a row image carries values for (included, not unchanged TOAST). */
export function writableColumns(table: TableInfo, tuple: TupleRef): number[] {
  const columns: number[] = [];
  for (let i = 0; i < table.columns.length; i++) {
    if (!table.columns[i]!.included) continue;
    if (tuple.kind !== 'C' && field(tuple, i).kind === KIND_UNCHANGED) continue;
    columns.push(i);
  }
  return columns;
}

/** Names of a target table's GENERATED ALWAYS identity columns (which updates cannot set directly). */
export type IdentityAlwaysColumns = (table: TableInfo) => ReadonlySet<string>;

/** Whether every row a change of the table is about must exist on the target (it was loaded from a snapshot). */
export type RowsRequired = (table: TableInfo) => boolean;

export class ChangeStatements {
  readonly #w: JsonWriter;
  readonly #identityAlways: IdentityAlwaysColumns;
  readonly #rowsRequired: RowsRequired;
  readonly expectations: StatementExpectation[] = [];
  /** Wrap each statement in its own savepoint (applying row by row, to find or skip bad rows). */
  careful = false;
  /** The data of each COPY statement written since `reset`, in statement order. */
  readonly copies: Buffer[][] = [];
  readonly #copyData = new JsonWriter();

  constructor(w: JsonWriter, identityAlways: IdentityAlwaysColumns = () => new Set(), rowsRequired: RowsRequired = () => false) {
    this.#w = w;
    this.#identityAlways = identityAlways;
    this.#rowsRequired = rowsRequired;
  }

  /** Forgets the expectations and COPY data (the writer's output was taken). */
  reset(): void {
    this.expectations.length = 0;
    this.copies.length = 0;
  }

  /** Lets the COPY data's memory be reused (it was sent). */
  recycle(): void {
    this.#copyData.take();
    this.#copyData.recycle();
  }

  /**
   * COPY of new rows straight into the table: the fastest way in, with no conflict handling (a key
   * that already exists fails it, and the rows are then applied again as INSERT … ON CONFLICT).
   */
  copyInsert(table: TableInfo, tuples: readonly TupleRef[]): void {
    const columns = writableColumns(table, tuples[0]!);
    this.#open({ table, kind: 'insert', rows: tuples.length, tuples, copy: true });
    this.#w.utf8(`COPY ${qualifiedName(table)} (${columnList(table, columns)}) FROM STDIN`);
    this.#close();
    const data = this.#copyData;
    for (const tuple of tuples) {
      for (let n = 0; n < columns.length; n++) {
        if (n > 0) data.byte(TAB);
        const value = field(tuple, columns[n]!);
        if (value.kind === KIND_TEXT) data.copyTextFromBytes(value.buf, value.start, value.end);
        else data.raw('\\N');
      }
      data.byte(NEWLINE);
    }
    this.copies.push(data.take());
  }

  /** INSERT of new rows; `policy` says what a row that already exists becomes. */
  insert(table: TableInfo, tuples: readonly TupleRef[], policy: ConflictPolicy): void {
    const w = this.#w;
    const keys = table.keyColumns;
    const columns = writableColumns(table, tuples[0]!);
    const upsert = keys.length > 0 && policy !== 'fail';
    const updates = upsert && policy === 'update' ? columns.filter((i) => !keys.includes(i)) : [];
    const restore = this.#allowIdentityUpdates(table, updates);
    this.#open({ table, kind: 'insert', rows: upsert ? undefined : tuples.length, tuples });
    // OVERRIDING SYSTEM VALUE: the source's value goes into GENERATED ALWAYS identity columns too.
    w.utf8(`INSERT INTO ${qualifiedName(table)} (${columnList(table, columns)}) OVERRIDING SYSTEM VALUE VALUES `);
    tuples.forEach((tuple, n) => {
      if (n > 0) w.raw(', ');
      this.#valueList(table, tuple, columns, false);
    });
    if (upsert) {
      if (updates.length === 0) w.utf8(` ON CONFLICT (${columnList(table, keys)}) DO NOTHING`);
      else w.utf8(` ON CONFLICT (${columnList(table, keys)}) DO UPDATE SET ${updates.map((i) => `${columnName(table, i)} = EXCLUDED.${columnName(table, i)}`).join(', ')}`);
    }
    this.#close();
    restore();
  }

  /** UPDATE of rows whose key did not change, all carrying values for the same columns. */
  update(table: TableInfo, tuples: readonly TupleRef[]): void {
    const w = this.#w;
    const keys = table.keyColumns;
    const columns = writableColumns(table, tuples[0]!);
    const set = columns.filter((i) => !keys.includes(i));
    if (set.length === 0) return; // only the key: nothing to change
    const restore = this.#allowIdentityUpdates(table, set);
    const checked = this.#openUpdate(table, tuples);
    const listed = [...keys, ...set];
    w.utf8(`UPDATE ${qualifiedName(table)} AS t SET ${set.map((i) => `${columnName(table, i)} = v.${columnName(table, i)}`).join(', ')} FROM (VALUES `);
    tuples.forEach((tuple, n) => {
      if (n > 0) w.raw(', ');
      this.#valueList(table, tuple, listed, n === 0);
    });
    w.utf8(`) AS v (${columnList(table, listed)}) WHERE ${keys.map((i) => `t.${columnName(table, i)} = v.${columnName(table, i)}`).join(' AND ')}`);
    this.#closeUpdate(checked, tuples.length);
    restore();
  }

  /** UPDATE of one row found by its old key (the key changed). */
  updateKey(table: TableInfo, before: TupleRef, after: TupleRef): void {
    const restore = this.#allowIdentityUpdates(table, writableColumns(table, after));
    const checked = this.#openUpdate(table, [after]);
    this.#w.utf8(`UPDATE ${qualifiedName(table)} SET `);
    this.#assignments(table, after);
    this.#w.utf8(' WHERE ');
    table.keyColumns.forEach((i, n) => {
      this.#w.utf8(`${n > 0 ? ' AND ' : ''}${columnName(table, i)} = `);
      this.#literal(table, before, i, false);
    });
    this.#closeUpdate(checked, 1);
    restore();
  }

  /** DELETE of rows by key. */
  delete(table: TableInfo, tuples: readonly TupleRef[]): void {
    const w = this.#w;
    const keys = table.keyColumns;
    this.#open({ table, kind: 'delete', rows: undefined, tuples });
    w.utf8(`DELETE FROM ${qualifiedName(table)} WHERE (${columnList(table, keys)}) IN (VALUES `);
    tuples.forEach((tuple, n) => {
      if (n > 0) w.raw(', ');
      this.#valueList(table, tuple, keys, n === 0);
    });
    w.raw(')');
    this.#close();
  }

  /**
   * UPDATE or DELETE of one row of a table without a key (REPLICA IDENTITY FULL): one row whose
   * every column has the old value (compared by the target's output text).
   */
  withoutKey(table: TableInfo, before: TupleRef, after: TupleRef | null): void {
    const w = this.#w;
    const restore = after === null ? () => undefined : this.#allowIdentityUpdates(table, writableColumns(table, after));
    let checked = false;
    if (after === null) {
      this.#open({ table, kind: 'delete', rows: 1, tuples: [before] });
      w.utf8(`DELETE FROM ${qualifiedName(table)}`);
    } else {
      checked = this.#openUpdate(table, [after]);
      w.utf8(`UPDATE ${qualifiedName(table)} SET `);
      this.#assignments(table, after);
    }
    w.utf8(` WHERE ctid = (SELECT ctid FROM ${qualifiedName(table)} WHERE `);
    let first = true;
    for (let i = 0; i < table.columns.length; i++) {
      if (!table.columns[i]!.included) continue;
      const value = field(before, i);
      if (value.kind === KIND_UNCHANGED) continue;
      // Compared as the target's output text of both (json and other types have no equality);
      // the old value goes through its type's input first, so a text that is not the server's own
      // output (to_jsonb's timestamps, floats, arrays from a Kafka source) still finds the row.
      w.utf8(`${first ? '' : ' AND '}${columnName(table, i)}::text IS NOT DISTINCT FROM (`);
      first = false;
      if (value.kind === KIND_TEXT) w.sqlLiteralFromBytes(value.buf, value.start, value.end);
      else w.raw('NULL');
      w.utf8(`::${table.columns[i]!.typeName})::text`);
    }
    w.utf8(`${first ? 'true' : ''} LIMIT 1)`);
    this.#closeUpdate(checked, 1);
    restore();
  }

  truncate(tables: readonly TableInfo[], cascade: boolean, restartIdentity: boolean): void {
    this.#open({ table: tables[0]!, kind: 'truncate', rows: undefined, tuples: [] });
    this.#w.utf8(`TRUNCATE ${tables.map(qualifiedName).join(', ')}${restartIdentity ? ' RESTART IDENTITY' : ''}${cascade ? ' CASCADE' : ''}`);
    this.#close();
  }

  /** Any other statement: a signal's command, the applied position, transaction control. */
  statement(sql: string, kind: 'command' | 'other' = 'other'): void {
    if (kind === 'other') {
      this.expectations.push({ table: undefined, kind, rows: undefined, tuples: [], offset: this.#w.length });
      this.#w.utf8(`${sql};\n`);
      return;
    }
    this.#open({ table: undefined, kind, rows: undefined, tuples: [] });
    this.#w.utf8(sql);
    this.#close();
  }

  /**
   * An UPDATE cannot set a GENERATED ALWAYS identity column (PostgreSQL has no OVERRIDING for it):
   * such columns among `columns` become BY DEFAULT around the statement. Returns what restores them.
   */
  #allowIdentityUpdates(table: TableInfo, columns: readonly number[]): () => void {
    const always = this.#identityAlways(table);
    if (always.size === 0) return () => undefined;
    const names = columns.map((i) => table.columns[i]!.name).filter((name) => always.has(name));
    if (names.length === 0) return () => undefined;
    this.statement(identityModeSql(table, names, 'BY DEFAULT'));
    return () => this.statement(identityModeSql(table, names, 'ALWAYS'));
  }

  /** Starts a statement: its savepoint when careful, and what it should do. */
  #open(expectation: Omit<StatementExpectation, 'offset'>): void {
    if (this.careful) this.statement(`SAVEPOINT ${ROW_SAVEPOINT}`);
    this.expectations.push({ ...expectation, offset: this.#w.length });
  }

  /**
   * Starts an UPDATE of `tuples.length` rows. Where every row must exist it is written inside a
   * statement that fails when rows are missing (see #closeUpdate); true then.
   */
  #openUpdate(table: TableInfo, tuples: readonly TupleRef[]): boolean {
    const checked = this.#rowsRequired(table);
    this.#open({ table, kind: 'update', rows: checked ? undefined : tuples.length, tuples });
    if (checked) this.#w.raw('WITH pgcdc_changed AS (');
    return checked;
  }

  #closeUpdate(checked: boolean, rows: number): void {
    if (checked) this.#w.utf8(` RETURNING 1) SELECT pgcdc.expect_rows(count(*), ${rows}) FROM pgcdc_changed`);
    this.#close();
  }

  #close(): void {
    this.#w.raw(';\n');
    if (this.careful) this.statement(`RELEASE SAVEPOINT ${ROW_SAVEPOINT}`);
  }

  /** `a = 'x', b = NULL` for the columns a row image carries. */
  #assignments(table: TableInfo, tuple: TupleRef): void {
    writableColumns(table, tuple).forEach((i, n) => {
      this.#w.utf8(`${n > 0 ? ', ' : ''}${columnName(table, i)} = `);
      this.#literal(table, tuple, i, false);
    });
  }

  /** `(v1, v2, …)`; with `typed`, each literal is cast to its column type (the first VALUES row). */
  #valueList(table: TableInfo, tuple: TupleRef, columns: readonly number[], typed: boolean): void {
    const w = this.#w;
    w.raw('(');
    for (let n = 0; n < columns.length; n++) {
      if (n > 0) w.raw(', ');
      this.#literal(table, tuple, columns[n]!, typed);
    }
    w.raw(')');
  }

  #literal(table: TableInfo, tuple: TupleRef, index: number, typed: boolean): void {
    const w = this.#w;
    const value = field(tuple, index);
    if (value.kind === KIND_TEXT) w.sqlLiteralFromBytes(value.buf, value.start, value.end);
    else w.raw('NULL');
    if (typed) w.utf8(`::${table.columns[index]!.typeName}`);
  }
}

function columnName(table: TableInfo, index: number): string {
  return quoteIdent(table.columns[index]!.name);
}

function columnList(table: TableInfo, indexes: readonly number[]): string {
  return indexes.map((i) => columnName(table, i)).join(', ');
}

/** The key of a row image as `id=5, region='eu'`, for messages. */
export function keyText(table: TableInfo, tuple: TupleRef): string {
  const keys = table.keyColumns.length > 0 ? table.keyColumns : table.columns.map((_, i) => i).filter((i) => table.columns[i]!.included);
  return keys
    .map((i) => {
      const value = field(tuple, i);
      const text = value.kind === KIND_TEXT ? value.buf.toString('utf8', value.start, Math.min(value.end, value.start + 200)) : value.kind === KIND_UNCHANGED ? '(unchanged)' : 'NULL';
      return `${table.columns[i]!.name}=${text}`;
    })
    .join(', ');
}

/**
 * Makes identity columns BY DEFAULT (so that statements can set them) or ALWAYS again: an UPDATE
 * or ON CONFLICT DO UPDATE cannot set a GENERATED ALWAYS column (PostgreSQL has no OVERRIDING for it).
 */
export function identityModeSql(table: TableInfo, columns: readonly string[], mode: 'BY DEFAULT' | 'ALWAYS'): string {
  return `ALTER TABLE ${qualifiedName(table)} ${columns.map((name) => `ALTER COLUMN ${quoteIdent(name)} SET GENERATED ${mode}`).join(', ')}`;
}
