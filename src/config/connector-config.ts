/**
 * Kafka Connect connector configurations of the Debezium PostgreSQL connector (`{"name", "config":
 * {"connector.class": …, "database.hostname": …}}`, what `POST /connectors` receives and what a
 * `register-postgres.json` holds) turned into a native `pgcdc/v1 Stream` document with a Kafka
 * target. Debezium's own properties go through `debeziumProperties` (debezium-properties.ts: the
 * one mapping); Connect's connection, filter, prefix and converter keys are mapped here. Every
 * problem names the connector property it is about.
 */
import { connectTransformChain, transformProblemParts } from '../targets/records/connect-transforms.js';
import { BINARY_MODES, DEBEZIUM_DEFAULT_REPRESENTATIONS, DECIMAL_MODES, HSTORE_MODES, INTERVAL_MODES, TIME_MODES, type ValueRepresentations } from '../decoding/values/debezium-representations.js';
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
  /** Keys of the file around the connector (a Debezium Server's, a worker's) that do not apply, with why: named in the one warning. */
  readonly notApplied?: readonly string[];
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
  'column.include.list',
  'key.converter',
  'value.converter',
  'key.converter.schemas.enable',
  'value.converter.schemas.enable',
  // The Avro converters' registry (converterSettings).
  ...(['key', 'value'] as const).flatMap((side) =>
    (['schema.registry.url', 'basic.auth.credentials.source', 'basic.auth.user.info', 'auto.register.schemas', 'apicurio.registry.url', 'apicurio.registry.auto-register'] as const).map((property) => `${side}.converter.${property}` as const),
  ),
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

/** Column rules whose Debezium property names carry a parameter (addColumnRule), never written as dotted(key). */
const COLUMN_RULE_KEYS: Readonly<Record<string, string>> = {
  columnTruncateToLengthChars: 'column.truncate.to.<length>.chars',
  columnMaskWithLengthChars: 'column.mask.with.<length>.chars',
  columnMaskHash: 'column.mask.hash.<algorithm>.with.salt.<salt>',
  columnMaskHashV2: 'column.mask.hash.v2.<algorithm>.with.salt.<salt>',
};

const DEBEZIUM_KEYS: ReadonlyMap<string, keyof typeof debeziumPropertiesShape> = new Map(
  (Object.keys(debeziumPropertiesShape) as (keyof typeof debeziumPropertiesShape)[]).filter((key) => COLUMN_RULE_KEYS[key] === undefined).map((key) => [dotted(key), key]),
);

/** Debezium's properties of value representations, and the key of each in `valueRepresentations`. */
const REPRESENTATION_KEYS: Readonly<Record<string, keyof ValueRepresentations>> = {
  'decimal.handling.mode': 'decimal',
  'time.precision.mode': 'time',
  'binary.handling.mode': 'binary',
  'interval.handling.mode': 'interval',
  'hstore.handling.mode': 'hstore',
  'money.fraction.digits': 'moneyFractionDigits',
};

const REPRESENTATION_MODES: Readonly<Record<Exclude<keyof ValueRepresentations, 'moneyFractionDigits'>, readonly string[]>> = {
  decimal: DECIMAL_MODES,
  time: TIME_MODES,
  binary: BINARY_MODES,
  interval: INTERVAL_MODES,
  hstore: HSTORE_MODES,
};

const KNOWN_KEYS: readonly string[] = [...CONNECT_KEYS, ...Object.keys(REPRESENTATION_KEYS), ...Object.keys(NOT_APPLIED_KEYS), ...DEBEZIUM_KEYS.keys(), ...Object.values(COLUMN_RULE_KEYS)];

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
const literal = (value: string): string => value.replaceAll('${', () => '$${'); // a function: '$$' in a replacement string is one '$'

/**
 * The native Stream document of connector `name`'s configuration, or the problems that prevent it.
 *
 * @example
 * connectorStreamDocument('inventory', { 'connector.class': POSTGRES_CONNECTOR_CLASS, 'database.hostname': 'db', … }, { kafkaBootstrapServers: 'kafka:9092' });
 */
export function connectorStreamDocument(name: string, config: Readonly<Record<string, unknown>>, options: ConnectorConversionOptions): ConnectorConversion {
  const problems: ConnectorProblem[] = [];
  const notApplied: string[] = [...(options.notApplied ?? [])];
  const problem = (property: string, message: string): void => void problems.push({ property, message });
  const get = (key: string): string | undefined => text(config[key]);
  const debeziumProperties: Record<string, unknown> = {};
  /** Connect's transforms and predicates (`transforms`, `transforms.*`, `predicates`, `predicates.*`), as they are. */
  const connectTransforms: Record<string, string> = {};
  /** Debezium's handling modes (`decimal.handling.mode` …), as they are. */
  const representationProperties: Record<string, string> = {};

  for (const [key, value] of Object.entries(config)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      problem(key, `${key} is ${JSON.stringify(value)}; Kafka Connect configuration values are strings`);
      continue;
    }
    if ((CONNECT_KEYS as readonly string[]).includes(key) || (key === 'tasks.max' && String(value) === '1')) continue;
    if (/^(transforms|predicates)(\.|$)/.test(key)) {
      connectTransforms[key] = String(value);
      continue;
    }
    if (NOT_APPLIED_KEYS[key] !== undefined) {
      notApplied.push(`${key} (${NOT_APPLIED_KEYS[key]})`);
      continue;
    }
    if (addColumnRule(debeziumProperties, key, String(value))) continue;
    if (REPRESENTATION_KEYS[key] !== undefined) {
      representationProperties[key] = String(value);
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
  if (get('column.include.list') !== undefined && get('column.exclude.list') !== undefined) {
    problem('column.include.list', 'column.include.list and column.exclude.list are both set; Debezium takes one of them: keep one');
  }
  const { schemasEnable, avro } = converterSettings(get, problem, notApplied);
  if (options.kafkaBootstrapServers === undefined || options.kafkaBootstrapServers.trim() === '') {
    problem('connector.class', 'this pgcdc serve has no Kafka brokers to write to: start it with --kafka-bootstrap-servers HOST:PORT (or PGCDC_KAFKA_BOOTSTRAP_SERVERS), as a Connect worker holds bootstrap.servers');
  }

  const valueRepresentations = connectorValueRepresentations(representationProperties, problem);
  const chain = connectTransformChain(connectTransforms);
  if ('problems' in chain) for (const message of chain.problems) problem(transformProblemParts(message).property, message);

  const warnings = notApplied.length === 0 ? [] : [`connector ${name}: these properties do not apply to pgcdc and are ignored: ${notApplied.join(', ')}`];
  if (problems.length > 0) return { problems, warnings };

  // Debezium's defaults where pgcdc's own differ, so that a connector takes over Debezium's slot.
  debeziumProperties.slotName ??= 'debezium';
  debeziumProperties.publicationName ??= 'dbz_publication';
  debeziumProperties.skippedOperations ??= ['t'];

  const url = connectionUrl(get);
  const document = {
    apiVersion: NATIVE_API_VERSION,
    kind: NATIVE_KIND,
    metadata: { name },
    spec: {
      source: {
        type: 'Postgres',
        postgres: {
          url: literal(url),
          ...capturedNames(get),
          debeziumProperties,
        },
      },
      target: {
        type: 'Kafka',
        kafka: {
          bootstrapServers: options.kafkaBootstrapServers!,
          topicPrefix: literal(topicPrefix!),
          schemasEnable,
          valueRepresentations,
          ...(avro === undefined ? {} : { converter: 'avro', schemaRegistry: { url: literal(avro.url), autoRegister: avro.autoRegister } }),
          ...(Object.keys(connectTransforms).length === 0 ? {} : { connectTransforms: Object.fromEntries(Object.entries(connectTransforms).map(([key, value]) => [key, literal(value)])) }),
        },
      },
    },
  };
  return { document, problems, warnings };
}

/** The Kafka target's valueRepresentations of the connector's handling modes, Debezium's defaults where unset. */
function connectorValueRepresentations(properties: Readonly<Record<string, string>>, problem: (property: string, message: string) => void): ValueRepresentations {
  const representations: Record<string, string | number> = { ...DEBEZIUM_DEFAULT_REPRESENTATIONS };
  for (const [property, value] of Object.entries(properties)) {
    const key = REPRESENTATION_KEYS[property]!;
    if (key === 'moneyFractionDigits') {
      if (/^\d{1,2}$/.test(value.trim())) representations[key] = Number(value.trim());
      else problem(property, `${property} is ${JSON.stringify(value)}, not a number of digits; set it to e.g. 2`);
      continue;
    }
    const modes = REPRESENTATION_MODES[key];
    const mode = value.trim().toLowerCase();
    if (modes.includes(mode)) representations[key] = mode;
    else problem(property, `${property} is ${JSON.stringify(value)}, which pgcdc does not write; set it to one of: ${modes.join(', ')}`);
  }
  return representations as unknown as ValueRepresentations;
}

/**
 * Debezium's column rules whose property names carry a parameter — `column.truncate.to.<length>.chars`,
 * `column.mask.with.<length>.chars`, `column.mask.hash[.v2].<algorithm>.with.salt.<salt>` — added to
 * debeziumProperties (`columnTruncateToLengthChars: ["<length>:<regex>"]`, `columnMaskHash:
 * {<algorithm>: {<salt>: [regex]}}`, …); false when `key` is not one of them. The values are the
 * comma-separated regular expressions over schema.table.column, checked with the stream's settings.
 */
function addColumnRule(properties: Record<string, unknown>, key: string, value: string): boolean {
  const lengthRule = /^column\.(truncate\.to|mask\.with)\.(\d+)\.chars$/.exec(key);
  if (lengthRule !== null) {
    const camel = lengthRule[1] === 'truncate.to' ? 'columnTruncateToLengthChars' : 'columnMaskWithLengthChars';
    properties[camel] = [...((properties[camel] as string[] | undefined) ?? []), ...list(value).map((regex) => `${lengthRule[2]}:${regex}`)];
    return true;
  }
  const hashRule = /^column\.mask\.hash\.(v2\.)?(.+?)\.with\.salt\.(.+)$/.exec(key);
  if (hashRule === null) return false;
  const camel = hashRule[1] === undefined ? 'columnMaskHash' : 'columnMaskHashV2';
  const byAlgorithm = ((properties[camel] as Record<string, Record<string, string[]>> | undefined) ??= {});
  const bySalt = (byAlgorithm[hashRule[2]!] ??= {});
  bySalt[hashRule[3]!] = [...(bySalt[hashRule[3]!] ?? []), ...list(value)];
  return true;
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

/** Connect's converter properties a connector may hold besides `{key,value}.converter` and `*.schemas.enable`. */
const REGISTRY_PROPERTIES = ['schema.registry.url', 'basic.auth.credentials.source', 'basic.auth.user.info', 'auto.register.schemas', 'apicurio.registry.url', 'apicurio.registry.auto-register'] as const;

/**
 * The Kafka target's converter from the connector's converters: JsonConverter (`schemasEnable`), or
 * an AvroConverter (Confluent's or Apicurio's) with its registry: `*.converter.schema.registry.url`
 * (Apicurio: `*.converter.apicurio.registry.url`, its native API mapped to its Confluent-compatible
 * one), basic auth from `*.basic.auth.user.info` (with `basic.auth.credentials.source=USER_INFO`)
 * carried in the URL. `schemas.enable` does not apply to Avro and is ignored, as Connect does.
 */
function converterSettings(
  get: (key: string) => string | undefined,
  problem: (property: string, message: string) => void,
  notApplied: string[],
): { schemasEnable: boolean; avro?: { url: string; autoRegister: boolean } } {
  const converters = (['key', 'value'] as const).map((side) => get(`${side}.converter`) ?? JSON_CONVERTER);
  for (const [index, side] of (['key', 'value'] as const).entries()) {
    const converter = converters[index]!;
    if (converter !== JSON_CONVERTER && !AVRO_CONVERTERS.includes(converter)) {
      problem(`${side}.converter`, `${side}.converter is ${converter}; pgcdc writes ${JSON_CONVERTER}'s format or Avro (${AVRO_CONVERTERS.join(', ')})`);
    }
  }
  const avroSides = (['key', 'value'] as const).filter((_, index) => AVRO_CONVERTERS.includes(converters[index]!));
  if (avroSides.length === 1) {
    problem(`${avroSides[0]}.converter`, `${avroSides[0]}.converter is Avro but the other converter is not; pgcdc writes keys and values with one converter: make key.converter and value.converter the same`);
  }
  if (avroSides.length === 2) return { schemasEnable: true, avro: avroRegistry(get, problem, converters[1]!) };
  for (const side of ['key', 'value'] as const) {
    for (const property of REGISTRY_PROPERTIES) {
      if (get(`${side}.converter.${property}`) !== undefined) notApplied.push(`${side}.converter.${property} (${side}.converter is not Avro)`);
    }
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
  return { schemasEnable: value ?? key ?? true };
}

/** The registry of Avro converters `converter` (value side's class; both sides must name one registry). */
function avroRegistry(get: (key: string) => string | undefined, problem: (property: string, message: string) => void, converter: string): { url: string; autoRegister: boolean } | undefined {
  const apicurio = converter.startsWith('io.apicurio.');
  const urlProperty = apicurio ? 'apicurio.registry.url' : 'schema.registry.url';
  const urls = (['key', 'value'] as const).map((side) => get(`${side}.converter.${urlProperty}`));
  if (urls[1] === undefined || urls[0] === undefined) {
    const side = urls[1] === undefined ? 'value' : 'key';
    problem(`${side}.converter.${urlProperty}`, `${side}.converter.${urlProperty} is missing; the Avro converter needs the schema registry's URL, e.g. ${apicurio ? 'http://apicurio:8080/apis/registry/v2' : 'http://schema-registry:8081'}`);
    return undefined;
  }
  if (urls[0] !== urls[1]) {
    problem(`key.converter.${urlProperty}`, `key.converter.${urlProperty} and value.converter.${urlProperty} differ; pgcdc registers keys and values in one registry: make them equal`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(urls[1]);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    problem(`value.converter.${urlProperty}`, `value.converter.${urlProperty} is ${urls[1]}, not an http(s) URL`);
    return undefined;
  }
  // Apicurio's converter talks to its native API (…/apis/registry/v2 or v3); pgcdc to the Confluent-compatible one beside it.
  if (apicurio) url.pathname = url.pathname.replace(/\/apis\/registry\/v(\d+)\/?$/, (_, version: string) => (version === '2' ? '/apis/ccompat/v6' : '/apis/ccompat/v7'));
  const source = get('value.converter.basic.auth.credentials.source') ?? get('key.converter.basic.auth.credentials.source');
  const userInfo = get('value.converter.basic.auth.user.info') ?? get('key.converter.basic.auth.user.info');
  if (userInfo !== undefined) {
    if (source !== 'USER_INFO') {
      problem('value.converter.basic.auth.credentials.source', `value.converter.basic.auth.credentials.source is ${source ?? 'missing'}; pgcdc reads the registry's credentials from basic.auth.user.info only: set it to USER_INFO`);
      return undefined;
    }
    const colon = userInfo.indexOf(':');
    if (colon < 0) {
      problem('value.converter.basic.auth.user.info', 'value.converter.basic.auth.user.info is not user:password');
      return undefined;
    }
    url.username = encodeURIComponent(userInfo.slice(0, colon));
    url.password = encodeURIComponent(userInfo.slice(colon + 1));
  } else if (source !== undefined && source !== 'USER_INFO' && source !== 'URL') {
    problem('value.converter.basic.auth.credentials.source', `value.converter.basic.auth.credentials.source is ${source}; pgcdc supports USER_INFO (with basic.auth.user.info) or credentials in the URL`);
    return undefined;
  }
  const autoRegister = apicurio ? get('value.converter.apicurio.registry.auto-register') === 'true' : get('value.converter.auto.register.schemas') !== 'false';
  return { url: url.toString().replace(/\/$/, ''), autoRegister };
}

/**
 * The stream's include and exclude patterns (anchored, over `schema.table` and `schema.table.column`)
 * of Debezium's schema, table and column lists. With `column.include.list` the includes are those
 * columns (a table is captured when one of its columns is), and the schemas or tables the other
 * include lists leave out become one exclude of every other `schema.table`.
 */
function capturedNames(get: (key: string) => string | undefined): { includes: string[]; excludes: string[] } {
  const tableList = list(get('table.include.list'));
  const tableIncludes = tableList.length > 0 ? tableList : list(get('schema.include.list')).map((schema) => `(?:${schema})\\.[^.]+`);
  const excludes = [...list(get('table.exclude.list')), ...list(get('schema.exclude.list')).map((schema) => `(?:${schema})\\.[^.]+`), ...list(get('column.exclude.list'))];
  const columnIncludes = list(get('column.include.list'));
  if (columnIncludes.length === 0) return { includes: tableIncludes, excludes };
  const otherTables = tableIncludes.length === 0 ? [] : [`(?!(?:${tableIncludes.join('|')})$)[^.]+\\.[^.]+`];
  return { includes: columnIncludes, excludes: [...excludes, ...otherTables] };
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
