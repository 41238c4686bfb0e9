/**
 * Every pgcdc metric, defined once: name (Prometheus conventions: `pgcdc_` prefix, unit in the
 * name, `_total` counters), help text, kind, labels, and how its samples are read from a stream's
 * StreamReading. The Prometheus exporter and the OTLP exporter both build their instruments from
 * this list, so the two carry the same metrics. The batch write-time histogram is the one metric
 * recorded as it happens (see serve-metrics.ts).
 */
import { OPERATIONS } from './delivery-tally.js';
import type { StreamReading } from './stream-metrics.js';
import type { StreamRunState } from './stream-stats.js';

export type MetricKind = 'counter' | 'gauge';
export type SampleLabels = Readonly<Record<string, string>>;
export type EmitSample = (labels: SampleLabels, value: number) => void;

export interface MetricDefinition {
  readonly name: string;
  readonly help: string;
  readonly kind: MetricKind;
  /** Every label its samples carry. */
  readonly labels: readonly string[];
  readonly read: (reading: StreamReading, emit: EmitSample) => void;
}

const STREAM_STATES: readonly StreamRunState[] = ['starting', 'running', 'paused', 'stopped', 'failed', 'restarting'];
/** pg_replication_slots.wal_status values (PostgreSQL 13 and later). */
const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const;

/** A metric of one sample per stream, labelled `stream` only; nothing when the figure is unknown. */
function perStream(name: string, kind: MetricKind, help: string, value: (r: StreamReading) => number | null | undefined): MetricDefinition {
  return {
    name,
    help,
    kind,
    labels: ['stream'],
    read: (r, emit) => {
      const v = value(r);
      if (v !== null && v !== undefined) emit({ stream: r.stream }, v);
    },
  };
}

/** One sample per table of the running (or last) snapshot. */
function perSnapshotTable(name: string, help: string, value: (t: NonNullable<StreamReading['snapshot']>['tables'][number]) => number): MetricDefinition {
  return {
    name,
    help,
    kind: 'gauge',
    labels: ['stream', 'table'],
    read: (r, emit) => {
      for (const table of r.snapshot?.tables ?? []) emit({ stream: r.stream, table: table.name }, value(table));
    },
  };
}

export const PGCDC_METRICS: readonly MetricDefinition[] = [
  {
    name: 'pgcdc_events_total',
    help: 'Events delivered (durable at the target) by table and operation: c insert, u update, d delete, r snapshot read, t truncate, m logical message (table empty).',
    kind: 'counter',
    labels: ['stream', 'table', 'operation'],
    read: (r, emit) => {
      for (const tally of r.tally.tables.values()) {
        for (const op of OPERATIONS) if (tally[op] > 0) emit({ stream: r.stream, table: tally.table, operation: op }, tally[op]);
      }
    },
  },
  perStream('pgcdc_transactions_total', 'counter', 'Source transactions delivered.', (r) => r.tally.transactions),
  perStream('pgcdc_delivered_bytes_total', 'counter', 'Bytes of the delivered events as queued (decoded change data).', (r) => r.tally.bytes),
  perStream('pgcdc_batches_total', 'counter', 'Batches the target made durable.', (r) => r.tally.batches),
  perStream('pgcdc_delivery_retries_total', 'counter', 'Deliveries tried again after a failure (targets with retries).', (r) => r.retries),
  perStream('pgcdc_dead_letters_total', 'counter', 'Events set aside as dead letters.', (r) => r.deadLetters),
  perStream('pgcdc_restarts_total', 'counter', 'Times the stream was restarted after a failure.', (r) => r.restarts),
  perStream('pgcdc_filtered_events_total', 'counter', 'Changes received and dropped by the table, column or message filters.', (r) => r.filtered),
  perStream('pgcdc_events_per_second', 'gauge', 'Delivered events per second over the last 10 seconds.', (r) => r.eventsPerSecond),
  perStream('pgcdc_queue_bytes', 'gauge', 'Bytes waiting in the delivery queue.', (r) => r.queue.bytes),
  perStream('pgcdc_queue_max_bytes', 'gauge', 'Bound of the delivery queue in bytes (a full queue pauses reading from the source).', (r) => r.queue.maxBytes),
  perStream('pgcdc_received_position_bytes', 'gauge', 'WAL position (LSN as a number) of the end of the last message received from the source.', (r) => r.receivedLsn),
  perStream('pgcdc_confirmed_position_bytes', 'gauge', 'WAL position (LSN as a number) the target durably accepted everything up to: what the slot is told.', (r) => r.confirmedLsn),
  perStream('pgcdc_server_wal_position_bytes', 'gauge', "The source server's current WAL position (LSN as a number), as last polled.", (r) => r.slotStatus?.serverLsn),
  perStream('pgcdc_slot_confirmed_flush_position_bytes', 'gauge', "The slot's confirmed_flush_lsn as a number, as last polled.", (r) => r.slotStatus?.slot?.confirmedFlushLsn),
  perStream('pgcdc_lag_bytes', 'gauge', "The source server's current WAL position minus the slot's confirmed_flush_lsn.", (r) => r.lagBytes),
  perStream('pgcdc_lag_seconds', 'gauge', 'Now minus the commit time of the last delivered change; 0 while running with nothing pending.', (r) => r.lagSeconds),
  {
    name: 'pgcdc_slot_wal_status',
    help: "The slot's wal_status (pg_replication_slots): 1 for the current one, 0 for the others.",
    kind: 'gauge',
    labels: ['stream', 'slot', 'wal_status'],
    read: (r, emit) => {
      const current = r.slotStatus?.slot?.walStatus;
      if (current === undefined || current === null) return;
      for (const status of WAL_STATUSES) emit({ stream: r.stream, slot: r.slotName, wal_status: status }, status === current ? 1 : 0);
      if (!(WAL_STATUSES as readonly string[]).includes(current)) emit({ stream: r.stream, slot: r.slotName, wal_status: current }, 1);
    },
  },
  {
    name: 'pgcdc_slot_retained_wal_bytes',
    help: "WAL the slot holds on the source: the server's current WAL position minus the slot's restart_lsn.",
    kind: 'gauge',
    labels: ['stream', 'slot'],
    read: (r, emit) => {
      if (r.retainedWalBytes !== null) emit({ stream: r.stream, slot: r.slotName }, r.retainedWalBytes);
    },
  },
  {
    name: 'pgcdc_slot_active',
    help: 'Whether a walsender uses the slot (1) or not (0); absent while the slot does not exist.',
    kind: 'gauge',
    labels: ['stream', 'slot'],
    read: (r, emit) => {
      const slot = r.slotStatus?.slot;
      if (slot) emit({ stream: r.stream, slot: r.slotName }, slot.active ? 1 : 0);
    },
  },
  perStream('pgcdc_snapshot_running', 'gauge', 'Whether a snapshot (initial or incremental) is running.', (r) => (r.snapshot?.running ? 1 : 0)),
  perSnapshotTable('pgcdc_snapshot_rows', 'Rows of the table read by the snapshot.', (t) => t.rowsDone),
  perSnapshotTable('pgcdc_snapshot_estimated_rows', "Rows the table was estimated to have when the snapshot was planned (pg_class.reltuples; 0 when never analyzed).", (t) => t.estimatedRows),
  perSnapshotTable('pgcdc_snapshot_chunks', 'Chunks the snapshot reads the table in.', (t) => t.chunks),
  perSnapshotTable('pgcdc_snapshot_chunks_done', 'Chunks of the table durable at the target.', (t) => t.chunksDone),
  perStream('pgcdc_source_connected', 'gauge', "Whether the stream's replication connection to the source is open.", (r) => (r.connected ? 1 : 0)),
  {
    name: 'pgcdc_stream_state',
    help: 'The stream as `pgcdc serve` runs it: 1 for its current state, 0 for the others.',
    kind: 'gauge',
    labels: ['stream', 'state'],
    read: (r, emit) => {
      for (const state of STREAM_STATES) emit({ stream: r.stream, state }, state === r.state ? 1 : 0);
    },
  },
  {
    name: 'pgcdc_alert_active',
    help: 'Whether the alert (spec.alerts) is firing.',
    kind: 'gauge',
    labels: ['stream', 'alert'],
    read: (r, emit) => {
      for (const alert of r.alerts?.states ?? []) emit({ stream: r.stream, alert: alert.name }, alert.active ? 1 : 0);
    },
  },
];

/** Bucket bounds (seconds) of `pgcdc_batch_write_seconds`. */
export const BATCH_WRITE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const BATCH_WRITE_METRIC = { name: 'pgcdc_batch_write_seconds', help: 'Seconds from handing a batch to the target to the target making it durable.' } as const;
