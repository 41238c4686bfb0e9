/**
 * The one error type of pgcdc: every failure has a stable code, a message saying what is wrong,
 * a hint saying how to fix it, and a policy (retry or give up) looked up from one table.
 */

/** What the pipeline does when an error of a kind happens. */
export type ErrorPolicy = 'retry' | 'fatal';

/** Every error code pgcdc can raise, with its policy and a one-line summary. */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: { policy: 'fatal', summary: 'the stream spec is invalid' },
  CONFIG_UNREADABLE: { policy: 'fatal', summary: 'the stream spec cannot be read or parsed' },
  SECRET_NOT_FOUND: { policy: 'fatal', summary: 'a secret or cluster reference cannot be resolved' },
  SOURCE_UNREACHABLE: { policy: 'retry', summary: 'the source server cannot be reached' },
  AUTH_FAILED: { policy: 'fatal', summary: 'the source rejected the credentials' },
  PERMISSION_DENIED: { policy: 'fatal', summary: 'the connecting role lacks a privilege' },
  DATABASE_NOT_FOUND: { policy: 'fatal', summary: 'the database does not exist' },
  WAL_LEVEL: { policy: 'fatal', summary: 'wal_level is not logical' },
  SERVER_UNSUPPORTED: { policy: 'fatal', summary: 'the server version or setting is not supported' },
  SLOT_ACTIVE: { policy: 'retry', summary: 'the replication slot is in use by another connection' },
  SLOT_LOST: { policy: 'fatal', summary: 'the replication slot disappeared' },
  SLOT_LIMIT: { policy: 'fatal', summary: 'no free replication slot or WAL sender' },
  PUBLICATION_MISSING: { policy: 'fatal', summary: 'the publication does not exist' },
  NO_TABLES: { policy: 'fatal', summary: 'no table matches the include/exclude filters' },
  NO_REPLICA_IDENTITY: { policy: 'fatal', summary: 'a table has neither a primary key nor a replica identity' },
  CONNECTION_LOST: { policy: 'retry', summary: 'the replication connection was lost' },
  PROTOCOL: { policy: 'fatal', summary: 'the server sent something pgcdc does not understand' },
  QUERY_FAILED: { policy: 'fatal', summary: 'a query on the source failed' },
  TARGET_UNREACHABLE: { policy: 'retry', summary: 'the target server cannot be reached' },
  TARGET_FAILED: { policy: 'fatal', summary: 'the target could not accept a batch' },
  KAFKA_SOURCE_UNREACHABLE: { policy: 'retry', summary: 'the brokers of a Kafka source cannot be reached' },
  KAFKA_SOURCE_FAILED: { policy: 'fatal', summary: 'a Kafka source cannot be read (a missing topic, a refused login, a record that is not a change event)' },
  STOPPED: { policy: 'fatal', summary: 'the stream was stopped while it waited' },
  TRANSFORM_FAILED: { policy: 'fatal', summary: 'the transform function failed for an event (spec.transform)' },
  STATE_INVALID: { policy: 'fatal', summary: 'the local state directory is unusable' },
  PACKAGE_MISSING: { policy: 'fatal', summary: 'an optional package a feature needs is not installed or does not load' },
  NOT_FOUND: { policy: 'fatal', summary: 'what was asked for does not exist (a dead letter named by its id)' },
  INTERNAL: { policy: 'fatal', summary: 'an unexpected internal error' },
} as const satisfies Record<string, { policy: ErrorPolicy; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * A failure with a stable code and a fix.
 *
 * @example
 * throw new PgcdcError('WAL_LEVEL', 'wal_level is "replica" on the source', {
 *   hint: "run ALTER SYSTEM SET wal_level = 'logical' and restart PostgreSQL",
 * });
 */
export class PgcdcError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgcdcError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The policy of this error's kind. */
  get policy(): ErrorPolicy {
    return ERROR_CATALOGUE[this.code].policy;
  }

  /** One line for a human: what is wrong, then how to fix it. */
  toLine(): string {
    return this.hint ? `${this.message} (fix: ${this.hint})` : this.message;
  }
}

/** True when an error should lead to a reconnect rather than a stop. */
export function isRetryable(error: unknown): boolean {
  return error instanceof PgcdcError && error.policy === 'retry';
}

/** Wraps anything thrown into a PgcdcError, keeping PgcdcErrors as they are. */
export function asPgcdcError(error: unknown, fallback: ErrorCode = 'INTERNAL'): PgcdcError {
  if (error instanceof PgcdcError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PgcdcError(fallback, message, { cause: error });
}
