/**
 * Every `pgcdc` command and flag README.md and docs/ mention exists in the command line: commands
 * and flags are read from the built CLI's own help (`dist/cli/main.js`, built by `npm test`), the
 * mentions from command lines in `sh` blocks and from inline code.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { docFiles, fencedBlocks, inlineCode } from './doc-sources.js';

/** Flags the docs mention that belong to other programs. */
const FOREIGN_FLAGS: Readonly<Record<string, string>> = {
  '--allow-scripts': 'npm install',
  '--no-node-snapshot': 'node',
};

/** A command line in the docs: where, the pgcdc command (undefined for the program itself) and the flags written. */
interface Mention {
  readonly where: string;
  readonly command: string | undefined;
  readonly flags: readonly string[];
}

function help(args: readonly string[]): string {
  return execFileSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8' });
}

/** The lines of a help section (`Options:`, `Commands:`), up to the next blank line. */
function section(text: string, title: string): string[] {
  const start = text.indexOf(`\n${title}\n`);
  if (start < 0) return [];
  const rest = text.slice(start + title.length + 2);
  return rest.slice(0, rest.indexOf('\n\n') < 0 ? undefined : rest.indexOf('\n\n')).split('\n');
}

function optionFlags(text: string): string[] {
  return section(text, 'Options:').flatMap((line) => (/^ {2}-/.test(line) ? (line.trim().split(/\s{2,}/)[0]!.match(/--?[A-Za-z][\w-]*/g) ?? []) : []));
}

/** Every command of the CLI and its flags, the program's own flags under `''`. */
function cliFlags(): Map<string, Set<string>> {
  const top = help([]);
  const commands = section(top, 'Commands:')
    .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
  const flags = new Map<string, Set<string>>([['', new Set(optionFlags(top))]]);
  for (const command of commands) flags.set(command, new Set(optionFlags(help([command]))));
  return flags;
}

/** The command and flags of `line` when it is a pgcdc command line (`pgcdc …`, `npx pgcdc …`). */
function commandLine(line: string, where: string): Mention | undefined {
  const match = /^(?:npx )?pgcdc(?:\s+(.*))?$/.exec(line.replace(/\s+#.*$/, '').trim());
  if (match === null) return undefined;
  const words = (match[1] ?? '').split(/\s+/).filter((word) => word !== '');
  const command = words[0] !== undefined && /^[a-z]/.test(words[0]) ? words[0] : undefined;
  return { where, command, flags: words.flatMap((word) => word.replace(/^\[|\]$/g, '').match(/^--?[A-Za-z][\w-]*/) ?? []) };
}

function mentions(): Mention[] {
  return docFiles().flatMap((file) => [
    ...fencedBlocks(file)
      .filter((block) => block.language === 'sh')
      .flatMap((block) => block.text.split('\n').flatMap((line, index) => commandLine(line, `${file.name}:${block.line + 1 + index}`) ?? [])),
    ...inlineCode(file).flatMap(({ line, code }) => {
      const where = `${file.name}:${line}`;
      if (code.startsWith('--')) return [{ where, command: undefined, flags: code.match(/^--[A-Za-z][\w-]*/) ?? [] }];
      return commandLine(code, where) ?? [];
    }),
  ]);
}

describe('commands and flags in the documentation', () => {
  const cli = cliFlags();
  const documented = mentions();

  it('are found', () => {
    expect(cli.size).toBeGreaterThan(5);
    expect(documented.filter((mention) => mention.command !== undefined).length).toBeGreaterThan(10);
  });

  it('name commands the CLI has', () => {
    const unknown = documented.filter((mention) => mention.command !== undefined && !cli.has(mention.command));
    expect(unknown.map((mention) => `${mention.where}: pgcdc ${mention.command}`)).toEqual([]);
  });

  it('name flags of those commands (or of the program, or of any command when no command is written)', () => {
    const anyCommand = new Set([...cli.values()].flatMap((flags) => [...flags]));
    const unknown = documented.flatMap((mention) =>
      mention.flags
        .filter((flag) => !Object.hasOwn(FOREIGN_FLAGS, flag))
        .filter((flag) => (mention.command === undefined ? !anyCommand.has(flag) : !(cli.get(mention.command)?.has(flag) || cli.get('')!.has(flag))))
        .map((flag) => `${mention.where}: ${mention.command === undefined ? '' : `pgcdc ${mention.command} `}${flag}`),
    );
    expect(unknown).toEqual([]);
  });
});
