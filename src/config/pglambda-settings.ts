/**
 * The `PgLambda` target's settings (`spec.target.pgLambda`): their schema (the SGStream CRD's keys,
 * plus pgcdc's `scriptFrom.file`, sandbox limits, grants and dead letters), and how valid settings become a
 * PgLambdaTargetConfig with the script's text read from where `script` or `scriptFrom` says.
 * Of `knative`, only `http.retryLimit` and `http.retryBackoffDelay` apply (they govern the retries of
 * an event, as they do for StackGres's binding to the function); every other key is warned about.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIMEOUT_MS, MIN_MEMORY_LIMIT_MB } from '../targets/function/sandbox-limits.js';
import { configMapKeyRefSchema, millisecondsSchema, secretKeyRefSchema, stringMapSchema } from './common-schemas.js';
import { type ConfigMapSources, resolveConfigMapKey } from './config-map-resolver.js';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';
import { buildDeadLetter, deadLetterSchema } from './dead-letter-settings.js';
import { sgStreamHttpShape } from './http-delivery-settings.js';
import { buildSandboxGrants, sandboxGrantsSchema } from './sandbox-grants-settings.js';
import { resolveSecret } from './secret-resolver.js';
import type { PgLambdaTargetConfig } from './stream-config.js';

export type { PgLambdaTargetConfig } from './stream-config.js';

/** The keys of `knative.http` pgcdc applies: the retries of an event the script failed. */
const APPLIED_HTTP_KEYS: ReadonlySet<string> = new Set(['retryLimit', 'retryBackoffDelay']);
/** `retryBackoffDelay` when `knative.http` does not give it (the CRD's default). */
const DEFAULT_RETRY_BACKOFF_DELAY_SECONDS = 60;

const scriptFromSchema = z
  .strictObject({
    file: z.string().min(1).optional().describe('A file holding the script, relative to the stream file\'s directory (pgcdc only).'),
    configMapKeyRef: configMapKeyRefSchema.optional().describe('A ConfigMap key holding the script: a ConfigMap document of the same file, else `<config maps directory>/<name>/<key>`, else `PGCDC_CONFIGMAP_<NAME>_<KEY>`.'),
    secretKeyRef: secretKeyRefSchema.optional().describe('A Secret key holding the script: a Secret document of the same file, else `<secrets directory>/<name>/<key>`, else `PGCDC_SECRET_<NAME>_<KEY>`.'),
  })
  .superRefine((scriptFrom, ctx) => {
    const given = Object.values(scriptFrom).filter((source) => source !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({ code: 'custom', input: scriptFrom, message: `has ${given === 0 ? 'none' : given} of file, configMapKeyRef and secretKeyRef; expected exactly one of them` });
    }
  })
  .describe('Where the script is read from at start; mutually exclusive with `script`.');

/** `spec.target.pgLambda`. */
export const pgLambdaTargetSettingsSchema = z
  .strictObject({
    scriptType: z.enum(['javascript']).default('javascript').describe('The script language; `javascript` is the only one.'),
    script: z.string().optional().describe('The script, run once per event with `event`, `response` and `request` in scope; mutually exclusive with `scriptFrom`.'),
    scriptFrom: scriptFromSchema.optional(),
    memoryLimitMb: z.int().min(MIN_MEMORY_LIMIT_MB).default(DEFAULT_MEMORY_LIMIT_MB).describe('Heap limit of the sandbox the script runs in, in MB (pgcdc only).'),
    timeoutMs: millisecondsSchema(1).default(DEFAULT_TIMEOUT_MS).describe('Time the script may take for one event before it is stopped and the event fails, in milliseconds, its fetches included (pgcdc only).'),
    grants: sandboxGrantsSchema.optional(),
    knative: z
      .strictObject({
        annotations: stringMapSchema.optional(),
        labels: stringMapSchema.optional(),
        http: z
          .strictObject({ ...sgStreamHttpShape, url: sgStreamHttpShape.url.optional() })
          .optional()
          .describe('The CloudEvent binding StackGres would send events to the function with: `retryLimit` and `retryBackoffDelay` apply to the retries of an event the script failed; the other keys are accepted, not applied.'),
      })
      .optional()
      .describe('The Knative Service StackGres would deploy; pgcdc runs the script itself, so only `http.retryLimit` and `http.retryBackoffDelay` apply.'),
    deadLetter: deadLetterSchema,
  })
  .superRefine((settings, ctx) => {
    if ((settings.script === undefined) === (settings.scriptFrom === undefined)) {
      const both = settings.script !== undefined;
      ctx.addIssue({
        code: 'custom',
        path: both ? ['scriptFrom'] : [],
        input: both ? settings.scriptFrom : settings,
        message: both ? 'is given together with script; expected only one of script and scriptFrom' : 'has neither script nor scriptFrom; expected one of them',
      });
    }
  })
  .describe('Settings of the `PgLambda` target: a JavaScript function run by pgcdc in a sandbox for each change event (a StackGres PgLambda script, unchanged).');

export type PgLambdaTargetSettings = z.output<typeof pgLambdaTargetSettingsSchema>;

/** What building the target needs: the base of relative paths, where ConfigMaps and Secrets are, the stream's name. */
export interface PgLambdaBuildContext extends ConfigMapSources {
  readonly streamName: string;
}

/**
 * The PgLambdaTargetConfig of valid settings found at `at` (`spec.target.pgLambda`), or undefined
 * after adding a problem where the script cannot be read; a warning for each `knative` key not applied.
 *
 * @example
 * await buildPgLambdaTarget({ ...settings, scriptFrom: { configMapKeyRef: { name: 'lambda-script', key: 'handler.js' } } }, ['spec', 'target', 'pgLambda'], context, problems);
 * // { type: 'PgLambda', script: '…', origin: 'key "handler.js" of ConfigMap "lambda-script"', memoryLimitMb: 128, timeoutMs: 5000, retryLimit: undefined, … }
 */
export async function buildPgLambdaTarget(
  settings: PgLambdaTargetSettings,
  at: ConfigPath,
  context: PgLambdaBuildContext,
  problems: ConfigProblems,
): Promise<PgLambdaTargetConfig | undefined> {
  warnKnativeNotApplied(settings.knative, [...at, 'knative'], problems);
  const [source, deadLetter] = await Promise.all([scriptSource(settings, at, context, problems), buildDeadLetter(settings.deadLetter, [...at, 'deadLetter'], context, problems)]);
  const grants = buildSandboxGrants(settings.grants, [...at, 'grants'], problems, context.env);
  if (source === undefined || deadLetter === undefined || grants === undefined) return undefined;
  const http = settings.knative?.http;
  return {
    type: 'PgLambda',
    ...source,
    memoryLimitMb: settings.memoryLimitMb,
    timeoutMs: settings.timeoutMs,
    ...(settings.grants === undefined ? {} : { grants }),
    retryLimit: http?.retryLimit,
    retryBackoffDelaySeconds: http?.retryBackoffDelay ?? DEFAULT_RETRY_BACKOFF_DELAY_SECONDS,
    deadLetter,
  };
}

/** A warning naming each `knative` key pgcdc does not apply (all but the retry settings of `http`). */
function warnKnativeNotApplied(knative: PgLambdaTargetSettings['knative'], at: ConfigPath, problems: ConfigProblems): void {
  const reason = 'pgcdc runs the script itself, not as a Knative Service';
  for (const [key, value] of Object.entries(knative ?? {})) {
    if (value === undefined) continue;
    if (key !== 'http') {
      problems.warnNotApplied([...at, key], reason);
      continue;
    }
    for (const [httpKey, httpValue] of Object.entries(value as object)) {
      if (httpValue !== undefined && !APPLIED_HTTP_KEYS.has(httpKey)) problems.warnNotApplied([...at, 'http', httpKey], reason);
    }
  }
}

/** The script's text and where it comes from, or undefined after adding a problem. */
async function scriptSource(
  settings: PgLambdaTargetSettings,
  at: ConfigPath,
  context: PgLambdaBuildContext,
  problems: ConfigProblems,
): Promise<{ script: string; origin: string } | undefined> {
  const { script, scriptFrom } = settings;
  if (script !== undefined) return { script, origin: formatPath([...at, 'script']) };
  const fromAt = [...at, 'scriptFrom'];
  if (scriptFrom?.configMapKeyRef !== undefined) {
    const ref = scriptFrom.configMapKeyRef;
    const text = await resolveConfigMapKey(ref, [...fromAt, 'configMapKeyRef'], context, problems);
    return text === undefined ? undefined : { script: text, origin: `key "${ref.key}" of ConfigMap "${ref.name}"` };
  }
  if (scriptFrom?.secretKeyRef !== undefined) {
    const ref = scriptFrom.secretKeyRef;
    const text = await resolveSecret(ref, [...fromAt, 'secretKeyRef'], context, problems);
    return text === undefined ? undefined : { script: text, origin: `key "${ref.key}" of secret "${ref.name}"` };
  }
  if (scriptFrom?.file !== undefined) return readScriptFile(scriptFrom.file, [...fromAt, 'file'], context.cwd, problems);
  return undefined; // the schema requires one of them
}

async function readScriptFile(file: string, at: ConfigPath, cwd: string, problems: ConfigProblems): Promise<{ script: string; origin: string } | undefined> {
  const absolute = path.resolve(cwd, file);
  try {
    return { script: await readFile(absolute, 'utf8'), origin: absolute };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'which does not exist' : code === 'EISDIR' ? 'which is a directory' : `which cannot be read (${(error as Error).message})`;
    problems.add(at, `is ${JSON.stringify(file)} (${absolute}), ${reason}; expected a readable file holding the script`, {
      hint: 'check the path of the script; a relative path is read from the stream file\'s directory',
    });
    return undefined;
  }
}
