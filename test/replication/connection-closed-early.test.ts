/**
 * A peer that accepts the TCP connection and then closes it before PostgreSQL would answer (a
 * proxy or firewall dropping it, a server requiring TLS, another service on the port): both
 * connection kinds fail with CONNECTION_LOST and a hint naming those causes, and never hang.
 * The peer is a plain TCP server in the test.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionConfig, SslMode } from '../../src/config/stream-config.js';
import { CatalogConnection } from '../../src/source/catalog-connection.js';
import { WireConnection } from '../../src/source/wire/wire-connection.js';
import { pgcdcRejection } from '../support/rejection.js';

/** How the peer closes: at once after accepting, or after reading the client's first message. */
type Closing = 'on-accept' | 'after-first-message';

function closingServer(closing: Closing): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => undefined);
    if (closing === 'on-accept') socket.destroy();
    else socket.once('data', () => socket.end());
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function connectionTo(port: number, sslMode: SslMode): ConnectionConfig {
  return {
    host: '127.0.0.1',
    port,
    database: 'shop',
    user: 'cdc',
    password: 'pw',
    sslMode,
    sslRootCert: undefined,
    sslCert: undefined,
    sslKey: undefined,
    applicationName: 'pgcdc-test',
    connectTimeoutMs: 5000,
  };
}

const HINT = (port: number) =>
  `check that 127.0.0.1:${port} is PostgreSQL's port (not another service's), that no proxy or firewall in between drops the connection, and whether the server requires TLS (add sslmode=require to the URL)`;

describe.each<Closing>(['on-accept', 'after-first-message'])('a peer that closes the connection %s', (closing) => {
  const server = closingServer(closing);
  let port: number;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('the catalog connection (node-postgres) fails with CONNECTION_LOST and the hint', async () => {
    const error = await pgcdcRejection(CatalogConnection.open(connectionTo(port, 'prefer')));
    expect(error.code).toBe('CONNECTION_LOST');
    expect(error.message).toMatch(new RegExp(`^the connection to 127\\.0\\.0\\.1:${port} was closed while connecting, before PostgreSQL answered \\((Connection terminated unexpectedly|read ECONNRESET)\\)$`));
    expect(error.hint).toBe(HINT(port));
  });

  it.each<SslMode>(['disable', 'prefer', 'require'])('the replication connection (sslmode=%s) fails with CONNECTION_LOST and the hint', async (sslMode) => {
    const error = await pgcdcRejection(WireConnection.connect(connectionTo(port, sslMode)));
    expect(error.code).toBe('CONNECTION_LOST');
    expect(error.message).toMatch(new RegExp(`^the connection to 127\\.0\\.0\\.1:${port} was closed while connecting, before PostgreSQL answered( \\(read ECONNRESET\\))?$`));
    expect(error.hint).toBe(HINT(port));
  });
});
