/**
 * The webhook subscription HTTP API (pgstream's): `POST /webhooks/subscribe` and
 * `POST /webhooks/unsubscribe` with a JSON body `{"url", "schema", "table", "event_types"}`, and
 * `GET /webhooks/subscriptions` listing them. Answers are JSON; a bad request is a 400 saying what
 * is wrong, a store that cannot be reached a 503. The API has no authentication: it listens on
 * the loopback interface unless told otherwise.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { asPgcdcError, PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import { readSubscriptionRequest, type SubscriptionRequest } from './subscription-request.js';
import type { SubscriptionStore } from './subscription-store.js';
import { subscriptionJson } from './webhook-subscription.js';

/** pgstream's default port. */
export const DEFAULT_SUBSCRIPTION_PORT = 9900;
/** pgstream's default read timeout. */
export const DEFAULT_READ_TIMEOUT_MS = 5_000;
/** Largest request body read. */
const MAX_BODY_BYTES = 64 * 1024;

export interface SubscriptionServerOptions {
  /** Where subscriptions are kept. */
  readonly store: Pick<SubscriptionStore, 'subscribe' | 'unsubscribe' | 'list'>;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on (0: any free port); default 9900. */
  readonly port?: number;
  /** Time to receive a whole request; default 5 s. */
  readonly readTimeoutMs?: number;
  /** Told about every subscription change and every failure. */
  readonly logger?: Logger;
}

/** An answer: a status and a JSON body. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request the API refuses: its status, what is wrong, and headers to send with it. */
class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/**
 * A running subscription server.
 *
 * @example
 * const server = await SubscriptionServer.start({ store, port: 9900, logger });
 * // curl -X POST localhost:9900/webhooks/subscribe -d '{"url":"https://hooks.example.com/orders","schema":"public","table":"orders","event_types":["I","U"]}'
 * await server.close();
 */
export class SubscriptionServer {
  readonly #server: http.Server;
  readonly #options: SubscriptionServerOptions;

  private constructor(options: SubscriptionServerOptions) {
    this.#options = options;
    const timeout = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.#server = http.createServer({ requestTimeout: timeout, headersTimeout: timeout }, (request, response) => {
      this.#handle(request)
        .catch((error: unknown) => this.#failure(error))
        .then((answer) => send(response, answer));
    });
  }

  /**
   * Listens on `host:port`.
   *
   * @throws PgcdcError CONFIG_INVALID when the address is in use or cannot be listened on
   */
  static async start(options: SubscriptionServerOptions): Promise<SubscriptionServer> {
    const server = new SubscriptionServer(options);
    await listenOn(server.#server, options.host ?? '127.0.0.1', options.port ?? DEFAULT_SUBSCRIPTION_PORT);
    return server;
  }

  /**
   * Checks, before anything else starts, that the address can be listened on (listens, then stops).
   *
   * @throws PgcdcError CONFIG_INVALID when it cannot
   */
  static async checkAddress(host = '127.0.0.1', port = DEFAULT_SUBSCRIPTION_PORT): Promise<void> {
    const server = http.createServer();
    await listenOn(server, host, port);
    await new Promise((resolve) => server.close(resolve));
  }

  /** The base URL it answers on, e.g. `http://127.0.0.1:9900`. */
  get url(): string {
    const { address, port, family } = this.#server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  /** Stops listening and closes idle connections; requests in progress finish. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await closed;
  }

  async #handle(request: http.IncomingMessage): Promise<Answer> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const { store, logger } = this.#options;
    switch (path) {
      case '/webhooks/subscribe': {
        const { key, eventTypes } = await readRequest(request);
        const stored = await store.subscribe(key, eventTypes);
        logger?.info({ subscription: subscriptionJson(stored) }, `webhook subscription added: ${key.url} for ${describeScope(key.schema, key.table)}`);
        return { status: 201, body: subscriptionJson(stored) };
      }
      case '/webhooks/unsubscribe': {
        const { key } = await readRequest(request);
        const deleted = await store.unsubscribe(key);
        if (deleted) logger?.info(`webhook subscription removed: ${key.url} for ${describeScope(key.schema, key.table)}`);
        return { status: 200, body: { deleted } };
      }
      case '/webhooks/subscriptions':
        if (request.method !== 'GET') throw methodNotAllowed('GET');
        return { status: 200, body: { subscriptions: store.list().map(subscriptionJson) } };
      default:
        throw new HttpProblem(404, `no such endpoint: ${path}; expected POST /webhooks/subscribe, POST /webhooks/unsubscribe or GET /webhooks/subscriptions`);
    }
  }

  #failure(error: unknown): Answer {
    if (error instanceof HttpProblem) {
      return { status: error.status, body: { error: error.message }, headers: error.headers };
    }
    const failure = asPgcdcError(error);
    this.#options.logger?.warn({ code: failure.code }, `webhook subscription request failed: ${failure.toLine()}`);
    return { status: 503, body: { error: failure.message } };
  }
}

function methodNotAllowed(allowed: string): HttpProblem {
  return new HttpProblem(405, `this endpoint takes ${allowed}`, { allow: allowed });
}

function describeScope(schema: string, table: string): string {
  return `${schema === '' ? 'every schema' : `schema ${schema}`}, ${table === '' ? 'every table' : `table ${table}`}`;
}

/** The subscription request in a POST body, or an HttpProblem (400, 405, 413). */
async function readRequest(request: http.IncomingMessage): Promise<SubscriptionRequest> {
  if (request.method !== 'POST') throw methodNotAllowed('POST');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpProblem(400, `the body is not JSON (${(error as Error).message}); expected {"url": …, "schema": …, "table": …, "event_types": […]}`);
  }
  const reading = readSubscriptionRequest(body);
  if (!reading.ok) throw new HttpProblem(400, reading.problem);
  return reading.request;
}

function send(response: http.ServerResponse, answer: Answer): void {
  const body = JSON.stringify(answer.body);
  response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...answer.headers });
  response.end(body);
}

/** Listens on `host:port`; an address in use (or any failure to listen) is CONFIG_INVALID with the fix. */
async function listenOn(server: http.Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new PgcdcError('CONFIG_INVALID', `the webhook subscription server cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`, {
      cause: error,
      hint: 'choose another port for the subscription server, or stop what listens there',
    });
  });
}
