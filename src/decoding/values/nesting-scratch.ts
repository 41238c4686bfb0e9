/**
 * Unescapes quoted array elements and record fields into scratch buffers, one per nesting level:
 * a record being read from level 1 is never overwritten while its own fields are unescaped into
 * level 2. Rendering is synchronous, so one set of buffers serves the whole process.
 */

const BACKSLASH = 0x5c;
const QUOTE = 0x22;

const levels: Buffer[] = [];
let depth = 0;

/** Claims the next nesting level; pair with `leaveLevel()` in a `finally`. */
export function enterLevel(): number {
  return depth++;
}

export function leaveLevel(): void {
  depth--;
}

/** The scratch buffer of `level`, holding what was last unescaped at that level. */
export function scratchOf(level: number): Buffer {
  return levels[level]!;
}

/**
 * Copies an array element's quoted text `src[start, end)` (without its quotes) into the scratch
 * buffer of `level`, with each `\x` (array_out's escape) turned into `x`; returns its length.
 */
export function unescapeArrayElement(level: number, src: Buffer, start: number, end: number): number {
  const out = scratchFor(level, end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = src[i]!;
    if (c === BACKSLASH) c = src[++i]!;
    out[n++] = c;
  }
  return n;
}

/**
 * Copies a record field's quoted text `src[start, end)` (without its quotes) into the scratch
 * buffer of `level`, with each `""` and `\x` (record_out doubles quotes and backslashes) turned
 * into its second character; returns its length.
 */
export function unescapeRecordField(level: number, src: Buffer, start: number, end: number): number {
  const out = scratchFor(level, end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c === BACKSLASH || c === QUOTE) i++;
    out[n++] = src[i]!;
  }
  return n;
}

function scratchFor(level: number, size: number): Buffer {
  let buf = levels[level];
  if (buf === undefined || buf.length < size) {
    buf = Buffer.allocUnsafe(Math.max(size, buf === undefined ? 1024 : buf.length * 2));
    levels[level] = buf;
  }
  return buf;
}
