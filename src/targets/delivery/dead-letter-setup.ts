/**
 * Turns a target's `deadLetter` settings into what ReliableDelivery needs: the store (a file, by
 * default in the state directory, or a table in a database other than the source) and the policy.
 */
import path from 'node:path';
import type { DeadLetterConfig, StreamConfig } from '../../config/stream-config.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { DeadLetterFile } from './dead-letter-file.js';
import type { DeadLetterStore } from './dead-letter-store.js';
import { DeadLetterTable } from './dead-letter-table.js';
import type { DeadLetterHandling } from './reliable-delivery.js';

/** The store (undefined with the stop policy: nothing is set aside) and the handling for ReliableDelivery. */
export interface DeadLetterSetup {
  readonly store: DeadLetterStore | undefined;
  readonly handling: DeadLetterHandling;
}

/**
 * The dead-letter store and policy of `config`; `settings` is the target's section, for messages
 * (`spec.target.cloudEvent`).
 *
 * @throws PgcdcError CONFIG_INVALID when the table is in the source database (its rows would be captured)
 */
export function deadLetterSetup(config: DeadLetterConfig, stream: StreamConfig, settings: string): DeadLetterSetup {
  if (config.policy === 'stop') return { store: undefined, handling: { policy: 'stop' } };
  const store = deadLetterStore(config, stream, settings);
  return { store, handling: { policy: 'dead-letter', store } };
}

function deadLetterStore(config: DeadLetterConfig, stream: StreamConfig, settings: string): DeadLetterStore {
  const store = config.store;
  if (store.kind === 'file') return new DeadLetterFile(store.path ?? path.join(stream.stateDir, 'dead-letters.ndjson'));
  const source = stream.source.connection;
  if (store.connection.host === source.host && store.connection.port === source.port && store.connection.database === source.database) {
    throw new PgcdcError('CONFIG_INVALID', `${settings}.deadLetter.table.url is the source database ${source.database}: dead letters written there would be captured and sent again`, {
      hint: 'put the dead-letter table in another database, or use deadLetter.file',
    });
  }
  return new DeadLetterTable({ connection: store.connection, table: store.table, stream: stream.name });
}
