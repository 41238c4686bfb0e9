/**
 * The declarative shortcuts of `spec.transform` (drop, rename and mask columns, add fields), applied
 * once where a relation is described: a dropped column is not included, a renamed one gets another
 * JSON key, a masked one another renderer, added fields a JSON fragment of the table. Nothing is
 * done per event. (`keepOperations` is per event, in `operation-filter`.)
 */
import type { TransformConfig, TransformMask } from '../config/transform-settings.js';
import { ColumnMasks, maskedNullRenderer, maskedRenderer, maskedUnchangedRenderer, type ValueMask } from '../decoding/values/column-masks.js';
import type { PgType } from '../decoding/values/pg-type.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { ColumnInfo, TableInfo } from '../events/stream-event.js';
import { anchoredPattern } from '../pipeline/change-filter.js';

/** The character type a hash mask is computed as: any type is hashed through its text output (varchar/char keep their declared length). */
function characterType(typeOid: number): PgType {
  const oid = typeOid === 1042 || typeOid === 1043 ? typeOid : 25;
  return { oid, name: 'text', schema: 'pg_catalog', kind: 'base', elementOid: 0, baseOid: 0, delimiter: ',', fields: [] };
}

interface CompiledMask {
  readonly patterns: readonly RegExp[];
  readonly mask: TransformMask;
}

/**
 * JSON text of `value` in ASCII only (other characters as `\u` escapes), so that it can be written
 * with `JsonWriter.raw` as column keys are.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class TableShortcuts {
  readonly #drop: readonly RegExp[];
  readonly #rename: readonly { readonly pattern: RegExp; readonly to: string }[];
  readonly #masks: readonly CompiledMask[];
  readonly #addFields: readonly { readonly tables: readonly RegExp[]; readonly fields: Readonly<Record<string, unknown>> }[];
  readonly #unchangedPlaceholder: string;

  constructor(config: TransformConfig, unavailableValuePlaceholder: string) {
    this.#drop = config.dropColumns.map(anchoredPattern);
    this.#rename = config.renameColumns.map((rule) => ({ pattern: anchoredPattern(rule.column), to: rule.to }));
    this.#masks = config.maskColumns.map((rule) => ({ patterns: rule.columns.map(anchoredPattern), mask: rule.mask }));
    this.#addFields = config.addFields.map((rule) => ({ tables: rule.tables.map(anchoredPattern), fields: rule.fields }));
    this.#unchangedPlaceholder = unavailableValuePlaceholder;
  }

  /** True when no shortcut changes tables. */
  get isEmpty(): boolean {
    return this.#drop.length + this.#rename.length + this.#masks.length + this.#addFields.length === 0;
  }

  /**
   * `table` with the shortcuts applied to its columns and its added fields set.
   *
   * @throws PgcdcError CONFIG_INVALID when two fields of the table would have the same name
   */
  apply(table: TableInfo): TableInfo {
    if (this.isEmpty || !table.included) return table;
    const prefix = `${table.schema}.${table.table}.`;
    const columns = table.columns.map((column) => this.#column(column, prefix + column.name, column.typeModifier));
    const added = this.#addedFields(`${table.schema}.${table.table}`);
    const names = [...columns.filter((column) => column.included).map((column) => jsonName(column)), ...Object.keys(added)];
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new PgcdcError('CONFIG_INVALID', `spec.transform gives ${table.schema}.${table.table} two fields named ${JSON.stringify(twice)}`, {
        hint: 'change renameColumns or addFields so that every column and added field of the table has its own name',
      });
    }
    const addedJson = Object.entries(added)
      .map(([name, value]) => `${asciiJson(name)}:${asciiJson(value)}`)
      .join(',');
    return { ...table, columns, ...(addedJson === '' ? {} : { addedFieldsJson: addedJson }) };
  }

  #column(column: ColumnInfo, qualified: string, typeModifier: number): ColumnInfo {
    if (!column.included) return column;
    if (this.#drop.some((re) => re.test(qualified))) return { ...column, included: false };
    const renamed = this.#rename.find((rule) => rule.pattern.test(qualified));
    const masked = this.#masks.find((rule) => rule.patterns.some((re) => re.test(qualified)));
    if (renamed === undefined && masked === undefined) return column;
    let result: ColumnInfo = column;
    if (renamed !== undefined) {
      const jsonKey = `${asciiJson(renamed.to)}:`;
      result = { ...result, jsonKey, jsonKeyAfterComma: `,${jsonKey}` };
    }
    if (masked !== undefined) {
      const mask = valueMask(masked.mask, typeModifier, column.typeOid);
      result = {
        ...result,
        shape: { kind: 'string', type: 'text' },
        render: maskedRenderer(mask),
        renderNull: maskedNullRenderer(mask),
        renderUnchanged: maskedUnchangedRenderer(mask, this.#unchangedPlaceholder),
      };
    }
    return result;
  }

  #addedFields(qualifiedTable: string): Record<string, unknown> {
    const fields: Record<string, unknown> = {};
    for (const rule of this.#addFields) if (rule.tables.some((re) => re.test(qualifiedTable))) Object.assign(fields, rule.fields);
    return fields;
  }
}

/** The name a column has in events (its JSON key without the colon). */
function jsonName(column: ColumnInfo): string {
  return JSON.parse(column.jsonKey.slice(0, -1)) as string;
}

/** What a mask shortcut makes of a column's values: Debezium's hash of the text output, or a fixed string. */
function valueMask(mask: TransformMask, typeModifier: number, typeOid: number): ValueMask {
  switch (mask.kind) {
    case 'fixed':
      return { kind: 'mask', apply: () => mask.value, nullReplacement: mask.value };
    case 'hash': {
      const masks = new ColumnMasks({ maskWithChars: [], truncateToChars: [], hash: [{ algorithm: mask.algorithm, salt: mask.salt, version: mask.version, columns: ['.*'] }] });
      // varchar(n)/char(n) hashes are shortened to n characters, as Debezium does.
      const found = masks.for({ schema: '', table: '', column: '', type: characterType(typeOid), typeModifier });
      if (found === undefined || found === 'not-character') throw new Error('a hash rule matching every column matched none'); // cannot happen
      return found;
    }
  }
}
