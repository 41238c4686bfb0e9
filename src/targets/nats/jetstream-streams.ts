/**
 * The JetStream stream behind the target's subjects: created (or given the missing subjects) when
 * the settings ask, and for every subject before its first message, the stream capturing it found
 * (one clear line naming the subject and the fix when none does). Each stream's duplicate window
 * is logged once: exactly once holds within it.
 */
import type { NatsStreamConfig } from '../../config/nats-jetstream-settings.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { Logger } from '../../logging/logger.js';
import { DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { describe } from './nats-connection.js';

const SETTINGS = 'spec.target.natsJetStream';

/** Creates the configured stream when missing, adding the configured subjects to it when it lacks them. */
export async function ensureStream(manager: JetStreamManager, config: NatsStreamConfig, logger: Logger): Promise<void> {
  const name = config.name!;
  let info: StreamInfo | undefined;
  try {
    info = await manager.streams.info(name);
  } catch (error) {
    if (!/stream not found/i.test(describe(error))) throw streamError(error, name, 'read');
  }
  try {
    if (info === undefined) {
      await manager.streams.add({
        name,
        subjects: [...config.subjects],
        retention: config.retention === 'limits' ? RetentionPolicy.Limits : config.retention === 'interest' ? RetentionPolicy.Interest : RetentionPolicy.Workqueue,
        storage: config.storage === 'file' ? StorageType.File : StorageType.Memory,
        num_replicas: config.replicas,
        duplicate_window: nanos(config.duplicateWindowMs),
        max_bytes: config.maxBytes,
        max_age: nanos(config.maxAgeMs),
        discard: DiscardPolicy.Old,
      });
      logger.info({ stream: name, subjects: config.subjects, duplicateWindowMs: config.duplicateWindowMs }, 'created JetStream stream');
      return;
    }
    const missing = config.subjects.filter((subject) => !info!.config.subjects?.includes(subject));
    if (missing.length > 0) {
      await manager.streams.update(name, { subjects: [...(info.config.subjects ?? []), ...missing] });
      logger.info({ stream: name, subjects: missing }, 'added subjects to JetStream stream');
    }
  } catch (error) {
    throw streamError(error, name, info === undefined ? 'create' : 'update');
  }
}

function streamError(error: unknown, name: string, action: string): PgcdcError {
  const text = describe(error);
  if (/subjects overlap/i.test(text)) {
    return new PgcdcError('TARGET_FAILED', `cannot ${action} JetStream stream "${name}": its subjects overlap another stream's (${text})`, {
      hint: `give ${SETTINGS}.stream.subjects that no other stream captures, or set stream.create: false to use the existing stream`,
    });
  }
  if (/timeout|TIMEOUT|closed|disconnect/i.test(text)) return new PgcdcError('TARGET_UNREACHABLE', `cannot ${action} JetStream stream "${name}" (${text})`, { hint: 'check the NATS server is up' });
  return new PgcdcError('TARGET_FAILED', `cannot ${action} JetStream stream "${name}" (${text})`, { hint: `fix ${SETTINGS}.stream, or create the stream yourself (nats stream add) and set stream.create: false` });
}

/** The subjects already matched to their stream, and the streams whose window was logged. */
export class SubjectStreams {
  readonly #known = new Set<string>();
  readonly #logged = new Set<string>();
  readonly #expected: string | undefined;
  readonly #logger: Logger;

  constructor(expectedStream: string | undefined, logger: Logger) {
    this.#expected = expectedStream;
    this.#logger = logger;
  }

  /**
   * Checks each new subject is captured by a stream (the configured one when named).
   *
   * @throws PgcdcError TARGET_FAILED naming the subject when no stream (or another one) captures it
   */
  async check(manager: JetStreamManager, subjects: Iterable<string>): Promise<void> {
    for (const subject of subjects) {
      if (this.#known.has(subject)) continue;
      let stream: string;
      try {
        stream = await manager.streams.find(subject);
      } catch (error) {
        const text = describe(error);
        if (/no stream matches/i.test(text)) {
          throw new PgcdcError('TARGET_FAILED', `no JetStream stream captures subject "${subject}"`, {
            hint: `add "${subject}" (or a wildcard matching it) to a stream's subjects, e.g. nats stream add --subjects "${subject.split('.')[0]}.>", or set ${SETTINGS}.stream.create: true`,
          });
        }
        throw new PgcdcError('TARGET_UNREACHABLE', `cannot look up the JetStream stream of subject "${subject}" (${text})`, { hint: 'check the NATS server is up' });
      }
      if (this.#expected !== undefined && stream !== this.#expected) {
        throw new PgcdcError('TARGET_FAILED', `subject "${subject}" is captured by JetStream stream "${stream}", not by "${this.#expected}"`, {
          hint: `set ${SETTINGS}.stream.name: ${stream}, or change the subject template so the configured stream captures it`,
        });
      }
      if (!this.#logged.has(stream)) {
        this.#logged.add(stream);
        const info = await manager.streams.info(stream).catch(() => undefined);
        const windowMs = info ? Math.round(info.config.duplicate_window / 1e6) : undefined;
        this.#logger.info({ stream, subject, duplicateWindowMs: windowMs }, 'publishing to JetStream stream: a message published again within its duplicate window is dropped');
      }
      this.#known.add(subject);
    }
  }

  /** Forgets what was checked (after a reconnect the streams may have changed). */
  reset(): void {
    this.#known.clear();
  }
}
