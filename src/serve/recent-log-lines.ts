/**
 * The last warning and error lines of one served stream, for the API's `lastErrors`: the stream's
 * logger is teed, so everything the pipeline warns about reaches both the log and this list.
 */
import type { Logger } from '../logging/logger.js';

export interface LogLine {
  /** ISO 8601. */
  readonly at: string;
  readonly level: 'warn' | 'error' | 'fatal';
  readonly message: string;
}

const TEED_LEVELS = ['warn', 'error', 'fatal'] as const;

/** A ring of the last `capacity` lines, oldest first. */
export class RecentLogLines {
  readonly #capacity: number;
  readonly #lines: LogLine[] = [];

  constructor(capacity = 20) {
    this.#capacity = capacity;
  }

  add(level: LogLine['level'], args: readonly unknown[]): void {
    if (this.#lines.length === this.#capacity) this.#lines.shift();
    this.#lines.push({ at: new Date().toISOString(), level, message: messageOf(args) });
  }

  list(): readonly LogLine[] {
    return [...this.#lines];
  }
}

/**
 * Makes `logger` (a child of its own, which this changes) also record its warn, error and fatal
 * lines into `lines`, whatever the level it writes at. Children it creates later inherit the tee:
 * pino builds a child on its parent as prototype.
 */
export function teeWarnings(logger: Logger, lines: RecentLogLines): Logger {
  const methods = logger as unknown as Record<string, (...args: unknown[]) => void>;
  for (const level of TEED_LEVELS) {
    const write = methods[level]!;
    methods[level] = function teed(this: Logger, ...args: unknown[]): void {
      lines.add(level, args);
      write.apply(this, args);
    };
  }
  return logger;
}

/** The text of a pino call: `(msg)`, `(object, msg)` or `(error, msg)`, with the error's message. */
function messageOf(args: readonly unknown[]): string {
  const [first, second] = args;
  if (typeof first === 'string') return first;
  const text = typeof second === 'string' ? second : '';
  const error = first instanceof Error ? first : first !== null && typeof first === 'object' && (first as { err?: unknown }).err instanceof Error ? ((first as { err: Error }).err) : undefined;
  if (error === undefined) return text;
  return text === '' ? error.message : `${text}: ${error.message}`;
}
