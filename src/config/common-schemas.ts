/**
 * Schema pieces both document kinds share: names, regular-expression lists, secret references,
 * retry counts and durations, each with the `expected` phrase its error messages quote.
 */
import { z } from 'zod';
import { nodeDigestName, SUPPORTED_DIGESTS } from '../decoding/values/column-masks.js';
import { describeValue } from './config-issues.js';

/** A string schema whose extra rule returns the reason (`expected …` phrase) when a value breaks it. */
function checkedString(expected: string, breaks: (value: string) => string | undefined): z.ZodString {
  return z
    .string()
    .superRefine((value, ctx) => {
      const reason = breaks(value);
      if (reason !== undefined) ctx.addIssue({ code: 'custom', message: `is ${describeValue(value)}${reason}; expected ${expected}`, input: value });
    })
    .meta({ expected });
}

export const KUBERNETES_NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const KUBERNETES_NAME_MAX_LENGTH = 56;
const KUBERNETES_NAME_EXPECTED =
  'a Kubernetes name: lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most 56 characters';

/** `metadata.name` of both kinds, as the SGStream CRD defines it. */
export const kubernetesNameSchema = checkedString(KUBERNETES_NAME_EXPECTED, (name) => {
  if (name.length > KUBERNETES_NAME_MAX_LENGTH) return ` (${name.length} characters)`;
  return KUBERNETES_NAME_PATTERN.test(name) ? undefined : '';
}).meta({ pattern: KUBERNETES_NAME_PATTERN.source, maxLength: KUBERNETES_NAME_MAX_LENGTH });

const REGEX_EXPECTED = 'a regular expression, e.g. "public\\\\.orders" or "inventory\\\\..*"';

/** One regular expression; the reason the engine rejects it is quoted in the error. */
export const regexSchema = checkedString(REGEX_EXPECTED, (pattern) => {
  const problem = regexProblem(pattern);
  return problem === undefined ? undefined : `, which is not a valid regular expression (${problem})`;
});

/** A list of regular expressions (includes, excludes, message prefixes). */
export const regexListSchema = z.array(regexSchema);

/** The reason `pattern` is not a valid regular expression, or undefined. */
function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message.split(': ').pop() ?? 'invalid';
  }
}

const LENGTH_RULE_EXPECTED = '"<length>:<regular expression over schema.table.column>", e.g. "12:public\\\\.users\\\\.ssn"';

/**
 * Debezium's `column.mask.with.<length>.chars` / `column.truncate.to.<length>.chars` as a list:
 * Debezium reads the length from the property name, which an SGStream property cannot carry, so
 * each entry starts with it.
 */
export const lengthColumnRulesSchema = z.array(
  checkedString(LENGTH_RULE_EXPECTED, (entry) => {
    const match = /^(\d+):(.+)$/s.exec(entry);
    if (match === null) return ' (no length: Debezium takes it from the property name, column.mask.with.<length>.chars, which cannot be written here)';
    const problem = regexProblem(match[2]!);
    return problem === undefined ? undefined : `, whose regular expression is not valid (${problem})`;
  }),
);

/** `columnMaskHash`: hash algorithm (a Java MessageDigest name) → salt → regular expressions over schema.table.column. */
export const hashColumnRulesSchema = z.record(z.string(), z.record(z.string(), regexListSchema)).superRefine((rules, ctx) => {
  for (const algorithm of Object.keys(rules)) {
    if (nodeDigestName(algorithm) !== undefined) continue;
    ctx.addIssue({
      code: 'custom',
      path: [algorithm],
      input: algorithm,
      message: `names hash algorithm ${describeValue(algorithm)}, which pgcdc cannot compute; expected one of: ${SUPPORTED_DIGESTS.join(', ')}`,
    });
  }
});

const SLOT_NAME_EXPECTED = 'a replication slot name: 1 to 63 lowercase letters, digits and "_"';

/** PostgreSQL replication slot naming rules. */
export const slotNameSchema = checkedString(SLOT_NAME_EXPECTED, (name) => (/^[a-z0-9_]{1,63}$/.test(name) ? undefined : '')).meta({
  pattern: '^[a-z0-9_]{1,63}$',
});

const PUBLICATION_NAME_EXPECTED = 'a publication name of 1 to 63 characters';

/** A PostgreSQL identifier (the publication is quoted, so any character but NUL is fine). */
export const publicationNameSchema = checkedString(PUBLICATION_NAME_EXPECTED, (name) =>
  name.length >= 1 && Buffer.byteLength(name) <= 63 && !name.includes('\0') ? undefined : '',
);

const SECRET_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

/** A reference to one key of a (Kubernetes) Secret; both parts are safe as file names. */
export const secretKeyRefSchema = z.strictObject({
  name: checkedString('a Secret name: lowercase letters, digits, "-" and "."', (name) => (SECRET_NAME_PATTERN.test(name) ? undefined : '')).describe(
    'Name of the Secret (`metadata.name` of a Secret document of the file, or a directory under the secrets directory).',
  ),
  key: checkedString('a Secret key: letters, digits, "-", "_" and "."', (key) =>
    SECRET_KEY_PATTERN.test(key) && key !== '.' && key !== '..' ? undefined : '',
  ).describe('Key within the Secret (under its `data` or `stringData`, or a file in that directory).'),
});
export type SecretKeyRef = z.infer<typeof secretKeyRefSchema>;

/** A reference to one key of a ConfigMap; names and keys follow the rules of Secrets. */
export const configMapKeyRefSchema = z.strictObject({
  name: secretKeyRefSchema.shape.name.describe('Name of the ConfigMap (`metadata.name` of a ConfigMap document of the file, or a directory under the config maps directory).'),
  key: secretKeyRefSchema.shape.key.describe('Key within the ConfigMap (under its `data` or `binaryData`, or a file in that directory).'),
});
export type ConfigMapKeyRef = z.infer<typeof configMapKeyRefSchema>;

/** `spec.maxRetries` of both kinds. */
export const maxRetriesSchema = z
  .int()
  .min(-1)
  .default(-1)
  .describe('Retries after a failure before pgcdc gives up: -1 retries forever, 0 never retries.');

/** Largest delay a Node.js timer accepts. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A whole number of milliseconds from `min` to what a timer accepts. */
export function millisecondsSchema(min: number): z.ZodInt {
  return z.int().min(min).max(MAX_TIMER_MS);
}

/** A TCP port. */
export const portSchema = z.int().min(1).max(65535);

/** A list of servers: a YAML list, or one comma-separated string. */
export const serverListSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** The entries of a `serverListSchema` value, trimmed, empty ones left out. */
export function parseServerList(value: z.output<typeof serverListSchema>): string[] {
  return (typeof value === 'string' ? value.split(',') : value).map((server) => server.trim()).filter((server) => server !== '');
}

/** A Kubernetes-style string map (labels, annotations, selectors). */
export const stringMapSchema = z.record(z.string(), z.string());

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration written as text, as SGStream's timeouts are: `500ms`, `5s`, `2m`, `1h`, or `0` (no limit). */
export const durationTextSchema = checkedString('a duration such as 500ms, 5s or 2m, or 0 for no limit', (text) => {
  const ms = parseDurationMs(text);
  if (ms === undefined) return '';
  return ms > MAX_TIMER_MS ? ' (too long)' : undefined;
});

/** Milliseconds of a duration text (`5s` → 5000, `0` → 0); undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  const match = DURATION_PATTERN.exec(text);
  return match ? Math.round(Number(match[1]) * DURATION_UNIT_MS[match[2]!]!) : undefined;
}

const LISTEN_ADDRESS_PATTERN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/;

/** Where a server listens: `host:port`, `[ipv6]:port`, or `:port` for every interface. */
export const listenAddressSchema = checkedString('host:port, e.g. 127.0.0.1:9900, [::1]:9900 or :9900 for every interface', (text) =>
  parseListenAddress(text) === undefined ? '' : undefined,
);

/** The host and port of a listen address (no host: `0.0.0.0`, every interface); undefined when it is not one. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const match = LISTEN_ADDRESS_PATTERN.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

const MESSAGE_KEY_EXPECTED = '"<regular expression over schema.table>:<column>,<column>", e.g. "public\\\\.orders:customer_id,order_no"';

/** Debezium's `message.key.columns`, one or more `;`-separated `<table regex>:<columns>` per entry. */
export const messageKeyColumnsSchema = z.array(
  checkedString(MESSAGE_KEY_EXPECTED, (entry) => {
    for (const part of entry.split(';').filter((text) => text.trim() !== '')) {
      const match = /^(.+):([^:]+)$/s.exec(part);
      if (match === null || match[2]!.split(',').some((column) => column.trim() === '')) return '';
      const problem = regexProblem(match[1]!.trim());
      if (problem !== undefined) return `, whose table expression is not valid (${problem})`;
    }
    return undefined;
  }),
);
