/**
 * `spec.transform` of native streams: its schema (declarative shortcuts per column or table
 * pattern, and an optional JavaScript function run in a sandbox), and how valid settings become a
 * TransformConfig, the function's text read from where `script` or `scriptFrom` says.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { nodeDigestName, SUPPORTED_DIGESTS } from '../decoding/values/column-masks.js';
import { DEFAULT_MEMORY_LIMIT_MB, MIN_MEMORY_LIMIT_MB } from '../targets/function/sandbox-limits.js';
import { configMapKeyRefSchema, millisecondsSchema, regexListSchema, regexSchema, secretKeyRefSchema } from './common-schemas.js';
import { type ConfigMapSources, resolveConfigMapKey } from './config-map-resolver.js';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { buildSandboxGrants, type SandboxGrantsConfig, sandboxGrantsSchema } from './sandbox-grants-settings.js';
import { resolveSecret } from './secret-resolver.js';
import { DEAD_LETTER_POLICIES, type DeadLetterConfig } from './stream-config.js';

/** Operations `keepOperations` can name: create, update, delete, read (snapshot) and truncate. */
export const TRANSFORM_OPERATIONS = ['c', 'u', 'd', 'r', 't'] as const;
export type TransformOperation = (typeof TRANSFORM_OPERATIONS)[number];

/** Default time the function may take for one batch of events, in milliseconds. */
export const DEFAULT_TRANSFORM_TIMEOUT_MS = 5_000;

/** A column mask of the `maskColumns` shortcut: a salted hash (Debezium's strategies) or a fixed string. */
export type TransformMask =
  | { readonly kind: 'hash'; readonly algorithm: string; readonly salt: string; readonly version: 1 | 2 }
  | { readonly kind: 'fixed'; readonly value: string };

/** The JavaScript function of a transform and its sandbox limits. */
export interface TransformScriptConfig {
  /** The function's source text: an expression giving a function, or a declaration of `transform`. */
  readonly source: string;
  /** Where the source comes from, for messages. */
  readonly origin: string;
  /** Time the function may take for one batch of events (its fetches included), in milliseconds. */
  readonly timeoutMs: number;
  /** Heap limit of the sandbox's isolate, in MB. */
  readonly memoryLimitMb: number;
  /** What the function may reach beyond JavaScript: `env`, and `allowNetwork` (then the function may be async and wait for `fetch`). */
  readonly grants: SandboxGrantsConfig;
}

/** What `spec.transform` asks for; patterns are anchored regular expressions. */
export interface TransformConfig {
  /** Over `schema.table.column`: columns left out of every event. */
  readonly dropColumns: readonly string[];
  /** Columns matching `column` (over `schema.table.column`) are named `to` in events. */
  readonly renameColumns: readonly { readonly column: string; readonly to: string }[];
  readonly maskColumns: readonly { readonly columns: readonly string[]; readonly mask: TransformMask }[];
  /** Fields with fixed values added to the row images of tables matching `tables` (over `schema.table`). */
  readonly addFields: readonly { readonly tables: readonly string[]; readonly fields: Readonly<Record<string, unknown>> }[];
  /** Tables matching `tables` pass on only these operations (the first matching rule applies). */
  readonly keepOperations: readonly { readonly tables: readonly string[]; readonly operations: readonly TransformOperation[] }[];
  readonly script: TransformScriptConfig | undefined;
  /** An event the function fails for: stop the stream (default), or set it aside and go on. */
  readonly deadLetter: DeadLetterConfig;
}

const scriptFromSchema = z
  .strictObject({
    file: z.string().min(1).optional().describe('A file holding the function, relative to the stream file\'s directory.'),
    configMapKeyRef: configMapKeyRefSchema.optional().describe('A ConfigMap key holding the function (looked up as PgLambda scripts are).'),
    secretKeyRef: secretKeyRefSchema.optional().describe('A Secret key holding the function (looked up as secrets are).'),
  })
  .superRefine((scriptFrom, ctx) => {
    const given = Object.values(scriptFrom).filter((source) => source !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({ code: 'custom', input: scriptFrom, message: `has ${given === 0 ? 'none' : given} of file, configMapKeyRef and secretKeyRef; expected exactly one of them` });
    }
  })
  .describe('Where the function is read from at start; mutually exclusive with `script`.');

const hashMaskSchema = z
  .strictObject({
    algorithm: z
      .string()
      .default('SHA-256')
      .refine((name) => nodeDigestName(name) !== undefined, { message: `is not a hash algorithm pgcdc computes; expected one of ${SUPPORTED_DIGESTS.join(', ')}` })
      .describe('Java MessageDigest name of the hash, as in Debezium\'s `column.mask.hash.<algorithm>.with.salt.<salt>`.'),
    salt: z.string().describe('Salt hashed before the value.'),
    strategy: z
      .enum(['v1', 'v2'])
      .default('v2')
      .describe('Debezium\'s hashing strategy: `v1` hashes the Java-serialized string (`column.mask.hash`), `v2` its UTF-8 bytes (`column.mask.hash.v2`).'),
  })
  .describe('Replace each value with the hex digest of salt + value, as Debezium\'s column hash masks do (nulls stay null).');

const maskColumnsSchema = z.array(
  z
    .strictObject({
      columns: regexListSchema.min(1).describe('Regular expressions over `schema.table.column`, anchored at both ends.'),
      hash: hashMaskSchema.optional(),
      fixed: z.string().optional().describe('Replace each value, nulls included, with this string (Debezium\'s `column.mask.with.<n>.chars` with any text).'),
    })
    .superRefine((rule, ctx) => {
      if ((rule.hash === undefined) === (rule.fixed === undefined)) {
        ctx.addIssue({ code: 'custom', input: rule, message: `has ${rule.hash === undefined ? 'neither hash nor fixed' : 'both hash and fixed'}; expected exactly one of them` });
      }
    }),
);

const fieldNameSchema = z.string().min(1);

/** `spec.transform`. */
export const transformSettingsSchema = z
  .strictObject({
    dropColumns: regexListSchema.default([]).describe('Regular expressions over `schema.table.column` (anchored): matching columns are left out of every event, as if excluded by the source filters.'),
    renameColumns: z
      .array(
        z.strictObject({
          column: regexSchema.describe('A regular expression over `schema.table.column`, anchored at both ends.'),
          to: fieldNameSchema.describe('The name the matching columns have in events (row images and keys).'),
        }),
      )
      .default([])
      .describe('Columns given another name in events; the first matching rule applies.'),
    maskColumns: maskColumnsSchema
      .default([])
      .describe('Columns whose values are replaced, everywhere they are rendered (row images, keys, snapshots), by a salted hash or a fixed string; the first matching rule applies; masked values are strings.'),
    addFields: z
      .array(
        z.strictObject({
          tables: regexListSchema.default(['.*']).describe('Regular expressions over `schema.table` (anchored); every table when not given.'),
          fields: z.record(fieldNameSchema, z.json()).describe('Field names and their values (any JSON value), written after the columns of each row image.'),
        }),
      )
      .default([])
      .describe('Fields with fixed values added to the row images (`before` and `after`) of matching tables; every matching rule adds its fields.'),
    keepOperations: z
      .array(
        z.strictObject({
          tables: regexListSchema.default(['.*']).describe('Regular expressions over `schema.table` (anchored); every table when not given.'),
          operations: z.array(z.enum(TRANSFORM_OPERATIONS)).min(1).describe('The operations passed on: `c` create, `u` update, `d` delete, `r` snapshot read, `t` truncate.'),
        }),
      )
      .default([])
      .describe('Only these operations of matching tables reach the target; the first matching rule applies; tables no rule matches keep all.'),
    script: z.string().optional().describe('A JavaScript function run in a sandbox for each row event: an expression giving a function (`(event) => event`), or a declaration of a function named `transform`. It returns the event (changed or not), `null` to drop it, or an array of events. Mutually exclusive with `scriptFrom`.'),
    scriptFrom: scriptFromSchema.optional(),
    timeoutMs: millisecondsSchema(1).default(DEFAULT_TRANSFORM_TIMEOUT_MS).describe('Time the function may take for one batch of events (it is called for every event of a batch in one go; with `grants.allowNetwork`, every fetch the batch waits for counts too), in milliseconds.'),
    memoryLimitMb: z.int().min(MIN_MEMORY_LIMIT_MB).default(DEFAULT_MEMORY_LIMIT_MB).describe('Heap limit of the sandbox the function runs in, in MB.'),
    grants: sandboxGrantsSchema
      .optional()
      .describe('What the function may reach beyond JavaScript itself, in the shape of PgLambda\'s grants: `env` (variables read as `process.env.NAME`) and `allowNetwork` (a `fetch` to the listed hosts; the function may then be `async`, and `timeoutMs` covers the batch\'s fetches too). Nothing without it.'),
    deadLetter: deadLetterSchema
      .unwrap()
      .extend({
        policy: z
          .enum(DEAD_LETTER_POLICIES)
          .default('stop')
          .describe('An event the function throws for, returns something other than events for, or exceeds a limit with: `stop` stops the stream at its batch (nothing of it acknowledged; the next run tries again); `dead-letter` stores the event as the function saw it, with the error, and goes on.'),
      })
      .default({ policy: 'stop' })
      .describe('What happens to an event the function fails for. Failures are not retried: the function gets the same event again.'),
  })
  .superRefine((settings, ctx) => {
    if (settings.script !== undefined && settings.scriptFrom !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['scriptFrom'], input: settings.scriptFrom, message: 'is given together with script; expected only one of script and scriptFrom' });
    }
  })
  .optional()
  .describe('Changes made to events before they are encoded, for every target but `Postgres`: declarative shortcuts (applied once per table, free per event) and an optional JavaScript function. See docs/transforms.md.');

export type TransformSettings = NonNullable<z.output<typeof transformSettingsSchema>>;

/** The TransformConfig of valid settings found at `at` (`spec.transform`), or undefined after adding a problem. */
export async function buildTransform(
  settings: TransformSettings,
  at: ConfigPath,
  sources: ConfigMapSources & { readonly cwd: string },
  streamName: string,
  problems: ConfigProblems,
): Promise<TransformConfig | undefined> {
  const [source, deadLetter] = await Promise.all([scriptSource(settings, at, sources, problems), buildDeadLetter(settings.deadLetter, [...at, 'deadLetter'], { cwd: sources.cwd, streamName }, problems)]);
  const grants = buildSandboxGrants(settings.grants, [...at, 'grants'], problems, sources.env);
  if (source === 'failed' || deadLetter === undefined || grants === undefined) return undefined;
  return {
    dropColumns: settings.dropColumns,
    renameColumns: settings.renameColumns,
    maskColumns: settings.maskColumns.map((rule) => ({
      columns: rule.columns,
      mask: rule.hash !== undefined ? { kind: 'hash', algorithm: rule.hash.algorithm, salt: rule.hash.salt, version: rule.hash.strategy === 'v1' ? 1 : 2 } : { kind: 'fixed', value: rule.fixed! },
    })),
    addFields: settings.addFields.map((rule) => ({ tables: rule.tables, fields: rule.fields as Record<string, unknown> })),
    keepOperations: settings.keepOperations,
    script: source === undefined ? undefined : { ...source, timeoutMs: settings.timeoutMs, memoryLimitMb: settings.memoryLimitMb, grants },
    deadLetter,
  };
}

/** The function's text and origin, undefined without one, or `failed` after adding a problem. */
async function scriptSource(
  settings: TransformSettings,
  at: ConfigPath,
  sources: ConfigMapSources & { readonly cwd: string },
  problems: ConfigProblems,
): Promise<{ source: string; origin: string } | undefined | 'failed'> {
  const { script, scriptFrom } = settings;
  if (script !== undefined) return { source: script, origin: formatPath([...at, 'script']) };
  if (scriptFrom === undefined) return undefined;
  const fromAt = [...at, 'scriptFrom'];
  if (scriptFrom.configMapKeyRef !== undefined) {
    const ref = scriptFrom.configMapKeyRef;
    const text = await resolveConfigMapKey(ref, [...fromAt, 'configMapKeyRef'], sources, problems);
    return text === undefined ? 'failed' : { source: text, origin: `key "${ref.key}" of ConfigMap "${ref.name}"` };
  }
  if (scriptFrom.secretKeyRef !== undefined) {
    const ref = scriptFrom.secretKeyRef;
    const text = await resolveSecret(ref, [...fromAt, 'secretKeyRef'], sources, problems);
    return text === undefined ? 'failed' : { source: text, origin: `key "${ref.key}" of secret "${ref.name}"` };
  }
  const file = scriptFrom.file!;
  const absolute = path.resolve(sources.cwd, file);
  try {
    return { source: await readFile(absolute, 'utf8'), origin: absolute };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'which does not exist' : code === 'EISDIR' ? 'which is a directory' : `which cannot be read (${(error as Error).message})`;
    problems.add([...fromAt, 'file'], `is ${JSON.stringify(file)} (${absolute}), ${reason}; expected a readable file holding the function`, {
      hint: 'check the path of the function; a relative path is read from the stream file\'s directory',
    });
    return 'failed';
  }
}
