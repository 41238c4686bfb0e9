/**
 * The routes of `pgcdc serve`'s JSON API, which the dashboard uses too: health and readiness, the
 * Prometheus scrape, the streams with their figures, the operator's actions, execute-snapshot
 * signals, dead letters, and creating, replacing and deleting streams (files of the directory).
 */
import type { Logger } from '../logging/logger.js';
import type { ServeMetrics } from '../metrics/serve-metrics.js';
import { sendSignal } from '../snapshot/signals.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import type { StreamConfig } from '../config/stream-config.js';
import { connectRoutes, connectVersionInfo } from './connect-api.js';
import { dashboardRoutes } from './dashboard-files.js';
import { listDeadLetters, resendDeadLetter } from './dead-letter-access.js';
import { HttpError, type Reply, type Route, type RouteRequest } from './serve-server.js';
import type { StreamDirectory } from './stream-directory.js';
import type { StreamSupervisor } from './stream-supervisor.js';

export interface ServeApiContext {
  readonly directory: StreamDirectory;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  /** `host:port` of the server (Kafka Connect's `worker_id`). */
  readonly workerId: string;
  /** The brokers of connectors created through Kafka Connect's API. */
  readonly kafkaBootstrapServers?: string;
}

/** How long an action's answer waits for a graceful stop: 200 when it finished, else 202. */
const ACTION_WAIT_MS = 10_000;
const DEFAULT_DEAD_LETTER_LIMIT = 100;

type Action = 'pause' | 'resume' | 'restart' | 'stop';
const ACTIONS: readonly Action[] = ['pause', 'resume', 'restart', 'stop'];

/** Every route of the server: API, health, metrics and the dashboard's files. */
export function serveRoutes(context: ServeApiContext): Route[] {
  const { directory, metrics, logger } = context;
  const stream = (request: RouteRequest): StreamSupervisor => {
    const found = directory.get(request.params.name!);
    if (found === undefined) throw new HttpError(404, `no stream named ${request.params.name}`);
    return found;
  };
  const runnable = (request: RouteRequest): { supervisor: StreamSupervisor; config: StreamConfig } => {
    const supervisor = stream(request);
    if (supervisor.config === undefined) throw new HttpError(409, `${supervisor.name} has no valid spec: fix ${supervisor.file}`);
    return { supervisor, config: supervisor.config };
  };

  return [
    { method: 'GET', pattern: '/healthz', access: 'public', handler: () => json(200, { status: 'ok' }) },
    {
      // Public, like /healthz, so that a Kubernetes probe needs no secret: it tells how many streams
      // are in each state, not which (GET /api/streams, authenticated, names them).
      method: 'GET',
      pattern: '/readyz',
      access: 'public',
      handler: () => {
        const streams = directory.list();
        const ready = streams.every((s) => s.state === 'running' || s.state === 'paused' || s.state === 'stopped');
        const states: Record<string, number> = {};
        for (const stream of streams) states[stream.state] = (states[stream.state] ?? 0) + 1;
        return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', states });
      },
    },
    {
      method: 'GET',
      pattern: '/metrics',
      handler: async () => {
        const { contentType, body } = await metrics.scrape();
        return { status: 200, body, contentType };
      },
    },
    { method: 'GET', pattern: '/api/streams', handler: () => json(200, directory.list().map((s) => s.view())) },
    {
      method: 'POST',
      pattern: '/api/streams',
      handler: async (request) => json(201, (await directory.create(await specText(request))).view()),
    },
    {
      method: 'GET',
      pattern: '/api/streams/{name}',
      handler: async (request) => {
        const supervisor = stream(request);
        const [stats, tables] = await Promise.all([supervisor.metrics?.stats() ?? null, supervisor.tables()]);
        return json(200, { ...supervisor.view(), stats, lastErrors: supervisor.lastErrors, tables });
      },
    },
    {
      method: 'PUT',
      pattern: '/api/streams/{name}',
      handler: async (request) => {
        const { stream: replaced, created } = await directory.replace(request.params.name!, await specText(request));
        return json(created ? 201 : 200, replaced.view());
      },
    },
    {
      method: 'DELETE',
      pattern: '/api/streams/{name}',
      handler: async (request) => {
        await directory.remove(stream(request).name);
        return { status: 204 };
      },
    },
    { method: 'GET', pattern: '/api/streams/{name}/history', handler: (request) => json(200, { points: stream(request).metrics?.history() ?? [] }) },
    ...ACTIONS.map(
      (action): Route => ({
        method: 'POST',
        pattern: `/api/streams/{name}/${action}`,
        handler: async (request) => {
          const supervisor = stream(request);
          // 200 once the action is done (a graceful stop included); 202 if it is still under way.
          const finished = await settledWithin(supervisor[action](), ACTION_WAIT_MS);
          return json(finished ? 200 : 202, supervisor.view());
        },
      }),
    ),
    {
      method: 'POST',
      pattern: '/api/streams/{name}/snapshot',
      handler: async (request) => {
        const { config } = runnable(request);
        const tables = snapshotTables(await request.json());
        const catalog = await CatalogConnection.open(config.source.connection);
        try {
          const id = await sendSignal(catalog, config.source, 'execute-snapshot', JSON.stringify({ 'data-collections': tables, type: 'incremental' }));
          return json(202, { id });
        } finally {
          await catalog.close();
        }
      },
    },
    {
      method: 'GET',
      pattern: '/api/streams/{name}/dead-letters',
      handler: async (request) => {
        const { config } = runnable(request);
        const limit = Number(request.query.get('limit') ?? DEFAULT_DEAD_LETTER_LIMIT);
        if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, 'limit must be a positive integer');
        return json(200, await listDeadLetters(config, { limit }));
      },
    },
    {
      method: 'POST',
      pattern: '/api/streams/{name}/dead-letters/{id}/resend',
      handler: async (request) => {
        const { supervisor, config } = runnable(request);
        const id = request.params.id!;
        await resendDeadLetter(config, id, logger.child({ stream: supervisor.name }));
        return json(200, { id, status: 'resent' });
      },
    },
    ...connectRoutes({ directory, workerId: context.workerId, ...(context.kafkaBootstrapServers ? { kafkaBootstrapServers: context.kafkaBootstrapServers } : {}) }),
    ...dashboardRoutes().map(connectRoot),
  ];
}

/**
 * `GET /`: the dashboard for a browser (Accept: text/html), Kafka Connect's version info for a
 * client asking for JSON, or for curl and wget (`curl http://HOST:8083/`, as the Connect guides do).
 */
function connectRoot(route: Route): Route {
  if (route.method !== 'GET' || route.pattern !== '/') return route;
  return { ...route, handler: (request) => (wantsConnectRoot(request) ? json(200, connectVersionInfo()) : route.handler(request)) };
}

function wantsConnectRoot(request: RouteRequest): boolean {
  const accept = request.headers.accept ?? '';
  if (accept.includes('text/html')) return false;
  if (accept.includes('application/json')) return true;
  return /^(curl|wget)\//i.test(request.headers['user-agent'] ?? '');
}

function json(status: number, body: unknown): Reply {
  return { status, json: body };
}

/** A spec in the body, as YAML or JSON text (JSON is YAML). */
async function specText(request: RouteRequest): Promise<string> {
  const text = await request.text();
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty: send a stream spec (YAML or JSON)');
  return text;
}

function snapshotTables(body: unknown): string[] {
  const tables = (body as { tables?: unknown } | null)?.tables;
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every((t) => typeof t === 'string' && t !== '')) {
    throw new HttpError(400, 'send {"tables": ["schema.table", …]}: at least one table name');
  }
  return tables as string[];
}

/** True when `promise` settled within `ms` (its failure is thrown). */
async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
