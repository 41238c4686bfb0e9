/**
 * Kafka Connect's REST API on `pgcdc serve` (the built CLI), against a real PostgreSQL and a real
 * Kafka broker: the Debezium guide's sequence (POST register-postgres.json, poll the status until
 * RUNNING, read `pg_repl.public.table1`, checked against the source's `to_jsonb` of each row), then
 * every endpoint with Connect's status codes and bodies; pause (nothing new on the topic, the slot's
 * confirmed_flush_lsn unmoved) and resume (nothing lost); restart, stop; kill -9 of serve and a
 * restart (the connector is still there and RUNNING, and the changes made while it was down arrive);
 * delete; and the 400s of bad configurations (an Avro value with a JSON key, an unknown property, no brokers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { connectorDatabaseProperties, type Served, startServe } from '../support/serve-process.js';
import { tempDir } from '../support/stream-fixtures.js';

const CONNECTOR = 'inventory-connector';
const TOPIC = 'pg_repl.public.table1';

describe('Kafka Connect REST API on pgcdc serve', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let url: string;
  let streamsDir: string;
  let serve: Served;
  let nextId = 1;

  const api = async (served: Served, route: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${served.origin}${route}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
  const connect = (route: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => api(serve, route, init);

  /** The guide's register-postgres.json, with this test's server. */
  const registration = (name: string, overrides: Record<string, unknown> = {}) => {
    return {
      name,
      config: {
        'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
        'plugin.name': 'pgoutput',
        ...connectorDatabaseProperties(url),
        'database.server.name': 'pg_repl',
        'table.include.list': 'public.table1',
        'publication.autocreate.mode': 'filtered',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'value.converter.schemas.enable': false,
        ...overrides,
      },
    };
  };

  const connectorState = async (name: string): Promise<string | undefined> => {
    const { status, body } = await connect(`/connectors/${name}/status`);
    return status === 200 ? body.connector.state : undefined;
  };
  const waitState = (name: string, state: string) => waitFor(async () => ((await connectorState(name)) === state ? true : undefined), 60_000, `${name} to be ${state}`);
  const insert = async (count: number): Promise<number[]> => {
    const ids = Array.from({ length: count }, () => nextId++);
    await sql(url, "insert into table1 select g, 'v' || g from unnest($1::int[]) g", [ids]);
    return ids;
  };
  /** The source's rows as to_jsonb renders them, by id. */
  const sourceRows = async (): Promise<Map<number, unknown>> => {
    const { rows } = await sql(url, 'select id, to_jsonb(t) as row from table1 t');
    return new Map(rows.map((r) => [r.id as number, r.row]));
  };
  /** The topic's values (schemas.enable=false: Debezium's payload alone). */
  const topicValues = async (expected: number): Promise<any[]> =>
    (await kafka().consume(TOPIC.replaceAll('.', '\\.'), { expect: expected, timeoutMs: 60_000 })).map((record) => JSON.parse(record.value!));
  const confirmedFlush = async (slot: string): Promise<string | null> =>
    (await sql(url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.lsn ?? null;
  const slotActive = async (slot: string): Promise<boolean> => (await sql(url, 'select active from pg_replication_slots where slot_name = $1', [slot])).rows[0]?.active === true;

  /** Every row of the source is on the topic as Debezium's JSON (after = to_jsonb of the row). */
  const expectTopicHoldsSource = async (): Promise<void> => {
    const rows = await sourceRows();
    // At least once: a restart may write a change again, so the topic is read as a table.
    const rebuilt = async () => new Map((await topicValues(rows.size)).filter((v) => v.after !== null).map((v) => [v.after.id as number, v.after]));
    await waitFor(async () => ((await rebuilt()).size >= rows.size ? true : undefined), 60_000, 'every row on the topic');
    expect(await rebuilt()).toEqual(rows);
  };

  beforeAll(async () => {
    url = await createDatabase(server(), 'connect');
    await sql(url, 'create table table1 (id int primary key, v text)');
    await insert(5);
    streamsDir = tempDir('pgcdc-connect-');
    serve = await startServe(streamsDir, ['--kafka-bootstrap-servers', kafka().bootstrapServers]);
  }, 120_000);

  afterAll(async () => {
    if (serve && serve.program.child.exitCode === null) {
      serve.program.child.kill('SIGKILL');
      await serve.program.finished();
    }
  });

  it("follows the Debezium guide: POST /connectors, status RUNNING, snapshot and changes on pg_repl.public.table1", async () => {
    const created = await connect('/connectors/', { method: 'POST', body: registration(CONNECTOR) });
    // A trailing slash as in the guide's curl: the router takes /connectors/ for /connectors? It must.
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      name: CONNECTOR,
      config: { ...Object.fromEntries(Object.entries(registration(CONNECTOR).config).map(([k, v]) => [k, String(v)])), name: CONNECTOR },
      tasks: [{ connector: CONNECTOR, task: 0 }],
      type: 'source',
    });
    expect(fs.existsSync(path.join(streamsDir, `${CONNECTOR}.json`))).toBe(true);
    await waitState(CONNECTOR, 'RUNNING');
    const status = await connect(`/connectors/${CONNECTOR}/status`);
    expect(status.body).toEqual({
      name: CONNECTOR,
      connector: { state: 'RUNNING', worker_id: expect.any(String) },
      tasks: [{ id: 0, state: 'RUNNING', worker_id: expect.any(String) }],
      type: 'source',
    });
    await insert(3);
    await expectTopicHoldsSource();
    const values = await topicValues(8);
    expect(values.filter((v) => v.op === 'r').map((v) => v.after.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(values.filter((v) => v.op === 'c').map((v) => v.after.id).sort((a, b) => a - b)).toEqual([6, 7, 8]);
    expect(values.every((v) => v.schema === undefined && v.source.name === 'pg_repl')).toBe(true);
  }, 180_000);

  it("answers every read endpoint with Connect's shapes", async () => {
    const root = await connect('/', { headers: { accept: 'application/json' } });
    expect(root.status).toBe(200);
    expect(Object.keys(root.body).sort()).toEqual(['commit', 'kafka_cluster_id', 'version']);
    expect((await connect('/connectors')).body).toEqual([CONNECTOR]);
    const expanded = (await connect('/connectors?expand=status&expand=info')).body;
    expect(Object.keys(expanded)).toEqual([CONNECTOR]);
    expect(expanded[CONNECTOR].status.connector.state).toBe('RUNNING');
    expect(expanded[CONNECTOR].info.name).toBe(CONNECTOR);
    expect((await connect('/connectors?expand=status')).body[CONNECTOR].info).toBeUndefined();
    const info = await connect(`/connectors/${CONNECTOR}`);
    expect(info.body).toMatchObject({ name: CONNECTOR, tasks: [{ connector: CONNECTOR, task: 0 }], type: 'source' });
    expect((await connect(`/connectors/${CONNECTOR}/config`)).body).toEqual(info.body.config);
    expect((await connect(`/connectors/${CONNECTOR}/tasks`)).body).toEqual([{ id: { connector: CONNECTOR, task: 0 }, config: info.body.config }]);
    expect((await connect(`/connectors/${CONNECTOR}/tasks/0/status`)).body).toMatchObject({ id: 0, state: 'RUNNING' });
    expect((await connect(`/connectors/${CONNECTOR}/tasks/7/status`)).status).toBe(404);
    expect((await connect('/connector-plugins')).body).toEqual([{ class: 'io.debezium.connector.postgresql.PostgresConnector', type: 'source', version: expect.any(String) }]);

    // Offsets: the slot's confirmed position (Debezium's slot name by default), as a number.
    const offsets = (await connect(`/connectors/${CONNECTOR}/offsets`)).body;
    const { rows } = await sql(url, "select (confirmed_flush_lsn - '0/0'::pg_lsn)::text as lsn from pg_replication_slots where slot_name = 'debezium'");
    expect(offsets.offsets).toHaveLength(1);
    expect(offsets.offsets[0].partition).toEqual({ server: 'pg_repl' });
    expect(offsets.offsets[0].offset.lsn).toBeLessThanOrEqual(Number(rows[0].lsn));
    expect(offsets.offsets[0].offset.lsn).toBeGreaterThan(0);

    // Validation: a good config has no error; a bad one has its errors on the property.
    const valid = await connect('/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate', { method: 'PUT', body: registration('v').config });
    expect(valid.status).toBe(200);
    expect(valid.body).toMatchObject({ name: 'io.debezium.connector.postgresql.PostgresConnector', error_count: 0 });
    const invalid = await connect('/connector-plugins/PostgresConnector/config/validate', { method: 'PUT', body: { ...registration('v').config, 'slot.nme': 'x', 'snapshot.mode': 'sometimes' } });
    expect(invalid.body.error_count).toBe(2);
    const errorsOf = (name: string) => invalid.body.configs.find((c: any) => c.value.name === name).value.errors;
    expect(errorsOf('slot.nme')).toEqual([expect.stringContaining('did you mean slot.name?')]);
    expect(errorsOf('snapshot.mode')).toEqual([expect.stringContaining('sometimes')]);
    expect(errorsOf('database.hostname')).toEqual([]);
    expect(invalid.body.configs[0].definition).toMatchObject({ name: expect.any(String), type: 'STRING' });
  }, 60_000);

  it("answers Connect's errors: 404, 409, 400 for Avro, unknown properties and a name mismatch", async () => {
    for (const route of ['/connectors/nope', '/connectors/nope/status', '/connectors/nope/config', '/connectors/nope/offsets']) {
      expect(await connect(route)).toEqual({ status: 404, body: { error_code: 404, message: 'Connector nope not found' } });
    }
    expect((await connect('/connectors/nope/pause', { method: 'PUT' })).status).toBe(404);
    expect((await connect('/connectors/nope', { method: 'DELETE' })).status).toBe(404);
    expect(await connect('/connectors', { method: 'POST', body: registration(CONNECTOR) })).toEqual({
      status: 409,
      body: { error_code: 409, message: `Connector ${CONNECTOR} already exists` },
    });
    const avro = await connect('/connectors', { method: 'POST', body: registration('avro', { 'value.converter': 'io.confluent.connect.avro.AvroConverter' }) });
    expect(avro.status).toBe(400);
    expect(avro.body.error_code).toBe(400);
    expect(avro.body.message).toContain('make key.converter and value.converter the same');
    const unknown = await connect('/connectors', { method: 'POST', body: registration('typo', { 'tabel.include.list': 'public.table1' }) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('did you mean table.include.list?');
    const badMode = await connect('/connectors', { method: 'POST', body: registration('badmode', { 'snapshot.mode': 'sometimes' }) });
    expect(badMode.status).toBe(400);
    expect(badMode.body.message).toContain('snapshotMode');
    const mismatch = await connect('/connectors/other/config', { method: 'PUT', body: { ...registration('x').config, name: 'x' } });
    expect(mismatch.status).toBe(400);
    expect((await connect('/connectors', { method: 'POST', body: { name: 'empty' } })).status).toBe(400);
    // Nothing of the refused ones was stored.
    expect((await connect('/connectors')).body).toEqual([CONNECTOR]);
    expect(fs.readdirSync(streamsDir).filter((f) => !f.startsWith('.'))).toEqual([`${CONNECTOR}.json`]);
  }, 60_000);

  it('shows a connector that cannot log in as FAILED, with the error and its fix as the trace', async () => {
    const created = await connect('/connectors', { method: 'POST', body: registration('badlogin', { 'database.password': 'wrong', 'slot.name': 'badlogin' }) });
    expect(created.status).toBe(201);
    await waitState('badlogin', 'FAILED');
    const status = (await connect('/connectors/badlogin/status')).body;
    expect(status.tasks[0].state).toBe('FAILED');
    expect(status.tasks[0].trace).toMatch(/password/i);
    expect(status.connector.trace).toBe(status.tasks[0].trace);
    expect((await connect('/connectors/badlogin', { method: 'DELETE' })).status).toBe(204);
    expect((await connect('/connectors')).body).toEqual([CONNECTOR]);
  }, 120_000);

  it("answers GET / from curl with Connect's version info, and asks for the serve token", async () => {
    const root = await connect('/', { headers: { 'user-agent': 'curl/8.5.0', accept: '*/*' } });
    expect(root.body).toEqual({ version: expect.any(String), commit: expect.any(String), kafka_cluster_id: expect.any(String) });
    const guarded = await startServe(tempDir('pgcdc-connect-token-'), ['--token', 'sesame', '--kafka-bootstrap-servers', kafka().bootstrapServers]);
    try {
      expect(await api(guarded, '/connectors')).toEqual({ status: 401, body: { error_code: 401, message: expect.stringContaining('authentication required') } });
      expect((await api(guarded, '/connectors', { method: 'POST', body: registration('x') })).status).toBe(401);
      expect(await api(guarded, '/connectors', { headers: { authorization: 'Bearer sesame' } })).toEqual({ status: 200, body: [] });
    } finally {
      guarded.program.child.kill('SIGTERM');
      await guarded.program.finished();
    }
  }, 60_000);

  it('refuses a connector with a 400 when serve has no Kafka brokers', async () => {
    const bare = await startServe(tempDir('pgcdc-connect-bare-'));
    try {
      const refused = await api(bare, '/connectors', { method: 'POST', body: registration('nobrokers') });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toContain('--kafka-bootstrap-servers');
      expect((await api(bare, '/connectors')).body).toEqual([]);
    } finally {
      bare.program.child.kill('SIGTERM');
      await bare.program.finished();
    }
  }, 60_000);

  it('pauses (nothing new on the topic, the slot not confirmed further) and resumes without loss', async () => {
    const count = (await sourceRows()).size;
    expect((await connect(`/connectors/${CONNECTOR}/pause`, { method: 'PUT' })).status).toBe(202);
    await waitState(CONNECTOR, 'PAUSED');
    await waitFor(async () => ((await slotActive('debezium')) ? undefined : true), 30_000, 'the slot to be released');
    const flushed = await confirmedFlush('debezium');
    const onTopic = (await topicValues(count)).length;
    await insert(4);
    expect(await topicValues(onTopic)).toHaveLength(onTopic);
    expect(await confirmedFlush('debezium')).toBe(flushed);
    expect(await connectorState(CONNECTOR)).toBe('PAUSED');
    expect((await connect(`/connectors/${CONNECTOR}/resume`, { method: 'PUT' })).status).toBe(202);
    await waitState(CONNECTOR, 'RUNNING');
    await expectTopicHoldsSource();
  }, 120_000);

  it('restarts and stops', async () => {
    // The plain restart answers once restarted (Connect's original behaviour).
    const plain = await connect(`/connectors/${CONNECTOR}/restart`, { method: 'POST' });
    expect(plain.status).toBe(204);
    await waitState(CONNECTOR, 'RUNNING');
    // onlyFailed on a running connector restarts nothing.
    const onlyFailed = await connect(`/connectors/${CONNECTOR}/restart?includeTasks=true&onlyFailed=true`, { method: 'POST' });
    expect(onlyFailed.status).toBe(202);
    expect(onlyFailed.body.connector.state).toBe('RUNNING');
    expect(onlyFailed.body.tasks[0].state).toBe('RUNNING');
    const withTasks = await connect(`/connectors/${CONNECTOR}/restart?includeTasks=true&onlyFailed=false`, { method: 'POST' });
    expect(withTasks.status).toBe(202);
    expect(withTasks.body).toMatchObject({ name: CONNECTOR, connector: { state: 'RESTARTING' }, tasks: [{ id: 0, state: 'RESTARTING' }], type: 'source' });
    // Queued behind the restart above, so it answers after both.
    expect((await connect(`/connectors/${CONNECTOR}/tasks/0/restart`, { method: 'POST' })).status).toBe(204);
    await waitState(CONNECTOR, 'RUNNING');
    expect((await connect(`/connectors/${CONNECTOR}/stop`, { method: 'PUT' })).status).toBe(204);
    await waitState(CONNECTOR, 'STOPPED');
    await insert(2);
    expect((await connect(`/connectors/${CONNECTOR}/resume`, { method: 'PUT' })).status).toBe(202);
    await waitState(CONNECTOR, 'RUNNING');
    await expectTopicHoldsSource();
  }, 120_000);

  it('keeps the connector across kill -9 of serve: still listed and RUNNING, nothing lost', async () => {
    await insert(2);
    serve.program.child.kill('SIGKILL');
    await serve.program.finished();
    await insert(3);
    serve = await startServe(streamsDir, [], { PGCDC_KAFKA_BOOTSTRAP_SERVERS: kafka().bootstrapServers });
    expect((await connect('/connectors')).body).toEqual([CONNECTOR]);
    await waitState(CONNECTOR, 'RUNNING');
    await expectTopicHoldsSource();
  }, 180_000);

  it('creates and updates with PUT /connectors/{name}/config, reads a connector file dropped in the directory, and deletes', async () => {
    const second = registration('second', { 'slot.name': 'second', 'database.server.name': 'second', 'snapshot.mode': 'no_data' }).config;
    const created = await connect('/connectors/second/config', { method: 'PUT', body: second });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe('second');
    await waitState('second', 'RUNNING');
    const updated = await connect('/connectors/second/config', { method: 'PUT', body: { ...second, 'tasks.max': '1' } });
    expect(updated.status).toBe(200);
    expect((await connect('/connectors/second/config')).body['tasks.max']).toBe('1');
    await waitState('second', 'RUNNING');

    fs.writeFileSync(path.join(streamsDir, 'dropped.json'), JSON.stringify(registration('dropped', { 'slot.name': 'dropped', 'database.server.name': 'dropped', 'snapshot.mode': 'no_data' })));
    await waitFor(async () => ((await connect('/connectors')).body.includes('dropped') ? true : undefined), 30_000, 'the dropped connector to be listed');
    await waitState('dropped', 'RUNNING');

    for (const name of ['second', 'dropped']) {
      expect((await connect(`/connectors/${name}`, { method: 'DELETE' })).status).toBe(204);
      expect((await connect(`/connectors/${name}/status`)).status).toBe(404);
      expect(await slotActive(name)).toBe(false);
    }
    expect((await connect('/connectors')).body).toEqual([CONNECTOR]);
    expect((await connect(`/connectors/${CONNECTOR}`, { method: 'DELETE' })).status).toBe(204);
    expect(await connect(`/connectors/${CONNECTOR}/status`)).toEqual({ status: 404, body: { error_code: 404, message: `Connector ${CONNECTOR} not found` } });
    expect(await slotActive('debezium')).toBe(false);
    expect((await connect('/connectors')).body).toEqual([]);
  }, 180_000);
});
