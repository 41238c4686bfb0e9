/**
 * Runs a zod schema over a document and turns every zod issue into a ConfigIssue that names the
 * path, what was found and what is allowed; unknown keys get the nearest known key.
 */
import { z } from 'zod';
import { type ConfigIssue, type ConfigPath, describeValue, describeValueWithType, formatPath } from './config-issues.js';
import { didYouMean, nearestName } from './nearest-name.js';
import { counted } from '../text/counts.js';

/**
 * Given to zod as the error map of each parse: an issue with any other message carries a message
 * written in the schema (a complete `is …; expected …` tail) and is used as it is.
 */
const GENERATED = '\u0000';

/** How many known keys are listed when an unknown key has no near match. */
const MAX_LISTED_KEYS = 16;

export type Validation<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly issues: ConfigIssue[] };

/** Validates `input` against `schema`, applying the schema's defaults. */
export function validateWithSchema<S extends z.ZodType>(schema: S, input: unknown): Validation<z.output<S>> {
  const result = schema.safeParse(input, { reportInput: true, error: () => GENERATED });
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, issues: result.error.issues.flatMap((issue) => describeIssue(issue, schema)) };
}

function describeIssue(issue: z.core.$ZodIssue, root: z.ZodType): ConfigIssue[] {
  const path: ConfigPath = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
  const input = (issue as { input?: unknown }).input;
  const at = formatPath(path);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => unknownKeyIssue(root, path, key));
  if (issue.message !== GENERATED) {
    const hint = (issue as { params?: { hint?: string } }).params?.hint;
    return [{ path, text: `${at} ${issue.message}`, ...(hint === undefined ? {} : { hint }) }];
  }
  return [{ path, text: `${at} ${generatedTail(issue, input, path, root)}` }];
}

function generatedTail(issue: z.core.$ZodIssue, input: unknown, path: ConfigPath, root: z.ZodType): string {
  const found = input === undefined ? 'missing' : describeValueWithType(input, path);
  switch (issue.code) {
    case 'invalid_type':
      return `is ${found}; expected ${expectedPhrase(root, path) ?? typePhrase(issue.expected, schemaAt(root, path))}`;
    case 'invalid_value': {
      const values = issue.values.map(String);
      const allowed = values.length === 1 ? values[0] : `one of: ${values.join(', ')}`;
      const near = typeof input === 'string' && values.length > 1 ? didYouMean(input, values) : '';
      return `is ${input === undefined ? 'missing' : describeValue(input, path)}; expected ${allowed}${near}`;
    }
    case 'too_small':
    case 'too_big':
      return boundTail(issue, input, path);
    case 'invalid_format':
      return `is ${found}; expected ${expectedPhrase(root, path) ?? `a string in ${issue.format} format`}`;
    default:
      return `is ${found}; expected ${expectedPhrase(root, path) ?? 'a different value'}`;
  }
}

function boundTail(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, input: unknown, path: ConfigPath): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'string' && typeof input === 'string') {
    return `is ${describeValue(input, path)} (${counted(input.length, 'character')}); expected ${small ? 'at least' : 'at most'} ${counted(bound, 'character')}`;
  }
  if (issue.origin === 'array' && Array.isArray(input)) {
    return `has ${counted(input.length, 'item')}; expected ${small ? 'at least' : 'at most'} ${bound}`;
  }
  const kind = issue.origin === 'int' || Number.isInteger(bound) ? 'an integer' : 'a number';
  const relation = small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<';
  return `is ${describeValue(input, path)}; expected ${kind} ${relation} ${bound}`;
}

function unknownKeyIssue(root: z.ZodType, objectPath: ConfigPath, key: string): ConfigIssue {
  const path = [...objectPath, key];
  const known = knownKeysAt(root, objectPath);
  const near = nearestName(key, known);
  let tail: string;
  if (near !== undefined) tail = `did you mean ${near}?`;
  else if (known.length <= MAX_LISTED_KEYS) tail = `known keys: ${known.join(', ')}`;
  else tail = `see docs/configuration.md for the ${known.length} known keys of ${formatPath(objectPath)}`;
  return { path, text: `${formatPath(path)} is not a known key; ${tail}` };
}

/** `a string`, `an integer`, `a map with keys source, target`… for what the schema at the path wants. */
function typePhrase(expected: string, schema: z.ZodType | undefined): string {
  const inner = schema === undefined ? undefined : unwrap(schema);
  if (inner instanceof z.ZodNumber && inner.isInt) return 'an integer';
  if (inner instanceof z.ZodObject) return `a map with keys ${Object.keys(inner.shape).join(', ')}`;
  const phrases: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    array: 'a list',
    object: 'a map',
    record: 'a map',
  };
  return phrases[expected] ?? expected;
}

/** The keys the object schema at `path` accepts (empty when `path` is not an object). */
export function knownKeysAt(root: z.ZodType, path: ConfigPath): string[] {
  const schema = schemaAt(root, path);
  const inner = schema === undefined ? undefined : unwrap(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** The `expected` phrase a schema declares in its metadata, e.g. `a postgres:// URL`. */
function expectedPhrase(root: z.ZodType, path: ConfigPath): string | undefined {
  let schema = schemaAt(root, path);
  while (schema !== undefined) {
    const expected = schema.meta()?.expected;
    if (typeof expected === 'string') return expected;
    const inner = unwrapOnce(schema);
    schema = inner === schema ? undefined : inner;
  }
  return undefined;
}

/** The schema that validates the value at `path` (wrappers such as optional kept). */
export function schemaAt(root: z.ZodType, path: ConfigPath): z.ZodType | undefined {
  let schema: z.ZodType = root;
  for (const part of path) {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject && typeof part === 'string' && Object.hasOwn(inner.shape, part)) schema = inner.shape[part] as z.ZodType;
    else if (inner instanceof z.ZodArray && typeof part === 'number') schema = inner.element as z.ZodType;
    else if (inner instanceof z.ZodRecord) schema = inner.valueType as z.ZodType;
    else return undefined;
  }
  return schema;
}

function unwrapOnce(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodNullable) return schema.unwrap() as z.ZodType;
  return schema;
}

/** The schema under optional/default/nullable wrappers. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let inner = unwrapOnce(current); inner !== current; inner = unwrapOnce(current)) current = inner;
  return current;
}
