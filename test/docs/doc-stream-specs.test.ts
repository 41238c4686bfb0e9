/**
 * Every stream spec shown in README.md and docs/ loads with the config loader: whole documents as
 * they are, and `target:` snippets inside a minimal native document. `${VAR}` references get a
 * value, as a user's environment would give them.
 */
import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';
import { docFiles, type FencedBlock, fencedBlocks } from './doc-sources.js';

/** A native document a `target:` snippet is put into. */
const SNIPPET_HOST = 'apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: docs-example\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: postgres://cdc@db.example.com/shop\n';

const YAML_BLOCKS = docFiles().flatMap(fencedBlocks).filter((block) => block.language === 'yaml');
const DOCUMENTS = YAML_BLOCKS.filter((block) => /^kind: (Stream|SGStream)$/m.test(block.text));
const TARGET_SNIPPETS = YAML_BLOCKS.filter((block) => block.text.startsWith('  target:\n'));

/** A value for every `${NAME}` of `text`. */
function environmentFor(text: string): NodeJS.ProcessEnv {
  return Object.fromEntries([...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)].map((match) => [match[1]!, 'docs-value']));
}

function load(block: FencedBlock, text: string) {
  return parseStreamConfig(text, { fileName: `${block.file}:${block.line}`, env: environmentFor(text), cwd: '/srv' });
}

describe('stream specs in the documentation', () => {
  it('are found: whole documents and target snippets', () => {
    expect(DOCUMENTS.length).toBeGreaterThanOrEqual(2);
    expect(TARGET_SNIPPETS.length).toBeGreaterThanOrEqual(3);
    expect(YAML_BLOCKS.filter((block) => !DOCUMENTS.includes(block) && !TARGET_SNIPPETS.includes(block)).map((block) => `${block.file}:${block.line}`)).toEqual([]);
  });

  it.each(DOCUMENTS.map((block) => [`${block.file}:${block.line}`, block] as const))('%s loads without warnings', async (_where, block) => {
    const config = await load(block, block.text);
    expect(config.warnings).toEqual([]);
  });

  it.each(TARGET_SNIPPETS.map((block) => [`${block.file}:${block.line}`, block] as const))('%s loads as the target of a stream', async (_where, block) => {
    const config = await load(block, `${SNIPPET_HOST}${block.text}`);
    const type = /^ {4}type: (\w+)$/m.exec(block.text)?.[1];
    expect(config.target.type).toBe(type);
    expect(config.warnings).toEqual([]);
  });
});

describe('the error example of docs/configuration.md', () => {
  it('is what the loader says of its native example with those two mistakes (lines aside)', async () => {
    const blocks = fencedBlocks(docFiles().find((file) => file.name === 'docs/configuration.md')!);
    const shown = blocks.find((block) => block.language === 'text')!.text.trim().split('\n');
    const example = DOCUMENTS.find((block) => block.file === 'docs/configuration.md')!;
    const mistaken = example.text.replace(/^( {6}url: .*\n)/m, '$1      snapshotMode: initil\n      slotname: orders\n');
    const error = await load(example, mistaken).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(PgcdcError);
    const withoutLines = (line: string) => line.replace(/^\S+:\d+: /, '');
    expect((error as PgcdcError).message.split('\n').map(withoutLines)).toEqual(shown.map(withoutLines));
  });
});
