/**
 * `pgcdc verify -c FILE`: compares every captured table on the source and the PostgreSQL target
 * and prints the differing key ranges (text or JSON); exits 0 only when all tables are identical.
 * Progress of big tables goes to standard error through the logger.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Logger } from '../../logging/logger.js';
import type { TableProgress } from '../../verify/table-comparison.js';
import { renderVerifyReport } from '../../verify/verify-report.js';
import { VERIFY_DEFAULTS, verifyStream } from '../../verify/verify-stream.js';
import { loadDatabaseSourcedSpec, loggerFor, withSpecOptions, type SpecOptions } from '../cli-context.js';

interface VerifyCommandOptions extends SpecOptions {
  readonly parallel: number;
  readonly rangeRows: number;
  readonly json?: boolean;
}

/** Milliseconds between two progress lines of one table. */
const PROGRESS_INTERVAL_MS = 5_000;

export function verifyCommand(program: Command): void {
  withSpecOptions(
    program.command('verify').description('compare the captured tables on the source and the PostgreSQL target (exit 1 when any differs)'),
  )
    .option('--parallel <n>', 'connection pairs (source + target) comparing at once', positiveInteger, VERIFY_DEFAULTS.parallel)
    .option('--range-rows <n>', 'rows per compared primary key range', positiveInteger, VERIFY_DEFAULTS.rangeRows)
    .option('--json', 'print the report as JSON')
    .action(async (options: VerifyCommandOptions, command: Command) => {
      const logger = loggerFor(command);
      const config = await loadDatabaseSourcedSpec(options, 'verify');
      const report = await verifyStream(config, { parallel: options.parallel, rangeRows: options.rangeRows, onProgress: progressLogger(logger) });
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderVerifyReport(report));
      process.exitCode = report.identical ? 0 : 1;
    });
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${value}"`);
  return Number(value);
}

/** Logs a table's progress at most every few seconds, and when it is done. */
function progressLogger(logger: Logger): (progress: TableProgress) => void {
  const last = new Map<string, number>();
  return (progress) => {
    const now = Date.now();
    const done = progress.rangesDone === progress.ranges;
    if (!done && now - (last.get(progress.table) ?? now - PROGRESS_INTERVAL_MS) < PROGRESS_INTERVAL_MS) return;
    last.set(progress.table, now);
    const percent = progress.rows === 0 ? 100 : Math.min(100, Math.round((progress.rowsDone / progress.rows) * 100));
    logger.info({ ...progress, percent }, done ? 'verified table' : 'verifying table');
  };
}
