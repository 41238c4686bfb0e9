/**
 * The Postgres target ends equal to the source on every path that brings a table's existing rows,
 * under a concurrent random workload (TOASTed columns changed and unchanged, deletes, key changes,
 * a keyless REPLICA IDENTITY FULL table with duplicate rows, schema changes including table
 * rewrites) with pgcdc killed (SIGKILL) at random instants: `init` then `run`, `always` on an
 * existing slot, a table created while streaming, an `execute-snapshot` signal. Each path runs
 * PGCDC_EXACTNESS_ROUNDS times (default 2) with its own seed; the oracle is the source's own rows
 * (`pgcdc verify`, then row counts and digests of `to_jsonb` of every row on both sides).
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyStream } from '../../src/verify/verify-stream.js';
import { runCli, startCli, type CliResult } from '../support/cli.js';
import { exactnessSchemaSql, exactnessSeedSql, startExactnessWorkload, tableDigest, type ExactnessWorkload } from '../support/exactness-workload.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { postgresStream } from '../support/postgres-target-fixtures.js';
import { below, replayHint, seededRandom, testSeed, type Random } from '../support/seeded-random.js';

const ROUNDS = Number(process.env.PGCDC_EXACTNESS_ROUNDS ?? 2);
const SEED_ROWS = 40_000;

interface Case {
  readonly seed: number;
  readonly random: Random;
  readonly source: string;
  readonly target: string;
  readonly specFile: string;
  readonly config: Parameters<typeof verifyStream>[0];
}

describe('Postgres target: exact on every start path', () => {
  const server = useTestServer();

  /** Source and target databases, the two tables seeded, and a stream spec. */
  async function setUp(seed: number, source: Record<string, unknown> = {}): Promise<Case> {
    const sourceUrl = await createDatabase(server());
    const targetUrl = await createDatabase(server());
    await sql(sourceUrl, exactnessSchemaSql());
    await sql(sourceUrl, exactnessSeedSql(SEED_ROWS));
    const { config, specFile } = await postgresStream({
      sourceUrl,
      targetUrl,
      maxRetries: -1,
      source: { snapshotMode: 'initial', snapshotChunkRows: 4_000, snapshotParallelism: 2, statusIntervalMs: 100, tableDiscoveryIntervalMs: 300, ...source },
    });
    return { seed, random: seededRandom(seed), source: sourceUrl, target: targetUrl, specFile, config };
  }

  /** Runs the stream, killing it with SIGKILL after a random delay, `kills` times. */
  async function runKilled(c: Case, kills: number, maxDelayMs: number): Promise<number[]> {
    const delays: number[] = [];
    for (let n = 0; n < kills; n++) {
      const run = startCli(['run', '-c', c.specFile]);
      const delay = 200 + below(c.random, maxDelayMs);
      delays.push(delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      run.child.kill('SIGKILL');
      const result = await run.finished();
      expect(result.signal, `kill ${n} after ${delay} ms (${replayHint(c.seed)}): ${result.stderr}`).toBe('SIGKILL');
    }
    return delays;
  }

  /** Stops the writes, runs until everything committed is applied, and compares both sides. */
  async function finishAndCompare(c: Case, workload: ExactnessWorkload, tables: readonly string[], story: string): Promise<void> {
    await workload.stop();
    const final = await runCli(['run', '-c', c.specFile, '--stop-at', 'now'], {}, 180_000);
    const context = `${story}; ${replayHint(c.seed)}`;
    expect(final.code, `${context}\n${final.stderr}`).toBe(0);
    expect(warnings(final), context).toEqual([]);
    const report = await verifyStream(c.config, { rangeRows: 5_000 });
    expect(report.tables.filter((t) => t.status !== 'identical'), `${context}\n${JSON.stringify(report.tables, null, 1)}`).toEqual([]);
    for (const table of tables) expect(await tableDigest(c.target, table), `${table}: ${context}`).toEqual(await tableDigest(c.source, table));
  }

  for (let round = 0; round < ROUNDS; round++) {
    it(`init, then run killed during the copy (round ${round + 1})`, async () => {
      const c = await setUp(testSeed());
      const init = await runCli(['init', '-c', c.specFile]);
      expect(init.code, init.stderr).toBe(0);
      const workload = startExactnessWorkload(c.source, { seed: c.seed });
      const kills = await runKilled(c, 2, 2_500);
      await finishAndCompare(c, workload, ['keyed', 'keyless'], `killed after ${kills.join(', ')} ms`);
    }, 240_000);

    it(`always, on an existing slot, killed (round ${round + 1})`, async () => {
      const c = await setUp(testSeed());
      const first = await runCli(['run', '-c', c.specFile, '--stop-at', 'now']);
      expect(first.code, first.stderr).toBe(0);
      fs.writeFileSync(c.specFile, fs.readFileSync(c.specFile, 'utf8').replace('"snapshotMode": "initial"', '"snapshotMode": "always"'));
      const workload = startExactnessWorkload(c.source, { seed: c.seed });
      const kills = await runKilled(c, 1, 2_000);
      await finishAndCompare(c, workload, ['keyed', 'keyless'], `killed after ${kills.join(', ')} ms`);
    }, 240_000);

    it(`a table created while streaming, killed (round ${round + 1})`, async () => {
      const c = await setUp(testSeed());
      const workload = startExactnessWorkload(c.source, { seed: c.seed, schemaChanges: false });
      const run = startCli(['run', '-c', c.specFile]);
      await waitFor(async () => ((await sql(c.target, 'select count(*)::int as n from pgcdc.applied_positions').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n > 0 ? true : undefined), 60_000, 'streaming');
      // Created with rows, then written to while pgcdc finds it, copies it and streams it.
      await sql(c.source, `${exactnessSchemaSql('late', 'late_keyless')}; ${exactnessSeedSql(20_000, 'late', 'late_keyless')}`);
      const late = startExactnessWorkload(c.source, { seed: c.seed + 1, keyed: 'late', keyless: 'late_keyless', workers: 1 });
      const delay = 300 + below(c.random, 2_000);
      await new Promise((resolve) => setTimeout(resolve, delay));
      run.child.kill('SIGKILL');
      await run.finished();
      await late.stop();
      await finishAndCompare(c, workload, ['keyed', 'keyless', 'late', 'late_keyless'], `killed ${delay} ms after the table was created`);
    }, 240_000);

    it(`execute-snapshot under writes, killed (round ${round + 1})`, async () => {
      const c = await setUp(testSeed());
      const first = await runCli(['run', '-c', c.specFile, '--stop-at', 'now']);
      expect(first.code, first.stderr).toBe(0);
      const workload = startExactnessWorkload(c.source, { seed: c.seed });
      const run = startCli(['run', '-c', c.specFile]);
      const sent = await runCli(['signal', '-c', c.specFile, 'execute-snapshot', '{"data-collections": ["public.keyed", "public.keyless"]}']);
      expect(sent.code, sent.stderr).toBe(0);
      const delay = 200 + below(c.random, 2_500);
      await new Promise((resolve) => setTimeout(resolve, delay));
      run.child.kill('SIGKILL');
      await run.finished();
      await finishAndCompare(c, workload, ['keyed', 'keyless'], `killed ${delay} ms after the signal`);
    }, 240_000);
  }
});

/** Warnings and errors a run logged (none is expected of an exact run). */
function warnings(result: CliResult): string[] {
  return result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((line) => line.level >= 40 && !/changed by DDL since the snapshot/.test(line.msg))
    .map((line) => line.msg);
}
