/**
 * SGStream `spec.target.type: SGCluster` as a pgcdc Postgres target: the cluster's connection
 * resolved as for SGCluster sources (`PGCDC_CLUSTER_<NAME>`, secrets), and the CRD's options and
 * Debezium JDBC sink properties mapped onto the Postgres target's settings; a warning for each
 * one pgcdc accepts but does not apply. docs/configuration.md holds the same mapping as a table.
 */
import { resolveClusterConnection } from './cluster-resolver.js';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';
import { POSTGRES_TARGET_DEFAULTS, type PostgresTargetOptions, targetApplicationName } from './postgres-settings.js';
import type { SecretSources } from './secret-resolver.js';
import type { InsertMode, JdbcSinkProperties, SgClusterTarget } from './sgstream-target-schemas.js';
import type { ConflictPolicy, PostgresTargetConfig } from './stream-config.js';

/** `spec.target.sgCluster` keys pgcdc accepts but does not apply. */
export const UNAPPLIED_SGCLUSTER_TARGET_KEYS = ['ddlImportRoleSkipFilter', 'skipDropPrimaryKeys', 'skipRestoreIndexesAfterSnapshot'] as const satisfies readonly (keyof SgClusterTarget)[];

/** The JDBC sink properties pgcdc applies; every other one is a warning. */
export const APPLIED_JDBC_SINK_PROPERTIES = ['insertMode', 'deleteEnabled', 'truncateEnabled', 'schemaEvolution'] as const satisfies readonly (keyof JdbcSinkProperties)[];

/** The conflict policy of each insert mode: only `insert` fails on a row that already exists. */
export const CONFLICT_POLICY_OF_INSERT_MODE: Readonly<Record<InsertMode, ConflictPolicy>> = { insert: 'fail', upsert: 'update', update: 'update' };

/**
 * The Postgres target settings the SGCluster target section at `at` asks for, pgcdc's defaults
 * elsewhere; a warning for each key given that pgcdc does not apply.
 *
 * @example
 * postgresTargetOptionsFromSgCluster({ name: 'target', skipDdlImport: true, debeziumProperties: { insertMode: 'insert' } }, at, problems);
 * // { conflictPolicy: 'fail', createTables: false, replicateDdl: false, deferIndexes: true, … }
 */
export function postgresTargetOptionsFromSgCluster(section: SgClusterTarget, at: ConfigPath, problems: ConfigProblems): PostgresTargetOptions {
  const properties = section.debeziumProperties ?? {};
  for (const key of UNAPPLIED_SGCLUSTER_TARGET_KEYS) if (section[key] !== undefined) problems.warnNotApplied([...at, key]);
  for (const [key, value] of Object.entries(properties)) {
    if (value !== undefined && !(APPLIED_JDBC_SINK_PROPERTIES as readonly string[]).includes(key)) problems.warnNotApplied([...at, 'debeziumProperties', key]);
  }
  const schemaChanges = schemaChangesAllowed(section, at, problems);
  return {
    ...POSTGRES_TARGET_DEFAULTS,
    conflictPolicy: properties.insertMode === undefined ? POSTGRES_TARGET_DEFAULTS.conflictPolicy : CONFLICT_POLICY_OF_INSERT_MODE[properties.insertMode],
    createTables: schemaChanges,
    replicateDdl: schemaChanges,
    deferIndexes: section.skipDropIndexesAndConstraints === true ? false : POSTGRES_TARGET_DEFAULTS.deferIndexes,
    deleteEnabled: properties.deleteEnabled ?? POSTGRES_TARGET_DEFAULTS.deleteEnabled,
    truncateEnabled: properties.truncateEnabled ?? POSTGRES_TARGET_DEFAULTS.truncateEnabled,
  };
}

/**
 * Whether pgcdc may change the target's schema (createTables and replicateDdl): not when
 * `skipDdlImport: true` or `schemaEvolution: none` says so. When the two keys disagree, the one
 * that turns schema changes off wins and the other is reported as overridden.
 */
function schemaChangesAllowed(section: SgClusterTarget, at: ConfigPath, problems: ConfigProblems): boolean {
  const evolution = section.debeziumProperties?.schemaEvolution;
  const byImport = section.skipDdlImport === undefined ? undefined : !section.skipDdlImport;
  const byEvolution = evolution === undefined ? undefined : evolution === 'basic';
  if (byImport !== undefined && byEvolution !== undefined && byImport !== byEvolution) {
    const importPath = [...at, 'skipDdlImport'];
    const evolutionPath = [...at, 'debeziumProperties', 'schemaEvolution'];
    const [overridden, winner] = byImport ? [importPath, evolutionPath] : [evolutionPath, importPath];
    problems.warn(`${formatPath(overridden)} is overridden by ${formatPath(winner)}, which turns off createTables and replicateDdl`, overridden);
  }
  return (byImport ?? true) && (byEvolution ?? true);
}

/**
 * The PostgresTargetConfig of the SGCluster target section at `at` (`spec.target.sgCluster`) of
 * the stream `streamName`, or undefined after adding problems (cluster URL, secrets).
 */
export async function buildSgClusterTarget(
  section: SgClusterTarget,
  at: ConfigPath,
  streamName: string,
  sources: SecretSources,
  problems: ConfigProblems,
): Promise<PostgresTargetConfig | undefined> {
  const options = postgresTargetOptionsFromSgCluster(section, at, problems);
  const connection = await resolveClusterConnection(section, at, sources, problems, targetApplicationName(streamName));
  return connection && { type: 'Postgres', connection, ...options };
}
