/**
 * `pgcdc validate -c FILE`: checks the spec and the target (a file it can write, a Postgres
 * target it can reach and write, a PgLambda script that compiles, …), then the source's
 * prerequisites, printing every check with its fix. Exits non-zero when any check fails.
 */
import type { Command } from 'commander';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { checkTarget } from '../../targets/create-target.js';
import { checkSource, type CheckResult } from '../../source/source-prerequisites.js';
import { loadSpec, loggerFor, withSpecOptions, type SpecOptions } from '../cli-context.js';
import { needsSandboxRelaunch, relaunchWithoutSnapshot } from '../sandbox-relaunch.js';

const MARK: Record<CheckResult['verdict'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function validateCommand(program: Command): void {
  withSpecOptions(program.command('validate').description('check the stream spec, the target and the source prerequisites')).action(async (options: SpecOptions, command: Command) => {
    const config = await loadSpec(options);
    if (needsSandboxRelaunch(config)) {
      process.exitCode = await relaunchWithoutSnapshot();
      return;
    }
    await checkTarget(config, loggerFor(command));
    const lines = [`${MARK.ok} spec: ${config.apiVersion} stream "${config.name}" to ${config.target.type}`, `${MARK.ok} target: ready`];
    for (const warning of config.warnings) lines.push(`${MARK.warn} spec: ${warning}`);
    if (config.kafkaSource !== undefined) {
      const { ChangeTopicConsumer } = await import('../../kafka-source/change-topic-consumer.js');
      const consumer = new ChangeTopicConsumer(config.kafkaSource, loggerFor(command));
      try {
        const topics = await consumer.topicsToRead();
        lines.push(`${MARK.ok} source: Kafka at ${config.kafkaSource.bootstrapServers.join(',')}, topics ${topics.join(', ')}, group ${config.kafkaSource.groupId}`);
      } finally {
        await consumer.close();
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return;
    }
    const catalog = await CatalogConnection.open(config.source.connection);
    let failed = false;
    try {
      const { checks } = await checkSource(catalog, config);
      for (const check of checks) {
        lines.push(`${MARK[check.verdict]} ${check.name}: ${check.message}${check.hint ? `\n       fix: ${check.hint}` : ''}`);
        failed ||= check.verdict === 'fail';
      }
    } finally {
      await catalog.close();
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    if (failed) process.exitCode = 1;
  });
}
