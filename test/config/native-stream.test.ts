import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStreamConfig, parseStreamConfig } from '../../src/config/load-stream-config.js';
import { defaultObjectName } from '../../src/config/source-options-schema.js';
import type { SourceConfig } from '../../src/config/stream-config.js';

const CWD = '/srv/pgcdc';

const MINIMAL = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: orders
spec:
  source:
    type: Postgres
    postgres:
      url: postgres://app:s3cret@db.example.com:5433/shop
  target:
    type: Stdout
`;

/** SourceConfig fields at their defaults for a stream named `orders`. */
const DEFAULT_SOURCE_OPTIONS: Omit<SourceConfig, 'connection'> = {
  includes: [],
  excludes: [],
  snapshotMode: 'initial',
  slotName: 'pgcdc_orders',
  publicationName: 'pgcdc_orders',
  publicationAutocreateMode: 'filtered',
  publishViaPartitionRoot: false,
  slotDropOnStop: false,
  tombstonesOnDelete: true,
  unavailableValuePlaceholder: '__debezium_unavailable_value',
  provideTransactionMetadata: false,
  skippedOperations: [],
  messagePrefixIncludeList: [],
  messagePrefixExcludeList: [],
  streamInProgressTransactions: true,
  statusIntervalMs: 10_000,
  heartbeatIntervalMs: 0,
  slotMaxRetries: 6,
  slotRetryDelayMs: 10_000,
  snapshotParallelism: 4,
  snapshotChunkRows: 100_000,
  incrementalSnapshotChunkRows: 10_000,
  snapshotIncludes: [],
  signalTable: 'pgcdc.signals',
  tableDiscoveryIntervalMs: 10_000,
  skipDropReplicationSlotAndPublicationOnTombstone: false,
  columnMasks: { maskWithChars: [], hash: [], truncateToChars: [] },
  messageKeyColumns: [],
  rowFilters: {},
  captureDdl: false,
};

describe('native pgcdc/v1 Stream documents', () => {
  it('fills every default of a minimal document', async () => {
    const config = await parseStreamConfig(MINIMAL, { cwd: CWD, env: {} });
    expect(config).toStrictEqual({
      name: 'orders',
      source: {
        connection: {
          host: 'db.example.com',
          port: 5433,
          database: 'shop',
          user: 'app',
          password: 's3cret',
          sslMode: 'prefer',
          sslRootCert: undefined,
          sslCert: undefined,
          sslKey: undefined,
          applicationName: 'pgcdc-orders',
          connectTimeoutMs: 10_000,
        },
        ...DEFAULT_SOURCE_OPTIONS,
      },
      target: { type: 'Stdout', format: 'value' },
      maxRetries: -1,
      stateDir: '/srv/pgcdc/.pgcdc/orders',
      apiVersion: 'pgcdc/v1',
      warnings: [],
    });
  });

  describe('with every key set', () => {
    let dir: string;
    const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
    const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
    const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'pgcdc-native-'));
      await writeFile(path.join(dir, 'ca.pem'), CA);
      await writeFile(path.join(dir, 'client.pem'), CERT);
      await writeFile(path.join(dir, 'client.key'), KEY);
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('reads them all, certificates included', async () => {
      const yaml = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: orders-full
spec:
  source:
    type: Postgres
    postgres:
      url: postgresql://cdc%40corp:p%40ss%2Fw0rd@[::1]:6432/shop%20db?sslmode=verify-full&sslrootcert=ca.pem&sslcert=client.pem&sslkey=client.key&application_name=orders-app&connect_timeout=7
      includes: ["public\\\\.orders", "public\\\\.order_items"]
      excludes: ["public\\\\.orders\\\\.secret"]
      snapshotMode: no_data
      slotName: orders_slot
      publicationName: orders_pub
      publicationAutocreateMode: disabled
      publishViaPartitionRoot: true
      slotDropOnStop: true
      tombstonesOnDelete: false
      unavailableValuePlaceholder: __unavailable
      provideTransactionMetadata: true
      skippedOperations: [t, d]
      messagePrefixIncludeList: ["audit.*"]
      messagePrefixExcludeList: ["noise"]
      streamInProgressTransactions: false
      statusIntervalMs: 2500
      slotMaxRetries: 2
      slotRetryDelayMs: 500
      snapshotParallelism: 8
      snapshotChunkRows: 50000
      incrementalSnapshotChunkRows: 2048
      snapshotIncludes: ["public\\\\.orders"]
      signalTable: ops.cdc_signals
      tableDiscoveryIntervalMs: 0
      skipDropReplicationSlotAndPublicationOnTombstone: true
  target:
    type: File
    file:
      path: out/orders.jsonl
      format: record
  maxRetries: 5
  stateDir: state/orders
`;
      const config = await parseStreamConfig(yaml, { cwd: dir, env: {} });
      expect(config).toStrictEqual({
        name: 'orders-full',
        source: {
          connection: {
            host: '::1',
            port: 6432,
            database: 'shop db',
            user: 'cdc@corp',
            password: 'p@ss/w0rd',
            sslMode: 'verify-full',
            sslRootCert: CA,
            sslCert: CERT,
            sslKey: KEY,
            applicationName: 'orders-app',
            connectTimeoutMs: 7000,
          },
          includes: ['public\\.orders', 'public\\.order_items'],
          excludes: ['public\\.orders\\.secret'],
          snapshotMode: 'no_data',
          slotName: 'orders_slot',
          publicationName: 'orders_pub',
          publicationAutocreateMode: 'disabled',
          publishViaPartitionRoot: true,
          slotDropOnStop: true,
          tombstonesOnDelete: false,
          unavailableValuePlaceholder: '__unavailable',
          provideTransactionMetadata: true,
          skippedOperations: ['t', 'd'],
          messagePrefixIncludeList: ['audit.*'],
          messagePrefixExcludeList: ['noise'],
          streamInProgressTransactions: false,
          statusIntervalMs: 2500,
          heartbeatIntervalMs: 0,
          slotMaxRetries: 2,
          slotRetryDelayMs: 500,
          snapshotParallelism: 8,
          snapshotChunkRows: 50_000,
          incrementalSnapshotChunkRows: 2048,
          snapshotIncludes: ['public\\.orders'],
          signalTable: 'ops.cdc_signals',
          tableDiscoveryIntervalMs: 0,
          skipDropReplicationSlotAndPublicationOnTombstone: true,
          columnMasks: { maskWithChars: [], hash: [], truncateToChars: [] },
          messageKeyColumns: [],
          rowFilters: {},
          captureDdl: false,
        },
        target: { type: 'File', path: path.join(dir, 'out/orders.jsonl'), format: 'record' },
        maxRetries: 5,
        stateDir: path.join(dir, 'state/orders'),
        apiVersion: 'pgcdc/v1',
        warnings: [],
      });
    });

    it('loads a file relative to cwd', async () => {
      await writeFile(path.join(dir, 'stream.yaml'), MINIMAL);
      const config = await loadStreamConfig('stream.yaml', { cwd: dir, env: {} });
      expect(config.name).toBe('orders');
      expect(config.stateDir).toBe(path.join(dir, '.pgcdc/orders'));
    });
  });

  it('defaults user to postgres, database to the user, host to localhost', async () => {
    const withUrl = (url: string) => parseStreamConfig(MINIMAL.replace('postgres://app:s3cret@db.example.com:5433/shop', url), { cwd: CWD, env: {} });
    const bare = (await withUrl('postgres://db.example.com')).source.connection;
    expect([bare.host, bare.port, bare.user, bare.database, bare.password]).toStrictEqual(['db.example.com', 5432, 'postgres', 'postgres', undefined]);
    const userOnly = (await withUrl('postgresql://alice@db.example.com')).source.connection;
    expect([userOnly.user, userOnly.database]).toStrictEqual(['alice', 'alice']);
    const socket = (await withUrl('postgres:///shop?host=/var/run/postgresql&port=5433')).source.connection;
    expect([socket.host, socket.port, socket.database]).toStrictEqual(['/var/run/postgresql', 5433, 'shop']);
    const hostless = (await withUrl('postgres://bob:pw@/shop')).source.connection;
    expect([hostless.host, hostless.user, hostless.password, hostless.database]).toStrictEqual(['localhost', 'bob', 'pw', 'shop']);
  });

  it('derives slot and publication names from metadata.name', async () => {
    expect(defaultObjectName('orders-to-file')).toBe('pgcdc_orders_to_file');
    expect(defaultObjectName('Weird.Name-1')).toBe('pgcdc_weird_name_1');
    expect(defaultObjectName('a'.repeat(80))).toBe(`pgcdc_${'a'.repeat(57)}`);
    const long = `s${'-x'.repeat(27)}1`;
    const config = await parseStreamConfig(MINIMAL.replace('name: orders', `name: ${long}`), { cwd: CWD, env: {} });
    expect(long).toHaveLength(56);
    expect(config.source.slotName).toBe(`pgcdc_s${'_x'.repeat(27)}1`);
    expect(config.source.slotName).toHaveLength(62);
    expect(config.source.publicationName).toBe(config.source.slotName);
  });

  it('applies debeziumProperties, lets direct settings win, and warns about the ignored ones', async () => {
    const yaml = MINIMAL.replace(
      '      url: postgres://app:s3cret@db.example.com:5433/shop\n',
      `      url: postgres://app:s3cret@db.example.com:5433/shop
      snapshotMode: never
      tombstonesOnDelete: true
      debeziumProperties:
        pluginName: pgoutput
        snapshotMode: always
        tombstonesOnDelete: true
        slotName: dbz_slot
        statusUpdateIntervalMs: 1000
        skippedOperations: [none]
        slotDropOnStop: true
        heartbeatIntervalMs: 5000
        snapshotDelayMs: 1000
`,
    );
    const config = await parseStreamConfig(yaml, { cwd: CWD, env: {} });
    expect(config.source).toStrictEqual({
      ...DEFAULT_SOURCE_OPTIONS,
      connection: config.source.connection,
      snapshotMode: 'never',
      tombstonesOnDelete: true,
      slotName: 'dbz_slot',
      statusIntervalMs: 1000,
      skippedOperations: [],
      slotDropOnStop: true,
      heartbeatIntervalMs: 5000,
    });
    expect(config.warnings).toStrictEqual([
      'spec.source.postgres.debeziumProperties.snapshotMode is overridden by spec.source.postgres.snapshotMode',
      'spec.source.postgres.debeziumProperties.snapshotDelayMs is accepted but not applied by pgcdc (pgcdc starts snapshots at once)',
    ]);
  });

  it('treats a Stdout target with settings and a File target with default format', async () => {
    const stdout = await parseStreamConfig(MINIMAL.replace('    type: Stdout\n', '    type: Stdout\n    stdout:\n      format: record\n'), { cwd: CWD, env: {} });
    expect(stdout.target).toStrictEqual({ type: 'Stdout', format: 'record' });
    const file = await parseStreamConfig(MINIMAL.replace('    type: Stdout\n', '    type: File\n    file:\n      path: /var/log/changes.jsonl\n'), { cwd: CWD, env: {} });
    expect(file.target).toStrictEqual({ type: 'File', path: '/var/log/changes.jsonl', format: 'value' });
  });

  it('understands YAML anchors, aliases and merge keys', async () => {
    const yaml = `apiVersion: pgcdc/v1
kind: Stream
metadata:
  name: orders
spec:
  source:
    type: Postgres
    postgres:
      <<: {snapshotMode: never, slotDropOnStop: true}
      url: postgres://db/shop
      includes: &tables ["public\\\\.orders"]
      messagePrefixIncludeList: *tables
  target:
    type: Stdout
`;
    const config = await parseStreamConfig(yaml, { env: {}, cwd: CWD });
    expect([config.source.snapshotMode, config.source.slotDropOnStop]).toStrictEqual(['never', true]);
    expect([config.source.includes, config.source.messagePrefixIncludeList]).toStrictEqual([['public\\.orders'], ['public\\.orders']]);
  });

  it('warns about the settings section of a target type that is not chosen', async () => {
    const yaml = MINIMAL.replace('    type: Stdout\n', '    type: Stdout\n    file:\n      path: unused.jsonl\n');
    const config = await parseStreamConfig(yaml, { cwd: CWD, env: {} });
    expect(config.warnings).toStrictEqual(['spec.target.file is accepted but not applied by pgcdc (spec.target.type is Stdout)']);
  });
});
