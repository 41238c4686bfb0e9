/**
 * A real schema registry for the Avro tests: Apicurio Registry (in-memory storage) built from Maven
 * Central by `test/jvm/resolve.sh apicurio`, started as a child process on a loopback port, with its
 * Confluent-compatible API at `/apis/ccompat/v6`; plus the tests' independent Avro reader
 * (test/jvm/AvroTopicDump.java: Kafka's Java consumer and Apache Avro's Java library, writer schemas
 * fetched by id from the registry).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { ensureKafkaJars } from './kafka-cluster.js';
import { freeLoopbackPort, ServerProcess } from './server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = path.join(ROOT, '.jvm', 'apicurio', 'lib');
const RUNNER = path.join(LIB, 'apicurio-registry-runner-1-runner.jar');

export interface SchemaRegistry {
  /** Base URL of the Confluent-compatible API (what `schema.registry.url` names). */
  readonly url: string;
  /** The registry's native API base (what Apicurio's own converter names: `apicurio.registry.url`). */
  readonly nativeUrl: string;
  subjects(): Promise<string[]>;
  versions(subject: string): Promise<number[]>;
  /** The schema text of `subject` at `version`, and its id. */
  schema(subject: string, version: number | 'latest'): Promise<{ id: number; schema: string }>;
  /** Sets a subject's compatibility level (BACKWARD, FULL …). */
  setCompatibility(subject: string, level: string): Promise<void>;
  stop(): Promise<void>;
}

/** A decoded record of AvroTopicDump. */
export interface AvroRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly keySchemaId: number | null;
  readonly key: any;
  readonly valueSchemaId: number | null;
  readonly value: any;
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 28, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(new Error(`${command} failed: ${error.message}\n${stderr.slice(-4000)}`));
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

let resolved: Promise<void> | undefined;

/** Builds the registry (once per process; resolve.sh skips the work when the pom is unchanged). */
function ensureRegistryBuilt(): Promise<void> {
  resolved ??= run('bash', [path.join(ROOT, 'test', 'jvm', 'resolve.sh'), 'apicurio'], 15 * 60_000).then((result) => {
    if (result.code !== 0 || !fs.existsSync(RUNNER)) throw new Error(`test/jvm/resolve.sh apicurio failed (${result.code}): ${result.stderr.slice(-4000)}`);
  });
  resolved.catch(() => (resolved = undefined));
  return resolved;
}

export async function startSchemaRegistry(): Promise<SchemaRegistry> {
  await ensureRegistryBuilt();
  const port = await freeLoopbackPort();
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/apis/ccompat/v6`;
  const server = await ServerProcess.start({
    name: 'apicurio-registry',
    command: 'java',
    args: ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-jar', RUNNER],
    env: { HTTP_PORT: String(port), QUARKUS_HTTP_HOST: '127.0.0.1', QUARKUS_LOG_LEVEL: 'WARN' },
    ready: async () => (await fetch(`${url}/subjects`)).ok,
    startTimeoutMs: 120_000,
  });
  const json = async (route: string, init?: RequestInit): Promise<any> => {
    const response = await fetch(`${url}${route}`, { ...init, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' } });
    const text = await response.text();
    if (!response.ok) throw new Error(`registry ${init?.method ?? 'GET'} ${route}: HTTP ${response.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    url,
    nativeUrl: `${origin}/apis/registry/v2`,
    subjects: async () => ((await json('/subjects')) as string[]).sort(),
    versions: (subject) => json(`/subjects/${encodeURIComponent(subject)}/versions`),
    schema: async (subject, version) => {
      const body = await json(`/subjects/${encodeURIComponent(subject)}/versions/${version}`);
      return { id: body.id, schema: body.schema };
    },
    setCompatibility: async (subject, level) => {
      await json(`/config/${encodeURIComponent(subject)}`, { method: 'PUT', body: JSON.stringify({ compatibility: level }) });
    },
    stop: () => server.stop(),
  };
}

/** Starts one registry for the current test file and stops it afterwards. */
export function useSchemaRegistry(): () => SchemaRegistry {
  let registry: SchemaRegistry | undefined;
  beforeAll(async () => {
    registry = await startSchemaRegistry();
  }, 15 * 60_000);
  afterAll(async () => {
    await registry?.stop();
  });
  return () => {
    if (!registry) throw new Error('schema registry not started');
    return registry;
  };
}

/**
 * Every record of the topics whose whole name matches `topicRegex`, decoded from Avro by
 * AvroTopicDump (waits until `expected` records are there, 60 s at most).
 */
export async function readAvroTopics(bootstrapServers: string, registryUrl: string, topicRegex: string, expected: number): Promise<AvroRecord[]> {
  await ensureRegistryBuilt();
  const { lib } = await ensureKafkaJars();
  const avroJar = fs.readdirSync(path.join(LIB, 'lib')).find((name) => name.startsWith('org.apache.avro.avro-'));
  if (avroJar === undefined) throw new Error('no Apache Avro jar in .jvm/apicurio/lib/lib');
  const classpath = `${lib}/*${path.delimiter}${path.join(LIB, 'lib', avroJar)}`;
  const result = await run('java', ['-Xmx256m', '-XX:+UseSerialGC', '-cp', classpath, path.join(ROOT, 'test', 'jvm', 'AvroTopicDump.java'), bootstrapServers, registryUrl, topicRegex, String(expected), '60000'], 120_000);
  if (result.code !== 0) throw new Error(`AvroTopicDump exited with ${result.code}: ${result.stderr.slice(-4000)}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AvroRecord);
}
