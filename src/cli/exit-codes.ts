/**
 * The exit codes of `pgcdc`, part of its interface: scripts, supervisors and CI jobs tell outcomes
 * apart by them. One table, which `pgcdc --help` prints (and the README repeats).
 */

/** Every exit code, by what it means. */
export const EXIT_CODES = {
  /** The command did its job. */
  success: 0,
  /** A failure, told on one `pgcdc: error[CODE]` line with its fix; a failed check or comparison. */
  failure: 1,
  /** A usage error (commander's) or a stream spec that cannot be read or is invalid. */
  usage: 2,
  /** `run` got a second SIGINT or SIGTERM while stopping gracefully. */
  interrupted: 130,
} as const;

/** What each code means, in `pgcdc --help`. */
const MEANINGS: readonly (readonly [code: string, meaning: string])[] = [
  [String(EXIT_CODES.success), 'success; also run stopped at --stop-at, or by SIGINT or SIGTERM once what it received is delivered and acknowledged; demo stopped by either'],
  [String(EXIT_CODES.failure), 'error, told on one "pgcdc: error[CODE] ... (fix: ...)" line on stderr; a failed validate check; verify found differences'],
  [String(EXIT_CODES.usage), 'usage error (unknown command or option, missing or invalid argument), or a spec that cannot be read or is invalid'],
  [String(EXIT_CODES.interrupted), 'run got a second SIGINT or SIGTERM while stopping: it exits at once, and the next run delivers the unacknowledged tail again'],
  ['128+N', 'the process running a PgLambda stream (run and validate re-run with --no-node-snapshot) was killed by signal N'],
];

/** Width of the help text, as commander's own sections. */
const HELP_WIDTH = 80;

/** The exit codes section of `pgcdc --help`. */
export function exitCodesHelp(): string {
  const codeWidth = Math.max(...MEANINGS.map(([code]) => code.length));
  const indent = 2 + codeWidth + 2;
  const lines = MEANINGS.map(([code, meaning]) => `  ${code.padEnd(codeWidth)}  ${wrap(meaning, HELP_WIDTH - indent).join(`\n${' '.repeat(indent)}`)}`);
  return `\nExit codes:\n${lines.join('\n')}\n`;
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}
