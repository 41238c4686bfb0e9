/**
 * Turns a valid native `pgcdc/v1 Stream` document into a StreamConfig: URL → connection, settings
 * given directly win over the same ones in debeziumProperties, defaults derived from the name,
 * the target built by its type's entry in TARGET_TYPES.
 */
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { buildAlerts } from './alert-settings.js';
import { type ConfigPath, type ConfigProblems, formatPath } from './config-issues.js';
import { connectionFromUrl } from './connection-url-setting.js';
import { buildKafkaSourcedStream } from './kafka-source-settings.js';
import { APPLIED_DEBEZIUM_PROPERTIES, sourceOptionsFromDebezium, type TargetValues } from './debezium-properties.js';
import { NATIVE_API_VERSION, type NativeStreamDocument } from './native-stream-schema.js';
import {
  buildSourceConfig,
  checkHeartbeatSettings,
  checkRowFilterSettings,
  refuseEventOnlySettings,
  sourceHeartbeatIntervalMs,
  type SourceOptionName,
  type SourceOptions,
  sourceOptionsShape,
} from './source-options-schema.js';
import type { BuildContext, BuiltStream } from './stream-kinds.js';
import { buildTarget, targetBuildContext } from './target-types.js';
import { buildNativeTransform, checkTransformFitsTarget } from './transform-target-checks.js';

const SOURCE_PATH: ConfigPath = ['spec', 'source', 'postgres'];

/** The StreamConfig of a valid native document, or undefined after adding problems. */
export async function buildNativeStream(document: NativeStreamDocument, context: BuildContext, problems: ConfigProblems): Promise<BuiltStream | undefined> {
  if (document.spec.source.type === 'Kafka') return buildKafkaSourcedStream(document, context, problems);
  const name = document.metadata.name;
  const postgres = document.spec.source.postgres!;
  const explicit = explicitKeys(context.raw);
  const targetValues = document.spec.target.type === 'Postgres' ? 'rows' : 'events';
  const options = sourceOptions(postgres, explicit, targetValues, problems);
  checkHeartbeatSettings(options, (setting) => (explicit.has(setting) ? [...SOURCE_PATH, setting] : [...SOURCE_PATH, 'debeziumProperties', debeziumKeyFor(setting)]), problems);
  checkRowFilterSettings(options, (setting) => (explicit.has(setting) ? [...SOURCE_PATH, setting] : [...SOURCE_PATH, 'debeziumProperties', debeziumKeyFor(setting)]), problems);
  if (targetValues === 'rows') {
    refuseEventOnlySettings(options, (setting) => (explicit.has(setting) ? [...SOURCE_PATH, setting] : [...SOURCE_PATH, 'debeziumProperties', debeziumKeyFor(setting)]), problems);
  }
  const [connection, target, transform] = await Promise.all([
    connectionFromUrl(postgres.url, [...SOURCE_PATH, 'url'], `pgcdc-${name}`, context.cwd, problems),
    buildTarget(document.spec.target, ['spec', 'target'], problems, targetBuildContext(context, name, sourceHeartbeatIntervalMs(options))),
    buildNativeTransform(document.spec.transform, document.spec.target, context, name, problems),
  ]);
  if (connection === undefined || target === undefined || transform === 'failed') return undefined;
  checkTransformFitsTarget(transform, target, problems);
  return {
    name,
    source: buildSourceConfig(name, connection, postgres, options),
    target,
    maxRetries: document.spec.maxRetries,
    stateDir: path.resolve(context.cwd, document.spec.stateDir ?? path.join('.pgcdc', name)),
    apiVersion: NATIVE_API_VERSION,
    ...(document.spec.alerts === undefined ? {} : { alerts: buildAlerts(document.spec.alerts)! }),
    ...(transform === undefined ? {} : { transform }),
  };
}

type NativePostgresSource = NonNullable<NativeStreamDocument['spec']['source']['postgres']>;

/** The keys written in the document under spec.source.postgres (defaults excluded). */
function explicitKeys(raw: unknown): ReadonlySet<string> {
  let node: unknown = raw;
  for (const key of SOURCE_PATH) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key as string] : undefined;
  return new Set(node !== null && typeof node === 'object' ? Object.keys(node) : []);
}

/** Settings given directly, then debeziumProperties, then defaults; a warning when both disagree. */
function sourceOptions(postgres: NativePostgresSource, explicit: ReadonlySet<string>, target: TargetValues, problems: ConfigProblems): SourceOptions {
  const debeziumPath = [...SOURCE_PATH, 'debeziumProperties'];
  const fromDebezium = sourceOptionsFromDebezium(postgres.debeziumProperties, debeziumPath, problems, target);
  const options: Record<string, unknown> = {};
  for (const key of Object.keys(sourceOptionsShape) as SourceOptionName[]) {
    const debeziumValue = fromDebezium[key];
    if (explicit.has(key) || debeziumValue === undefined) options[key] = postgres[key];
    else options[key] = debeziumValue;
    if (explicit.has(key) && debeziumValue !== undefined && !isDeepStrictEqual(debeziumValue, postgres[key])) {
      const debeziumKey = debeziumKeyFor(key);
      problems.warn(`${formatPath([...debeziumPath, debeziumKey])} is overridden by ${formatPath([...SOURCE_PATH, key])}`, [...debeziumPath, debeziumKey]);
    }
  }
  return options as SourceOptions;
}

function debeziumKeyFor(setting: SourceOptionName): string {
  const entry = Object.entries(APPLIED_DEBEZIUM_PROPERTIES).find(([, applied]) => applied === setting);
  return entry?.[0] ?? setting;
}
