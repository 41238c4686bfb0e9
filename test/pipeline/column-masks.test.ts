/**
 * Debezium's column masking, truncation and message key columns end to end with a File target:
 * snapshot rows, inserts, updates with before images and deletes all leave masked, keys included,
 * checked against values the source computes itself (sha256, left) and the JDK (strategy 1).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { startCapture } from '../support/event-capture.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';

const ORACLE = path.resolve('test/decoding/oracles/DebeziumMaskHash.java');

/** Debezium's strategy-1 hash of each value (null stays null), computed by the JDK. */
function javaV1(salt: string, values: readonly (string | null)[]): (string | null)[] {
  const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');
  const present = values.filter((value): value is string => value !== null);
  const hashes = execFileSync('java', [ORACLE, 'SHA-256', hex(salt), 'V1'], { input: present.map(hex).join('\n') + '\n', encoding: 'utf8' }).trim().split('\n');
  return values.map((value) => (value === null ? null : hashes.shift()!));
}

const SOURCE = {
  snapshotMode: 'initial',
  debeziumProperties: {
    columnMaskWithLengthChars: ['5:public\\.users\\.ssn'],
    columnMaskHash: { 'SHA-256': { pepper: ['public\\.users\\.email'] } },
    columnMaskHashV2: { 'sha-256': { salt2: ['public\\.users\\.(code|age)'] } },
    columnTruncateToLengthChars: ['4:public\\.users\\.(bio|ssn)'],
    messageKeyColumns: ['public\\.users:email'],
  },
};

/** What each row should look like, computed by the source (and the JDK for strategy 1). */
async function expectedRows(url: string): Promise<Map<number, Record<string, unknown>>> {
  const { rows } = await sql(
    url,
    `select id, email, '*****' as ssn, left(bio, 4) as bio, left(encode(sha256(convert_to('salt2' || code, 'UTF8')), 'hex'), 8) as code, age
       from users order by id`,
  );
  const emails = javaV1('pepper', rows.map((row) => row.email as string | null));
  return new Map(rows.map((row, i) => [row.id as number, { ...row, email: emails[i] }]));
}

describe('column masks end to end', () => {
  const server = useTestServer();

  it('masks, hashes and truncates snapshot rows, changes, before images and keys', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table users (id int primary key, email text, ssn varchar(11), bio text, code varchar(8), age int);
       alter table users replica identity full;
       insert into users values (1, 'ann@example.com', '123-45-6789', 'likes long walks', 'c0de-one', 41),
                                (2, null, null, null, null, null)`,
    );
    const capture = await startCapture({ url, source: SOURCE, target: { format: 'record' } });
    const snapshot = await capture.events();
    const before = await expectedRows(url);
    expect(snapshot.map((record) => record.value.op)).toStrictEqual(['r', 'r']);
    for (const record of snapshot) expect(record.value.after).toStrictEqual(before.get(record.value.after.id));
    expect(snapshot.find((record) => record.value.after.id === 1).key).toStrictEqual({ email: before.get(1)!.email });

    await sql(url, "insert into users values (3, 'bob@example.com', '987-65-4321', 'ünïcödé bio', 'zz', 7)");
    await sql(url, "update users set bio = 'changed', ssn = '111-11-1111' where id = 1");
    await sql(url, 'delete from users where id = 3');
    const changes = (await capture.events()).filter((record) => record.value !== null);
    expect(changes.map((record) => record.value.op)).toStrictEqual(['c', 'u', 'd']);
    const after = await expectedRows(url);
    expect(changes[1].value.before).toStrictEqual(before.get(1));
    expect(changes[1].value.after).toStrictEqual(after.get(1));
    expect(changes[1].key).toStrictEqual({ email: after.get(1)!.email });
    const bob = changes[0].value.after;
    expect(changes[2].value.before).toStrictEqual(bob);
    expect(bob).toMatchObject({ id: 3, email: javaV1('pepper', ['bob@example.com'])[0], ssn: '*****', bio: 'ünïc', age: 7 });
    const raw = JSON.stringify(changes) + JSON.stringify(snapshot);
    for (const secret of ['ann@example', 'bob@example', '123-45', '987-65', 'long walks', 'c0de-one']) expect(raw).not.toContain(secret);
  });

  it('refuses masks with a Postgres target, a length-less entry and an unknown algorithm', async () => {
    const url = await createDatabase(server());
    const doc = (debeziumProperties: object, target: object) =>
      JSON.stringify({
        apiVersion: 'pgcdc/v1',
        kind: 'Stream',
        metadata: { name: 'm' },
        spec: { source: { type: 'Postgres', postgres: { url, debeziumProperties } }, target },
      });
    const postgresTarget = { type: 'Postgres', postgres: { url } };
    await expect(parseStreamConfig(doc({ columnMaskHash: { 'SHA-256': { s: ['public\\.t\\.c'] } } }, postgresTarget))).rejects.toThrow(
      /debeziumProperties\.columnMaskHash is not applied by a Postgres target/,
    );
    await expect(parseStreamConfig(doc({ columnMaskWithLengthChars: ['public\\.t\\.c'] }, { type: 'Stdout' }))).rejects.toThrow(
      /columnMaskWithLengthChars\[0\] is "public\\\\.t\\\\.c" \(no length/,
    );
    await expect(parseStreamConfig(doc({ columnMaskHash: { 'SHA-999': { s: ['x'] } } }, { type: 'Stdout' }))).rejects.toThrow(/names hash algorithm "SHA-999"/);
  });
});
