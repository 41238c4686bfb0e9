/**
 * The `Webhook` target's settings: defaults with no section at all (the API on the loopback, the
 * subscriptions in the source database, pgstream's envelope), each setting read, the API turned
 * off, and each mistake reported at its key with what is allowed.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { failure } from '../support/expected-failures.js';

const NATIVE = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: hooks
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://cdc@db/shop
  target:
    type: Webhook
`;

const load = (webhook: string) => parseStreamConfig(`${NATIVE}${webhook === '' ? '' : `    webhook:\n${webhook}`}`, { fileName: 'wh.yaml', env: {}, cwd: '/srv' });

describe('Webhook target settings', () => {
  it('need no section: the API on 127.0.0.1:9900, subscriptions in the source database, pgstream envelope', async () => {
    const config = await load('');
    expect(config.target).toStrictEqual({
      type: 'Webhook',
      payload: 'pgstream',
      subscriptionServer: { host: '127.0.0.1', port: 9900, readTimeoutMs: 5000 },
      subscriptionDatabase: undefined,
      subscriptionPollIntervalMs: 30_000,
      headers: {},
      connectTimeoutMs: 10_000,
      readTimeoutMs: 30_000,
      retryLimit: undefined,
      retryBackoffDelaySeconds: 60,
      skipHostnameVerification: false,
      caCertificate: undefined,
      successStatus: '2xx',
      retryClientErrors: false,
      concurrency: 8,
      maxEventBytes: 1_048_576,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: undefined } },
    });
    expect(config.warnings).toStrictEqual([]);
  });

  it('read every setting: listen addresses, another subscription database, http, dead letters', async () => {
    const config = await load(
      '      payload: debezium\n      subscriptionServer: {listenAddress: "[::1]:9911", readTimeout: 2s}\n' +
        '      subscriptionStore: {url: "postgres://subs:pw@meta/hooks", pollInterval: 1m}\n' +
        '      http: {concurrency: 32, connectTimeout: 500ms, readTimeout: 3s, retryLimit: 4, retryBackoffDelay: 2, successStatus: 200, retryClientErrors: true, headers: {X-Token: abc}}\n' +
        '      maxEventBytes: 4096\n      deadLetter: {policy: stop}\n',
    );
    expect(config.target).toMatchObject({
      payload: 'debezium',
      subscriptionServer: { host: '::1', port: 9911, readTimeoutMs: 2000 },
      subscriptionDatabase: { host: 'meta', database: 'hooks', user: 'subs', password: 'pw', applicationName: 'pgcdc-hooks-webhooks' },
      subscriptionPollIntervalMs: 60_000,
      headers: { 'X-Token': 'abc' },
      concurrency: 32,
      connectTimeoutMs: 500,
      readTimeoutMs: 3000,
      retryLimit: 4,
      retryBackoffDelaySeconds: 2,
      successStatus: '200',
      retryClientErrors: true,
      maxEventBytes: 4096,
      deadLetter: { policy: 'stop' },
    });
    expect((await load('      subscriptionServer: {listenAddress: ":9900"}\n')).target).toMatchObject({ subscriptionServer: { host: '0.0.0.0', port: 9900 } });
  });

  it('turn the subscription API off when subscriptions are managed with SQL', async () => {
    const config = await load('      subscriptionServer: {enabled: false}\n');
    expect(config.target).toMatchObject({ type: 'Webhook', subscriptionServer: undefined });
  });

  it('report each mistake at its key', async () => {
    const error = await failure(
      load(
        '      payload: cloudevents\n      subscriptionServer: {listenAddress: "localhost"}\n      http: {url: "http://x/y", concurrency: 0}\n' +
          '      deadLetter: {policy: drop}\n',
      ),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      'wh.yaml:13: spec.target.webhook.payload is "cloudevents"; expected one of: pgstream, debezium',
      'wh.yaml:14: spec.target.webhook.subscriptionServer.listenAddress is "localhost"; expected host:port, e.g. 127.0.0.1:9900, [::1]:9900 or :9900 for every interface',
      'wh.yaml:15: spec.target.webhook.http.concurrency is 0; expected an integer ≥ 1',
      'wh.yaml:15: spec.target.webhook.http.url is not a known key; known keys: headers, connectTimeout, readTimeout, retryLimit, retryBackoffDelay, skipHostnameVerification, caCertificate, successStatus, retryClientErrors, concurrency',
      'wh.yaml:16: spec.target.webhook.deadLetter.policy is "drop"; expected one of: dead-letter, stop',
    ]);
  });

  it('need a poll interval of at least a second, and only one dead-letter store', async () => {
    expect((await failure(load('      subscriptionStore: {pollInterval: 10ms}\n'))).message).toBe(
      'wh.yaml:13: spec.target.webhook.subscriptionStore.pollInterval is "10ms"; expected a duration of at least 1s, e.g. 30s',
    );
    expect((await failure(load('      deadLetter: {file: d.ndjson, table: {url: "postgres://l/d"}}\n'))).message).toBe(
      'wh.yaml:13: spec.target.webhook.deadLetter.table is given together with file; expected only one of file and table',
    );
  });
});
