/**
 * Decodes pgoutput messages (protocol versions 1-4) from the bytes of an XLogData payload. It keeps
 * only the state the format itself needs: whether we are inside a streamed block, where messages
 * carry a leading xid. Row data is not copied: tuples are returned as references into the buffer.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import { readLsn } from '../source/lsn.js';
import type { PgoutputMessage, RelationColumn, TupleRef } from './pgoutput-messages.js';

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000;

const TAG = {
  BEGIN: 0x42, // B
  COMMIT: 0x43, // C
  ORIGIN: 0x4f, // O
  RELATION: 0x52, // R
  TYPE: 0x59, // Y
  INSERT: 0x49, // I
  UPDATE: 0x55, // U
  DELETE: 0x44, // D
  TRUNCATE: 0x54, // T
  MESSAGE: 0x4d, // M
  STREAM_START: 0x53, // S
  STREAM_STOP: 0x45, // E
  STREAM_COMMIT: 0x63, // c
  STREAM_ABORT: 0x41, // A
  BEGIN_PREPARE: 0x62, // b
  PREPARE: 0x50, // P
  COMMIT_PREPARED: 0x4b, // K
  ROLLBACK_PREPARED: 0x72, // r
  STREAM_PREPARE: 0x70, // p
} as const;

/** Reads a signed 64-bit PostgreSQL timestamp (µs since 2000) as Unix microseconds. */
export function readTimestampMicros(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4) + PG_EPOCH_OFFSET_MICROS;
}

/** Returns the offset just past the TupleData at `offset`. */
export function skipTuple(buf: Buffer, offset: number): number {
  const count = buf.readUInt16BE(offset);
  let pos = offset + 2;
  for (let i = 0; i < count; i++) {
    const kind = buf[pos++];
    if (kind === 0x74 /* t */ || kind === 0x62 /* b */) pos += 4 + buf.readUInt32BE(pos);
  }
  return pos;
}

/**
 * A stateful decoder for one replication stream.
 *
 * @example
 * const decoder = new PgoutputDecoder(4);
 * const message = decoder.decode(payload, 25, payload.length); // after the XLogData header
 */
export class PgoutputDecoder {
  #inStream = false;
  readonly #protocolVersion: number;

  constructor(protocolVersion: number) {
    this.#protocolVersion = protocolVersion;
  }

  /** True between Stream Start and Stream Stop. */
  get inStream(): boolean {
    return this.#inStream;
  }

  /** Leaves streamed-block mode; used after a reconnect. */
  reset(): void {
    this.#inStream = false;
  }

  /**
   * Decodes one message from `buf[start, end)`. `streamed` overrides whether messages carry an xid
   * (used when replaying spilled streamed transactions).
   */
  decode(buf: Buffer, start: number, end: number, streamed = this.#inStream): PgoutputMessage {
    const tag = buf[start]!;
    let pos = start + 1;
    let xid: number | undefined;
    switch (tag) {
      case TAG.BEGIN:
        return { tag: 'begin', finalLsn: readLsn(buf, pos), commitTimeMicros: readTimestampMicros(buf, pos + 8), xid: buf.readUInt32BE(pos + 16) };
      case TAG.COMMIT:
        return {
          tag: 'commit',
          flags: buf[pos]!,
          commitLsn: readLsn(buf, pos + 1),
          endLsn: readLsn(buf, pos + 9),
          commitTimeMicros: readTimestampMicros(buf, pos + 17),
        };
      case TAG.ORIGIN:
        return { tag: 'origin', originLsn: readLsn(buf, pos), name: readCString(buf, pos + 8, end).value };
      case TAG.INSERT: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const relationOid = buf.readUInt32BE(pos);
        expectByte(buf, pos + 4, 0x4e, 'Insert');
        return { tag: 'insert', xid, relationOid, newTuple: { buf, offset: pos + 5, kind: 'N' } };
      }
      case TAG.UPDATE: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const relationOid = buf.readUInt32BE(pos);
        pos += 4;
        let oldTuple: TupleRef | null = null;
        const marker = buf[pos];
        if (marker === 0x4b /* K */ || marker === 0x4f /* O */) {
          oldTuple = { buf, offset: pos + 1, kind: marker === 0x4b ? 'K' : 'O' };
          pos = skipTuple(buf, pos + 1);
        }
        expectByte(buf, pos, 0x4e, 'Update');
        return { tag: 'update', xid, relationOid, oldTuple, newTuple: { buf, offset: pos + 1, kind: 'N' } };
      }
      case TAG.DELETE: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const relationOid = buf.readUInt32BE(pos);
        const marker = buf[pos + 4];
        if (marker !== 0x4b && marker !== 0x4f) throw protocolError(`Delete without a K or O tuple (byte ${marker})`);
        return { tag: 'delete', xid, relationOid, oldTuple: { buf, offset: pos + 5, kind: marker === 0x4b ? 'K' : 'O' } };
      }
      case TAG.RELATION: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const oid = buf.readUInt32BE(pos);
        const schema = readCString(buf, pos + 4, end);
        const table = readCString(buf, schema.next, end);
        pos = table.next;
        const replicaIdentity = String.fromCharCode(buf[pos]!);
        const count = buf.readUInt16BE(pos + 1);
        pos += 3;
        const columns: RelationColumn[] = [];
        for (let i = 0; i < count; i++) {
          const flags = buf[pos]!;
          const name = readCString(buf, pos + 1, end);
          pos = name.next;
          columns.push({ name: name.value, typeOid: buf.readUInt32BE(pos), typeModifier: buf.readInt32BE(pos + 4), isKey: (flags & 1) === 1 });
          pos += 8;
        }
        return { tag: 'relation', xid, oid, schema: schema.value || 'pg_catalog', table: table.value, replicaIdentity, columns };
      }
      case TAG.TYPE: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const oid = buf.readUInt32BE(pos);
        const schema = readCString(buf, pos + 4, end);
        const name = readCString(buf, schema.next, end);
        return { tag: 'type', xid, oid, schema: schema.value || 'pg_catalog', name: name.value };
      }
      case TAG.TRUNCATE: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const count = buf.readUInt32BE(pos);
        const options = buf[pos + 4]!;
        const relationOids: number[] = [];
        for (let i = 0; i < count; i++) relationOids.push(buf.readUInt32BE(pos + 5 + i * 4));
        return { tag: 'truncate', xid, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationOids };
      }
      case TAG.MESSAGE: {
        if (streamed) (xid = buf.readUInt32BE(pos)), (pos += 4);
        const flags = buf[pos]!;
        const lsn = readLsn(buf, pos + 1);
        const prefix = readCString(buf, pos + 9, end);
        const length = buf.readUInt32BE(prefix.next);
        const content = buf.subarray(prefix.next + 4, prefix.next + 4 + length);
        return { tag: 'message', xid, transactional: (flags & 1) === 1, lsn, prefix: prefix.value, content };
      }
      case TAG.STREAM_START:
        this.#inStream = true;
        return { tag: 'stream_start', xid: buf.readUInt32BE(pos), firstSegment: buf[pos + 4] === 1 };
      case TAG.STREAM_STOP:
        this.#inStream = false;
        return { tag: 'stream_stop' };
      case TAG.STREAM_COMMIT:
        return {
          tag: 'stream_commit',
          xid: buf.readUInt32BE(pos),
          flags: buf[pos + 4]!,
          commitLsn: readLsn(buf, pos + 5),
          endLsn: readLsn(buf, pos + 13),
          commitTimeMicros: readTimestampMicros(buf, pos + 21),
        };
      case TAG.STREAM_ABORT: {
        const withPosition = this.#protocolVersion >= 4 && end - pos >= 24;
        return {
          tag: 'stream_abort',
          xid: buf.readUInt32BE(pos),
          subXid: buf.readUInt32BE(pos + 4),
          abortLsn: withPosition ? readLsn(buf, pos + 8) : undefined,
          abortTimeMicros: withPosition ? readTimestampMicros(buf, pos + 16) : undefined,
        };
      }
      case TAG.BEGIN_PREPARE:
        return {
          tag: 'begin_prepare',
          prepareLsn: readLsn(buf, pos),
          endLsn: readLsn(buf, pos + 8),
          prepareTimeMicros: readTimestampMicros(buf, pos + 16),
          xid: buf.readUInt32BE(pos + 24),
          gid: readCString(buf, pos + 28, end).value,
        };
      case TAG.PREPARE:
      case TAG.STREAM_PREPARE:
        return {
          tag: tag === TAG.PREPARE ? 'prepare' : 'stream_prepare',
          flags: buf[pos]!,
          prepareLsn: readLsn(buf, pos + 1),
          endLsn: readLsn(buf, pos + 9),
          prepareTimeMicros: readTimestampMicros(buf, pos + 17),
          xid: buf.readUInt32BE(pos + 25),
          gid: readCString(buf, pos + 29, end).value,
        };
      case TAG.COMMIT_PREPARED:
        return {
          tag: 'commit_prepared',
          flags: buf[pos]!,
          commitLsn: readLsn(buf, pos + 1),
          endLsn: readLsn(buf, pos + 9),
          commitTimeMicros: readTimestampMicros(buf, pos + 17),
          xid: buf.readUInt32BE(pos + 25),
          gid: readCString(buf, pos + 29, end).value,
        };
      case TAG.ROLLBACK_PREPARED:
        return {
          tag: 'rollback_prepared',
          flags: buf[pos]!,
          prepareEndLsn: readLsn(buf, pos + 1),
          rollbackEndLsn: readLsn(buf, pos + 9),
          prepareTimeMicros: readTimestampMicros(buf, pos + 17),
          rollbackTimeMicros: readTimestampMicros(buf, pos + 25),
          xid: buf.readUInt32BE(pos + 33),
          gid: readCString(buf, pos + 37, end).value,
        };
      default:
        throw protocolError(`unknown pgoutput message type 0x${tag.toString(16)} (${String.fromCharCode(tag)})`);
    }
  }
}

function readCString(buf: Buffer, offset: number, end: number): { value: string; next: number } {
  const nul = buf.indexOf(0, offset);
  if (nul < 0 || nul >= end) throw protocolError('unterminated string in a pgoutput message');
  return { value: buf.toString('utf8', offset, nul), next: nul + 1 };
}

function expectByte(buf: Buffer, offset: number, expected: number, what: string): void {
  if (buf[offset] !== expected) {
    throw protocolError(`${what} message: expected '${String.fromCharCode(expected)}' at byte ${offset}, found 0x${(buf[offset] ?? 0).toString(16)}`);
  }
}

function protocolError(message: string): PgcdcError {
  return new PgcdcError('PROTOCOL', message, { hint: 'this is a pgcdc bug or an unsupported server; please report it with the server version' });
}
