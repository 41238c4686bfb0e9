/**
 * Reads one transform's or predicate's options (`transforms.<name>.<option>`) the way Kafka's
 * ConfigDef does (trimmed lists, case-insensitive booleans, required values, Java regexes),
 * collecting one problem line per bad option, each naming the full property.
 */
import { nearestName } from '../../../config/nearest-name.js';
import { javaRegex } from './java-regex.js';

export class TransformOptions {
  /** `transforms.<name>.` or `predicates.<name>.` */
  readonly prefix: string;
  readonly #values: ReadonlyMap<string, string>;
  readonly #problems: string[];
  readonly #known = new Set<string>();

  constructor(prefix: string, values: ReadonlyMap<string, string>, problems: string[]) {
    this.prefix = prefix;
    this.#values = values;
    this.#problems = problems;
  }

  /** Adds a problem about option `name`; `message` follows the property name. */
  problem(name: string, message: string): void {
    this.#problems.push(`${this.prefix}${name} ${message}`);
  }

  /** The option's text, or undefined when it is not set. */
  string(name: string): string | undefined {
    this.#known.add(name);
    return this.#values.get(name);
  }

  /** The option's text; a problem when it is missing or empty. */
  required(name: string, meaning: string): string | undefined {
    const value = this.string(name);
    if (value === undefined || value.trim() === '') {
      this.#problems.push(`${this.prefix}${name} is missing: set it to ${meaning}`);
      return undefined;
    }
    return value;
  }

  /** ConfigDef's BOOLEAN: true or false in any case. */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name)?.trim();
    if (value === undefined) return fallback;
    if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    this.problem(name, `is ${JSON.stringify(value)}; expected true or false`);
    return fallback;
  }

  /** ConfigDef's LIST: comma-separated, each entry trimmed, empty text an empty list. */
  list(name: string): string[] {
    const value = this.string(name);
    if (value === undefined || value.trim() === '') return [];
    return value.split(',').map((item) => item.trim());
  }

  /** One of `choices` (case-insensitive, as Debezium's enumerated fields). */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.string(name)?.trim();
    if (value === undefined) return fallback;
    const found = choices.find((choice) => choice.toLowerCase() === value.toLowerCase());
    if (found !== undefined) return found;
    this.problem(name, `is ${JSON.stringify(value)}; expected one of ${choices.join(', ')}`);
    return fallback;
  }

  /** A Java regular expression (whole-name match), or undefined (not set, or a problem). */
  regex(name: string, required: boolean, meaning: string): RegExp | undefined {
    const text = required ? this.required(name, meaning) : this.string(name);
    if (text === undefined || text.trim() === '') return undefined;
    try {
      return javaRegex(text);
    } catch (error) {
      this.problem(name, `is ${JSON.stringify(text)}, which is not a valid regular expression: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Adds a problem for each option that none of the reads asked for, with the nearest known name. */
  rejectUnknown(what: string): void {
    const known = [...this.#known];
    for (const name of this.#values.keys()) {
      if (this.#known.has(name)) continue;
      const near = nearestName(name, known);
      this.#problems.push(
        `${this.prefix}${name} is not an option of ${what} pgcdc knows${near === undefined ? '' : `; did you mean ${this.prefix}${near}?`} (its options: ${known.join(', ')})`,
      );
    }
  }
}
