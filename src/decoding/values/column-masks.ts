/**
 * Debezium's column masking and truncation (`column.mask.with.<n>.chars`,
 * `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`, `column.truncate.to.<n>.chars`): which
 * columns a rule covers, and what their values become. Applied where a column's renderers are
 * chosen, so every value of the column (streamed, snapshotted, in keys) is rendered masked.
 */
import { createHash, getHashes } from 'node:crypto';
import type { JsonWriter } from '../../encoding/json-writer.js';
import type { PgType } from './pg-type.js';
import type { ValueRenderer } from './value-renderer.js';

/** A rule with a length: mask with that many `*`, or truncate to that many characters. */
export interface LengthColumnRule {
  readonly length: number;
  /** Anchored, case-insensitive regular expressions over `schema.table.column`. */
  readonly columns: readonly string[];
}

/** A salted hash rule: Debezium's hashing strategy 1 (Java-serialized value) or 2 (UTF-8 bytes). */
export interface HashColumnRule {
  /** The Java MessageDigest name, e.g. `SHA-256`. */
  readonly algorithm: string;
  readonly salt: string;
  readonly version: 1 | 2;
  readonly columns: readonly string[];
}

export interface ColumnMaskRules {
  readonly maskWithChars: readonly LengthColumnRule[];
  readonly hash: readonly HashColumnRule[];
  readonly truncateToChars: readonly LengthColumnRule[];
}

export const NO_COLUMN_MASKS: ColumnMaskRules = { maskWithChars: [], hash: [], truncateToChars: [] };

/** True when at least one rule is configured. */
export function hasColumnMasks(rules: ColumnMaskRules): boolean {
  return rules.maskWithChars.length + rules.hash.length + rules.truncateToChars.length > 0;
}

/** Java MessageDigest names and Node's names for them (case-insensitive on the Java side). */
const DIGESTS: ReadonlyMap<string, string> = new Map([
  ['md5', 'md5'],
  ['sha-1', 'sha1'],
  ['sha', 'sha1'],
  ['sha-224', 'sha224'],
  ['sha-256', 'sha256'],
  ['sha-384', 'sha384'],
  ['sha-512', 'sha512'],
  ['sha-512/224', 'sha512-224'],
  ['sha-512/256', 'sha512-256'],
  ['sha3-224', 'sha3-224'],
  ['sha3-256', 'sha3-256'],
  ['sha3-384', 'sha3-384'],
  ['sha3-512', 'sha3-512'],
]);

/** Node's name for a Java MessageDigest algorithm, or undefined when this Node cannot compute it. */
export function nodeDigestName(javaName: string): string | undefined {
  const name = DIGESTS.get(javaName.toLowerCase());
  return name !== undefined && getHashes().includes(name) ? name : undefined;
}

/** The Java MessageDigest names pgcdc computes, for messages. */
export const SUPPORTED_DIGESTS = ['MD5', 'SHA-1', 'SHA-224', 'SHA-256', 'SHA-384', 'SHA-512', 'SHA-512/224', 'SHA-512/256', 'SHA3-224', 'SHA3-256', 'SHA3-384', 'SHA3-512'];

/** What a masked column's values become; `maskNull` when a null is replaced too. */
export interface ValueMask {
  /** The rule kind, for logs: `mask`, `hash` or `truncate`. */
  readonly kind: 'mask' | 'hash' | 'truncate';
  apply(value: string): string;
  /** The replacement of a null, or undefined when a null stays null. */
  readonly nullReplacement: string | undefined;
}

interface CompiledRule {
  readonly patterns: readonly RegExp[];
  readonly mask: (column: MaskedColumn) => ValueMask;
}

/** What choosing a column's mask looks at. */
export interface MaskedColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  /** The column's type with domains resolved to their base. */
  readonly type: PgType;
  /** atttypmod of the column (-1 when none). */
  readonly typeModifier: number;
}

/** Character types (Debezium masks and truncates only columns whose JDBC type is a character type). */
const CHARACTER_TYPES: ReadonlySet<number> = new Set([18, 19, 25, 1042, 1043]); // "char", name, text, bpchar, varchar

/** Whether Debezium's masks apply to values of `type` (a domain-resolved type): character types, citext. */
export function isCharacterType(type: PgType): boolean {
  return type.kind === 'base' && (CHARACTER_TYPES.has(type.oid) || type.name === 'citext');
}

/**
 * The compiled rules of a stream. Masks come before truncation: a column matched by a mask and a
 * truncation is masked (Debezium would apply whichever rule was configured first, and truncation
 * comes first there, which would let a masked column's data through).
 */
export class ColumnMasks {
  readonly #rules: CompiledRule[];

  constructor(rules: ColumnMaskRules) {
    const compile = (columns: readonly string[]) => columns.map((pattern) => new RegExp(`^(?:${pattern})$`, 'i'));
    this.#rules = [
      ...rules.maskWithChars.map((rule) => ({ patterns: compile(rule.columns), mask: () => fixedMask('*'.repeat(rule.length)) })),
      ...rules.hash.map((rule) => ({ patterns: compile(rule.columns), mask: (column: MaskedColumn) => hashMask(rule, declaredLength(column)) })),
      ...rules.truncateToChars.map((rule) => ({ patterns: compile(rule.columns), mask: () => truncation(rule.length) })),
    ];
  }

  get isEmpty(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * The first rule matching `schema.table.column`: its mask for a character column, `'not-character'`
   * when a rule names a column of another type (left as it is, as Debezium does), else undefined.
   */
  for(column: MaskedColumn): ValueMask | 'not-character' | undefined {
    if (this.#rules.length === 0) return undefined;
    const name = `${column.schema}.${column.table}.${column.column}`;
    const rule = this.#rules.find((candidate) => candidate.patterns.some((pattern) => pattern.test(name)));
    if (rule === undefined) return undefined;
    return isCharacterType(column.type) ? rule.mask(column) : 'not-character';
  }
}

function fixedMask(text: string): ValueMask {
  return { kind: 'mask', apply: () => text, nullReplacement: text };
}

/** Cuts `value` to `length` UTF-16 code units (Java's String length), never splitting a surrogate pair. */
function truncateChars(value: string, length: number): string {
  if (value.length <= length) return value;
  const code = value.charCodeAt(length - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

function truncation(length: number): ValueMask {
  return { kind: 'truncate', apply: (value) => truncateChars(value, length), nullReplacement: undefined };
}

/** The declared length of varchar(n) and char(n) columns (Debezium shortens hashes to it), else 0. */
function declaredLength(column: MaskedColumn): number {
  const oid = column.type.oid;
  return (oid === 1042 || oid === 1043) && column.typeModifier >= 4 ? column.typeModifier - 4 : 0;
}

function hashMask(rule: HashColumnRule, length: number): ValueMask {
  const algorithm = nodeDigestName(rule.algorithm);
  if (algorithm === undefined) throw new Error(`unsupported hash algorithm ${rule.algorithm}`); // refused by the configuration
  const salt = Buffer.from(rule.salt, 'utf8');
  const bytesOf = rule.version === 1 ? javaSerializedString : (value: string) => Buffer.from(value, 'utf8');
  return {
    kind: 'hash',
    apply: (value) => {
      const hex = createHash(algorithm).update(salt).update(bytesOf(value)).digest('hex');
      return length > 0 ? truncateChars(hex, length) : hex;
    },
    nullReplacement: undefined,
  };
}

/**
 * `value` as Java's ObjectOutputStream writes a String (Debezium's hashing strategy 1): stream
 * header, TC_STRING and a 2-byte length (TC_LONGSTRING and an 8-byte length past 65535 bytes),
 * then modified UTF-8 (each UTF-16 unit on its own; U+0000 as two bytes).
 */
export function javaSerializedString(value: string): Buffer {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    length += unit >= 1 && unit <= 0x7f ? 1 : unit <= 0x7ff ? 2 : 3;
  }
  const long = length > 0xffff;
  const out = Buffer.allocUnsafe(4 + 1 + (long ? 8 : 2) + length);
  out.writeUInt32BE(0xaced0005, 0);
  let pos = 4;
  out[pos++] = long ? 0x7c : 0x74;
  if (long) {
    out.writeBigUInt64BE(BigInt(length), pos);
    pos += 8;
  } else {
    out.writeUInt16BE(length, pos);
    pos += 2;
  }
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 1 && unit <= 0x7f) {
      out[pos++] = unit;
    } else if (unit <= 0x7ff) {
      out[pos++] = 0xc0 | (unit >> 6);
      out[pos++] = 0x80 | (unit & 0x3f);
    } else {
      out[pos++] = 0xe0 | (unit >> 12);
      out[pos++] = 0x80 | ((unit >> 6) & 0x3f);
      out[pos++] = 0x80 | (unit & 0x3f);
    }
  }
  return out;
}

/** A renderer writing the masked value of the text output `src[start, end)` as a JSON string. */
export function maskedRenderer(mask: ValueMask): ValueRenderer {
  return (w, src, start, end) => w.string(mask.apply(src.toString('utf8', start, end)));
}

/** Writes what a null of a masked column becomes (a fixed mask replaces nulls too, as in Debezium). */
export function maskedNullRenderer(mask: ValueMask): (w: JsonWriter) => void {
  const replacement = mask.nullReplacement;
  return replacement === undefined ? writeJsonNull : (w) => w.string(replacement);
}

/** Writes a JSON null: the null renderer of every column without a mask. */
export function writeJsonNull(w: JsonWriter): void {
  w.raw('null');
}

/** The unchanged-TOAST placeholder of a masked column: the placeholder string, masked. */
export function maskedUnchangedRenderer(mask: ValueMask, placeholder: string): (w: JsonWriter) => void {
  const masked = mask.apply(placeholder);
  return (w) => w.string(masked);
}
