/**
 * One HTTP endpoint events are POSTed to, through undici: a pool of keep-alive connections (one
 * per request in flight), connect and read timeouts, TLS with an optional CA and host name check.
 * Each failure becomes a DeliveryFailure saying whether it is about the request (a status the
 * success rule rejects, a timeout, a reset connection) or about the endpoint itself (unreachable,
 * TLS refused), and whether a retry may help.
 */
import { isIP } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { redactUrl } from '../../config/redact-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { DeliveryFailure } from '../delivery/delivery-failure.js';
import type { SuccessStatusRule } from '../../config/stream-config.js';
import { judgeStatus } from '../delivery/success-status.js';

export interface HttpEndpointOptions {
  readonly url: string;
  /** 0: no limit. */
  readonly connectTimeoutMs: number;
  /** Longest wait for the response's headers, then between body chunks; 0: no limit. */
  readonly readTimeoutMs: number;
  /** Connections kept (requests in flight at most). */
  readonly connections: number;
  readonly successStatus: SuccessStatusRule;
  readonly retryClientErrors: boolean;
  /** PEM of the CA that signed the endpoint's certificate (besides the system's). */
  readonly caCertificate: string | undefined;
  readonly skipHostnameVerification: boolean;
  /** What the endpoint is, for messages: `the CloudEvent receiver`. */
  readonly name: string;
  /** The key holding the URL and the key holding the CA, for hints. */
  readonly settings: { readonly url: string; readonly caCertificate: string };
}

/** Error codes of failures to reach the host at all. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

const CODE_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
};

export class HttpEndpoint {
  readonly #options: HttpEndpointOptions;
  readonly #url: URL;
  readonly #path: string;
  readonly #shownUrl: string;
  readonly #connector: buildConnector.connector;
  readonly #pool: Pool;

  constructor(options: HttpEndpointOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
    this.#path = `${this.#url.pathname}${this.#url.search}`;
    this.#shownUrl = redactUrl(options.url);
    this.#connector = buildConnector({
      timeout: options.connectTimeoutMs,
      ...(options.caCertificate === undefined ? {} : { ca: options.caCertificate }),
      ...(options.skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
    });
    this.#pool = new Pool(this.#url.origin, {
      connections: options.connections,
      connect: this.#connector,
      headersTimeout: options.readTimeoutMs,
      bodyTimeout: options.readTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  #pathOf(destination: string): string {
    if (destination.startsWith('/')) return destination;
    return `${this.#url.pathname.replace(/\/$/, '')}/${destination}${this.#url.search}`;
  }

  /** Opens one connection (TCP, and TLS for https) and closes it; fails with the fix when it cannot. */
  async probe(): Promise<void> {
    const url = this.#url;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    try {
      await new Promise<void>((resolve, reject) => {
        this.#connector(
          {
            hostname,
            host: url.host,
            protocol: url.protocol,
            port: url.port || (url.protocol === 'https:' ? '443' : '80'),
            ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
          },
          (error, socket) => {
            if (error) reject(error);
            else {
              socket!.destroy();
              resolve();
            }
          },
        );
      });
    } catch (error) {
      const failure = this.#transportFailure(error);
      throw new PgcdcError(failure.retryable ? 'TARGET_UNREACHABLE' : 'TARGET_FAILED', failure.message, { cause: error, ...(failure.hint ? { hint: failure.hint } : {}) });
    }
  }

  /**
   * POSTs `body`; resolves when the response status counts as success, else throws a
   * DeliveryFailure. `destination` (a transform's, docs/transforms.md) is the path instead of the
   * URL's when it starts with `/`, else a path below the URL's.
   */
  async post(body: Buffer, headers: Readonly<Record<string, string>>, signal: AbortSignal, destination?: string): Promise<void> {
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await this.#pool.request({ path: destination === undefined ? this.#path : this.#pathOf(destination), method: 'POST', headers, body, signal });
    } catch (error) {
      throw this.#transportFailure(error);
    }
    const status = response.statusCode;
    const verdict = judgeStatus(status, this.#options.successStatus, this.#options.retryClientErrors);
    if (verdict === 'delivered') {
      await response.body.dump().catch(() => undefined);
      return;
    }
    const text = await response.body.text().catch(() => '');
    const shown = text.replace(/\s+/g, ' ').trim();
    throw new DeliveryFailure(`${this.#options.name} at ${this.#shownUrl} answered HTTP ${status}${shown ? `: ${shown.length > 200 ? `${shown.slice(0, 197)}...` : shown}` : ''}`, {
      retryable: verdict === 'retry',
      scope: 'event',
    });
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => undefined);
  }

  /** A request that got no response, as a DeliveryFailure. */
  #transportFailure(error: unknown): DeliveryFailure {
    const { name, settings } = this.#options;
    const code = String((error as { code?: unknown }).code ?? '');
    const message = (error as Error).message;
    if (UNREACHABLE_CODES.has(code)) {
      return new DeliveryFailure(`cannot connect to ${name} at ${this.#shownUrl}: ${CODE_TEXT[code] ?? message} (${code})`, {
        retryable: true,
        scope: 'target',
        hint: `check ${settings.url} and that the receiver is running and reachable`,
        cause: error,
      });
    }
    if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO') {
      return new DeliveryFailure(`TLS with ${name} at ${this.#shownUrl} failed: ${message} (${code})`, {
        retryable: false,
        scope: 'target',
        hint: `give the CA that signed the receiver's certificate in ${settings.caCertificate} (a PEM file), or fix the receiver's certificate; skipHostnameVerification skips only the host name check`,
        cause: error,
      });
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new DeliveryFailure(`${name} at ${this.#shownUrl} did not answer within the read timeout (${this.#options.readTimeoutMs} ms)`, { retryable: true, scope: 'event', cause: error });
    }
    return new DeliveryFailure(`sending to ${name} at ${this.#shownUrl} failed: ${message}${code ? ` (${code})` : ''}`, { retryable: true, scope: 'event', cause: error });
  }
}
