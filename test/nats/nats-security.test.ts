/**
 * The NATS JetStream target's credentials and TLS against real nats-servers: TLS with a client
 * certificate the server verifies plus a token, and NKey users. Each delivers a change (read back
 * by the test's own client); a server certificate pgcdc cannot verify, a wrong token and an NKey
 * the server does not know each stop the run with one line and acknowledge nothing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, type CliResult } from '../support/cli.js';
import { recordedChanges } from '../support/change-oracles.js';
import { useNatsServer } from '../support/nats-server.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCertificates(): { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string } {
  const dir = tempDir('pgcdc-nats-tls-');
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'other-ca']) {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${ca}`, '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`));
  }
  fs.writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, ext] of [['server', ['-extfile', file('server.ext')]], ['client', []]] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${name}.pem`), ...ext);
  }
  return { dir, ca: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server.key'), clientCert: file('client.pem'), clientKey: file('client.key'), otherCa: file('other-ca.pem') };
}

const certificates = makeCertificates();
const nkeyUser = createUser();
const NKEY_PUBLIC = nkeyUser.getPublicKey();
const NKEY_SEED = new TextDecoder().decode(nkeyUser.getSeed());

const run = (specFile: string, args: readonly string[]) => runCli(['run', '-c', specFile, '--stop-at', 'now', ...args], {}, 120_000);

function expectOneLine(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr.slice(-3000)).not.toBe(0);
  expect(errorLine(result)).toMatch(pattern);
}

describe('NATS JetStream target security', () => {
  const server = useTestServer();
  const tlsServer = useNatsServer(`tls { cert_file: "${certificates.serverCert}", key_file: "${certificates.serverKey}", ca_file: "${certificates.ca}", verify: true }
authorization { token: "the-token" }`);
  const nkeyServer = useNatsServer(`authorization { users = [ { nkey: ${NKEY_PUBLIC} } ] }`);

  /** A database with `items` and a stream spec whose secrets live in a directory; `secrets` are file → value. */
  async function stream(name: string, settings: Record<string, unknown>, secrets: Record<string, string>) {
    const url = await createDatabase(server(), 'nats_sec');
    await sql(url, 'create table items (id int primary key, note text)');
    const dir = tempDir();
    const secretsDir = path.join(dir, 'secrets');
    const writeSecrets = (values: Record<string, string>) => {
      for (const [key, value] of Object.entries(values)) {
        fs.mkdirSync(path.dirname(path.join(secretsDir, key)), { recursive: true });
        fs.writeFileSync(path.join(secretsDir, key), value);
      }
    };
    writeSecrets(secrets);
    const spec = (extra: Record<string, unknown> = {}) =>
      targetStream({ url, name, dir, load: { secretsDir }, target: { type: 'NatsJetStream', natsJetStream: { schemasEnable: false, stream: { create: true }, ...settings, ...extra } } });
    const { specFile } = await spec();
    return { url, specFile, spec, args: ['--secrets-dir', secretsDir], writeSecrets };
  }

  it('delivers over TLS with a verified client certificate and a token; an unknown CA or a wrong token stops with one line', async () => {
    const tls = { caCertificate: certificates.ca, certificate: certificates.clientCert, key: certificates.clientKey };
    const { url, specFile, spec, args, writeSecrets } = await stream('st', { servers: tlsServer().url, tls, credentials: { token: { name: 'nats', key: 'token' } } }, { 'nats/token': 'the-token' });
    expect((await run(specFile, args)).code).toBe(0);
    await sql(url, "insert into items values (1, 'a')");
    const delivered = await run(specFile, args);
    expect(delivered.code, delivered.stderr.slice(-3000)).toBe(0);
    const clientTls = { ca: fs.readFileSync(certificates.ca, 'utf8'), cert: fs.readFileSync(certificates.clientCert, 'utf8'), key: fs.readFileSync(certificates.clientKey, 'utf8') };
    expect(recordedChanges(await tlsServer().readStream('st', { tls: clientTls, token: 'the-token' }))).toEqual([{ op: 'c', id: 1 }]);

    await sql(url, "insert into items values (2, 'b')");
    const { specFile: otherCa } = await spec({ tls: { ...tls, caCertificate: certificates.otherCa } });
    expectOneLine(await run(otherCa, args), /^pgcdc: error\[TARGET_FAILED\] TLS to the NATS server nats:\/\/127\.0\.0\.1:\d+ failed \(.*\) \(fix: give the CA that signed the server's certificate in spec\.target\.natsJetStream\.tls\.caCertificate.*\)$/);
    await spec();
    writeSecrets({ 'nats/token': 'not-the-token' });
    expectOneLine(await run(specFile, args), /^pgcdc: error\[TARGET_FAILED\] the NATS server nats:\/\/127\.0\.0\.1:\d+ refused pgcdc's credentials \(.*Authorization Violation.*\)/i);
    expect(recordedChanges(await tlsServer().readStream('st', { tls: clientTls, token: 'the-token' }))).toEqual([{ op: 'c', id: 1 }]);
  });

  it('authenticates with an NKey seed; an unknown NKey stops with one line', async () => {
    const { url, specFile, args, writeSecrets } = await stream('sk', { servers: nkeyServer().url, credentials: { nkeySeed: { name: 'nats', key: 'seed' } } }, { 'nats/seed': NKEY_SEED });
    expect((await run(specFile, args)).code).toBe(0);
    await sql(url, "insert into items values (1, 'a')");
    const delivered = await run(specFile, args);
    expect(delivered.code, delivered.stderr.slice(-3000)).toBe(0);
    const { nkeyAuthenticator } = await import('@nats-io/transport-node');
    expect(recordedChanges(await nkeyServer().readStream('sk', { authenticator: nkeyAuthenticator(new TextEncoder().encode(NKEY_SEED)) }))).toEqual([{ op: 'c', id: 1 }]);
    writeSecrets({ 'nats/seed': new TextDecoder().decode(createUser().getSeed()) });
    await sql(url, "insert into items values (2, 'b')");
    expectOneLine(await run(specFile, args), /^pgcdc: error\[TARGET_FAILED\] the NATS server nats:\/\/127\.0\.0\.1:\d+ refused pgcdc's credentials \(.*\)/i);
  });
});
