/**
 * Walks every Debezium property of the SGStream CRD: each applied one changes the loaded source
 * settings, each refused one is an error naming it (its allowed values pass silently), each
 * rendering one is ignored by a Postgres target, each ignored one warns with its reason.
 */
import { describe, expect, it } from 'vitest';
import {
  APPLIED_DEBEZIUM_PROPERTIES,
  type PropertyDisposition,
  UNAPPLIED_DEBEZIUM_PROPERTIES,
  debeziumPropertiesShape,
} from '../../src/config/debezium-properties.js';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const PATH = 'spec.source.postgres.debeziumProperties';

function document(properties: Record<string, unknown>, target: object = { type: 'Stdout' }): string {
  return JSON.stringify({
    apiVersion: 'pgcdc/v1',
    kind: 'Stream',
    metadata: { name: 'walk' },
    spec: { source: { type: 'Postgres', postgres: { url: 'postgres://db/shop', debeziumProperties: properties } }, target },
  });
}

const POSTGRES_TARGET = { type: 'Postgres', postgres: { url: 'postgres://target/shop' } };

/** A value of each applied property other than its default, and the source setting it gives. */
const APPLIED_SAMPLES: Record<keyof typeof APPLIED_DEBEZIUM_PROPERTIES, { value: unknown; expected: unknown; with?: Record<string, unknown> }> = {
  heartbeatIntervalMs: { value: 1500, expected: 1500 },
  // An action query needs heartbeats to run it.
  heartbeatActionQuery: { value: 'select 1', expected: 'select 1', with: { heartbeatIntervalMs: 1000 } },
  slotName: { value: 'dbz', expected: 'dbz' },
  publicationName: { value: 'dbz_pub', expected: 'dbz_pub' },
  publicationAutocreateMode: { value: 'all_tables', expected: 'all_tables' },
  snapshotMode: { value: 'never', expected: 'never' },
  tombstonesOnDelete: { value: false, expected: false },
  unavailableValuePlaceholder: { value: '?', expected: '?' },
  provideTransactionMetadata: { value: true, expected: true },
  skippedOperations: { value: ['t'], expected: ['t'] },
  messagePrefixIncludeList: { value: ['a.*'], expected: ['a.*'] },
  messagePrefixExcludeList: { value: ['b'], expected: ['b'] },
  publishViaPartitionRoot: { value: true, expected: true },
  slotDropOnStop: { value: true, expected: true },
  statusUpdateIntervalMs: { value: 1234, expected: 1234 },
  slotMaxRetries: { value: 1, expected: 1 },
  slotRetryDelayMs: { value: 5, expected: 5 },
  snapshotMaxThreads: { value: 2, expected: 2 },
  incrementalSnapshotChunkSize: { value: 77, expected: 77 },
  snapshotIncludeCollectionList: { value: ['public\\.a'], expected: ['public\\.a'] },
  signalDataCollection: { value: 'ops.signals', expected: 'ops.signals' },
  columnMaskWithLengthChars: { value: ['3:public\\.t\\.c'], expected: undefined },
  columnMaskHash: { value: { 'SHA-256': { s: ['public\\.t\\.c'] } }, expected: undefined },
  columnMaskHashV2: { value: { 'SHA-256': { s: ['public\\.t\\.c'] } }, expected: undefined },
  columnTruncateToLengthChars: { value: ['3:public\\.t\\.c'], expected: undefined },
  messageKeyColumns: { value: ['public\\.t:a,b'], expected: [{ table: 'public\\.t', columns: ['a', 'b'] }] },
  // pgcdc's extension, not a key of the CRD.
  captureDdl: { value: true, expected: true },
};

/** Where the source configuration keeps a setting whose spec name differs (a duration text becomes milliseconds). */
const CONFIG_KEYS: Partial<Record<string, string>> = { heartbeatIntervalMs: 'heartbeatIntervalMs' };

/** The source setting a sample is checked against (masks are compiled into columnMasks). */
const MASK_RULES: Partial<Record<string, unknown>> = {
  columnMaskWithLengthChars: { maskWithChars: [{ length: 3, columns: ['public\\.t\\.c'] }], hash: [], truncateToChars: [] },
  columnMaskHash: { maskWithChars: [], hash: [{ algorithm: 'SHA-256', salt: 's', version: 1, columns: ['public\\.t\\.c'] }], truncateToChars: [] },
  columnMaskHashV2: { maskWithChars: [], hash: [{ algorithm: 'SHA-256', salt: 's', version: 2, columns: ['public\\.t\\.c'] }], truncateToChars: [] },
  columnTruncateToLengthChars: { maskWithChars: [], hash: [], truncateToChars: [{ length: 3, columns: ['public\\.t\\.c'] }] },
};

/** A value the property's schema accepts that is not one of `allowed`. */
function sampleValue(property: string, allowed: readonly unknown[] = []): unknown {
  const schema = (debeziumPropertiesShape as Record<string, { safeParse(value: unknown): { success: boolean } }>)[property]!;
  const candidates = [true, false, 5, 'custom', ['custom'], { a: 'b' }, { a: { b: 'c' } }];
  const value = candidates.find((candidate) => candidate !== undefined && schema.safeParse(candidate).success && !allowed.includes(candidate));
  if (value === undefined) throw new Error(`no sample value for ${property}`);
  return value;
}

async function failure(text: string): Promise<PgcdcError> {
  try {
    await parseStreamConfig(text);
  } catch (error) {
    return error as PgcdcError;
  }
  throw new Error('expected the document to be refused');
}

describe('every debeziumProperties key', () => {
  it('is applied, checked, refused or ignored, and nothing else', () => {
    const known = new Set([...Object.keys(APPLIED_DEBEZIUM_PROPERTIES), ...Object.keys(UNAPPLIED_DEBEZIUM_PROPERTIES), 'pluginName']);
    expect([...Object.keys(debeziumPropertiesShape)].filter((key) => !known.has(key))).toStrictEqual([]);
    // The CRD's 84 keys, and pgcdc's extension captureDdl.
    expect(Object.keys(debeziumPropertiesShape)).toHaveLength(85);
  });

  it.each(Object.entries(APPLIED_SAMPLES))('applied: %s changes the source settings', async (property, { value, expected, with: others = {} }) => {
    const setting = CONFIG_KEYS[property] ?? APPLIED_DEBEZIUM_PROPERTIES[property as keyof typeof APPLIED_DEBEZIUM_PROPERTIES];
    const plain = await parseStreamConfig(document(others));
    const config = await parseStreamConfig(document({ ...others, [property]: value }));
    expect(config.warnings).toStrictEqual([]);
    const key = MASK_RULES[property] !== undefined ? 'columnMasks' : setting;
    const loaded = (config.source as unknown as Record<string, unknown>)[key];
    expect(loaded).toStrictEqual(MASK_RULES[property] ?? expected);
    expect(loaded).not.toStrictEqual((plain.source as unknown as Record<string, unknown>)[key]);
  });

  const unapplied = Object.entries(UNAPPLIED_DEBEZIUM_PROPERTIES as Record<string, PropertyDisposition>);

  it.each(unapplied.filter(([, d]) => d.status === 'refused'))('refused: %s is an error naming it, its allowed values pass', async (property, disposition) => {
    const refused = disposition as Extract<PropertyDisposition, { status: 'refused' }>;
    const error = await failure(document({ [property]: sampleValue(property, refused.allowed) }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`${PATH}.${property} is `);
    expect(error.message).toContain(refused.reason);
    for (const allowed of refused.allowed ?? []) expect((await parseStreamConfig(document({ [property]: allowed }))).warnings).toStrictEqual([]);
    if (refused.renders) {
      const config = await parseStreamConfig(document({ [property]: sampleValue(property, refused.allowed) }, POSTGRES_TARGET));
      expect(config.warnings).toContain(`${PATH}.${property} is accepted but not applied by pgcdc (a Postgres target writes values in their own column types)`);
    } else {
      await expect(parseStreamConfig(document({ [property]: sampleValue(property, refused.allowed) }, POSTGRES_TARGET))).rejects.toThrow(`${PATH}.${property} is `);
    }
  });

  it.each(unapplied.filter(([, d]) => d.status === 'ignored'))('ignored: %s warns with its reason', async (property, disposition) => {
    const config = await parseStreamConfig(document({ [property]: sampleValue(property) }));
    expect(config.warnings).toStrictEqual([`${PATH}.${property} is accepted but not applied by pgcdc (${disposition.reason})`]);
  });

  it.each(['columnMaskWithLengthChars', 'columnMaskHash', 'columnMaskHashV2', 'columnTruncateToLengthChars', 'messageKeyColumns'] as const)(
    'event-only: %s is refused with a Postgres target',
    async (property) => {
      const error = await failure(document({ [property]: APPLIED_SAMPLES[property].value }, POSTGRES_TARGET));
      expect(error.message).toContain(`${PATH}.${property} is not applied by a Postgres target`);
    },
  );
});
