/**
 * Resolves ConfigMap references `{name, key}` as secrets are resolved: from a ConfigMap document in
 * the stream's file, else from `<configMapsDir>/<name>/<key>` (a Kubernetes ConfigMap mount; the
 * secrets directory when no config maps directory is given) when that file exists, else from
 * `PGCDC_CONFIGMAP_<NAME>_<KEY>`.
 */
import type { ConfigMapKeyRef } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { envNamePart, resolveKeyReference, type SecretSources } from './secret-resolver.js';

/** Where ConfigMaps (and secrets) are looked up. */
export interface ConfigMapSources extends SecretSources {
  /** Directory laid out `<name>/<key>`; absolute or relative to `cwd`; the secrets directory when not given. */
  readonly configMapsDir?: string | undefined;
}

/**
 * The environment variable holding a ConfigMap key.
 *
 * @example
 * configMapEnvName({ name: 'lambda-script', key: 'handler.js' }); // 'PGCDC_CONFIGMAP_LAMBDA_SCRIPT_HANDLER_JS'
 */
export function configMapEnvName(ref: ConfigMapKeyRef): string {
  return `PGCDC_CONFIGMAP_${envNamePart(ref.name)}_${envNamePart(ref.key)}`;
}

/**
 * The value of key `ref.key` of ConfigMap `ref.name` (used at `at`), or undefined after adding a
 * SECRET_NOT_FOUND problem naming the reference, the file tried and the variable tried.
 */
export async function resolveConfigMapKey(ref: ConfigMapKeyRef, at: ConfigPath, sources: ConfigMapSources, problems: ConfigProblems): Promise<string | undefined> {
  return resolveKeyReference(
    ref,
    at,
    {
      noun: 'ConfigMap',
      resource: 'ConfigMap',
      directoryNoun: 'config maps directory (or secrets directory)',
      directory: sources.configMapsDir ?? sources.secretsDir,
      envName: configMapEnvName,
      env: sources.env,
      cwd: sources.cwd,
      documents: sources.keyDocuments,
    },
    problems,
  );
}
