import { describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { PgcdcError } from '../../src/errors/pgcdc-error.js';

const ENV = { PGCDC_CLUSTER_SOURCE: 'postgres://postgres:pw@source.internal/postgres' };

/** Every section of the CRD, filled in. */
const EVERYTHING = `apiVersion: stackgres.io/v1alpha1
kind: SGStream
metadata:
  name: everything
  namespace: streams
  labels: {team: data}
  annotations:
    debezium-signal.stackgres.io/tombstone: "{}"
    note: kept
  uid: 0d5b3c4e-0000-4000-8000-000000000000
  resourceVersion: "12345"
  generation: 3
  creationTimestamp: "2024-05-01T10:00:00Z"
  finalizers: [stackgres.io/stream]
  ownerReferences:
    - {apiVersion: v1, kind: Namespace, name: streams, uid: abc}
  managedFields:
    - manager: kubectl
      operation: Apply
      fieldsType: FieldsV1
      fieldsV1: {f:spec: {}}
spec:
  source:
    type: SGCluster
    sgCluster:
      name: source
      database: app
      includes: ["public\\\\..*"]
      skipDropReplicationSlotAndPublicationOnTombstone: true
      debeziumProperties:
        slotName: everything_slot
        slotFailover: true
        columnMaskHash:
          SHA-256:
            salt123: [public.users.email]
        snapshotLockingMode: none
        snapshotFetchSize: 100
    postgres:
      host: unused.example.com
  target:
    type: File
    file:
      path: /data/everything.jsonl
    cloudEvent:
      format: json
      binding: http
      http:
        url: https://events.example.com/hook
        headers: {X-Team: data}
        connectTimeout: 5s
        readTimeout: 30s
        retryLimit: 5
        retryBackoffDelay: 60
        skipHostnameVerification: false
    pgLambda:
      scriptType: javascript
      scriptFrom:
        configMapKeyRef: {name: lambda, key: handler.js}
      knative:
        annotations: {a: b}
        labels: {c: d}
        http: {connectTimeout: 1s}
    sgCluster:
      name: target
      database: app
      username: {name: target-creds, key: username}
      password: {name: target-creds, key: password}
      skipDdlImport: true
      ddlImportRoleSkipFilter: "postgres|replicator"
      skipDropPrimaryKeys: true
      skipDropIndexesAndConstraints: false
      skipRestoreIndexesAfterSnapshot: true
      debeziumProperties:
        insertMode: upsert
        batchSize: 1000
        primaryKeyFields: [id]
        connectionPoolMax_size: 8
  maxRetries: 7
  metadata:
    annotations:
      allResources: {a: b}
      pods: {c: d}
      serviceAccount: {e: f}
    labels:
      pods: {team: data}
  pods:
    persistentVolume:
      size: 1.5Gi
      storageClass: fast
    resources:
      claims: [{name: gpu}]
      limits: {cpu: 2, memory: 1Gi}
      requests: {cpu: "500m", memory: 512Mi}
    scheduling:
      nodeSelector: {disk: ssd}
      tolerations:
        - {key: dedicated, operator: Equal, value: cdc, effect: NoSchedule, tolerationSeconds: 60}
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
            - matchExpressions: [{key: zone, operator: In, values: [a, b]}]
        preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 10
            preference:
              matchFields: [{key: metadata.name, operator: NotIn, values: [n1]}]
      priorityClassName: high
      podAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: db}}
      podAntiAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            podAffinityTerm:
              topologyKey: zone
              namespaces: [streams]
              namespaceSelector: {matchExpressions: [{key: env, operator: Exists}]}
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 2}
  debeziumEngineProperties:
    offsetFlushIntervalMs: 1000
    recordProcessingOrder: ORDERED
    transforms:
      unwrap: {type: io.debezium.transforms.ExtractNewRecordState}
status:
  conditions:
    - {type: Running, status: "True"}
  snapshot: {snapshotCompleted: true}
`;

async function failure(yaml: string): Promise<PgcdcError> {
  const error = await parseStreamConfig(yaml, { fileName: 'sg.yaml', env: ENV, cwd: '/tmp' }).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PgcdcError);
  return error as PgcdcError;
}

describe('SGStream documents', () => {
  it('accept every CRD section, apply what applies, and warn about the rest in document order', async () => {
    const config = await parseStreamConfig(EVERYTHING, { env: ENV, cwd: '/tmp' });
    expect(config.name).toBe('everything');
    expect(config.source.connection).toMatchObject({ host: 'source.internal', database: 'app', user: 'postgres', password: 'pw' });
    expect(config.source.includes).toStrictEqual(['public\\..*']);
    expect(config.source.slotName).toBe('everything_slot');
    expect(config.target).toStrictEqual({ type: 'File', path: '/data/everything.jsonl', format: 'value' });
    expect(config.maxRetries).toBe(7);
    expect(config.source.columnMasks.hash).toStrictEqual([{ algorithm: 'SHA-256', salt: 'salt123', version: 1, columns: ['public.users.email'] }]);
    expect(config.stateDir).toBe('/tmp/.pgcdc/everything');
    expect(config.warnings).toStrictEqual([
      'metadata.annotations["debezium-signal.stackgres.io/tombstone"] is accepted but not applied by pgcdc (pgcdc does not read signals from annotations)',
      'spec.source.sgCluster.debeziumProperties.slotFailover is accepted but not applied by pgcdc (pgcdc creates slots without failover; set it with pg_create_logical_replication_slot yourself on PostgreSQL 17+)',
      'spec.source.sgCluster.debeziumProperties.snapshotLockingMode is accepted but not applied by pgcdc (pgcdc locks no table for a snapshot beyond a brief NOWAIT check per chunk)',
      'spec.source.sgCluster.debeziumProperties.snapshotFetchSize is accepted but not applied by pgcdc (pgcdc reads snapshots with COPY, in chunks of snapshotChunkRows)',
      'spec.source.postgres is accepted but not applied by pgcdc (spec.source.type is SGCluster)',
      'spec.target.cloudEvent is accepted but not applied by pgcdc (spec.target.type is File)',
      'spec.target.pgLambda is accepted but not applied by pgcdc (spec.target.type is File)',
      'spec.target.sgCluster is accepted but not applied by pgcdc (spec.target.type is File)',
      'spec.debeziumEngineProperties.offsetFlushIntervalMs is accepted but not applied by pgcdc',
      'spec.debeziumEngineProperties.recordProcessingOrder is accepted but not applied by pgcdc',
      'spec.debeziumEngineProperties.transforms is accepted but not applied by pgcdc',
    ]);
  });

  it('validate Kubernetes sections and unsupported targets fully before rejecting the target', async () => {
    const broken = EVERYTHING.replace('    type: File\n', '    type: CloudEvent\n')
      .replace('url: https://events.example.com/hook', 'url: ftp://events.example.com')
      .replace('        configMapKeyRef: {name: lambda, key: handler.js}\n', '        configMapKeyRef: {name: lambda, key: handler.js}\n        secretKeyRef: {name: s, key: k}\n')
      .replace('size: 1.5Gi', 'size: 10GB')
      .replace('        - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 2}\n', '        - {topologyKey: zone, whenUnsatisfiable: DoNotSchedule}\n')
      .replace('      batchSize: 1000\n', '      batchSize: many\n')
      .replace('    recordProcessingOrder: ORDERED\n', '    recordProcessingOrder: RANDOM\n');
    const error = await failure(broken);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toStrictEqual([
      'sg.yaml:48: spec.target.cloudEvent.http.url is "ftp://events.example.com"; expected an http:// or https:// URL',
      'sg.yaml:57: spec.target.pgLambda.scriptFrom has 2 of file, configMapKeyRef and secretKeyRef; expected exactly one of them',
      'sg.yaml:76: spec.target.sgCluster.debeziumProperties.batchSize is "many" (a string); expected an integer',
      'sg.yaml:89: spec.pods.persistentVolume.size is "10GB"; expected a size in Mi, Gi or Ti, e.g. 1Gi',
      'sg.yaml:120: spec.pods.scheduling.topologySpreadConstraints[0].maxSkew is missing; expected an integer',
      'sg.yaml:123: spec.debeziumEngineProperties.recordProcessingOrder is "RANDOM"; expected one of: ORDERED, UNORDERED',
    ]);
  });

  it('need the section of the chosen source type and of an SGCluster target', async () => {
    const error = await failure(
      'apiVersion: stackgres.io/v1alpha1\nkind: SGStream\nmetadata:\n  name: s\nspec:\n  source:\n    type: Postgres\n    sgCluster: {name: source}\n  target:\n    type: SGCluster\n',
    );
    expect(error.message.split('\n')).toStrictEqual([
      'sg.yaml:6: spec.source.postgres is missing; expected a map, required when the source type is Postgres',
      'sg.yaml:9: spec.target.sgCluster is missing; expected a map, required when the target type is SGCluster',
    ]);
  });

  it('reject unknown keys anywhere, with the nearest CRD key', async () => {
    const error = await failure(
      EVERYTHING.replace('      skipDdlImport: true\n', '      skipDDLImport: true\n')
        .replace('    persistentVolume:\n', '    persistentVolumes:\n')
        .replace('  maxRetries: 7\n', '  maxRetries: 7\n  debeziumEngineProperty: {}\n'),
    );
    expect(error.message.split('\n')).toStrictEqual([
      'sg.yaml:68: spec.target.sgCluster.skipDDLImport is not a known key; did you mean skipDdlImport?',
      'sg.yaml:79: spec.debeziumEngineProperty is not a known key; did you mean debeziumEngineProperties?',
      'sg.yaml:87: spec.pods.persistentVolume is missing; expected a map with keys size, storageClass',
      'sg.yaml:88: spec.pods.persistentVolumes is not a known key; did you mean persistentVolume?',
    ]);
  });

  it('do not need pods, and default maxRetries to -1', async () => {
    const config = await parseStreamConfig(
      'apiVersion: stackgres.io/v1alpha1\nkind: SGStream\nmetadata:\n  name: small\nspec:\n  source:\n    type: SGCluster\n    sgCluster: {name: source}\n  target:\n    type: Stdout\n',
      { env: ENV, cwd: '/tmp' },
    );
    expect([config.maxRetries, config.apiVersion, config.warnings]).toStrictEqual([-1, 'stackgres.io/v1alpha1', []]);
  });
});
