/**
 * Renders the reference of native stream documents as markdown from the zod schema, and keeps the
 * generated part of docs/configuration.md up to date. Run `node dist/config/render-config-docs.js`
 * (after `npm run build`) from the project root to rewrite it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { debeziumPropertyStatus } from './debezium-properties.js';
import { nativeStreamSchema } from './native-stream-schema.js';

export const GENERATED_BEGIN = '<!-- BEGIN GENERATED: rendered from src/config/native-stream-schema.ts by src/config/render-config-docs.ts; do not edit -->';
export const GENERATED_END = '<!-- END GENERATED -->';

/** The subset of JSON Schema the renderer reads. */
interface JsonSchema {
  readonly type?: string;
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly default?: unknown;
  readonly description?: string;
  readonly defaultText?: string;
  readonly expected?: string;
}

interface Row {
  readonly key: string;
  readonly schema: JsonSchema;
  readonly required: boolean;
}

/** Keys whose settings are documented in tables of their own. */
const SEPARATE_TABLES = new Set(['spec.source.postgres.debeziumProperties']);

/** The markdown reference of every key of a native stream document. */
export function renderConfigReference(): string {
  const root = z.toJSONSchema(nativeStreamSchema, { io: 'input' }) as JsonSchema;
  const rows: Row[] = [];
  collectRows(root, '', rows);
  const main = rows.map((row) => {
    const type = SEPARATE_TABLES.has(row.key) ? 'map (table below)' : typeText(row.schema);
    return `| \`${row.key}\` | ${type} | ${defaultText(row)} | ${cell(row.schema.description ?? '')} |`;
  });
  const debezium = root.properties?.spec?.properties?.source?.properties?.postgres?.properties?.debeziumProperties ?? {};
  const properties = Object.entries(debezium.properties ?? {}).map(([key, schema]) => `| \`${key}\` | ${typeText(schema)} | ${cell(debeziumPropertyStatus(key))} | ${cell(schema.description ?? '')} |`);
  return [
    '### `pgcdc/v1` `Stream` keys',
    '',
    '| Key | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...main,
    '',
    '### `spec.source.postgres.debeziumProperties`',
    '',
    'Every Debezium PostgreSQL connector property of the SGStream CRD is known (camelCase), with what pgcdc does with it: *applied* (with Debezium\'s meaning), *refused* (an error: the property would change which rows, columns or values leave, or how they are rendered, and pgcdc does not do it; the values listed as exceptions are what pgcdc does anyway), or *ignored* with the reason (a warning when the stream loads: the property is about machinery pgcdc does not have and changes nothing that leaves the database).',
    '',
    '| Property | Type | pgcdc | Description |',
    '| --- | --- | --- | --- |',
    ...properties,
  ].join('\n');
}

function collectRows(schema: JsonSchema, prefix: string, rows: Row[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const required = schema.required?.includes(key) ?? false;
    const nested = child.properties !== undefined && !SEPARATE_TABLES.has(path);
    if (!nested || child.description !== undefined) rows.push({ key: path, schema: child, required });
    if (nested) collectRows(child, path, rows);
  }
}

function typeText(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${String(schema.const)}\``;
  if (schema.enum !== undefined) return schema.enum.map((value) => `\`${String(value)}\``).join(' \\| ');
  if (schema.expected !== undefined) return cell(schema.expected.replace(/^an? /, '').replace(/, e\.g\. .*$/, ''));
  switch (schema.type) {
    case 'integer':
    case 'number':
      return numberText(schema);
    case 'array':
      return `list of ${schema.items === undefined ? 'values' : plural(typeText(schema.items))}`;
    case 'object':
      if (schema.properties !== undefined) return 'map';
      return typeof schema.additionalProperties === 'object' ? `map of ${typeText(schema.additionalProperties)}` : 'map';
    default:
      return schema.minLength !== undefined && schema.minLength > 0 ? 'non-empty string' : (schema.type ?? 'any');
  }
}

/** `strings`, `regular expressions`; enumerations and phrases are left as they are. */
function plural(text: string): string {
  return /^[a-z ]+$/.test(text) ? `${text}s` : text;
}

function numberText(schema: JsonSchema): string {
  const kind = schema.type === 'integer' ? 'integer' : 'number';
  const min = schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER ? schema.minimum : undefined;
  const max = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
  if (min !== undefined && max !== undefined) return `${kind} ${min} to ${max}`;
  if (min !== undefined) return `${kind} ≥ ${min}`;
  if (max !== undefined) return `${kind} ≤ ${max}`;
  return kind;
}

function defaultText(row: Row): string {
  if (row.schema.defaultText !== undefined) return cell(`\`${row.schema.defaultText}\``);
  if (row.schema.default !== undefined) {
    const value = row.schema.default;
    return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
  }
  return row.required ? 'required' : 'optional';
}

/** Text safe inside a table cell. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();
}

/** `document` with its generated block replaced by the current reference. */
export function withCurrentReference(document: string): string {
  const begin = document.indexOf(GENERATED_BEGIN);
  const end = document.indexOf(GENERATED_END);
  if (begin < 0 || end < begin) throw new Error(`the document has no ${GENERATED_BEGIN} … ${GENERATED_END} block`);
  return `${document.slice(0, begin)}${GENERATED_BEGIN}\n\n${renderConfigReference()}\n\n${document.slice(end)}`;
}

/** Rewrites the generated block of the markdown file `file`. */
export async function updateConfigDocs(file = 'docs/configuration.md'): Promise<void> {
  await writeFile(file, withCurrentReference(await readFile(file, 'utf8')));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await updateConfigDocs(process.argv[2]);
}
