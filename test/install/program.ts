/**
 * What the install tests need to run a pgcdc that is not the checkout's dist/cli/main.js (an
 * installed `<prefix>/bin/pgcdc`, a copy of dist/, npm itself): the program runner of
 * test/support/cli.ts, npm's own script, an environment without npm's variables.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
export { runProgram, startProgram, type ProgramOptions, type StartedProgram } from '../support/cli.js';

/** npm's own script (`npm` on the PATH is a link to it), to run it with node under any PATH. */
export function npmCliScript(): string {
  return fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm']).toString().trim());
}

/** This environment without npm's `npm_*` variables (set when the tests run under `npm test`). */
export function environmentWithoutNpm(changes: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return { ...env, ...changes };
}

/** The version in the checkout's package.json. */
export function checkoutVersion(): string {
  return (JSON.parse(fs.readFileSync(path.resolve('package.json'), 'utf8')) as { version: string }).version;
}
