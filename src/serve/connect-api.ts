/**
 * Kafka Connect's REST API for connectors on `pgcdc serve`, so the Debezium + Kafka guides work
 * as written (`curl -X POST …:8083/connectors -d @register-postgres.json`). A connector is a
 * stream of the directory whose file is the connector's JSON document (`<name>.json`), turned
 * into a stream with a Kafka target by config/connector-config; its state is the supervisor's.
 * Status codes and bodies are Connect's (ConnectorsResource, ConnectorInfo, ConnectorStateInfo).
 * `PATCH …/config` merges (Connect 3.8+: a null value removes the key); pause and stop are kept
 * across restarts of serve (kept-target-state), as Connect keeps the target state in its config
 * topic.
 */
import {
  type ConnectorDocument,
  POSTGRES_CONNECTOR_CLASS,
  connectorStreamDocument,
  isConnectorConfigMap,
  readConnectorDocument,
} from '../config/connector-config.js';
import { parseStreamConfig } from '../config/load-stream-config.js';
import { asPgcdcError } from '../errors/pgcdc-error.js';
import type { StreamRunState } from '../metrics/serve-metrics.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import { PGCDC_VERSION } from '../version.js';
import { keepTargetState } from './kept-target-state.js';
import { HttpError, type Reply, type Route, type RouteRequest } from './serve-server.js';
import type { StreamDirectory } from './stream-directory.js';
import type { StreamSupervisor } from './stream-supervisor.js';

export interface ConnectApiContext {
  readonly directory: StreamDirectory;
  /** `host:port` of this server: Connect's `worker_id`. */
  readonly workerId: string;
  /** `--kafka-bootstrap-servers`, for validating configurations. */
  readonly kafkaBootstrapServers?: string;
}

type ConnectState = 'UNASSIGNED' | 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'RESTARTING';

const CONNECT_STATES: Readonly<Record<StreamRunState, ConnectState>> = {
  starting: 'UNASSIGNED',
  running: 'RUNNING',
  paused: 'PAUSED',
  stopped: 'STOPPED',
  failed: 'FAILED',
  restarting: 'RESTARTING',
};

/** GET / : what Connect's root answers. */
export function connectVersionInfo(): { version: string; commit: string; kafka_cluster_id: string } {
  return { version: PGCDC_VERSION, commit: `pgcdc-${PGCDC_VERSION}`, kafka_cluster_id: 'pgcdc' };
}

/** The `/connectors` and `/connector-plugins` routes. */
export function connectRoutes(context: ConnectApiContext): Route[] {
  const { directory, workerId } = context;

  /** The connector `name`: its supervisor and its document; Connect's 404 otherwise. */
  const connector = (name: string): { supervisor: StreamSupervisor; document: ConnectorDocument } => {
    const supervisor = directory.get(name);
    const text = directory.specText(name);
    const document = text === undefined ? undefined : readConnectorDocument(text);
    if (supervisor === undefined || document === undefined) throw new HttpError(404, `Connector ${name} not found`);
    return { supervisor, document };
  };
  const named = (request: RouteRequest) => connector(request.params.name!);
  const connectorNames = (): string[] => directory.list().filter((s) => readConnectorDocument(directory.specText(s.name) ?? '') !== undefined).map((s) => s.name);

  const info = (document: ConnectorDocument) => ({
    name: document.name,
    config: configOf(document),
    tasks: [{ connector: document.name, task: 0 }],
    type: 'source',
  });
  const taskState = (supervisor: StreamSupervisor) => {
    const view = supervisor.view();
    const state = CONNECT_STATES[supervisor.state];
    const trace = view.error === null ? undefined : `${view.error.code}: ${view.error.message}${view.error.hint === null ? '' : `\nhint: ${view.error.hint}`}`;
    return { id: 0, state, worker_id: workerId, ...(trace === undefined ? {} : { trace }) };
  };
  const status = (supervisor: StreamSupervisor) => {
    const task = taskState(supervisor);
    return { name: supervisor.name, connector: { state: task.state, worker_id: workerId, ...(task.trace === undefined ? {} : { trace: task.trace }) }, tasks: [task], type: 'source' };
  };

  /** Runs an action in the background (Connect answers before it is done); a failure is the stream's. */
  const inBackground = (action: Promise<void>): void => void action.catch(() => undefined);
  const accepted: Reply = { status: 202, body: '', contentType: 'application/json' };

  return [
    {
      method: 'GET',
      pattern: '/connectors',
      handler: (request) => {
        const names = connectorNames();
        const expand = request.query.getAll('expand');
        if (expand.length === 0) return json(200, names);
        const expanded: Record<string, Record<string, unknown>> = {};
        for (const name of names) {
          const { supervisor, document } = connector(name);
          expanded[name] = {
            ...(expand.includes('status') ? { status: status(supervisor) } : {}),
            ...(expand.includes('info') ? { info: info(document) } : {}),
          };
        }
        return json(200, expanded);
      },
    },
    {
      method: 'POST',
      pattern: '/connectors',
      handler: async (request) => {
        const body = (await request.json()) as { name?: unknown; config?: unknown } | null;
        const name = body?.name;
        if (typeof name !== 'string' || name === '') throw new HttpError(400, 'the connector has no name: send {"name": "…", "config": {…}}');
        if (!isConnectorConfigMap(body?.config)) throw new HttpError(400, 'the connector has no config: send {"name": "…", "config": {"connector.class": …}} with string values');
        if (directory.get(name) !== undefined) throw new HttpError(409, `Connector ${name} already exists`);
        const document: ConnectorDocument = { name, config: body.config };
        await keepTargetState(directory.dir, name, undefined); // a new connector runs, whatever an old one of its name was
        await directory.create(documentText(document), 'json');
        return { status: 201, json: info(document), headers: { location: `/connectors/${encodeURIComponent(name)}` } };
      },
    },
    { method: 'GET', pattern: '/connectors/{name}', handler: (request) => json(200, info(named(request).document)) },
    { method: 'GET', pattern: '/connectors/{name}/config', handler: (request) => json(200, configOf(named(request).document)) },
    {
      method: 'PUT',
      pattern: '/connectors/{name}/config',
      handler: async (request) => {
        const name = request.params.name!;
        const config = await request.json();
        if (!isConnectorConfigMap(config)) throw new HttpError(400, 'send the connector\'s config as a JSON object of string values');
        if (config.name !== undefined && config.name !== name) throw new HttpError(400, 'Connector name configuration (' + String(config.name) + ') doesn\'t match connector name in the URL (' + name + ')');
        if (directory.get(name) !== undefined && readConnectorDocument(directory.specText(name) ?? '') === undefined) {
          throw new HttpError(409, `${name} is a stream of the directory, not a connector; change it with PUT /api/streams/${name}`);
        }
        const document: ConnectorDocument = { name, config };
        const { created } = await directory.replace(name, documentText(document), 'json');
        return json(created ? 201 : 200, info(document));
      },
    },
    {
      method: 'PATCH',
      pattern: '/connectors/{name}/config',
      handler: async (request) => {
        const { document } = named(request);
        const patch = await request.json();
        const isPatch = typeof patch === 'object' && patch !== null && !Array.isArray(patch) && Object.values(patch).every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
        if (!isPatch) throw new HttpError(400, 'send the changes as a JSON object of string values (null removes a key)');
        const changes = patch as Record<string, unknown>;
        if (changes.name !== undefined && changes.name !== null && changes.name !== document.name) {
          throw new HttpError(400, 'Connector name configuration (' + String(changes.name) + ') doesn\'t match connector name in the URL (' + document.name + ')');
        }
        const config: Record<string, unknown> = { ...document.config };
        for (const [key, value] of Object.entries(changes)) {
          if (key === 'name') continue;
          if (value === null) delete config[key];
          else config[key] = value;
        }
        const patched: ConnectorDocument = { name: document.name, config };
        await directory.replace(document.name, documentText(patched), 'json');
        return json(200, info(patched));
      },
    },
    { method: 'GET', pattern: '/connectors/{name}/status', handler: (request) => json(200, status(named(request).supervisor)) },
    {
      method: 'GET',
      pattern: '/connectors/{name}/tasks',
      handler: (request) => {
        const { document } = named(request);
        return json(200, [{ id: { connector: document.name, task: 0 }, config: configOf(document) }]);
      },
    },
    {
      method: 'GET',
      pattern: '/connectors/{name}/tasks/{task}/status',
      handler: (request) => {
        const { supervisor } = named(request);
        if (request.params.task !== '0') throw new HttpError(404, `Task ${request.params.task} of connector ${supervisor.name} not found`);
        return json(200, taskState(supervisor));
      },
    },
    ...(['pause', 'resume'] as const).map(
      (action): Route => ({
        method: 'PUT',
        pattern: `/connectors/{name}/${action}`,
        handler: async (request) => {
          const { supervisor } = named(request);
          const acting = supervisor[action]();
          inBackground(acting);
          await keepTargetState(directory.dir, supervisor.name, action === 'pause' ? 'paused' : undefined);
          return accepted;
        },
      }),
    ),
    {
      method: 'PUT',
      pattern: '/connectors/{name}/stop',
      handler: async (request) => {
        const { supervisor } = named(request);
        inBackground(supervisor.stop());
        await keepTargetState(directory.dir, supervisor.name, 'stopped');
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      pattern: '/connectors/{name}/restart',
      handler: async (request) => {
        const { supervisor } = named(request);
        const includeTasks = request.query.get('includeTasks') === 'true';
        const onlyFailed = request.query.get('onlyFailed') === 'true';
        const restarting = !onlyFailed || supervisor.state === 'failed';
        if (!request.query.has('includeTasks') && !request.query.has('onlyFailed')) {
          // Connect's original restart answers once the connector restarted.
          await supervisor.restart();
          return { status: 204 };
        }
        const before = status(supervisor);
        if (restarting) inBackground(supervisor.restart());
        // Connect's 202 with the status as the restart finds it: what restarts is RESTARTING.
        const shown: ConnectState = restarting ? 'RESTARTING' : before.connector.state;
        return json(202, {
          ...before,
          connector: { ...before.connector, state: shown },
          tasks: before.tasks.map((task) => ({ ...task, state: includeTasks && restarting ? 'RESTARTING' : task.state })),
        });
      },
    },
    {
      method: 'POST',
      pattern: '/connectors/{name}/tasks/{task}/restart',
      handler: async (request) => {
        const { supervisor } = named(request);
        if (request.params.task !== '0') throw new HttpError(404, `Task ${request.params.task} of connector ${supervisor.name} not found`);
        await supervisor.restart();
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      pattern: '/connectors/{name}',
      handler: async (request) => {
        const { supervisor } = named(request);
        await directory.remove(supervisor.name);
        await keepTargetState(directory.dir, supervisor.name, undefined);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: '/connectors/{name}/offsets',
      handler: async (request) => {
        const { supervisor } = named(request);
        const config = supervisor.config;
        if (config === undefined) throw new HttpError(409, `Connector ${supervisor.name} cannot run: ${supervisor.view().error?.message ?? 'its config is invalid'}`);
        const catalog = await CatalogConnection.open(config.source.connection);
        try {
          const { rows } = await catalog.query<{ lsn: string | null }>(
            "select (confirmed_flush_lsn - '0/0'::pg_lsn)::text as lsn from pg_replication_slots where slot_name = $1",
            [config.source.slotName],
          );
          const lsn = rows[0]?.lsn;
          const prefix = config.target.type === 'Kafka' ? config.target.topicPrefix : config.name;
          return json(200, { offsets: lsn === undefined || lsn === null ? [] : [{ partition: { server: prefix }, offset: { lsn: Number(lsn) } }] });
        } finally {
          await catalog.close();
        }
      },
    },
    {
      method: 'GET',
      pattern: '/connector-plugins',
      handler: () => json(200, [{ class: POSTGRES_CONNECTOR_CLASS, type: 'source', version: PGCDC_VERSION }]),
    },
    {
      method: 'PUT',
      pattern: '/connector-plugins/{plugin}/config/validate',
      handler: async (request) => {
        const plugin = request.params.plugin!;
        if (plugin !== POSTGRES_CONNECTOR_CLASS && plugin !== 'PostgresConnector') throw new HttpError(404, `Failed to find any class that implements Connector and which name matches ${plugin}`);
        const config = await request.json();
        if (!isConnectorConfigMap(config)) throw new HttpError(400, 'send the connector\'s config as a JSON object of string values');
        return json(200, await validation(config, context.kafkaBootstrapServers));
      },
    },
  ];
}

function json(status: number, body: unknown): Reply {
  return { status, json: body };
}

/** The config as Connect shows it: with `name`. */
function configOf(document: ConnectorDocument): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(document.config)) config[key] = String(value);
  config.name = document.name;
  return config;
}

function documentText(document: ConnectorDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Connect's ConfigInfos for a config: each given property with the errors pgcdc's validation finds
 * about it (a problem of the converted stream spec goes to `connector.class` when it names no
 * property of the connector).
 */
async function validation(config: Record<string, unknown>, kafkaBootstrapServers: string | undefined) {
  const name = typeof config.name === 'string' && config.name !== '' ? config.name : 'validation';
  const errors = new Map<string, string[]>();
  const addError = (property: string, message: string): void => void errors.set(property, [...(errors.get(property) ?? []), message]);
  // The brokers are the worker's, not the connector's: validate the connector without them when missing.
  const brokers = { kafkaBootstrapServers: kafkaBootstrapServers ?? 'localhost:9092' };
  const { problems } = connectorStreamDocument(name, config, brokers);
  for (const problem of problems) addError(problem.property, problem.message);
  // The other properties are still checked: converted without those that have a problem.
  const rest = Object.fromEntries(Object.entries(config).filter(([key]) => !errors.has(key)));
  const { document } = connectorStreamDocument(name, rest, brokers);
  if (document !== undefined) {
    try {
      await parseStreamConfig(JSON.stringify(document), { fileName: `${name}.json`, env: {} });
    } catch (error) {
      for (const line of asPgcdcError(error).message.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const property = Object.keys(config).find((key) => line.includes(camelCase(key))) ?? 'connector.class';
        addError(property, line);
      }
    }
  }
  const keys = [...new Set([...Object.keys(config), ...errors.keys()])];
  const configs = keys.map((key) => ({
    definition: { name: key, type: 'STRING', required: false, default_value: null, importance: 'MEDIUM', documentation: '', group: null, width: 'NONE', display_name: key, dependents: [], order: -1 },
    value: { name: key, value: config[key] === undefined ? null : String(config[key]), recommended_values: [], errors: errors.get(key) ?? [], visible: true },
  }));
  return { name: POSTGRES_CONNECTOR_CLASS, error_count: [...errors.values()].reduce((sum, list) => sum + list.length, 0), groups: ['Common'], configs };
}

/** `slot.name` → `slotName`, as debeziumProperties names it in messages. */
function camelCase(key: string): string {
  return key.replace(/\.([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}
