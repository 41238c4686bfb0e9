/**
 * What the message-broker targets (NATS JetStream, Redis Streams, RabbitMQ) tell about each record
 * besides its key and value, as headers, fields or properties: its id (stable across deliveries,
 * from its position: NATS's `Nats-Msg-Id`, RabbitMQ's `message-id`), operation, table, LSN and
 * transaction id. Ids are numbered in stream order, so `of` must see every record, in order.
 */
import { EventIds } from '../../events/event-ids.js';
import { formatLsn } from '../../source/lsn.js';
import type { ChangeRecord } from './change-records.js';

/** Header names of the metadata, the same on every broker. */
export const METADATA_HEADERS = {
  /** The record's key (Debezium's key JSON), where the broker has no key of its own. */
  key: 'pgcdc-key',
  /** The record's id (Redis; NATS and RabbitMQ carry it as Nats-Msg-Id and message-id). */
  id: 'pgcdc-id',
  op: 'pgcdc-op',
  table: 'pgcdc-table',
  lsn: 'pgcdc-lsn',
  txId: 'pgcdc-txid',
} as const;

export interface RecordMetadata {
  /** Stable id of the record, e.g. `24078328:24078216:0` (see `events/event-ids`). */
  readonly id: string;
  /** `c`, `u`, `d`, `r`, `t`, `m`, `BEGIN`, `END`; `tombstone` for a delete's tombstone. */
  readonly op: string;
  /** `schema.table` of row changes and truncates. */
  readonly table: string | undefined;
  /** The change's LSN (`16/B374D848`); a transaction record's commit LSN. */
  readonly lsn: string;
  /** The source transaction id (xid); undefined for a non-transactional message. */
  readonly txId: number | undefined;
}

export class RecordMetadataReader {
  readonly #ids = new EventIds();

  /** The metadata of `record`, the next record of the stream (records built from events only). */
  of(record: ChangeRecord): RecordMetadata {
    const event = record.event!;
    const op = record.op!;
    const id = this.#ids.idOf(op, event);
    const table =
      event.kind === 'row' || event.kind === 'truncate' ? `${event.table.schema}.${event.table.table}` : event.kind === 'schema' ? `${event.schema}.${event.table}` : undefined;
    const lsn = event.kind === 'begin' || event.kind === 'commit' ? event.txn.commitLsn : event.lsn;
    return { id, op: record.value === null ? 'tombstone' : op, table, lsn: formatLsn(lsn), txId: event.txn?.xid };
  }
}
