/**
 * `spec.transform` against the stream's target: built for targets that receive events, refused
 * for a Postgres target (it copies rows as they are) and, for added fields, for records with a
 * Kafka Connect schema (which describes the table's columns only).
 */
import type { ConfigMapSources } from './config-map-resolver.js';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { recordTarget, type TargetConfig } from './stream-config.js';
import { buildTransform, type TransformConfig, type TransformSettings } from './transform-settings.js';

const TRANSFORM_PATH: ConfigPath = ['spec', 'transform'];

/** The TransformConfig of `spec.transform` (undefined when absent), or `failed` after adding a problem. */
export async function buildNativeTransform(
  settings: TransformSettings | undefined,
  target: { readonly type: TargetConfig['type'] },
  sources: ConfigMapSources & { readonly cwd: string },
  streamName: string,
  problems: ConfigProblems,
): Promise<TransformConfig | undefined | 'failed'> {
  if (settings === undefined) return undefined;
  if (target.type === 'Postgres') {
    problems.add(TRANSFORM_PATH, 'is not applied by a Postgres target, which copies rows as they are and applies changes by the table\'s own key', {
      hint: 'remove spec.transform, or stream to a target that receives events (File, Kafka, CloudEvent, Webhook, …)',
    });
    return 'failed';
  }
  return (await buildTransform(settings, TRANSFORM_PATH, sources, streamName, problems)) ?? 'failed';
}

/** Adds a problem when the built target cannot carry what the transform asks for. */
export function checkTransformFitsTarget(transform: TransformConfig | undefined, target: TargetConfig, problems: ConfigProblems): void {
  if (transform === undefined || transform.addFields.length === 0) return;
  if (recordTarget(target)?.schemasEnable === true) {
    problems.add([...TRANSFORM_PATH, 'addFields'], 'cannot be used with schemasEnable: true, as the Kafka Connect schema of each record describes the table\'s columns only', {
      hint: 'remove addFields, or set schemasEnable: false on the target',
    });
  }
}
