/**
 * The `CloudEvent` target's settings in native and SGStream documents: SGStream's fields as written,
 * pgcdc's defaults, and each mistake reported at its key with what is allowed.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { failure } from '../support/expected-failures.js';

const NATIVE = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: events
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://cdc@db/shop
  target:
    type: CloudEvent
    cloudEvent:
`;

const load = (cloudEvent: string, env: Record<string, string> = {}) => parseStreamConfig(`${NATIVE}${cloudEvent}`, { fileName: 'ce.yaml', env, cwd: '/srv' });

describe('CloudEvent target settings', () => {
  it('fill pgcdc defaults around the URL', async () => {
    const config = await load('      http:\n        url: http://receiver:8080/events\n');
    expect(config.target).toStrictEqual({
      type: 'CloudEvent',
      mode: 'structured',
      url: 'http://receiver:8080/events',
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
      batchSize: 500,
      batchMaxBytes: 1_048_576,
      lingerMs: 5,
      maxEventBytes: 1_048_576,
      deadLetter: { policy: 'dead-letter', store: { kind: 'file', path: undefined } },
    });
  });

  it('take successStatus 200 as a number, durations in ms, s and m, 0 for no limit, and a dead-letter table', async () => {
    const config = await load(
      '      mode: binary\n      linger: "0"\n      http:\n        url: https://r/e\n        successStatus: 200\n        connectTimeout: 1500ms\n        readTimeout: "0"\n' +
        '      deadLetter:\n        table: {url: "postgres://dl:pw@letters/dead", name: ops.letters}\n',
    );
    expect(config.target).toMatchObject({ mode: 'binary', successStatus: '200', connectTimeoutMs: 1500, readTimeoutMs: 0, lingerMs: 0 });
    expect(config.target.type === 'CloudEvent' && config.target.deadLetter).toMatchObject({
      policy: 'dead-letter',
      store: { kind: 'table', table: 'ops.letters', connection: { host: 'letters', database: 'dead', user: 'dl', applicationName: 'pgcdc-events-dead-letters' } },
    });
  });

  it('report each mistake at its key', async () => {
    const error = await failure(
      load(
        '      mode: streamed\n      http:\n        url: ftp://r/e\n        readTimeout: 30\n        connectTimeout: 5 seconds\n        successStatus: 201\n        concurrency: 0\n' +
          '        caCertificate: /nonexistent/ca.pem\n      deadLetter:\n        policy: drop\n',
      ),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      'ce.yaml:13: spec.target.cloudEvent.mode is "streamed"; expected one of: structured, binary, batched',
      'ce.yaml:15: spec.target.cloudEvent.http.url is "ftp://r/e"; expected an http:// or https:// URL',
      'ce.yaml:16: spec.target.cloudEvent.http.readTimeout is 30; expected a duration such as 500ms, 5s or 2m, or 0 for no limit',
      'ce.yaml:17: spec.target.cloudEvent.http.connectTimeout is "5 seconds"; expected a duration such as 500ms, 5s or 2m, or 0 for no limit',
      'ce.yaml:18: spec.target.cloudEvent.http.successStatus is 201; expected "2xx" or 200',
      'ce.yaml:19: spec.target.cloudEvent.http.concurrency is 0; expected an integer ≥ 1',
      'ce.yaml:22: spec.target.cloudEvent.deadLetter.policy is "drop"; expected one of: dead-letter, stop',
    ]);
  });

  it('need the http section, a readable CA file, and only one dead-letter store', async () => {
    expect((await failure(load('      mode: batched\n'))).message).toBe(
      'ce.yaml:12: spec.target.cloudEvent.http is missing; expected a map with the url events are sent to, required when the target type is CloudEvent',
    );
    const error = await failure(
      load('      http:\n        url: http://r/e\n        caCertificate: missing-ca.pem\n      deadLetter:\n        file: dead.ndjson\n        table: {url: "postgres://l/d"}\n'),
    );
    expect(error.message.split('\n')).toStrictEqual([
      `ce.yaml:15: spec.target.cloudEvent.http.caCertificate is "missing-ca.pem", which cannot be read (ENOENT: no such file or directory, open '/srv/missing-ca.pem'); expected a readable PEM file`,
      'ce.yaml:18: spec.target.cloudEvent.deadLetter.table is given together with file; expected only one of file and table',
    ]);
  });

  it('read an SGStream cloudEvent section as it is', async () => {
    const config = await parseStreamConfig(
      `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: events-stream
spec:
  source:
    type: Postgres
    postgres: {host: db}
  target:
    type: CloudEvent
    cloudEvent:
      format: json
      binding: http
      http:
        url: https://events.example.com/webhook
        headers: {Authorization: "Bearer \${TOKEN}"}
        connectTimeout: "5s"
        readTimeout: "30s"
        retryLimit: 5
        retryBackoffDelay: 60
        skipHostnameVerification: true
`,
      { fileName: 'sg.yaml', env: { TOKEN: 'x', PGCDC_SECRET_NONE: '' }, cwd: '/srv' },
    );
    expect(config.target).toMatchObject({
      type: 'CloudEvent',
      url: 'https://events.example.com/webhook',
      headers: { Authorization: 'Bearer x' },
      connectTimeoutMs: 5000,
      readTimeoutMs: 30_000,
      retryLimit: 5,
      retryBackoffDelaySeconds: 60,
      skipHostnameVerification: true,
    });
  });
});
