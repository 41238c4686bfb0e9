/**
 * Renders PostgreSQL array literals (array_out's text) as JSON arrays, byte by byte: `{` and `}`
 * become `[` and `]`, each element goes through the element type's renderer, NULL becomes null.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { enterLevel, leaveLevel, scratchOf, unescapeArrayElement } from './nesting-scratch.js';
import { writeNull } from './scalar-renderers.js';
import type { ValueRenderer } from './value-renderer.js';

const LEFT_BRACE = 0x7b;
const RIGHT_BRACE = 0x7d;
const LEFT_BRACKET = 0x5b;
const RIGHT_BRACKET = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;
const SPACE = 0x20;

/**
 * Writes the array literal in `src[start, end)` as a JSON array.
 *
 * array_out quotes an element when it is empty, is `NULL` in any case, or contains a quote,
 * backslash, brace, the delimiter or white space; inside quotes `"` and `\` are backslash-escaped.
 * An unquoted `NULL` is the SQL null. A leading `[lower:upper]...=` (bounds other than 1) is
 * skipped, as to_jsonb ignores bounds. Multi-dimensional arrays become nested JSON arrays.
 *
 * @example
 * // src = '{{1,NULL},{"a\"b",3}}' with a text element renderer
 * renderArrayLiteral(w, src, 0, src.length, 0x2c, textRenderer); // [["1",null],["a\"b","3"]]
 */
export function renderArrayLiteral(
  w: JsonWriter,
  src: Buffer,
  start: number,
  end: number,
  delimiter: number,
  element: ValueRenderer,
): void {
  let i = start;
  if (src[i] === LEFT_BRACKET) {
    while (i < end && src[i] !== EQUALS) i++;
    i++;
  }
  if (src[i] !== LEFT_BRACE) throw malformed(src, start, end);
  const level = enterLevel();
  try {
    while (i < end) {
      const b = src[i]!;
      if (b === LEFT_BRACE) {
        w.byte(LEFT_BRACKET);
        i++;
      } else if (b === RIGHT_BRACE) {
        w.byte(RIGHT_BRACKET);
        i++;
      } else if (b === delimiter) {
        w.byte(COMMA);
        i++;
      } else if (b === QUOTE) {
        i = renderQuotedElement(w, src, i + 1, end, element, level);
      } else {
        let j = i;
        while (j < end) {
          const c = src[j]!;
          if (c === delimiter || c === RIGHT_BRACE) break;
          j++;
        }
        if (j - i === 4 && src[i] === 0x4e && src[i + 1] === 0x55 && src[i + 2] === 0x4c && src[i + 3] === 0x4c) {
          writeNull(w);
        } else {
          element(w, src, i, j);
        }
        i = j;
      }
    }
  } finally {
    leaveLevel();
  }
}

/** Renders the quoted element whose text starts at `i` (after the quote); returns where it ends. */
function renderQuotedElement(w: JsonWriter, src: Buffer, i: number, end: number, element: ValueRenderer, level: number): number {
  let j = i;
  let escaped = false;
  while (j < end) {
    const c = src[j]!;
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      j++;
    }
    j++;
  }
  if (j >= end) throw malformed(src, i - 1, end);
  if (!escaped) {
    element(w, src, i, j);
    return j + 1;
  }
  const length = unescapeArrayElement(level, src, i, j);
  element(w, scratchOf(level), 0, length);
  return j + 1;
}

/**
 * Writes an int2vector or oidvector (elements separated by single spaces, no braces) as a JSON
 * array, as to_jsonb does for these array-like types.
 */
export function renderVectorLiteral(w: JsonWriter, src: Buffer, start: number, end: number, element: ValueRenderer): void {
  w.byte(LEFT_BRACKET);
  let i = start;
  while (i < end) {
    let j = i;
    while (j < end && src[j] !== SPACE) j++;
    if (i > start) w.byte(COMMA);
    element(w, src, i, j);
    i = j + 1;
  }
  w.byte(RIGHT_BRACKET);
}

function malformed(src: Buffer, start: number, end: number): PgcdcError {
  const text = src.toString('utf8', start, Math.min(end, start + 200));
  return new PgcdcError('PROTOCOL', `malformed array value from the server: ${JSON.stringify(text)}`);
}
