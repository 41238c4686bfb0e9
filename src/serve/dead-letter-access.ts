/**
 * The dead letters of a stream for `pgcdc serve`'s API and dashboard: listed newest first from the
 * store the target's spec names, and re-sent one at a time through the target's own sending path
 * (dead-letter-resend). A letter re-sent successfully stays in the store, marked with the time of
 * the re-send (dead-letter-records: the stream's file or table is never rewritten).
 */
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { Logger } from '../logging/logger.js';
import { type DeadLetterRecords, deadLetterConfigOf, deadLetterRecords, type StoredDeadLetter } from './dead-letter-records.js';
import { resendLetter } from './dead-letter-resend.js';

/** One dead letter as the API shows it. */
export interface DeadLetterView {
  /** The event's id (a Webhook letter's: `<change id>@<subscriber url>`). */
  id: string;
  error: string;
  /** Sends tried before it was set aside (0: never sent, e.g. too large). */
  attempts: number;
  /** ISO 8601. */
  failedAt: string;
  /** The event, parsed from its JSON. */
  event: unknown;
  /** When it was last re-sent successfully (ISO 8601), or null. */
  resentAt: string | null;
}

/** The stream's dead letters, newest first, `limit` at most; none for a target without dead letters. */
export async function listDeadLetters(config: StreamConfig, options: { limit: number }): Promise<DeadLetterView[]> {
  const records = recordsOf(config);
  if (records === undefined) return [];
  return (await records.list(options.limit)).map(view);
}

/**
 * Sends dead letter `id` again to the stream's target, then marks it re-sent.
 *
 * @throws PgcdcError NOT_FOUND for an unknown id; CONFIG_INVALID for a target whose letters cannot
 *   be re-sent; TARGET_FAILED or TARGET_UNREACHABLE when the target still refuses it
 */
export async function resendDeadLetter(config: StreamConfig, id: string, logger: Logger): Promise<void> {
  const records = recordsOf(config);
  const letter = await records?.find(id);
  if (records === undefined || letter === undefined) {
    throw new PgcdcError('NOT_FOUND', `stream ${config.name} has no dead letter with id ${id}`, { hint: 'list them with GET /api/streams/{name}/dead-letters and use an id from there' });
  }
  await resendLetter(config, letter, logger);
  const at = new Date();
  await records.markResent(letter, at);
  logger.info({ id, resentAt: at.toISOString() }, 'dead letter re-sent');
}

function recordsOf(config: StreamConfig): DeadLetterRecords | undefined {
  const deadLetter = deadLetterConfigOf(config);
  return deadLetter === undefined ? undefined : deadLetterRecords(deadLetter, config);
}

function view(letter: StoredDeadLetter): DeadLetterView {
  return {
    id: letter.id,
    error: letter.error,
    attempts: letter.attempts,
    failedAt: letter.failedAt.toISOString(),
    event: parseEvent(letter.event),
    resentAt: letter.resentAt?.toISOString() ?? null,
  };
}

/** The event's JSON; its text when it is not JSON (a broker message body may be anything). */
function parseEvent(event: Buffer): unknown {
  const text = event.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
