/**
 * `pgcdc signal -c FILE <type> [json]`: sends a Debezium-style signal by inserting it into the
 * signal table, so that it reaches the running stream in order with the data (execute-snapshot,
 * stop-snapshot, pause-snapshot, resume-snapshot, log, tombstone, command).
 */
import type { Command } from 'commander';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { SIGNAL_TYPES, sendSignal } from '../../snapshot/signals.js';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { loadDatabaseSourcedSpec, withSpecOptions, type SpecOptions } from '../cli-context.js';

export function signalCommand(program: Command): void {
  withSpecOptions(
    program
      .command('signal')
      .description(`send a signal to the stream through its signal table (${SIGNAL_TYPES.join(', ')})`)
      .argument('<type>', 'signal type')
      .argument('[data]', 'signal data as JSON, e.g. {"data-collections": ["public.orders"]}; for command, the SQL to run on the target'),
  ).action(async (type: string, data: string | undefined, options: SpecOptions) => {
    const config = await loadDatabaseSourcedSpec(options, 'signal');
    if (type === 'command' && config.target.type !== 'Postgres') {
      throw new PgcdcError('CONFIG_INVALID', `command signals run SQL on a Postgres target; this stream's target is ${config.target.type}`, {
        hint: 'send SQL for the target only to streams whose spec.target.type is Postgres (or SGCluster)',
      });
    }
    const catalog = await CatalogConnection.open(config.source.connection);
    try {
      const id = await sendSignal(catalog, config.source, type, data);
      process.stdout.write(`signal ${type} sent (id ${id}) through ${config.source.signalTable}\n`);
    } finally {
      await catalog.close();
    }
  });
}
