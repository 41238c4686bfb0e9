/**
 * Turns a batch of stream events into records as Debezium on Kafka Connect writes them (and as
 * Debezium Server hands them to its sinks: the Kafka target and the message-broker targets share
 * them, a record's `topic` being its destination: a subject, stream key or routing key): the
 * change event (Debezium's JSON encoder, one record per event, with Debezium's own choices where
 * pgcdc's other targets differ) as the value, the row key as the key, on `<prefix>.<schema>.<table>`
 * (or a routing rule's topic), tombstones after deletes, truncates, logical messages on
 * `<prefix>.message`, schema changes on `<prefix>` keyed by `{"databaseName"}` (as Debezium's
 * schema change topic), transaction BEGIN/END on the transaction topic, Debezium's headers; with
 * JsonConverter's `{"schema","payload"}` envelope when schemas are enabled. Values are slices of
 * the batch's writer (no copy per record); partitions are chosen later, from the key.
 */
import { randomUUID } from 'node:crypto';
import type { ChangeRecordSettings } from '../../config/stream-config.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import { DebeziumJsonEncoder, type DebeziumEncoderOptions, transactionEndId, transactionId } from '../../events/debezium-json-encoder.js';
import type { RowEvent, StreamEvent, TableInfo, TransactionInfo } from '../../events/stream-event.js';
import { writeKeyJson } from '../../events/tuple-json.js';
import {
  keySchemaJson,
  MESSAGE_KEY_SCHEMA,
  MESSAGE_VALUE_SCHEMA,
  ROUTED_KEY_FIELD,
  SCHEMA_CHANGE_KEY_SCHEMA,
  SCHEMA_CHANGE_VALUE_SCHEMA,
  TRANSACTION_KEY_SCHEMA,
  TRANSACTION_VALUE_SCHEMA,
  valueSchemaJson,
} from './connect-schema.js';

/** One record to send. */
export interface ChangeRecord {
  /** The destination: Kafka topic, NATS subject, Redis stream key, RabbitMQ routing key. */
  readonly topic: string;
  readonly key: Buffer | null;
  /** Null for a tombstone. */
  readonly value: Buffer | null;
  /** Kafka's partition: -1 until set from the key once the topic's partition count is known. */
  partition: number;
  /**
   * Debezium's headers of the record (change events and their tombstones): `__debezium.oldkey` /
   * `__debezium.newkey` of a primary-key change, then the `__debezium.context.*` headers of
   * Debezium's `extended.headers.enabled` (default true). Undefined for other records.
   */
  readonly headers?: ReadonlyMap<Buffer, Buffer>;
  /**
   * The record's operation as the encoder named it (`c`, `u`, `d`, `r`, `t`, `m`, `BEGIN`, `END`;
   * a tombstone keeps its delete's `d`) and the event it comes from; undefined for records not
   * built from an event (Kafka's offsets and heartbeats).
   */
  readonly op?: string;
  readonly event?: StreamEvent;
}

/** A table's destination (before routing rules), e.g. from a subject template. */
export type TableDestination = (schema: string, table: string) => string;

/** Where a table's records go, and the pre-encoded pieces of its keys and values. */
interface TableRoute {
  readonly topic: string;
  /** `{"schema":…,"payload":` before keys and values (schemas enabled), else empty. */
  readonly keyOpen: string;
  readonly valueOpen: string;
  /** `,"__dbz__physicalTableIdentifier":"…"}` closing keys of a routed table, else undefined. */
  readonly routedKeyEnd: Buffer | undefined;
}

type EncoderSettings = Pick<DebeziumEncoderOptions, 'serverName' | 'database' | 'version' | 'transactionMetadata' | 'skippedOperations'>;

/** The record being written: its value is everything written since it opened. */
interface OpenRecord {
  readonly op: string;
  readonly event: StreamEvent;
  readonly topic: string;
  readonly key: Buffer | null;
  /** A tombstone follows (a delete, with tombstones on). */
  readonly tombstone: boolean;
  readonly headers?: ReadonlyMap<Buffer, Buffer>;
}

const OLD_KEY_HEADER = Buffer.from('__debezium.oldkey');
const NEW_KEY_HEADER = Buffer.from('__debezium.newkey');

/**
 * Debezium's context headers (`extended.headers.enabled`): the logical name (the topic prefix), the
 * task (0), the connector (postgresql), and an id of this run.
 */
function contextHeaders(topicPrefix: string): Map<Buffer, Buffer> {
  return new Map(
    [
      ['__debezium.context.connectorLogicalName', topicPrefix],
      ['__debezium.context.taskId', '0'],
      ['__debezium.context.connectorName', 'postgresql'],
      ['__debezium.context.runId', randomUUID()],
    ].map(([name, value]) => [Buffer.from(name!), Buffer.from(value!)]),
  );
}

export class ChangeRecordBuilder {
  readonly #config: ChangeRecordSettings;
  readonly #encoder: DebeziumJsonEncoder;
  readonly #tombstones: boolean;
  readonly #routes = new WeakMap<TableInfo, TableRoute>();
  readonly #keys = new JsonWriter(64 * 1024);
  readonly #schemas: boolean;
  readonly #messageTopic: string;
  /** `source.db` as JSON, the key of schema-change records. */
  readonly #databaseJson: string;
  /** Undefined unless `extendedHeaders`. */
  readonly #contextHeaders: ReadonlyMap<Buffer, Buffer> | undefined;
  #records: ChangeRecord[] = [];
  #open: OpenRecord | undefined;

  /** The destination of a table's records when not `<prefix>.<schema>.<table>` (a broker target's template). */
  readonly #tableDestination: TableDestination | undefined;

  constructor(config: ChangeRecordSettings, encoder: EncoderSettings, tombstonesOnDelete: boolean, tableDestination?: TableDestination) {
    this.#config = config;
    this.#tableDestination = tableDestination;
    this.#schemas = config.schemasEnable;
    this.#tombstones = tombstonesOnDelete;
    this.#messageTopic = `${config.topicPrefix}.message`;
    this.#databaseJson = JSON.stringify(encoder.database);
    this.#contextHeaders = config.extendedHeaders ? contextHeaders(config.topicPrefix) : undefined;
    this.#encoder = new DebeziumJsonEncoder({
      ...encoder,
      // Debezium's `source.name` is the logical server name, which is the topic prefix.
      serverName: config.topicPrefix,
      format: 'value',
      tombstonesOnDelete: false,
      // Debezium's records exactly: no unchanged TOAST list, key-only old rows with every column
      // (the others null), each record's transaction id with its own LSN, and END's collections
      // in the order of Debezium's HashMap.
      unchangedToastColumns: false,
      keyOnlyRowsInFull: true,
      transactionIds: 'operation',
      collectionOrder: 'java-hash-map',
      framing: { open: (w, op, event) => this.#openRecord(w, op, event), close: this.#schemas ? '}' : '' },
    });
  }

  /**
   * The records of `events`, their values written into `w` (which must not be recycled before the
   * records are delivered); `nowMs` is the events' processing time.
   */
  build(events: readonly StreamEvent[], w: JsonWriter, nowMs = Date.now()): ChangeRecord[] {
    this.#records = [];
    this.#encoder.encode(events, w, nowMs);
    this.#finishRecord(w);
    return this.#records;
  }

  /** Closes the record before (its value is all written) and starts one for `event`. */
  #openRecord(w: JsonWriter, op: string, event: StreamEvent): void {
    this.#finishRecord(w);
    if (op === 'BEGIN' || op === 'END') {
      const txn = (event as { readonly txn: TransactionInfo }).txn;
      const id = `{"id":"${event.kind === 'commit' ? transactionEndId(txn, event.endLsn, 'operation') : transactionId(txn)}"}`;
      this.#open = { op, event, topic: this.#config.transactionTopic, key: this.#fixedKey(TRANSACTION_KEY_SCHEMA, id), tombstone: false };
      if (this.#schemas) w.raw(`{"schema":${TRANSACTION_VALUE_SCHEMA},"payload":`);
      return;
    }
    if (event.kind === 'message') {
      this.#open = { op, event, topic: this.#messageTopic, key: this.#fixedKey(MESSAGE_KEY_SCHEMA, `{"prefix":${JSON.stringify(event.prefix)}}`), tombstone: false };
      if (this.#schemas) w.raw(`{"schema":${MESSAGE_VALUE_SCHEMA},"payload":`);
      return;
    }
    if (event.kind === 'schema') {
      const key = this.#fixedKey(SCHEMA_CHANGE_KEY_SCHEMA, `{"databaseName":${this.#databaseJson}}`);
      this.#open = { op, event, topic: this.#config.topicPrefix, key, tombstone: false, ...(this.#contextHeaders ? { headers: this.#contextHeaders } : {}) };
      if (this.#schemas) w.raw(`{"schema":${SCHEMA_CHANGE_VALUE_SCHEMA},"payload":`);
      return;
    }
    const table = (event as RowEvent).table;
    const route = this.#route(table);
    let key: Buffer | null = null;
    let headers = this.#contextHeaders;
    if (event.kind === 'row') {
      const changedKey = event.op === 'u' && op !== 'u';
      const before = changedKey && op === 'c' ? null : event.before;
      const after = changedKey && op === 'd' ? null : event.after;
      key = this.#rowKey(route, table, after ?? before, before);
      if (changedKey) {
        // The delete names the new key, the create the old one (the key's payload as JSON).
        const other = op === 'd' ? this.#keyPayload(table, event.after, event.before) : this.#keyPayload(table, event.before, null);
        headers = new Map([[op === 'd' ? NEW_KEY_HEADER : OLD_KEY_HEADER, other], ...(this.#contextHeaders ?? [])]);
      }
    }
    // A transform function may have sent the event elsewhere (spec.transform, docs/transforms.md).
    const topic = event.kind === 'row' && event.destination !== undefined ? event.destination : route.topic;
    this.#open = { op, event, topic, key, tombstone: op === 'd' && this.#tombstones, headers };
    w.raw(route.valueOpen);
  }

  #finishRecord(w: JsonWriter): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    const chunks = w.take();
    const value = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const headers = open.headers === undefined ? {} : { headers: open.headers };
    this.#records.push({ topic: open.topic, key: open.key, value, partition: -1, ...headers, op: open.op, event: open.event });
    if (open.tombstone) this.#records.push({ topic: open.topic, key: open.key, value: null, partition: -1, ...headers, op: open.op, event: open.event });
  }

  #rowKey(route: TableRoute, table: TableInfo, tuple: RowEvent['after'], old: RowEvent['before']): Buffer | null {
    if (table.keyColumns.length === 0 || tuple === null) return null;
    const k = this.#keys;
    k.raw(route.keyOpen);
    writeKeyJson(k, table, tuple, old);
    if (this.#schemas) k.raw('}');
    const key = k.takeCopy();
    if (route.routedKeyEnd === undefined) return key;
    // `{…}` (or `{"schema":…,"payload":{…}}`) with the physical table identifier added to the payload.
    const end = key.length - (this.#schemas ? 2 : 1);
    return Buffer.concat([key.subarray(0, end), route.routedKeyEnd, key.subarray(end)]);
  }

  /** The payload of a row's key alone, as JSON (a header's value). */
  #keyPayload(table: TableInfo, tuple: RowEvent['after'], old: RowEvent['before']): Buffer {
    writeKeyJson(this.#keys, table, tuple, old);
    return this.#keys.takeCopy();
  }

  /** A key of fixed payload (transaction id, message prefix), with its schema when enabled. */
  #fixedKey(schema: string, payload: string): Buffer {
    return Buffer.from(this.#schemas ? `{"schema":${schema},"payload":${payload}}` : payload, 'utf8');
  }

  #route(table: TableInfo): TableRoute {
    let route = this.#routes.get(table);
    if (route === undefined) {
      const physical = this.#tableDestination?.(table.schema, table.table) ?? `${this.#config.topicPrefix}.${table.schema}.${table.table}`;
      const routed = routeTopic(this.#config, table.schema, table.table);
      const topic = routed ?? physical;
      const keySchema = keySchemaJson(table, topic, routed !== undefined);
      route = {
        topic,
        keyOpen: this.#schemas && keySchema !== null ? `{"schema":${keySchema},"payload":` : '',
        valueOpen: this.#schemas ? `{"schema":${valueSchemaJson(table, topic)},"payload":` : '',
        routedKeyEnd: routed === undefined ? undefined : Buffer.from(`,"${ROUTED_KEY_FIELD}":${JSON.stringify(physical)}`, 'utf8'),
      };
      this.#routes.set(table, route);
    }
    return route;
  }
}

/** The topic a routing rule gives `schema.table` (groups substituted), or undefined. */
export function routeTopic(config: Pick<ChangeRecordSettings, 'topicRouting'>, schema: string, table: string): string | undefined {
  const name = `${schema}.${table}`;
  for (const rule of config.topicRouting) {
    const match = new RegExp(`^(?:${rule.regex})$`).exec(name);
    if (match) return rule.topic.replace(/\$(\d+)/g, (_, group: string) => match[Number(group)] ?? '');
  }
  return undefined;
}
