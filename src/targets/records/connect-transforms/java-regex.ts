/**
 * Java's java.util.regex as Connect's transforms use it: a pattern compiled for `Matcher.matches`
 * (the whole text must match) and `Matcher.replaceFirst`'s replacement syntax (`$1`, `${name}`,
 * `\$` for a literal dollar).
 */

/** Java's inline flags at the start of a pattern, as JavaScript flags. */
const INLINE_FLAGS: Readonly<Record<string, string>> = { i: 'i', s: 's', m: 'm', u: '', x: 'x' };

/**
 * `pattern` compiled to match whole names (Java's `matches`). Throws, with the reason, for what
 * JavaScript cannot read (possessive quantifiers, comments mode, syntax errors).
 */
export function javaRegex(pattern: string): RegExp {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (inline) {
    for (const flag of inline[1]!) {
      const js = INLINE_FLAGS[flag];
      if (js === undefined || js === 'x') throw new Error(`the inline flag (?${flag}) is not supported`);
      if (!flags.includes(js)) flags += js;
    }
    source = source.slice(inline[0].length);
  }
  if (/(?<!\\)[*+?}][+]/.test(source)) throw new Error('possessive quantifiers (*+, ++, ?+) are not supported');
  source = source.replaceAll('\\A', '^').replaceAll('\\Z', '$').replaceAll('\\z', '$');
  return new RegExp(`^(?:${source})$`, flags);
}

/** The number of capturing groups of `regex`. */
export function groupCount(regex: RegExp): number {
  return new RegExp(`${regex.source}|`, regex.flags).exec('')!.length - 1;
}

/**
 * Checks `replacement` against `regex`'s groups as Java's Matcher would when replacing; the
 * problem's text, or undefined when it is valid.
 */
export function replacementProblem(regex: RegExp, replacement: string): string | undefined {
  const groups = groupCount(regex);
  const names = new Set([...regex.source.matchAll(/\(\?<([a-zA-Z][a-zA-Z0-9]*)>/g)].map((match) => match[1]!));
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i];
    if (c === '\\') {
      if (i + 1 >= replacement.length) return 'ends with a lone backslash (write \\\\ for a backslash)';
      i++;
    } else if (c === '$') {
      if (replacement[i + 1] === '{') {
        const end = replacement.indexOf('}', i);
        const name = end < 0 ? '' : replacement.slice(i + 2, end);
        if (!names.has(name)) return `refers to the group \${${name}}, which the regex does not name`;
        i = end;
      } else if (/\d/.test(replacement[i + 1] ?? '')) {
        if (Number(replacement[i + 1]) > groups) return `refers to group ${replacement[i + 1]}, but the regex has ${groups} group${groups === 1 ? '' : 's'}`;
        i++;
        while (/\d/.test(replacement[i + 1] ?? '') && Number(replacement.slice(i, i + 2)) <= groups) i++;
      } else return 'has a $ not followed by a group number or {name} (write \\$ for a dollar sign)';
    }
  }
  return undefined;
}

/** `replacement` with Java's group references filled from `match` (Matcher.replaceFirst on a whole match). */
export function javaReplacement(match: RegExpExecArray, replacement: string): string {
  let out = '';
  const groups = match.length - 1;
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i]!;
    if (c === '\\') out += replacement[++i] ?? '';
    else if (c === '$') {
      if (replacement[i + 1] === '{') {
        const end = replacement.indexOf('}', i);
        out += match.groups?.[replacement.slice(i + 2, end)] ?? '';
        i = end;
      } else {
        let group = Number(replacement[++i]);
        while (/\d/.test(replacement[i + 1] ?? '') && group * 10 + Number(replacement[i + 1]) <= groups) group = group * 10 + Number(replacement[++i]);
        out += match[group] ?? '';
      }
    } else out += c;
  }
  return out;
}

/** Java's `matcher(text).matches() ? matcher.replaceFirst(replacement) : undefined`. */
export function replaceWholeMatch(regex: RegExp, text: string, replacement: string): string | undefined {
  const match = regex.exec(text);
  return match === null ? undefined : javaReplacement(match, replacement);
}
