/**
 * A real NATS server (Debian's nats-server, JetStream on) for the NATS JetStream target's tests: a
 * free loopback port, its store in a temporary directory, an optional configuration file (auth,
 * TLS, max_payload); stopped, killed with -9 and started again on the same port and data. Reads a
 * JetStream stream back with its own client (direct get of every sequence, independent of pgcdc)
 * as records in the oracles' shape (test/support/kafka-cluster.ts's KafkaRecord).
 */
import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll } from 'vitest';
import type { KafkaRecord } from './kafka-cluster.js';
import { acceptsConnections, ensureProgram, freeLoopbackPort, ServerProcess } from './server-process.js';
import { tempDir } from './stream-fixtures.js';

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly process: ServerProcess;
  /** Connects a client of the tests (the server's credentials given in `options`). */
  client(options?: Record<string, unknown>): Promise<{ connection: NatsConnection; manager: JetStreamManager }>;
  /** Every message of `stream`, in stream order, as records (`topic` = subject, `offset` = stream sequence). */
  readStream(stream: string, options?: Record<string, unknown>): Promise<KafkaRecord[]>;
  stop(): Promise<void>;
}

/**
 * Starts nats-server with JetStream; `config` is the text of a configuration file (its `listen`,
 * `jetstream` store and `http` are set by the harness).
 */
export async function startNatsServer(config = ''): Promise<NatsServer> {
  const program = ensureProgram('nats-server', 'nats-server');
  const port = await freeLoopbackPort();
  const dir = tempDir('pgcdc-nats-');
  const configFile = path.join(dir, 'nats.conf');
  fs.writeFileSync(configFile, `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${path.join(dir, 'js')}" }\n${config}\n`);
  const process = await ServerProcess.start({ name: 'nats-server', command: program, args: ['-c', configFile], ready: () => acceptsConnections(port) });
  const url = `nats://127.0.0.1:${port}`;
  const client = async (options: Record<string, unknown> = {}) => {
    const connection = await connect({ servers: url, ...options });
    return { connection, manager: await jetstreamManager(connection) };
  };
  return {
    url,
    port,
    process,
    client,
    async readStream(stream, options = {}) {
      const { connection, manager } = await client(options);
      try {
        const info = await manager.streams.info(stream);
        const records: KafkaRecord[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
          const message = await manager.streams.getMessage(stream, { seq }).catch(() => null);
          if (message === null) continue; // deleted
          const headers: Record<string, string | null> = {};
          for (const name of message.header?.keys() ?? []) headers[name] = message.header!.get(name);
          records.push({
            topic: message.subject,
            partition: 0,
            offset: message.seq,
            key: headers['pgcdc-key'] ?? null,
            value: headers['pgcdc-op'] === 'tombstone' ? null : message.string(),
            headers,
            timestamp: Date.parse(message.time.toISOString()),
          });
        }
        return records;
      } finally {
        await connection.close();
      }
    },
    stop: () => process.stop(),
  };
}

/** One NATS server for the file's tests, stopped after them. */
export function useNatsServer(config = ''): () => NatsServer {
  let server: NatsServer | undefined;
  beforeAll(async () => {
    server = await startNatsServer(config);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => server!;
}
