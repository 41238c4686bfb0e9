/**
 * Connections for tests: the ConnectionConfig of a test server URL, and a pgoutput capture that
 * opens a replication session on a fresh slot and decodes everything the server sends.
 */
import type pg from 'pg';
import { connectionConfigFromParts, parseConnectionUrl } from '../../src/config/connection-url.js';
import type { ConnectionConfig } from '../../src/config/stream-config.js';
import { PgoutputDecoder } from '../../src/decoding/pgoutput-decoder.js';
import type { PgoutputMessage, TupleRef } from '../../src/decoding/pgoutput-messages.js';
import { columnBounds } from '../../src/events/tuple-json.js';
import type { Lsn } from '../../src/source/lsn.js';
import { ReplicationSession } from '../../src/source/replication-session.js';
import { waitFor, withClient } from './postgres.js';

let slotCounter = 0;

/** The ConnectionConfig pgcdc would build from `url` (a test server URL). */
export async function connectionConfigFor(url: string): Promise<ConnectionConfig> {
  const parsed = parseConnectionUrl(url);
  if ('problems' in parsed) throw new Error(`bad test URL: ${parsed.problems.join('; ')}`);
  const result = await connectionConfigFromParts(parsed.parts, { user: 'postgres', database: 'postgres', applicationName: 'pgcdc-test' }, process.cwd());
  if ('problems' in result) throw new Error(`bad test URL: ${result.problems.join('; ')}`);
  return result.config;
}

/** How `tupleValues` shows an unchanged TOASTed value (`u`). */
export const UNCHANGED = Object.freeze({ unchanged: true });
export type TupleValue = string | null | typeof UNCHANGED;

/** The column values of a TupleData: text as strings, `n` as null, `u` as UNCHANGED. */
export function tupleValues(tuple: TupleRef): TupleValue[] {
  const count = tuple.buf.readUInt16BE(tuple.offset);
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const bounds = columnBounds(tuple, i);
    if (bounds.kind === 0x74) values.push(tuple.buf.toString('utf8', bounds.start, bounds.end));
    else if (bounds.kind === 0x6e) values.push(null);
    else if (bounds.kind === 0x75) values.push(UNCHANGED);
    else throw new Error(`unexpected column kind 0x${bounds.kind.toString(16)} in column ${i}`);
  }
  return values;
}

/** The 32-bit xid of a `txid_current()` result. */
export function xidOf(txid: string | bigint): number {
  return Number(BigInt(txid) % 2n ** 32n);
}

/** Runs `statements` in one transaction on a new connection and returns its 32-bit xid. */
export async function runTransaction(url: string, statements: readonly string[]): Promise<number> {
  return withClient(url, async (client) => {
    await client.query('begin');
    for (const statement of statements) await client.query(statement);
    const { rows } = await client.query<{ txid: string }>('select txid_current()::text as txid');
    await client.query('commit');
    return xidOf(rows[0]!.txid);
  });
}

/** The xid of the open subtransaction of `client` (visible only as the lock it holds on itself). */
export async function subtransactionXid(client: pg.Client, topXid: number): Promise<number> {
  const { rows } = await client.query<{ xid: string }>(
    `select transactionid::text as xid from pg_locks where locktype = 'transactionid' and pid = pg_backend_pid() and transactionid::text <> $1`,
    [String(topXid)],
  );
  if (rows.length !== 1) throw new Error(`expected one subtransaction xid besides ${topXid}, found ${rows.map((r) => r.xid).join(', ') || 'none'}`);
  return Number(rows[0]!.xid);
}

/** SQL giving the Unix microseconds of a timestamptz expression, as text. */
export function microsSql(expression: string): string {
  return `(extract(epoch from ${expression}) * 1000000)::int8::text`;
}

/** One decoded message with where it came from. */
export interface Received {
  readonly message: PgoutputMessage;
  /** The XLogData WAL position. */
  readonly lsn: Lsn;
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  /** Whether the decoder was inside a streamed block when the message arrived. */
  readonly inStream: boolean;
}

export interface CaptureOptions {
  readonly publication: string;
  readonly streamInProgress?: boolean;
}

/**
 * A replication session on a new slot. Create it before the workload (the slot's consistent
 * point), then call `start()`; every message is decoded as it arrives.
 */
export class PgoutputCapture {
  readonly received: Received[] = [];
  readonly #session: ReplicationSession;
  readonly #slot: string;
  readonly #options: CaptureOptions;
  #failure: unknown;

  private constructor(session: ReplicationSession, slot: string, options: CaptureOptions) {
    this.#session = session;
    this.#slot = slot;
    this.#options = options;
  }

  /** Opens a session and creates a temporary slot (dropped when the session ends). */
  static async create(url: string, options: CaptureOptions): Promise<PgoutputCapture> {
    const session = await ReplicationSession.open(await connectionConfigFor(url));
    const slot = `pgoutput_test_${process.pid}_${++slotCounter}`;
    try {
      await session.createSlot(slot, { exportSnapshot: false, temporary: true });
    } catch (error) {
      session.destroy();
      throw error;
    }
    return new PgoutputCapture(session, slot, options);
  }

  get protocolVersion(): number {
    return this.#session.protocolVersion;
  }

  get serverVersionNum(): number {
    return this.#session.serverVersionNum;
  }

  /** Starts streaming from the slot's start. */
  async start(): Promise<void> {
    const decoder = new PgoutputDecoder(this.#session.protocolVersion);
    await this.#session.startReplication(
      { slotName: this.#slot, publicationNames: [this.#options.publication], startLsn: 0, streamInProgress: this.#options.streamInProgress ?? false },
      {
        onMessage: (lsn, buf, start, end) => {
          const inStream = decoder.inStream;
          try {
            this.received.push({ message: decoder.decode(buf, start, end), lsn, buf, start, end, inStream });
          } catch (error) {
            this.#failure ??= error;
          }
        },
        onKeepalive: (walEnd, replyRequested) => {
          if (replyRequested) this.#session.sendStatus(walEnd, 0);
        },
      },
    );
  }

  get messages(): PgoutputMessage[] {
    return this.received.map((r) => r.message);
  }

  /** Waits until `find` returns something for the received messages; decoding errors fail at once. */
  async until<T>(what: string, find: (received: readonly Received[]) => T | undefined): Promise<T> {
    return waitFor(
      () => {
        if (this.#failure !== undefined) return { failure: this.#failure };
        const value = find(this.received);
        return value === undefined ? undefined : { value };
      },
      30_000,
      what,
    ).then((result) => {
      if ('failure' in result) throw result.failure;
      return result.value;
    });
  }

  /** The messages of the transaction with `xid`, from its Begin through its Commit. */
  async transaction(xid: number): Promise<Received[]> {
    return this.until(`the commit of transaction ${xid}`, (received) => {
      const begin = received.findIndex((r) => r.message.tag === 'begin' && r.message.xid === xid);
      if (begin < 0) return undefined;
      const commit = received.findIndex((r, i) => i > begin && r.message.tag === 'commit');
      return commit < 0 ? undefined : received.slice(begin, commit + 1);
    });
  }

  /**
   * Everything sent for the streamed transaction `xid`: its blocks (Stream Start to Stream Stop)
   * and its final Stream Commit or the Stream Abort of the top-level transaction.
   */
  async streamed(xid: number): Promise<Received[]> {
    return this.until(`the end of streamed transaction ${xid}`, (received) => {
      const out: Received[] = [];
      let inBlock = false;
      for (const r of received) {
        const m = r.message;
        if (m.tag === 'stream_start') inBlock = m.xid === xid;
        if (inBlock || ((m.tag === 'stream_commit' || m.tag === 'stream_abort') && m.xid === xid)) out.push(r);
        if (m.tag === 'stream_stop') inBlock = false;
        if (m.tag === 'stream_commit' && m.xid === xid) return out;
        if (m.tag === 'stream_abort' && m.xid === xid && m.subXid === xid) return out;
      }
      return undefined;
    });
  }

  destroy(): void {
    this.#session.destroy();
  }
}
