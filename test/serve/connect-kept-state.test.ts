/**
 * Kafka Connect's `PATCH /connectors/{name}/config` (Connect 3.8+: merged, a null value removes
 * the key) and the target state kept across restarts of `pgcdc serve`, against a real PostgreSQL
 * and a real Kafka broker: a paused connector is still PAUSED after serve is killed with -9 and
 * started again (its slot unused, nothing new on its topic), and loses nothing once resumed; a
 * stopped one likewise stays STOPPED. The topic is checked against the source's to_jsonb rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { rebuildFromEvents, sourceRows } from '../support/rebuild.js';
import { connectorDatabaseProperties, type Served, startServe } from '../support/serve-process.js';
import { tempDir } from '../support/stream-fixtures.js';

const NAME = 'kept';
const TOPIC = 'kept\\.public\\.table1';

describe('Kafka Connect PATCH and kept target states on pgcdc serve', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();
  let url: string;
  let streamsDir: string;
  let serve: Served;
  let nextId = 1;

  const connect = async (route: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${serve.origin}${route}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
  const state = async (): Promise<string | undefined> => {
    const { status, body } = await connect(`/connectors/${NAME}/status`);
    return status === 200 ? body.connector.state : undefined;
  };
  const waitState = (wanted: string) => waitFor(async () => ((await state()) === wanted ? true : undefined), 60_000, `${NAME} to be ${wanted}`);
  const insert = async (count: number): Promise<void> => {
    const ids = Array.from({ length: count }, () => nextId++);
    await sql(url, "insert into table1 select g, 'v' || g from unnest($1::int[]) g", [ids]);
  };
  const records = async (atLeast: number) => kafka().consume(TOPIC, { expect: atLeast, timeoutMs: 60_000 });
  const slotActive = async (): Promise<boolean> => (await sql(url, 'select active from pg_replication_slots where slot_name = $1', [NAME])).rows[0]?.active === true;
  /** Every source row is on the topic (rebuilt from the events in order). */
  const expectTopicHoldsSource = async (): Promise<void> => {
    const expected = await sourceRows(url, 'table1');
    const rebuilt = async () => rebuildFromEvents((await records(expected.size)).filter((r) => r.value !== null).map((r) => JSON.parse(r.value!)), 'table1');
    await waitFor(async () => ((await rebuilt()).size === expected.size ? true : undefined), 60_000, 'every row on the topic');
    expect(await rebuilt()).toEqual(expected);
  };
  const restartServe = async (): Promise<void> => {
    serve.program.child.kill('SIGKILL');
    await serve.program.finished();
    serve = await startServe(streamsDir, ['--kafka-bootstrap-servers', kafka().bootstrapServers]);
  };

  beforeAll(async () => {
    url = await createDatabase(server(), 'kept');
    await sql(url, 'create table table1 (id int primary key, v text)');
    await insert(5);
    streamsDir = tempDir('pgcdc-kept-');
    serve = await startServe(streamsDir, ['--kafka-bootstrap-servers', kafka().bootstrapServers]);
  }, 120_000);

  afterAll(async () => {
    if (serve && serve.program.child.exitCode === null) {
      serve.program.child.kill('SIGKILL');
      await serve.program.finished();
    }
  });

  it('merges PATCH /connectors/{name}/config, a null value removing the key', async () => {
    const config = {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      ...connectorDatabaseProperties(url),
      'topic.prefix': NAME,
      'slot.name': NAME,
      'table.include.list': 'public.table1',
      'value.converter.schemas.enable': 'false',
      'key.converter.schemas.enable': 'false',
      'tasks.max': '1',
    };
    expect((await connect('/connectors', { method: 'POST', body: { name: NAME, config } })).status).toBe(201);
    await waitState('RUNNING');
    await expectTopicHoldsSource();

    const patched = await connect(`/connectors/${NAME}/config`, { method: 'PATCH', body: { 'tasks.max': null, 'heartbeat.interval.ms': '60000' } });
    expect(patched.status).toBe(200);
    const { 'tasks.max': _, ...rest } = config;
    const merged = { ...rest, 'heartbeat.interval.ms': '60000', name: NAME };
    expect(patched.body).toEqual({ name: NAME, config: merged, tasks: [{ connector: NAME, task: 0 }], type: 'source' });
    expect((await connect(`/connectors/${NAME}/config`)).body).toEqual(merged);
    expect(JSON.parse(fs.readFileSync(path.join(streamsDir, `${NAME}.json`), 'utf8')).config).toEqual({ ...rest, 'heartbeat.interval.ms': '60000' });
    await waitState('RUNNING');

    expect((await connect('/connectors/nope/config', { method: 'PATCH', body: { 'tasks.max': '1' } })).status).toBe(404);
    expect((await connect(`/connectors/${NAME}/config`, { method: 'PATCH', body: { name: 'other' } })).status).toBe(400);
    expect((await connect(`/connectors/${NAME}/config`, { method: 'PATCH', body: ['tasks.max'] })).status).toBe(400);
    const bad = await connect(`/connectors/${NAME}/config`, { method: 'PATCH', body: { 'slot.nme': 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('did you mean slot.name?');
    expect((await connect(`/connectors/${NAME}/config`)).body).toEqual(merged);
  }, 180_000);

  it('keeps a pause across kill -9 of serve: still PAUSED, slot unused, nothing new on the topic; resumed, nothing lost', async () => {
    expect((await connect(`/connectors/${NAME}/pause`, { method: 'PUT' })).status).toBe(202);
    await waitState('PAUSED');
    await waitFor(async () => ((await slotActive()) ? undefined : true), 30_000, 'the slot to be released');
    const onTopic = (await records(0)).length;
    await restartServe();
    await insert(3);
    await waitFor(async () => ((await connect(`/connectors/${NAME}/status`)).status === 200 ? true : undefined), 30_000, 'the connector to be loaded');
    expect(await state()).toBe('PAUSED');
    expect(await slotActive()).toBe(false);
    expect(await records(onTopic)).toHaveLength(onTopic);

    expect((await connect(`/connectors/${NAME}/resume`, { method: 'PUT' })).status).toBe(202);
    await waitState('RUNNING');
    expect(fs.existsSync(path.join(streamsDir, `${NAME}.state`))).toBe(false);
    await expectTopicHoldsSource();
  }, 180_000);

  it('keeps a stop across kill -9 of serve, and forgets the state with the connector', async () => {
    expect((await connect(`/connectors/${NAME}/stop`, { method: 'PUT' })).status).toBe(204);
    await waitState('STOPPED');
    await restartServe();
    await insert(2);
    await waitFor(async () => ((await connect(`/connectors/${NAME}/status`)).status === 200 ? true : undefined), 30_000, 'the connector to be loaded');
    expect(await state()).toBe('STOPPED');
    expect(await slotActive()).toBe(false);
    expect((await connect(`/connectors/${NAME}/resume`, { method: 'PUT' })).status).toBe(202);
    await waitState('RUNNING');
    await expectTopicHoldsSource();

    expect((await connect(`/connectors/${NAME}/pause`, { method: 'PUT' })).status).toBe(202);
    await waitState('PAUSED');
    expect((await connect(`/connectors/${NAME}`, { method: 'DELETE' })).status).toBe(204);
    expect(fs.readdirSync(streamsDir).filter((file) => !file.startsWith('.'))).toEqual([]);
  }, 180_000);
});
