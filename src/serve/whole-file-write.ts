/**
 * Writes a file of `pgcdc serve`'s streams directory whole and durably: a temporary file beside it,
 * synced, renamed over it, then the directory synced. A reader (the directory's scan) never sees half
 * of it, and after a crash the file holds the old text or the new one.
 */
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileWhole(dir: string, file: string, text: string): Promise<void> {
  const temporary = path.join(dir, `.${file}.${process.pid}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path.join(dir, file));
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
