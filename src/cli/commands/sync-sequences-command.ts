/**
 * `pgcdc sync-sequences -c FILE`: sets the sequences of the tables a Postgres target holds (serial
 * and identity columns) to the source's current values: the last step before moving writes to the
 * target. `run --stop-at` and the tombstone signal do the same when the stream ends.
 */
import type { Command } from 'commander';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { createTarget } from '../../targets/create-target.js';
import { loadDatabaseSourcedSpec, loggerFor, withSpecOptions, type SpecOptions } from '../cli-context.js';

export function syncSequencesCommand(program: Command): void {
  withSpecOptions(program.command('sync-sequences').description("set the Postgres target's sequences to the source's values (cut-over)")).action(
    async (options: SpecOptions, command: Command) => {
      const logger = loggerFor(command);
      const config = await loadDatabaseSourcedSpec(options, 'sync-sequences');
      const target = await createTarget(config, logger);
      if (!target.syncSequences) {
        throw new PgcdcError('CONFIG_INVALID', `sync-sequences needs a Postgres target; this stream's target is ${config.target.type}`, {
          hint: 'run it for streams whose spec.target.type is Postgres (or SGCluster)',
        });
      }
      const catalog = await CatalogConnection.open(config.source.connection);
      try {
        await target.open();
        const synced = await target.syncSequences((text, params) => catalog.query(text, params));
        process.stdout.write(`sequences synchronised: ${synced}\n`);
      } finally {
        await target.close();
        await catalog.close();
      }
    },
  );
}
