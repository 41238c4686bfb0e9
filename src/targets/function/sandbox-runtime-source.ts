/**
 * The JavaScript that runs inside the sandbox's isolate around the user's script: it builds the
 * `event`, `request` and `response` objects a StackGres PgLambda script sees, the `console` and the
 * timers, runs the script for one event and reports what it answered.
 *
 * It is kept as source text (not a compiled function's `toString()`) so that what runs in the
 * isolate is exactly what is written here, whatever compiles or instruments the host's code.
 *
 * The source evaluates to a factory `(hostConsole, userFunction, scriptText) => { invoke, resume, checkBody }`:
 * - `invoke(eventJson)` starts one invocation; it returns the outcome when the script has already
 *   answered (`response.end()` called synchronously), else `undefined`;
 * - `resume(waitingForIo)` is called after the isolate ran its microtasks: it returns the outcome
 *   once known; else, while a granted `fetch` is in flight (`waitingForIo`), `undefined` (the host
 *   hands the reply in, then resumes again); else fires the next timer (virtual time: nothing but a
 *   fetch could wake the script) and returns `undefined`;
 * - `checkBody()` tells whether the script is a well-formed function body on its own (a script
 *   cannot close the function it is wrapped in).
 *
 * Outcomes (copied out of the isolate): `{ status, statusMessage, headers, body, ended }` for an
 * answer, `{ failure: 'threw' | 'stalled' | 'input', name, message, stack }` otherwise.
 */
export const SANDBOX_RUNTIME_SOURCE = String.raw`
(function createRuntime(hostConsole, userFunction, scriptText) {
  'use strict';
  const jsonParse = JSON.parse;
  const jsonStringify = JSON.stringify;
  const freeze = Object.freeze;
  const objectKeys = Object.keys;
  const defineProperty = Object.defineProperty;
  const isArray = Array.isArray;

  const STATUS_TEXT = {
    100: 'Continue', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 301: 'Moved Permanently',
    302: 'Found', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    409: 'Conflict', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error',
    501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  };

  // ---- console: Node-like formatting, one line per call, forwarded to the host ----
  function inspect(value, depth, seen, nested) {
    switch (typeof value) {
      case 'string': return nested ? "'" + value.replace(/'/g, "\\'") + "'" : value;
      case 'number': case 'boolean': case 'undefined': return String(value);
      case 'bigint': return String(value) + 'n';
      case 'symbol': return value.toString();
      case 'function': return '[Function: ' + (value.name || '(anonymous)') + ']';
    }
    if (value === null) return 'null';
    if (value instanceof Error) return nested ? '[' + String(value) + ']' : String(value.stack || value);
    if (value instanceof Date) return isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof RegExp) return String(value);
    if (seen.includes(value)) return '[Circular]';
    if (depth > 2) return isArray(value) ? '[Array]' : '[Object]';
    seen.push(value);
    let text;
    if (isArray(value)) {
      const items = value.map((item) => inspect(item, depth + 1, seen, true));
      text = items.length === 0 ? '[]' : '[ ' + items.join(', ') + ' ]';
    } else {
      const keys = objectKeys(value);
      const items = keys.map((key) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : "'" + key + "'") + ': ' + inspect(value[key], depth + 1, seen, true));
      text = items.length === 0 ? '{}' : '{ ' + items.join(', ') + ' }';
    }
    seen.pop();
    return text;
  }

  function formatArgs(args) {
    let first = 0;
    let text = '';
    if (typeof args[0] === 'string' && args[0].includes('%')) {
      let next = 1;
      text = args[0].replace(/%([sdifjoOc%])/g, (match, kind) => {
        if (kind === '%') return '%';
        if (next >= args.length) return match;
        const arg = args[next++];
        switch (kind) {
          case 's': return typeof arg === 'string' ? arg : inspect(arg, 1, [], false);
          case 'd': case 'i': return String(kind === 'i' ? parseInt(arg, 10) : Number(arg));
          case 'f': return String(parseFloat(arg));
          case 'j': try { return jsonStringify(arg); } catch (error) { return '[Circular]'; }
          case 'c': return '';
          default: return inspect(arg, 0, [], true);
        }
      });
      first = next;
    } else if (args.length > 0) {
      text = inspect(args[0], 0, [], false);
      first = 1;
    }
    for (let index = first; index < args.length; index++) text += ' ' + inspect(args[index], 0, [], false);
    return text;
  }

  function consoleMethod(level) {
    return function () {
      let text;
      try { text = formatArgs(Array.prototype.slice.call(arguments)); } catch (error) { text = '[unprintable: ' + String(error) + ']'; }
      hostConsole(level, text);
    };
  }
  const sandboxConsole = {
    log: consoleMethod('log'), info: consoleMethod('info'), debug: consoleMethod('debug'), trace: consoleMethod('debug'),
    warn: consoleMethod('warn'), error: consoleMethod('error'),
  };

  // ---- the invocation in progress ----
  let current = undefined;

  function describeError(error) {
    if (error instanceof Error) return { name: String(error.name), message: String(error.message), stack: String(error.stack || '') };
    return { name: 'Error', message: 'the script threw ' + inspect(error, 0, [], true) + ', which is not an Error', stack: '' };
  }

  function fail(invocation, error) {
    if (invocation.finished) {
      sandboxConsole.error('after response.end():', error);
      return;
    }
    if (invocation.failure === undefined) invocation.failure = describeError(error);
  }

  // ---- timers: virtual time, run when the script is otherwise idle ----
  function addTimer(fn, delay, args, repeat) {
    const invocation = current;
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    const id = ++invocation.timerSequence;
    const ms = Math.max(repeat ? 1 : 0, Number(delay) || 0);
    invocation.timers.push({ id, due: invocation.now + ms, ms, fn, args, repeat });
    return id;
  }
  function clearTimer(id) {
    const invocation = current;
    if (invocation === undefined) return;
    const index = invocation.timers.findIndex((timer) => timer.id === id);
    if (index >= 0) invocation.timers.splice(index, 1);
  }
  function fireNextTimer(invocation) {
    let next = 0;
    for (let index = 1; index < invocation.timers.length; index++) {
      const timer = invocation.timers[index];
      const best = invocation.timers[next];
      if (timer.due < best.due || (timer.due === best.due && timer.id < best.id)) next = index;
    }
    const timer = invocation.timers[next];
    invocation.now = timer.due;
    if (timer.repeat) timer.due += timer.ms;
    else invocation.timers.splice(next, 1);
    try { timer.fn.apply(undefined, timer.args); } catch (error) { fail(invocation, error); }
  }

  // ---- event: the CloudEvent, frozen like the CloudEvents SDK's ----
  const eventPrototype = {
    toJSON() { return Object.assign({}, this); },
    toString() { return jsonStringify(this); },
    validate() { return true; },
    cloneWith(options) { return makeEvent(Object.assign({}, this, options)); },
  };
  for (const name of objectKeys(eventPrototype)) defineProperty(eventPrototype, name, { enumerable: false });
  function makeEvent(fields) {
    return freeze(Object.assign(Object.create(eventPrototype), fields));
  }

  // ---- request: the CloudEvent as the structured-mode HTTP POST that carried it ----
  class SandboxRequest {
    #event;
    #headers;
    constructor(event, eventJson) {
      this.#event = event;
      this.method = 'POST';
      this.url = '/';
      this.originalUrl = '/';
      this.path = '/';
      this.httpVersion = '1.1';
      this.body = eventJson;
    }
    get headers() {
      if (this.#headers === undefined) {
        const headers = { 'content-type': 'application/cloudevents+json; charset=utf-8' };
        for (const key of ['id', 'source', 'type', 'specversion', 'time', 'subject']) {
          if (typeof this.#event[key] === 'string') headers['ce-' + key] = this.#event[key];
        }
        this.#headers = headers;
      }
      return this.#headers;
    }
    get(name) { return this.headers[String(name).toLowerCase()]; }
    header(name) { return this.get(name); }
  }

  // ---- response: Node's ServerResponse and Express's helpers, collecting the answer ----
  function checkStatus(status) {
    const code = Number(status);
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new RangeError('Invalid status code: ' + String(status));
    return code;
  }
  function chunkText(chunk) {
    if (typeof chunk === 'string') return chunk;
    if (chunk instanceof Uint8Array) return decodeUtf8(chunk);
    throw new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
  }
  function decodeUtf8(bytes) {
    let binary = '';
    for (let index = 0; index < bytes.length; index++) binary += String.fromCharCode(bytes[index]);
    try { return decodeURIComponent(escape(binary)); } catch (error) { return binary; }
  }
  function callLater(args) {
    for (const arg of args) if (typeof arg === 'function') { Promise.resolve().then(() => arg()); return; }
  }

  class SandboxResponse {
    #invocation;
    #headers = {};
    #chunks = [];
    constructor(invocation) {
      this.#invocation = invocation;
      this.statusCode = 200;
      this.statusMessage = undefined;
    }
    get headersSent() { return this.#invocation.headersSent; }
    get writableEnded() { return this.#invocation.finished; }
    get finished() { return this.#invocation.finished; }
    setHeader(name, value) {
      if (this.#invocation.headersSent) throw new Error('Cannot set headers after they are sent to the client');
      this.#headers[String(name).toLowerCase()] = isArray(value) ? value.map(String).join(', ') : String(value);
      return this;
    }
    getHeader(name) { return this.#headers[String(name).toLowerCase()]; }
    getHeaders() { return Object.assign({}, this.#headers); }
    getHeaderNames() { return objectKeys(this.#headers); }
    hasHeader(name) { return Object.prototype.hasOwnProperty.call(this.#headers, String(name).toLowerCase()); }
    removeHeader(name) { delete this.#headers[String(name).toLowerCase()]; }
    writeHead(status, message, fields) {
      if (this.#invocation.finished) return this;
      this.statusCode = checkStatus(status);
      if (typeof message === 'string') this.statusMessage = message;
      else fields = message;
      if (isArray(fields)) for (let index = 0; index + 1 < fields.length; index += 2) this.setHeader(fields[index], fields[index + 1]);
      else if (fields !== undefined && fields !== null) for (const key of objectKeys(fields)) this.setHeader(key, fields[key]);
      this.#invocation.headersSent = true;
      return this;
    }
    write(chunk, ...rest) {
      if (this.#invocation.finished) throw new Error('write after end');
      if (chunk !== undefined && chunk !== null) this.#chunks.push(chunkText(chunk));
      this.#invocation.headersSent = true;
      callLater(rest);
      return true;
    }
    end(chunk, ...rest) {
      const invocation = this.#invocation;
      if (invocation.finished) return this;
      if (typeof chunk === 'function') rest.unshift(chunk);
      else if (chunk !== undefined && chunk !== null) this.#chunks.push(chunkText(chunk));
      invocation.headersSent = true;
      finish(invocation, this.answer(true));
      callLater(rest);
      return this;
    }
    // Express
    status(code) { this.statusCode = checkStatus(code); return this; }
    set(field, value) {
      if (typeof field === 'object' && field !== null) for (const key of objectKeys(field)) this.setHeader(key, field[key]);
      else this.setHeader(field, value);
      return this;
    }
    header(field, value) { return this.set(field, value); }
    get(field) { return this.getHeader(field); }
    type(value) {
      const text = String(value);
      return this.setHeader('content-type', text.includes('/') ? text : text === 'json' ? 'application/json' : 'text/' + text);
    }
    send(body) {
      if (typeof body === 'object' && body !== null && !(body instanceof Uint8Array)) return this.json(body);
      if (typeof body === 'string' && !this.hasHeader('content-type')) this.setHeader('content-type', 'text/html; charset=utf-8');
      return this.end(typeof body === 'number' || typeof body === 'boolean' ? String(body) : body);
    }
    json(body) {
      if (!this.hasHeader('content-type')) this.setHeader('content-type', 'application/json; charset=utf-8');
      return this.end(jsonStringify(body));
    }
    sendStatus(code) {
      this.status(code);
      return this.send(STATUS_TEXT[this.statusCode] || String(this.statusCode));
    }
    /** What the script answered so far (not enumerable for the script: a method like the others). */
    answer(ended) {
      return {
        status: this.statusCode,
        statusMessage: this.statusMessage === undefined ? STATUS_TEXT[this.statusCode] : String(this.statusMessage),
        headers: this.#headers,
        body: this.#chunks.length === 1 ? this.#chunks[0] : this.#chunks.join(''),
        ended,
      };
    }
  }

  function finish(invocation, outcome) {
    if (invocation.finished) return;
    invocation.finished = true;
    invocation.outcome = outcome;
    invocation.timers.length = 0;
  }

  // ---- one invocation ----
  function settledOutcome(invocation) {
    if (invocation.outcome !== undefined) return invocation.outcome;
    if (invocation.failure !== undefined) return Object.assign({ failure: 'threw' }, invocation.failure);
    if (invocation.returned && invocation.timers.length === 0) {
      finish(invocation, invocation.response.answer(false));
      return invocation.outcome;
    }
    return undefined;
  }

  function invoke(eventJson) {
    let fields;
    try {
      fields = jsonParse(eventJson);
    } catch (error) {
      return { failure: 'input', name: 'SyntaxError', message: 'the event is not JSON: ' + String(error.message), stack: '' };
    }
    if (typeof fields !== 'object' || fields === null || isArray(fields)) {
      return { failure: 'input', name: 'TypeError', message: 'the event is not a JSON object', stack: '' };
    }
    const invocation = {
      finished: false, headersSent: false, outcome: undefined, failure: undefined, returned: false,
      timers: [], timerSequence: 0, now: 0, response: undefined,
    };
    current = invocation;
    const event = makeEvent(fields);
    const response = new SandboxResponse(invocation);
    invocation.response = response;
    const request = new SandboxRequest(event, eventJson);
    let promise;
    try {
      promise = userFunction.call(undefined, event, response, request);
    } catch (error) {
      fail(invocation, error);
      return settledOutcome(invocation);
    }
    promise.then(
      () => { invocation.returned = true; },
      (error) => { invocation.returned = true; fail(invocation, error); },
    );
    return invocation.outcome;
  }

  function resume(waitingForIo) {
    const invocation = current;
    const outcome = settledOutcome(invocation);
    if (outcome !== undefined) return outcome;
    if (waitingForIo === true) return undefined;
    if (invocation.timers.length > 0) {
      fireNextTimer(invocation);
      return undefined;
    }
    return {
      failure: 'stalled', name: 'Error', stack: '',
      message: 'the script neither called response.end() nor finished: it waits for a promise that nothing in the sandbox can settle',
    };
  }

  function checkBody() {
    const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
    try {
      new AsyncFunction('event', 'response', 'request', scriptText);
      return undefined;
    } catch (error) {
      return String(error.message);
    }
  }

  // ---- globals the script sees ----
  const globals = {
    console: sandboxConsole,
    setTimeout: (fn, delay, ...args) => addTimer(fn, delay, args, false),
    setInterval: (fn, delay, ...args) => addTimer(fn, delay, args, true),
    setImmediate: (fn, ...args) => addTimer(fn, 0, args, false),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    clearImmediate: clearTimer,
    queueMicrotask: (fn) => {
      const invocation = current;
      Promise.resolve().then(() => fn()).catch((error) => fail(invocation, error));
    },
  };
  for (const name of objectKeys(globals)) defineProperty(globalThis, name, { value: globals[name], writable: true, configurable: true, enumerable: false });
  defineProperty(globalThis, 'global', { value: globalThis, writable: true, configurable: true, enumerable: false });

  return { invoke, resume, checkBody };
})
`;
