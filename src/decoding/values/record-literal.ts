/**
 * Renders composite values (record_out's text, e.g. `(1,"a b",,"{1,2}")`) as JSON objects keyed by
 * the type's field names, byte by byte; each field goes through its own type's renderer.
 */
import type { JsonWriter } from '../../encoding/json-writer.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { enterLevel, leaveLevel, scratchOf, unescapeRecordField } from './nesting-scratch.js';
import { writeNull } from './scalar-renderers.js';
import type { ValueRenderer } from './value-renderer.js';

const LEFT_PAREN = 0x28;
const RIGHT_PAREN = 0x29;
const LEFT_CURLY = 0x7b;
const RIGHT_CURLY = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A field of the composite type: its JSON key and the renderer of its type. */
export interface RecordFieldRenderer {
  /** `"name":`, JSON-encoded. */
  readonly key: Buffer;
  readonly render: ValueRenderer;
}

/** Builds the field list of a composite renderer. */
export function recordField(name: string, render: ValueRenderer): RecordFieldRenderer {
  return { key: Buffer.from(`${JSON.stringify(name)}:`, 'utf8'), render };
}

/**
 * Writes the record literal in `src[start, end)` as a JSON object.
 *
 * record_out writes a NULL field as nothing at all, and quotes a field when it is empty or contains
 * a quote, backslash, parenthesis, comma or white space; inside quotes `"` and `\` are doubled
 * (record_in also reads `\x` as `x`). Fields the catalog does not know about (the type changed since
 * it was loaded) are kept as strings under to_jsonb's names for unnamed fields, `f1`, `f2`...
 *
 * @example
 * // src = '(1,"a ""b""",)' with fields id int4, name text, note text
 * renderRecordLiteral(w, src, 0, src.length, fields); // {"id":1,"name":"a \"b\"","note":null}
 */
export function renderRecordLiteral(w: JsonWriter, src: Buffer, start: number, end: number, fields: readonly RecordFieldRenderer[]): void {
  if (src[start] !== LEFT_PAREN || src[end - 1] !== RIGHT_PAREN) throw malformed(src, start, end);
  w.byte(LEFT_CURLY);
  if (fields.length === 0 && end - start === 2) {
    w.byte(RIGHT_CURLY);
    return;
  }
  const level = enterLevel();
  try {
    let i = start + 1;
    for (let f = 0; ; f++) {
      const field = fields[f];
      if (f > 0) w.byte(COMMA);
      if (field !== undefined) {
        w.bytes(field.key, 0, field.key.length);
      } else {
        w.string(`f${f + 1}`);
        w.byte(COLON);
      }
      const render = field === undefined ? renderUnknownField : field.render;
      const b = src[i];
      if (b === COMMA || b === RIGHT_PAREN) {
        writeNull(w);
      } else if (b === QUOTE) {
        i = renderQuotedField(w, src, i + 1, end, render, level);
      } else {
        let j = i;
        while (j < end) {
          const c = src[j]!;
          if (c === COMMA || c === RIGHT_PAREN) break;
          j++;
        }
        render(w, src, i, j);
        i = j;
      }
      if (i >= end - 1) break; // at the closing parenthesis
      if (src[i] !== COMMA) throw malformed(src, start, end);
      i++;
    }
  } finally {
    leaveLevel();
  }
  w.byte(RIGHT_CURLY);
}

/** Renders the quoted field whose text starts at `i` (after the quote); returns where it ends. */
function renderQuotedField(w: JsonWriter, src: Buffer, i: number, end: number, render: ValueRenderer, level: number): number {
  let j = i;
  let escaped = false;
  for (;;) {
    if (j >= end) throw malformed(src, i - 1, end);
    const c = src[j]!;
    if (c === BACKSLASH) {
      escaped = true;
      j += 2;
    } else if (c === QUOTE) {
      if (src[j + 1] !== QUOTE) break;
      escaped = true;
      j += 2;
    } else {
      j++;
    }
  }
  if (!escaped) {
    render(w, src, i, j);
    return j + 1;
  }
  const length = unescapeRecordField(level, src, i, j);
  render(w, scratchOf(level), 0, length);
  return j + 1;
}

function renderUnknownField(w: JsonWriter, src: Buffer, start: number, end: number): void {
  w.stringFromBytes(src, start, end);
}

function malformed(src: Buffer, start: number, end: number): PgcdcError {
  const text = src.toString('utf8', start, Math.min(end, start + 200));
  return new PgcdcError('PROTOCOL', `malformed composite value from the server: ${JSON.stringify(text)}`);
}
