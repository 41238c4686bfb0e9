/**
 * Opens the NATS JetStream target's connection (servers, credentials, TLS; no automatic reconnect:
 * the target reconnects itself, so messages are never buffered across connections out of order)
 * and turns the client's errors into one line naming the server and the fix.
 */
import type { NatsJetStreamTargetConfig } from '../../config/nats-jetstream-settings.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection, nkeyAuthenticator } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

const SETTINGS = 'spec.target.natsJetStream';

export interface NatsSession {
  readonly connection: NatsConnection;
  readonly manager: JetStreamManager;
}

/** The client options of `config`. */
function connectionOptions(config: NatsJetStreamTargetConfig, timeoutMs: number): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: [...config.servers],
    name: `pgcdc-${config.msgIdPrefix}`,
    reconnect: false,
    timeout: timeoutMs,
    pingInterval: 30_000,
  };
  const credentials = config.credentials;
  if (credentials?.kind === 'password') Object.assign(options, { user: credentials.user, pass: credentials.password });
  else if (credentials?.kind === 'token') options.token = credentials.token;
  else if (credentials?.kind === 'nkey') options.authenticator = nkeyAuthenticator(new TextEncoder().encode(credentials.seed));
  else if (credentials?.kind === 'creds') options.authenticator = credsAuthenticator(new TextEncoder().encode(credentials.creds));
  const tls = config.tls;
  if (tls) {
    options.tls = {
      ...(tls.caCertificate ? { ca: tls.caCertificate } : {}),
      ...(tls.certificate ? { cert: tls.certificate, key: tls.key } : {}),
      ...(tls.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
    } as NonNullable<typeof options.tls>;
  }
  else if (config.servers.some((server) => server.startsWith('tls://'))) options.tls = {};
  return options;
}

/**
 * Connects to the first server that answers and checks JetStream is enabled.
 *
 * @throws PgcdcError TARGET_UNREACHABLE when no server answers, TARGET_FAILED when the login or TLS is refused or JetStream is off
 */
export async function openNatsSession(config: NatsJetStreamTargetConfig, timeoutMs = Math.min(config.publishTimeoutMs, 10_000)): Promise<NatsSession> {
  let connection: NatsConnection;
  try {
    connection = await connect(connectionOptions(config, timeoutMs));
  } catch (error) {
    throw connectError(error, config);
  }
  try {
    const manager = await jetstreamManager(connection, { timeout: timeoutMs });
    return { connection, manager };
  } catch (error) {
    await connection.close().catch(() => undefined);
    const text = describe(error);
    if (/not enabled|JetStreamNotEnabled|no responders/i.test(text)) {
      throw new PgcdcError('TARGET_FAILED', `JetStream is not enabled on the NATS server ${connection.getServer()} (${text})`, {
        hint: 'start nats-server with -js (or a jetstream {} block in its configuration), or enable JetStream for the account',
      });
    }
    throw new PgcdcError('TARGET_UNREACHABLE', `the NATS server ${connection.getServer()} did not answer JetStream's account request (${text})`, { hint: 'check the server is healthy and JetStream is enabled' });
  }
}

/** The one-line error of a failed connect. */
function connectError(error: unknown, config: NatsJetStreamTargetConfig): PgcdcError {
  const servers = config.servers.join(',');
  const text = describe(error);
  if (/authorization|authentication|user.*expired|Permissions/i.test(text)) {
    return new PgcdcError('TARGET_FAILED', `the NATS server ${servers} refused pgcdc's credentials (${text})`, {
      hint: `fix ${SETTINGS}.credentials (user + password, token, nkeySeed or credsFile) to match the server's authorization block`,
    });
  }
  if (/certificate|self[- ]signed|SSL|TLS|handshake|tls/i.test(text)) {
    return new PgcdcError('TARGET_FAILED', `TLS to the NATS server ${servers} failed (${text})`, {
      hint: `give the CA that signed the server's certificate in ${SETTINGS}.tls.caCertificate (and a client certificate and key if the server verifies clients)`,
    });
  }
  return new PgcdcError('TARGET_UNREACHABLE', `cannot reach the NATS server ${servers} (${text})`, { hint: `start the server, or fix ${SETTINGS}.servers` });
}

/** An error's message with its causes. */
export function describe(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current && depth < 4; current = (current as { cause?: unknown }).cause, depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
  }
  return parts.join(': ') || String(error);
}
