/**
 * Secrets-free copies of configuration for logs and error messages: passwords and private keys
 * become `***`, passwords inside connection URLs are masked, certificates are summarised.
 */
import type { StreamConfig } from './stream-config.js';

/** What a hidden secret is shown as. */
export const REDACTED = '***';

const SENSITIVE_KEY = /password|passwd|secret|token|authorization|credential|sslkey|privatekey/i;

/** True for keys whose values are secrets (`password`, `sslKey`, `Authorization`, …). */
export function isSensitiveKey(key: string | number): boolean {
  return typeof key === 'string' && SENSITIVE_KEY.test(key);
}

/**
 * The URL with its password (user-info part and `password=` query parameter) replaced by `***`.
 * Works on malformed URLs too: everything between the user name and the last `@` is masked.
 *
 * @example
 * redactUrl('postgres://app:s3cret@db:5432/orders?sslmode=require');
 * // 'postgres://app:***@db:5432/orders?sslmode=require'
 */
export function redactUrl(url: string): string {
  return maskPasswordParameter(maskUserInfoPassword(url));
}

function maskUserInfoPassword(url: string): string {
  const schemeEnd = url.indexOf('://');
  // Without a scheme (a malformed URL), the text may still start with `user:password@`.
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  const rest = url.slice(authorityStart);
  const at = lastUserInfoEnd(rest);
  if (at < 0) return url;
  const userInfo = rest.slice(0, at);
  const colon = userInfo.indexOf(':');
  if (colon < 0) return url;
  return `${url.slice(0, authorityStart)}${userInfo.slice(0, colon)}:${REDACTED}${rest.slice(at)}`;
}

/**
 * Where the user-info ends: the last `@` before the query string when the URL is well formed,
 * else the last `@` anywhere (a password may contain unencoded `/`, `?` or `#`).
 */
function lastUserInfoEnd(rest: string): number {
  const query = rest.indexOf('?');
  const beforeQuery = query < 0 ? rest : rest.slice(0, query);
  const at = beforeQuery.lastIndexOf('@');
  return at >= 0 ? at : rest.lastIndexOf('@');
}

function maskPasswordParameter(url: string): string {
  return url.replace(/([?&]password=)[^&#]*/gi, `$1${REDACTED}`);
}

/** Replaces every URL-looking word in free text with its redacted form. */
export function redactUrlsIn(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, (url) => redactUrl(url));
}

/**
 * A copy of the configuration safe to log: `password` → `***`, `sslKey` → `***`, certificates
 * replaced by a short summary, any URL with its password masked.
 *
 * @example
 * logger.info({ config: redactConfig(config) }, 'starting stream');
 */
export function redactConfig(config: StreamConfig): unknown {
  return redactValue(config, undefined);
}

function redactValue(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && isSensitiveKey(key)) return REDACTED;
    if (key === 'sslRootCert' || key === 'sslCert') return `(PEM, ${Buffer.byteLength(value)} bytes)`;
    return value.includes('://') ? redactUrlsIn(value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  }
  return value;
}
