/**
 * `pgcdc serve` as a user starts it (the built CLI), on a free loopback port, for the serve and
 * dashboard tests.
 */
import { startCli, type StartedProgram } from './cli.js';
import { freePort } from './expected-failures.js';
import { waitFor } from './postgres.js';

export interface Served {
  readonly program: StartedProgram;
  readonly origin: string;
}

/** `pgcdc serve --streams dir` on a free loopback port, up once /healthz answers. */
export async function startServe(streamsDir: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const program = startCli(['serve', '--streams', streamsDir, '--listen', `127.0.0.1:${port}`, ...extra], env);
  await waitFor(
    async () => {
      if (program.child.exitCode !== null) throw new Error(`pgcdc serve exited: ${program.output().stderr}`);
      return (await fetch(`${origin}/healthz`)).ok ? true : undefined;
    },
    30_000,
    'pgcdc serve to answer /healthz',
  );
  return { program, origin };
}

/**
 * The `database.*` properties of a connector configuration that reach the database of `url`: the
 * guide's register-postgres.json with the test server's host, port, user and password.
 */
export function connectorDatabaseProperties(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    'database.hostname': parsed.hostname,
    'database.port': parsed.port,
    'database.user': decodeURIComponent(parsed.username),
    'database.password': decodeURIComponent(parsed.password),
    'database.dbname': parsed.pathname.slice(1),
  };
}
