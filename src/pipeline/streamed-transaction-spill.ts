/**
 * Spills large in-progress transactions that the server streams before commit (pgoutput
 * `streaming`) to local files, one per top-level transaction, so memory stays bounded whatever
 * their size. At Stream Commit the file is replayed in order; Stream Abort discards the whole
 * transaction or one subtransaction's changes.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Lsn } from '../source/lsn.js';
import { readLsn, writeLsn } from '../source/lsn.js';

/** Record header: LSN (8 bytes) and payload length (4 bytes). */
const HEADER = 12;
const FLUSH_AT = 1024 * 1024;
const READ_BLOCK = 1024 * 1024;

interface SpillFile {
  readonly file: string;
  handle: fsp.FileHandle | undefined;
  chunks: Buffer[];
  bytes: number;
  /** Subtransactions whose changes must be skipped at replay. */
  readonly abortedSubXids: Set<number>;
}

/** Receives one spilled pgoutput message; a returned promise holds the replay. */
export type SpillReplayHandler = (lsn: Lsn, buf: Buffer, start: number, end: number, abortedSubXids: ReadonlySet<number>) => void | Promise<void>;

export class StreamedTransactionSpill {
  readonly #dir: string;
  readonly #files = new Map<number, SpillFile>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Number of transactions currently spilled. */
  get openTransactions(): number {
    return this.#files.size;
  }

  /** Removes every spill file: after a reconnect the server streams open transactions again. */
  async reset(): Promise<void> {
    for (const spill of this.#files.values()) await spill.handle?.close();
    this.#files.clear();
    await fsp.rm(this.#dir, { recursive: true, force: true });
    await fsp.mkdir(this.#dir, { recursive: true });
  }

  /** Called at each Stream Start; the first segment starts the transaction's file afresh. */
  async startSegment(xid: number, firstSegment: boolean): Promise<void> {
    if (firstSegment && this.#files.has(xid)) await this.discard(xid);
    if (!this.#files.has(xid)) {
      this.#files.set(xid, { file: path.join(this.#dir, `${xid}.spill`), handle: undefined, chunks: [], bytes: 0, abortedSubXids: new Set() });
    }
  }

  /** Appends one message of transaction `xid`; returns a promise when the buffer is being written out. */
  append(xid: number, lsn: Lsn, buf: Buffer, start: number, end: number): Promise<void> | undefined {
    const spill = this.#files.get(xid);
    if (!spill) throw new Error(`spill for transaction ${xid} was not started`);
    const record = Buffer.allocUnsafe(HEADER + end - start);
    writeLsn(record, lsn, 0);
    record.writeUInt32BE(end - start, 8);
    buf.copy(record, HEADER, start, end);
    spill.chunks.push(record);
    spill.bytes += record.length;
    return spill.bytes >= FLUSH_AT ? this.#flush(spill) : undefined;
  }

  /** Stream Abort: the whole transaction (`subXid === xid`) or one subtransaction. */
  async abort(xid: number, subXid: number): Promise<void> {
    if (subXid === xid) await this.discard(xid);
    else this.#files.get(xid)?.abortedSubXids.add(subXid);
  }

  /** Replays a committed transaction's messages in order, then removes its file. */
  async replay(xid: number, handler: SpillReplayHandler): Promise<void> {
    const spill = this.#files.get(xid);
    if (!spill) return;
    await this.#flush(spill);
    await spill.handle?.close();
    spill.handle = undefined;
    if (fs.existsSync(spill.file)) {
      const handle = await fsp.open(spill.file, 'r');
      try {
        let carry: Buffer | undefined;
        for (;;) {
          const block = Buffer.allocUnsafe(READ_BLOCK);
          const { bytesRead } = await handle.read(block, 0, READ_BLOCK, null);
          if (bytesRead === 0) break;
          let data = block.subarray(0, bytesRead);
          if (carry) data = Buffer.concat([carry, data]);
          carry = undefined;
          let offset = 0;
          while (data.length - offset >= HEADER) {
            const length = data.readUInt32BE(offset + 8);
            if (data.length - offset < HEADER + length) break;
            const pending = handler(readLsn(data, offset), data, offset + HEADER, offset + HEADER + length, spill.abortedSubXids);
            offset += HEADER + length;
            if (pending) await pending;
          }
          if (offset < data.length) carry = Buffer.from(data.subarray(offset));
        }
      } finally {
        await handle.close();
      }
    }
    await this.discard(xid);
  }

  /** Forgets a transaction and deletes its file. */
  async discard(xid: number): Promise<void> {
    const spill = this.#files.get(xid);
    if (!spill) return;
    this.#files.delete(xid);
    await spill.handle?.close();
    await fsp.rm(spill.file, { force: true });
  }

  async #flush(spill: SpillFile): Promise<void> {
    if (spill.chunks.length === 0) return;
    const chunks = spill.chunks;
    spill.chunks = [];
    spill.bytes = 0;
    spill.handle ??= await fsp.open(spill.file, 'a');
    await spill.handle.writev(chunks);
  }
}
