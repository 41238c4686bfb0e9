/**
 * Builds stream specs for tests and reads what a File target wrote.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseStreamConfig, type StreamConfigOptions } from '../../src/config/load-stream-config.js';
import type { KafkaSourceConfig, StreamConfig } from '../../src/config/stream-config.js';

let counter = 0;

/** A temporary directory removed by the OS eventually; tests remove it when they can. */
export function tempDir(prefix = 'pgcdc-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestStreamOptions {
  readonly url: string;
  readonly name?: string;
  readonly dir?: string;
  /** Extra lines under spec.source.postgres (YAML, indented by the helper). */
  readonly source?: Record<string, unknown>;
  readonly target?: Record<string, unknown>;
  readonly maxRetries?: number;
}

/** Writes a native stream spec with a File target and returns it parsed, plus the file paths. */
export async function fileStream(options: TestStreamOptions): Promise<{ config: StreamConfig; specFile: string; outFile: string; dir: string }> {
  const dir = options.dir ?? tempDir();
  const name = options.name ?? `s${process.pid}x${++counter}`;
  const outFile = path.join(dir, 'events.ndjson');
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name },
    spec: {
      source: { type: 'Postgres', postgres: { url: options.url, snapshotMode: 'never', ...options.source } },
      target: { type: 'File', file: { path: outFile, ...options.target } },
      maxRetries: options.maxRetries ?? 5,
      stateDir: path.join(dir, 'state'),
    },
  };
  const specFile = path.join(dir, 'stream.yaml');
  const text = JSON.stringify(spec, null, 2); // JSON is YAML
  fs.writeFileSync(specFile, text);
  return { config: await parseStreamConfig(text, { fileName: specFile }), specFile, outFile, dir };
}

export interface TargetStreamOptions {
  readonly url: string;
  /** `spec.target` of the document. */
  readonly target: Record<string, unknown>;
  readonly name: string;
  readonly dir: string;
  /** Keys of spec.source.postgres besides url (snapshotMode defaults to never). */
  readonly source?: Record<string, unknown>;
  readonly maxRetries?: number;
  /** How the spec is loaded besides `cwd` (a secrets or config maps directory). */
  readonly load?: StreamConfigOptions;
}

/** Writes a native stream spec to `<dir>/stream.yaml` (state in `<dir>/state`) and returns it parsed from `dir`. */
export async function targetStream(options: TargetStreamOptions): Promise<{ config: StreamConfig; specFile: string; dir: string }> {
  const { dir } = options;
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: options.name },
    spec: {
      source: { type: 'Postgres', postgres: { url: options.url, snapshotMode: 'never', ...options.source } },
      target: options.target,
      maxRetries: options.maxRetries ?? 0,
      stateDir: path.join(dir, 'state'),
    },
  };
  const specFile = path.join(dir, 'stream.yaml');
  const text = JSON.stringify(spec, null, 2); // JSON is YAML
  fs.writeFileSync(specFile, text);
  return { config: await parseStreamConfig(text, { ...options.load, fileName: specFile, cwd: dir }), specFile, dir };
}

/** Parses every line of an NDJSON file (missing file = no lines). */
export function readEvents(file: string): any[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

/**
 * Writes a native stream spec reading change topics from Kafka (`spec.source.kafka`, with a group
 * that notices a member leaving within seconds) into `target`; returns the spec file.
 */
export function kafkaSourcedSpec(dir: string, name: string, kafka: Record<string, unknown>, target: Record<string, unknown>, maxRetries = 5): string {
  const specFile = path.join(dir, `${name}.yaml`);
  const spec = {
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name },
    spec: {
      source: { type: 'Kafka', kafka: { sessionTimeout: '6s', heartbeatInterval: '1s', rebalanceTimeout: '15s', ...kafka } },
      target,
      maxRetries,
      stateDir: path.join(dir, `${name}-state`),
    },
  };
  fs.writeFileSync(specFile, JSON.stringify(spec, null, 2));
  return specFile;
}

/** A Kafka source's settings as the config gives them, for tests driving ChangeTopicConsumer itself. */
export function kafkaSourceConfig(bootstrapServers: string, groupId: string, topics: readonly string[], more: Partial<KafkaSourceConfig> = {}): KafkaSourceConfig {
  return {
    bootstrapServers: bootstrapServers.split(','),
    clientId: `test-${groupId}`,
    groupId,
    topics,
    topicPattern: undefined,
    topicRefreshIntervalMs: 60_000,
    startFrom: 'earliest',
    isolationLevel: 'read_committed',
    tls: undefined,
    sasl: undefined,
    schemaRegistry: undefined,
    invalidRecords: 'stop',
    deadLetterFile: '/dev/null',
    maxBatchRecords: 50,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
    ...more,
  };
}
