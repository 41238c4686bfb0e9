/**
 * The HTTP(S) server of `pgcdc serve`: node:http (node:https when a certificate is given), a small
 * route table (`GET /api/streams/{name}`), JSON in and out, and the authentication every route
 * but the public ones needs. Errors answer `{"error_code": <status>, "message": …}`, Kafka
 * Connect's shape, which Connect's own routes (connect-api) share.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { PgcdcError, type ErrorCode } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { type Access, type ServeAuth, authorize, challenge } from './serve-auth.js';

/** What a handler answers. */
export type Reply =
  | { readonly status: number; readonly json: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status: number; readonly body: string | Buffer; readonly contentType: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly status: 204 };

export interface RouteRequest {
  /** Path parameters by name (`{name}` in the pattern), decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as text (at most MAX_BODY_BYTES). */
  text(): Promise<string>;
  /** The body parsed as JSON; a 400 when it is not. */
  json(): Promise<unknown>;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/api/streams/{name}/pause`; a last segment `{path*}` takes the rest of the path. */
  readonly pattern: string;
  /** Who may call it (default: `api`, authenticated by header). */
  readonly access?: Access;
  readonly handler: (request: RouteRequest) => Promise<Reply> | Reply;
}

/** A failure answered with this HTTP status and message. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface ServeServerOptions {
  readonly host: string;
  readonly port: number;
  readonly auth: ServeAuth;
  /** PEM certificate chain and key: HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly routes: readonly Route[];
  readonly logger: Logger;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** HTTP statuses of the PgcdcErrors a handler may throw. */
const ERROR_STATUS: Partial<Record<ErrorCode, number>> = {
  CONFIG_INVALID: 400,
  CONFIG_UNREADABLE: 400,
  SECRET_NOT_FOUND: 400,
  NOT_FOUND: 404,
  SOURCE_UNREACHABLE: 502,
  TARGET_UNREACHABLE: 502,
};

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

/** A listening server; `close()` stops accepting and ends idle connections. */
export class ServeServer {
  readonly #server: http.Server;
  readonly #routes: readonly CompiledRoute[];
  readonly #options: ServeServerOptions;

  private constructor(options: ServeServerOptions) {
    this.#options = options;
    this.#routes = options.routes.map((route) => ({ route, segments: route.pattern.split('/').slice(1) }));
    const listener = (request: http.IncomingMessage, response: http.ServerResponse): void => {
      this.#handle(request, response).catch((error: unknown) => {
        options.logger.error({ err: error }, 'HTTP request failed');
        if (!response.headersSent) send(response, { status: 500, json: errorBody(500, 'internal error') });
        else response.destroy();
      });
    };
    this.#server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, listener) : http.createServer(listener);
    this.#server.keepAliveTimeout = 5000;
  }

  /** Starts listening; rejects with a PgcdcError when the address cannot be used. */
  static async listen(options: ServeServerOptions): Promise<ServeServer> {
    let server: ServeServer;
    try {
      server = new ServeServer(options);
    } catch (error) {
      throw new PgcdcError('CONFIG_INVALID', `the TLS certificate or key cannot be used: ${(error as Error).message}`, {
        hint: 'give --tls-cert a PEM certificate and --tls-key its PEM private key',
        cause: error,
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new PgcdcError('CONFIG_INVALID', `cannot listen on ${options.host}:${options.port}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`, {
            hint: 'choose another --listen HOST:PORT',
            cause: error,
          }),
        ),
      );
      server.#server.listen(options.port, options.host, () => resolve());
    });
    return server;
  }

  /** `http://host:port` (or https) as listened on. */
  get origin(): string {
    const address = this.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.#options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  /** Stops accepting; idle connections end now, busy ones after their request (at most 5 s). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const cutOff = setTimeout(() => this.#server.closeAllConnections(), 5000);
    await closed;
    clearTimeout(cutOff);
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://serve');
    const found = this.#match(request.method ?? 'GET', url.pathname);
    if (found === 'no route') return send(response, { status: 404, json: errorBody(404, `no route for ${url.pathname}`) });
    if (found === 'no method') return send(response, { status: 405, json: errorBody(405, `${request.method} is not allowed on ${url.pathname}`) });
    const access = found.route.access ?? 'api';
    const granted = authorize(this.#options.auth, access, request.headers, url.searchParams);
    if (!granted.ok) {
      return send(response, { status: 401, json: errorBody(401, 'authentication required: send the token as "Authorization: Bearer <token>" (or basic auth)'), headers: challenge(this.#options.auth) });
    }
    let reply: Reply;
    try {
      reply = await found.route.handler(routeRequest(request, url, found.params));
    } catch (error) {
      reply = errorReply(error, this.#options.logger);
    }
    if (granted.setCookie !== undefined) reply = { ...reply, headers: { ...('headers' in reply ? reply.headers : {}), 'set-cookie': granted.setCookie } } as Reply;
    send(response, reply);
  }

  #match(method: string, pathname: string): { route: Route; params: Record<string, string> } | 'no route' | 'no method' {
    // `/connectors/` is `/connectors` (Connect's guides POST to the former).
    const segments = (pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname).split('/').slice(1);
    let pathMatched = false;
    for (const compiled of this.#routes) {
      const params = matchSegments(compiled.segments, segments);
      if (params === undefined) continue;
      pathMatched = true;
      if (compiled.route.method === method || (method === 'HEAD' && compiled.route.method === 'GET')) return { route: compiled.route, params };
    }
    return pathMatched ? 'no method' : 'no route';
  }
}

/** The `{"error_code", "message"}` body of a failure. */
export function errorBody(status: number, message: string): { error_code: number; message: string } {
  return { error_code: status, message };
}

function matchSegments(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    if (part.startsWith('{') && part.endsWith('*}')) {
      if (i >= segments.length) return undefined;
      params[part.slice(1, -2)] = segments.slice(i).map(decodeSegment).join('/');
      return params;
    }
    const segment = segments[i];
    if (segment === undefined) return undefined;
    if (part.startsWith('{') && part.endsWith('}')) {
      if (segment === '') return undefined;
      params[part.slice(1, -1)] = decodeSegment(segment);
    } else if (part !== segment) return undefined;
  }
  return pattern.length === segments.length ? params : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function routeRequest(request: http.IncomingMessage, url: URL, params: Record<string, string>): RouteRequest {
  let body: Promise<string> | undefined;
  const text = (): Promise<string> => (body ??= readBody(request));
  return {
    params,
    query: url.searchParams,
    headers: request.headers,
    text,
    async json() {
      const raw = await text();
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new HttpError(400, 'the request body is not JSON');
      }
    },
  };
}

async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorReply(error: unknown, logger: Logger): Reply {
  if (error instanceof HttpError) return { status: error.status, json: errorBody(error.status, error.message) };
  if (error instanceof PgcdcError) {
    const status = ERROR_STATUS[error.code] ?? 500;
    if (status === 500) logger.error({ err: error }, 'request failed');
    return { status, json: errorBody(status, error.toLine()) };
  }
  logger.error({ err: error }, 'request failed');
  return { status: 500, json: errorBody(500, error instanceof Error ? error.message : String(error)) };
}

function send(response: http.ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { ...('headers' in reply ? reply.headers : {}) };
  let body: string | Buffer | undefined;
  if ('json' in reply) {
    body = JSON.stringify(reply.json);
    headers['content-type'] = 'application/json; charset=utf-8';
  } else if ('body' in reply) {
    body = reply.body;
    headers['content-type'] = reply.contentType;
  }
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
  response.writeHead(reply.status, headers);
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
