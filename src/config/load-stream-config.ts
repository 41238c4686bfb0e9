/**
 * Entry point of the configuration layer: reads a stream file (native `pgcdc/v1 Stream` or
 * StackGres `SGStream`, with the ConfigMaps and Secrets it refers to beside it; or a connector
 * configuration, Debezium Server's or pgstream's, read as a native document), interpolates the
 * environment, validates, resolves secrets and returns the StreamConfig, or throws one PgcdcError
 * listing every problem.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { type ConfigPath, ConfigProblems, configError, type IssueLocator } from './config-issues.js';
import { interpolateDocument } from './env-interpolation.js';
import { foreignStreamDocument } from './foreign-stream-formats.js';
import { KeyDocuments, namespaceOf } from './key-documents.js';
import { validateWithSchema } from './schema-validation.js';
import type { StreamConfig } from './stream-config.js';
import { ignoredDocumentWarning, selectStreamDocument, streamKindOf, unknownKindIssues } from './stream-kinds.js';
import { locatorFor, parseYamlSource } from './yaml-source.js';

export interface StreamConfigOptions {
  /** Directory of secrets laid out `<name>/<key>` (a Kubernetes Secret mount); relative to `cwd`. */
  readonly secretsDir?: string;
  /** Directory of ConfigMaps laid out `<name>/<key>` (a ConfigMap mount); relative to `cwd`; the secrets directory when not given. */
  readonly configMapsDir?: string;
  /** Variables for `${VAR}`, `PGCDC_SECRET_*`, `PGCDC_CONFIGMAP_*` and `PGCDC_CLUSTER_*`; defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Base of relative paths (state directory, target file, certificates); defaults to `process.cwd()`. */
  readonly cwd?: string;
  /** Brokers of connector configurations that name none (`--kafka-bootstrap-servers`); defaults to PGCDC_KAFKA_BOOTSTRAP_SERVERS. */
  readonly kafkaBootstrapServers?: string;
}

/**
 * Loads the stream file `file` (relative to `options.cwd`). Relative paths in the document (state
 * directory, target file, certificates, scripts) are resolved against the file's directory, so
 * `pgcdc run -c dir/stream.yaml` means the same from anywhere; the secrets and config maps
 * directories given as options stay relative to `options.cwd`.
 *
 * @example
 * const config = await loadStreamConfig('streams/orders.yaml', { secretsDir: '/run/secrets' });
 * for (const warning of config.warnings) logger.warn(warning);
 *
 * @throws PgcdcError CONFIG_UNREADABLE (missing file, bad YAML), CONFIG_INVALID, SECRET_NOT_FOUND
 */
export async function loadStreamConfig(file: string, options: StreamConfigOptions = {}): Promise<StreamConfig> {
  const cwd = options.cwd ?? process.cwd();
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'the file does not exist' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    const shown = absolute === file ? file : `${file} (${absolute})`;
    throw new PgcdcError('CONFIG_UNREADABLE', `cannot read the stream spec ${shown}: ${reason}`, {
      cause: error,
      hint: 'check the path of the stream file; a relative path is read from the current directory',
    });
  }
  const fromCwd = (dir: string | undefined) => (dir === undefined ? undefined : path.resolve(cwd, dir));
  return parseStreamConfig(text, {
    ...options,
    cwd: path.dirname(absolute),
    secretsDir: fromCwd(options.secretsDir),
    configMapsDir: fromCwd(options.configMapsDir),
    fileName: file,
  });
}

/**
 * Parses the text of a stream file: YAML, or another tool's format (foreign-stream-formats).
 * `fileName` names the source in messages, and its extension tells a format the content does not.
 *
 * @example
 * const config = await parseStreamConfig(yamlText, { fileName: 'orders.yaml', env: { PGPASSWORD: 'pw' } });
 */
export async function parseStreamConfig(yamlText: string, options: StreamConfigOptions & { readonly fileName?: string } = {}): Promise<StreamConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  // A connector configuration, Debezium Server's or pgstream's is read as its native document.
  const foreign = foreignStreamDocument(yamlText, { fileName: options.fileName, kafkaBootstrapServers: options.kafkaBootstrapServers ?? (env.PGCDC_KAFKA_BOOTSTRAP_SERVERS || undefined) });
  const source = parseYamlSource(foreign === undefined ? yamlText : JSON.stringify(foreign.document), options.fileName);
  const selected = selectStreamDocument(source);
  if ('issues' in selected) {
    const only = source.documents.length === 1 ? source.documents[0] : undefined;
    const locator: IssueLocator = only === undefined ? { fileName: options.fileName, lineOf: () => undefined } : locatorFor(source, only);
    throw configError(selected.issues, locator);
  }
  const { document } = selected;
  const locator = locatorFor(source, document);
  const problems = new ConfigProblems();
  const { keyDocuments, others } = KeyDocuments.read(source, selected.others, namespaceOf(document.toJS()));
  for (const other of others) problems.warn(ignoredDocumentWarning(source, other));

  const unresolved = interpolateDocument(document, env, problems);
  const raw: unknown = document.toJS();
  const kind = streamKindOf(raw);
  if (kind === undefined) throw configError(unknownKindIssues(raw), locator);
  const validation = validateWithSchema(kind.schema, raw);
  if (!validation.ok) {
    for (const issue of validation.issues) if (!unresolved.some((failed) => startsWith(issue.path, failed))) problems.addIssue(issue);
  }
  if (!validation.ok || problems.hasIssues) throw configError(problems.issues, locator);

  const built = await kind.build(validation.data, { cwd, env, secretsDir: options.secretsDir, configMapsDir: options.configMapsDir, keyDocuments, raw }, problems);
  if (built === undefined && !problems.hasIssues) throw new PgcdcError('INTERNAL', `the ${kind.kind} document was valid but could not be turned into a stream configuration`);
  if (built === undefined || problems.hasIssues) throw configError(problems.issues, locator);
  return { ...built, warnings: [...(foreign?.warnings ?? []), ...problems.warningsInOrder(locator)] };
}

function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((part, index) => path[index] === part);
}
