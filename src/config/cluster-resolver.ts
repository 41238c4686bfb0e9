/**
 * Resolves an SGCluster reference outside Kubernetes: the cluster's address is a `postgres://`
 * URL in the environment variable `PGCDC_CLUSTER_<NAME>`; the reference's database and secret
 * credentials take precedence over the URL's (the same for SGCluster sources and targets).
 */
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { type ConnectionUrlParts, connectionConfigFromParts, parseConnectionUrl } from './connection-url.js';
import { type CredentialRefs, envNamePart, resolveCredentials, type SecretSources } from './secret-resolver.js';
import type { ConnectionConfig } from './stream-config.js';

/** Database and user of an SGCluster when neither the document nor the URL names them, as StackGres has them. */
const DEFAULT_CLUSTER_DATABASE = 'postgres';
const DEFAULT_CLUSTER_USER = 'postgres';

/**
 * The environment variable holding the URL of an SGCluster.
 *
 * @example
 * clusterEnvName('source-cluster'); // 'PGCDC_CLUSTER_SOURCE_CLUSTER'
 */
export function clusterEnvName(clusterName: string): string {
  return `PGCDC_CLUSTER_${envNamePart(clusterName)}`;
}

/**
 * The URL parts of SGCluster `clusterName` (named at `at`), or undefined after adding a problem:
 * SECRET_NOT_FOUND when the variable is not set, CONFIG_INVALID when it holds no valid URL.
 */
export function resolveClusterUrl(
  clusterName: string,
  at: ConfigPath,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblems,
): ConnectionUrlParts | undefined {
  const envName = clusterEnvName(clusterName);
  const url = env[envName];
  const example = `${envName}=postgres://postgres:password@${clusterName}:5432/postgres`;
  if (url === undefined || url === '') {
    problems.add(at, `refers to SGCluster "${clusterName}", whose URL pgcdc reads from the environment variable ${envName}, which is not set`, {
      code: 'SECRET_NOT_FOUND',
      hint: `export ${example}`,
    });
    return undefined;
  }
  const parsed = parseConnectionUrl(url);
  if ('parts' in parsed) return parsed.parts;
  for (const problem of parsed.problems) {
    problems.add(at, `refers to SGCluster "${clusterName}", but the environment variable ${envName} ${problem}`, {
      hint: `set ${example}`,
    });
  }
  return undefined;
}

/** An SGCluster as an SGStream source or target names it. */
export interface ClusterReference extends CredentialRefs {
  readonly name: string;
  readonly database?: string;
}

/**
 * The connection to the SGCluster `cluster` (the section at `at`): the URL of
 * `PGCDC_CLUSTER_<NAME>`, with `cluster.database` (unless empty) and the `username`/`password`
 * secrets taking precedence, `postgres` where nothing names the database or user, and
 * `applicationName` unless the URL has `application_name`. Undefined after adding problems (the
 * URL's at `<at>.name`, the secrets' at `<at>.username` / `<at>.password`).
 *
 * @example
 * await resolveClusterConnection({ name: 'target-cluster', database: 'myapp' }, ['spec', 'target', 'sgCluster'], sources, problems, 'pgcdc-migration-target');
 */
export async function resolveClusterConnection(
  cluster: ClusterReference,
  at: ConfigPath,
  sources: SecretSources,
  problems: ConfigProblems,
  applicationName: string,
): Promise<ConnectionConfig | undefined> {
  const parts = resolveClusterUrl(cluster.name, [...at, 'name'], sources.env, problems);
  const secrets = await resolveCredentials(cluster, at, sources, problems);
  if (parts === undefined || !secrets.ok) return undefined;
  const result = await connectionConfigFromParts(
    {
      ...parts,
      database: cluster.database || parts.database,
      user: secrets.user ?? parts.user,
      password: secrets.password ?? parts.password,
    },
    { user: DEFAULT_CLUSTER_USER, database: DEFAULT_CLUSTER_DATABASE, applicationName },
    sources.cwd,
  );
  if ('config' in result) return result.config;
  for (const problem of result.problems) problems.add([...at, 'name'], `refers to SGCluster "${cluster.name}", whose URL ${problem}`);
  return undefined;
}
