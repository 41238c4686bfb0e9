/**
 * Builds CloudEvent stream specs for tests (a native document written to a temporary directory),
 * and throwaway TLS certificates made with openssl.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StreamConfig } from '../../src/config/stream-config.js';
import { targetStream, tempDir } from './stream-fixtures.js';

let counter = 0;

export interface CloudEventStreamOptions {
  readonly url: string;
  readonly receiverUrl: string;
  readonly name?: string;
  /** Keys of spec.target.cloudEvent besides http. */
  readonly cloudEvent?: Record<string, unknown>;
  /** Keys of spec.target.cloudEvent.http besides url. */
  readonly http?: Record<string, unknown>;
  readonly source?: Record<string, unknown>;
  readonly maxRetries?: number;
}

export async function cloudEventStream(options: CloudEventStreamOptions): Promise<{ config: StreamConfig; specFile: string; dir: string }> {
  return targetStream({
    url: options.url,
    name: options.name ?? `ce${process.pid}x${++counter}`,
    dir: tempDir('pgcdc-ce-'),
    target: { type: 'CloudEvent', cloudEvent: { http: { url: options.receiverUrl, retryBackoffDelay: 0, ...options.http }, ...options.cloudEvent } },
    ...(options.source === undefined ? {} : { source: options.source }),
    maxRetries: options.maxRetries ?? 0,
  });
}

/** A self-signed certificate for 127.0.0.1 (and `localhost`), made with openssl. */
export function selfSignedCertificate(dir: string, commonName = 'localhost'): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=DNS:${commonName}${commonName === 'localhost' ? ',IP:127.0.0.1' : ''}`,
  ], { stdio: 'ignore' });
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
}
