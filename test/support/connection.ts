/**
 * Connections for tests: the ConnectionConfig of a test server URL, and a pgoutput capture that
 * opens a replication session on a fresh slot and decodes everything the server sends.
 */
import { connectionConfigFromParts, parseConnectionUrl } from '../../src/config/connection-url.js';
import type { ConnectionConfig } from '../../src/config/stream-config.js';
import { PgoutputDecoder } from '../../src/decoding/pgoutput-decoder.js';
import type { PgoutputMessage } from '../../src/decoding/pgoutput-messages.js';
import type { Lsn } from '../../src/source/lsn.js';
import { ReplicationSession } from '../../src/source/replication-session.js';
import { waitFor } from './postgres.js';

let slotCounter = 0;

/** The ConnectionConfig pgcdc would build from `url` (a test server URL). */
export async function connectionConfigFor(url: string): Promise<ConnectionConfig> {
  const parsed = parseConnectionUrl(url);
  if ('problems' in parsed) throw new Error(`bad test URL: ${parsed.problems.join('; ')}`);
  const result = await connectionConfigFromParts(parsed.parts, { user: 'postgres', database: 'postgres', applicationName: 'pgcdc-test' }, process.cwd());
  if ('problems' in result) throw new Error(`bad test URL: ${result.problems.join('; ')}`);
  return result.config;
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
