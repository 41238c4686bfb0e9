/**
 * A PostgreSQL protocol 3 connection written for replication: startup and authentication, simple
 * queries, and CopyBoth mode where every
 * CopyData payload is handed to a handler as a view into the received bytes.
 */
import type net from 'node:net';
import pg from 'pg';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { Authenticator } from './authenticator.js';
import { CopyInSink } from './copy-in-sink.js';
import { copyDataMessage, copyDataParts, copyDoneMessage, copyFailMessage, extendedQueryMessages, queryMessage, queryMessageOf, startupMessage, terminateMessage } from './frontend-messages.js';
import { firstWords, parseDataRow, parseRowDescription, type ResultField } from './backend-messages.js';
import { MessageFramer, type MessageHandler } from './message-framer.js';
import { lostWhileConnecting, parseErrorFields, serverErrorToPgcdcError, socketErrorToPgcdcError, type ConnectionContext } from './server-error.js';
import { openSocket } from './socket-opener.js';

/** One result set of a simple query; values in text form. */
export interface SimpleQueryResult {
  readonly command: string;
  readonly fields: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** How far a run of statements got. */
export interface StatementsOutcome {
  /** Command tags (`INSERT 0 3`, `UPDATE 2`, …) of the statements that completed. */
  readonly commands: readonly string[];
  /** The error of the statement that failed, if one did. */
  readonly failure: PgcdcError | undefined;
  /** `I` idle, `T` in a transaction, `E` in a failed transaction (ReadyForQuery's status). */
  readonly transactionStatus: string;
  /** The last row any statement returned (text values), if one did. */
  readonly lastRow: readonly (string | null)[] | undefined;
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
const MSG_READY = B('Z');
const MSG_ERROR = B('E');
const MSG_NOTICE = B('N');
const MSG_ROW_DESCRIPTION = B('T');
const MSG_DATA_ROW = B('D');
const MSG_COMMAND_COMPLETE = B('C');
const MSG_EMPTY_QUERY = B('I');
const MSG_COPY_BOTH = B('W');
const MSG_COPY_OUT = B('H');
const MSG_COPY_IN = B('G');
const MSG_COPY_DATA = B('d');
const MSG_COPY_DONE = B('c');

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
    const socket = await openSocket(config, context).catch((error: unknown) => {
      throw lostWhileConnecting(error, context);
    });
    const connection = new WireConnection(socket, context, options.onNotice ?? (() => undefined));
    try {
      await connection.#startup(config, options.parameters ?? {});
    } catch (error) {
      connection.destroy();
      throw lostWhileConnecting(error, context);
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
        fields = parseRowDescription(buf, start).map((field) => field.name);
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
   * Runs `COPY … TO STDOUT`: each CopyData payload (one row) goes to `onRow`, whose promise holds
   * further reading. Resolves with the number of rows once the command completes.
   */
  copyOut(sql: string, onRow: (buf: Buffer, start: number, end: number) => void | Promise<void>): Promise<number> {
    let rows = 0;
    let failure: PgcdcError | undefined;
    return this.#exchange<number>(queryMessage(sql), (type, buf, start, end, done) => {
      if (type === MSG_COPY_DATA) {
        rows++;
        return onRow(buf, start, end);
      }
      if (type === MSG_ERROR) failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, firstWords(sql));
      else if (type === MSG_READY) done(failure, rows);
      return undefined;
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
    message: Buffer | readonly Buffer[],
    onMessage: (type: number, buf: Buffer, start: number, end: number, done: (error: PgcdcError | undefined, value: T) => void) => void | Promise<void>,
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
        else return onMessage(type, buf, start, end, done);
        return undefined;
      });
      this.#write(message);
    });
  }

  /**
   * Runs one statement with parameters (extended protocol, text format); values are converted the
   * way the `pg` client converts them (numbers, booleans, JSON, arrays), so catalog code written for
   * `pg` runs on this connection too.
   */
  queryParams(sql: string, params: readonly unknown[] = []): Promise<{ rows: Record<string, unknown>[]; rowCount: number }> {
    let fields: ResultField[] = [];
    const rows: Record<string, unknown>[] = [];
    let rowCount = 0;
    let failure: PgcdcError | undefined;
    return this.#exchange(extendedQueryMessages(sql, params), (type, buf, start, end, done) => {
      if (type === MSG_ROW_DESCRIPTION) fields = parseRowDescription(buf, start);
      else if (type === MSG_DATA_ROW) {
        const values = parseDataRow(buf, start);
        const row: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) row[fields[i]!.name] = values[i] === null ? null : pg.types.getTypeParser(fields[i]!.typeOid, 'text')(values[i]!);
        rows.push(row);
      } else if (type === MSG_COMMAND_COMPLETE) {
        rowCount = Number(buf.toString('utf8', start, end - 1).split(' ').pop()) || rows.length;
      } else if (type === MSG_ERROR) failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, firstWords(sql));
      else if (type === MSG_READY) done(failure, { rows, rowCount });
    });
  }

  /**
   * Runs one or more statements (a simple query, possibly several statements, given as text or as
   * the bytes of its text) and reports how far it got: the command tags of the statements that
   * completed and, if one failed, the server's error. Never rejects for a server error.
   * `copies` holds the data of each `COPY … FROM STDIN` among the statements, in order: it is sent
   * right behind the query (a server that stopped early ignores the data it did not read).
   */
  run(sql: string | readonly Buffer[], copies: readonly (readonly Buffer[])[] = []): Promise<StatementsOutcome> {
    const commands: string[] = [];
    let failure: PgcdcError | undefined;
    let lastRow: (string | null)[] | undefined;
    const message = [...(typeof sql === 'string' ? [queryMessage(sql)] : queryMessageOf(sql))];
    for (const data of copies) {
      for (const chunk of data) message.push(...copyDataParts(chunk));
      message.push(copyDoneMessage());
    }
    return this.#exchange<StatementsOutcome>(message, (type, buf, start, end, done) => {
      if (type === MSG_COMMAND_COMPLETE) commands.push(buf.toString('utf8', start, end - 1));
      else if (type === MSG_DATA_ROW) lastRow = parseDataRow(buf, start);
      else if (type === MSG_ERROR) failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, 'applying changes');
      else if (type === MSG_READY) done(undefined, { commands, failure, transactionStatus: String.fromCharCode(buf[start]!), lastRow });
      else if (type === MSG_COPY_OUT || type === MSG_COPY_BOTH) done(new PgcdcError('PROTOCOL', 'unexpected COPY response'), { commands, failure, transactionStatus: 'E', lastRow });
    });
  }

  /**
   * Runs `COPY … FROM STDIN`: `produce` sends the data through the sink (which tells when to wait
   * for the socket), then the copy is finished. Resolves with the number of rows copied.
   */
  copyIn(sql: string, produce: (sink: CopyInSink) => Promise<void>): Promise<number> {
    let failure: PgcdcError | undefined;
    let rows = 0;
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    const finished = this.#exchange<number>(queryMessage(sql), (type, buf, start, end, done) => {
      if (type === MSG_COPY_IN) started();
      else if (type === MSG_ERROR) failure = serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context, firstWords(sql));
      else if (type === MSG_COMMAND_COMPLETE) rows = Number(buf.toString('utf8', start, end - 1).split(' ').pop());
      else if (type === MSG_READY) done(failure, rows);
      return undefined;
    });
    return Promise.race([finished.then(() => undefined), ready]).then(async () => {
      if (!failure && !this.#closed) {
        const sink = new CopyInSink(this.#socket);
        try {
          await produce(sink);
          await sink.flush();
          this.#write(copyDoneMessage());
        } catch (error) {
          this.#write(copyFailMessage(error instanceof Error ? error.message : String(error)));
          await finished.catch(() => undefined);
          throw error;
        }
      }
      return finished;
    });
  }

  async #startup(config: ConnectionConfig, extra: Readonly<Record<string, string>>): Promise<void> {
    const parameters: Record<string, string> = {
      user: config.user,
      database: config.database,
      application_name: config.applicationName,
      ...extra,
    };
    const authenticator = new Authenticator(config, (message) => this.#write(message));
    let failure: PgcdcError | undefined;
    await this.#exchange<void>(startupMessage(parameters), (type, buf, start, end, done) => {
      if (type === MSG_AUTH) {
        failure = authenticator.answer(buf, start, end);
        if (failure) done(failure, undefined);
      } else if (type === MSG_ERROR) {
        done(serverErrorToPgcdcError(parseErrorFields(buf, start, end), this.#context), undefined);
      } else if (type === MSG_READY) {
        done(failure, undefined);
      }
      // BackendKeyData and NegotiateProtocolVersion need no answer.
    });
  }

  #recordParameter(buf: Buffer, start: number): void {
    const nul = buf.indexOf(0, start);
    const valueEnd = buf.indexOf(0, nul + 1);
    this.#parameters.set(buf.toString('utf8', start, nul), buf.toString('utf8', nul + 1, valueEnd));
  }

  #write(message: Buffer | readonly Buffer[]): void {
    if (this.#closed) return;
    if (Buffer.isBuffer(message)) {
      this.#socket.write(message);
      return;
    }
    this.#socket.cork();
    for (const part of message) this.#socket.write(part);
    this.#socket.uncork();
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
