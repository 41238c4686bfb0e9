/**
 * A CloudEvent receiver that cannot be used: nothing listening at the URL, TLS that does not verify
 * (a self-signed certificate created for the test, a host name mismatch). Each is an error at start
 * saying what is wrong and how to fix it; the fixes (caCertificate, skipHostnameVerification) work.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { cloudEventStream, selfSignedCertificate } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';
import { failure, freePort } from '../support/expected-failures.js';

/** A loopback URL nothing listens on (a port just released). */
async function closedUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/events`;
}

describe('CloudEvent receivers that cannot be used', () => {
  const server = useTestServer();
  const receivers: CloudEventReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  it('an unreachable URL stops the run at start with the fix', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const receiverUrl = await closedUrl();
    const { config, specFile } = await cloudEventStream({ url, receiverUrl });
    const error = await failure(runStream(config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.code).toBe('TARGET_UNREACHABLE');
    expect(error.message).toBe(`cannot connect to the CloudEvent receiver at ${receiverUrl}: connection refused (ECONNREFUSED)`);
    expect(error.hint).toBe('check spec.target.cloudEvent.http.url and that the receiver is running and reachable');
    const cli = await runCli(['run', '-c', specFile, '--stop-at', 'now']);
    expect(cli.code).not.toBe(0);
    expect(errorLine(cli)).toContain(`cannot connect to the CloudEvent receiver at ${receiverUrl}: connection refused (ECONNREFUSED)`);
  });

  it('a receiver that goes away while streaming is retried, then the run fails as unreachable', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const receiver = await CloudEventReceiver.start();
    const { config } = await cloudEventStream({ url, receiverUrl: receiver.url, http: { retryLimit: 2 } });
    await runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, 'insert into items values (1)');
    receiver.hold();
    const stream = runStream(config, { logger: silentLogger(), stopAt: 'now' });
    await waitFor(() => (receiver.received.length > 0 ? true : undefined));
    const receiverUrl = receiver.url;
    await receiver.stop();
    const error = await failure(stream);
    expect(error.code).toBe('TARGET_UNREACHABLE');
    expect(error.message).toBe(`cannot connect to the CloudEvent receiver at ${receiverUrl}: connection refused (ECONNREFUSED) (after 3 attempts)`);
  });

  it('a dead-letter table in the source database is refused: its rows would be captured and sent again', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const receiver = await CloudEventReceiver.start();
    receivers.push(receiver);
    const { config } = await cloudEventStream({ url, receiverUrl: receiver.url, cloudEvent: { deadLetter: { table: { url } } } });
    const error = await failure(runStream(config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(`spec.target.cloudEvent.deadLetter.table.url is the source database ${config.source.connection.database}: dead letters written there would be captured and sent again`);
    expect(error.hint).toBe('put the dead-letter table in another database, or use deadLetter.file');
  });

  it('a self-signed certificate is a TLS error at start; with caCertificate the events flow', async () => {
    const dir = tempDir('pgcdc-tls-');
    const tls = selfSignedCertificate(dir);
    const receiver = await CloudEventReceiver.start({ tls });
    receivers.push(receiver);
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const untrusted = await cloudEventStream({ url, receiverUrl: receiver.url });
    const error = await failure(runStream(untrusted.config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.code).toBe('TARGET_FAILED');
    expect(error.message).toBe(`TLS with the CloudEvent receiver at ${receiver.url} failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`);
    expect(error.hint).toContain('spec.target.cloudEvent.http.caCertificate');

    const trusted = await cloudEventStream({ url, receiverUrl: receiver.url, http: { caCertificate: tls.certFile } });
    await runStream(trusted.config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, 'insert into items values (1), (2)');
    await runStream(trusted.config, { logger: silentLogger(), stopAt: 'now' });
    expect(receiver.accepted.map((e) => e.data.after.id).sort()).toEqual([1, 2]);
  });

  it('a certificate for another host name is refused unless skipHostnameVerification is set', async () => {
    const dir = tempDir('pgcdc-tls-');
    const tls = selfSignedCertificate(dir, 'other.example');
    const receiver = await CloudEventReceiver.start({ tls });
    receivers.push(receiver);
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const strict = await cloudEventStream({ url, receiverUrl: receiver.url, http: { caCertificate: tls.certFile } });
    const error = await failure(runStream(strict.config, { logger: silentLogger(), stopAt: 'now' }));
    expect(error.code).toBe('TARGET_FAILED');
    expect(error.message).toMatch(/^TLS with the CloudEvent receiver at https:\/\/127\.0\.0\.1:\d+\/events failed: .*IP: 127\.0\.0\.1 is not in the cert's list.* \(ERR_TLS_CERT_ALTNAME_INVALID\)$/);

    const relaxed = await cloudEventStream({ url, receiverUrl: receiver.url, http: { caCertificate: tls.certFile, skipHostnameVerification: true } });
    await runStream(relaxed.config, { logger: silentLogger(), stopAt: 'now' });
    await sql(url, 'insert into items values (7)');
    await runStream(relaxed.config, { logger: silentLogger(), stopAt: 'now' });
    expect(receiver.accepted.map((e) => e.data.after.id)).toEqual([7]);
  });
});
