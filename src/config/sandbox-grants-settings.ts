/**
 * The `grants` of a sandboxed script (`spec.target.pgLambda.grants`; any other sandbox takes the
 * same shape): their schema, and how valid settings become a SandboxGrantsConfig, the host entries
 * parsed and the granted variables read from pgcdc's environment at start. Nothing is granted by
 * default. See docs/pglambda-grants.md.
 */
import { z } from 'zod';
import { parseHostPattern } from '../targets/function/network-allow-list.js';
import type { SandboxGrantsConfig } from '../targets/function/sandbox-grants.js';
import { millisecondsSchema } from './common-schemas.js';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';

export type { SandboxGrantsConfig } from '../targets/function/sandbox-grants.js';

/** A name `process.env` can hold as a plain property and a shell can export. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `grants`. */
export const sandboxGrantsSchema = z
  .strictObject({
    allowNetwork: z
      .strictObject({
        hosts: z
          .array(z.string().min(1))
          .min(1)
          .superRefine((hosts, ctx) => {
            hosts.forEach((entry, index) => {
              const parsed = parseHostPattern(entry);
              if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [index], input: entry, message: parsed });
            });
          })
          .describe('Hosts the script may fetch from: `api.example.com` (any port), `api.example.com:8443` (that port only), `*.example.com` (any name under example.com, not example.com itself), IP addresses as `127.0.0.1` or `[::1]`. Only http: and https: URLs; redirects are not followed.'),
        timeoutMs: millisecondsSchema(1).optional().describe('Longest one request may take (its fetch then rejects with a TimeoutError the script can catch); without it, requests are bounded only by the event\'s time limit, which covers the whole invocation.'),
      })
      .optional()
      .describe('Gives the script `fetch` (and `Headers`) to the listed hosts only, through pgcdc\'s HTTP client (pgcdc only).'),
    env: z
      .array(z.string().regex(ENV_NAME, 'expected an environment variable name (letters, digits and _, not starting with a digit)'))
      .min(1)
      .optional()
      .describe('Environment variables the script reads as `process.env.NAME`; only these, with their values when pgcdc starts. A name not set then is a configuration error (pgcdc only).'),
  })
  .describe('What the script may reach beyond JavaScript itself; nothing without it (pgcdc only). See docs/pglambda-grants.md.');

export type SandboxGrantsSettings = z.output<typeof sandboxGrantsSchema>;

/**
 * The grants of valid settings found at `at`, the variables' values read from `environment`; or
 * undefined after adding a problem for each granted variable that is not set.
 *
 * @example
 * buildSandboxGrants({ allowNetwork: { hosts: ['api.example.com'] }, env: ['API_TOKEN'] }, ['spec', 'target', 'pgLambda', 'grants'], problems);
 * // { allowNetwork: { hosts: [{ text: 'api.example.com', host: 'api.example.com', wildcard: false, port: undefined }], requestTimeoutMs: undefined }, env: { API_TOKEN: '…' } }
 */
export function buildSandboxGrants(
  settings: SandboxGrantsSettings | undefined,
  at: ConfigPath,
  problems: ConfigProblems,
  environment: NodeJS.ProcessEnv = process.env,
): SandboxGrantsConfig | undefined {
  if (settings === undefined) return {};
  let env: Record<string, string> | undefined;
  let missing = false;
  if (settings.env !== undefined) {
    env = {};
    settings.env.forEach((name, index) => {
      const value = environment[name];
      if (value === undefined) {
        missing = true;
        problems.add([...at, 'env', index], `is ${name}, which is not set in pgcdc's environment; expected every granted variable to be set when pgcdc starts`, {
          hint: `set ${name} in the environment pgcdc starts in, or remove it from ${formatPath([...at, 'env'])}`,
        });
      } else env![name] = value;
    });
  }
  if (missing) return undefined;
  const network = settings.allowNetwork;
  return {
    allowNetwork:
      network === undefined
        ? undefined
        : { hosts: network.hosts.map((entry) => parseHostPattern(entry)).filter((pattern) => typeof pattern !== 'string'), requestTimeoutMs: network.timeoutMs },
    env,
  };
}
