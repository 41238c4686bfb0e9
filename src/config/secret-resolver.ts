/**
 * Resolves secret references `{name, key}`: from a Secret document in the stream's file when it
 * holds one of that name, else from `<secretsDir>/<name>/<key>` (a Kubernetes secret mount) when a
 * secrets directory is given and holds the file, else from `PGCDC_SECRET_<NAME>_<KEY>`.
 * The same lookup (`resolveKeyReference`) serves other key holders, such as ConfigMaps.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecretKeyRef } from './common-schemas.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import type { KeyDocumentKind, KeyDocuments } from './key-documents.js';

/** Where secrets are looked up. */
export interface SecretSources {
  /** Directory laid out `<name>/<key>`; absolute or relative to `cwd`. */
  readonly secretsDir: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The ConfigMap and Secret documents of the stream's file, looked in first. */
  readonly keyDocuments?: KeyDocuments | undefined;
}

/** A name as part of an environment variable: upper-cased, every character outside [A-Z0-9] → `_`. */
export function envNamePart(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * The environment variable holding a secret.
 *
 * @example
 * secretEnvName({ name: 'external-pg-credentials', key: 'password' });
 * // 'PGCDC_SECRET_EXTERNAL_PG_CREDENTIALS_PASSWORD'
 */
export function secretEnvName(ref: SecretKeyRef): string {
  return `PGCDC_SECRET_${envNamePart(ref.name)}_${envNamePart(ref.key)}`;
}

/** What the file of a mounted key holds: its text with one trailing newline removed. */
function withoutTrailingNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/** A Kubernetes object kind holding keys (Secret, ConfigMap), and where its keys are looked up. */
export interface KeyStore {
  /** How a reference names it in messages: `secret`, `ConfigMap`. */
  readonly noun: string;
  /** The kind of the Kubernetes object: `Secret`, `ConfigMap`. */
  readonly resource: KeyDocumentKind;
  /** The directory option in messages: `secrets directory`. */
  readonly directoryNoun: string;
  /** Directory laid out `<name>/<key>`, relative to `cwd`. */
  readonly directory: string | undefined;
  readonly envName: (ref: SecretKeyRef) => string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The documents of the stream's file, looked in before the directory and the environment. */
  readonly documents: KeyDocuments | undefined;
}

/**
 * The value of key `ref` of `store` (used at `at`): from the document of the stream's file of that
 * kind and name when there is one, else the file `<directory>/<name>/<key>` when it exists, else the
 * environment variable; one trailing newline removed. Undefined after adding a SECRET_NOT_FOUND
 * problem naming the reference and what was tried (or what is wrong with the document).
 */
export async function resolveKeyReference(ref: SecretKeyRef, at: ConfigPath, store: KeyStore, problems: ConfigProblems): Promise<string | undefined> {
  const file = store.directory === undefined ? undefined : path.resolve(store.cwd, store.directory, ref.name, ref.key);
  const envName = store.envName(ref);
  const reference = `key "${ref.key}" of ${store.noun} "${ref.name}"`;
  const inFile = store.documents?.lookup(store.resource, ref);
  if (inFile !== undefined) {
    if ('value' in inFile) return withoutTrailingNewline(inFile.value);
    problems.add(at, `refers to ${reference}, ${inFile.problem}`, { code: 'SECRET_NOT_FOUND', hint: inFile.hint });
    return undefined;
  }
  if (file !== undefined) {
    try {
      return withoutTrailingNewline(await readFile(file, 'utf8'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        problems.add(at, `refers to ${reference}, whose file ${file} cannot be read (${(error as Error).message})`, {
          code: 'SECRET_NOT_FOUND',
          hint: `make ${file} readable by the user running pgcdc`,
        });
        return undefined;
      }
    }
  }
  const fromEnv = store.env[envName];
  if (fromEnv !== undefined) return fromEnv;
  const tried =
    file === undefined
      ? `no ${store.directoryNoun} was given, and the environment variable ${envName} is not set`
      : `neither the file ${file} exists nor the environment variable ${envName} is set`;
  problems.add(at, `refers to ${reference}, which cannot be found: ${tried}`, {
    code: 'SECRET_NOT_FOUND',
    hint:
      file === undefined
        ? `set ${envName}, or give a ${store.directoryNoun} holding ${ref.name}/${ref.key}`
        : `create ${file} (or mount the ${store.resource} there), or set ${envName}`,
  });
  return undefined;
}

/**
 * The value of the secret `ref` (used at `at`), or undefined after adding a SECRET_NOT_FOUND
 * problem naming the reference, the file tried and the variable tried.
 */
export async function resolveSecret(
  ref: SecretKeyRef,
  at: ConfigPath,
  sources: SecretSources,
  problems: ConfigProblems,
): Promise<string | undefined> {
  const store: KeyStore = {
    noun: 'secret',
    resource: 'Secret',
    directoryNoun: 'secrets directory',
    directory: sources.secretsDir,
    envName: secretEnvName,
    env: sources.env,
    cwd: sources.cwd,
    documents: sources.keyDocuments,
  };
  return resolveKeyReference(ref, at, store, problems);
}

/** Secret references to a user name and a password, as SGStream sources and targets have them. */
export interface CredentialRefs {
  readonly username?: SecretKeyRef;
  readonly password?: SecretKeyRef;
}

/**
 * The user and password `refs` (found under `at`) refer to; `ok` is false after a problem was
 * added for one that cannot be resolved. A reference not given leaves its value undefined.
 */
export async function resolveCredentials(
  refs: CredentialRefs,
  at: ConfigPath,
  sources: SecretSources,
  problems: ConfigProblems,
): Promise<{ readonly ok: boolean; readonly user?: string; readonly password?: string }> {
  const resolve = (ref: SecretKeyRef | undefined, key: string) => (ref === undefined ? Promise.resolve(undefined) : resolveSecret(ref, [...at, key], sources, problems));
  const [user, password] = await Promise.all([resolve(refs.username, 'username'), resolve(refs.password, 'password')]);
  const ok = (refs.username === undefined || user !== undefined) && (refs.password === undefined || password !== undefined);
  return { ok, user, password };
}
