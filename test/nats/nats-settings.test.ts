/**
 * The `NatsJetStream` target's settings: the defaults, each setting read (servers as a list or a
 * comma string, credentials from secrets, the stream), and each mistake reported at its key with
 * what is expected.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { failure } from '../support/expected-failures.js';

const NATIVE = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: shop
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://cdc@db/shop
  target:
    type: NatsJetStream
    natsJetStream:
`;

const load = (settings: string, env: Record<string, string> = {}) => parseStreamConfig(`${NATIVE}${settings}`, { fileName: 'n.yaml', env, cwd: '/srv' });

describe('NatsJetStream target settings', () => {
  it('default to the <prefix>.<schema>.<table> subject, a stream found per subject, and the dead-letter file', async () => {
    const config = await load('      servers: localhost:4222\n');
    expect(config.target).toMatchObject({
      type: 'NatsJetStream',
      servers: ['nats://localhost:4222'],
      credentials: undefined,
      tls: undefined,
      subject: '{prefix}.{schema}.{table}',
      topicPrefix: 'shop',
      transactionTopic: 'shop.transaction',
      schemasEnable: true,
      stream: { name: undefined, create: false, subjects: ['shop', 'shop.>'], retention: 'limits', storage: 'file', replicas: 1, duplicateWindowMs: 120_000, maxBytes: -1, maxAgeMs: 0 },
      publishTimeoutMs: 10_000,
      maxPending: 2048,
      retryLimit: 5,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: undefined } },
      msgIdPrefix: 'shop',
    });
  });

  it('reads servers, credentials from secrets, the template and a created stream', async () => {
    const config = await load(
      '      servers: "nats://a:4222, tls://b:4223"\n      credentials: {user: cdc, password: {name: nats, key: password}}\n      topicPrefix: app.cdc\n' +
        '      subject: "{prefix}.{table}"\n      stream: {create: true, duplicateWindow: 30m, retention: workqueue, replicas: 3}\n      publishTimeout: 3s\n',
      { PGCDC_SECRET_NATS_PASSWORD: 'pw' },
    );
    expect(config.target).toMatchObject({
      servers: ['nats://a:4222', 'tls://b:4223'],
      credentials: { kind: 'password', user: 'cdc', password: 'pw' },
      subject: '{prefix}.{table}',
      stream: { name: 'app_cdc', create: true, subjects: ['app.cdc', 'app.cdc.>'], retention: 'workqueue', replicas: 3, duplicateWindowMs: 1_800_000 },
      publishTimeoutMs: 3000,
    });
  });

  it('report each mistake at its key', async () => {
    expect((await failure(load('      servers: "nats://x y"\n'))).message).toBe('n.yaml:13: spec.target.natsJetStream.servers has "nats://x y", which is not a nats://host:port URL');
    expect((await failure(load('      servers: a:1\n      subject: "{prefix}.{db}.{table}"\n'))).message).toBe(
      'n.yaml:14: spec.target.natsJetStream.subject has the placeholder {db}, which is not one of {prefix}, {schema}, {table}',
    );
    expect((await failure(load('      servers: a:1\n      credentials: {token: {name: t, key: k}, nkeySeed: {name: s, key: k}}\n'))).message).toBe(
      'n.yaml:14: spec.target.natsJetStream.credentials gives more than one kind of credentials',
    );
    expect((await failure(load('      servers: a:1\n      credentials: {user: cdc}\n'))).message).toBe('n.yaml:14: spec.target.natsJetStream.credentials has a user without a password');
    expect((await failure(load('      servers: a:1\n      credentials: {nkeySeed: {name: s, key: k}}\n', { PGCDC_SECRET_S_K: 'not-a-seed' }))).message).toBe(
      'n.yaml:14: spec.target.natsJetStream.credentials.nkeySeed does not hold an NKey user seed (SU…)',
    );
    expect((await failure(load('      servers: a:1\n      stream: {name: "a.b"}\n'))).message).toMatch(/^n\.yaml:14: spec\.target\.natsJetStream\.stream\.name .*not a JetStream stream name/);
  });
});
