/**
 * Heartbeat settings: `spec.source.postgres.heartbeatInterval`/`heartbeatActionQuery`, Debezium's
 * `heartbeat.interval.ms`/`heartbeat.action.query` through debeziumProperties (native and SGStream),
 * and the source interval as the Kafka target's default heartbeat interval.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const native = (source: string, target = '    type: Stdout\n'): string => `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: orders
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://app@db/shop
${source}  target:
${target}`;

const KAFKA = '    type: Kafka\n    kafka:\n      bootstrapServers: localhost:9092\n';

async function failure(yaml: string): Promise<string> {
  try {
    await parseStreamConfig(yaml, { fileName: 's.yaml', cwd: '/srv', env: {} });
  } catch (error) {
    if (error instanceof PgcdcError) return error.message;
    throw error;
  }
  throw new Error('expected the document to be refused');
}

describe('heartbeat settings', () => {
  it('are off by default, and read from spec.source.postgres', async () => {
    const off = await parseStreamConfig(native(''), { cwd: '/srv', env: {} });
    expect(off.source.heartbeatIntervalMs).toBe(0);
    expect(off.source.heartbeatActionQuery).toBeUndefined();
    const on = await parseStreamConfig(native('      heartbeatInterval: 1500ms\n      heartbeatActionQuery: "update hb set at = now()"\n'), { cwd: '/srv', env: {} });
    expect(on.source).toMatchObject({ heartbeatIntervalMs: 1500, heartbeatActionQuery: 'update hb set at = now()' });
    expect(on.warnings).toEqual([]);
  });

  it("map Debezium's heartbeat.interval.ms and heartbeat.action.query from debeziumProperties", async () => {
    const config = await parseStreamConfig(native('      debeziumProperties:\n        heartbeatIntervalMs: 5000\n        heartbeatActionQuery: "select 1"\n'), { cwd: '/srv', env: {} });
    expect(config.source).toMatchObject({ heartbeatIntervalMs: 5000, heartbeatActionQuery: 'select 1' });
    expect(config.warnings).toEqual([]);
    const sg = await parseStreamConfig(
      `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: events
spec:
  source:
    type: Postgres
    postgres:
      host: db
      debeziumProperties:
        heartbeatIntervalMs: 2000
        heartbeatActionQuery: "insert into hb values (now())"
  target:
    type: CloudEvent
    cloudEvent:
      http:
        url: http://127.0.0.1:1/
`,
      { cwd: '/srv', env: { PGCDC_SECRET_NONE: '' } },
    );
    expect(sg.source).toMatchObject({ heartbeatIntervalMs: 2000, heartbeatActionQuery: 'insert into hb values (now())' });
    expect(sg.warnings.filter((warning) => warning.includes('heartbeat'))).toEqual([]);
  });

  it("are the Kafka target's heartbeat interval unless it sets its own", async () => {
    const inherited = await parseStreamConfig(native('      heartbeatInterval: 3s\n', KAFKA), { cwd: '/srv', env: {} });
    expect(inherited.target).toMatchObject({ type: 'Kafka', heartbeatIntervalMs: 3000 });
    const own = await parseStreamConfig(native('      heartbeatInterval: 3s\n', `${KAFKA}      heartbeatInterval: "0"\n`), { cwd: '/srv', env: {} });
    expect(own.target).toMatchObject({ type: 'Kafka', heartbeatIntervalMs: 0 });
    const none = await parseStreamConfig(native('', KAFKA), { cwd: '/srv', env: {} });
    expect(none.target).toMatchObject({ type: 'Kafka', heartbeatIntervalMs: 0 });
  });

  it('refuse an action query that would never run, and a bad interval', async () => {
    expect(await failure(native('      heartbeatActionQuery: "select 1"\n'))).toContain('spec.source.postgres.heartbeatActionQuery is set but heartbeatInterval is 0, so it would never run');
    expect(await failure(native('      heartbeatInterval: often\n'))).toContain('spec.source.postgres.heartbeatInterval');
  });
});
