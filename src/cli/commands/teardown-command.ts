/**
 * `pgcdc teardown -c FILE`: drops the replication slot and the publication (unless the publication
 * is user-managed, `publicationAutocreateMode: disabled`), forgets the stream's state, removes DDL
 * capture when no other stream of the database remains, and drops
 * the `pgcdc` schema when no other stream uses it and it holds nothing else.
 */
import type { Command } from 'commander';
import { dropUnusedPgcdcSchema, tearDownStream } from '../../pipeline/stream-teardown.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { loadDatabaseSourcedSpec, withSpecOptions, type SpecOptions } from '../cli-context.js';

export function teardownCommand(program: Command): void {
  withSpecOptions(program.command('teardown').description('drop the replication slot and publication')).action(async (options: SpecOptions) => {
    const config = await loadDatabaseSourcedSpec(options, 'teardown');
    const catalog = await CatalogConnection.open(config.source.connection);
    try {
      const { slotDropped, publicationDropped, ddlCapture } = await tearDownStream(catalog, config);
      const schema = await dropUnusedPgcdcSchema(catalog);
      // A capture the role could not drop goes with the schema (its triggers depend on its functions).
      const capture = ddlCapture.startsWith('kept: ') && schema.startsWith('dropped') ? 'removed (with the pgcdc schema)' : ddlCapture;
      process.stdout.write(
        `slot ${config.source.slotName}: ${slotDropped ? 'dropped' : 'not present'}\n` +
          `publication ${config.source.publicationName}: ${publicationDropped ? 'dropped' : config.source.publicationAutocreateMode === 'disabled' ? 'kept (user-managed)' : 'not present'}\n` +
          `DDL capture: ${capture}\n` +
          `schema pgcdc: ${schema}\n`,
      );
    } finally {
      await catalog.close();
    }
  });
}
