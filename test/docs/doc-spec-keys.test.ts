/**
 * What README.md and docs/ say about keys and signals matches the code: every `spec.…` key path
 * they name exists in the native or the SGStream schema, the SGCluster target table of
 * docs/configuration.md names every JDBC sink property the schema has, examples/postgres-target.yaml
 * uses every Postgres target setting (as docs/configuration.md says), and every `pgcdc signal`
 * example is a signal pgcdc accepts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { nativeStreamSchema } from '../../src/config/native-stream-schema.js';
import { postgresTargetSettingsSchema } from '../../src/config/postgres-settings.js';
import { APPLIED_JDBC_SINK_PROPERTIES } from '../../src/config/sgcluster-target.js';
import { sgStreamSchema } from '../../src/config/sgstream-schema.js';
import { jdbcSinkPropertiesSchema } from '../../src/config/sgstream-target-schemas.js';
import { parseSignal } from '../../src/snapshot/signals.js';
import { docFiles, fencedBlocks, inlineCode } from './doc-sources.js';

interface JsonSchemaNode {
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
}

/** Every key path (`spec.source.postgres.url`) of a document schema. */
function keyPaths(schema: z.ZodType): Set<string> {
  const paths = new Set<string>();
  const visit = (node: JsonSchemaNode, prefix: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.add(path);
      visit(child, path);
    }
  };
  visit(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode, '');
  return paths;
}

const DOCS = docFiles();

/** The `spec.…` key paths named in inline code (`spec.source.type: SGCluster` names `spec.source.type`). */
function documentedSpecPaths(): { where: string; path: string }[] {
  return DOCS.flatMap((file) =>
    inlineCode(file).flatMap(({ line, code }) => {
      const match = /^(spec(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:$|[:\s])/.exec(code);
      return match === null ? [] : [{ where: `${file.name}:${line}`, path: match[1]! }];
    }),
  );
}

/** Splits a shell command line into words: single and double quotes, `'\''`, backslash escapes. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let text = '';
      for (i++; line[i] !== '"'; i++) text += line[i] === '\\' ? line[++i] : line[i];
      word = (word ?? '') + text;
    } else if (c === '\\') {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** `pgcdc signal -c FILE <type> [data]` lines of the `sh` blocks. */
function signalExamples(): { where: string; type: string; data: string | null }[] {
  return DOCS.flatMap((file) =>
    fencedBlocks(file)
      .filter((block) => block.language === 'sh')
      .flatMap((block) =>
        block.text.split('\n').flatMap((line, index) => {
          const words = shellWords(line.replace(/\s+#.*$/, ''));
          if (words[0] !== 'pgcdc' || words[1] !== 'signal') return [];
          const [type, data] = words.slice(2).filter((word, at, rest) => !word.startsWith('-') && !(at > 0 && rest[at - 1] === '-c'));
          return [{ where: `${file.name}:${block.line + 1 + index}`, type: type!, data: data ?? null }];
        }),
      ),
  );
}

describe('keys and signals in the documentation', () => {
  it('every spec.… key path named exists in the native or the SGStream schema', () => {
    const known = new Set([...keyPaths(nativeStreamSchema), ...keyPaths(sgStreamSchema)]);
    const named = documentedSpecPaths();
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter(({ path }) => !known.has(path)).map(({ where, path }) => `${where}: ${path}`)).toEqual([]);
  });

  it('the SGCluster target table names every JDBC sink property: those applied in rows of their own, the others in one row', () => {
    const configuration = DOCS.find((file) => file.name === 'docs/configuration.md')!.text;
    const unappliedRow = configuration.split('\n').find((line) => line.startsWith('| `debeziumProperties.connectionUrlParameters`'));
    expect(unappliedRow).toBeDefined();
    const listed = [...unappliedRow!.split(' | ')[0]!.matchAll(/`(?:debeziumProperties\.)?([A-Za-z_]+)`/g)].map((match) => match[1]);
    const applied: readonly string[] = APPLIED_JDBC_SINK_PROPERTIES;
    expect(listed.sort()).toEqual(Object.keys(jdbcSinkPropertiesSchema.shape).filter((key) => !applied.includes(key)).sort());
    for (const key of applied) expect(configuration).toContain(`| \`debeziumProperties.${key}\` |`);
  });

  it('examples/postgres-target.yaml, which docs/configuration.md says uses every Postgres target setting, does', () => {
    expect(DOCS.find((file) => file.name === 'docs/configuration.md')!.text).toContain('[`examples/postgres-target.yaml`](../examples/postgres-target.yaml) uses them all');
    const example = parse(readFileSync(new URL('../../examples/postgres-target.yaml', import.meta.url), 'utf8')) as { spec: { target: { postgres: object } } };
    expect(Object.keys(example.spec.target.postgres).sort()).toEqual(Object.keys(postgresTargetSettingsSchema.shape).sort());
  });

  it('every `pgcdc signal` example is a signal pgcdc accepts', () => {
    const examples = signalExamples();
    expect(examples.length).toBeGreaterThanOrEqual(8);
    for (const { where, type, data } of examples) expect(() => parseSignal(type, data), where).not.toThrow();
  });
});
