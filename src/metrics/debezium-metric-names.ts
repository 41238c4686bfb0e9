/**
 * Debezium's connector metrics under the names users graph today: Debezium's PostgreSQL connector
 * publishes them as JMX MBeans `debezium.postgres:type=connector-metrics,context=<streaming|snapshot>,
 * server=<topic.prefix>`, and the Prometheus JMX exporter (with Debezium's example rules) renders
 * each attribute as `debezium_metrics_<Attribute>{context, name, plugin="postgres"}`. pgcdc
 * publishes the attributes that have a meaning here, `name` being the topic prefix of a record
 * target (Kafka, NATS, Redis, RabbitMQ) or else the stream's name. How they map:
 *
 * streaming context:
 * - MilliSecondsBehindSource: pgcdc_lag_seconds × 1000 (Debezium: now minus the commit time of the
 *   last change processed; pgcdc: of the last change delivered, 0 when caught up and idle).
 * - TotalNumberOfEventsSeen: delivered change events (c, u, d, truncates, messages).
 * - TotalNumberOf{Create,Update,Delete}EventsSeen (Debezium 2.x's attribute names) and
 *   NumberOf{Create,Update,Delete}EventsSeen (the names of Debezium's per-table activity MBean,
 *   summed over tables here): delivered c, u and d events.
 * - NumberOfCommittedTransactions: delivered transactions.
 * - NumberOfEventsFiltered: changes dropped by the filters.
 * - MilliSecondsSinceLastEvent: since the last event was delivered (-1 before any, as Debezium).
 * - QueueTotalCapacity / QueueRemainingCapacity: pgcdc's queue is bounded in bytes, not records:
 *   its bound, and the bound minus the bytes queued; MaxQueueSizeInBytes / CurrentQueueSizeInBytes
 *   the same figures under Debezium's byte-sized names.
 * - Connected: the replication connection is open.
 * snapshot context:
 * - SnapshotRunning, SnapshotCompleted (status done), SnapshotPaused, SnapshotAborted (stopped).
 * - TotalTableCount / RemainingTableCount: tables of the snapshot, and those with chunks to read.
 * - TotalNumberOfEventsSeen: snapshot reads (r) delivered.
 * - QueueTotalCapacity / QueueRemainingCapacity: as in streaming.
 * Not published: LastEvent, SourceEventPosition, LastTransactionId, CapturedTables (strings and
 * maps, which the JMX exporter does not render as samples), RowsScanned (per table: see
 * pgcdc_snapshot_rows), SnapshotDurationInSeconds.
 */
import type { EmitSample, MetricDefinition } from './metric-catalogue.js';
import type { StreamReading } from './stream-metrics.js';

type Context = 'streaming' | 'snapshot';

function debezium(attribute: string, context: Context | 'both', help: string, value: (r: StreamReading, context: Context) => number): MetricDefinition {
  const contexts: readonly Context[] = context === 'both' ? ['streaming', 'snapshot'] : [context];
  return {
    name: `debezium_metrics_${attribute}`,
    help: `Debezium's ${attribute}: ${help}`,
    kind: 'gauge',
    labels: ['context', 'name', 'plugin'],
    read: (r: StreamReading, emit: EmitSample) => {
      for (const c of contexts) emit({ context: c, name: r.debeziumName, plugin: 'postgres' }, value(r, c));
    },
  };
}

const streamingEvents = (r: StreamReading): number => r.tally.events - r.tally.total('r');
const remainingCapacity = (r: StreamReading): number => Math.max(0, r.queue.maxBytes - r.queue.bytes);

export const DEBEZIUM_METRICS: readonly MetricDefinition[] = [
  debezium('MilliSecondsBehindSource', 'streaming', 'milliseconds between the commit of the last delivered change and now (-1 when unknown).', (r) =>
    r.lagSeconds === null ? -1 : Math.round(r.lagSeconds * 1000),
  ),
  debezium('TotalNumberOfEventsSeen', 'both', 'events delivered: streaming, changes (inserts, updates, deletes, truncates, messages); snapshot, reads.', (r, c) =>
    c === 'streaming' ? streamingEvents(r) : r.tally.total('r'),
  ),
  debezium('TotalNumberOfCreateEventsSeen', 'streaming', 'inserts delivered.', (r) => r.tally.total('c')),
  debezium('TotalNumberOfUpdateEventsSeen', 'streaming', 'updates delivered.', (r) => r.tally.total('u')),
  debezium('TotalNumberOfDeleteEventsSeen', 'streaming', 'deletes delivered.', (r) => r.tally.total('d')),
  debezium('NumberOfCreateEventsSeen', 'streaming', 'inserts delivered, all tables.', (r) => r.tally.total('c')),
  debezium('NumberOfUpdateEventsSeen', 'streaming', 'updates delivered, all tables.', (r) => r.tally.total('u')),
  debezium('NumberOfDeleteEventsSeen', 'streaming', 'deletes delivered, all tables.', (r) => r.tally.total('d')),
  debezium('NumberOfCommittedTransactions', 'streaming', 'transactions delivered.', (r) => r.tally.transactions),
  debezium('NumberOfEventsFiltered', 'streaming', 'changes dropped by the filters.', (r) => r.filtered),
  debezium('MilliSecondsSinceLastEvent', 'streaming', 'milliseconds since the last event was delivered (-1 before any).', (r) =>
    r.tally.lastDeliveredMs === undefined ? -1 : Math.max(0, r.at - r.tally.lastDeliveredMs),
  ),
  debezium('QueueTotalCapacity', 'both', 'bound of the delivery queue, in bytes.', (r) => r.queue.maxBytes),
  debezium('QueueRemainingCapacity', 'both', 'bytes the delivery queue can still take.', remainingCapacity),
  debezium('MaxQueueSizeInBytes', 'streaming', 'bound of the delivery queue, in bytes.', (r) => r.queue.maxBytes),
  debezium('CurrentQueueSizeInBytes', 'streaming', 'bytes waiting in the delivery queue.', (r) => r.queue.bytes),
  debezium('Connected', 'streaming', '1 while the replication connection is open.', (r) => (r.connected ? 1 : 0)),
  debezium('SnapshotRunning', 'snapshot', '1 while a snapshot runs.', (r) => (r.snapshot?.running ? 1 : 0)),
  debezium('SnapshotCompleted', 'snapshot', '1 once the last snapshot is done.', (r) => (r.snapshot?.status === 'done' ? 1 : 0)),
  debezium('SnapshotPaused', 'snapshot', '1 while the snapshot is paused.', (r) => (r.snapshot?.status === 'paused' ? 1 : 0)),
  debezium('SnapshotAborted', 'snapshot', '1 when the last snapshot was stopped.', (r) => (r.snapshot?.status === 'stopped' ? 1 : 0)),
  debezium('TotalTableCount', 'snapshot', 'tables of the snapshot.', (r) => r.snapshot?.tables.length ?? 0),
  debezium('RemainingTableCount', 'snapshot', 'tables of the snapshot with chunks still to read.', (r) => r.snapshot?.tables.filter((t) => t.chunksDone < t.chunks).length ?? 0),
];
