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

/** Starts `pgcdc args...`; the caller waits with `finished()`. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): StartedProgram {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  return startProgram(process.execPath, [CLI, '--log-format', 'json', ...args], { cwd: cwd ?? process.cwd(), env: { ...process.env, ...env } });
}

/** Runs `pgcdc args...` to completion (killed after `timeoutMs`). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000, cwd?: string): Promise<CliResult> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  return runProgram(process.execPath, [CLI, '--log-format', 'json', ...args], { cwd: cwd ?? process.cwd(), env: { ...process.env, ...env } }, timeoutMs);
}

/** The `pgcdc: error[...]` line of a failed run. */
export function errorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('pgcdc: error['));
  if (lines.length !== 1) throw new Error(`expected exactly one error line, got ${lines.length}:\n${result.stderr}`);
  return lines[0]!;
}
