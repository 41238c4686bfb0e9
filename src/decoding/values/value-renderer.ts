/**
 * Chooses, once per type OID, how values of a type are written as JSON: the same JSON
 * PostgreSQL's to_jsonb gives, from the text output pgoutput sends, with numbers kept exact.
 * Also renders the unchanged-TOAST placeholder of a column's type.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';
import { renderArrayLiteral, renderVectorLiteral } from './array-literal.js';
import { renderTimestamp, renderTimestamptz } from './datetime-renderers.js';
import { renderHstore } from './hstore-literal.js';
import { renderJsonText } from './json-text.js';
import { TYPE_OID, type PgType } from './pg-type.js';
import { recordField, renderRecordLiteral } from './record-literal.js';
import {
  renderBool,
  renderFloat,
  renderInteger,
  renderJsonb,
  renderNumeric,
  renderString,
} from './scalar-renderers.js';
import type { TypeCatalog } from './type-catalog.js';

/** Writes the value whose text output is `src[start, end)` as JSON. */
export type ValueRenderer = (w: JsonWriter, src: Buffer, start: number, end: number) => void;

/** Built-in types with a rule of their own; every other base type is written as a string. */
const BASE_RENDERERS: ReadonlyMap<number, ValueRenderer> = new Map<number, ValueRenderer>([
  [TYPE_OID.bool, renderBool],
  [TYPE_OID.int2, renderInteger],
  [TYPE_OID.int4, renderInteger],
  [TYPE_OID.int8, renderInteger],
  [TYPE_OID.float4, renderFloat],
  [TYPE_OID.float8, renderFloat],
  [TYPE_OID.numeric, renderNumeric],
  [TYPE_OID.json, renderJsonText],
  [TYPE_OID.jsonb, renderJsonb],
  [TYPE_OID.timestamp, renderTimestamp],
  [TYPE_OID.timestamptz, renderTimestamptz],
]);

const renderersByCatalog = new WeakMap<TypeCatalog, Map<number, ValueRenderer>>();

/**
 * The renderer of values of `typeOid`, which must be loaded in `catalog` (with what it is built
 * from, which `catalog.load` does). Renderers are memoised per catalog and type.
 *
 * @example
 * await catalog.load([1007]);
 * const render = valueRenderer(catalog, 1007); // int4[]
 * render(w, Buffer.from('{1,NULL,3}'), 0, 10); // [1,null,3]
 */
export function valueRenderer(catalog: TypeCatalog, typeOid: number): ValueRenderer {
  let renderers = renderersByCatalog.get(catalog);
  if (renderers === undefined) {
    renderers = new Map();
    renderersByCatalog.set(catalog, renderers);
  }
  let renderer = renderers.get(typeOid);
  if (renderer === undefined) {
    renderer = buildRenderer(catalog, catalog.get(typeOid));
    renderers.set(typeOid, renderer);
  }
  return renderer;
}

function buildRenderer(catalog: TypeCatalog, type: PgType): ValueRenderer {
  switch (type.kind) {
    case 'domain':
      // to_jsonb renders a domain as its base type.
      return valueRenderer(catalog, type.baseOid);
    case 'array': {
      const element = valueRenderer(catalog, type.elementOid);
      if (type.oid === TYPE_OID.int2vector || type.oid === TYPE_OID.oidvector) {
        return (w, src, start, end) => renderVectorLiteral(w, src, start, end, element);
      }
      const delimiter = catalog.get(type.elementOid).delimiter.charCodeAt(0);
      return (w, src, start, end) => renderArrayLiteral(w, src, start, end, delimiter, element);
    }
    case 'composite': {
      const fields = type.fields.map((field) => recordField(field.name, valueRenderer(catalog, field.typeOid)));
      return (w, src, start, end) => renderRecordLiteral(w, src, start, end, fields);
    }
    case 'base':
      // hstore (an extension's type): to_jsonb goes through its cast to json, an object.
      return BASE_RENDERERS.get(type.oid) ?? (type.name === 'hstore' ? renderHstore : renderString);
    default:
      // Enums, ranges, multiranges and pseudo-types: their text output as a string.
      return renderString;
  }
}

/**
 * Writes the unchanged-TOAST placeholder of a column of `typeOid` (a loaded type), as Debezium
 * does in natural JSON: a string for every type, except bytea, written as to_jsonb writes the
 * placeholder's UTF-8 bytes (`"\\x5f5f..."`), and arrays (domains over arrays too), written as a
 * one-element array of the placeholder string.
 *
 * @example
 * unchangedToastRenderer(catalog, 1009, '__debezium_unavailable_value')(w); // ["__debezium_unavailable_value"]
 */
export function unchangedToastRenderer(catalog: TypeCatalog, typeOid: number, placeholder: string): (w: JsonWriter) => void {
  let type = catalog.get(typeOid);
  while (type.kind === 'domain') type = catalog.get(type.baseOid);
  let json: string;
  if (type.kind === 'array') json = `[${JSON.stringify(placeholder)}]`;
  else if (type.oid === TYPE_OID.bytea) json = JSON.stringify(`\\x${Buffer.from(placeholder, 'utf8').toString('hex')}`);
  else json = JSON.stringify(placeholder);
  const bytes = Buffer.from(json, 'utf8');
  return (w) => w.bytes(bytes, 0, bytes.length);
}
