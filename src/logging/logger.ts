/**
 * pgcdc's logger: human-readable lines on a terminal, JSON lines otherwise, always on standard
 * error (standard output belongs to the Stdout target). Password fields are redacted.
 */
import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

// pino-pretty is loaded only for terminals: it is the heaviest part of start-up otherwise.
const require = createRequire(import.meta.url);

export type Logger = PinoLogger;
export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Destination file descriptor; standard error by default. */
  readonly fd?: number;
}

const REDACTED_PATHS = ['password', '*.password', '*.*.password', 'connection.password', 'url', '*.url'];

/** Creates the process logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 2;
  const format = options.format ?? 'auto';
  const usePretty = format === 'pretty' || (format === 'auto' && fd === 2 && process.stderr.isTTY === true);
  const base = {
    level: options.level ?? 'info',
    base: { name: 'pgcdc' },
    redact: { paths: REDACTED_PATHS, censor: '***' },
  };
  if (usePretty) {
    const pretty = require('pino-pretty') as (options: PrettyOptions) => NodeJS.WritableStream;
    return pino(base, pretty({ destination: fd, sync: true, colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' }));
  }
  return pino({ ...base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: true }));
}

/** A logger that drops everything (library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
