/**
 * A real CloudEvents receiver for tests: a node:http (or https) server on the loopback that parses
 * every request with the official `cloudevents` SDK (HTTP.toEvent), or with the test's own `parse`
 * (plain JSON webhook notifications), records what it got, and answers with the status a test
 * chooses (or holds the answer until the test releases it).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type CloudEvent, HTTP } from 'cloudevents';

/** One request as received. */
export interface ReceivedRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly contentType: string;
  readonly body: string;
  readonly events: CloudEvent<any>[];
  /** The status answered (undefined while held or when the connection was dropped). */
  status: number | undefined;
}

/**
 * What to answer to a request: a status (now, or when the promise settles), `hold` (no answer until
 * `release()`), or `drop` (close the connection without an answer).
 */
export type Answer = number | Promise<number> | 'hold' | 'drop';

export interface ReceiverOptions {
  /** Chooses the answer per request; 200 by default. */
  readonly answer?: (events: CloudEvent<any>[], request: ReceivedRequest) => Answer;
  /** Reads the events of a request instead of the CloudEvents SDK (throws when it is not one). */
  readonly parse?: (body: string, headers: http.IncomingHttpHeaders) => any[];
  /** Serve https with this key and certificate. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export class CloudEventReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests the SDK could not parse, with the reason. */
  readonly rejected: { body: string; contentType: string; error: string }[] = [];
  answer: (events: CloudEvent<any>[], request: ReceivedRequest) => Answer;
  readonly #parse: (body: string, headers: http.IncomingHttpHeaders) => any[];
  readonly #server: http.Server;
  #held: (() => void)[] = [];
  #holding = false;

  private constructor(server: http.Server, options: ReceiverOptions) {
    this.#server = server;
    this.answer = options.answer ?? (() => 200);
    this.#parse = options.parse ?? parseCloudEvents;
  }

  static async start(options: ReceiverOptions = {}): Promise<CloudEventReceiver> {
    let receiver!: CloudEventReceiver;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => receiver.#handle(req, res);
    const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
    server.keepAliveTimeout = 60_000;
    receiver = new CloudEventReceiver(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `${this.#server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}/events`;
  }

  /** Every event of the requests answered with a 2xx, in the order they arrived. */
  get accepted(): CloudEvent<any>[] {
    return this.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300).flatMap((r) => r.events);
  }

  /** Every event received, answered or not. */
  get received(): CloudEvent<any>[] {
    return this.requests.flatMap((r) => r.events);
  }

  /** Holds every answer from now on until `release()`. */
  hold(): void {
    this.#holding = true;
  }

  /** Answers the held requests (200) and stops holding. */
  release(): void {
    this.#holding = false;
    for (const answer of this.#held.splice(0)) answer();
  }

  /** Forgets the held requests without answering them (their sender is gone) and stops holding. */
  dropHeld(): void {
    this.#holding = false;
    this.#held = [];
  }

  async stop(): Promise<void> {
    this.#held = [];
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const contentType = String(req.headers['content-type'] ?? '');
      let events: CloudEvent<any>[];
      try {
        events = this.#parse(body, req.headers);
      } catch (error) {
        this.rejected.push({ body, contentType, error: String(error) });
        res.writeHead(400).end('not a CloudEvent');
        return;
      }
      const request: ReceivedRequest = { headers: req.headers, contentType, body, events, status: undefined };
      this.requests.push(request);
      const answer = this.#holding ? 'hold' : this.answer(events, request);
      const respond = (status: number): void => {
        request.status = status;
        res.writeHead(status).end(status >= 300 ? `status ${status}` : '');
      };
      if (answer === 'drop') res.socket?.destroy();
      else if (answer === 'hold') this.#held.push(() => respond(200));
      else if (typeof answer === 'number') respond(answer);
      else void answer.then(respond);
    });
  }
}

function parseCloudEvents(body: string, headers: http.IncomingHttpHeaders): CloudEvent<any>[] {
  const parsed = HTTP.toEvent({ headers: headers as Record<string, string>, body }) as CloudEvent<any> | CloudEvent<any>[];
  return Array.isArray(parsed) ? parsed : [parsed];
}
