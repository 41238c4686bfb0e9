/**
 * `pgcdc init -c FILE`: creates the signal table, the publication, DDL capture (event triggers
 * putting each schema change into the WAL, as `pgcdc.ddl` messages) and the replication slot ahead
 * of time (run does it too when they are missing; DDL capture only for targets that replay DDL).
 * The slot starts retaining WAL from now on; a snapshot taken later by run is then read between
 * watermarks. DDL capture that cannot be installed is warned about only for a target that replays
 * DDL (Postgres): the others lose nothing but the `pgcdc.ddl` messages.
 */
import type { Command } from 'commander';
import { installDdlCapture, targetReplaysDdl } from '../../ddl/ddl-capture.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { formatLsn } from '../../source/lsn.js';
import { ensurePublication } from '../../source/publication-manager.js';
import { ensureSlot } from '../../source/slot-manager.js';
import { assertChecksPass, checkSource } from '../../source/source-prerequisites.js';
import { ensureSignalTable, signalTableName } from '../../snapshot/signals.js';
import { streamStateStore } from '../../state/state-store.js';
import { loadDatabaseSourcedSpec, loggerFor, withSpecOptions, type SpecOptions } from '../cli-context.js';

export function initCommand(program: Command): void {
  withSpecOptions(program.command('init').description('create the publication and replication slot')).action(async (options: SpecOptions, command: Command) => {
    const logger = loggerFor(command);
    const config = await loadDatabaseSourcedSpec(options, 'init');
    const catalog = await CatalogConnection.open(config.source.connection);
    try {
      const facts = await checkSource(catalog, config);
      assertChecksPass(facts.checks);
      const signals = await ensureSignalTable(catalog, config.source, logger);
      await ensurePublication(catalog, config.source, facts.capturedTables, logger, signals ? signalTableName(config.source) : undefined);
      const ddl = await installDdlCapture((text, params) => catalog.query(text, params));
      if (!ddl.installed && targetReplaysDdl(config.target)) logger.warn(ddl.warning);
      const slot = await ensureSlot(catalog, config.source.connection, config.source, streamStateStore(catalog, config), logger);
      process.stdout.write(
        `publication ${config.source.publicationName}: ready\nslot ${config.source.slotName}: ${slot.created ? 'created' : 'already present'} at ${formatLsn(slot.confirmedFlush)}\n` +
          `DDL capture: ${ddl.installed ? 'installed' : 'not installed (needs a superuser)'}\n`,
      );
    } finally {
      await catalog.close();
    }
  });
}
