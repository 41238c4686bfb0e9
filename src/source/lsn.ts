/**
 * Log sequence numbers: parsing, formatting and reading them from the wire.
 *
 * An LSN is a 64-bit WAL byte position. pgcdc holds it as a JavaScript number, which is exact up to
 * 2^53 bytes (8 PiB of WAL); a server past that is refused with a clear error rather than rounded.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';

/** A WAL position in bytes. */
export type Lsn = number;

const TWO_POW_32 = 0x1_0000_0000;
/** Highest high word that keeps `hi * 2^32 + lo` exact in a double. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** Parses PostgreSQL's `X/Y` text form. */
export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) {
    throw new PgcdcError('CONFIG_INVALID', `"${text}" is not an LSN`, {
      hint: 'write it the way PostgreSQL prints it, for example 16/B374D848',
    });
  }
  return fromWords(parseInt(match[1]!, 16), parseInt(match[2]!, 16));
}

/** Formats an LSN the way PostgreSQL prints it (`16/B374D848`). */
export function formatLsn(lsn: Lsn): string {
  const hi = Math.floor(lsn / TWO_POW_32);
  const lo = lsn - hi * TWO_POW_32;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** Reads a big-endian 64-bit LSN at `offset`. */
export function readLsn(buf: Buffer, offset: number): Lsn {
  return fromWords(buf.readUInt32BE(offset), buf.readUInt32BE(offset + 4));
}

/** Writes a big-endian 64-bit LSN at `offset`. */
export function writeLsn(buf: Buffer, lsn: Lsn, offset: number): void {
  const hi = Math.floor(lsn / TWO_POW_32);
  buf.writeUInt32BE(hi, offset);
  buf.writeUInt32BE(lsn - hi * TWO_POW_32, offset + 4);
}

function fromWords(hi: number, lo: number): Lsn {
  if (hi > MAX_SAFE_HIGH) {
    throw new PgcdcError('SERVER_UNSUPPORTED', `WAL position ${hi.toString(16)}/${lo.toString(16)} is beyond 8 PiB`, {
      hint: 'pgcdc keeps LSNs as exact doubles; this server has written more WAL than that supports',
    });
  }
  return hi * TWO_POW_32 + lo;
}
