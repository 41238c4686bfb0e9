#!/usr/bin/env node
/**
 * The `pgcdc` command line: parses arguments, runs one command, and turns failures into one line
 * on standard error (what is wrong and how to fix it) with a non-zero exit code (exit-codes.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { PGCDC_VERSION } from '../version.js';
import { LOG_LEVELS } from '../logging/logger.js';
import { reportFailure } from './cli-context.js';
import { EXIT_CODES, exitCodesHelp } from './exit-codes.js';
import { demoCommand } from './commands/demo-command.js';
import { initCommand } from './commands/init-command.js';
import { runCommand } from './commands/run-command.js';
import { serveCommand } from './commands/serve-command.js';
import { signalCommand } from './commands/signal-command.js';
import { statusCommand } from './commands/status-command.js';
import { syncSequencesCommand } from './commands/sync-sequences-command.js';
import { teardownCommand } from './commands/teardown-command.js';
import { validateCommand } from './commands/validate-command.js';
import { verifyCommand } from './commands/verify-command.js';
import { followLauncher } from './sandbox-relaunch.js';

followLauncher();

const program = new Command('pgcdc')
  .description('Change data capture for PostgreSQL: every committed change, in order, to a target.')
  .version(PGCDC_VERSION)
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .addOption(new Option('--log-format <format>', 'log format on standard error').choices(['auto', 'json', 'pretty']).default('auto'))
  .showHelpAfterError()
  .addHelpText('after', exitCodesHelp())
  // Usage errors are thrown, not exited on, so that they exit 2 (commander would exit 1); set
  // before the commands are added, which inherit it.
  .exitOverride();

for (const register of [runCommand, validateCommand, initCommand, teardownCommand, statusCommand, signalCommand, verifyCommand, syncSequencesCommand, serveCommand, demoCommand]) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its message (or the help, or the version) already.
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? EXIT_CODES.success : EXIT_CODES.usage;
  else process.exitCode = reportFailure(error);
}
// The command is over: nothing it may have left behind (a connection, a timer) keeps the process
// alive, so a supervisor, CI job or cron entry sees the exit code at once.
process.exit(process.exitCode ?? EXIT_CODES.success);
