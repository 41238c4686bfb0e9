/**
 * Runs the built `pgcdc` command line (dist/cli/main.js) as a child process, the way users do.
 * `npm test` builds before testing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CLI = path.resolve('dist/cli/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts `pgcdc args...`; the caller waits with `finished()`. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): { child: ChildProcess; finished: () => Promise<CliResult>; output: () => { stdout: string; stderr: string } } {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const child = spawn(process.execPath, [CLI, '--log-format', 'json', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, finished: () => done, output: () => ({ stdout, stderr }) };
}

/** Runs `pgcdc args...` to completion (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000, cwd?: string): Promise<CliResult> {
  const run = startCli(args, env, cwd);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  try {
    return await run.finished();
  } finally {
    clearTimeout(timer);
  }
}

/** The `pgcdc: error[...]` line of a failed run. */
export function errorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('pgcdc: error['));
  if (lines.length !== 1) throw new Error(`expected exactly one error line, got ${lines.length}:\n${result.stderr}`);
  return lines[0]!;
}
