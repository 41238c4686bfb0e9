/**
 * Runs a command again in a child Node.js started with `--no-node-snapshot` when the stream's
 * target is PgLambda and this process lacks the flag: isolated-vm (the PgLambda sandbox) is only
 * safe on Node.js 20+ without the startup snapshot, and `node dist/cli/main.js …` (how tests,
 * benchmarks and `npx pgcdc` start it) cannot be given the flag by a shebang.
 *
 * Why only then, not always: a relaunch loads the command line's modules a second time (about half
 * a second, measured: `node dist/cli/main.js --version` takes 0.5 s, `node -e 0` 0.06 s) and puts a
 * launcher process between the caller and pgcdc; streams to other targets keep a single process.
 * Deciding before loading the modules would need the spec read first, by a second code path.
 *
 * The launcher stays a thin shell: standard output and error are the child's own, SIGINT, SIGTERM
 * and SIGHUP are forwarded (the child runs in its own session, so a Ctrl-C reaches it once, through
 * the launcher, not twice), and the exit code is the child's. Should the launcher die without
 * forwarding (SIGKILL), the child sees its IPC channel close and kills itself at once, as if it had
 * been killed with it: no orphan keeps the replication slot.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { StreamConfig } from '../config/stream-config.js';

const NO_SNAPSHOT_FLAG = '--no-node-snapshot';
/** Marks the child of a relaunch, so it watches its launcher. */
const RELAUNCHED_ENV = 'PGCDC_RELAUNCHED';
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** True when the stream needs a sandbox (PgLambda target, transform function) and this process was started with the snapshot. */
export function needsSandboxRelaunch(stream: StreamConfig): boolean {
  return (stream.target.type === 'PgLambda' || stream.transform?.script !== undefined) && !process.execArgv.includes(NO_SNAPSHOT_FLAG);
}

/** Runs this command line again with `--no-node-snapshot`; resolves with the exit code to use. */
export function relaunchWithoutSnapshot(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, NO_SNAPSHOT_FLAG, ...process.argv.slice(1)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, [RELAUNCHED_ENV]: '1' },
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const forwarded of FORWARDED_SIGNALS) process.off(forwarded, forward);
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}

/** In the child of a relaunch: die with the launcher (its IPC channel closes when it dies). */
export function followLauncher(): void {
  if (process.env[RELAUNCHED_ENV] !== '1' || process.channel === undefined) return;
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  process.channel.unref();
}
