/**
 * Grants: what a sandboxed script may reach beyond ECMAScript, each given explicitly, nothing by
 * default. `allowNetwork` gives it `fetch` (and `Headers`) to the listed hosts only, through
 * pgcdc's HTTP client (sandbox-fetch); `env` gives it `process.env` holding the named variables,
 * whose values were read at start. This module installs them into an isolate's context and carries
 * the replies of `fetch` back into it; any runtime built on an isolate (PgLambda scripts,
 * transforms) uses it the same way:
 *
 *   const grants = SandboxGrants.install(isolate, context, config, { memoryLimitMb, setting, setupTimeoutMs });
 *   // after a call into the isolate left the script waiting for a fetch:
 *   const next = await grants.nextReply(deadline); // undefined: the deadline passed
 *   grants.settle.applySync(undefined, [next.id, SandboxGrants.replyArgument(next.reply)], { timeout });
 *   // … once the script is done:
 *   grants.endInvocation(timeout, true);
 *
 * In the isolate, `fetch(url, { method, headers, body })` resolves with `{ status, statusText, ok,
 * url, redirected, headers: { get, has, forEach, … }, text(), json() }`; a refused or failed
 * request rejects with a TypeError saying why. Redirects are never followed: a 3xx is the answer.
 */
import ivm, { type Context, type Isolate, type Reference } from './isolated-vm-package.js';
import type { HostPattern } from './network-allow-list.js';
import { type FetchReply, type FetchRequest, SandboxFetch } from './sandbox-fetch.js';

/** `allowNetwork`, as checked at start. */
export interface NetworkGrantConfig {
  /** Hosts the script may fetch from (network-allow-list). */
  readonly hosts: readonly HostPattern[];
  /** Longest one request may take; undefined: bounded only by the event's time limit. */
  readonly requestTimeoutMs: number | undefined;
}

/** The grants of a sandbox, as checked at start; an empty object grants nothing. */
export interface SandboxGrantsConfig {
  /** Undefined: no network, no `fetch`. */
  readonly allowNetwork?: NetworkGrantConfig | undefined;
  /** The granted variables and their values, read from pgcdc's environment at start; undefined: no `process`. */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** Whether the grants give the script anything at all. */
export function grantsAnything(grants: SandboxGrantsConfig | undefined): grants is SandboxGrantsConfig {
  return grants !== undefined && (grants.allowNetwork !== undefined || grants.env !== undefined);
}

/** A reply ready to be handed to the script's pending `fetch`. */
export interface PendingReply {
  readonly id: number;
  readonly reply: FetchReply;
}

export interface SandboxGrantsOptions {
  /** The isolate's heap limit: a response body may take half of it at most. */
  readonly memoryLimitMb: number;
  /** Where the grants are set, for messages, e.g. `spec.target.pgLambda.grants`. */
  readonly setting: string;
  /** Time our own set-up code may take in the isolate. */
  readonly setupTimeoutMs: number;
}

/**
 * In-isolate part: `(hostFetch, envJson) => { settle, dropPending }`; `hostFetch` is undefined
 * without the network grant, `envJson` without the env grant.
 */
const GRANTS_SOURCE = String.raw`
(function installGrants(hostFetch, envJson) {
  'use strict';
  const defineProperty = Object.defineProperty;
  const objectKeys = Object.keys;
  const isArray = Array.isArray;
  const TOKEN = /^[!#$%&'*+\-.^_\x60|~0-9A-Za-z]+$/;
  const NORMALISED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
  function define(name, value) {
    defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  }

  if (envJson !== undefined) define('process', { env: JSON.parse(envJson) });

  const pending = new Map();
  if (hostFetch === undefined) return { settle() {}, dropPending() {} };

  class Headers {
    #values = new Map();
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        init.forEach((value, name) => this.append(name, value));
      } else if (typeof init === 'object' && typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          if (!isArray(pair) || pair.length !== 2) throw new TypeError('Headers: expected [name, value] pairs');
          this.append(pair[0], pair[1]);
        }
      } else if (typeof init === 'object') {
        for (const name of objectKeys(init)) this.append(name, init[name]);
      } else {
        throw new TypeError('Headers: expected an object, an array of [name, value] pairs or Headers');
      }
    }
    static #name(name) {
      const text = String(name);
      if (!TOKEN.test(text)) throw new TypeError('Invalid header name: ' + JSON.stringify(text));
      return text.toLowerCase();
    }
    static #value(value) {
      const text = String(value).trim();
      if (/[\r\n\0]/.test(text)) throw new TypeError('Invalid header value: ' + JSON.stringify(text));
      return text;
    }
    append(name, value) {
      const key = Headers.#name(name);
      const text = Headers.#value(value);
      const prior = this.#values.get(key);
      this.#values.set(key, prior === undefined ? text : prior + ', ' + text);
    }
    set(name, value) { this.#values.set(Headers.#name(name), Headers.#value(value)); }
    get(name) { const value = this.#values.get(String(name).toLowerCase()); return value === undefined ? null : value; }
    has(name) { return this.#values.has(String(name).toLowerCase()); }
    delete(name) { this.#values.delete(String(name).toLowerCase()); }
    forEach(fn, thisArg) { for (const [name, value] of this.#values) fn.call(thisArg, value, name, this); }
    entries() { return this.#values.entries(); }
    keys() { return this.#values.keys(); }
    values() { return this.#values.values(); }
    [Symbol.iterator]() { return this.#values.entries(); }
  }

  class FetchResponse {
    #body;
    #used = false;
    constructor(reply) {
      this.status = reply.status;
      this.statusText = reply.statusText;
      this.ok = reply.status >= 200 && reply.status <= 299;
      this.url = reply.url;
      this.redirected = false;
      this.type = 'basic';
      this.headers = new Headers(reply.headers);
      this.#body = reply.body;
    }
    get bodyUsed() { return this.#used; }
    text() {
      if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
      this.#used = true;
      return Promise.resolve(this.#body);
    }
    json() { return this.text().then((text) => JSON.parse(text)); }
  }

  function failure(reply) {
    const error = reply.name === 'TypeError' ? new TypeError(reply.message) : new Error(reply.message);
    if (reply.name !== 'TypeError') error.name = reply.name;
    return error;
  }

  function requestBody(body, method) {
    if (body === undefined || body === null) return undefined;
    if (method === 'GET' || method === 'HEAD') throw new TypeError('Request with GET/HEAD method cannot have body.');
    if (typeof body === 'string') return body;
    if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
    if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    return String(body);
  }

  function fetch(input, init) {
    return new Promise((resolve, reject) => {
      const options = init === undefined || init === null ? {} : init;
      const url = typeof input === 'string' ? input
        : input !== null && typeof input === 'object' && typeof input.href === 'string' ? input.href
        : input !== null && typeof input === 'object' && typeof input.url === 'string' ? input.url
        : String(input);
      let method = options.method === undefined ? 'GET' : String(options.method);
      if (NORMALISED_METHODS.includes(method.toUpperCase())) method = method.toUpperCase();
      const headers = new Headers(options.headers);
      const body = requestBody(options.body, method);
      if (typeof body === 'string' && !headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
      const started = hostFetch({ url, method, headers: Array.from(headers.entries()), body });
      if (started.kind === 'error') reject(failure(started));
      else pending.set(started.id, { resolve, reject });
    });
  }

  function settle(id, reply) {
    const waiter = pending.get(id);
    if (waiter === undefined) return;
    pending.delete(id);
    if (reply.kind === 'response') waiter.resolve(new FetchResponse(reply));
    else waiter.reject(failure(reply));
  }

  define('fetch', fetch);
  define('Headers', Headers);
  return { settle, dropPending() { pending.clear(); } };
})
`;

/** What the in-isolate `hostFetch` answers: a refusal at once, or the id of the request started. */
type StartAnswer = FetchReply | { readonly kind: 'started'; readonly id: number };

/** The grants installed in one isolate's context, and the replies on their way into it. */
export class SandboxGrants {
  readonly #fetch: SandboxFetch | undefined;
  readonly #settle: Reference;
  readonly #dropPending: Reference;
  readonly #replies = new Map<number, Promise<PendingReply>>();
  #sequence = 0;

  private constructor(fetch: SandboxFetch | undefined, settle: Reference, dropPending: Reference) {
    this.#fetch = fetch;
    this.#settle = settle;
    this.#dropPending = dropPending;
  }

  /** Defines `fetch`/`Headers` and `process.env` in `context` as the grants say (nothing for an empty grant). */
  static install(isolate: Isolate, context: Context, grants: SandboxGrantsConfig, options: SandboxGrantsOptions): SandboxGrants {
    const network = grants.allowNetwork;
    const fetch =
      network === undefined
        ? undefined
        : new SandboxFetch({
            hosts: network.hosts,
            requestTimeoutMs: network.requestTimeoutMs,
            maxBodyBytes: Math.floor((options.memoryLimitMb * 1024 * 1024) / 2),
            setting: `${options.setting}.allowNetwork.hosts`,
          });
    let bridge: SandboxGrants | undefined;
    const hostFetch = fetch === undefined ? undefined : new ivm.Callback((request: FetchRequest) => bridge!.#start(request));
    const factory = isolate.compileScriptSync(GRANTS_SOURCE, { filename: 'pgcdc-sandbox-grants.js' }).runSync(context, { reference: true, timeout: options.setupTimeoutMs }) as Reference;
    const envJson = grants.env === undefined ? undefined : JSON.stringify(grants.env);
    const installed = factory.applySync(undefined, [hostFetch, envJson], { timeout: options.setupTimeoutMs, result: { reference: true } }) as Reference;
    bridge = new SandboxGrants(fetch, installed.getSync('settle', { reference: true }) as Reference, installed.getSync('dropPending', { reference: true }) as Reference);
    return bridge;
  }

  /** Requests of the script not yet handed their reply. */
  get inFlight(): number {
    return this.#replies.size;
  }

  /** The next reply to hand to the script, or undefined when none came before `deadline` (a `performance.now()` time). */
  async nextReply(deadline: number): Promise<PendingReply | undefined> {
    if (this.#replies.size === 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now()));
    });
    try {
      const next = await Promise.race([...this.#replies.values(), expired]);
      if (next !== undefined) this.#replies.delete(next.id);
      return next;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The in-isolate function to call with `(id, reply)`, the reply passed with `replyArgument`. */
  get settle(): Reference {
    return this.#settle;
  }

  /** A reply as an argument `settle` can take (copied into the isolate). */
  static replyArgument(reply: FetchReply): unknown {
    return new ivm.ExternalCopy(reply).copyInto({ release: true });
  }

  /**
   * Ends an invocation: requests still in flight are aborted and their promises in the isolate
   * forgotten (`timeoutMs` bounds that call; skipped when nothing was in flight).
   */
  endInvocation(timeoutMs: number, isolateUsable: boolean): void {
    if (this.#replies.size === 0) return;
    this.#fetch?.abortAll();
    this.#replies.clear();
    if (isolateUsable) this.#dropPending.applySync(undefined, [], { timeout: timeoutMs });
  }

  /** Aborts what is in flight and closes the HTTP client. */
  close(): void {
    this.#replies.clear();
    void this.#fetch?.close();
  }

  #start(request: FetchRequest): StartAnswer {
    let started: FetchReply | Promise<FetchReply>;
    try {
      started = this.#fetch!.start(request);
    } catch (error) {
      return { kind: 'error', name: 'TypeError', message: `fetch failed: ${(error as Error).message}` };
    }
    if (!(started instanceof Promise)) return started;
    const id = ++this.#sequence;
    this.#replies.set(
      id,
      started.then((reply) => ({ id, reply })),
    );
    return { kind: 'started', id };
  }
}
