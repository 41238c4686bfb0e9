/**
 * Real servers from Debian's packages for the tests (nats-server, redis-server, rabbitmq-server):
 * the package installed with apt-get when its program is missing (as root, or through passwordless
 * sudo; the machines reach Debian's mirrors), the server started as a child process on loopback
 * ports with its data in a temporary directory, ready once a probe succeeds, stopped (or killed
 * with SIGKILL, to test a crash) and started again on the same ports and data. Its output goes to
 * a log file shown when it fails to start. No server outlives the test process: it is stopped when
 * the process exits, and (through util-linux's `setpriv --pdeathsig`) killed by the kernel when the
 * test worker that started it dies without exiting (a test runner killed on a timeout).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const START_TIMEOUT_MS = 60_000;
/** util-linux's setpriv, to have the kernel kill a server whose parent dies (absent: exit handler only). */
const SETPRIV = fs.existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
const STOP_TIMEOUT_MS = 20_000;
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The path of `program` (looked up in PATH and `extraDirs`), after installing Debian's package
 * `debianPackage` with apt-get when it is missing.
 *
 * @throws Error naming the package and the command to install it, when the install fails
 */
export function ensureProgram(program: string, debianPackage: string, extraDirs: readonly string[] = []): string {
  const find = (): string | undefined => {
    for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', ...extraDirs]) {
      const candidate = path.join(dir, program);
      if (dir !== '' && fs.existsSync(candidate)) return candidate;
    }
    return undefined;
  };
  const found = find();
  if (found !== undefined) return found;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const aptGet = (...args: string[]): void => {
    const [command, ...rest] = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    execFileSync(command!, rest, { stdio: 'pipe' });
  };
  try {
    try {
      aptGet('install', '-y', '--no-install-recommends', debianPackage);
    } catch {
      // The package lists may be missing or stale on a fresh machine.
      aptGet('update');
      aptGet('install', '-y', '--no-install-recommends', debianPackage);
    }
  } catch (error) {
    throw new Error(`${program} is missing and installing Debian's ${debianPackage} failed (${(error as Error).message.split('\n')[0]}); run: sudo apt-get install -y ${debianPackage}`);
  }
  const installed = find();
  if (installed === undefined) throw new Error(`Debian's ${debianPackage} was installed but ${program} is still not found`);
  return installed;
}

/** A loopback port free now. */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once something accepts TCP connections on 127.0.0.1:`port`. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface ServerProcessOptions {
  /** Name in messages, e.g. `nats-server`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Resolves true once the server serves clients (polled every 100 ms). */
  readonly ready: () => Promise<boolean>;
  readonly startTimeoutMs?: number;
}

/** A server child process that can be stopped, killed and started again with the same options. */
export class ServerProcess {
  readonly #options: ServerProcessOptions;
  /** Where the server's output goes (appended across restarts). */
  readonly logFile: string;
  #child: ChildProcess | undefined;

  private constructor(options: ServerProcessOptions, logFile: string) {
    this.#options = options;
    this.logFile = logFile;
  }

  /** Starts the server and waits until it is ready. */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `pgcdc-${options.name}-log-`)), 'server.log');
    const server = new ServerProcess(options, logFile);
    await server.restart();
    return server;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server again (after `stop` or `kill`) and waits until it is ready. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error(`${this.#options.name} is running`);
    const { name, command, args, env, cwd, ready } = this.#options;
    const log = fs.openSync(this.logFile, 'a');
    const [program, ...programArgs] = SETPRIV ? [SETPRIV, '--pdeathsig', 'SIGKILL', '--', command, ...args] : [command, ...args];
    const child = spawn(program!, programArgs, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.#child = child;
    running.add(child);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      running.delete(child);
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? START_TIMEOUT_MS);
    for (;;) {
      if (exited !== undefined) throw new Error(`${name} ${exited} before it was ready; its output:\n${this.#tail()}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${name} was not ready within ${(this.#options.startTimeoutMs ?? START_TIMEOUT_MS) / 1000} s; its output:\n${this.#tail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 20 s) and waits for it to exit. */
  stop(): Promise<void> {
    return this.#end('SIGTERM');
  }

  /** Kills the server with SIGKILL (a crash) and waits for it to exit. */
  kill(): Promise<void> {
    return this.#end('SIGKILL');
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** The last lines of the server's output. */
  #tail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '(no output)';
    }
  }
}
