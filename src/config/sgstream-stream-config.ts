/**
 * Turns a valid StackGres SGStream document into a StreamConfig: Postgres sources from host and
 * secrets, SGCluster sources from `PGCDC_CLUSTER_<NAME>`, warnings for what pgcdc does not apply.
 */
import path from 'node:path';
import type { SecretKeyRef } from './common-schemas.js';
import { resolveClusterUrl } from './cluster-resolver.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { connectionConfigFromParts, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_SSL_MODE } from './connection-url.js';
import { sourceOptionsFromDebezium } from './debezium-properties.js';
import { resolveSecret } from './secret-resolver.js';
import { SGSTREAM_API_VERSION, type SgStreamDocument } from './sgstream-schema.js';
import { buildSourceConfig, SOURCE_OPTION_DEFAULTS } from './source-options-schema.js';
import type { ConnectionConfig } from './stream-config.js';
import type { BuildContext, BuiltStream } from './stream-kinds.js';
import { buildTarget } from './target-types.js';

/** Default database and user of an SGStream source, as StackGres has them. */
const DEFAULT_DATABASE = 'postgres';
const DEFAULT_USER = 'postgres';

/** The prefix of annotations StackGres reads as Debezium signals. */
const SIGNAL_ANNOTATION_PREFIX = 'debezium-signal.stackgres.io/';

type Source = SgStreamDocument['spec']['source'];
type SourceSection = NonNullable<Source['sgCluster'] | Source['postgres']>;

/** The StreamConfig of a valid SGStream document, or undefined after adding problems. */
export async function buildSgStream(document: SgStreamDocument, context: BuildContext, problems: ConfigProblems): Promise<BuiltStream | undefined> {
  const name = document.metadata.name;
  const { source, debeziumEngineProperties } = document.spec;
  const target = buildTarget(document.spec.target, ['spec', 'target'], problems, context.cwd);
  const sectionKey = source.type === 'SGCluster' ? 'sgCluster' : 'postgres';
  const section: SourceSection | undefined = source[sectionKey];
  if (section === undefined) return undefined; // the schema has reported it
  const at: ConfigPath = ['spec', 'source', sectionKey];
  warnUnapplied(document, problems);

  const options = { ...SOURCE_OPTION_DEFAULTS, ...sourceOptionsFromDebezium(section.debeziumProperties, [...at, 'debeziumProperties'], problems) };
  for (const key of Object.keys(debeziumEngineProperties ?? {})) problems.warnNotApplied(['spec', 'debeziumEngineProperties', key]);
  const connection =
    source.type === 'SGCluster'
      ? source.sgCluster && (await clusterConnection(source.sgCluster, name, at, context, problems))
      : source.postgres && (await postgresConnection(source.postgres, name, at, context, problems));
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

function warnUnapplied(document: SgStreamDocument, problems: ConfigProblems): void {
  const { source } = document.spec;
  const other = source.type === 'SGCluster' ? 'postgres' : 'sgCluster';
  if (source[other] !== undefined) problems.warnNotApplied(['spec', 'source', other], `spec.source.type is ${source.type}`);
  if (source.sgCluster?.skipDropReplicationSlotAndPublicationOnTombstone !== undefined) {
    problems.warnNotApplied(['spec', 'source', 'sgCluster', 'skipDropReplicationSlotAndPublicationOnTombstone']);
  }
  for (const annotation of Object.keys(document.metadata.annotations ?? {})) {
    if (annotation.startsWith(SIGNAL_ANNOTATION_PREFIX)) {
      problems.warnNotApplied(['metadata', 'annotations', annotation], 'pgcdc does not read signals from annotations');
    }
  }
}

/** User and password from secret references; `ok` is false when one cannot be resolved. */
async function credentials(
  refs: { readonly username?: SecretKeyRef; readonly password?: SecretKeyRef },
  at: ConfigPath,
  context: BuildContext,
  problems: ConfigProblems,
): Promise<{ readonly ok: boolean; readonly user?: string; readonly password?: string }> {
  const resolve = (ref: SecretKeyRef | undefined, key: string) =>
    ref === undefined ? Promise.resolve(undefined) : resolveSecret(ref, [...at, key], context, problems);
  const [user, password] = await Promise.all([resolve(refs.username, 'username'), resolve(refs.password, 'password')]);
  const ok = (refs.username === undefined || user !== undefined) && (refs.password === undefined || password !== undefined);
  return { ok, user, password };
}

async function postgresConnection(
  postgres: NonNullable<Source['postgres']>,
  streamName: string,
  at: ConfigPath,
  context: BuildContext,
  problems: ConfigProblems,
): Promise<ConnectionConfig | undefined> {
  const secrets = await credentials(postgres, at, context, problems);
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

/** The cluster URL, with the document's database and secret credentials taking precedence. */
async function clusterConnection(
  cluster: NonNullable<Source['sgCluster']>,
  streamName: string,
  at: ConfigPath,
  context: BuildContext,
  problems: ConfigProblems,
): Promise<ConnectionConfig | undefined> {
  const parts = resolveClusterUrl(cluster.name, [...at, 'name'], context.env, problems);
  const secrets = await credentials(cluster, at, context, problems);
  if (parts === undefined || !secrets.ok) return undefined;
  const result = await connectionConfigFromParts(
    {
      ...parts,
      database: cluster.database ?? parts.database,
      user: secrets.user ?? parts.user,
      password: secrets.password ?? parts.password,
    },
    { user: DEFAULT_USER, database: DEFAULT_DATABASE, applicationName: `pgcdc-${streamName}` },
    context.cwd,
  );
  if ('config' in result) return result.config;
  for (const problem of result.problems) problems.add([...at, 'name'], `refers to SGCluster "${cluster.name}", whose URL ${problem}`);
  return undefined;
}
