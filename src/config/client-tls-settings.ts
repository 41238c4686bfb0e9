/**
 * TLS settings of a client of a server pgcdc writes to (Kafka brokers, NATS, Redis, RabbitMQ): the
 * CA, a client certificate and key as PEM files relative to the stream file, and whether the
 * server's host name is checked; and how they become the PEM texts a client takes.
 */
import { z } from 'zod';
import type { ConfigPath, ConfigProblems } from './config-issues.js';
import { readPemSetting } from './http-delivery-settings.js';

/** TLS of a client, PEM files read. */
export interface ClientTls {
  readonly caCertificate: string | undefined;
  readonly certificate: string | undefined;
  readonly key: string | undefined;
  readonly skipHostnameVerification: boolean;
}

/** The schema of a `tls` section; `description` says when the connection uses TLS. */
export function clientTlsSchema(description: string) {
  return z
    .strictObject({
      caCertificate: z.string().min(1).optional().describe("PEM file of the CA that signed the server's certificate (besides the system's), relative to the stream file's directory."),
      certificate: z.string().min(1).optional().describe('PEM file of the client certificate, for servers that authenticate clients by certificate (mTLS).'),
      key: z.string().min(1).optional().describe("PEM file of the client certificate's private key."),
      skipHostnameVerification: z.boolean().default(false).describe("Accept a server certificate that does not name the server's host (the chain is still checked)."),
    })
    .describe(description);
}

/** The TLS settings found at `at` with their PEM files read; null after a problem. */
export async function buildClientTls(tls: z.output<ReturnType<typeof clientTlsSchema>>, at: ConfigPath, cwd: string, problems: ConfigProblems): Promise<ClientTls | null> {
  const [caCertificate, certificate, key] = await Promise.all([
    readPemSetting(tls.caCertificate, [...at, 'caCertificate'], cwd, problems),
    readPemSetting(tls.certificate, [...at, 'certificate'], cwd, problems),
    readPemSetting(tls.key, [...at, 'key'], cwd, problems),
  ]);
  if (caCertificate === null || certificate === null || key === null) return null;
  if ((certificate === undefined) !== (key === undefined)) {
    problems.add(at, 'has a client certificate without its key, or a key without its certificate', { hint: 'give both certificate and key, or neither' });
    return null;
  }
  return { caCertificate, certificate, key, skipHostnameVerification: tls.skipHostnameVerification };
}
