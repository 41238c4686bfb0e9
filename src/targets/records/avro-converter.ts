/**
 * Confluent's AvroConverter for the Kafka target: a record's key and value in the Confluent wire
 * format (magic byte 0, the schema's registry id as 4 big-endian bytes, the Avro binary datum), the
 * Avro schema derived from the Connect schema (`avro-schema`) and registered under
 * `<topic>-key`/`<topic>-value` (TopicNameStrategy) through the registry's Confluent-compatible REST
 * API (Confluent Schema Registry, Apicurio's `ccompat`). One registration per subject and schema
 * (cached), never per record, one at a time; a registry that does not answer (or answers 5xx) is
 * TARGET_UNREACHABLE (retried), one that refuses a schema (409: incompatible) is TARGET_FAILED
 * naming the subject. Values are encoded with avsc, int64 as bigint (lossless).
 */
import avro from 'avsc';
import { LosslessNumber } from 'lossless-json';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { avroSchemaOf } from './avro-schema.js';
import type { ConnectSchema } from './connect-record.js';

export interface SchemaRegistrySettings {
  /** Base URL of the Confluent-compatible API, e.g. http://registry:8081 or …/apis/ccompat/v7; user:password@ in it is basic auth. */
  readonly url: string;
  readonly basicAuth: { readonly username: string; readonly password: string } | undefined;
  /** Register new schemas (Confluent's `auto.register.schemas`); false: look their ids up only. */
  readonly autoRegister: boolean;
}

const LONG_SCRATCH = Buffer.alloc(8);

/** Avro's long as a JavaScript bigint (a number is accepted when writing). */
const LongAsBigInt = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(),
  // avsc copies the 8 bytes into its output at once: one scratch buffer serves every long.
  toBuffer: (value: bigint | number) => {
    LONG_SCRATCH.writeBigInt64LE(BigInt(value));
    return LONG_SCRATCH;
  },
  fromJSON: (value: unknown) => BigInt(value as number),
  toJSON: (value: bigint) => Number(value),
  isValid: (value: unknown) => typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * Marks an integer read as text to keep it exact (the record stage's fast path: `\u0000` and the
 * digits); PostgreSQL text never holds U+0000, so no string value starts with it.
 */
export const LONG_INTEGER_MARK = '\u0000';
const MARK_CODE = 0;

/** A registered schema: its id, and the avsc type that writes its data. */
interface RegisteredSchema {
  readonly id: number;
  readonly type: avro.Type;
}

const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class AvroConverter {
  readonly #registry: SchemaRegistrySettings;
  readonly #base: string;
  readonly #authorization: string | undefined;
  /** Per Connect schema object (the stage reuses one per table shape), then per subject + schema text. */
  readonly #bySchema = new WeakMap<ConnectSchema, Map<string, RegisteredSchema>>();
  readonly #byText = new Map<string, Promise<RegisteredSchema>>();
  #lastRegistration: Promise<unknown> = Promise.resolve();

  constructor(registry: SchemaRegistrySettings) {
    this.#registry = registry;
    // Credentials in the URL (user:password@) are basic auth (fetch refuses URLs holding them).
    const url = new URL(registry.url);
    const fromUrl = url.username === '' ? undefined : { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    url.username = '';
    url.password = '';
    this.#base = url.toString().replace(/\/+$/, '');
    const auth = registry.basicAuth ?? fromUrl;
    this.#authorization = auth && `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  /**
   * Registers (once) the schema of `schema` under `subject` and returns it. Concurrent calls for the
   * same subject and schema share one request.
   */
  async register(subject: string, schema: ConnectSchema): Promise<RegisteredSchema> {
    let bySubject = this.#bySchema.get(schema);
    const known = bySubject?.get(subject);
    if (known !== undefined) return known;
    const text = JSON.stringify(avroSchemaOf(schema));
    const cacheKey = `${subject}\u0000${text}`;
    let registered = this.#byText.get(cacheKey);
    if (registered === undefined) {
      // One registration at a time: registries serialise them anyway (Apicurio's in-memory storage times out on concurrent ones).
      registered = this.#lastRegistration.catch(() => undefined).then(() => this.#registerText(subject, text));
      this.#lastRegistration = registered;
      this.#byText.set(cacheKey, registered);
      registered.catch(() => this.#byText.delete(cacheKey));
    }
    const result = await registered;
    if (bySubject === undefined) this.#bySchema.set(schema, (bySubject = new Map()));
    bySubject.set(subject, result);
    return result;
  }

  /** `datum` (a Connect payload) in the Confluent wire format of `registered`; null stays null (a tombstone). */
  encode(registered: RegisteredSchema, datum: unknown, subject: string): Buffer | null {
    if (datum === null || datum === undefined) return null;
    const value = avroDatum(registered.type, datum);
    let body: Buffer;
    try {
      body = registered.type.toBuffer(value);
    } catch (error) {
      // Which values do not fit (checked only now: a second pass over every record would cost).
      const invalid: string[] = [];
      registered.type.isValid(value, { errorHook: (path: string[], any: unknown) => invalid.push(`${path.join('.') || '(record)'} = ${describe(any)}`) });
      throw new PgcdcError('TARGET_FAILED', `a record of subject ${subject} does not fit its Avro schema: ${invalid.slice(0, 3).join('; ') || (error as Error).message}`, {
        cause: error,
        hint: 'report this with the column types of the table: the value and its Connect schema disagree',
      });
    }
    const framed = Buffer.allocUnsafe(5 + body.length);
    framed[0] = 0;
    framed.writeUInt32BE(registered.id, 1);
    body.copy(framed, 5);
    return framed;
  }

  async #registerText(subject: string, text: string): Promise<RegisteredSchema> {
    const path = this.#registry.autoRegister ? `/subjects/${encodeURIComponent(subject)}/versions` : `/subjects/${encodeURIComponent(subject)}`;
    const url = `${this.#base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': REGISTRY_CONTENT_TYPE, accept: REGISTRY_CONTENT_TYPE, ...(this.#authorization ? { authorization: this.#authorization } : {}) },
        body: JSON.stringify({ schema: text }),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new PgcdcError('TARGET_UNREACHABLE', `the schema registry at ${this.#base} did not answer registering ${subject}: ${cause}`, {
        cause: error,
        hint: 'check the schema registry URL and that the registry is running',
      });
    }
    const body = await response.text();
    if (response.ok) {
      const id = (JSON.parse(body) as { id?: unknown }).id;
      if (typeof id !== 'number') throw new PgcdcError('TARGET_FAILED', `the schema registry at ${this.#base} answered registering ${subject} without a schema id: ${body.slice(0, 200)}`, { hint: 'check that the URL is the registry\'s Confluent-compatible API (Apicurio: …/apis/ccompat/v7)' });
      return { id, type: avro.Type.forSchema(JSON.parse(text) as avro.Schema, { registry: { long: LongAsBigInt }, wrapUnions: true }) };
    }
    const message = registryMessage(body);
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      throw new PgcdcError('TARGET_UNREACHABLE', `the schema registry at ${this.#base} failed registering ${subject} (HTTP ${response.status}): ${message}`, { hint: 'check the schema registry\'s health' });
    }
    if (response.status === 401 || response.status === 403) {
      throw new PgcdcError('TARGET_FAILED', `the schema registry at ${this.#base} refused the credentials registering ${subject} (HTTP ${response.status}): ${message}`, { hint: 'check the registry\'s basic auth user and password' });
    }
    if (response.status === 409) {
      throw new PgcdcError('TARGET_FAILED', `the schema registry refused the new schema of subject ${subject} as incompatible: ${message}`, {
        hint: `make the table change compatible with the subject's compatibility level, or change the level of ${subject} (PUT /config/${subject}) and restart the stream`,
      });
    }
    if (response.status === 404 && !this.#registry.autoRegister) {
      throw new PgcdcError('TARGET_FAILED', `the schema registry has no schema of subject ${subject} like the one to write, and registering is off: ${message}`, { hint: 'register the schema first, or turn automatic registration on' });
    }
    throw new PgcdcError('TARGET_FAILED', `the schema registry at ${this.#base} refused the schema of subject ${subject} (HTTP ${response.status}): ${message}`, { hint: 'check the registry URL and the subject\'s settings' });
  }
}

/** A value in a message (bigints as digits, long text cut). */
function describe(value: unknown): string {
  const text = typeof value === 'bigint' ? String(value) : JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The registry's error message (`{"error_code","message"}`), or the body's start. */
function registryMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.replace(/\s+/g, ' ');
  } catch {
    // not JSON: the text itself
  }
  return body.slice(0, 300).replace(/\s+/g, ' ') || '(no message)';
}

/**
 * A Connect payload (as JsonConverter writes it: structs as objects, bytes as base64 text, int64
 * beyond 2^53 as bigint) as a datum of avsc type `type` (the schema AvroData derives from the
 * payload's Connect schema): bytes as Buffers, union values wrapped in their branch (`{"long": 1}`:
 * an unwrapped union cannot tell a bigint for a long), non-string-keyed maps (JsonConverter's
 * `[[key, value], …]`) as arrays of key/value records.
 */
function avroDatum(type: avro.Type, value: unknown): unknown {
  if (value === undefined) return undefined; // a record field's default
  if (value === null) return null;
  switch (type.typeName) {
    case 'union:wrapped': {
      const branch = (type as avro.types.WrappedUnionType).types.find((candidate) => candidate.typeName !== 'null')!;
      return { [branch.branchName!]: avroDatum(branch, value) };
    }
    case 'record': {
      const object = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const field of (type as avro.types.RecordType).fields) out[field.name] = avroDatum(field.type, object[field.name]);
      return out;
    }
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType;
      if (items instanceof avro.types.RecordType && items.name?.endsWith('MapEntry') === true) {
        return (value as [unknown, unknown][]).map(([key, entry]) => ({ key: avroDatum(items.fields[0]!.type, key), value: avroDatum(items.fields[1]!.type, entry) }));
      }
      return (value as unknown[]).map((item) => avroDatum(items, item));
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType;
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value as Record<string, unknown>)) out[key] = avroDatum(values, entry);
      return out;
    }
    case 'bytes':
      return Buffer.from(value as string, 'base64');
    case 'abstract:long': // LongAsBigInt
    case 'long':
    case 'int':
    case 'double':
    case 'float':
      return avroNumber(type.typeName, value);
    default:
      return value;
  }
}

/** A number of the payload as avsc takes it: marked or lossless text read back, NaN and ±Infinity (JSON strings) as numbers. */
function avroNumber(typeName: string, value: unknown): unknown {
  if (typeof value === 'number') return value;
  const text = value instanceof LosslessNumber ? value.value : typeof value === 'string' && value.charCodeAt(0) === MARK_CODE ? value.slice(1) : undefined;
  if (text !== undefined) return typeName === 'abstract:long' ? BigInt(text) : Number(text);
  // A float written as an integer beyond 2^53 was read as a bigint; NaN and ±Infinity are JSON strings.
  if ((typeName === 'double' || typeName === 'float') && (typeof value === 'bigint' || value === 'NaN' || value === 'Infinity' || value === '-Infinity')) return Number(value);
  return value;
}
