import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { redactConfig, redactUrl } from '../../src/config/redact-config.js';
import type { StreamConfig } from '../../src/config/stream-config.js';

describe('redactUrl', () => {
  it('masks the password of well-formed and malformed URLs', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/orders?sslmode=require')).toBe('postgres://app:***@db:5432/orders?sslmode=require');
    expect(redactUrl('postgres://app:p/a?s#s@db/orders')).toBe('postgres://app:***@db/orders');
    expect(redactUrl('postgres://app:s3cret@db/orders?application_name=a@b')).toBe('postgres://app:***@db/orders?application_name=a@b');
    expect(redactUrl('postgres://db/orders?user=app&password=s3cret&sslmode=require')).toBe('postgres://db/orders?user=app&password=***&sslmode=require');
    expect(redactUrl('app:s3cret@db:5432/orders')).toBe('app:***@db:5432/orders');
  });

  it('leaves URLs without a password alone', () => {
    expect(redactUrl('postgres://app@db/orders')).toBe('postgres://app@db/orders');
    expect(redactUrl('postgres://db')).toBe('postgres://db');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('redactConfig', () => {
  it('hides the password and private key, summarises certificates, keeps the rest', async () => {
    const config = await parseStreamConfig(
      'apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: postgres://app:s3cret@db/shop\n  target:\n    type: Stdout\n',
      { env: {}, cwd: '/srv' },
    );
    const withTls: StreamConfig = {
      ...config,
      source: { ...config.source, connection: { ...config.source.connection, sslRootCert: '-----BEGIN CERTIFICATE-----\n', sslKey: '-----BEGIN PRIVATE KEY-----\n' } },
      warnings: ['see postgres://app:s3cret@db/shop'],
    };
    const redacted = redactConfig(withTls) as StreamConfig;
    expect(redacted.source.connection).toStrictEqual({
      ...config.source.connection,
      password: '***',
      sslRootCert: '(PEM, 28 bytes)',
      sslKey: '***',
    });
    expect(redacted.warnings).toStrictEqual(['see postgres://app:***@db/shop']);
    expect(redacted.source.slotName).toBe('pgcdc_orders');
    expect(JSON.stringify(redacted)).not.toContain('s3cret');
    expect(withTls.source.connection.password).toBe('s3cret');
  });

  it('keeps an absent password absent', async () => {
    const config = await parseStreamConfig(
      'apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: postgres://db/shop\n  target:\n    type: Stdout\n',
      { env: {}, cwd: '/srv' },
    );
    expect((redactConfig(config) as StreamConfig).source.connection.password).toBeUndefined();
  });
});
