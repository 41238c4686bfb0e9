/**
 * PostgreSQL connection URLs: parsing `postgres://` URLs with their libpq query parameters into a
 * ConnectionConfig (certificate files read into PEM text), and back into a URL or `pg` options.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { ClientConfig } from 'pg';
import { parse } from 'pg-connection-string';
import { nearestName } from './nearest-name.js';
import { redactUrl } from './redact-config.js';
import { type ConnectionConfig, SSL_MODES, type SslMode } from './stream-config.js';

export const CONNECTION_URL_EXAMPLE = 'postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require';

/** A password with the characters that break a URL, and how it is written in one. */
const SPECIAL_PASSWORD_EXAMPLE = 'p@ss#w/rd?';
const PERCENT_ENCODINGS = `@ as %40, # as %23, / as %2F, ? as %3F: ${SPECIAL_PASSWORD_EXAMPLE} is written ${encodeURIComponent(SPECIAL_PASSWORD_EXAMPLE)}`;
export const DEFAULT_PORT = 5432;
export const DEFAULT_SSL_MODE: SslMode = 'prefer';
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The libpq parameters pgcdc reads from the query string. */
export const URL_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'application_name', 'connect_timeout', 'host', 'port', 'user', 'password'];

/** What a URL says, before defaults are applied and certificate files are read. */
export interface ConnectionUrlParts {
  readonly host: string;
  readonly port: number;
  readonly database: string | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly sslMode: SslMode | undefined;
  readonly sslRootCertPath: string | undefined;
  readonly sslCertPath: string | undefined;
  readonly sslKeyPath: string | undefined;
  readonly applicationName: string | undefined;
  readonly connectTimeoutMs: number | undefined;
}

/** The parts of a URL, or what is wrong with it (each an `is …; expected …` tail, password masked). */
export type ParsedConnectionUrl = { readonly parts: ConnectionUrlParts } | { readonly problems: readonly string[] };

/**
 * Parses a `postgres://` or `postgresql://` URL.
 *
 * @example
 * parseConnectionUrl('postgres://app:pw@db:5433/orders?sslmode=require');
 * // { parts: { host: 'db', port: 5433, database: 'orders', user: 'app', password: 'pw', sslMode: 'require', … } }
 */
export function parseConnectionUrl(url: string): ParsedConnectionUrl {
  const shown = JSON.stringify(redactUrl(url));
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    return { problems: [`is ${shown}; expected a postgres:// or postgresql:// URL, e.g. ${CONNECTION_URL_EXAMPLE}`] };
  }
  if (hasUnencodedUserInfo(url)) {
    return { problems: [`is ${shown}, whose user name or password holds "@", "#", "/" or "?" unencoded, so its host cannot be told; expected the user name and password percent-encoded (${PERCENT_ENCODINGS})`] };
  }
  const queryStart = url.indexOf('?');
  const base = queryStart < 0 ? url : url.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1).split('#')[0]);
  const problems = [...new Set(query.keys())].filter((name) => !URL_PARAMETERS.includes(name)).map(unknownParameter);

  const addressing = new URLSearchParams();
  for (const name of ['host', 'port', 'user', 'password']) {
    const value = query.get(name);
    if (value !== null) addressing.set(name, value);
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(addressing.size > 0 ? `${base}?${addressing}` : base);
  } catch {
    return { problems: [`is ${shown}, which cannot be parsed as a URL; expected e.g. ${CONNECTION_URL_EXAMPLE} (percent-encode the user name and password: ${PERCENT_ENCODINGS})`] };
  }
  const host = parsed.host ?? '';
  if (host.includes(',')) problems.push(`is ${shown}, which names several hosts; expected exactly one host`);
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`has port ${JSON.stringify(parsed.port)}; expected an integer from 1 to 65535`);
  const sslMode = query.get('sslmode') ?? undefined;
  if (sslMode !== undefined && !(SSL_MODES as readonly string[]).includes(sslMode)) {
    const near = nearestName(sslMode, SSL_MODES);
    problems.push(`has sslmode=${sslMode}; expected one of: ${SSL_MODES.join(', ')}${near === undefined ? '' : ` (did you mean ${near}?)`}`);
  }
  const timeout = query.get('connect_timeout') ?? undefined;
  if (timeout !== undefined && !(/^\d+$/.test(timeout) && Number(timeout) >= 1)) {
    problems.push(`has connect_timeout=${timeout}; expected a whole number of seconds ≥ 1`);
  }
  if (problems.length > 0) return { problems };
  return {
    parts: {
      host: host === '' ? 'localhost' : host,
      port,
      database: parsed.database || undefined,
      user: parsed.user || undefined,
      password: parsed.password || undefined,
      sslMode: sslMode as SslMode | undefined,
      sslRootCertPath: query.get('sslrootcert') ?? undefined,
      sslCertPath: query.get('sslcert') ?? undefined,
      sslKeyPath: query.get('sslkey') ?? undefined,
      applicationName: query.get('application_name') ?? undefined,
      connectTimeoutMs: timeout === undefined ? undefined : Number(timeout) * 1000,
    },
  };
}

/**
 * Whether an `@` follows the host, where only the user-info part may have one: the sign of a user
 * name or password holding an unencoded `/`, `#` or `?` (`postgres://cdc:pa@ss#w/rd@db/shop` would
 * connect to host `ss`). An `@` in a query parameter's value is fine.
 */
function hasUnencodedUserInfo(url: string): boolean {
  const rest = url.slice(url.indexOf('://') + 3);
  const authorityEnd = rest.search(/[/?#]/);
  if (authorityEnd < 0) return false;
  const afterAuthority = rest.slice(authorityEnd);
  const queryStart = afterAuthority.indexOf('?');
  if (queryStart < 0) return afterAuthority.includes('@');
  if (afterAuthority.slice(0, queryStart).includes('@')) return true;
  const [query, fragment = ''] = afterAuthority.slice(queryStart + 1).split(/#(.*)/s);
  return fragment.includes('@') || query.split('&').some((pair) => pair.split('=')[0].includes('@'));
}

function unknownParameter(name: string): string {
  const near = nearestName(name, URL_PARAMETERS);
  const suggestion = near === undefined ? '' : `did you mean ${near}? `;
  return `has the query parameter "${name}", which pgcdc does not support; ${suggestion}(supported: ${URL_PARAMETERS.join(', ')})`;
}

/** Values used where the URL (or document) says nothing. */
export interface ConnectionDefaults {
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
}

/**
 * The PEM text of a certificate or key file (relative to `cwd`), or what is wrong with it as the end
 * of a sentence: `which cannot be read (…); expected a readable PEM file`.
 */
export async function readPemFile(file: string, cwd: string): Promise<{ readonly text: string } | { readonly problem: string }> {
  try {
    const text = await readFile(path.resolve(cwd, file), 'utf8');
    if (text.includes('-----BEGIN ')) return { text };
    return { problem: 'which holds no PEM block; expected a PEM file (-----BEGIN …)' };
  } catch (error) {
    return { problem: `which cannot be read (${(error as Error).message}); expected a readable PEM file` };
  }
}

/**
 * The ConnectionConfig of parsed URL parts: defaults applied, certificate files (relative to
 * `cwd`) read into PEM text. Unreadable files are returned as problems.
 */
export async function connectionConfigFromParts(
  parts: ConnectionUrlParts,
  defaults: ConnectionDefaults,
  cwd: string,
): Promise<{ readonly config: ConnectionConfig } | { readonly problems: readonly string[] }> {
  const problems: string[] = [];
  const readPem = async (parameter: string, file: string | undefined): Promise<string | undefined> => {
    if (file === undefined) return undefined;
    const pem = await readPemFile(file, cwd);
    if ('text' in pem) return pem.text;
    problems.push(`has ${parameter}=${file}, ${pem.problem}`);
    return undefined;
  };
  const [sslRootCert, sslCert, sslKey] = await Promise.all([
    readPem('sslrootcert', parts.sslRootCertPath),
    readPem('sslcert', parts.sslCertPath),
    readPem('sslkey', parts.sslKeyPath),
  ]);
  if (problems.length > 0) return { problems };
  return {
    config: {
      host: parts.host,
      port: parts.port,
      database: parts.database ?? defaults.database,
      user: parts.user ?? defaults.user,
      password: parts.password,
      sslMode: parts.sslMode ?? DEFAULT_SSL_MODE,
      sslRootCert,
      sslCert,
      sslKey,
      applicationName: parts.applicationName ?? defaults.applicationName,
      connectTimeoutMs: parts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    },
  };
}

/**
 * A `postgres://` URL for a connection (password included: pass it through redactUrl before
 * logging). Certificates are contents, not paths, so they cannot be part of it.
 */
export function connectionUrlFor(config: ConnectionConfig): string {
  const socket = config.host.startsWith('/');
  const password = config.password === undefined ? '' : `:${encodeURIComponent(config.password)}`;
  const authority = socket ? '' : `${net.isIPv6(config.host) ? `[${config.host}]` : config.host}:${config.port}`;
  const query = new URLSearchParams();
  if (socket) {
    query.set('host', config.host);
    query.set('port', String(config.port));
  }
  query.set('sslmode', config.sslMode);
  query.set('application_name', config.applicationName);
  query.set('connect_timeout', String(Math.max(1, Math.ceil(config.connectTimeoutMs / 1000))));
  return `postgres://${encodeURIComponent(config.user)}${password}@${authority}/${encodeURIComponent(config.database)}?${query}`;
}

/**
 * Options for the `pg` driver. `pg` cannot fall back from TLS to plain text, so `allow` and
 * `prefer` connect without TLS; `require` encrypts without verifying, `verify-ca` checks the
 * chain against sslrootcert, `verify-full` also checks the host name.
 */
export function pgClientConfig(config: ConnectionConfig): ClientConfig {
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
    application_name: config.applicationName,
    connectionTimeoutMillis: config.connectTimeoutMs,
    ssl: sslOptions(config),
  };
}

function sslOptions(config: ConnectionConfig): ClientConfig['ssl'] {
  if (config.host.startsWith('/')) return false;
  const material = { ca: config.sslRootCert, cert: config.sslCert, key: config.sslKey };
  switch (config.sslMode) {
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'require':
      return { ...material, rejectUnauthorized: false };
    case 'verify-ca':
      return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { ...material, rejectUnauthorized: true };
  }
}
