/**
 * Resolves an SGCluster reference outside Kubernetes: the cluster's address is a `postgres://`
 * URL in the environment variable `PGCDC_CLUSTER_<NAME>`.
 */
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { type ConnectionUrlParts, parseConnectionUrl } from './connection-url.js';
import { envNamePart } from './secret-resolver.js';

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
