/**
 * Turns a valid StackGres SGStream document into a StreamConfig: Postgres sources from host and
 * secrets, SGCluster sources and targets from `PGCDC_CLUSTER_<NAME>`, warnings for what pgcdc
 * does not apply.
 */
import path from 'node:path';
import { resolveClusterConnection } from './cluster-resolver.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_SSL_MODE } from './connection-url.js';
import { sourceOptionsFromDebezium } from './debezium-properties.js';
import { resolveCredentials } from './secret-resolver.js';
import { buildSgClusterTarget } from './sgcluster-target.js';
import { SGSTREAM_API_VERSION, type SgStreamDocument } from './sgstream-schema.js';
import { buildSourceConfig, checkHeartbeatSettings, refuseEventOnlySettings, SOURCE_OPTION_DEFAULTS, sourceHeartbeatIntervalMs } from './source-options-schema.js';
import type { ConnectionConfig, TargetConfig } from './stream-config.js';
import type { BuildContext, BuiltStream } from './stream-kinds.js';
import { buildTarget, targetBuildContext, warnOtherTargetSections } from './target-types.js';

/** Default database and user of an SGStream Postgres source, as StackGres has them. */
const DEFAULT_DATABASE = 'postgres';
const DEFAULT_USER = 'postgres';

/** The prefix of annotations StackGres reads as Debezium signals. */
const SIGNAL_ANNOTATION_PREFIX = 'debezium-signal.stackgres.io/';

/** Target types an SGStream has besides pgcdc's own (TARGET_TYPES) that pgcdc writes to. */
const SGSTREAM_TARGET_TYPES = ['SGCluster'];

type Source = SgStreamDocument['spec']['source'];
type SourceSection = NonNullable<Source['sgCluster'] | Source['postgres']>;

/** The StreamConfig of a valid SGStream document, or undefined after adding problems. */
export async function buildSgStream(document: SgStreamDocument, context: BuildContext, problems: ConfigProblems): Promise<BuiltStream | undefined> {
  const name = document.metadata.name;
  const { source, debeziumEngineProperties } = document.spec;
  const sectionKey = source.type === 'SGCluster' ? 'sgCluster' : 'postgres';
  const section: SourceSection | undefined = source[sectionKey];
  if (section === undefined) return undefined; // the schema has reported it
  const at: ConfigPath = ['spec', 'source', sectionKey];
  warnUnapplied(document, problems);

  const options = {
    ...SOURCE_OPTION_DEFAULTS,
    ...sourceOptionsFromDebezium(section.debeziumProperties, [...at, 'debeziumProperties'], problems, document.spec.target.type === 'SGCluster' ? 'rows' : 'events'),
    ...(source.sgCluster?.skipDropReplicationSlotAndPublicationOnTombstone !== undefined
      ? { skipDropReplicationSlotAndPublicationOnTombstone: source.sgCluster.skipDropReplicationSlotAndPublicationOnTombstone }
      : {}),
  };
  checkHeartbeatSettings(options, (setting) => [...at, 'debeziumProperties', setting === 'heartbeatInterval' ? 'heartbeatIntervalMs' : setting], problems);
  if (document.spec.target.type === 'SGCluster') refuseEventOnlySettings(options, (setting) => [...at, 'debeziumProperties', setting], problems);
  for (const key of Object.keys(debeziumEngineProperties ?? {})) problems.warnNotApplied(['spec', 'debeziumEngineProperties', key]);
  const [connection, target] = await Promise.all([
    source.type === 'SGCluster'
      ? source.sgCluster && resolveClusterConnection(source.sgCluster, at, context, problems, `pgcdc-${name}`)
      : source.postgres && postgresConnection(source.postgres, name, at, context, problems),
    sgStreamTarget(document, context, sourceHeartbeatIntervalMs(options), problems),
  ]);
  if (connection === undefined || target === undefined) return undefined;
  return {
    name,
    source: buildSourceConfig(name, connection, section, options),
    target,
    maxRetries: document.spec.maxRetries,
    stateDir: path.resolve(context.cwd, '.pgcdc', name),
    apiVersion: SGSTREAM_API_VERSION,
  };
}

/** The target: an SGCluster as a Postgres target, pgcdc's own types by TARGET_TYPES, else a problem. */
async function sgStreamTarget(document: SgStreamDocument, context: BuildContext, heartbeatIntervalMs: number, problems: ConfigProblems): Promise<TargetConfig | undefined> {
  const { target } = document.spec;
  const at: ConfigPath = ['spec', 'target'];
  if (target.type !== 'SGCluster') return buildTarget(target, at, problems, targetBuildContext(context, document.metadata.name, heartbeatIntervalMs), SGSTREAM_TARGET_TYPES);
  warnOtherTargetSections(target, at, 'sgCluster', problems);
  if (target.sgCluster === undefined) return undefined; // the schema has reported it
  return buildSgClusterTarget(target.sgCluster, [...at, 'sgCluster'], document.metadata.name, context, problems);
}

function warnUnapplied(document: SgStreamDocument, problems: ConfigProblems): void {
  const { source } = document.spec;
  const other = source.type === 'SGCluster' ? 'postgres' : 'sgCluster';
  if (source[other] !== undefined) problems.warnNotApplied(['spec', 'source', other], `spec.source.type is ${source.type}`);
  for (const annotation of Object.keys(document.metadata.annotations ?? {})) {
    if (annotation.startsWith(SIGNAL_ANNOTATION_PREFIX)) {
      problems.warnNotApplied(['metadata', 'annotations', annotation], 'pgcdc does not read signals from annotations');
    }
  }
}

async function postgresConnection(
  postgres: NonNullable<Source['postgres']>,
  streamName: string,
  at: ConfigPath,
  context: BuildContext,
  problems: ConfigProblems,
): Promise<ConnectionConfig | undefined> {
  const secrets = await resolveCredentials(postgres, at, context, problems);
  if (!secrets.ok) return undefined;
  return {
    host: postgres.host,
    port: postgres.port ?? DEFAULT_PORT,
    database: postgres.database ?? DEFAULT_DATABASE,
    user: secrets.user ?? DEFAULT_USER,
    password: secrets.password,
    sslMode: DEFAULT_SSL_MODE,
    sslRootCert: undefined,
    sslCert: undefined,
    sslKey: undefined,
    applicationName: `pgcdc-${streamName}`,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  };
}
