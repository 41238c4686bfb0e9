/**
 * `${VAR}` and `${VAR:-default}` in string values of a stream document, replaced from the
 * environment before validation; `$${` stands for a literal `${`. Keys are never interpolated.
 */
import { type Document, isMap, isScalar, isSeq, parse as parseYamlScalar, Scalar } from 'yaml';
import type { ConfigPath, ConfigProblems } from './config-issues.js';

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

const LITERAL_HINT = 'export the variable, give a default with ${NAME:-value}, or write $${ for a literal ${';

/** The result of interpolating one string: its value, or the problems (`uses …` tails). */
export type Interpolated = { readonly value: string } | { readonly problems: readonly string[] };

/**
 * Replaces the references in `text`. `${NAME:-default}` uses the default when NAME is unset or
 * empty; `${NAME}` with NAME unset is a problem; `$${` gives `${`.
 *
 * @example
 * interpolateString('postgres://${PGUSER}@${PGHOST:-localhost}/app', { PGUSER: 'cdc' });
 * // { value: 'postgres://cdc@localhost/app' }
 */
export function interpolateString(text: string, env: NodeJS.ProcessEnv): Interpolated {
  let value = '';
  const problems: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      value += '${';
      i = dollar + 3;
      continue;
    }
    if (text[dollar + 1] !== '{') {
      value += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) {
      problems.push(`has "\${" without a closing "}"; expected \${NAME} or \${NAME:-default} (write $\${ for a literal \${)`);
      break;
    }
    const inner = text.slice(dollar + 2, close);
    const match = REFERENCE.exec(inner);
    if (match === null) {
      problems.push(`has "\${${inner}}", which is not a variable reference; expected \${NAME} or \${NAME:-default} (write $\${ for a literal \${)`);
    } else {
      const [, name, fallback] = match;
      const set = env[name];
      if (fallback !== undefined && (set === undefined || set === '')) value += fallback;
      else if (set !== undefined) value += set;
      else problems.push(`uses \${${name}}, but the environment variable ${name} is not set; expected it set, or a default: \${${name}:-value}`);
    }
    i = close + 1;
  }
  return problems.length > 0 ? { problems } : { value };
}

/**
 * Interpolates every string value of `document` in place, adding a CONFIG_INVALID problem per
 * failed reference. An unquoted value that becomes a number or true/false takes that type
 * (`port: ${PGPORT}`); quoted values stay strings. Returns the paths that failed.
 */
export function interpolateDocument(document: Document, env: NodeJS.ProcessEnv, problems: ConfigProblems): ConfigPath[] {
  const failed: ConfigPath[] = [];
  const visit = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) visit(pair.value, [...path, isScalar(pair.key) ? String(pair.key.value) : String(pair.key)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      const result = interpolateString(node.value, env);
      if ('problems' in result) {
        failed.push(path);
        for (const problem of result.problems) problems.add(path, problem, { hint: LITERAL_HINT });
      } else {
        node.value = node.type === Scalar.PLAIN && result.value !== node.value ? typedPlainValue(result.value) : result.value;
      }
    }
  };
  visit(document.contents, []);
  return failed;
}

/** How YAML would read `text` as an unquoted value, kept only when it is a number or boolean. */
function typedPlainValue(text: string): string | number | boolean {
  try {
    const value: unknown = parseYamlScalar(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : text;
  } catch {
    return text;
  }
}
