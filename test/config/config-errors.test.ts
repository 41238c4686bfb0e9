import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStreamConfig, parseStreamConfig } from '../../src/config/load-stream-config.js';
import { nearestName } from '../../src/config/nearest-name.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const DOCS_HINT = 'see docs/configuration.md for every key, its type, allowed values and default';
const URL_HINT = 'write the URL like postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require';
const KINDS_HINT = 'start the document with "apiVersion: pgcdc/v1" and "kind: Stream", or "apiVersion: stackgres.io/v1alpha1" and "kind: SGStream"';

/** A native document whose spec.source.postgres holds `postgres` (indented by 6). */
function nativeDoc(postgres: string, target = '  target:\n    type: Stdout\n'): string {
  return `apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\nspec:\n  source:\n    type: Postgres\n    postgres:\n${postgres}${target}`;
}

function nodeHasZstd(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 15);
}

async function failure(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<PgcdcError> {
  const error = await parseStreamConfig(yaml, { fileName: 's.yaml', env, cwd: '/tmp' }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

describe('validation errors', () => {
  it('name the path, what was found and the allowed values, with the nearest one', async () => {
    const error = await failure(nativeDoc('      url: postgres://db/shop\n      snapshotMode: initil\n'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      's.yaml:10: spec.source.postgres.snapshotMode is "initil"; expected one of: initial, initial_only, never, no_data, always, when_needed (did you mean initial?)',
    );
    expect(error.hint).toBe(DOCS_HINT);
  });

  it('reject unknown keys with the nearest known key, or the known keys', async () => {
    const error = await failure(
      'apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: orders\n  labels: {a: b}\nspec:\n  source:\n    type: Postgres\n    postgres:\n      url: postgres://db/x\n      slotname: x\n      zzzzzz: 1\n  target:\n    type: Stdout\n    zzz: 1\n  stateDirs: x\n',
    );
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:5: metadata.labels is not a known key; known keys: name',
      's.yaml:11: spec.source.postgres.slotname is not a known key; did you mean slotName?',
      's.yaml:12: spec.source.postgres.zzzzzz is not a known key; see docs/configuration.md for the 36 known keys of spec.source.postgres',
      's.yaml:15: spec.target.zzz is not a known key; known keys: type, stdout, file, postgres, cloudEvent, pgLambda, webhook, kafka, natsJetStream, redisStreams, rabbitmq',
      's.yaml:16: spec.stateDirs is not a known key; did you mean stateDir?',
    ]);
  });

  it('tell types, ranges and formats, every problem on its own line in document order', async () => {
    const error = await failure(
      nativeDoc(
        '      url: postgres://db/shop\n      includes: public.orders\n      tombstonesOnDelete: "yes"\n      slotMaxRetries: 2.5\n      slotName: Bad-Slot\n      skippedOperations: [c, x]\n      statusIntervalMs: 10\n',
        '  target:\n    type: file\n  maxRetries: -5\n',
      ).replace('name: orders', 'name: Orders_1'),
    );
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:4: metadata.name is "Orders_1"; expected a Kubernetes name: lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most 56 characters',
      's.yaml:10: spec.source.postgres.includes is "public.orders" (a string); expected a list',
      's.yaml:11: spec.source.postgres.tombstonesOnDelete is "yes" (a string); expected true or false',
      's.yaml:12: spec.source.postgres.slotMaxRetries is 2.5; expected an integer',
      's.yaml:13: spec.source.postgres.slotName is "Bad-Slot"; expected a replication slot name: 1 to 63 lowercase letters, digits and "_"',
      's.yaml:14: spec.source.postgres.skippedOperations[1] is "x"; expected one of: c, u, d, t',
      's.yaml:15: spec.source.postgres.statusIntervalMs is 10; expected an integer ≥ 100',
      's.yaml:17: spec.target.type is "file"; expected one of: Stdout, File, Postgres, CloudEvent, PgLambda, Webhook, Kafka, NatsJetStream, RedisStreams, RabbitMQ (did you mean File?)',
      's.yaml:18: spec.maxRetries is -5; expected an integer ≥ -1',
    ]);
    expect(error.hint).toBe(DOCS_HINT);
  });

  it('tell missing and empty values', async () => {
    expect((await failure(nativeDoc('      snapshotMode: initial\n'))).message).toBe(
      's.yaml:8: spec.source.postgres.url is missing; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
    expect((await failure(nativeDoc('      url:\n'))).message).toBe(
      's.yaml:9: spec.source.postgres.url is empty (null); expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
    expect((await failure('apiVersion: pgcdc/v1\nkind: Stream\nmetadata:\n  name: x\n')).message).toBe(
      's.yaml:1: spec is missing; expected a map with keys source, target, maxRetries, stateDir, alerts, transform',
    );
    expect((await failure(nativeDoc('      url: postgres://db/shop\n', '  target:\n    type: File\n'))).message).toBe(
      's.yaml:10: spec.target.file is missing; expected a map, required when the target type is File',
    );
  });

  it('name each include or exclude that is not a regular expression', async () => {
    const error = await failure(nativeDoc('      url: postgres://db/shop\n      includes: ["public\\\\.orders", "public\\\\.(items"]\n      excludes: ["[a-"]\n'));
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:10: spec.source.postgres.includes[1] is "public\\\\.(items", which is not a valid regular expression (Unterminated group); expected a regular expression, e.g. "public\\\\.orders" or "inventory\\\\..*"',
      's.yaml:11: spec.source.postgres.excludes[0] is "[a-", which is not a valid regular expression (Unterminated character class); expected a regular expression, e.g. "public\\\\.orders" or "inventory\\\\..*"',
    ]);
  });

  it('check debeziumProperties: keys, types and values pgcdc cannot honour', async () => {
    const error = await failure(
      nativeDoc(
        '      url: postgres://db/shop\n      debeziumProperties:\n        slotname: x\n        snapshotMode: custom\n        skippedOperations: [none, c]\n        heartbeatIntervalMs: "5s"\n        publicationAutocreateMode: no_tables\n',
      ),
    );
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:11: spec.source.postgres.debeziumProperties.slotname is not a known key; did you mean slotName?',
      's.yaml:12: spec.source.postgres.debeziumProperties.snapshotMode is "custom", a Debezium value pgcdc does not support; expected one of: initial, initial_only, never, no_data, always, when_needed',
      's.yaml:13: spec.source.postgres.debeziumProperties.skippedOperations lists "none" with other operations; expected either [none] or a list of c, u, d, t',
      's.yaml:14: spec.source.postgres.debeziumProperties.heartbeatIntervalMs is "5s" (a string); expected an integer',
      's.yaml:15: spec.source.postgres.debeziumProperties.publicationAutocreateMode is "no_tables", a Debezium value pgcdc does not support; expected one of: all_tables, filtered, disabled',
    ]);
  });

  it('name Kafka settings that contradict each other or are malformed', async () => {
    const error = await failure(
      nativeDoc('      url: postgres://db/shop\n', '  target:\n    type: Kafka\n    kafka:\n      bootstrapServers: "broker:9092,broker2"\n      acks: 1\n      exactlyOnce: true\n      compression: zstd\n'),
    );
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:13: spec.target.kafka.bootstrapServers has "broker2", which is not host:port',
      's.yaml:14: spec.target.kafka.acks is 1, but exactlyOnce needs every in-sync replica to hold a record (acks: all)',
      // Node.js 20 has no zstd (its zlib has it from 22.15).
      ...(!nodeHasZstd() ? [`s.yaml:16: spec.target.kafka.compression is zstd, which needs Node.js 22.15 or later (this is ${process.version})`] : []),
    ]);
  });

  it('reject the decoderbufs plugin with a hint', async () => {
    const error = await failure(nativeDoc('      url: postgres://db/shop\n      debeziumProperties:\n        pluginName: decoderbufs\n'));
    expect(error.message).toBe(
      's.yaml:11: spec.source.postgres.debeziumProperties.pluginName is "decoderbufs"; expected pgoutput (pgcdc decodes only the pgoutput plugin built into PostgreSQL)',
    );
    expect(error.hint).toBe('remove pluginName or set it to pgoutput; pgoutput needs no server extension');
  });
});

describe('connection URL errors', () => {
  it('reject other schemes with an example, without the password', async () => {
    const error = await failure(nativeDoc('      url: mysql://root:hunter2@db/shop\n'));
    expect(error.message).toBe(
      's.yaml:9: spec.source.postgres.url is "mysql://root:***@db/shop"; expected a postgres:// or postgresql:// URL, e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require',
    );
    expect(error.hint).toBe(URL_HINT);
  });

  it('reject URLs that cannot be parsed', async () => {
    const error = await failure(nativeDoc('      url: postgres://u:hunter2@db:99x/shop\n'));
    expect(error.message).toBe(
      's.yaml:9: spec.source.postgres.url is "postgres://u:***@db:99x/shop", which cannot be parsed as a URL; expected e.g. postgres://cdc_user:secret@db.example.com:5432/app?sslmode=require (percent-encode the user name and password: @ as %40, # as %23, / as %2F, ? as %3F: p@ss#w/rd? is written p%40ss%23w%2Frd%3F)',
    );
  });

  it('reject a password holding an unencoded "/", "#" or "?" (which would give another host), saying how to encode it', async () => {
    const error = await failure(nativeDoc('      url: postgres://cdc:hun/ter#2@db.example.com:5432/shop\n'));
    expect(error.message).toBe(
      's.yaml:9: spec.source.postgres.url is "postgres://cdc:***@db.example.com:5432/shop", whose user name or password holds "@", "#", "/" or "?" unencoded, so its host cannot be told; expected the user name and password percent-encoded (@ as %40, # as %23, / as %2F, ? as %3F: p@ss#w/rd? is written p%40ss%23w%2Frd%3F)',
    );
    expect(error.message).not.toContain('hun');
  });

  it('reject unknown and invalid query parameters, all at once', async () => {
    const error = await failure(nativeDoc('      url: postgres://u:hunter2@db/shop?sslmod=require&sslmode=requir&connect_timeout=0&password=hunter3\n'));
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:9: spec.source.postgres.url has the query parameter "sslmod", which pgcdc does not support; did you mean sslmode? (supported: sslmode, sslrootcert, sslcert, sslkey, application_name, connect_timeout, host, port, user, password)',
      's.yaml:9: spec.source.postgres.url has sslmode=requir; expected one of: disable, allow, prefer, require, verify-ca, verify-full (did you mean require?)',
      's.yaml:9: spec.source.postgres.url has connect_timeout=0; expected a whole number of seconds ≥ 1',
    ]);
    expect(error.message).not.toContain('hunter');
  });

  it('name certificate files that cannot be read', async () => {
    const error = await failure(nativeDoc('      url: postgres://u:hunter2@db/shop?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem\n'));
    expect(error.message).toBe(
      "s.yaml:9: spec.source.postgres.url has sslrootcert=/nonexistent/ca.pem, which cannot be read (ENOENT: no such file or directory, open '/nonexistent/ca.pem'); expected a readable PEM file",
    );
    expect(error.hint).toBe("give the path of a readable PEM file, relative to the stream file's directory");
  });
});

describe('document-level errors', () => {
  it('list the supported apiVersion and kind', async () => {
    const unknownVersion = await failure('apiVersion: stackgres.io/v1\nkind: SGStream\n');
    expect(unknownVersion.message).toBe('s.yaml:1: apiVersion is "stackgres.io/v1"; expected stackgres.io/v1alpha1 with kind SGStream');
    expect(unknownVersion.hint).toBe(KINDS_HINT);
    expect((await failure('apiVersion: pgcdc/v2\nkind: Job\n')).message).toBe(
      's.yaml:2: the document is a pgcdc/v2 Job, not a stream; expected pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream)',
    );
    expect((await failure('apiVersion: pgcdc/v2\n')).message).toBe(
      's.yaml:1: apiVersion is "pgcdc/v2"; expected pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream) (did you mean pgcdc/v1?)',
    );
    expect((await failure('apiVersion: pgcdc/v1\nkind: Streams\n')).message).toBe('s.yaml:2: kind is "Streams"; expected Stream with apiVersion pgcdc/v1 (did you mean Stream?)');
    expect((await failure('metadata:\n  name: x\n')).message).toBe('s.yaml:1: apiVersion is missing; expected pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream)');
    expect((await failure('- a\n- b\n')).message).toBe('s.yaml:1: the document is a list; expected a map with apiVersion, kind, metadata and spec');
  });

  it('want exactly one stream document in a file', async () => {
    const one = nativeDoc('      url: postgres://db/shop\n');
    const empty = await failure('# nothing here\n');
    expect(empty.message).toBe('s.yaml: the file holds no document; expected a stream document: pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream)');
    expect((await failure(`${one}---\n${one}`)).message).toBe(
      's.yaml: the file holds 2 stream documents (at lines 1, 13); expected exactly one stream document: pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream)',
    );
    expect((await failure('apiVersion: v1\nkind: Secret\n---\napiVersion: v1\nkind: ConfigMap\n')).message).toBe(
      's.yaml: the file holds 2 documents (at lines 1, 4), none of them a stream; expected exactly one stream document: pgcdc/v1 (kind: Stream) or stackgres.io/v1alpha1 (kind: SGStream)',
    );
  });

  it('report malformed YAML as CONFIG_UNREADABLE with line and column, without the offending text', async () => {
    const error = await failure('apiVersion: pgcdc/v1\nspec:\n  url: postgres://u:hunter2@h/db: x\n  a: "unclosed\n');
    expect(error.code).toBe('CONFIG_UNREADABLE');
    expect(error.message.split('\n')).toStrictEqual([
      's.yaml:3:8: invalid YAML: Nested mappings are not allowed in compact mappings',
      's.yaml:5:1: invalid YAML: Missing closing "quote',
    ]);
    expect(error.hint).toBe('fix the YAML syntax at line 3, column 8 (check indentation, quotes and that each key appears once)');
    const duplicate = await failure('apiVersion: pgcdc/v1\napiVersion: pgcdc/v1\n');
    expect(duplicate.message).toBe('s.yaml:2:1: invalid YAML: Map keys must be unique');
  });

  it('report a missing file as CONFIG_UNREADABLE with its path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pgcdc-missing-'));
    try {
      const error = await loadStreamConfig('streams/orders.yaml', { cwd: dir }).then(
        () => undefined,
        (reason: unknown) => reason as PgcdcError,
      );
      expect(error?.code).toBe('CONFIG_UNREADABLE');
      expect(error?.message).toBe(`cannot read the stream spec streams/orders.yaml (${dir}/streams/orders.yaml): the file does not exist`);
      expect(error?.hint).toBe('check the path of the stream file; a relative path is read from the current directory');
      const directory = await loadStreamConfig(dir).then(
        () => undefined,
        (reason: unknown) => reason as PgcdcError,
      );
      expect(directory?.message).toBe(`cannot read the stream spec ${dir}: it is a directory`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('nearest key', () => {
  it('prefers a case-insensitive match, then a unique extension, then edit distance', () => {
    expect(nearestName('slotname', ['slotName', 'slotMaxRetries'])).toBe('slotName');
    expect(nearestName('SNAPSHOTMODE', ['snapshotMode'])).toBe('snapshotMode');
    expect(nearestName('stackgres.io/v1', ['pgcdc/v1', 'stackgres.io/v1alpha1'])).toBe('stackgres.io/v1alpha1');
    expect(nearestName('sltoName', ['slotName', 'publicationName'])).toBe('slotName');
    expect(nearestName('publicatonNme', ['slotName', 'publicationName'])).toBe('publicationName');
    expect(nearestName('x', ['c', 'u'])).toBeUndefined();
    expect(nearestName('hostname', ['slotName', 'publicationName'])).toBeUndefined();
  });
});
