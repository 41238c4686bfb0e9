/**
 * Decodes one record of a change topic (written by pgcdc's Kafka target or by Debezium on Kafka
 * Connect) into a `DecodedChange`: Debezium envelopes (op c/u/d/r, t, m) in JsonConverter's JSON,
 * with `{"schema","payload"}` or the payload alone, or Avro in Confluent's wire format; tombstones;
 * transaction metadata (BEGIN/END); heartbeats. Row images keep each column's value as its JSON
 * text sliced from the record (`json-scanner`), never read through JavaScript numbers; with a
 * Connect schema, Debezium's logical types become pgcdc's representation (`connect-value-decoder`,
 * `avro-record-decoder`). Debezium's unavailable-value placeholder is UNCHANGED. Anything else is
 * a NotAChangeEvent with one line saying what the record is.
 */
import {
  type ColumnValue,
  type DecodedChange,
  type DecodedControl,
  type DecodedRow,
  type KafkaMessage,
  NotAChangeEvent,
  NULL_SPAN,
  RowValues,
  UNCHANGED,
  UNCHANGED_SPAN,
} from './decoded-change.js';
import { decodeString, integerAt, isNullAt, JsonScanError, MemberCursor, MemberNameHint, objectMembers, objectNames, type ObjectMembers, sameBytes, skipWhitespace, valueEnd } from './json-scanner.js';
import { type ConnectSchemaJson, type JsonValueRenderer, structRenderers } from './connect-value-decoder.js';
import { AvroRecordDecoder, type AvroValueRenderer, avroValueRenderer, decodeDatum, isConfluentFramed, recordFields, type WriterSchema } from './avro-record-decoder.js';

export interface ChangeMessageDecoderOptions {
  /** Debezium's unavailable.value.placeholder: a column whose value is this string is UNCHANGED (default '__debezium_unavailable_value'). */
  readonly unavailableValuePlaceholder: string;
  /** Avro records (Confluent wire format): where to fetch writer schemas by id, optional basic auth. Absent: Avro records are NotAChangeEvent. */
  readonly schemaRegistry?: { readonly url: string; readonly basicAuth?: { user: string; password: string } };
}

/** The key field Debezium's ByLogicalTableRouter (and pgcdc's topic routing) adds: not a column. */
const ROUTED_KEY_FIELD = '__dbz__physicalTableIdentifier';
const HEARTBEAT_TOPIC_PREFIX = '__debezium-heartbeat';

const TOMBSTONE: DecodedControl = Object.freeze({ kind: 'tombstone' });
const TRANSACTION: DecodedControl = Object.freeze({ kind: 'transaction' });
const HEARTBEAT: DecodedControl = Object.freeze({ kind: 'heartbeat' });

const SNAPSHOT_MARKS: ReadonlyMap<string, DecodedRow['snapshot']> = new Map<string, DecodedRow['snapshot']>([
  ['true', 'true'],
  ['first', 'first'],
  ['last', 'last'],
  ['incremental', 'incremental'],
  ['first_in_data_collection', 'true'],
  ['last_in_data_collection', 'true'],
]);

/** A row image: column names and values, in the record's order. */
interface RowImage {
  readonly names: readonly string[];
  readonly values: RowValues;
}

/** What the `source` block says. */
interface SourceFacts {
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly lsn: number | undefined;
  readonly txId: number | undefined;
  readonly tsMs: number | undefined;
  readonly snapshot: DecodedRow['snapshot'];
}

/** A record value's envelope, from JSON or Avro: what a DecodedChange is built from. */
interface Envelope {
  readonly op: string | undefined;
  readonly before: RowImage | null;
  readonly after: RowImage | null;
  readonly source: SourceFacts | undefined;
  readonly message: { readonly prefix: string; readonly content: Buffer } | undefined;
  /** Transaction metadata's BEGIN/END. */
  readonly status: string | undefined;
  /** Members of the payload, to name what a record without `op` holds. */
  members(): readonly string[];
}

/** The envelope of the JSON record decoded last: one per decoder, filled for each record (nothing keeps it past the record). */
class JsonEnvelope implements Envelope {
  op: string | undefined;
  before: RowImage | null = null;
  after: RowImage | null = null;
  source: SourceFacts | undefined;
  message: Envelope['message'];
  status: string | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #payloadStart = 0;

  reset(buf: Buffer, payloadStart: number): void {
    this.op = this.source = this.message = this.status = undefined;
    this.before = this.after = null;
    this.#buf = buf;
    this.#payloadStart = payloadStart;
  }

  members(): readonly string[] {
    return objectMembers(this.#buf, this.#payloadStart).names;
  }
}

/** A JsonConverter schema met last on a topic (as bytes) and the renderers it gives. */
interface CachedSchema {
  readonly bytes: Buffer;
  readonly renderers: ReadonlyMap<string, JsonValueRenderer>;
}

/** A string member's value met last, with its bytes: the next record's same bytes give the same string, not decoded again. */
class RepeatedString {
  #bytes: Buffer | undefined;
  #text: string | undefined;

  /** The string whose quotes span [start, end); undefined for another value. */
  read(buf: Buffer, start: number, end: number): string | undefined {
    if (buf[start] !== 0x22) return undefined;
    const known = this.#bytes;
    if (known !== undefined && known.length === end - start && sameBytes(buf, start, known)) return this.#text;
    this.#text = decodeString(buf, start, end);
    this.#bytes = Buffer.from(buf.subarray(start, end));
    return this.#text;
  }
}

/** What the decoder keeps per topic and role (key, value): the last schema, the member names of each object met, the source's repeated strings. */
class DocumentMemo {
  schema: CachedSchema | undefined;
  readonly top = new MemberNameHint();
  readonly payload = new MemberNameHint();
  readonly before = new MemberNameHint();
  readonly after = new MemberNameHint();
  readonly source = new MemberNameHint();
  readonly sourceSchema = new RepeatedString();
  readonly sourceTable = new RepeatedString();
  readonly sourceSnapshot = new RepeatedString();
}

interface TopicMemo {
  readonly key: DocumentMemo;
  readonly value: DocumentMemo;
}

const NO_RENDERERS: ReadonlyMap<string, JsonValueRenderer> = new Map();

/** The decoder's reading of a record key's image, for a row change's key values read when first asked. */
let recordKeyImage: (decoder: ChangeMessageDecoder, message: KafkaMessage, memo: DocumentMemo) => RowImage | null;

export class ChangeMessageDecoder {
  /** JSON texts that are the placeholder: a string, an array of it, bytea's `\x` hex, bytes' base64. */
  readonly #placeholderTexts: readonly Buffer[];
  /** Whether a value of each length (up to the longest placeholder text) may be a placeholder. */
  readonly #placeholderLengths: Uint8Array;
  readonly #sourceReader = new SourceReader();
  readonly #placeholder: string;
  readonly #placeholderBytes: Buffer;
  readonly #avro: AvroRecordDecoder | undefined;
  readonly #topics = new Map<string, TopicMemo>();
  readonly #cursor = new MemberCursor();
  readonly #envelope = new JsonEnvelope();
  /** The renderers of the payload `#payload` found last. */
  #payloadRenderers: ReadonlyMap<string, JsonValueRenderer> = NO_RENDERERS;

  constructor(options: ChangeMessageDecoderOptions) {
    const placeholder = options.unavailableValuePlaceholder;
    this.#placeholder = placeholder;
    this.#placeholderBytes = Buffer.from(placeholder, 'utf8');
    this.#placeholderTexts = [
      JSON.stringify(placeholder),
      `[${JSON.stringify(placeholder)}]`,
      JSON.stringify(`\\x${this.#placeholderBytes.toString('hex')}`),
      JSON.stringify(this.#placeholderBytes.toString('base64')),
    ].map((text) => Buffer.from(text, 'utf8'));
    this.#placeholderLengths = new Uint8Array(Math.max(...this.#placeholderTexts.map((text) => text.length)) + 1);
    for (const text of this.#placeholderTexts) this.#placeholderLengths[text.length] = 1;
    this.#avro = options.schemaRegistry === undefined ? undefined : new AvroRecordDecoder(options.schemaRegistry);
  }

  /** Decodes one record; throws NotAChangeEvent for a record that is not a change event. Async only while an Avro schema is fetched. */
  decode(message: KafkaMessage): DecodedChange | Promise<DecodedChange> {
    const { value, key } = message;
    if (value === null) return TOMBSTONE;
    try {
      if (!isConfluentFramed(value) && !isConfluentFramed(key)) return this.#decodeJson(message, value);
      const decoded = this.#decodeAvro(message);
      return decoded instanceof Promise ? decoded.catch((error: unknown) => Promise.reject(notAChangeEventOf(message, error))) : decoded;
    } catch (error) {
      throw notAChangeEventOf(message, error);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // JSON

  #decodeJson(message: KafkaMessage, value: Buffer): DecodedChange {
    const start = skipWhitespace(value, 0);
    if (value[start] !== 0x7b) throw new NotAChangeEvent(`${describeRecord(message)} is not a JSON object (it starts with ${JSON.stringify(value.toString('utf8', start, start + 12))}): the Kafka source reads Debezium change events in JSON or Avro; leave other topics out of its topic list`);
    const memo = this.#memoOf(message.topic);
    const payloadStart = this.#payload(value, start, memo.value, envelopeImageSchema);
    if (payloadStart < 0) return TOMBSTONE;
    const envelope = this.#jsonEnvelope(value, payloadStart, this.#payloadRenderers, memo.value);
    return this.#change(message, envelope, memo.key);
  }

  #memoOf(topic: string): TopicMemo {
    let memo = this.#topics.get(topic);
    if (memo === undefined) this.#topics.set(topic, (memo = { key: new DocumentMemo(), value: new DocumentMemo() }));
    return memo;
  }

  /**
   * Where the payload object of a JsonConverter document at `start` (a `{"schema","payload"}`
   * envelope or the payload alone) starts, -1 for a null payload; the renderers of its row fields
   * (`fieldsOf` picks the struct whose fields are columns) are left in `#payloadRenderers`.
   */
  #payload(buf: Buffer, start: number, memo: DocumentMemo, fieldsOf: (schema: ConnectSchemaJson) => ConnectSchemaJson | undefined): number {
    this.#payloadRenderers = NO_RENDERERS;
    const known = knownSchemaPayload(buf, start, memo.schema);
    if (known >= 0) {
      if (buf[known] !== 0x7b) return nullOrNotObject(buf, known);
      this.#payloadRenderers = memo.schema!.renderers;
      return known;
    }
    if (!startsWithSchemaOrPayload(buf, start)) return start;
    const top = objectMembers(buf, start, memo.top);
    if (top.names.length !== 2 || !top.names.includes('schema') || !top.names.includes('payload')) return start;
    const schemaAt = top.names.indexOf('schema');
    const payloadAt = 1 - schemaAt;
    const payloadStart = top.starts[payloadAt]!;
    if (buf[payloadStart] !== 0x7b) return nullOrNotObject(buf, payloadStart);
    this.#payloadRenderers = this.#renderersOf(buf, top.starts[schemaAt]!, top.ends[schemaAt]!, memo, fieldsOf);
    return payloadStart;
  }

  /** The renderers of a schema, cached per topic and role while the schema's bytes stay the same. */
  #renderersOf(buf: Buffer, start: number, end: number, memo: DocumentMemo, fieldsOf: (schema: ConnectSchemaJson) => ConnectSchemaJson | undefined): ReadonlyMap<string, JsonValueRenderer> {
    const cached = memo.schema;
    if (cached !== undefined && cached.bytes.length === end - start && sameBytes(buf, start, cached.bytes)) return cached.renderers;
    const bytes = Buffer.from(buf.subarray(start, end));
    const schema = JSON.parse(bytes.toString('utf8')) as ConnectSchemaJson | null;
    const renderers = schema === null ? NO_RENDERERS : structRenderers(fieldsOf(schema));
    memo.schema = { bytes, renderers };
    return renderers;
  }

  #jsonEnvelope(buf: Buffer, payloadStart: number, renderers: ReadonlyMap<string, JsonValueRenderer>, memo: DocumentMemo): Envelope {
    const envelope = this.#envelope;
    envelope.reset(buf, payloadStart);
    const cursor = this.#cursor;
    cursor.open(buf, payloadStart, memo.payload);
    while (cursor.next()) {
      const start = cursor.valueStart;
      if (buf[start] === 0x6e) {
        cursor.skipValue(); // null
        continue;
      }
      switch (cursor.name) {
        case 'op':
          envelope.op = opAt(buf, start, cursor.skipValue());
          break;
        case 'before': {
          const members = objectMembers(buf, start, memo.before);
          cursor.valueRead(members.end);
          envelope.before = this.#imageOf(buf, members, renderers);
          break;
        }
        case 'after': {
          const members = objectMembers(buf, start, memo.after);
          cursor.valueRead(members.end);
          envelope.after = this.#imageOf(buf, members, renderers);
          break;
        }
        case 'source': {
          const facts = this.#sourceReader.read(buf, start, memo);
          cursor.valueRead(facts.end);
          envelope.source = facts;
          break;
        }
        case 'message': {
          const members = objectMembers(buf, start);
          cursor.valueRead(members.end);
          const prefix = memberString(buf, members, 'prefix') ?? '';
          const content = memberString(buf, members, 'content');
          envelope.message = { prefix, content: Buffer.from(content ?? '', 'base64') };
          break;
        }
        case 'status':
          envelope.status = stringAt(buf, start, cursor.skipValue());
          break;
        default:
          cursor.skipValue();
      }
    }
    return envelope;
  }

  /** The image of an object's members: its spans marked NULL_SPAN / UNCHANGED_SPAN, values with a logical type rendered. */
  #imageOf(buf: Buffer, members: ObjectMembers & { end: number }, renderers: ReadonlyMap<string, JsonValueRenderer>): RowImage {
    const { names, starts, ends } = members;
    const texts = this.#placeholderTexts;
    const placeholderLengths = this.#placeholderLengths;
    let rendered: (string | undefined)[] | undefined;
    let plain = true;
    let valueBytes = 0;
    for (let i = 0; i < names.length; i++) {
      const s = starts[i]!;
      const e = ends[i]!;
      valueBytes += e - s;
      if (isNullAt(buf, s, e)) {
        starts[i] = NULL_SPAN;
        continue;
      }
      if (placeholderLengths[e - s] === 1 && isPlaceholder(buf, s, e, texts)) {
        starts[i] = UNCHANGED_SPAN;
        plain = false;
        continue;
      }
      const render = renderers.size === 0 ? undefined : renderers.get(names[i]!);
      if (render !== undefined) {
        (rendered ??= new Array<string | undefined>(names.length))[i] = render(buf, s, e);
        plain = false;
      }
    }
    return { names, values: plain ? new RowValues(buf, starts, ends, rendered, members.start, members.end, valueBytes) : new RowValues(buf, starts, ends, rendered) };
  }

  /** The record key's image (null: no key), JSON or Avro (its writer schema fetched already), read when a change needs it. */
  #keyImage(message: KafkaMessage, memo: DocumentMemo): RowImage | null {
    const key = message.key;
    if (key === null) return null;
    if (isConfluentFramed(key)) {
      const schema = this.#avro?.cachedSchema(key);
      if (schema === undefined) throw new NotAChangeEvent(`${describeRecord(message)} has an Avro key but no schema registry is set: set the Kafka source's schemaRegistry to read it`);
      const datum = avroDatum(message, schema, key, 'key');
      return datum === null || typeof datum !== 'object' ? null : this.#avroImage(schema, schema.json, datum as Record<string, unknown>);
    }
    const payloadStart = this.#jsonKeyPayload(message, key, memo);
    return payloadStart < 0 ? null : this.#imageOf(key, objectMembers(key, payloadStart, memo.payload), this.#payloadRenderers);
  }

  /**
   * A row change's record key: its field names alone when it is JSON whose values need no
   * rendering (the values are read from the record when first asked, as the same image), else its
   * whole image; null when the record has no key. Either way a key that is not a change event's
   * fails here, while the record is decoded.
   */
  #rowKey(message: KafkaMessage, memo: DocumentMemo): RowImage | readonly string[] | null {
    const key = message.key;
    if (key === null || isConfluentFramed(key)) return this.#keyImage(message, memo);
    const payloadStart = this.#jsonKeyPayload(message, key, memo);
    if (payloadStart < 0) return null;
    if (this.#payloadRenderers.size !== 0) return this.#imageOf(key, objectMembers(key, payloadStart, memo.payload), this.#payloadRenderers);
    return objectNames(key, payloadStart, memo.payload);
  }

  /** Where a JSON key's payload object starts (-1: a null key), its renderers left in `#payloadRenderers`. */
  #jsonKeyPayload(message: KafkaMessage, key: Buffer, memo: DocumentMemo): number {
    const start = skipWhitespace(key, 0);
    if (key[start] !== 0x7b) {
      if (isNullAt(key, start, key.length)) return -1;
      throw new NotAChangeEvent(`${describeRecord(message)} has a key that is not a JSON object (${JSON.stringify(key.toString('utf8', 0, 40))}): a change event's key holds the table's key columns`);
    }
    return this.#payload(key, start, memo, (schema) => schema);
  }

  static {
    recordKeyImage = (decoder, message, memo) => decoder.#keyImage(message, memo);
  }

  /** The record key's field names; none when the key is not a JSON or Avro object (it only tells heartbeats apart). */
  #keyNames(message: KafkaMessage, keyMemo: DocumentMemo): readonly string[] {
    try {
      return this.#keyImage(message, keyMemo)?.names ?? [];
    } catch (error) {
      if (error instanceof NotAChangeEvent || error instanceof JsonScanError || error instanceof SyntaxError) return [];
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Avro

  #decodeAvro(message: KafkaMessage): DecodedChange | Promise<DecodedChange> {
    const avro = this.#avro;
    if (avro === undefined) throw new NotAChangeEvent(`${describeRecord(message)} is Avro (Confluent wire format, schema id ${(isConfluentFramed(message.value) ? message.value! : message.key!).readUInt32BE(1)}) but no schema registry is set: set the Kafka source's schemaRegistry to read it`);
    const value = message.value!;
    const key = message.key;
    const valueSchema = isConfluentFramed(value) ? avro.cachedSchema(value) : undefined;
    if ((isConfluentFramed(value) && valueSchema === undefined) || (isConfluentFramed(key) && avro.cachedSchema(key!) === undefined)) {
      return Promise.all([isConfluentFramed(value) ? avro.schemaOf(value) : undefined, isConfluentFramed(key) ? avro.schemaOf(key!) : undefined]).then(() => this.#decodeAvro(message));
    }
    if (valueSchema === undefined) return this.#decodeJson(message, value);
    const datum = avroDatum(message, valueSchema, value, 'value');
    if (datum === null || typeof datum !== 'object') throw new NotAChangeEvent(`${describeRecord(message)} is an Avro ${typeof datum}, not a change event record`);
    const envelope = this.#avroEnvelope(valueSchema, datum as Record<string, unknown>);
    return this.#change(message, envelope, this.#memoOf(message.topic).key);
  }

  #avroEnvelope(writer: WriterSchema, datum: Record<string, unknown>): Envelope {
    const fields = recordFields(writer, writer.json) ?? [];
    const field = (name: string) => fields.find((f) => f.name === name);
    const image = (name: string): RowImage | null => {
      const value = datum[name];
      const schema = field(name);
      return value === null || value === undefined || schema === undefined ? null : this.#avroImage(writer, schema.type, value as Record<string, unknown>);
    };
    const source = datum.source as Record<string, unknown> | null | undefined;
    const message = datum.message as { prefix?: string | null; content?: Buffer | null } | null | undefined;
    return {
      op: typeof datum.op === 'string' ? datum.op : undefined,
      before: image('before'),
      after: image('after'),
      source: source ? avroSource(source) : undefined,
      message: message ? { prefix: message.prefix ?? '', content: message.content ?? Buffer.alloc(0) } : undefined,
      status: typeof datum.status === 'string' ? datum.status : undefined,
      members: () => fields.map((f) => f.name),
    };
  }

  /** The renderer of each field of the writer schemas met, by the field's schema object. */
  readonly #avroRenderers = new WeakMap<object, AvroValueRenderer>();

  #avroImage(writer: WriterSchema, schema: Parameters<typeof recordFields>[1], value: Record<string, unknown>): RowImage {
    const fields = recordFields(writer, schema) ?? [];
    const names: string[] = [];
    const values: ColumnValue[] = [];
    for (const field of fields) {
      names.push(field.name);
      const v = value[field.name];
      if (v === null || v === undefined) values.push(null);
      else if (this.#isAvroPlaceholder(v)) values.push(UNCHANGED);
      else {
        let render = this.#avroRenderers.get(field);
        if (render === undefined) this.#avroRenderers.set(field, (render = avroValueRenderer(writer, field.type)));
        values.push(render(v));
      }
    }
    return { names, values: RowValues.ofTexts(values) };
  }

  #isAvroPlaceholder(value: unknown): boolean {
    if (typeof value === 'string') return value === this.#placeholder || value === `\\x${this.#placeholderBytes.toString('hex')}`;
    if (Buffer.isBuffer(value)) return value.equals(this.#placeholderBytes);
    return Array.isArray(value) && value.length === 1 && value[0] === this.#placeholder;
  }

  // ---------------------------------------------------------------------------------------------
  // Envelope → change

  /** The change an envelope holds; the record key (its topic's `keyMemo`) is read for row changes and to tell heartbeats apart. */
  #change(message: KafkaMessage, envelope: Envelope, keyMemo: DocumentMemo): DecodedChange {
    const { op } = envelope;
    if (op === undefined) {
      if (envelope.status === 'BEGIN' || envelope.status === 'END') return TRANSACTION;
      if (message.topic.startsWith(HEARTBEAT_TOPIC_PREFIX) || this.#keyNames(message, keyMemo).includes('serverName')) return HEARTBEAT;
      const members = envelope.members();
      if (members.includes('schemaChange')) throw new NotAChangeEvent(`${describeRecord(message)} is a schema change record (pgcdc's captureDdl), not a row change: leave the schema change topic (the topic prefix alone) out of the Kafka source's topics`);
      throw new NotAChangeEvent(`${describeRecord(message)} has no "op" (its members: ${members.slice(0, 8).join(', ') || 'none'}): not a Debezium change event; leave this topic out of the Kafka source's topics`);
    }
    const source = envelope.source;
    switch (op) {
      case 'c':
      case 'u':
      case 'd':
      case 'r': {
        if (source?.schema === undefined || source.table === undefined) throw new NotAChangeEvent(`${describeRecord(message)} (op "${op}") has no source.schema and source.table: not a Debezium PostgreSQL change event`);
        const { before, after } = envelope;
        const shape = after ?? before;
        if (shape === null) throw new NotAChangeEvent(`${describeRecord(message)} (op "${op}") has neither "before" nor "after"`);
        return new DecodedRowChange(op, source, shape.names, this.#rowKey(message, keyMemo), before === null ? null : alignedValues(shape.names, before), after === null ? null : after.values, this, message, keyMemo);
      }
      case 't':
        if (source?.schema === undefined || source.table === undefined) throw new NotAChangeEvent(`${describeRecord(message)} (op "t") has no source.schema and source.table: not a Debezium PostgreSQL truncate event`);
        return { kind: 'truncate', schema: source.schema, table: source.table, sourceLsn: source.lsn, txId: source.txId, tsMs: source.tsMs };
      case 'm':
        if (envelope.message === undefined) throw new NotAChangeEvent(`${describeRecord(message)} (op "m") has no "message" block`);
        return { kind: 'message', prefix: envelope.message.prefix, content: envelope.message.content, transactional: source?.txId !== undefined, sourceLsn: source?.lsn };
      default:
        throw new NotAChangeEvent(`${describeRecord(message)} has an unknown op ${JSON.stringify(op)} (expected c, u, d, r, t or m)`);
    }
  }
}

/** Whether [start, end) of `buf` is one of the placeholder's JSON texts. */
function isPlaceholder(buf: Buffer, start: number, end: number, texts: readonly Buffer[]): boolean {
  for (const text of texts) if (text.length === end - start && buf.compare(text, 0, text.length, start, end) === 0) return true;
  return false;
}

const SCHEMA_MEMBER = Buffer.from('"schema"');
const PAYLOAD_MEMBER = Buffer.from('"payload"');

/**
 * Where the payload starts in `{"schema":<the cached schema>,"payload":…}` (JsonConverter's order),
 * found without scanning the schema (its bytes compared with the cached ones at once); -1 when
 * the document is not laid out so or has another schema.
 */
function knownSchemaPayload(buf: Buffer, start: number, cached: CachedSchema | undefined): number {
  if (cached === undefined) return -1;
  let i = skipWhitespace(buf, start + 1);
  if (!sameBytes(buf, i, SCHEMA_MEMBER)) return -1;
  i = skipWhitespace(buf, i + SCHEMA_MEMBER.length);
  if (buf[i] !== 0x3a) return -1;
  i = skipWhitespace(buf, i + 1);
  const bytes = cached.bytes;
  if (!sameBytes(buf, i, bytes)) return -1;
  i = skipWhitespace(buf, i + bytes.length);
  if (buf[i] !== 0x2c) return -1;
  i = skipWhitespace(buf, i + 1);
  if (!sameBytes(buf, i, PAYLOAD_MEMBER)) return -1;
  i = skipWhitespace(buf, i + PAYLOAD_MEMBER.length);
  return buf[i] === 0x3a ? skipWhitespace(buf, i + 1) : -1;
}

/** Whether the object at `start` begins with a member named "schema" or "payload" (JsonConverter's envelope). */
function startsWithSchemaOrPayload(buf: Buffer, start: number): boolean {
  const i = skipWhitespace(buf, start + 1);
  return (
    sameBytes(buf, i, SCHEMA_MEMBER) || sameBytes(buf, i, PAYLOAD_MEMBER)
  );
}

/** A payload that is not an object: null (a tombstone's: -1), or a scan error. */
function nullOrNotObject(buf: Buffer, at: number): -1 {
  if (isNullAt(buf, at, at + 4)) return -1;
  throw new JsonScanError(`the payload at byte ${at} is not an object`);
}

/** The renderers of an envelope's row fields: the struct of `after` (or `before`). */
function envelopeImageSchema(schema: ConnectSchemaJson): ConnectSchemaJson | undefined {
  const fields = schema.fields ?? [];
  return fields.find((field) => field.field === 'after' && field.type === 'struct') ?? fields.find((field) => field.field === 'before' && field.type === 'struct');
}

/** `before`'s values in the order of `names` (the same order in every record Debezium and pgcdc write). */
function alignedValues(names: readonly string[], image: RowImage): RowValues {
  if (image.names === names) return image.values;
  if (image.names.length === names.length && image.names.every((name, i) => name === names[i])) return image.values;
  const texts = image.values.texts();
  return RowValues.ofTexts(
    names.map((name) => {
      const at = image.names.indexOf(name);
      return at < 0 ? null : texts[at]!;
    }),
  );
}

/**
 * A row change: the images' values as the record's bytes (`beforeValues`, `afterValues`), as texts
 * when first asked (`before`, `after`, `key`).
 */
class DecodedRowChange implements DecodedRow {
  readonly kind = 'row';
  readonly op: DecodedRow['op'];
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly keyColumns: readonly string[];
  readonly beforeValues: RowValues | null;
  readonly afterValues: RowValues | null;
  readonly sourceLsn: number | undefined;
  readonly txId: number | undefined;
  readonly tsMs: number | undefined;
  readonly snapshot: DecodedRow['snapshot'];
  /** The record key: its image, or its names alone (the image read from the record when `key` is first asked), or null. */
  readonly #key: RowImage | readonly string[] | null;
  readonly #decoder: ChangeMessageDecoder;
  readonly #message: KafkaMessage;
  readonly #keyMemo: DocumentMemo;
  #keyValues: readonly ColumnValue[] | undefined;

  constructor(op: DecodedRow['op'], source: SourceFacts, columns: readonly string[], key: RowImage | readonly string[] | null, before: RowValues | null, after: RowValues | null, decoder: ChangeMessageDecoder, message: KafkaMessage, keyMemo: DocumentMemo) {
    this.op = op;
    this.schema = source.schema!;
    this.table = source.table!;
    this.columns = columns;
    this.#key = key;
    this.keyColumns = key === null ? NO_NAMES : keyColumnsOf(isNames(key) ? key : key.names);
    this.beforeValues = before;
    this.afterValues = after;
    this.sourceLsn = source.lsn;
    this.txId = source.txId;
    this.tsMs = source.tsMs;
    this.snapshot = source.snapshot;
    this.#decoder = decoder;
    this.#message = message;
    this.#keyMemo = keyMemo;
  }

  get key(): readonly ColumnValue[] {
    if (this.#keyValues !== undefined) return this.#keyValues;
    const known = this.#key;
    if (known === null) return (this.#keyValues = []);
    // Its names were read while decoding: the same bytes give the same image now.
    const key = isNames(known) ? recordKeyImage(this.#decoder, this.#message, this.#keyMemo)! : known;
    const texts = key.values.texts();
    return (this.#keyValues = key.names.includes(ROUTED_KEY_FIELD) ? texts.filter((_, i) => key.names[i] !== ROUTED_KEY_FIELD) : texts);
  }

  get before(): readonly ColumnValue[] | null {
    return this.beforeValues === null ? null : this.beforeValues.texts();
  }

  get after(): readonly ColumnValue[] | null {
    return this.afterValues === null ? null : this.afterValues.texts();
  }
}

const NO_NAMES: readonly string[] = Object.freeze([]);

function isNames(key: RowImage | readonly string[]): key is readonly string[] {
  return Array.isArray(key);
}

/** The key names array met last (a topic's JSON keys share one: MemberNameHint) and its key columns. */
let lastKeyNames: readonly string[] = NO_NAMES;
let lastKeyColumns: readonly string[] = NO_NAMES;

/** A record key's field names without the routing field ByLogicalTableRouter adds. */
function keyColumnsOf(names: readonly string[]): readonly string[] {
  if (names === lastKeyNames) return lastKeyColumns;
  const columns = names.includes(ROUTED_KEY_FIELD) ? names.filter((name) => name !== ROUTED_KEY_FIELD) : names;
  if (Object.isFrozen(names)) {
    lastKeyNames = names;
    lastKeyColumns = columns;
  }
  return columns;
}

/** Debezium's one-letter ops, by their letter's byte: read without decoding a string per record. */
const OPS: readonly (string | undefined)[] = (() => {
  const ops = new Array<string | undefined>(128);
  for (const op of ['c', 'u', 'd', 'r', 't', 'm']) ops[op.charCodeAt(0)] = op;
  return ops;
})();

/** The `op` whose JSON value spans [start, end). */
function opAt(buf: Buffer, start: number, end: number): string | undefined {
  if (end - start === 3 && buf[start] === 0x22 && buf[start + 2] === 0x22) {
    const op = OPS[buf[start + 1]!];
    if (op !== undefined) return op;
  }
  return stringAt(buf, start, end);
}

function stringAt(buf: Buffer, start: number, end: number): string | undefined {
  return buf[start] === 0x22 ? decodeString(buf, start, end) : undefined;
}

function memberString(buf: Buffer, members: ObjectMembers, name: string): string | undefined {
  const at = members.names.indexOf(name);
  return at < 0 ? undefined : stringAt(buf, members.starts[at]!, members.ends[at]!);
}

/**
 * Reads the facts of a JSON `source` block in one pass over its members, without listing them; its
 * strings are the topic's last record's when their bytes are the same. It returns itself: the
 * facts hold until the next `read`. The records of one source transaction have the same block but
 * for `sequence` and `lsn`: a block whose other bytes are the last block's (compared a segment at a
 * time) keeps the last facts, and only its `lsn` is read.
 */
class SourceReader implements SourceFacts {
  schema: string | undefined;
  table: string | undefined;
  lsn: number | undefined;
  txId: number | undefined;
  tsMs: number | undefined;
  snapshot: DecodedRow['snapshot'];
  /** Just past the block's `}`. */
  end = 0;
  readonly #cursor = new MemberCursor();
  /** The last block read in full, and where its `sequence` and `lsn` values lie in it: `[sequenceAt, sequenceEnd)`, `[lsnAt, lsnEnd)`. */
  #last: Buffer | undefined;
  #sequenceAt = 0;
  #sequenceEnd = 0;
  #lsnAt = 0;
  #lsnEnd = 0;

  read(buf: Buffer, start: number, memo: DocumentMemo): this {
    if (this.#last !== undefined && this.#readLikeLast(buf, start)) return this;
    this.schema = this.table = this.snapshot = undefined;
    this.lsn = this.txId = this.tsMs = undefined;
    let sequenceAt = -1;
    let sequenceEnd = -1;
    let lsnAt = -1;
    let lsnEnd = -1;
    const cursor = this.#cursor;
    cursor.open(buf, start, memo.source);
    while (cursor.next()) {
      const at = cursor.valueStart;
      switch (cursor.name) {
        case 'schema':
          this.schema = memo.sourceSchema.read(buf, at, cursor.skipValue());
          break;
        case 'table':
          this.table = memo.sourceTable.read(buf, at, cursor.skipValue());
          break;
        case 'lsn':
          lsnAt = at;
          lsnEnd = cursor.skipValue();
          this.lsn = integerAt(buf, at, lsnEnd);
          break;
        case 'sequence':
          sequenceAt = at;
          sequenceEnd = cursor.skipValue();
          break;
        case 'txId':
          this.txId = integerAt(buf, at, cursor.skipValue());
          break;
        case 'ts_ms':
          this.tsMs = integerAt(buf, at, cursor.skipValue());
          break;
        case 'snapshot': {
          const mark = memo.sourceSnapshot.read(buf, at, cursor.skipValue());
          this.snapshot = mark === undefined ? undefined : SNAPSHOT_MARKS.get(mark);
          break;
        }
        default:
          cursor.skipValue();
      }
    }
    this.end = cursor.objectEnd;
    // Kept for the next records when `sequence` comes before `lsn` (as Debezium and pgcdc write them).
    if (sequenceAt >= 0 && lsnAt > sequenceEnd) {
      this.#last = Buffer.from(buf.subarray(start, this.end));
      this.#sequenceAt = sequenceAt - start;
      this.#sequenceEnd = sequenceEnd - start;
      this.#lsnAt = lsnAt - start;
      this.#lsnEnd = lsnEnd - start;
    } else {
      this.#last = undefined;
    }
    return this;
  }

  /** Whether the block at `start` is the last one but for its `sequence` and `lsn` values (then read: `lsn`, `end`). */
  #readLikeLast(buf: Buffer, start: number): boolean {
    const last = this.#last!;
    // Up to the sequence's value, the same bytes.
    const sequenceAt = start + this.#sequenceAt;
    if (!sameBytes(buf, start, last, 0, this.#sequenceAt)) return false;
    const sequenceEnd = valueEnd(buf, sequenceAt);
    // From after it up to the lsn's value, the same bytes.
    const lsnAt = sequenceEnd + this.#lsnAt - this.#sequenceEnd;
    if (!sameBytes(buf, sequenceEnd, last, this.#sequenceEnd, this.#lsnAt)) return false;
    const lsnEnd = valueEnd(buf, lsnAt);
    // From after it to the block's end, the same bytes.
    const end = lsnEnd + last.length - this.#lsnEnd;
    if (!sameBytes(buf, lsnEnd, last, this.#lsnEnd, last.length)) return false;
    this.lsn = integerAt(buf, lsnAt, lsnEnd);
    this.end = end;
    return true;
  }
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' || typeof value === 'bigint' ? Number(value) : undefined;
}

function avroSource(source: Record<string, unknown>): SourceFacts {
  return {
    schema: typeof source.schema === 'string' ? source.schema : undefined,
    table: typeof source.table === 'string' ? source.table : undefined,
    lsn: optionalNumber(source.lsn),
    txId: optionalNumber(source.txId),
    tsMs: optionalNumber(source.ts_ms),
    snapshot: typeof source.snapshot === 'string' ? SNAPSHOT_MARKS.get(source.snapshot) : undefined,
  };
}

/** The Avro datum of a framed key or value. */
function avroDatum(message: KafkaMessage, schema: WriterSchema, bytes: Buffer, role: 'key' | 'value'): unknown {
  try {
    return decodeDatum(schema, bytes);
  } catch (error) {
    throw new NotAChangeEvent(`${describeRecord(message)} has a ${role} that does not decode with its Avro writer schema ${schema.id} (${(error as Error).message}): check that the topic was written with this schema registry`);
  }
}

/** A scan error as the NotAChangeEvent it means; other errors as they are. */
function notAChangeEventOf(message: KafkaMessage, error: unknown): unknown {
  if (!(error instanceof JsonScanError || error instanceof SyntaxError)) return error;
  return new NotAChangeEvent(`${describeRecord(message)} is not valid JSON (${error.message}): the Kafka source reads JsonConverter or Avro change events; leave other topics out of its topic list`);
}

/** `the record at <topic>[<partition>]@<offset>`, for reasons. */
function describeRecord(message: KafkaMessage): string {
  return `the record at ${message.topic}[${message.partition}]@${message.offset}`;
}
