/**
 * Reads the YAML text of a stream file into documents, turning syntax errors into one
 * CONFIG_UNREADABLE error with file, line and column, and maps document paths back to lines.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { ConfigPath, IssueLocator } from './config-issues.js';

/** The parsed documents of a file (a file may hold several, separated by `---`). */
export interface YamlSource {
  readonly fileName: string | undefined;
  readonly documents: readonly Document.Parsed[];
  readonly lineCounter: LineCounter;
}

/**
 * Parses all documents of `text`. Syntax errors (bad indentation, unclosed quotes, duplicate
 * keys…) are thrown as one CONFIG_UNREADABLE error, one `file:line:column: …` line each; the
 * offending text is not repeated, as it may hold a password.
 */
export function parseYamlSource(text: string, fileName: string | undefined): YamlSource {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  const parsed = Array.isArray(documents) ? documents : [];
  const errors = parsed.flatMap((document) => document.errors);
  if (errors.length > 0) {
    const name = fileName ?? 'stream spec';
    const lines = errors.map((error) => {
      const position = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
      const reason = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      return `${name}:${position.line}:${position.col}: invalid YAML: ${reason}`;
    });
    const first = errors[0].linePos?.[0] ?? lineCounter.linePos(errors[0].pos[0]);
    throw new PgcdcError('CONFIG_UNREADABLE', lines.join('\n'), {
      hint: `fix the YAML syntax at line ${first.line}, column ${first.col} (check indentation, quotes and that each key appears once)`,
    });
  }
  return { fileName, documents: parsed, lineCounter };
}

/** The first line of a document, for messages about whole documents. */
export function documentLine(source: YamlSource, document: Document.Parsed): number {
  const start = document.contents?.range?.[0] ?? document.range[0];
  return source.lineCounter.linePos(start).line;
}

/** Locates paths of `document` in its file: each key's line, or its nearest existing parent's. */
export function locatorFor(source: YamlSource, document: Document.Parsed): IssueLocator {
  const lines = new Map<string, number>();
  const lineAt = (node: Node | null | undefined): number | undefined =>
    node?.range ? source.lineCounter.linePos(node.range[0]).line : undefined;
  const visit = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const childPath = [...path, key];
        const line = lineAt(pair.key as Node | null);
        if (line !== undefined) lines.set(JSON.stringify(childPath), line);
        visit(pair.value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const line = lineAt(item as Node | null);
        if (line !== undefined) lines.set(JSON.stringify([...path, index]), line);
        visit(item, [...path, index]);
      });
    }
  };
  visit(document.contents, []);
  const rootLine = documentLine(source, document);
  return {
    fileName: source.fileName,
    lineOf(path) {
      for (let length = path.length; length > 0; length--) {
        const line = lines.get(JSON.stringify(path.slice(0, length)));
        if (line !== undefined) return line;
      }
      return rootLine;
    },
  };
}
