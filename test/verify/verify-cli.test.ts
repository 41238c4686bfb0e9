/**
 * `pgcdc verify -c FILE` through the built command line: exit 0 and the text report when the
 * tables are identical, exit 1 and the differing ranges (or JSON) when not, progress on standard
 * error, and bad input as one error line.
 */
import { describe, expect, it } from 'vitest';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { errorLine, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { fileStream } from '../support/stream-fixtures.js';
import { postgresStreamFile, sourceAndTarget } from './verify-fixtures.js';

const SCHEMA = 'create table accounts (id int primary key, owner text, balance numeric(12,2)); create table audit (at int, what text)';
const DATA = "insert into accounts select i, 'owner ' || i, i * 10 from generate_series(1, 25) i; insert into audit values (1, 'opened'), (2, 'closed')";

describe('pgcdc verify on the command line', () => {
  const server = useTestServer();

  it('identical tables: the report on stdout, progress of ranged tables on stderr, exit 0', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA, DATA);
    const { specFile } = await postgresStreamFile(sourceUrl, targetUrl);
    const result = await runCli(['verify', '-c', specFile, '--range-rows', '10', '--parallel', '3']);
    expect(result.stdout).toBe(
      [
        'public.accounts: identical (25 rows, 3 ranges)',
        'public.audit: identical (2 rows, no primary key, ranges unavailable)',
        '  note: no primary key: compared the row count and a hash of all rows; ranges are unavailable',
        'identical: 2 tables: 2 identical, 0 different, 0 missing on the target',
        '',
      ].join('\n'),
    );
    expect(result.code).toBe(0);
    const progress = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.table === 'public.accounts');
    expect(progress.at(-1)).toMatchObject({ msg: 'verified table', table: 'public.accounts', rangesDone: 3, ranges: 3, rowsDone: 25, rows: 25, percent: 100 });
    expect(progress[0]).toMatchObject({ msg: 'verifying table', rangesDone: 1, ranges: 3 });
  });

  it('differences: exit 1 with the differing ranges, as text or as the JSON report', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA, DATA);
    await sql(targetUrl, "delete from accounts where id = 20; update accounts set balance = 0 where id = 2; update audit set what = 'reopened' where at = 2");
    const { specFile, config } = await postgresStreamFile(sourceUrl, targetUrl);
    const text = await runCli(['verify', '-c', specFile, '--range-rows', '10']);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe(
      [
        'public.accounts: DIFFERENT (source 25 rows, target 24 rows; 2 of 3 ranges differ)',
        '  range id ≤ 9: source 9 rows, target 9 rows',
        '    changed: id=2',
        '  range id > 18: source 7 rows, target 6 rows',
        '    missing on the target: id=20',
        'public.audit: DIFFERENT (source 2 rows, target 2 rows; no primary key, ranges unavailable)',
        '  note: no primary key: compared the row count and a hash of all rows; ranges are unavailable',
        '  all rows: source 2 rows, target 2 rows',
        '    missing on the target: at=2, what=closed',
        '    extra on the target: at=2, what=reopened',
        'DIFFERENT: 2 tables: 0 identical, 2 different, 0 missing on the target',
        '',
      ].join('\n'),
    );
    const json = await runCli(['verify', '-c', specFile, '--range-rows', '10', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(await verifyStream(config, { rangeRows: 10 }));
  });

  it('a table missing on the target: exit 1', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA, DATA);
    await sql(targetUrl, 'drop table audit');
    const result = await runCli(['verify', '-c', (await postgresStreamFile(sourceUrl, targetUrl)).specFile]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      [
        'public.accounts: identical (25 rows, 1 range)',
        'public.audit: MISSING on the target (source 2 rows)',
        'DIFFERENT: 2 tables: 1 identical, 0 different, 1 missing on the target',
        '',
      ].join('\n'),
    );
  });

  it('a spec without a PostgreSQL target is refused with exit 2', async () => {
    const { specFile, config } = await fileStream({ url: await createDatabase(server()) });
    const result = await runCli(['verify', '-c', specFile]);
    expect(result.code).toBe(2);
    expect(errorLine(result)).toBe(
      `pgcdc: error[CONFIG_INVALID] verify needs spec.target.type Postgres (or SGCluster); stream "${config.name}" writes to File (fix: verify compares the source with a PostgreSQL target: use a spec whose target is a PostgreSQL database)`,
    );
    expect(result.stdout).toBe('');
  });

  it('a wrong target password is one error line naming the target, exit 1', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA);
    const { specFile } = await postgresStreamFile(sourceUrl, targetUrl.replace(/:[^:@/]+@/, ':wrong@'));
    const result = await runCli(['verify', '-c', specFile]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(
      /^pgcdc: error\[AUTH_FAILED\] target: password authentication failed for postgres@127\.0\.0\.1:\d+\/tgt_\w+ \(fix: check the user name and password in the target URL or secret\)$/,
    );
  });

  it('--parallel must be a whole number of at least 1', async () => {
    const { sourceUrl, targetUrl } = await sourceAndTarget(server(), SCHEMA);
    const result = await runCli(['verify', '-c', (await postgresStreamFile(sourceUrl, targetUrl)).specFile, '--parallel', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: option '--parallel <n>' argument '0' is invalid. expected a whole number ≥ 1, got "0"`);
  });
});
