/**
 * Problems found in a stream document and how they are told: each names its path, what was
 * found and what is allowed; all of them are gathered and thrown as one PgcdcError, one per line.
 */
import { PgcdcError } from '../errors/pgcdc-error.js';
import { isSensitiveKey, REDACTED, redactUrlsIn } from './redact-config.js';

/** A path into the document, e.g. `['spec', 'source', 'postgres', 'includes', 1]`. */
export type ConfigPath = readonly (string | number)[];

/** One problem: the full sentence (starting with the path), and how to fix it when known. */
export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly text: string;
  readonly hint?: string;
  readonly code?: 'CONFIG_INVALID' | 'SECRET_NOT_FOUND';
}

/** Where the document came from, to prefix each problem with `file:line:`. */
export interface IssueLocator {
  readonly fileName: string | undefined;
  /** The 1-based line of the deepest key of the path that exists in the document. */
  lineOf(path: ConfigPath): number | undefined;
}

export const DEFAULT_CONFIG_HINT = 'see docs/configuration.md for every key, its type, allowed values and default';

/**
 * `spec.source.postgres.includes[1]`; keys that are not plain words are quoted:
 * `metadata.annotations["debezium-signal.stackgres.io/tombstone"]`.
 */
export function formatPath(path: ConfigPath): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) text += text === '' ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text === '' ? '(document root)' : text;
}

/**
 * What was found, for a message: `"initil"`, `-5`, `true`, `a list`, `a map`, `empty (null)`.
 * Values under secret-looking keys are hidden and URLs have their passwords masked.
 */
export function describeValue(value: unknown, path: ConfigPath = []): string {
  const key = path.length > 0 ? path[path.length - 1] : undefined;
  if (typeof value === 'string') {
    if (key !== undefined && isSensitiveKey(key)) return `a string (${REDACTED})`;
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(redactUrlsIn(shown));
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'empty (null)';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  return 'a map';
}

/** `value` as a sentence subject when the type matters: `"3" (a string)`, `a list`, `1.5`. */
export function describeValueWithType(value: unknown, path: ConfigPath = []): string {
  const shown = describeValue(value, path);
  return typeof value === 'string' && !shown.startsWith('a string') ? `${shown} (a string)` : shown;
}

/** Something accepted but not applied, and where (to list warnings in document order). */
export interface ConfigWarning {
  readonly path: ConfigPath | undefined;
  readonly text: string;
}

/** Gathers problems and warnings while a document is checked and turned into a StreamConfig. */
export class ConfigProblems {
  readonly issues: ConfigIssue[] = [];
  readonly #warnings: ConfigWarning[] = [];

  /** Adds `<path> <tail>` as a problem. */
  add(path: ConfigPath, tail: string, options: { hint?: string; code?: ConfigIssue['code'] } = {}): void {
    this.issues.push({ path, text: `${formatPath(path)} ${tail}`, ...options });
  }

  /** Adds a problem whose sentence is already complete. */
  addIssue(issue: ConfigIssue): void {
    this.issues.push(issue);
  }

  /** Adds a warning about the key at `path` (or about the whole file). */
  warn(text: string, path?: ConfigPath): void {
    if (!this.#warnings.some((warning) => warning.text === text)) this.#warnings.push({ path, text });
  }

  /** `<path> is accepted but not applied by pgcdc` (with an optional reason). */
  warnNotApplied(path: ConfigPath, reason?: string): void {
    this.warn(`${formatPath(path)} is accepted but not applied by pgcdc${reason === undefined ? '' : ` (${reason})`}`, path);
  }

  /** The warnings, those about the whole file first, then in document order. */
  warningsInOrder(locator: IssueLocator): string[] {
    const line = (warning: ConfigWarning): number => (warning.path === undefined ? 0 : (locator.lineOf(warning.path) ?? 0));
    return [...this.#warnings].sort((a, b) => line(a) - line(b)).map((warning) => warning.text);
  }

  get hasIssues(): boolean {
    return this.issues.length > 0;
  }
}

/**
 * The one error for a list of problems: one problem per line, each prefixed with `file:line:`,
 * so the first line alone says what is wrong and where. Configuration problems come before
 * unresolved secrets, each in document order; the code and the hint are those of the first line.
 */
export function configError(issues: readonly ConfigIssue[], locator: IssueLocator): PgcdcError {
  const line = (issue: ConfigIssue): number => locator.lineOf(issue.path) ?? 0;
  const ordered = [...issues].sort((a, b) => rank(a) - rank(b) || line(a) - line(b));
  const lines = ordered.map((issue) => `${locationPrefix(issue.path, locator)}${issue.text}`);
  const first = ordered[0];
  const hint = first?.hint ?? DEFAULT_CONFIG_HINT;
  return new PgcdcError(first?.code ?? 'CONFIG_INVALID', lines.join('\n'), { hint });
}

function rank(issue: ConfigIssue): number {
  return issue.code === 'SECRET_NOT_FOUND' ? 1 : 0;
}

function locationPrefix(path: ConfigPath, locator: IssueLocator): string {
  const line = locator.lineOf(path);
  if (locator.fileName === undefined) return line === undefined ? '' : `line ${line}: `;
  return line === undefined ? `${locator.fileName}: ` : `${locator.fileName}:${line}: `;
}
