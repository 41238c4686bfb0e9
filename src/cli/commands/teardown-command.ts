/**
 * `pgcdc teardown -c FILE`: drops the replication slot and the publication (unless the publication
 * is user-managed, `publicationAutocreateMode: disabled`) and forgets the local state.
 */
import type { Command } from 'commander';
import { tearDownStream } from '../../pipeline/stream-teardown.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { loadSpec, withSpecOptions, type SpecOptions } from '../cli-context.js';

export function teardownCommand(program: Command): void {
  withSpecOptions(program.command('teardown').description('drop the replication slot and publication')).action(async (options: SpecOptions) => {
    const config = await loadSpec(options);
    const catalog = await CatalogConnection.open(config.source.connection);
    try {
      const { slotDropped, publicationDropped } = await tearDownStream(catalog, config);
      process.stdout.write(
        `slot ${config.source.slotName}: ${slotDropped ? 'dropped' : 'not present'}\n` +
          `publication ${config.source.publicationName}: ${publicationDropped ? 'dropped' : config.source.publicationAutocreateMode === 'disabled' ? 'kept (user-managed)' : 'not present'}\n`,
      );
    } finally {
      await catalog.close();
    }
  });
}
