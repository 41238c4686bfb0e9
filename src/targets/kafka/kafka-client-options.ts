/**
 * What every Kafka client of pgcdc (the target's producer and admin, the source's consumer) is
 * built with: brokers, timeouts, TLS and SASL; and the one-line text of the client's errors.
 */
import type { ClientTls } from '../../config/client-tls-settings.js';
import type { KafkaTargetConfig } from '../../config/stream-config.js';

/** The connection settings a client needs. */
export interface KafkaClientSettings {
  readonly clientId: string;
  readonly bootstrapServers: readonly string[];
  readonly requestTimeoutMs: number;
  readonly tls: ClientTls | undefined;
  readonly sasl: KafkaTargetConfig['sasl'];
}

/** @platformatic/kafka's base options for `settings`. */
export function kafkaClientOptions(settings: KafkaClientSettings) {
  const tls = settings.tls;
  return {
    clientId: settings.clientId,
    bootstrapBrokers: [...settings.bootstrapServers],
    timeout: settings.requestTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    connectTimeout: Math.min(settings.requestTimeoutMs, 10_000),
    retries: 5,
    retryDelay: 500,
    ...(tls
      ? {
          tls: {
            ...(tls.caCertificate ? { ca: tls.caCertificate } : {}),
            ...(tls.certificate ? { cert: tls.certificate, key: tls.key } : {}),
            ...(tls.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
          },
        }
      : {}),
    ...(settings.sasl ? { sasl: { mechanism: settings.sasl.mechanism, username: settings.sasl.username, password: settings.sasl.password } } : {}),
  };
}

/**
 * The messages of an error and of what it wraps (the client nests the brokers' errors several
 * levels deep: attempts, brokers, connection, SASL, response), each with the Kafka error's name
 * (MESSAGE_TOO_LARGE, not its number) or the system's code (ECONNREFUSED) and the broker's own
 * message; the client's generic codes (PLT_KFK_*) say nothing and are left out.
 */
export function describeKafkaError(error: unknown): string {
  const parts: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (depth > 8 || e === null || e === undefined) return;
    if (e instanceof Error) {
      const { apiId, code, serverErrorMessage } = e as { apiId?: unknown; code?: unknown; serverErrorMessage?: unknown };
      const name = apiId ?? code;
      let part = e.message.replace(/\.$/, '');
      if (typeof serverErrorMessage === 'string' && serverErrorMessage !== '' && serverErrorMessage !== e.message) part += `: ${serverErrorMessage.replace(/\.$/, '')}`;
      if (name !== undefined && !String(name).startsWith('PLT_KFK_')) part += ` [${String(name)}]`;
      parts.push(part);
      if (e instanceof AggregateError) for (const inner of e.errors) visit(inner, depth + 1);
      visit((e as { cause?: unknown }).cause, depth + 1);
    } else parts.push(String(e));
  };
  visit(error, 0);
  return [...new Set(parts)].join('; ');
}
