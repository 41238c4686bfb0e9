/**
 * The RedisStreams target over TLS against a real redis-server serving TLS only (certificates made
 * with openssl for 127.0.0.1 and localhost, signed by a test CA): with the CA given as
 * `tls.caCertificate` the changes arrive (read back over TLS with XRANGE); without it the run stops
 * with one line saying the certificate is not trusted, and nothing is acknowledged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { useRedisServer } from '../support/redis-server.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

describe('RedisStreams target over TLS', () => {
  const server = useTestServer();
  const redis = useRedisServer({ tls: true });

  it('writes over rediss:// with the CA given, and stops with one line when the certificate is not trusted', async () => {
    const url = await createDatabase(server(), 'redis_tls');
    await sql(url, 'create table items (id int primary key, note text)');
    const dir = tempDir();
    fs.copyFileSync(redis().tlsFiles!.ca, path.join(dir, 'redis-ca.pem'));
    const trusted = await targetStream({ url, name: 't1', dir, target: { type: 'RedisStreams', redisStreams: { url: redis().url, schemasEnable: false, tls: { caCertificate: 'redis-ca.pem' } } } });
    expect((await runCli(['run', '-c', trusted.specFile, '--stop-at', 'now'])).code).toBe(0);
    await sql(url, "insert into items values (1, 'over TLS')");
    const delivered = await runCli(['run', '-c', trusted.specFile, '--stop-at', 'now']);
    expect(delivered.code, delivered.stderr.slice(-3000)).toBe(0);
    const entries = await redis().with((client) => client.xrange('t1.public.items', '-', '+'));
    expect(entries.map(([, fields]) => JSON.parse(fields[3]!).after)).toEqual([{ id: 1, note: 'over TLS' }]);

    const untrusted = await targetStream({ url, name: 't1', dir: tempDir(), target: { type: 'RedisStreams', redisStreams: { url: redis().url, schemasEnable: false } } });
    const { rows: before } = await sql(url, "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = 'pgcdc_t1'");
    await sql(url, "insert into items values (2, 'refused')");
    const refused = await runCli(['run', '-c', untrusted.specFile, '--stop-at', 'now']);
    expect(refused.code).not.toBe(0);
    expect(errorLine(refused)).toMatch(/^pgcdc: error\[TARGET_FAILED\] Redis at 127\.0\.0\.1:\d+ presented a TLS certificate pgcdc does not trust: .*\(fix: give the CA that signed it as spec\.target\.redisStreams\.tls\.caCertificate/);
    const { rows: after } = await sql(url, "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = 'pgcdc_t1'");
    expect(after[0].lsn).toBe(before[0].lsn);
    expect((await redis().with((client) => client.xlen('t1.public.items')))).toBe(1);
  }, 180_000);
});
