/**
 * Reads samples out of a Prometheus text exposition, and checks one with promtool (Debian's
 * prometheus package, installed when missing).
 */
import { spawnSync } from 'node:child_process';
import { ensureProgram } from '../support/server-process.js';

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export function sampleValue(body: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** `promtool check metrics` on the exposition: its exit status and what it printed. */
export function promtoolCheck(body: string): { status: number | null; output: string } {
  const result = spawnSync(ensureProgram('promtool', 'prometheus'), ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool did not run (${result.error.message})`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The exposition without the samples and comments of metrics whose name starts with `prefix`. */
export function withoutFamily(body: string, prefix: string): string {
  return body
    .split('\n')
    .filter((line) => !line.startsWith(prefix) && !line.startsWith(`# HELP ${prefix}`) && !line.startsWith(`# TYPE ${prefix}`))
    .join('\n');
}

/**
 * Checks the exposition with promtool: pgcdc's own metrics pass every lint; the whole exposition
 * parses, and the only remarks are on Debezium's names being camelCase (they are Debezium's).
 */
export function expectValidExposition(body: string, expect: (value: unknown, message?: string) => any): void {
  const own = promtoolCheck(withoutFamily(body, 'debezium_metrics_'));
  expect(own.output, 'promtool on the pgcdc_ metrics').toBe('');
  expect(own.status).toBe(0);
  const whole = promtoolCheck(body);
  const remarks = whole.output.split('\n').filter((line) => line.trim() !== '');
  expect(remarks.length).toBeGreaterThan(0);
  for (const remark of remarks) expect(remark).toMatch(/^debezium_metrics_[A-Za-z]+ metric names should be written in 'snake_case' not 'camelCase'$/);
}
