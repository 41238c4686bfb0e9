/**
 * Reads a JSON text into a tree that keeps where each value lies in the text, and numbers as their
 * text: what turning a nested JSON value (an array, a composite's object, an hstore's object) into
 * PostgreSQL's input text needs, where JSON.parse would round big integers and lose `1.00`.
 */

/** A JSON value of a text, with its span `[start, end)` in that text. */
export type JsonNode =
  | { readonly kind: 'string'; readonly value: string; readonly start: number; readonly end: number }
  /** A number, `true` or `false`: its text is the span. */
  | { readonly kind: 'literal'; readonly start: number; readonly end: number }
  | { readonly kind: 'null'; readonly start: number; readonly end: number }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[]; readonly start: number; readonly end: number }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly values: readonly JsonNode[]; readonly start: number; readonly end: number };

/** A text that is not JSON. */
export class InvalidJsonText extends Error {}

/** The JSON value of `text` (whitespace around it allowed). */
export function readJsonValue(text: string): JsonNode {
  const reader = new Reader(text);
  reader.skipSpace();
  const node = reader.value();
  reader.skipSpace();
  if (reader.pos !== text.length) throw reader.error('unexpected text after the value');
  return node;
}

/** The contents of a JSON string token `"…"`, unescaped. */
export function jsonStringValue(token: string): string {
  // Without a backslash the contents are the string (a quote inside would have ended the token).
  return token.indexOf('\\') < 0 ? token.slice(1, -1) : (JSON.parse(token) as string);
}

const LITERAL_CHAR = /[0-9a-zA-Z+\-.]/;

class Reader {
  readonly #text: string;
  pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  error(what: string): InvalidJsonText {
    return new InvalidJsonText(`${what} at offset ${this.pos} of ${this.#text.length > 80 ? `${this.#text.slice(0, 80)}…` : this.#text}`);
  }

  skipSpace(): void {
    const text = this.#text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  value(): JsonNode {
    const text = this.#text;
    const start = this.pos;
    const c = text[start];
    if (c === '"') {
      const end = this.#stringEnd();
      return { kind: 'string', value: jsonStringValue(text.slice(start, end)), start, end };
    }
    if (c === '[') return this.#array();
    if (c === '{') return this.#object();
    while (this.pos < text.length && LITERAL_CHAR.test(text[this.pos]!)) this.pos++;
    const word = text.slice(start, this.pos);
    if (word === 'null') return { kind: 'null', start, end: this.pos };
    if (word === 'true' || word === 'false' || /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(word)) return { kind: 'literal', start, end: this.pos };
    this.pos = start;
    throw this.error('expected a JSON value');
  }

  /** The end (after the closing quote) of the string token starting at `pos`; moves past it. */
  #stringEnd(): number {
    const text = this.#text;
    let i = this.pos + 1;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (quote < 0) throw this.error('unterminated string');
      let backslashes = 0;
      for (let j = quote - 1; text[j] === '\\'; j--) backslashes++;
      i = quote + 1;
      if (backslashes % 2 === 0) break;
    }
    this.pos = i;
    return i;
  }

  #array(): JsonNode {
    const start = this.pos++;
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.#text[this.pos] === ']') {
      this.pos++;
      return { kind: 'array', items, start, end: this.pos };
    }
    for (;;) {
      this.skipSpace();
      items.push(this.value());
      this.skipSpace();
      const c = this.#text[this.pos++];
      if (c === ']') return { kind: 'array', items, start, end: this.pos };
      if (c !== ',') {
        this.pos--;
        throw this.error('expected , or ] in an array');
      }
    }
  }

  #object(): JsonNode {
    const start = this.pos++;
    const keys: string[] = [];
    const values: JsonNode[] = [];
    this.skipSpace();
    if (this.#text[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', keys, values, start, end: this.pos };
    }
    for (;;) {
      this.skipSpace();
      if (this.#text[this.pos] !== '"') throw this.error('expected a key string in an object');
      const keyStart = this.pos;
      keys.push(jsonStringValue(this.#text.slice(keyStart, this.#stringEnd())));
      this.skipSpace();
      if (this.#text[this.pos++] !== ':') {
        this.pos--;
        throw this.error('expected : after a key');
      }
      this.skipSpace();
      values.push(this.value());
      this.skipSpace();
      const c = this.#text[this.pos++];
      if (c === '}') return { kind: 'object', keys, values, start, end: this.pos };
      if (c !== ',') {
        this.pos--;
        throw this.error('expected , or } in an object');
      }
    }
  }
}
