/**
 * A PostgreSQL protocol 3 connection written for replication: TCP or Unix socket, TLS per sslmode,
 * cleartext/MD5/SCRAM-SHA-256 authentication, simple queries, and CopyBoth mode where every
 * CopyData payload is handed to a handler as a view into the received bytes.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import {
  copyDataMessage,
  copyDoneMessage,
  passwordMessage,
  queryMessage,
  saslInitialResponseMessage,
  saslResponseMessage,
  sslRequestMessage,
  startupMessage,
  terminateMessage,
} from './frontend-messages.js';
import { MessageFramer, type MessageHandler } from './message-framer.js';
import { SCRAM_MECHANISM, ScramSession } from './scram-sha-256.js';
import { parseErrorFields, serverErrorToPgcdcError, socketErrorToPgcdcError, type ConnectionContext } from './server-error.js';

/** One result set of a simple query; values in text form. */
export interface SimpleQueryResult {
  readonly command: string;
  readonly fields: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** Receives each CopyData payload; a returned promise holds further reading until it settles. */
export type CopyDataHandler = (buf: Buffer, start: number, end: number) => void | Promise<void>;

export interface WireConnectOptions {
  /** Extra startup parameters, e.g. `{ replication: 'database', options: '-c TimeZone=UTC' }`. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Receives NoticeResponse messages. */
  readonly onNotice?: (message: string) => void;
}

const B = (c: string): number => c.charCodeAt(0);
const MSG_AUTH = B('R');
const MSG_PARAMETER_STATUS = B('S');
const MSG_BACKEND_KEY = B('K');
const MSG_READY = B('Z');
const MSG_ERROR = B('E');
const MSG_NOTICE = B('N');
const MSG_ROW_DESCRIPTION = B('T');
const MSG_DATA_ROW = B('D');
const MSG_COMMAND_COMPLETE = B('C');
const MSG_EMPTY_QUERY = B('I');
const MSG_COPY_BOTH = B('W');
const MSG_COPY_OUT = B('H');
const MSG_COPY_DATA = B('d');
const MSG_COPY_DONE = B('c');
const MSG_NEGOTIATE_VERSION = B('v');

/** A connected, authenticated session. */
export class WireConnection {
  readonly #socket: net.Socket;
  readonly #framer: MessageFramer;
  readonly #context: ConnectionContext;
  readonly #parameters = new Map<string, string>();
  readonly #onNotice: (message: string) => void;
  #pending: { resolve: (value: unknown) => void; reject: (error: PgcdcError) => void } | undefined;
  #closed = false;
  /** Set when we ended CopyBoth mode ourselves, so the server's CopyDone is not echoed. */
  #copyDoneSent = false;
  #closeError: PgcdcError | undefined;
  readonly #closeListeners: ((error: PgcdcError | undefined) => void)[] = [];

  private constructor(socket: net.Socket, context: ConnectionContext, onNotice: (message: string) => void) {
    this.#socket = socket;
    this.#context = context;
    this.#onNotice = onNotice;
    this.#framer = new MessageFramer(
      () => undefined,
      { pause: () => socket.pause(), resume: () => socket.resume() },
      (error) => this.#abort(error instanceof PgcdcError ? error : new PgcdcError('INTERNAL', String(error), { cause: error })),
    );
    socket.on('data', (chunk: Buffer) => this.#framer.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#abort(socketErrorToPgcdcError(error, context)));
    socket.on('close', () =>
      this.#abort(new PgcdcError('CONNECTION_LOST', `the connection to ${context.host}:${context.port} was closed`, { hint: 'pgcdc reconnects when the server is back' })),
    );
  }

  /** Opens and authenticates a connection. */
  static async connect(config: ConnectionConfig, options: WireConnectOptions = {}): Promise<WireConnection> {
    const context: ConnectionContext = { host: config.host, port: config.port, database: config.database, user: config.user };
    const socket = await openSocket(config, context);
    const connection = new WireConnection(socket, context, options.onNotice ?? (() => undefined));
    try {
      await connection.#startup(config, options.parameters ?? {});
    } catch (error) {
      connection.destroy();
      throw error;
    }
    return connection;
  }

  /** Server parameters reported at startup (server_version, ...). */
  parameter(name: string): string | undefined {
    return this.#parameters.get(name);
  }

  /** `server_version_num` derived from the reported `server_version`. */
  get serverVersionNum(): number {
    const match = /^(\d+)(?:\.(\d+))?/.exec(this.#parameters.get('server_version') ?? '');
    if (!match) return 0;
    const major = Number(match[1]);
    return major >= 10 ? major * 10000 + Number(match[2] ?? 0) : major * 10000 + Number(match[2] ?? 0) * 100;
  }

  get context(): ConnectionContext {
    return this.#context;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a simple query and returns its result sets. */
  query(sql: string): Promise<SimpleQueryResult[]> {
    const results: SimpleQueryResult[] = [];
    let fields: string[] = [];
    let rows: (string | null)[][] = [];
    let failure: PgcdcError | undefined;
    return this.#exchange<SimpleQueryResult[]>(queryMessage(sql), (type, buf, start, end, done) => {
      if (type === MSG_ROW_DESCRIPTION) {
        fields = parseRowDescription(buf, start);
        rows = [];
      } else if (type === MSG_DATA_ROW) {
        rows.push(parseDataRow(buf, start));
      } else if (type === MSG_COMMAND_COMPLETE) {
        results.push({ command: buf.toString('utf8', start, end - 1), fields, rows });
        fields = [];
        rows = [];
      } else if (type === MSG_EMPTY_QUERY) {
        results.push({ command: '', fields: [], rows: [] });
      } else if (type === MSG_ERROR) {
        failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, firstWords(sql));
      } else if (type === MSG_READY) {
        done(failure, results);
      } else if (type === MSG_COPY_OUT || type === MSG_COPY_BOTH) {
        done(new PgcdcError('PROTOCOL', `unexpected COPY response to "${firstWords(sql)}"`), results);
      }
    });
  }

  /**
   * Sends a command that enters CopyBoth mode (START_REPLICATION). Resolves once the server has
   * switched; from then on every CopyData payload goes to `onData`. `ended` settles when the copy
   * stream stops: rejected with the server's error, or resolved on a clean CopyDone.
   */
  startCopyBoth(sql: string, onData: CopyDataHandler): Promise<{ ended: Promise<void> }> {
    return new Promise((resolveStarted, rejectStarted) => {
      let failure: PgcdcError | undefined;
      let started = false;
      let endResolve!: () => void;
      let endReject!: (error: PgcdcError) => void;
      const ended = new Promise<void>((resolve, reject) => {
        endResolve = resolve;
        endReject = reject;
      });
      ended.catch(() => undefined);
      const handler: MessageHandler = (type, buf, start, end) => {
        if (type === MSG_COPY_DATA) return onData(buf, start, end);
        if (type === MSG_COPY_BOTH) {
          started = true;
          resolveStarted({ ended });
        } else if (type === MSG_ERROR) {
          failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, started ? 'replication stream' : firstWords(sql));
          if (!started) rejectStarted(failure);
          else endReject(failure);
        } else if (type === MSG_NOTICE) {
          this.#onNotice(parseErrorFields(buf, start, end).message);
        } else if (type === MSG_COPY_DONE) {
          if (!this.#copyDoneSent) this.#write(copyDoneMessage());
        } else if (type === MSG_READY) {
          this.#pending = undefined;
          this.#framer.setHandler(this.#idleHandler);
          if (failure) endReject(failure);
          else endResolve();
        } else if (type === MSG_PARAMETER_STATUS) {
          this.#recordParameter(buf, start);
        }
        return undefined;
      };
      this.#pending = {
        resolve: () => undefined,
        reject: (error) => {
          if (!started) rejectStarted(error);
          endReject(error);
        },
      };
      this.#copyDoneSent = false;
      this.#framer.setHandler(handler);
      this.#write(queryMessage(sql));
    });
  }

  /** Ends CopyBoth mode from our side; the copy's `ended` promise settles once the server agrees. */
  endCopy(): void {
    if (this.#copyDoneSent) return;
    this.#copyDoneSent = true;
    this.#write(copyDoneMessage());
  }

  /** Sends one CopyData message (standby status updates in replication). */
  sendCopyData(payload: Buffer): void {
    this.#write(copyDataMessage(payload));
  }

  /** Registers a listener for the end of the connection (error, or undefined for a clean close). */
  onClose(listener: (error: PgcdcError | undefined) => void): void {
    if (this.#closed) listener(this.#closeError);
    else this.#closeListeners.push(listener);
  }

  /** Sends Terminate and closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end(terminateMessage());
      setTimeout(() => {
        this.#socket.destroy();
        resolve();
      }, 2000).unref();
    });
    for (const listener of this.#closeListeners.splice(0)) listener(undefined);
  }

  /** Closes the socket at once. */
  destroy(): void {
    if (!this.#closed) this.#abort(undefined);
    this.#socket.destroy();
  }

  #idleHandler: MessageHandler = (type, buf, start, end) => {
    if (type === MSG_ERROR) {
      // An error outside any request: the server is terminating the session.
      this.#abort(serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context));
    } else if (type === MSG_NOTICE) {
      this.#onNotice(parseErrorFields(buf, start, end).message);
    } else if (type === MSG_PARAMETER_STATUS) {
      this.#recordParameter(buf, start);
    }
    return undefined;
  };

  #exchange<T>(
    message: Buffer,
    onMessage: (type: number, buf: Buffer, start: number, end: number, done: (error: PgcdcError | undefined, value: T) => void) => void,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closeError ?? new PgcdcError('CONNECTION_LOST', 'the connection is closed'));
    if (this.#pending) return Promise.reject(new PgcdcError('INTERNAL', 'a request is already in progress on this connection'));
    return new Promise<T>((resolve, reject) => {
      const done = (error: PgcdcError | undefined, value: T): void => {
        this.#pending = undefined;
        this.#framer.setHandler(this.#idleHandler);
        if (error) reject(error);
        else resolve(value);
      };
      this.#pending = { resolve: resolve as (value: unknown) => void, reject };
      this.#framer.setHandler((type, buf, start, end) => {
        if (type === MSG_NOTICE) this.#onNotice(parseErrorFields(buf, start, end).message);
        else if (type === MSG_PARAMETER_STATUS) this.#recordParameter(buf, start);
        else onMessage(type, buf, start, end, done);
        return undefined;
      });
      this.#write(message);
    });
  }

  async #startup(config: ConnectionConfig, extra: Readonly<Record<string, string>>): Promise<void> {
    const parameters: Record<string, string> = {
      user: config.user,
      database: config.database,
      application_name: config.applicationName,
      ...extra,
    };
    let scram: ScramSession | undefined;
    let failure: PgcdcError | undefined;
    await this.#exchange<void>(startupMessage(parameters), (type, buf, start, end, done) => {
      if (type === MSG_AUTH) {
        const kind = buf.readInt32BE(start);
        if (kind === 0) return; // AuthenticationOk
        const password = config.password;
        if (kind !== 0 && password === undefined) {
          failure = new PgcdcError('AUTH_FAILED', `the server asks for a password for ${config.user}@${config.host}:${config.port} and none was given`, {
            hint: 'put the password in the source URL, the password secret, or PGPASSWORD',
          });
          return done(failure, undefined);
        }
        if (kind === 3) {
          this.#write(passwordMessage(password!));
        } else if (kind === 5) {
          const salt = buf.subarray(start + 4, start + 8);
          const inner = md5Hex(Buffer.concat([Buffer.from(password!, 'utf8'), Buffer.from(config.user, 'utf8')]));
          this.#write(passwordMessage(`md5${md5Hex(Buffer.concat([Buffer.from(inner), salt]))}`));
        } else if (kind === 10) {
          const mechanisms = buf.toString('utf8', start + 4, end).split('\0').filter(Boolean);
          if (!mechanisms.includes(SCRAM_MECHANISM)) {
            failure = new PgcdcError('AUTH_FAILED', `the server offers SASL mechanisms ${mechanisms.join(', ')}; pgcdc supports ${SCRAM_MECHANISM}`, {
              hint: 'allow scram-sha-256 for this user in pg_hba.conf',
            });
            return done(failure, undefined);
          }
          scram = new ScramSession(password!);
          this.#write(saslInitialResponseMessage(SCRAM_MECHANISM, scram.clientFirstMessage()));
        } else if (kind === 11 && scram) {
          this.#write(saslResponseMessage(scram.clientFinalMessage(buf.toString('utf8', start + 4, end))));
        } else if (kind === 12 && scram) {
          scram.verifyServerFinal(buf.toString('utf8', start + 4, end));
        } else {
          failure = new PgcdcError('AUTH_FAILED', `the server asks for an authentication method pgcdc does not support (code ${kind})`, {
            hint: 'use scram-sha-256, md5 or password authentication for this user in pg_hba.conf',
          });
          done(failure, undefined);
        }
      } else if (type === MSG_ERROR) {
        done(serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context), undefined);
      } else if (type === MSG_BACKEND_KEY || type === MSG_NEGOTIATE_VERSION) {
        // not needed
      } else if (type === MSG_READY) {
        done(failure, undefined);
      }
    });
  }

  #recordParameter(buf: Buffer, start: number): void {
    const nul = buf.indexOf(0, start);
    const valueEnd = buf.indexOf(0, nul + 1);
    this.#parameters.set(buf.toString('utf8', start, nul), buf.toString('utf8', nul + 1, valueEnd));
  }

  #write(message: Buffer): void {
    if (!this.#closed) this.#socket.write(message);
  }

  #abort(error: PgcdcError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) pending.reject(error ?? new PgcdcError('CONNECTION_LOST', 'the connection was closed'));
    this.#socket.destroy();
    for (const listener of this.#closeListeners.splice(0)) listener(error);
  }
}

function md5Hex(data: Buffer): string {
  return crypto.createHash('md5').update(data).digest('hex');
}

function firstWords(sql: string): string {
  const words = sql.trim().split(/\s+/).slice(0, 3).join(' ');
  return words.length > 60 ? `${words.slice(0, 60)}…` : words;
}

function parseRowDescription(buf: Buffer, start: number): string[] {
  const count = buf.readInt16BE(start);
  const names: string[] = [];
  let offset = start + 2;
  for (let i = 0; i < count; i++) {
    const nul = buf.indexOf(0, offset);
    names.push(buf.toString('utf8', offset, nul));
    offset = nul + 1 + 18;
  }
  return names;
}

function parseDataRow(buf: Buffer, start: number): (string | null)[] {
  const count = buf.readInt16BE(start);
  const values: (string | null)[] = [];
  let offset = start + 2;
  for (let i = 0; i < count; i++) {
    const length = buf.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values.push(null);
    } else {
      values.push(buf.toString('utf8', offset, offset + length));
      offset += length;
    }
  }
  return values;
}

async function openSocket(config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  const socket = await connectSocket(config, context);
  if (config.sslMode === 'disable' || config.sslMode === 'allow' || config.host.startsWith('/')) return socket;
  const accepted = await requestSsl(socket, context);
  if (!accepted) {
    if (config.sslMode === 'prefer') return socket;
    socket.destroy();
    throw new PgcdcError('SOURCE_UNREACHABLE', `the server at ${context.host}:${context.port} does not accept TLS but sslmode=${config.sslMode}`, {
      hint: 'enable ssl on the server, or use sslmode=prefer/disable',
    });
  }
  return upgradeToTls(socket, config, context);
}

function connectSocket(config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = config.host.startsWith('/')
      ? net.connect({ path: `${config.host}/.s.PGSQL.${config.port}` })
      : net.connect({ host: config.host, port: config.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new PgcdcError('SOURCE_UNREACHABLE', `cannot reach PostgreSQL at ${context.host}:${context.port}: no answer within ${config.connectTimeoutMs} ms`, {
          hint: 'check the host, port, network and firewalls, or raise connect_timeout',
        }),
      );
    }, config.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setKeepAlive(true, 10_000);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketErrorToPgcdcError(error, context));
    });
  });
}

function requestSsl(socket: net.Socket, context: ConnectionContext): Promise<boolean> {
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => {
      socket.removeAllListeners('error');
      resolve(chunk[0] === B('S'));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => reject(socketErrorToPgcdcError(error, context)));
    socket.write(sslRequestMessage());
  });
}

function upgradeToTls(socket: net.Socket, config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  const verify = config.sslMode === 'verify-ca' || config.sslMode === 'verify-full';
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername: net.isIP(config.host) ? undefined : config.host,
      rejectUnauthorized: verify,
      ca: config.sslRootCert,
      cert: config.sslCert,
      key: config.sslKey,
      checkServerIdentity: config.sslMode === 'verify-full' ? tls.checkServerIdentity : () => undefined,
    });
    secure.once('secureConnect', () => {
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new PgcdcError('SOURCE_UNREACHABLE', `TLS handshake with ${context.host}:${context.port} failed: ${error.message}`, {
          cause: error,
          hint: verify ? 'check sslrootcert (the CA that signed the server certificate) and the host name' : 'check the server TLS configuration',
        }),
      );
    });
  });
}
