/**
 * Kafka Connect connector configurations of the Debezium PostgreSQL connector (`{"name", "config":
 * {"connector.class": …, "database.hostname": …}}`, what `POST /connectors` receives and what a
 * `register-postgres.json` holds) turned into a native `pgcdc/v1 Stream` document with a Kafka
 * target. Debezium's own properties go through `debeziumProperties` (debezium-properties.ts: the
 * one mapping); Connect's connection, filter, prefix and converter keys are mapped here. Every
 * problem names the connector property it is about.
 */
import { nearestName } from './nearest-name.js';
import { debeziumPropertiesShape } from './debezium-properties.js';
import { NATIVE_API_VERSION, NATIVE_KIND } from './native-stream-schema.js';

export const POSTGRES_CONNECTOR_CLASS = 'io.debezium.connector.postgresql.PostgresConnector';
const JSON_CONVERTER = 'org.apache.kafka.connect.json.JsonConverter';
const AVRO_CONVERTERS: readonly string[] = ['io.confluent.connect.avro.AvroConverter', 'io.apicurio.registry.utils.converter.AvroConverter'];

/** A connector as Kafka Connect's REST API takes it; values are strings (numbers and booleans pass). */
export interface ConnectorDocument {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** One problem of a connector configuration, about one property. */
export interface ConnectorProblem {
  readonly property: string;
  readonly message: string;
}

export interface ConnectorConversion {
  /** The native Stream document, when there was no problem. */
  readonly document?: Record<string, unknown>;
  readonly problems: readonly ConnectorProblem[];
  /** One warning listing the properties that do not apply (none when every one does). */
  readonly warnings: readonly string[];
}

export interface ConnectorConversionOptions {
  /** The worker's brokers (`pgcdc serve --kafka-bootstrap-servers`). */
  readonly kafkaBootstrapServers?: string;
}

/** Connect's and Debezium's keys mapped here rather than through debeziumProperties. */
const CONNECT_KEYS = [
  'name',
  'connector.class',
  'database.hostname',
  'database.port',
  'database.user',
  'database.password',
  'database.dbname',
  'database.sslmode',
  'database.sslrootcert',
  'database.sslcert',
  'database.sslkey',
  'database.server.name',
  'topic.prefix',
  'table.include.list',
  'table.exclude.list',
  'schema.include.list',
  'schema.exclude.list',
  'column.exclude.list',
  'key.converter',
  'value.converter',
  'key.converter.schemas.enable',
  'value.converter.schemas.enable',
] as const;

/** Worker-side keys pgcdc accepts and does not apply (one warning names them). */
const NOT_APPLIED_KEYS: Readonly<Record<string, string>> = {
  'tasks.max': 'one task reads a slot, whatever the number',
  'errors.log.enable': 'pgcdc logs every failure',
  'errors.log.include.messages': 'pgcdc logs every failure',
  'header.converter': 'pgcdc writes its headers as strings',
};

/** Debezium's property name (`slot.name`) of a debeziumProperties key (`slotName`). */
function dotted(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1.$2').toLowerCase();
}

const DEBEZIUM_KEYS: ReadonlyMap<string, keyof typeof debeziumPropertiesShape> = new Map(
  (Object.keys(debeziumPropertiesShape) as (keyof typeof debeziumPropertiesShape)[]).map((key) => [dotted(key), key]),
);
const KNOWN_KEYS: readonly string[] = [...CONNECT_KEYS, ...Object.keys(NOT_APPLIED_KEYS), ...DEBEZIUM_KEYS.keys()];

/** Debezium's lists separated by `;` rather than `,`. */
const SEMICOLON_LISTS: ReadonlySet<string> = new Set(['messageKeyColumns', 'databaseInitialStatements']);

/** The connector document of a file's or body's text, or undefined when it is not one. */
export function readConnectorDocument(text: string): ConnectorDocument | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isConnectorDocument(value) ? value : undefined;
}

export function isConnectorDocument(value: unknown): value is ConnectorDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { name, config, apiVersion, kind } = value as Record<string, unknown>;
  return apiVersion === undefined && kind === undefined && typeof name === 'string' && typeof config === 'object' && config !== null && !Array.isArray(config);
}

/** Whether `value` is a configuration map of string-like values (what Connect accepts). */
export function isConnectorConfigMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => ['string', 'number', 'boolean'].includes(typeof v));
}

const text = (value: unknown): string | undefined => (value === undefined || value === null ? undefined : String(value));
const list = (value: string | undefined, separator = ','): string[] => (value === undefined ? [] : value.split(separator).map((part) => part.trim()).filter(Boolean));
/** A string a native document keeps literally (its `${` is not an environment reference). */
const literal = (value: string): string => value.replaceAll('${', '$${');

/**
 * The native Stream document of connector `name`'s configuration, or the problems that prevent it.
 *
 * @example
 * connectorStreamDocument('inventory', { 'connector.class': POSTGRES_CONNECTOR_CLASS, 'database.hostname': 'db', … }, { kafkaBootstrapServers: 'kafka:9092' });
 */
export function connectorStreamDocument(name: string, config: Readonly<Record<string, unknown>>, options: ConnectorConversionOptions): ConnectorConversion {
  const problems: ConnectorProblem[] = [];
  const notApplied: string[] = [];
  const problem = (property: string, message: string): void => void problems.push({ property, message });
  const get = (key: string): string | undefined => text(config[key]);
  const debeziumProperties: Record<string, unknown> = {};

  for (const [key, value] of Object.entries(config)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      problem(key, `${key} is ${JSON.stringify(value)}; Kafka Connect configuration values are strings`);
      continue;
    }
    if ((CONNECT_KEYS as readonly string[]).includes(key) || (key === 'tasks.max' && String(value) === '1')) continue;
    if (key === 'column.include.list') {
      problem(key, 'column.include.list is not supported for connectors; list the columns to leave out in column.exclude.list');
      continue;
    }
    if (NOT_APPLIED_KEYS[key] !== undefined) {
      notApplied.push(`${key} (${NOT_APPLIED_KEYS[key]})`);
      continue;
    }
    const camel = DEBEZIUM_KEYS.get(key);
    if (camel === undefined) {
      const near = nearestName(key, KNOWN_KEYS);
      problem(key, `${key} is not a property of the Debezium PostgreSQL connector pgcdc knows${near === undefined ? '' : `; did you mean ${near}?`}`);
      continue;
    }
    debeziumProperties[camel] = typedValue(camel, String(value));
  }

  if (get('name') !== undefined && get('name') !== name) problem('name', `name is ${get('name')}, but the connector is ${name}; remove name from the config or make it the same`);
  const connectorClass = get('connector.class');
  if (connectorClass === undefined) problem('connector.class', `connector.class is missing; set it to ${POSTGRES_CONNECTOR_CLASS}`);
  else if (connectorClass !== POSTGRES_CONNECTOR_CLASS && connectorClass !== 'PostgresConnector') {
    problem('connector.class', `connector.class is ${connectorClass}; pgcdc runs only ${POSTGRES_CONNECTOR_CLASS}`);
  }
  for (const key of ['database.hostname', 'database.user', 'database.dbname']) if (get(key) === undefined) problem(key, `${key} is missing; the connector needs it to reach the database`);
  const port = get('database.port') ?? '5432';
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) problem('database.port', `database.port is ${port}, not a port number`);
  const topicPrefix = get('topic.prefix') ?? get('database.server.name');
  if (topicPrefix === undefined) problem('topic.prefix', 'topic.prefix is missing: it names the topics (<topic.prefix>.<schema>.<table>); set it (or the older database.server.name)');
  const schemasEnable = converterSchemas(get, problem, notApplied);
  if (options.kafkaBootstrapServers === undefined || options.kafkaBootstrapServers.trim() === '') {
    problem('connector.class', 'this pgcdc serve has no Kafka brokers to write to: start it with --kafka-bootstrap-servers HOST:PORT (or PGCDC_KAFKA_BOOTSTRAP_SERVERS), as a Connect worker holds bootstrap.servers');
  }

  const warnings = notApplied.length === 0 ? [] : [`connector ${name}: these properties do not apply to pgcdc and are ignored: ${notApplied.join(', ')}`];
  if (problems.length > 0) return { problems, warnings };

  // Debezium's defaults where pgcdc's own differ, so that a connector takes over Debezium's slot.
  debeziumProperties.slotName ??= 'debezium';
  debeziumProperties.publicationName ??= 'dbz_publication';
  debeziumProperties.skippedOperations ??= ['t'];

  const url = connectionUrl(get);
  const schemaIncludes = list(get('schema.include.list')).map((schema) => `(?:${schema})\\.[^.]+`);
  const document = {
    apiVersion: NATIVE_API_VERSION,
    kind: NATIVE_KIND,
    metadata: { name },
    spec: {
      source: {
        type: 'Postgres',
        postgres: {
          url: literal(url),
          includes: [...list(get('table.include.list')), ...(get('table.include.list') === undefined ? schemaIncludes : [])],
          excludes: [...list(get('table.exclude.list')), ...list(get('schema.exclude.list')).map((schema) => `(?:${schema})\\.[^.]+`), ...list(get('column.exclude.list'))],
          debeziumProperties,
        },
      },
      target: {
        type: 'Kafka',
        kafka: { bootstrapServers: options.kafkaBootstrapServers!, topicPrefix: literal(topicPrefix!), schemasEnable },
      },
    },
  };
  return { document, problems, warnings };
}

/** The value of debeziumProperties key `camel` from Connect's text: the first reading its schema accepts. */
function typedValue(camel: keyof typeof debeziumPropertiesShape, value: string): unknown {
  const schema = debeziumPropertiesShape[camel];
  const candidates: unknown[] = [value];
  if (value === 'true' || value === 'false') candidates.push(value === 'true');
  if (/^-?\d+$/.test(value)) candidates.push(Number(value));
  candidates.push(list(value, SEMICOLON_LISTS.has(camel) ? ';' : ','));
  return candidates.find((candidate) => schema.safeParse(candidate).success) ?? value;
}

/** `schemasEnable` of the Kafka target from the converters; JsonConverter only. */
function converterSchemas(get: (key: string) => string | undefined, problem: (property: string, message: string) => void, notApplied: string[]): boolean {
  for (const side of ['key', 'value'] as const) {
    const converter = get(`${side}.converter`);
    if (converter === undefined || converter === JSON_CONVERTER) continue;
    if (AVRO_CONVERTERS.includes(converter)) problem(`${side}.converter`, `${side}.converter is ${converter}: Avro is not supported yet; use ${JSON_CONVERTER}`);
    else problem(`${side}.converter`, `${side}.converter is ${converter}; pgcdc writes only ${JSON_CONVERTER}'s format`);
  }
  const flag = (side: 'key' | 'value'): boolean | undefined => {
    const value = get(`${side}.converter.schemas.enable`);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') {
      problem(`${side}.converter.schemas.enable`, `${side}.converter.schemas.enable is ${value}; expected true or false`);
      return undefined;
    }
    return value === 'true';
  };
  const key = flag('key');
  const value = flag('value');
  if (key !== undefined && value !== undefined && key !== value) {
    problem('key.converter.schemas.enable', 'key.converter.schemas.enable and value.converter.schemas.enable differ; pgcdc writes keys and values with the same setting: make them equal');
  }
  if (key === undefined && value !== undefined) notApplied.push(`key.converter.schemas.enable (keys follow value.converter.schemas.enable=${value})`);
  return value ?? key ?? true;
}

function connectionUrl(get: (key: string) => string | undefined): string {
  const host = get('database.hostname')!;
  const query = new URLSearchParams();
  for (const setting of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey']) {
    const value = get(`database.${setting}`);
    if (value !== undefined) query.set(setting, value);
  }
  const password = get('database.password');
  const user = encodeURIComponent(get('database.user')!) + (password === undefined ? '' : `:${encodeURIComponent(password)}`);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const search = query.size === 0 ? '' : `?${query.toString()}`;
  return `postgres://${user}@${hostPart}:${get('database.port') ?? '5432'}/${encodeURIComponent(get('database.dbname')!)}${search}`;
}

/** The problems as one message, a line each. */
export function connectorProblemText(name: string, problems: readonly ConnectorProblem[]): string {
  return `connector ${name} cannot run: ${problems.map((p) => p.message).join('; ')}`;
}
