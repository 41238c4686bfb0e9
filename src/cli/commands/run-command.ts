/**
 * `pgcdc run -c FILE [--stop-at now|LSN]`: snapshots as the snapshot mode says, then streams until
 * Ctrl-C/SIGTERM (graceful: the transaction being received is received whole, for up to 30 s, and
 * what was received is delivered and acknowledged first) or, with
 * --stop-at, until everything up to that position is delivered and acknowledged; with
 * snapshotMode initial_only, until the snapshot is done.
 */
import type { Command } from 'commander';
import { runStream } from '../../pipeline/run-stream.js';
import { parseLsn } from '../../source/lsn.js';
import { loadSpec, loggerFor, withSpecOptions, type SpecOptions } from '../cli-context.js';
import { needsSandboxRelaunch, relaunchWithoutSnapshot } from '../sandbox-relaunch.js';

export function runCommand(program: Command): void {
  withSpecOptions(program.command('run').description('stream changes to the target until stopped'))
    .option('--stop-at <now|LSN>', 'exit 0 once everything up to this WAL position (now = the current one) is delivered')
    .action(async (options: SpecOptions & { stopAt?: string }, command: Command) => {
      const logger = loggerFor(command);
      const config = await loadSpec(options);
      if (needsSandboxRelaunch(config)) {
        process.exitCode = await relaunchWithoutSnapshot();
        return;
      }
      const stopAt = options.stopAt === undefined ? undefined : options.stopAt === 'now' ? 'now' : parseLsn(options.stopAt);
      const controller = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) {
          logger.warn({ signal }, 'second signal: exiting without waiting; the unacknowledged tail will be delivered again next run');
          process.exit(130);
        }
        logger.info({ signal }, 'stopping: delivering what was received');
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runStream(config, { logger, signal: controller.signal, progressDisplay: true, ...(stopAt !== undefined ? { stopAt } : {}) });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
