/**
 * Runs a pgcdc that is not the checkout's dist/cli/main.js (an installed `<prefix>/bin/pgcdc`, a
 * copy of dist/, npm itself) as a child process, from a chosen directory and environment, and
 * collects what it prints, as test/support/cli.ts does for the checkout's CLI.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CliResult } from '../support/cli.js';

export interface ProgramOptions {
  readonly cwd: string;
  /** The whole environment of the child (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A started program; `finished()` resolves when it has exited. */
export interface StartedProgram {
  readonly child: ChildProcess;
  readonly finished: () => Promise<CliResult>;
  readonly output: () => { stdout: string; stderr: string };
}

/** Starts `command args...`. */
export function startProgram(command: string, args: readonly string[], options: ProgramOptions): StartedProgram {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, finished: () => done, output: () => ({ stdout, stderr }) };
}

/** Runs `command args...` to its end (killed after `timeoutMs`). */
export async function runProgram(command: string, args: readonly string[], options: ProgramOptions, timeoutMs = 60_000): Promise<CliResult> {
  const run = startProgram(command, args, options);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  try {
    return await run.finished();
  } finally {
    clearTimeout(timer);
  }
}

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
