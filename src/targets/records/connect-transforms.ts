/**
 * Kafka Connect's transform chain from a connector configuration's flat properties (`transforms`,
 * `transforms.<name>.type`, `transforms.<name>.<option>`, `transforms.<name>.predicate` /
 * `.negate`, `predicates`, `predicates.<name>.type`, `predicates.<name>.<option>`): the supported
 * transforms, applied in order, or one problem line per bad property. Each transform lives in
 * connect-transforms/.
 */
import type { ConnectRecord, ConnectTransform } from './connect-record.js';
import { extractNewRecordState } from './connect-transforms/extract-new-record-state.js';
import { KAFKA_TRANSFORMS } from './connect-transforms/kafka-transforms.js';
import { logicalTableRouter } from './connect-transforms/logical-table-router.js';
import { PREDICATES, type ConnectPredicate } from './connect-transforms/predicates.js';
import { TransformOptions } from './connect-transforms/transform-options.js';

type TransformFactory = (options: TransformOptions) => ConnectTransform | undefined;

/** The supported transforms by their full class name. */
export const CONNECT_TRANSFORMS: Readonly<Record<string, TransformFactory>> = {
  'io.debezium.transforms.ExtractNewRecordState': extractNewRecordState,
  'io.debezium.transforms.ByLogicalTableRouter': logicalTableRouter('__dbz__physicalTableIdentifier', 'ByLogicalTableRouter'),
  'io.debezium.transforms.ToLogicalTopicRouter': logicalTableRouter('__dbz__sourceIdentifier', 'ToLogicalTopicRouter'),
  ...KAFKA_TRANSFORMS,
};

/** The names a plugin class is known by in Kafka Connect: its full name and its simple name (Connect's aliases). */
function classByName<T>(classes: Readonly<Record<string, T>>, name: string): T | undefined {
  const trimmed = name.trim();
  if (Object.hasOwn(classes, trimmed)) return classes[trimmed];
  const full = Object.keys(classes).find((candidate) => candidate.slice(candidate.lastIndexOf('.') + 1) === trimmed);
  return full === undefined ? undefined : classes[full];
}

/** Connect's list of names (`transforms=a,b`), trimmed, empty entries left out. */
function names(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((name) => name.trim()).filter(Boolean);
}

/** The options under `prefix` (`transforms.a.`), without the prefix, except the listed chain keys. */
function optionsUnder(properties: Readonly<Record<string, string>>, prefix: string, except: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const [key, value] of Object.entries(properties)) {
    if (!key.startsWith(prefix)) continue;
    const option = key.slice(prefix.length);
    if (!except.includes(option)) options.set(option, String(value));
  }
  return options;
}

/** A transform applied only to records its predicate selects (Connect's `predicate` and `negate`). */
function predicated(transform: ConnectTransform, predicate: ConnectPredicate, negate: boolean): ConnectTransform {
  return { apply: (record: ConnectRecord) => (predicate(record) !== negate ? transform.apply(record) : record) };
}

/**
 * The transform chain of a connector configuration's properties, or the problems that prevent it
 * (each names the property it is about and says what to write).
 *
 * @example
 * connectTransformChain({ transforms: 'unwrap', 'transforms.unwrap.type': 'io.debezium.transforms.ExtractNewRecordState' });
 */
export function connectTransformChain(properties: Readonly<Record<string, string>>): { transforms: ConnectTransform[] } | { problems: string[] } {
  const problems: string[] = [];
  const transformNames = names(properties.transforms);
  const predicateNames = names(properties.predicates);
  for (const [list, listed] of [['transforms', transformNames], ['predicates', predicateNames]] as const) {
    const seen = new Set<string>();
    for (const name of listed) {
      if (seen.has(name)) problems.push(`${list} names ${name} twice; name each ${list === 'transforms' ? 'transform' : 'predicate'} once`);
      seen.add(name);
    }
    for (const key of Object.keys(properties)) {
      const name = /^(?:transforms|predicates)\.([^.]+)\./.exec(key)?.[1];
      if (key.startsWith(`${list}.`) && name !== undefined && !listed.includes(name)) {
        problems.push(`${key} belongs to ${list === 'transforms' ? 'a transform' : 'a predicate'} named ${name}, which ${list} does not list (it is ${JSON.stringify(properties[list] ?? '')}); add ${name} to ${list} or remove the property`);
      } else if (key.startsWith(`${list}.`) && name === undefined) {
        problems.push(`${key} is not a property of a ${list === 'transforms' ? 'transform' : 'predicate'}: write ${list}.<name>.<option>`);
      }
    }
  }

  const predicates = new Map<string, ConnectPredicate>();
  for (const name of new Set(predicateNames)) {
    const type = properties[`predicates.${name}.type`];
    const options = new TransformOptions(`predicates.${name}.`, optionsUnder(properties, `predicates.${name}.`, ['type']), problems);
    if (type === undefined || type.trim() === '') {
      problems.push(`predicates.${name}.type is missing: set it to one of ${Object.keys(PREDICATES).join(', ')}`);
      continue;
    }
    const factory = classByName(PREDICATES, type);
    if (factory === undefined) {
      problems.push(`predicates.${name}.type is ${type}, a predicate pgcdc does not support; supported: ${Object.keys(PREDICATES).join(', ')}`);
      continue;
    }
    const predicate = factory(options);
    if (predicate !== undefined) predicates.set(name, predicate);
  }

  const transforms: ConnectTransform[] = [];
  for (const name of new Set(transformNames)) {
    const prefix = `transforms.${name}.`;
    const type = properties[`${prefix}type`];
    if (type === undefined || type.trim() === '') {
      problems.push(`${prefix}type is missing: set it to the transform's class, one of ${Object.keys(CONNECT_TRANSFORMS).join(', ')}`);
      continue;
    }
    const factory = classByName(CONNECT_TRANSFORMS, type);
    if (factory === undefined) {
      problems.push(`${prefix}type is ${type}, a transform pgcdc does not support; supported: ${Object.keys(CONNECT_TRANSFORMS).join(', ')}`);
      continue;
    }
    const options = new TransformOptions(prefix, optionsUnder(properties, prefix, ['type', 'predicate', 'negate']), problems);
    const negateText = properties[`${prefix}negate`]?.trim();
    if (negateText !== undefined && !/^(true|false)$/i.test(negateText)) problems.push(`${prefix}negate is ${JSON.stringify(negateText)}; expected true or false`);
    const negate = negateText?.toLowerCase() === 'true';
    const predicateName = properties[`${prefix}predicate`]?.trim();
    if (predicateName === undefined || predicateName === '') {
      if (negateText !== undefined) problems.push(`${prefix}negate is set, but ${prefix}predicate is not: name the predicate to negate, or remove negate`);
    } else if (!predicateNames.includes(predicateName)) {
      problems.push(`${prefix}predicate is ${predicateName}, which predicates does not list (it is ${JSON.stringify(properties.predicates ?? '')}); add it to predicates with predicates.${predicateName}.type`);
    }
    const transform = factory(options);
    if (transform === undefined) continue;
    const predicate = predicateName ? predicates.get(predicateName) : undefined;
    transforms.push(predicate === undefined ? transform : predicated(transform, predicate, negate));
  }
  return problems.length > 0 ? { problems } : { transforms };
}

/** A problem of connectTransformChain as the property it is about (its first word) and what is wrong with it. */
export function transformProblemParts(problem: string): { property: string; rest: string } {
  const space = problem.indexOf(' ');
  return { property: problem.slice(0, space), rest: problem.slice(space + 1) };
}

/** `record` through `transforms` in order; null when one drops it. */
export function applyConnectTransforms(transforms: readonly ConnectTransform[], record: ConnectRecord): ConnectRecord | null {
  let current: ConnectRecord | null = record;
  for (const transform of transforms) {
    if (current === null) return null;
    current = transform.apply(current);
  }
  return current;
}
