/**
 * Java `.properties` text (java.util.Properties rules: `=`, `:` or white space between key and
 * value, `#`/`!` comments, `\` continuation lines, escapes such as `\uXXXX`) read into its keys,
 * and a Debezium PostgreSQL connector configuration written that way (the keys of the JSON
 * `config`, plus `name=`, as Kafka Connect's standalone worker reads it) turned into a
 * ConnectorDocument. Parsing is dot-properties'; every problem names its key and line.
 */
import { parseLines } from 'dot-properties';
import type { ConnectorDocument } from './connector-config.js';

/** One key of a .properties text, with the line it starts on (1-based). */
export interface PropertyEntry {
  readonly value: string;
  readonly line: number;
}

export interface PropertiesText {
  /** Every key, in the order of the text; a key given twice keeps its last value (as Java). */
  readonly entries: ReadonlyMap<string, PropertyEntry>;
  /** One line each: keys given twice. */
  readonly problems: readonly string[];
}

/** The keys of a .properties text. */
export function readPropertiesText(text: string): PropertiesText {
  const lineStarts = [0];
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lineStarts.push(index + 1);
  const lineOf = (offset: number): number => {
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= offset) line++;
    return line + 1;
  };
  const entries = new Map<string, PropertyEntry>();
  const problems: string[] = [];
  for (const node of parseLines(text, true)) {
    if (node.type !== 'PAIR') continue;
    const pair = node as unknown as { key: string; value: string; range: [number, ...number[]] };
    const line = lineOf(pair.range[0]);
    const earlier = entries.get(pair.key);
    if (earlier !== undefined) problems.push(`${pair.key} is set twice (lines ${earlier.line} and ${line}); keep one of them`);
    entries.delete(pair.key);
    entries.set(pair.key, { value: pair.value, line });
  }
  return { entries, problems };
}

/** Whether a .properties text's keys are a Kafka Connect connector configuration. */
export function isConnectorProperties(entries: ReadonlyMap<string, PropertyEntry>): boolean {
  return entries.has('connector.class') && ![...entries.keys()].some((key) => key.startsWith('debezium.'));
}

export interface ConnectorPropertiesFile {
  readonly document?: ConnectorDocument;
  /** `bootstrap.servers` of the file (a standalone worker's key), when given. */
  readonly kafkaBootstrapServers?: string;
  readonly problems: readonly string[];
}

/**
 * The connector of a `.properties` file: `name` names it, every other key is its config;
 * `bootstrap.servers` (the worker's brokers, when the file holds them too) is taken out.
 *
 * @example
 * connectorFromProperties(readPropertiesText('name=inventory\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n…').entries);
 */
export function connectorFromProperties(entries: ReadonlyMap<string, PropertyEntry>): ConnectorPropertiesFile {
  const problems: string[] = [];
  const config: Record<string, string> = {};
  let kafkaBootstrapServers: string | undefined;
  for (const [key, { value }] of entries) {
    if (key === 'bootstrap.servers') kafkaBootstrapServers = value;
    else if (key !== 'name') config[key] = value;
  }
  const name = entries.get('name')?.value.trim();
  if (name === undefined || name === '') problems.push('name is missing: add name=<connector name> to the file (it names the stream, its slot and its state)');
  if (problems.length > 0) return { problems };
  return { document: { name: name!, config }, problems, ...(kafkaBootstrapServers === undefined ? {} : { kafkaBootstrapServers }) };
}
