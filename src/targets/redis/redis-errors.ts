/**
 * Turns what ioredis and the Redis server report into one-line PgcdcErrors naming the server, user
 * or key and the fix: a lost or refused connection, a timeout, a server loading or read-only is
 * TARGET_UNREACHABLE (the stream retries); a refused login, a missing ACL permission, a key of
 * another type, an entry over the server's limit is TARGET_FAILED (the stream stops).
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';

/** Where the error happened, for messages. */
export interface RedisErrorContext {
  /** `host:port`. */
  readonly server: string;
  readonly user: string | undefined;
  /** The stream key (or position key) being written, when known. */
  readonly key?: string;
}

const SETTINGS = 'spec.target.redisStreams';

/** The message of anything thrown. */
export function describeRedisError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0]!.trim();
  return String(error);
}

/** True when the error says the connection is gone or never came up (the outcome of a sent command is unknown). */
export function isConnectionError(error: unknown): boolean {
  const text = describeRedisError(error);
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|ERR_SSL.*|ECONNABORTED)$/.test(code)
  ) || /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Command timed out|socket hang up|Reached the max retries|read ECONNRESET|write EPIPE|Client network socket disconnected/i.test(text);
}

/** The PgcdcError for `error` (a PgcdcError is returned as it is). */
export function redisError(error: unknown, context: RedisErrorContext): PgcdcError {
  if (error instanceof PgcdcError) return error;
  const text = describeRedisError(error);
  const who = context.user === undefined ? 'the default user' : `user "${context.user}"`;
  const key = context.key === undefined ? '' : ` on key "${context.key}"`;
  if (/^(WRONGPASS|NOAUTH)|invalid (username-)?password|AUTH .*without any password/i.test(text)) {
    return new PgcdcError('TARGET_FAILED', `Redis at ${context.server} refused the login of ${who}: ${text}`, {
      hint: `check the user and password of ${SETTINGS} (url, username, password) against the server's ACL (ACL LIST) or requirepass`,
    });
  }
  if (/^PGCDCPOSITION/.test(text)) {
    return new PgcdcError('TARGET_FAILED', `Redis position key "${context.key ?? '?'}" was moved by another writer (a second pgcdc running this stream?): ${text.replace(/^PGCDCPOSITION \S+ /, '')}`, {
      hint: 'run each stream once, or give each its own spec.target.redisStreams.positionKey; nothing Redis does not hold was acknowledged',
    });
  }
  if (/^NOPERM/.test(text)) {
    const command = /run the '([^']+)' command/.exec(text)?.[1];
    return new PgcdcError('TARGET_FAILED', `Redis ${who} may not ${command ? `run ${command.toUpperCase()}` : 'access the keys it writes'}${key}: ${text}`, {
      hint: `grant what the target needs, e.g. ACL SETUSER ${context.user ?? 'default'} +xadd +multi +exec +set +get +type +ping ~<stream keys> ~<position key>, or use another user`,
    });
  }
  if (/^WRONGTYPE/.test(text)) {
    return new PgcdcError('TARGET_FAILED', `Redis key "${context.key ?? '?'}" holds a value that is not a stream: ${text}`, {
      hint: `rename or delete that key, or change ${SETTINGS}.streamKey (or positionKey) so the target writes elsewhere`,
    });
  }
  if (/invalid bulk length|Protocol error|too big|exceeds|query buffer/i.test(text) && !isConnectionError(error)) {
    return new PgcdcError('TARGET_FAILED', `Redis at ${context.server} refused an entry${key} as too large: ${text}`, {
      hint: `raise the server's proto-max-bulk-len (CONFIG SET proto-max-bulk-len …), or set ${SETTINGS}.maxEntryBytes below it so such entries go by deadLetter.policy`,
    });
  }
  if (/^(LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|BUSY)|^OOM /.test(text)) {
    return new PgcdcError('TARGET_UNREACHABLE', `Redis at ${context.server} cannot take writes now${key}: ${text}`, {
      hint: /^OOM/.test(text) ? 'free memory on the server (trim streams, maxLen, raise maxmemory); the stream retries' : 'the stream retries until the server accepts writes again',
    });
  }
  const code = (error as { code?: unknown })?.code;
  if ((typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/.test(code)) || /certificate|self[- ]signed/i.test(text)) {
    return new PgcdcError('TARGET_FAILED', `Redis at ${context.server} presented a TLS certificate pgcdc does not trust: ${text}`, {
      hint: `give the CA that signed it as ${SETTINGS}.tls.caCertificate (a PEM file), or check that the URL's host is one the certificate names`,
    });
  }
  if (isConnectionError(error)) {
    return new PgcdcError('TARGET_UNREACHABLE', `Redis at ${context.server} cannot be reached: ${text}`, {
      hint: `check that the server runs and ${SETTINGS}.url is right (TLS: rediss://)`,
      cause: error,
    });
  }
  return new PgcdcError('TARGET_FAILED', `Redis at ${context.server} failed${key}: ${text}`, { hint: 'see the server\'s log; the stream stops with nothing acknowledged past the failed batch', cause: error });
}
