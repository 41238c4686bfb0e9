/**
 * Debezium Server's `application.properties` turned into a native stream: `debezium.source.*` is
 * the PostgreSQL connector's configuration (converted by connector-config), `debezium.sink.type`
 * picks the target (`kafka`: the Kafka target with the producer's brokers and the producer keys
 * pgcdc has; `http`: the CloudEvent target in binary mode, which POSTs each change event's JSON as
 * the body, as Debezium Server's HTTP sink does), `debezium.format.*` must be JSON, and
 * `debezium.transforms.*`/`debezium.predicates.*` are the connector's transforms. Keys that do not
 * apply (offset storage, Quarkus, other sinks' keys) are named in the one warning; every problem
 * is one line naming its key.
 */
import { connectorStreamDocument, type ConnectorConversion } from './connector-config.js';
import type { PropertyEntry } from './connector-properties.js';
import { nearestName } from './nearest-name.js';

const SINK_TYPES = ['kafka', 'http'] as const;
/** Debezium Server's other sinks, named when one is asked for. */
const OTHER_SINKS = ['kinesis', 'pubsub', 'pulsar', 'eventhubs', 'redis', 'nats-streaming', 'nats-jetstream', 'pravega', 'infinispan', 'rocketmq', 'rabbitmq', 'qdrant', 'milvus', 'sqs', 'instructlab'];

/** Producer keys of `debezium.sink.kafka.producer.*` and the Kafka target setting each sets. */
const PRODUCER_SETTINGS: Readonly<Record<string, (value: string) => [string, unknown] | string>> = {
  'client.id': (value) => ['clientId', value],
  acks: (value) => (['all', '-1', '1'].includes(value) ? ['acks', value === '-1' ? 'all' : value] : `acks is ${value}; pgcdc writes with acks all (or -1) or 1`),
  'compression.type': (value) => ['compression', value],
  'linger.ms': (value) => (/^\d+$/.test(value) ? ['linger', `${value}ms`] : `linger.ms is ${value}, not a number of milliseconds`),
  'request.timeout.ms': (value) => (/^\d+$/.test(value) ? ['requestTimeout', `${value}ms`] : `request.timeout.ms is ${value}, not a number of milliseconds`),
  'max.request.size': (value) => (/^\d+$/.test(value) ? ['maxRequestSize', Number(value)] : `max.request.size is ${value}, not a number of bytes`),
};
/** Producer keys that pgcdc's own producer settles itself. */
const PRODUCER_NOT_APPLIED: Readonly<Record<string, string>> = {
  'key.serializer': 'pgcdc writes keys as JSON text',
  'value.serializer': 'pgcdc writes values as JSON text',
};

/** `debezium.sink.http.*` keys and the CloudEvent target's http setting each sets. */
const HTTP_SETTINGS: Readonly<Record<string, (value: string) => [string, unknown] | string>> = {
  url: (value) => ['url', value],
  'timeout.ms': (value) => (/^\d+$/.test(value) ? ['readTimeout', `${value}ms`] : `timeout.ms is ${value}, not a number of milliseconds`),
  retries: (value) => (/^\d+$/.test(value) ? ['retryLimit', Number(value)] : `retries is ${value}, not a number`),
};
const HTTP_NOT_APPLIED: Readonly<Record<string, string>> = {
  'retry.interval.ms': 'pgcdc waits longer after each failed attempt (retryBackoffDelay)',
  'headers.prefix': 'pgcdc sends the event attributes as ce- headers',
  'headers.encode.base64': 'pgcdc sends the event attributes as ce- headers',
};

/** Keys of the source that are Debezium Server's machinery rather than the connector's. */
const SOURCE_NOT_APPLIED: readonly [RegExp, string][] = [
  [/^offset\.storage(\..+)?$/, 'pgcdc keeps its position in the replication slot and pgcdc.stream_state'],
  [/^offset\.flush\.interval\.ms$/, 'pgcdc confirms positions as the target makes them durable'],
  [/^offset\.flush\.timeout\.ms$/, 'pgcdc confirms positions as the target makes them durable'],
  [/^schema\.history\.internal(\..+)?$/, 'the PostgreSQL connector keeps no schema history'],
];

export interface DebeziumServerConversion {
  readonly conversion?: ConnectorConversion;
  /** Problems of the Debezium Server keys themselves, one line each. */
  readonly problems: readonly string[];
}

/** Whether a .properties text's keys are a Debezium Server configuration. */
export function isDebeziumServerProperties(entries: ReadonlyMap<string, PropertyEntry>): boolean {
  return [...entries.keys()].some((key) => key.startsWith('debezium.source.') || key.startsWith('debezium.sink.'));
}

/**
 * The stream of a Debezium Server configuration. The stream is named `debezium.source.name`, or
 * else after `topic.prefix` (lower case, other characters than letters, digits and `-` as `-`),
 * so that `source.name` of the events is the prefix, as Debezium Server writes it.
 *
 * @example
 * debeziumServerStream(readPropertiesText(text).entries, { kafkaBootstrapServers: undefined });
 */
export function debeziumServerStream(entries: ReadonlyMap<string, PropertyEntry>): DebeziumServerConversion {
  const problems: string[] = [];
  const notApplied: string[] = [];
  const source: Record<string, string> = {};
  const producer: Record<string, unknown> = {};
  const http: Record<string, unknown> = {};
  const sinkKeys: [string, string][] = [];
  const value = (key: string): string | undefined => entries.get(key)?.value.trim();
  const sinkType = value('debezium.sink.type');
  if (sinkType === undefined) problems.push(`debezium.sink.type is missing; set it to ${SINK_TYPES.join(' or ')}`);
  else if (!(SINK_TYPES as readonly string[]).includes(sinkType)) {
    const known = OTHER_SINKS.includes(sinkType) ? `Debezium Server's ${sinkType} sink is not supported by pgcdc` : `debezium.sink.type is ${sinkType}, not a sink pgcdc knows`;
    problems.push(`${known}; pgcdc runs the ${SINK_TYPES.join(' and ')} sinks (debezium.sink.type=kafka or http), or write a native stream for its other targets`);
  }

  for (const [key, entry] of entries) {
    const text = entry.value.trim();
    if (key.startsWith('quarkus.')) notApplied.push(`${key} (Quarkus runs no part of pgcdc)`);
    else if (key.startsWith('debezium.source.')) {
      const property = key.slice('debezium.source.'.length);
      const machinery = SOURCE_NOT_APPLIED.find(([pattern]) => pattern.test(property));
      if (machinery !== undefined) notApplied.push(`${key} (${machinery[1]})`);
      else source[property] = entry.value;
    } else if (key.startsWith('debezium.transforms') || key.startsWith('debezium.predicates')) {
      source[key.slice('debezium.'.length)] = entry.value;
    } else if (key === 'debezium.sink.type') continue;
    else if (key.startsWith('debezium.sink.')) sinkKeys.push([key, text]);
    else if (key === 'debezium.format.value' || key === 'debezium.format.key') {
      if (text !== 'json') problems.push(`${key} is ${text}; pgcdc writes Debezium's JSON only: set ${key}=json or remove it`);
    } else if (key === 'debezium.format.value.schemas.enable' || key === 'debezium.format.key.schemas.enable') {
      source[`${key.slice('debezium.format.'.length, -'.schemas.enable'.length)}.converter.schemas.enable`] = text;
    } else if (key.startsWith('debezium.format.')) notApplied.push(`${key} (a JSON format option pgcdc does not have)`);
    else {
      const near = nearestName(key, ['debezium.sink.type', 'debezium.format.value', 'debezium.format.key', 'debezium.source.connector.class']);
      problems.push(`${key} is not a Debezium Server key pgcdc knows${near === undefined ? '' : `; did you mean ${near}?`}`);
    }
  }

  for (const [key, text] of sinkKeys) {
    const [, type, ...rest] = key.split('.').slice(1);
    const setting = rest.join('.');
    if (type !== sinkType) {
      notApplied.push(`${key} (debezium.sink.type is ${sinkType ?? 'not set'})`);
    } else if (type === 'kafka' && setting.startsWith('producer.')) {
      const producerKey = setting.slice('producer.'.length);
      if (producerKey === 'bootstrap.servers') continue;
      const map = PRODUCER_SETTINGS[producerKey];
      const mapped = map?.(text);
      if (typeof mapped === 'string') problems.push(`${key}: ${mapped}`);
      else if (mapped !== undefined) producer[mapped[0]] = mapped[1];
      else notApplied.push(`${key} (${PRODUCER_NOT_APPLIED[producerKey] ?? 'a producer setting pgcdc does not have'})`);
    } else if (type === 'http' && HTTP_SETTINGS[setting] !== undefined) {
      const mapped = HTTP_SETTINGS[setting]!(text);
      if (typeof mapped === 'string') problems.push(`${key}: ${mapped}`);
      else http[mapped[0]] = mapped[1];
    } else if (type === 'http' && HTTP_NOT_APPLIED[setting] !== undefined) notApplied.push(`${key} (${HTTP_NOT_APPLIED[setting]})`);
    else if (type === 'http' && setting.startsWith('authentication.')) {
      problems.push(`${key}: the HTTP sink's authentication (JWT) is not supported by pgcdc; send a fixed token with a native CloudEvent stream's http.headers instead`);
    } else {
      const known = type === 'kafka' ? ['debezium.sink.kafka.producer.bootstrap.servers'] : Object.keys(HTTP_SETTINGS).map((name) => `debezium.sink.http.${name}`);
      const near = nearestName(key, known);
      problems.push(`${key} is not a key of Debezium Server's ${type} sink pgcdc knows${near === undefined ? '' : `; did you mean ${near}?`}`);
    }
  }

  const brokers = value('debezium.sink.kafka.producer.bootstrap.servers');
  if (sinkType === 'kafka' && (brokers === undefined || brokers === '')) problems.push('debezium.sink.kafka.producer.bootstrap.servers is missing; set it to the brokers (host:port,...)');
  if (sinkType === 'http' && http.url === undefined) problems.push('debezium.sink.http.url is missing; set it to the URL the change events are POSTed to');
  if (source['connector.class'] === undefined) problems.push('debezium.source.connector.class is missing; set it to io.debezium.connector.postgresql.PostgresConnector');
  // Debezium's value representations are the Kafka target's; the HTTP target posts to_jsonb's values.
  for (const property of ['decimal.handling.mode', 'time.precision.mode', 'binary.handling.mode', 'interval.handling.mode', 'hstore.handling.mode', 'money.fraction.digits']) {
    // hstore's map is to_jsonb's object.
    if (sinkType === 'http' && source[property] !== undefined && !(property === 'hstore.handling.mode' && source[property] === 'map')) {
      problems.push(`debezium.source.${property} is set, but with the http sink pgcdc writes values as PostgreSQL's to_jsonb does (Debezium's representations are written to Kafka only): remove it`);
    }
  }
  if (problems.length > 0) return { problems };

  if (sinkType === 'http' && source['value.converter.schemas.enable'] !== 'false') {
    notApplied.push('debezium.format.value.schemas.enable (the HTTP target posts the change event without the JsonConverter schema envelope, as with schemas.enable=false)');
    delete source['value.converter.schemas.enable'];
    delete source['key.converter.schemas.enable'];
  }
  const prefix = source['topic.prefix'] ?? source['database.server.name'] ?? 'debezium';
  const name = (source.name ?? prefix).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'debezium';
  delete source.name;
  // The connector's conversion builds the source and a Kafka target; an http sink's target replaces it.
  const conversion = connectorStreamDocument(name, source, { kafkaBootstrapServers: sinkType === 'kafka' ? brokers : 'http-sink:9092', notApplied });
  const document = conversion.document as { spec: { target: Record<string, unknown> } } | undefined;
  if (document !== undefined && sinkType === 'kafka') Object.assign(document.spec.target.kafka as Record<string, unknown>, producer);
  if (document !== undefined && sinkType === 'http') document.spec.target = { type: 'CloudEvent', cloudEvent: { mode: 'binary', http } };
  return { conversion, problems };
}
