/**
 * Turns a PostgreSQL ErrorResponse, or a socket error, into a PgcdcError with the right code and a
 * hint that says how to fix it.
 */
import { PgcdcError } from '../../errors/pgcdc-error.js';

/** The fields of an ErrorResponse or NoticeResponse. */
export interface ServerErrorFields {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
}

/** Parses the body of an ErrorResponse/NoticeResponse. */
export function parseErrorFields(buf: Buffer, start: number, end: number): ServerErrorFields {
  const fields = new Map<string, string>();
  let offset = start;
  while (offset < end && buf[offset] !== 0) {
    const type = String.fromCharCode(buf[offset]!);
    const nul = buf.indexOf(0, offset + 1);
    fields.set(type, buf.toString('utf8', offset + 1, nul));
    offset = nul + 1;
  }
  return {
    severity: fields.get('V') ?? fields.get('S') ?? 'ERROR',
    code: fields.get('C') ?? 'XX000',
    message: fields.get('M') ?? 'unknown error',
    detail: fields.get('D'),
    hint: fields.get('H'),
  };
}

/** Where the connection was going, for messages. */
export interface ConnectionContext {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** Maps a server error to a PgcdcError whose message names the server and what failed. */
export function serverErrorToPgcdcError(fields: ServerErrorFields, context: ConnectionContext, during?: string): PgcdcError {
  const where = `${context.user}@${context.host}:${context.port}/${context.database}`;
  const what = `${during ? `${during}: ` : ''}${fields.message}${fields.detail ? ` (${fields.detail})` : ''}`;
  const options = { cause: fields };
  switch (fields.code) {
    case '28P01':
      return new PgcdcError('AUTH_FAILED', `password authentication failed for ${where}`, {
        ...options,
        hint: 'check the user name and password in the source URL or secret',
      });
    case '28000':
      return new PgcdcError('AUTH_FAILED', `${where} refused the connection: ${fields.message}`, {
        ...options,
        hint: /replication/i.test(fields.message)
          ? `add a "host replication ${context.user} <client address> scram-sha-256" line to pg_hba.conf and reload`
          : 'allow this client in pg_hba.conf and reload the server',
      });
    case '3D000':
      return new PgcdcError('DATABASE_NOT_FOUND', `database "${context.database}" does not exist on ${context.host}:${context.port}`, {
        ...options,
        hint: 'create it or fix the database name in the source URL',
      });
    case '42501':
      return new PgcdcError('PERMISSION_DENIED', `${where}: ${what}`, {
        ...options,
        hint: /replication|walsender/i.test(fields.message)
          ? `grant it with: ALTER ROLE ${quoteIdentIfNeeded(context.user)} WITH REPLICATION`
          : fields.hint ?? 'grant the missing privilege to the connecting role',
      });
    case '55000':
      if (/wal_level/i.test(fields.message)) {
        return new PgcdcError('WAL_LEVEL', `logical decoding is not enabled on ${context.host}:${context.port}: ${fields.message}`, {
          ...options,
          hint: "run ALTER SYSTEM SET wal_level = 'logical' and restart PostgreSQL",
        });
      }
      return new PgcdcError('QUERY_FAILED', `${where}: ${what}`, { ...options, hint: fields.hint ?? 'see the server log' });
    case '55006':
      return new PgcdcError('SLOT_ACTIVE', `${what}`, {
        ...options,
        hint: 'another pgcdc (or another consumer) is reading this slot: stop it, or give this stream its own slotName',
      });
    case '53400':
      return new PgcdcError('SLOT_LIMIT', `${where}: ${what}`, {
        ...options,
        hint: 'raise max_replication_slots / max_wal_senders on the source (restart needed) or drop unused slots',
      });
    case '42704':
      if (/publication/i.test(fields.message)) {
        return new PgcdcError('PUBLICATION_MISSING', what, {
          ...options,
          hint: 'run "pgcdc init -c FILE", or set publicationAutocreateMode to filtered or all_tables',
        });
      }
      if (/replication slot/i.test(fields.message)) {
        return new PgcdcError('SLOT_LOST', what, {
          ...options,
          hint: 'the slot was dropped; changes since the last acknowledged position may be lost: run "pgcdc teardown -c FILE" then "pgcdc run" to start over with a snapshot',
        });
      }
      return new PgcdcError('QUERY_FAILED', `${where}: ${what}`, options);
    case '57P01':
    case '57P02':
    case '57P03':
    case '53300':
      return new PgcdcError('CONNECTION_LOST', `${where}: ${what}`, { ...options, hint: 'pgcdc reconnects when the server is back' });
    default:
      if (fields.code.startsWith('08')) {
        return new PgcdcError('CONNECTION_LOST', `${where}: ${what}`, { ...options, hint: 'pgcdc reconnects when the server is back' });
      }
      return new PgcdcError('QUERY_FAILED', `${where}: ${what}`, { ...options, hint: fields.hint ?? 'see the server log for details' });
  }
}

/**
 * A CONNECTION_LOST error met before the connection was ready, with the fix for a peer that drops
 * new connections: the wrong port, a proxy or firewall, or a server that requires TLS. Any other
 * error is returned as it is.
 *
 * @example
 * try { await client.connect(); } catch (error) { throw lostWhileConnecting(asPgcdcError(error), context); }
 */
export function lostWhileConnecting(error: unknown, context: ConnectionContext): unknown {
  if (!(error instanceof PgcdcError) || error.code !== 'CONNECTION_LOST') return error;
  const target = `${context.host}:${context.port}`;
  const detail = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return new PgcdcError('CONNECTION_LOST', `the connection to ${target} was closed while connecting, before PostgreSQL answered${detail}`, {
    cause: error.cause ?? error,
    hint: `check that ${target} is PostgreSQL's port (not another service's), that no proxy or firewall in between drops the connection, and whether the server requires TLS (add sslmode=require to the URL)`,
  });
}

/** Maps a socket-level error (ECONNREFUSED, ENOTFOUND, ...) to a PgcdcError. */
export function socketErrorToPgcdcError(error: NodeJS.ErrnoException, context: ConnectionContext): PgcdcError {
  const target = `${context.host}:${context.port}`;
  switch (error.code) {
    case 'ECONNREFUSED':
      return new PgcdcError('SOURCE_UNREACHABLE', `cannot connect to PostgreSQL at ${target}: connection refused`, {
        cause: error,
        hint: 'check that the server is running and listens on this host and port (listen_addresses, port)',
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PgcdcError('SOURCE_UNREACHABLE', `cannot resolve host "${context.host}"`, {
        cause: error,
        hint: 'check the host name in the source URL',
      });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new PgcdcError('SOURCE_UNREACHABLE', `cannot reach PostgreSQL at ${target}: ${error.code}`, {
        cause: error,
        hint: 'check the host, port, network and firewalls, or raise connect_timeout',
      });
    default:
      return new PgcdcError('CONNECTION_LOST', `connection to PostgreSQL at ${target} failed: ${error.message}`, {
        cause: error,
        hint: 'pgcdc reconnects when the server is back',
      });
  }
}

function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
