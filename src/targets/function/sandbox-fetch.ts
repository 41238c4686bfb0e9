/**
 * The host side of the `fetch` a sandboxed script is granted: each request checked against the
 * allow-list, then sent through an undici keep-alive agent, never following a redirect (a 3xx is
 * the script's answer, so no hop can leave the list), with the body read whole up to a size limit.
 * Every failure becomes a reply the script's `fetch` rejects with; nothing here throws into the
 * sandbox's caller.
 */
import { STATUS_CODES } from 'node:http';
import { Agent } from 'undici';
import { redactUrl } from '../../config/redact-config.js';
import { type HostPattern, hostAllowed } from './network-allow-list.js';

/** A request as the sandbox's `fetch` hands it over (copied out of the isolate). */
export interface FetchRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string | Uint8Array | undefined;
}

/** What the sandbox's `fetch` resolves or rejects with (copied into the isolate). */
export type FetchReply =
  | {
      readonly kind: 'response';
      readonly url: string;
      readonly status: number;
      readonly statusText: string;
      readonly headers: readonly (readonly [string, string])[];
      readonly body: string;
    }
  | { readonly kind: 'error'; readonly name: 'TypeError' | 'TimeoutError' | 'AbortError'; readonly message: string };

export interface SandboxFetchOptions {
  readonly hosts: readonly HostPattern[];
  /** Longest a request may take, headers and body; undefined: only the event's time limit. */
  readonly requestTimeoutMs: number | undefined;
  /** Largest response body read, in bytes. */
  readonly maxBodyBytes: number;
  /** Where the allow-list is set, for messages: `spec.target.pgLambda.grants.allowNetwork.hosts`. */
  readonly setting: string;
}

/** Headers a script may not set: they would change where or how the request goes. */
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer']);

/** Connections kept per origin; more requests in flight wait their turn. */
const CONNECTIONS_PER_ORIGIN = 16;

/** Methods `fetch` accepts (as the WHATWG spec normalises them, plus any other token as given). */
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Sends the granted requests; one per sandbox isolate. */
export class SandboxFetch {
  readonly #options: SandboxFetchOptions;
  readonly #agent: Agent;
  readonly #inFlight = new Set<AbortController>();

  constructor(options: SandboxFetchOptions) {
    this.#options = options;
    // Timeouts are the invocation's deadline and `requestTimeoutMs`, applied by aborting.
    this.#agent = new Agent({ connections: CONNECTIONS_PER_ORIGIN, keepAliveTimeout: 10_000, headersTimeout: 0, bodyTimeout: 0 });
  }

  /**
   * Starts a request: a reply at once when it is refused (host not allowed, bad URL, method or
   * header), else the promise of its reply, which never rejects.
   */
  start(request: FetchRequest): FetchReply | Promise<FetchReply> {
    // The request was built by code the script can tamper with (its globals): check every part.
    if (!isFetchRequest(request)) return typeError('fetch refused: the request is malformed (url, method and header values must be strings)');
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return typeError(`fetch refused: ${JSON.stringify(request.url)} is not an absolute URL`);
    }
    const shown = redactUrl(url.href);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return typeError(`fetch refused: ${shown} is not an http: or https: URL`);
    if (!hostAllowed(this.#options.hosts, url)) {
      return typeError(`fetch refused: ${url.host} is not in ${this.#options.setting} (${this.#options.hosts.map((host) => host.text).join(', ')})`);
    }
    if (!METHOD_TOKEN.test(request.method) || request.method.toUpperCase() === 'CONNECT') return typeError(`fetch refused: ${JSON.stringify(request.method)} is not a method fetch can send`);
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) {
      const lower = name.toLowerCase();
      if (FORBIDDEN_HEADERS.has(lower)) return typeError(`fetch refused: the ${lower} header cannot be set by the script`);
      headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
    }
    return this.#send(url, shown, request.method, headers, request.body);
  }

  /** Requests started and not yet replied to. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Aborts every request in flight; their replies then say so. */
  abortAll(): void {
    for (const controller of this.#inFlight) controller.abort();
    this.#inFlight.clear();
  }

  async close(): Promise<void> {
    this.abortAll();
    await this.#agent.destroy().catch(() => undefined);
  }

  async #send(url: URL, shown: string, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined): Promise<FetchReply> {
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const { requestTimeoutMs } = this.#options;
    let timedOut = false;
    const timer = requestTimeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, requestTimeoutMs);
    try {
      const response = await this.#agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        body: body ?? null,
        signal: controller.signal,
      });
      const text = await this.#readBody(response.body, shown);
      if (typeof text !== 'string') return text;
      return {
        kind: 'response',
        url: url.href,
        status: response.statusCode,
        statusText: STATUS_CODES[response.statusCode] ?? '',
        headers: headerPairs(response.headers),
        body: text,
      };
    } catch (error) {
      if (timedOut) return { kind: 'error', name: 'TimeoutError', message: `fetch ${shown} timed out after ${requestTimeoutMs} ms` };
      if (controller.signal.aborted) return { kind: 'error', name: 'AbortError', message: `fetch ${shown} was aborted: the invocation ended` };
      const code = String((error as { code?: unknown }).code ?? '');
      return typeError(`fetch ${shown} failed: ${(error as Error).message}${code === '' ? '' : ` (${code})`}`);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  /** The body as UTF-8 text, or an error reply when it is larger than the limit. */
  async #readBody(body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown }, shown: string): Promise<string | FetchReply> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.length;
      if (size > this.#options.maxBodyBytes) {
        body.destroy();
        return typeError(`fetch ${shown} failed: the response body is larger than ${this.#options.maxBodyBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size).toString('utf8');
  }
}

function isFetchRequest(request: unknown): request is FetchRequest {
  if (typeof request !== 'object' || request === null) return false;
  const { url, method, headers, body } = request as Record<string, unknown>;
  if (typeof url !== 'string' || typeof method !== 'string' || !Array.isArray(headers)) return false;
  if (!headers.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string')) return false;
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

function typeError(message: string): FetchReply {
  return { kind: 'error', name: 'TypeError', message };
}

/** Response headers as lower-case name/value pairs (several values of one name joined with ", "). */
function headerPairs(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    pairs.push([name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]);
  }
  return pairs;
}
