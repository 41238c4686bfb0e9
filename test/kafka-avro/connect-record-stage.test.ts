/**
 * The Connect record stage with JsonConverter: records a real stream wrote to a real broker (every
 * built-in column type, int64 values beyond 2^53, updates, deletes and their tombstones,
 * transaction metadata) read back into ConnectRecords and written again are the same bytes, with
 * schemas; without schemas they are the payloads the builder wrapped.
 */
import { describe, expect, it } from 'vitest';
import { ConnectRecordStage } from '../../src/targets/records/connect-record-stage.js';
import type { ChangeRecord } from '../../src/targets/records/change-records.js';
import { BUILTIN_TYPE_GROUPS, valueSql } from '../decoding/builtin-type-values.js';
import { runCli } from '../support/cli.js';
import { useKafkaCluster } from '../support/kafka-cluster.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

/** Where `actual` first differs from `expected` (both texts around it), or undefined when equal. */
function firstDifference(actual: Buffer | null, expected: Buffer | null): string | undefined {
  const a = actual?.toString() ?? 'null';
  const e = expected?.toString() ?? 'null';
  if (a === e) return undefined;
  let at = 0;
  while (a[at] === e[at]) at++;
  return `at ${at}: ${a.slice(Math.max(0, at - 60), at + 60)} instead of ${e.slice(Math.max(0, at - 60), at + 60)}`;
}

describe('Connect record stage with JsonConverter', () => {
  const server = useTestServer();
  const kafka = useKafkaCluster();

  it('writes back the bytes the record builder wrote, with and without schemas', async () => {
    const url = await createDatabase(server(), 'stagejson');
    const groups = BUILTIN_TYPE_GROUPS.filter((group) => (group.since ?? 0) <= server().major);
    await sql(url, `create table corpus (id int primary key, ${groups.map((group, i) => `c${i} ${group.type}`).join(', ')}, big int8)`);
    const rows = Math.max(...groups.map((group) => group.values.length));
    await sql(url, `insert into corpus values ${Array.from({ length: rows }, (_, r) => `(${r + 1}, ${groups.map((group) => (r < group.values.length ? valueSql(group, group.values[r]!) : 'null')).join(', ')}, ${9007199254740993n + BigInt(r)})`).join(', ')}`);
    const { specFile } = await targetStream({
      url,
      name: 'stagejson',
      dir: tempDir(),
      source: { snapshotMode: 'initial', provideTransactionMetadata: true },
      target: { type: 'Kafka', kafka: { bootstrapServers: kafka().bootstrapServers, schemasEnable: true } },
    });
    const runOnce = async () => {
      const result = await runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);
      expect(result.code, result.stderr).toBe(0);
    };
    await runOnce();
    await sql(url, 'update corpus set big = -big where id <= 2');
    await sql(url, 'delete from corpus where id = 3');
    await runOnce();

    const records = await kafka().consume('stagejson\\..*', { expect: rows + 2 + 2 + 4 });
    expect(records.some((record) => record.value === null)).toBe(true); // a tombstone
    expect(records.some((record) => record.value?.includes('"big":-9007199254740993'))).toBe(true);
    const built: ChangeRecord[] = records.map((record) => ({
      topic: record.topic,
      key: record.key === null ? null : Buffer.from(record.key),
      value: record.value === null ? null : Buffer.from(record.value),
      partition: -1,
    }));

    const withSchemas = await new ConnectRecordStage({ kind: 'json', schemasEnable: true }, []).convert(built);
    expect(withSchemas.map((record) => record.topic)).toEqual(built.map((record) => record.topic));
    for (const [index, record] of withSchemas.entries()) {
      expect(firstDifference(record.key, built[index]!.key), `key #${index}`).toBeUndefined();
      expect(firstDifference(record.value, built[index]!.value), `value #${index}`).toBeUndefined();
    }

    // Without schemas: the payload inside {"schema":…,"payload":…}.
    const payloadOf = (bytes: Buffer | null) => (bytes === null ? undefined : bytes.toString().slice(bytes.toString().indexOf(',"payload":') + ',"payload":'.length, -1));
    const schemaless = await new ConnectRecordStage({ kind: 'json', schemasEnable: false }, []).convert(built);
    for (const [index, record] of schemaless.entries()) {
      const source = built[index]!;
      // The schema text holds no `,"payload":`: the first one opens the payload.
      expect(record.key?.toString(), `key of ${source.topic} #${index}`).toBe(payloadOf(source.key));
      expect(record.value?.toString(), `value of ${source.topic} #${index}`).toBe(payloadOf(source.value));
    }
  }, 240_000);
});
