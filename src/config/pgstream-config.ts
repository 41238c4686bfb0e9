/**
 * pgstream's configuration turned into a native stream: its `.env` file of `PGSTREAM_*` variables
 * and its YAML file (`source:`/`target:`/`modifiers:`) say the same things under two spellings;
 * both are read into the environment names, then mapped: the Postgres listener (URL, replication
 * slot, snapshot tables), the Kafka batch writer (one topic for every table, as pgstream writes),
 * the webhook notifier (pgcdc's Webhook target, pgstream's `{"Data": …}` payload), the Postgres
 * batch writer (pgcdc's Postgres target) and the table filters. Known keys pgcdc does not apply are
 * named in one warning; unknown `PGSTREAM_` names and YAML keys are problems with the nearest
 * name; every problem is one line naming its key. The events are Debezium's change events, not
 * pgstream's WAL event JSON (docs/connector-configurations.md).
 */
import { NATIVE_API_VERSION, NATIVE_KIND } from './native-stream-schema.js';
import { nearestName } from './nearest-name.js';

export interface PgstreamConversion {
  readonly document?: Record<string, unknown>;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

/** What the conversion builds from the settings. */
interface Draft {
  readonly source: Record<string, unknown>;
  readonly kafka: Record<string, unknown>;
  readonly webhook: { http: Record<string, unknown>; subscriptionServer: Record<string, unknown>; subscriptionStore: Record<string, unknown>; payload: string };
  readonly postgres: Record<string, unknown>;
  readonly snapshot: { tables?: string[]; excluded?: string[]; mode?: string };
}

type Apply = (value: string, draft: Draft) => string | void;

interface Setting {
  /** The environment variable, when pgstream has one for it. */
  readonly env?: string;
  /** The key's path in the YAML file. */
  readonly yaml?: string;
  /** Maps the value; returns a problem text when the value is wrong. */
  readonly apply?: Apply;
  /** Why the setting is not applied (then `apply` is absent). */
  readonly ignored?: string;
  /** Needs a part of pgcdc it does not have: a problem. */
  readonly unsupported?: string;
}

/** The map under `key` of `parent`, made when missing. */
const section = (parent: Record<string, unknown>, key: string): Record<string, unknown> => (parent[key] ??= {}) as Record<string, unknown>;
const words = (value: string): string[] => value.split(/[\s,]+/).filter(Boolean);
/** A Go duration (`10s`) or, from YAML, milliseconds (`1000`), as a pgcdc duration text. */
const duration = (value: string): string => (/^\d+$/.test(value) ? `${value}ms` : value);
const integer = (key: string, set: (n: number, draft: Draft) => void): Apply => (value, draft) => (/^\d+$/.test(value) ? set(Number(value), draft) : `${key} is ${value}, not a whole number`);
const flag = (key: string, set: (b: boolean, draft: Draft) => void): Apply => (value, draft) => {
  const lower = value.toLowerCase();
  if (!['true', 'false', '1', '0'].includes(lower)) return `${key} is ${value}; expected true or false`;
  set(lower === 'true' || lower === '1', draft);
};

/** pgstream's table pattern (`schema.table`, `table` meaning public, `*` wildcards) as pgcdc's anchored regular expression. */
export function pgstreamTablePattern(pattern: string): string {
  const qualified = pattern.includes('.') ? pattern : `public.${pattern}`;
  return qualified
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*');
}

const KAFKA_IGNORED = 'pgcdc\'s Kafka producer sizes its own batches and queue';
const SEARCH = 'pgcdc has no OpenSearch/Elasticsearch target';
const KAFKA_SOURCE = 'pgcdc reads only PostgreSQL (pgstream\'s Kafka listener is not supported)';

const SETTINGS: readonly Setting[] = [
  { env: 'PGSTREAM_POSTGRES_LISTENER_URL', yaml: 'source.postgres.url', apply: (value, d) => void (d.source.url = value) },
  { env: 'PGSTREAM_POSTGRES_REPLICATION_SLOT_NAME', yaml: 'source.postgres.replication.replication_slot', apply: (value, d) => void (d.source.slotName = value) },
  {
    yaml: 'source.postgres.mode',
    apply: (value, d) => (['replication', 'snapshot', 'snapshot_and_replication'].includes(value) ? void (d.snapshot.mode = value) : `source.postgres.mode is ${value}; expected replication, snapshot or snapshot_and_replication`),
  },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_TABLES', yaml: 'source.postgres.snapshot.tables', apply: (value, d) => void (d.snapshot.tables = words(value)) },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_EXCLUDED_TABLES', yaml: 'source.postgres.snapshot.excluded_tables', apply: (value, d) => void (d.snapshot.excluded = words(value)) },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_WORKERS', yaml: 'source.postgres.snapshot.snapshot_workers', apply: integer('PGSTREAM_POSTGRES_SNAPSHOT_WORKERS', (n, d) => void (d.source.snapshotParallelism = n)) },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_SCHEMA_WORKERS', yaml: 'source.postgres.snapshot.data.schema_workers', ignored: 'pgcdc reads snapshotParallelism chunks at once, whatever the schema' },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_TABLE_WORKERS', yaml: 'source.postgres.snapshot.data.table_workers', ignored: 'pgcdc reads snapshotParallelism chunks at once, whatever the table' },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_BATCH_BYTES', yaml: 'source.postgres.snapshot.data.batch_bytes', ignored: 'pgcdc reads snapshots with COPY in chunks of rows' },
  { yaml: 'source.postgres.snapshot.mode', ignored: 'pgcdc snapshots the data; a Postgres target creates the tables from the source\'s catalogs' },
  ...['USE_SCHEMALOG', 'CLEAN_TARGET_DB', 'INCLUDE_GLOBAL_DB_OBJECTS', 'CREATE_TARGET_DB', 'NO_OWNER', 'NO_PRIVILEGES', 'EXCLUDED_SECURITY_LABELS', 'ROLE', 'ROLES_SNAPSHOT_MODE', 'SCHEMA_DUMP_FILE'].map(
    (name): Setting => ({
      env: `PGSTREAM_POSTGRES_SNAPSHOT_${name}`,
      yaml: name === 'USE_SCHEMALOG' ? 'source.postgres.snapshot.schema.mode' : `source.postgres.snapshot.schema.pgdump_pgrestore.${name === 'EXCLUDED_SECURITY_LABELS' ? 'exclude_security_labels' : name === 'SCHEMA_DUMP_FILE' ? 'dump_file' : name.toLowerCase()}`,
      ignored: 'pgcdc does not run pg_dump/pg_restore; a Postgres target creates the tables from the source\'s catalogs',
    }),
  ),
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_STORE_URL', yaml: 'source.postgres.snapshot.recorder.postgres_url', ignored: 'pgcdc keeps its snapshot progress in pgcdc.stream_state on the source' },
  { env: 'PGSTREAM_POSTGRES_SNAPSHOT_STORE_REPEATABLE', yaml: 'source.postgres.snapshot.recorder.repeatable_snapshots', ignored: 'pgcdc snapshots once per slot; send an execute-snapshot signal to snapshot again' },

  { env: 'PGSTREAM_KAFKA_WRITER_SERVERS', yaml: 'target.kafka.servers', apply: (value, d) => void (d.kafka.bootstrapServers = words(value).join(',')) },
  { env: 'PGSTREAM_KAFKA_TOPIC_NAME', yaml: 'target.kafka.topic.name', apply: (value, d) => void (d.kafka.topicRouting = [{ regex: '.*', topic: value }]) },
  { env: 'PGSTREAM_KAFKA_TOPIC_PARTITIONS', yaml: 'target.kafka.topic.partitions', apply: integer('PGSTREAM_KAFKA_TOPIC_PARTITIONS', (n, d) => { section(d.kafka, 'createTopics').partitions = n; }) },
  {
    env: 'PGSTREAM_KAFKA_TOPIC_REPLICATION_FACTOR',
    yaml: 'target.kafka.topic.replication_factor',
    apply: integer('PGSTREAM_KAFKA_TOPIC_REPLICATION_FACTOR', (n, d) => { section(d.kafka, 'createTopics').replicationFactor = n; }),
  },
  { env: 'PGSTREAM_KAFKA_TOPIC_AUTO_CREATE', yaml: 'target.kafka.topic.auto_create', apply: flag('PGSTREAM_KAFKA_TOPIC_AUTO_CREATE', (b, d) => { section(d.kafka, 'createTopics').enabled = b; }) },
  { env: 'PGSTREAM_KAFKA_TLS_ENABLED', apply: flag('PGSTREAM_KAFKA_TLS_ENABLED', (b, d) => void (b ? (d.kafka.tls ??= {}) : delete d.kafka.tls)) },
  { env: 'PGSTREAM_KAFKA_TLS_CA_CERT_FILE', yaml: 'target.kafka.tls.ca_cert', apply: (value, d) => { section(d.kafka, 'tls').caCertificate = value; } },
  { env: 'PGSTREAM_KAFKA_TLS_CLIENT_CERT_FILE', yaml: 'target.kafka.tls.client_cert', apply: (value, d) => { section(d.kafka, 'tls').certificate = value; } },
  { env: 'PGSTREAM_KAFKA_TLS_CLIENT_KEY_FILE', yaml: 'target.kafka.tls.client_key', apply: (value, d) => { section(d.kafka, 'tls').key = value; } },
  { env: 'PGSTREAM_KAFKA_WRITER_BATCH_TIMEOUT', yaml: 'target.kafka.batch.timeout', apply: (value, d) => void (d.kafka.linger = duration(value)) },
  { env: 'PGSTREAM_KAFKA_WRITER_BATCH_SIZE', yaml: 'target.kafka.batch.size', apply: integer('PGSTREAM_KAFKA_WRITER_BATCH_SIZE', (n, d) => void (d.kafka.batchSize = n)) },
  { env: 'PGSTREAM_KAFKA_WRITER_BATCH_BYTES', yaml: 'target.kafka.batch.max_bytes', ignored: KAFKA_IGNORED },
  { env: 'PGSTREAM_KAFKA_WRITER_MAX_QUEUE_BYTES', yaml: 'target.kafka.batch.max_queue_bytes', ignored: KAFKA_IGNORED },
  { env: 'PGSTREAM_KAFKA_WRITER_BATCH_IGNORE_SEND_ERRORS', yaml: 'target.kafka.batch.ignore_send_errors', ignored: 'pgcdc never drops a change it could not send' },

  { env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_URL', yaml: 'target.webhooks.subscriptions.store.url', apply: (value, d) => void (d.webhook.subscriptionStore.url = value) },
  { env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_CACHE_ENABLED', yaml: 'target.webhooks.subscriptions.store.cache.enabled', ignored: 'pgcdc keeps the subscriptions in memory and hears of changes through LISTEN/NOTIFY' },
  {
    env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_CACHE_REFRESH_INTERVAL',
    yaml: 'target.webhooks.subscriptions.store.cache.refresh_interval',
    apply: (value, d) => void (d.webhook.subscriptionStore.pollInterval = /^\d+$/.test(value) ? `${value}s` : value),
  },
  { env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_SERVER_ADDRESS', yaml: 'target.webhooks.subscriptions.server.address', apply: (value, d) => void (d.webhook.subscriptionServer.listenAddress = value) },
  {
    env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_SERVER_READ_TIMEOUT',
    yaml: 'target.webhooks.subscriptions.server.read_timeout',
    apply: (value, d) => void (d.webhook.subscriptionServer.readTimeout = /^\d+$/.test(value) ? `${value}s` : value),
  },
  { env: 'PGSTREAM_WEBHOOK_SUBSCRIPTION_SERVER_WRITE_TIMEOUT', yaml: 'target.webhooks.subscriptions.server.write_timeout', ignored: 'the subscription API answers at once' },
  { env: 'PGSTREAM_WEBHOOK_NOTIFIER_CLIENT_TIMEOUT', yaml: 'target.webhooks.notifier.client_timeout', apply: (value, d) => void (d.webhook.http.readTimeout = duration(value)) },
  {
    env: 'PGSTREAM_WEBHOOK_NOTIFIER_WORKER_COUNT',
    yaml: 'target.webhooks.notifier.worker_count',
    apply: integer('PGSTREAM_WEBHOOK_NOTIFIER_WORKER_COUNT', (n, d) => void (d.webhook.http.concurrency = Math.min(Math.max(n, 1), 256))),
  },
  { env: 'PGSTREAM_WEBHOOK_NOTIFIER_MAX_QUEUE_BYTES', yaml: 'target.webhooks.notifier.max_queue_bytes', ignored: 'pgcdc\'s queue is bounded in bytes on its own' },

  { env: 'PGSTREAM_POSTGRES_WRITER_TARGET_URL', yaml: 'target.postgres.url', apply: (value, d) => void (d.postgres.url = value) },
  {
    env: 'PGSTREAM_POSTGRES_WRITER_ON_CONFLICT_ACTION',
    yaml: 'target.postgres.on_conflict_action',
    apply: (value, d) => {
      const policy = { update: 'update', nothing: 'skip', error: 'fail' }[value];
      if (policy === undefined) return `PGSTREAM_POSTGRES_WRITER_ON_CONFLICT_ACTION is ${value}; expected update, nothing or error`;
      d.postgres.conflictPolicy = policy;
    },
  },
  ...['BATCH_TIMEOUT', 'BATCH_SIZE', 'MAX_QUEUE_BYTES', 'BATCH_BYTES', 'BATCH_IGNORE_SEND_ERRORS'].map(
    (name): Setting => ({ env: `PGSTREAM_POSTGRES_WRITER_${name}`, yaml: `target.postgres.batch.${name === 'BATCH_BYTES' ? 'max_bytes' : name.replace(/^BATCH_/, '').toLowerCase()}`, ignored: 'pgcdc applies each batch in one transaction as it comes' }),
  ),
  { env: 'PGSTREAM_POSTGRES_WRITER_SCHEMALOG_STORE_URL', yaml: 'target.postgres.schema_log_store_url', ignored: 'pgcdc captures DDL itself (captureDdl), without pgstream\'s schema log' },
  { env: 'PGSTREAM_POSTGRES_WRITER_DISABLE_TRIGGERS', yaml: 'target.postgres.disable_triggers', ignored: 'pgcdc applies changes with session_replication_role replica' },
  { env: 'PGSTREAM_POSTGRES_WRITER_BULK_INGEST_ENABLED', yaml: 'target.postgres.bulk_ingest.enabled', ignored: 'pgcdc loads snapshots with COPY always' },

  { env: 'PGSTREAM_FILTER_INCLUDE_TABLES', yaml: 'modifiers.filter.include_tables', apply: (value, d) => void (d.source.includes = words(value).map(pgstreamTablePattern)) },
  { env: 'PGSTREAM_FILTER_EXCLUDE_TABLES', yaml: 'modifiers.filter.exclude_tables', apply: (value, d) => void (d.source.excludes = words(value).map(pgstreamTablePattern)) },
  { env: 'PGSTREAM_INJECTOR_STORE_POSTGRES_URL', yaml: 'modifiers.injector.schemalog_url', ignored: 'pgcdc\'s events carry Debezium\'s fields, not pgstream\'s metadata' },
  { yaml: 'modifiers.injector.enabled', ignored: 'pgcdc\'s events carry Debezium\'s fields, not pgstream\'s metadata' },
  { env: 'PGSTREAM_TRANSFORMER_RULES_FILE', yaml: 'modifiers.transformations', unsupported: 'pgstream\'s transformers are not supported; mask columns with spec.transform (docs/transforms.md) in a native stream' },
  { env: 'PGSTREAM_METRICS_ENDPOINT', yaml: 'instrumentation.metrics.endpoint', ignored: 'pgcdc serves Prometheus metrics (docs/metrics.md)' },
  { env: 'PGSTREAM_METRICS_COLLECTION_INTERVAL', yaml: 'instrumentation.metrics.collection_interval', ignored: 'pgcdc serves Prometheus metrics (docs/metrics.md)' },
  { env: 'PGSTREAM_TRACES_ENDPOINT', yaml: 'instrumentation.traces.endpoint', ignored: 'pgcdc exports no traces' },
  { env: 'PGSTREAM_TRACES_SAMPLE_RATIO', yaml: 'instrumentation.traces.sample_ratio', ignored: 'pgcdc exports no traces' },

  { env: 'PGSTREAM_KAFKA_READER_SERVERS', yaml: 'source.kafka.servers', unsupported: KAFKA_SOURCE },
  { env: 'PGSTREAM_KAFKA_READER_CONSUMER_GROUP_ID', yaml: 'source.kafka.consumer_group.id', unsupported: KAFKA_SOURCE },
  { env: 'PGSTREAM_KAFKA_READER_CONSUMER_GROUP_START_OFFSET', yaml: 'source.kafka.consumer_group.start_offset', unsupported: KAFKA_SOURCE },
  ...['EXP_BACKOFF_INITIAL_INTERVAL', 'EXP_BACKOFF_MAX_INTERVAL', 'EXP_BACKOFF_MAX_RETRIES', 'BACKOFF_INTERVAL', 'BACKOFF_MAX_RETRIES'].map(
    (name): Setting => ({ env: `PGSTREAM_KAFKA_COMMIT_${name}`, ignored: 'only for pgstream\'s Kafka listener' }),
  ),
  { env: 'PGSTREAM_OPENSEARCH_STORE_URL', yaml: 'target.search.url', unsupported: SEARCH },
  { env: 'PGSTREAM_ELASTICSEARCH_STORE_URL', unsupported: SEARCH },
  { yaml: 'target.search.engine', unsupported: SEARCH },
];

const BY_ENV = new Map(SETTINGS.filter((setting) => setting.env !== undefined).map((setting) => [setting.env!, setting]));
const BY_YAML = new Map(SETTINGS.filter((setting) => setting.yaml !== undefined).map((setting) => [setting.yaml!, setting]));
/** YAML sections taken whole (their keys are not looked at one by one). */
const WHOLE_YAML_SECTIONS: ReadonlyMap<string, Setting> = new Map([
  ['modifiers.transformations', BY_ENV.get('PGSTREAM_TRANSFORMER_RULES_FILE')!],
  ['target.search', BY_YAML.get('target.search.engine')!],
  ['source.kafka', BY_ENV.get('PGSTREAM_KAFKA_READER_SERVERS')!],
]);
/** Whole sections pgcdc ignores, and why. */
const IGNORED_YAML_SECTIONS: ReadonlyMap<string, string> = new Map([
  ['target.kafka.backoff', 'pgcdc\'s Kafka producer retries on its own'],
  ['target.search.backoff', SEARCH],
]);

/** A pgstream `.env` file's variables (`KEY=value`, `export KEY=value`, quoted values, `#` comments). */
export function readEnvText(text: string): { variables: Map<string, string>; problems: string[] } {
  const variables = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (match === null) {
      problems.push(`line ${index + 1} (${line.slice(0, 40)}) is not NAME=value; write each variable as NAME=value`);
      return;
    }
    let value = match[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted !== null) value = quoted[2]!;
    else value = value.replace(/\s+#.*$/, '');
    variables.set(match[1]!, value);
  });
  return { variables, problems };
}

/** Whether a text is a pgstream `.env` file: its variables are named PGSTREAM_*. */
export function isPgstreamEnv(text: string): boolean {
  const { variables } = readEnvText(text);
  return variables.size > 0 && [...variables.keys()].some((key) => key.startsWith('PGSTREAM_'));
}

/** Whether a parsed YAML document is pgstream's configuration: `source` and `target` maps, no apiVersion. */
export function isPgstreamYaml(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const map = value as Record<string, unknown>;
  return map.apiVersion === undefined && map.kind === undefined && typeof map.source === 'object' && map.source !== null && typeof map.target === 'object' && map.target !== null;
}

/** The stream of a pgstream `.env` file's variables. */
export function pgstreamEnvStream(variables: ReadonlyMap<string, string>, name: string): PgstreamConversion {
  const problems: string[] = [];
  const notApplied: string[] = [];
  const settings = new Map<Setting, { key: string; value: string }>();
  for (const [key, value] of variables) {
    if (!key.startsWith('PGSTREAM_')) {
      notApplied.push(`${key} (not a pgstream variable)`);
      continue;
    }
    const setting = BY_ENV.get(key);
    if (setting === undefined) {
      const near = nearestName(key, [...BY_ENV.keys()]);
      problems.push(`${key} is not a pgstream variable pgcdc knows${near === undefined ? '' : `; did you mean ${near}?`}`);
    } else settings.set(setting, { key, value });
  }
  return convert(settings, name, problems, notApplied);
}

/** The stream of a pgstream YAML configuration (the parsed document). */
export function pgstreamYamlStream(document: Record<string, unknown>, name: string): PgstreamConversion {
  const problems: string[] = [];
  const notApplied: string[] = [];
  const settings = new Map<Setting, { key: string; value: string }>();
  const visit = (value: unknown, path: string): void => {
    const whole = WHOLE_YAML_SECTIONS.get(path);
    if (whole !== undefined) return void settings.set(whole, { key: path, value: JSON.stringify(value) });
    const ignoredSection = IGNORED_YAML_SECTIONS.get(path);
    if (ignoredSection !== undefined) return void notApplied.push(`${path} (${ignoredSection})`);
    const setting = BY_YAML.get(path);
    if (setting !== undefined) {
      const text = Array.isArray(value) ? value.map(String).join(' ') : value === null || value === undefined ? '' : String(value);
      return void settings.set(setting, { key: path, value: text });
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, path === '' ? key : `${path}.${key}`);
      return;
    }
    const near = nearestName(path, [...BY_YAML.keys()]);
    problems.push(`${path} is not a key of pgstream's configuration pgcdc knows${near === undefined ? '' : `; did you mean ${near}?`}`);
  };
  visit(document, '');
  return convert(settings, name, problems, notApplied);
}

function convert(settings: ReadonlyMap<Setting, { key: string; value: string }>, name: string, problems: string[], notApplied: string[]): PgstreamConversion {
  const draft: Draft = { source: {}, kafka: {}, webhook: { http: {}, subscriptionServer: {}, subscriptionStore: {}, payload: 'pgstream' }, postgres: {}, snapshot: {} };
  const given = (env: string): boolean => [...settings.keys()].some((setting) => setting.env === env);
  for (const [setting, { key, value }] of settings) {
    if (setting.unsupported !== undefined) problems.push(`${key}: ${setting.unsupported}`);
    else if (setting.ignored !== undefined) notApplied.push(`${key} (${setting.ignored})`);
    else {
      const problem = setting.apply!(value.trim(), draft);
      if (typeof problem === 'string') problems.push(problem);
    }
  }
  if (draft.source.url === undefined) problems.push('PGSTREAM_POSTGRES_LISTENER_URL (source.postgres.url) is missing; set it to the URL of the database to capture');
  const targets = [
    given('PGSTREAM_KAFKA_WRITER_SERVERS') ? 'Kafka' : undefined,
    given('PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_URL') || Object.keys(draft.webhook.subscriptionServer).length > 0 ? 'Webhook' : undefined,
    given('PGSTREAM_POSTGRES_WRITER_TARGET_URL') ? 'Postgres' : undefined,
  ].filter((target) => target !== undefined);
  if (targets.length === 0) {
    problems.push('no target: set PGSTREAM_KAFKA_WRITER_SERVERS (target.kafka), PGSTREAM_WEBHOOK_SUBSCRIPTION_STORE_URL (target.webhooks) or PGSTREAM_POSTGRES_WRITER_TARGET_URL (target.postgres)');
  } else if (targets.length > 1) problems.push(`the configuration has ${targets.length} targets (${targets.join(', ')}); pgcdc runs one target per stream: keep one, and write another file for each other`);
  if (targets[0] === 'Kafka' && draft.kafka.topicRouting === undefined) problems.push('PGSTREAM_KAFKA_TOPIC_NAME (target.kafka.topic.name) is missing; set the topic pgstream writes to');
  if (problems.length > 0) return { problems, warnings: [] };

  // pgstream snapshots only the tables it is given, and only in a snapshot mode.
  const { tables, excluded, mode } = draft.snapshot;
  const snapshotTables = mode === 'replication' ? undefined : tables;
  if (snapshotTables === undefined || snapshotTables.length === 0) draft.source.snapshotMode = 'no_data';
  else {
    draft.source.snapshotMode = mode === 'snapshot' ? 'initial_only' : 'initial';
    const leftOut = (excluded ?? []).map(pgstreamTablePattern);
    const guard = leftOut.length === 0 ? '' : `(?!(?:${leftOut.join('|')})$)`;
    draft.source.snapshotIncludes = snapshotTables.map((table) => `${guard}${pgstreamTablePattern(table)}`);
  }
  const target = targets[0]!;
  const nonEmpty = (sections: Record<string, unknown>) => Object.fromEntries(Object.entries(sections).filter(([, value]) => typeof value !== 'object' || Object.keys(value as object).length > 0));
  const section =
    target === 'Kafka'
      ? { kafka: { ...draft.kafka, schemasEnable: false } }
      : target === 'Webhook'
        ? { webhook: nonEmpty(draft.webhook) }
        : { postgres: draft.postgres };
  const document = {
    apiVersion: NATIVE_API_VERSION,
    kind: NATIVE_KIND,
    metadata: { name },
    spec: { source: { type: 'Postgres', postgres: { ...draft.source, url: String(draft.source.url).replaceAll('${', '$${') } }, target: { type: target, ...section } },
  };
  const warnings = notApplied.length === 0 ? [] : [`pgstream configuration ${name}: these settings do not apply to pgcdc and are ignored: ${notApplied.join(', ')}`];
  return { document, problems, warnings };
}
