/**
 * The Kafka target over secured listeners of a real broker, through the `pgcdc` command line: SASL
 * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (user name and password from secrets: a secrets directory
 * or PGCDC_SECRET_* variables), TLS checked against the cluster's own CA (`tls.caCertificate`), and
 * SASL over TLS. Each stream takes a snapshot and then changes (updates, deletes, a key change), and
 * the table rebuilt from its topic, read by Kafka's Java consumer on the broker's plain listener,
 * equals the source (`to_jsonb`). A broker certificate pgcdc cannot trust stops the run at start
 * with one line and the fix, before the source is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { rebuild, sourceTable } from '../support/change-oracles.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

interface Secrets {
  /** Files of the secrets directory (`<secret>/<key>` → value), given with --secrets-dir. */
  readonly files?: Record<string, string>;
  /** PGCDC_SECRET_* variables. */
  readonly env?: Record<string, string>;
}

describe('Kafka target over SASL and TLS', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster({ listeners: ['SASL_PLAINTEXT', 'SSL', 'SASL_SSL'], users: { alice: 'alice-secret', bob: 'bob-secret-2' } });

  /** A database with `items`, and a stream to Kafka with `settings` whose secrets come from `secrets`; the CA's PEM is `ca.pem` beside the stream file. */
  async function securedStream(name: string, settings: Record<string, unknown>, secrets: Secrets = {}) {
    const url = await createDatabase(server(), 'kafka_sec');
    await sql(url, 'create table items (id int primary key, name text, qty int, tags text[], at timestamptz)');
    await sql(url, `insert into items select g, 'item ' || g, g, array['a', g::text], '2024-01-01'::timestamptz + g * interval '1 hour' from generate_series(1, 50) g`);
    const dir = tempDir();
    fs.copyFileSync(kafka().caCertificateFile!, path.join(dir, 'ca.pem'));
    const secretsDir = path.join(dir, 'secrets');
    for (const [file, value] of Object.entries(secrets.files ?? {})) {
      fs.mkdirSync(path.dirname(path.join(secretsDir, file)), { recursive: true });
      fs.writeFileSync(path.join(secretsDir, file), value);
    }
    const env = secrets.env ?? {};
    const { specFile } = await targetStream({
      url,
      name,
      dir,
      source: { snapshotMode: 'initial' },
      load: { secretsDir, env: { ...process.env, ...env } },
      target: { type: 'Kafka', kafka: { requestTimeout: '10s', ...settings } },
    });
    const run = () => runCli(['run', '-c', specFile, '--stop-at', 'now', '--secrets-dir', secretsDir], env, 180_000);
    return { url, run };
  }

  /** Snapshot, then changes, both delivered; the topic rebuilds the table. */
  async function expectDelivered(name: string, settings: Record<string, unknown>, secrets?: Secrets): Promise<void> {
    const { url, run } = await securedStream(name, settings, secrets);
    const snapshot = await run();
    expect(snapshot.code, snapshot.stderr).toBe(0);
    await sql(url, `begin; update items set qty = qty * 10, tags = tags || 'z'::text where id % 3 = 0; delete from items where id % 7 = 0;
      update items set id = 1000 where id = 1; insert into items values (2000, 'new', 1, '{}', now()); commit`);
    const changes = await run();
    expect(changes.code, changes.stderr).toBe(0);
    const records = await kafka().consume(`${name}\\.public\\.items`, { expect: 50 + 16 + 2 * 7 + 3 + 1, timeoutMs: 60_000 });
    // The JsonConverter envelope (schemas.enable, the default): keys and values under "payload".
    expect(rebuild(records, (value) => value.payload)).toEqual(await sourceTable(url));
  }

  it('delivers over SASL_PLAINTEXT with PLAIN, the password from the secrets directory', async () => {
    await expectDelivered(
      's1',
      { bootstrapServers: kafka().listenerBootstrapServers.SASL_PLAINTEXT, sasl: { mechanism: 'PLAIN', username: 'alice', password: { name: 'kafka-alice', key: 'password' } } },
      { files: { 'kafka-alice/password': 'alice-secret' } },
    );
  }, 180_000);

  it('delivers over SASL_PLAINTEXT with SCRAM-SHA-256, user name and password from PGCDC_SECRET_* variables', async () => {
    await expectDelivered(
      's2',
      {
        bootstrapServers: kafka().listenerBootstrapServers.SASL_PLAINTEXT,
        sasl: { mechanism: 'SCRAM-SHA-256', username: { name: 'kafka-login', key: 'username' }, password: { name: 'kafka-login', key: 'password' } },
      },
      { env: { PGCDC_SECRET_KAFKA_LOGIN_USERNAME: 'alice', PGCDC_SECRET_KAFKA_LOGIN_PASSWORD: 'alice-secret' } },
    );
  }, 180_000);

  it('delivers over SASL_PLAINTEXT with SCRAM-SHA-512', async () => {
    await expectDelivered(
      's3',
      { bootstrapServers: kafka().listenerBootstrapServers.SASL_PLAINTEXT, sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: { name: 'kafka-bob', key: 'password' } } },
      { files: { 'kafka-bob/password': 'bob-secret-2' } },
    );
  }, 180_000);

  it("delivers over TLS, the broker's certificate checked against tls.caCertificate", async () => {
    await expectDelivered('s4', { bootstrapServers: kafka().listenerBootstrapServers.SSL, tls: { caCertificate: 'ca.pem' } });
  }, 180_000);

  it('delivers over SASL_SSL with SCRAM-SHA-512', async () => {
    await expectDelivered(
      's5',
      {
        bootstrapServers: kafka().listenerBootstrapServers.SASL_SSL,
        tls: { caCertificate: 'ca.pem' },
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: { name: 'kafka-bob', key: 'password' } },
      },
      { env: { PGCDC_SECRET_KAFKA_BOB_PASSWORD: 'bob-secret-2' } },
    );
  }, 180_000);

  it('stops at start with one line when the CA that signed the broker is not given', async () => {
    const servers = kafka().listenerBootstrapServers.SSL!;
    const { url, run } = await securedStream('s6', { bootstrapServers: servers, tls: {} });
    const result = await run();
    expect(result.code, result.stderr).toBe(1);
    // The client's words between the start and the end.
    const line = errorLine(result);
    expect(line.startsWith(`pgcdc: error[TARGET_FAILED] the certificate of Kafka at ${servers} cannot be trusted: `), line).toBe(true);
    expect(line.endsWith("self-signed certificate in certificate chain [SELF_SIGNED_CERT_IN_CHAIN] (fix: set spec.target.kafka.tls.caCertificate to the PEM file of the CA that signed the brokers' certificates)"), line).toBe(true);
    // Checked before the source was touched: no slot.
    expect((await sql(url, 'select count(*)::int as n from pg_replication_slots where database = current_database()')).rows[0].n).toBe(0);
  }, 180_000);
});
