/**
 * Which format a stream file is, by its content first and its extension second, and the native
 * `pgcdc/v1 Stream` document of a file in another tool's format: a Kafka Connect connector (JSON
 * `{"name", "config"}` or a `.properties` file with `name=`), Debezium Server's
 * `application.properties`, or pgstream's `.env` file or YAML. Native and SGStream files are left
 * to the YAML loader (undefined). A file that cannot become a stream is one CONFIG_INVALID error
 * whose line names every key at fault.
 */
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { connectorProblemText, connectorStreamDocument, type ConnectorConversion, type ConnectorDocument, readConnectorDocument } from './connector-config.js';
import { connectorFromProperties, isConnectorProperties, readPropertiesText } from './connector-properties.js';
import { debeziumServerStream, isDebeziumServerProperties } from './debezium-server-config.js';
import { isPgstreamEnv, isPgstreamYaml, pgstreamEnvStream, pgstreamYamlStream, readEnvText, type PgstreamConversion } from './pgstream-config.js';

export interface ForeignFormatOptions {
  /** Names the file in messages; its extension decides when the content does not. */
  readonly fileName?: string;
  /** Brokers of connector formats without their own (`--kafka-bootstrap-servers`, PGCDC_KAFKA_BOOTSTRAP_SERVERS). */
  readonly kafkaBootstrapServers?: string;
}

export interface ForeignStream {
  /** What the file was, for messages: `Kafka Connect connector`, `Debezium Server configuration`, … */
  readonly format: string;
  /** The native Stream document. */
  readonly document: Record<string, unknown>;
  /** The one warning of what does not apply (when something does not). */
  readonly warnings: readonly string[];
}

const NO_BROKERS =
  'no Kafka brokers to write to: give --kafka-bootstrap-servers HOST:PORT (or set PGCDC_KAFKA_BOOTSTRAP_SERVERS), as a Connect worker holds bootstrap.servers; a .properties file may hold bootstrap.servers itself';

/**
 * The native document of `text` when it is in another tool's format, else undefined.
 *
 * @example
 * const foreign = foreignStreamDocument(await readFile('register-postgres.json', 'utf8'), { fileName: 'register-postgres.json', kafkaBootstrapServers: 'kafka:9092' });
 *
 * @throws PgcdcError CONFIG_INVALID when the file is in such a format but cannot become a stream
 */
export function foreignStreamDocument(text: string, options: ForeignFormatOptions = {}): ForeignStream | undefined {
  const fileName = options.fileName ?? 'the stream file';
  const extension = path.extname(options.fileName ?? '').toLowerCase();
  const invalid = (message: string, hint: string): PgcdcError => new PgcdcError('CONFIG_INVALID', message, { hint });

  if (text.trimStart().startsWith('{')) {
    const connector = readConnectorDocument(text);
    return connector === undefined ? undefined : connectorStream(connector, undefined, options, fileName);
  }

  const yamlValue = parsedYaml(text);
  if (isPgstreamYaml(yamlValue)) return pgstreamStream(pgstreamYamlStream(yamlValue as Record<string, unknown>, streamNameOf(options.fileName, 'pgstream')), fileName);
  if (yamlValue !== undefined && typeof yamlValue === 'object' && yamlValue !== null && ('apiVersion' in yamlValue || 'kind' in yamlValue)) return undefined;

  if (isPgstreamEnv(text)) {
    const { variables, problems } = readEnvText(text);
    if (problems.length > 0) throw invalid(`the pgstream environment file ${fileName} cannot be read: ${problems.join('; ')}`, 'write one NAME=value per line; # starts a comment');
    return pgstreamStream(pgstreamEnvStream(variables, streamNameOf(options.fileName, 'pgstream')), fileName);
  }

  const { entries, problems } = readPropertiesText(text);
  if (isDebeziumServerProperties(entries)) {
    if (problems.length > 0) throw invalid(`the Debezium Server configuration ${fileName} cannot run: ${problems.join('; ')}`, `fix the keys named in ${fileName}`);
    const server = debeziumServerStream(entries);
    if (server.conversion === undefined) throw invalid(`the Debezium Server configuration ${fileName} cannot run: ${server.problems.join('; ')}`, `fix the keys named in ${fileName}`);
    const { document, problems: connectorProblems, warnings } = server.conversion;
    if (document === undefined) {
      const lines = connectorProblems.map((problem) => (/^(transforms|predicates)\b/.test(problem.property) ? `${problem.message} (debezium.${problem.property})` : `${problem.message} (debezium.source.${problem.property})`));
      throw invalid(`the Debezium Server configuration ${fileName} cannot run: ${lines.join('; ')}`, `fix the keys named in ${fileName}`);
    }
    return { format: 'Debezium Server configuration', document, warnings };
  }
  if (isConnectorProperties(entries)) {
    const file = connectorFromProperties(entries);
    const all = [...problems, ...file.problems];
    if (file.document === undefined || all.length > 0) throw invalid(`the connector configuration ${fileName} cannot run: ${all.join('; ')}`, `fix the keys named in ${fileName}`);
    return connectorStream(file.document, file.kafkaBootstrapServers, options, fileName);
  }
  if (extension === '.properties') {
    throw invalid(`${fileName} is a .properties file but neither a connector configuration (connector.class=…) nor Debezium Server's (debezium.source.*, debezium.sink.type)`, 'give a Debezium PostgreSQL connector configuration with name= and connector.class=, or Debezium Server\'s application.properties');
  }
  if (extension === '.env') throw invalid(`${fileName} is a .env file without PGSTREAM_ variables`, 'give pgstream\'s configuration: PGSTREAM_POSTGRES_LISTENER_URL=… and a target');
  return undefined;
}

function parsedYaml(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return undefined;
  }
}

/** A Kafka Connect connector's stream; `bootstrap.servers` of the file wins over the option. */
function connectorStream(connector: ConnectorDocument, fileBrokers: string | undefined, options: ForeignFormatOptions, fileName: string): ForeignStream {
  const { 'bootstrap.servers': configBrokers, ...config } = connector.config;
  const brokers = fileBrokers ?? (configBrokers === undefined ? undefined : String(configBrokers)) ?? options.kafkaBootstrapServers;
  if (brokers === undefined || brokers.trim() === '') {
    throw new PgcdcError('CONFIG_INVALID', `connector ${connector.name} cannot run: ${NO_BROKERS}`, { hint: `name the brokers the connector's topics are written to (${fileName})` });
  }
  const conversion: ConnectorConversion = connectorStreamDocument(connector.name, config, { kafkaBootstrapServers: brokers });
  if (conversion.document === undefined) throw new PgcdcError('CONFIG_INVALID', connectorProblemText(connector.name, conversion.problems), { hint: `fix the connector's config (${fileName})` });
  return { format: 'Kafka Connect connector', document: conversion.document, warnings: conversion.warnings };
}

function pgstreamStream(conversion: PgstreamConversion, fileName: string): ForeignStream {
  if (conversion.document === undefined) {
    throw new PgcdcError('CONFIG_INVALID', `the pgstream configuration ${fileName} cannot run: ${conversion.problems.join('; ')}`, { hint: `fix the settings named in ${fileName}` });
  }
  return { format: 'pgstream configuration', document: conversion.document, warnings: conversion.warnings };
}

/** A stream name from a file name (`pg2kafka.env` → `pg2kafka`): lower case, letters, digits and `-`. */
function streamNameOf(fileName: string | undefined, fallback: string): string {
  const base = fileName === undefined ? '' : path.basename(fileName).replace(/\.[^.]*$/, '');
  return base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || fallback;
}
