/**
 * The project's prose documentation (README.md and docs/*.md) as the doc tests read it: fenced code
 * blocks with their language and line, and the inline code spans outside them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One documentation file: its path from the project root and its text. */
export interface DocFile {
  readonly name: string;
  readonly text: string;
}

/** A fenced block: its language (`yaml`, `sh`, or empty), the line of its opening fence, its text. */
export interface FencedBlock {
  readonly file: string;
  readonly line: number;
  readonly language: string;
  readonly text: string;
}

/** README.md and every markdown file of docs/. */
export function docFiles(): DocFile[] {
  const names = ['README.md', ...readdirSync(`${ROOT}docs`).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  return names.map((name) => ({ name, text: readFileSync(`${ROOT}${name}`, 'utf8') }));
}

/** The fenced blocks of `file`. */
export function fencedBlocks(file: DocFile): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  let open: { line: number; language: string; lines: string[] } | undefined;
  file.text.split('\n').forEach((line, index) => {
    const fence = /^```(\S*)\s*$/.exec(line);
    if (open === undefined) {
      if (fence) open = { line: index + 1, language: fence[1] ?? '', lines: [] };
    } else if (fence && fence[1] === '') {
      blocks.push({ file: file.name, line: open.line, language: open.language, text: `${open.lines.join('\n')}\n` });
      open = undefined;
    } else {
      open.lines.push(line);
    }
  });
  return blocks;
}

/** The inline code spans of `file` outside its fenced blocks (a span may wrap onto the next line), with their lines. */
export function inlineCode(file: DocFile): { readonly line: number; readonly code: string }[] {
  let inFence = false;
  const prose = file.text
    .split('\n')
    .map((line) => {
      if (/^```/.test(line)) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line;
    })
    .join('\n');
  return [...prose.matchAll(/`([^`]+)`/g)]
    .filter((match) => !match[1]!.includes('\n\n'))
    .map((match) => ({ line: prose.slice(0, match.index).split('\n').length, code: match[1]!.replace(/\s*\n\s*/g, ' ') }));
}
