import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GENERATED_BEGIN, GENERATED_END, renderConfigReference, withCurrentReference } from '../../src/config/render-config-docs.js';

const DOCS = new URL('../../docs/configuration.md', import.meta.url);

describe('configuration docs', () => {
  it('docs/configuration.md holds the reference rendered from the current schema', async () => {
    const current = await readFile(DOCS, 'utf8');
    const expected = withCurrentReference(current);
    if (process.env.PGCDC_UPDATE_DOCS === '1') {
      await writeFile(DOCS, expected);
      return;
    }
    expect(current, 'docs/configuration.md is out of date: run PGCDC_UPDATE_DOCS=1 npx vitest run test/config/config-docs.test.ts').toBe(expected);
  });

  it('notices a stale reference', () => {
    const stale = `# Title\n\n${GENERATED_BEGIN}\n\n| \`spec.oldKey\` | string | optional | gone |\n\n${GENERATED_END}\n\nafter\n`;
    const updated = withCurrentReference(stale);
    expect(updated).not.toBe(stale);
    expect(updated).not.toContain('spec.oldKey');
    expect(updated.startsWith(`# Title\n\n${GENERATED_BEGIN}\n\n### \`pgcdc/v1\` \`Stream\` keys`)).toBe(true);
    expect(updated.endsWith(`${GENERATED_END}\n\nafter\n`)).toBe(true);
  });

  it('renders each key with its type, default and description from the schema', () => {
    const reference = renderConfigReference();
    const lines = reference.split('\n');
    expect(lines).toContain(
      '| `spec.source.postgres.snapshotMode` | `initial` \\| `initial_only` \\| `never` \\| `no_data` \\| `always` \\| `when_needed` | `initial` | When to copy existing rows before streaming (Debezium snapshot modes; `never` and `no_data` skip the copy, `initial_only` stops after it). |',
    );
    expect(lines).toContain('| `spec.maxRetries` | integer ≥ -1 | `-1` | Retries after a failure before pgcdc gives up: -1 retries forever, 0 never retries. |');
    expect(lines).toContain('| `spec.target.type` | `Stdout` \\| `File` \\| `Postgres` \\| `CloudEvent` \\| `PgLambda` \\| `Webhook` \\| `Kafka` \\| `NatsJetStream` \\| `RedisStreams` \\| `RabbitMQ` | required | Where change events go. |');
    expect(lines).toContain('| `spec.target.postgres.conflictPolicy` | `update` \\| `skip` \\| `fail` | `update` | An inserted row whose key already exists on the target: overwrite it (`update`), keep the existing row (`skip`) or stop the stream (`fail`). |');
    expect(lines).toContain(
      '| `spec.target.postgres.url` | postgres:// or postgresql:// URL | required | Where to write: `postgres://user:password@host:port/database?sslmode=…`, with the same query parameters and defaults as `spec.source.postgres.url`, except that `application_name` defaults to `pgcdc-<metadata.name>-target`. |',
    );
    expect(lines).toContain('| `spec.source.postgres.publicationAutocreateMode` | `all_tables` \\| `filtered` \\| `disabled` | `filtered` | Whether pgcdc creates the publication when missing: for all tables, for the tables the filters select, or not at all. |');
    expect(lines).toContain('| `statusUpdateIntervalMs` | integer 100 to 2147483647 | applied as `statusIntervalMs` | Milliseconds between standby status updates. |');
    expect(lines).toContain('| `heartbeatIntervalMs` | integer 0 to 2147483647 | applied as `heartbeatInterval` | Milliseconds between heartbeats (0: none). |');
    expect(lines).toContain('| `pluginName` | `pgoutput` \\| `decoderbufs` | checked: `pgoutput` only | Logical decoding plugin; only `pgoutput` is supported. |');
  });
});
