/**
 * `pgcdc demo`: a self-contained demonstration on an embedded PostgreSQL; no set-up needed.
 */
import type { Command } from 'commander';
import { loggerFor } from '../cli-context.js';

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('start an embedded PostgreSQL with a sample schema and workload, and stream its changes to stdout')
    .option('--interval <ms>', 'milliseconds between workload transactions', '700')
    .action(async (options: { interval: string }, command: Command) => {
      const logger = loggerFor(command);
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Loaded here: the embedded PostgreSQL packages are needed by the demo only.
      const { runDemo } = await import('../../demo/run-demo.js');
      await runDemo({ logger, signal: controller.signal, intervalMs: Number(options.interval) });
    });
}
