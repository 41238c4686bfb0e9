/**
 * A source without logical decoding: `run` and `validate` name the setting and the fix.
 */
import path from 'node:path';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';

describe('wal_level not logical', () => {
  const server = useTestServer({ settings: { wal_level: 'replica' } });

  it('run fails with WAL_LEVEL and the fix, validate marks the check as failed', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const dir = tempDir();
    const spec = path.join(dir, 'stream.yaml');
    fs.writeFileSync(
      spec,
      [
        'apiVersion: pgcdc/v1',
        'kind: Stream',
        'metadata: { name: walcheck }',
        'spec:',
        '  source: { type: Postgres, postgres: { url: "' + url + '", snapshotMode: never } }',
        '  target: { type: Stdout }',
        `  stateDir: ${dir}/state`,
      ].join('\n'),
    );
    const run = await runCli(['run', '-c', spec]);
    expect(run.code).toBe(1);
    expect(errorLine(run)).toBe(
      `pgcdc: error[WAL_LEVEL] wal_level is "replica", logical decoding needs "logical" (fix: run ALTER SYSTEM SET wal_level = 'logical' and restart PostgreSQL)`,
    );
    const validate = await runCli(['validate', '-c', spec]);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain('FAIL wal_level: wal_level is "replica", logical decoding needs "logical"');
    expect(validate.stdout).toContain("fix: run ALTER SYSTEM SET wal_level = 'logical' and restart PostgreSQL");
    const slots = await sql(url, 'select count(*)::int as n from pg_replication_slots');
    expect(slots.rows[0].n).toBe(0);
  });
});
