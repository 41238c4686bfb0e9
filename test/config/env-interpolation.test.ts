import { describe, expect, it } from 'vitest';
import { interpolateString } from '../../src/config/env-interpolation.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

describe('interpolateString', () => {
  const env = { USER_NAME: 'cdc', EMPTY: '', PORT: '6543' };

  it('replaces references, with defaults for unset or empty variables', () => {
    expect(interpolateString('postgres://${USER_NAME}@${HOST:-localhost}:${PORT}/db', env)).toStrictEqual({ value: 'postgres://cdc@localhost:6543/db' });
    expect(interpolateString('[${EMPTY}]', env)).toStrictEqual({ value: '[]' });
    expect(interpolateString('[${EMPTY:-fallback}]', env)).toStrictEqual({ value: '[fallback]' });
    expect(interpolateString('${UNSET:-}', env)).toStrictEqual({ value: '' });
    expect(interpolateString('${UNSET:-a:b c}', env)).toStrictEqual({ value: 'a:b c' });
  });

  it('keeps $$ { escapes and lone dollars literal', () => {
    expect(interpolateString('$${topic}_$${USER_NAME}', env)).toStrictEqual({ value: '${topic}_${USER_NAME}' });
    expect(interpolateString('price $5 and $USER_NAME', env)).toStrictEqual({ value: 'price $5 and $USER_NAME' });
    expect(interpolateString('$$', env)).toStrictEqual({ value: '$$' });
  });

  it('reports unset variables and malformed references', () => {
    expect(interpolateString('${A}${B}', {})).toStrictEqual({
      problems: [
        'uses ${A}, but the environment variable A is not set; expected it set, or a default: ${A:-value}',
        'uses ${B}, but the environment variable B is not set; expected it set, or a default: ${B:-value}',
      ],
    });
    expect(interpolateString('${source.schema}', {})).toStrictEqual({
      problems: ['has "${source.schema}", which is not a variable reference; expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)'],
    });
    expect(interpolateString('x ${OPEN', {})).toStrictEqual({
      problems: ['has "${" without a closing "}"; expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)'],
    });
  });
});

describe('interpolation in a stream document', () => {
  const doc = (postgres: string) =>
    `apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\nspec:\n  source:\n    type: Postgres\n    postgres:\n${postgres}  target:\n    type: Stdout\n`;

  it('interpolates string values; unquoted numbers and booleans take their type, quoted ones stay strings', async () => {
    const config = await parseStreamConfig(
      doc(
        '      url: postgres://${PGUSER}:${PGPASSWORD}@${PGHOST:-db}:${PGPORT}/shop\n      statusIntervalMs: ${INTERVAL}\n      slotDropOnStop: ${DROP}\n      slotName: "${SLOT}"\n      unavailableValuePlaceholder: "$${kept}"\n',
      ),
      { env: { PGUSER: 'cdc', PGPASSWORD: 'p w', PGPORT: '6543', INTERVAL: '2500', DROP: 'true', SLOT: '123' }, cwd: '/tmp' },
    );
    expect(config.source.connection).toMatchObject({ user: 'cdc', password: 'p w', host: 'db', port: 6543, database: 'shop' });
    expect(config.source.statusIntervalMs).toBe(2500);
    expect(config.source.slotDropOnStop).toBe(true);
    expect(config.source.slotName).toBe('123');
    expect(config.source.unavailableValuePlaceholder).toBe('${kept}');
  });

  it('does not interpolate keys', async () => {
    const config = await parseStreamConfig(doc('      url: postgres://db/shop\n      debeziumProperties:\n        customMetricTags:\n          ${KEY}: "1"\n'), {
      env: {},
      cwd: '/tmp',
    });
    expect(config.warnings).toStrictEqual(['spec.source.postgres.debeziumProperties.customMetricTags is accepted but not applied by pgcdc (pgcdc has no metrics endpoint yet)']);
  });

  it('reports every unset variable with the path that uses it, and no follow-on error for that path', async () => {
    const error = await parseStreamConfig(doc('      url: ${DATABASE_URL}\n      excludes: ["${SKIP}"]\n      snapshotMode: nope\n'), {
      fileName: 'orders.yaml',
      env: {},
      cwd: '/tmp',
    }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(PgcdcError);
    expect((error as PgcdcError).code).toBe('CONFIG_INVALID');
    expect((error as PgcdcError).message.split('\n')).toStrictEqual([
      'orders.yaml:9: spec.source.postgres.url uses ${DATABASE_URL}, but the environment variable DATABASE_URL is not set; expected it set, or a default: ${DATABASE_URL:-value}',
      'orders.yaml:10: spec.source.postgres.excludes[0] uses ${SKIP}, but the environment variable SKIP is not set; expected it set, or a default: ${SKIP:-value}',
      'orders.yaml:11: spec.source.postgres.snapshotMode is "nope"; expected one of: initial, initial_only, never, no_data, always, when_needed',
    ]);
    expect((error as PgcdcError).hint).toBe('export the variable, give a default with ${NAME:-value}, or write $${ for a literal ${');
  });
});
