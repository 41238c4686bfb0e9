/**
 * Appending newline-delimited records to a file safely: every buffer written in full (writev may
 * write part of them), and a partial last line left by a crash cut off on open, so every line in
 * the file is a whole record.
 */
import type fs from 'node:fs/promises';

/** Writes every byte of `chunks` at the end of the file. */
export async function writeAll(handle: fs.FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending as Buffer[]);
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of pending) {
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Truncates a file of `size` bytes after its last newline when a crash left half a line; returns
 * the number of bytes dropped (0 when the file ends with a newline).
 */
export async function cutPartialLastLine(handle: fs.FileHandle, size: number): Promise<number> {
  if (size === 0) return 0;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  if (last[0] === 0x0a) return 0;
  const block = Buffer.alloc(64 * 1024);
  let end = size;
  let length = 0;
  while (end > 0) {
    const start = Math.max(0, end - block.length);
    const { bytesRead } = await handle.read(block, 0, end - start, start);
    const newline = block.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) {
      length = start + newline + 1;
      break;
    }
    end = start;
  }
  await handle.truncate(length);
  await handle.datasync();
  return size - length;
}
