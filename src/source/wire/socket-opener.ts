/**
 * Opens the byte stream to a PostgreSQL server: TCP (or a Unix socket when the host is a directory),
 * with a connect timeout and TCP keepalives, upgraded to TLS as the sslmode asks.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { sslRequestMessage } from './frontend-messages.js';
import { socketErrorToPgcdcError, type ConnectionContext } from './server-error.js';

const SSL_ACCEPTED = 0x53; // S

/** A connected socket, TLS-wrapped when negotiated. */
export async function openSocket(config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  const socket = await connectSocket(config, context);
  if (config.sslMode === 'disable' || config.sslMode === 'allow' || config.host.startsWith('/')) return socket;
  const accepted = await requestSsl(socket, context);
  if (!accepted) {
    if (config.sslMode === 'prefer') return socket;
    socket.destroy();
    throw new PgcdcError('SOURCE_UNREACHABLE', `the server at ${context.host}:${context.port} does not accept TLS but sslmode=${config.sslMode}`, {
      hint: 'enable ssl on the server, or use sslmode=prefer/disable',
    });
  }
  return upgradeToTls(socket, config, context);
}

function connectSocket(config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = config.host.startsWith('/')
      ? net.connect({ path: `${config.host}/.s.PGSQL.${config.port}` })
      : net.connect({ host: config.host, port: config.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new PgcdcError('SOURCE_UNREACHABLE', `cannot reach PostgreSQL at ${context.host}:${context.port}: no answer within ${config.connectTimeoutMs} ms`, {
          hint: 'check the host, port, network and firewalls, or raise connect_timeout',
        }),
      );
    }, config.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setKeepAlive(true, 10_000);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketErrorToPgcdcError(error, context));
    });
  });
}

function requestSsl(socket: net.Socket, context: ConnectionContext): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const closed = (): void => reject(new PgcdcError('CONNECTION_LOST', `the connection to ${context.host}:${context.port} was closed before the server answered the TLS request`));
    socket.once('data', (chunk: Buffer) => {
      socket.removeAllListeners('error');
      socket.removeListener('close', closed);
      resolve(chunk[0] === SSL_ACCEPTED);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => reject(socketErrorToPgcdcError(error, context)));
    socket.once('close', closed);
    socket.write(sslRequestMessage());
  });
}

function upgradeToTls(socket: net.Socket, config: ConnectionConfig, context: ConnectionContext): Promise<net.Socket> {
  const verify = config.sslMode === 'verify-ca' || config.sslMode === 'verify-full';
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername: net.isIP(config.host) ? undefined : config.host,
      rejectUnauthorized: verify,
      ca: config.sslRootCert,
      cert: config.sslCert,
      key: config.sslKey,
      checkServerIdentity: config.sslMode === 'verify-full' ? tls.checkServerIdentity : () => undefined,
    });
    secure.once('secureConnect', () => {
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new PgcdcError('SOURCE_UNREACHABLE', `TLS handshake with ${context.host}:${context.port} failed: ${error.message}`, {
          cause: error,
          hint: verify ? 'check sslrootcert (the CA that signed the server certificate) and the host name' : 'check the server TLS configuration',
        }),
      );
    });
  });
}
