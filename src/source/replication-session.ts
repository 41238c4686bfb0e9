/**
 * A logical replication session (`replication=database`): IDENTIFY_SYSTEM, slot commands and
 * START_REPLICATION with pgoutput, splitting the CopyBoth stream into XLogData and keepalives, and
 * sending standby status updates.
 */
import type { ConnectionConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { formatLsn, parseLsn, readLsn, writeLsn, type Lsn } from './lsn.js';
import { sessionOptionsParameter } from './session-settings.js';
import { quoteIdent, quoteLiteral } from './sql-quoting.js';
import { WireConnection } from './wire/wire-connection.js';

const XLOG_DATA = 0x77; // w
const KEEPALIVE = 0x6b; // k
const XLOG_DATA_HEADER = 25;
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000;

export interface SystemIdentity {
  readonly systemId: string;
  readonly timeline: number;
  readonly walPosition: Lsn;
  readonly database: string;
}

export interface CreatedSlot {
  readonly slotName: string;
  readonly consistentPoint: Lsn;
  /** Set when the slot was created with an exported snapshot. */
  readonly snapshotName: string | undefined;
}

export interface StartReplicationOptions {
  readonly slotName: string;
  readonly publicationNames: readonly string[];
  readonly startLsn: Lsn;
  /** Ask for large in-progress transactions to be streamed before they commit. */
  readonly streamInProgress: boolean;
}

/** What the stream hands out: every pgoutput message with its WAL position, and keepalives. */
export interface ReplicationHandlers {
  /** `buf[start, end)` is one pgoutput message; `lsn` is its XLogData start (0 for some metadata). */
  onMessage(lsn: Lsn, buf: Buffer, start: number, end: number): void | Promise<void>;
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
}

/** The pgoutput protocol version for a server: 4 from PostgreSQL 16, 3 on 15, 2 on 14. */
export function protocolVersionFor(serverVersionNum: number): number {
  if (serverVersionNum >= 160000) return 4;
  if (serverVersionNum >= 150000) return 3;
  if (serverVersionNum >= 140000) return 2;
  return 1;
}

export class ReplicationSession {
  readonly #connection: WireConnection;
  readonly #status = Buffer.alloc(34);

  private constructor(connection: WireConnection) {
    this.#connection = connection;
  }

  /** Opens a replication connection with pgcdc's session settings. */
  static async open(config: ConnectionConfig, onNotice?: (message: string) => void): Promise<ReplicationSession> {
    const connection = await WireConnection.connect(config, {
      parameters: { replication: 'database', options: sessionOptionsParameter() },
      ...(onNotice ? { onNotice } : {}),
    });
    const session = new ReplicationSession(connection);
    if (session.serverVersionNum < 140000) {
      await connection.close();
      throw new PgcdcError('SERVER_UNSUPPORTED', `the source runs PostgreSQL ${connection.parameter('server_version')}; pgcdc needs 14 or newer`, {
        hint: 'upgrade the source to PostgreSQL 14 or later',
      });
    }
    return session;
  }

  get serverVersionNum(): number {
    return this.#connection.serverVersionNum;
  }

  get protocolVersion(): number {
    return protocolVersionFor(this.serverVersionNum);
  }

  get connection(): WireConnection {
    return this.#connection;
  }

  async identifySystem(): Promise<SystemIdentity> {
    const [result] = await this.#connection.query('IDENTIFY_SYSTEM');
    const row = result?.rows[0];
    if (!row) throw new PgcdcError('PROTOCOL', 'IDENTIFY_SYSTEM returned no row');
    return { systemId: row[0] ?? '', timeline: Number(row[1]), walPosition: parseLsn(row[2] ?? '0/0'), database: row[3] ?? '' };
  }

  /** Creates a durable (or temporary) pgoutput slot; `exportSnapshot` keeps its snapshot usable until the next command. */
  async createSlot(slotName: string, options: { exportSnapshot: boolean; temporary?: boolean }): Promise<CreatedSlot> {
    const temporary = options.temporary ? ' TEMPORARY' : '';
    const snapshot =
      this.serverVersionNum >= 150000
        ? ` (SNAPSHOT ${options.exportSnapshot ? "'export'" : "'nothing'"})`
        : options.exportSnapshot
          ? ' EXPORT_SNAPSHOT'
          : ' NOEXPORT_SNAPSHOT';
    const [result] = await this.#connection.query(`CREATE_REPLICATION_SLOT ${quoteIdent(slotName)}${temporary} LOGICAL pgoutput${snapshot}`);
    const row = result?.rows[0];
    if (!row) throw new PgcdcError('PROTOCOL', 'CREATE_REPLICATION_SLOT returned no row');
    return { slotName: row[0] ?? slotName, consistentPoint: parseLsn(row[1] ?? '0/0'), snapshotName: row[2] ?? undefined };
  }

  async dropSlot(slotName: string): Promise<void> {
    await this.#connection.query(`DROP_REPLICATION_SLOT ${quoteIdent(slotName)} WAIT`);
  }

  /**
   * Starts streaming. Resolves once the server is streaming; `ended` settles when the stream stops
   * (rejected with the reason).
   */
  async startReplication(options: StartReplicationOptions, handlers: ReplicationHandlers): Promise<{ ended: Promise<void> }> {
    const protocol = this.protocolVersion;
    const pluginOptions = [
      `proto_version '${protocol}'`,
      `publication_names ${quoteLiteral(options.publicationNames.map(quoteIdent).join(','))}`,
      `messages 'true'`,
    ];
    if (options.streamInProgress) pluginOptions.push(`streaming 'on'`);
    const command = `START_REPLICATION SLOT ${quoteIdent(options.slotName)} LOGICAL ${formatLsn(options.startLsn)} (${pluginOptions.join(', ')})`;
    return this.#connection.startCopyBoth(command, (buf, start, end) => {
      const kind = buf[start];
      if (kind === XLOG_DATA) return handlers.onMessage(readLsn(buf, start + 1), buf, start + XLOG_DATA_HEADER, end);
      if (kind === KEEPALIVE) return handlers.onKeepalive(readLsn(buf, start + 1), buf[start + 17] === 1);
      return undefined;
    });
  }

  /** Sends a standby status update: `flush` is what the target has durably accepted. */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    const out = this.#status;
    out[0] = 0x72; // r
    writeLsn(out, received, 1);
    writeLsn(out, flushed, 9);
    writeLsn(out, flushed, 17);
    const micros = Date.now() * 1000 - PG_EPOCH_OFFSET_MICROS;
    out.writeInt32BE(Math.floor(micros / 0x1_0000_0000), 25);
    out.writeUInt32BE(micros % 0x1_0000_0000, 29);
    out[33] = replyRequested ? 1 : 0;
    this.#connection.sendCopyData(out);
  }

  /** Asks the server to end the replication stream (CopyDone); the stream's `ended` settles after. */
  endStreaming(): void {
    this.#connection.endCopy();
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }

  destroy(): void {
    this.#connection.destroy();
  }
}
