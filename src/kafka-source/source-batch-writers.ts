/**
 * How the Kafka source hands decoded changes to its target. Targets that receive events get one
 * batch of row events over JSON-valued tables (each value written as the record held it), named by
 * the record's `topic:partition:offset`. A Postgres target applies each partition on its own
 * (`PostgresTarget` with the partition as its position: a batch's records of the partition not
 * applied yet are one source transaction whose position is the last one's offset + 1, recorded in
 * the target transaction applying them), holding the partition's advisory lock on the target while
 * it does: exactly once, also when a partition moves to another process of the group. Its rows are
 * typed by the target's own tables.
 */
import type { ConnectionConfig, StreamConfig } from '../config/stream-config.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { JsonValuedTables, RecordImageTuple } from '../events/json-valued-rows.js';
import type { StreamEvent, TransactionInfo } from '../events/stream-event.js';
import type { Logger } from '../logging/logger.js';
import { PostgresTarget } from '../targets/postgres/postgres-target.js';
import { postgresTextTuple, type TargetTable, TargetTableShapes } from '../targets/postgres/json-row-text.js';
import { asTargetError } from '../targets/postgres/target-session.js';
import { CatalogConnection } from '../source/catalog-connection.js';
import type { Target } from '../targets/target.js';
import type { DecodedMessage, DecodedRow, DecodedTruncate, KafkaMessage } from './decoded-change.js';
import { partitionName } from './change-topic-consumer.js';

const NO_COLUMNS: readonly string[] = [];

/** A change to deliver, with the record it came from. */
export interface SourceRecord {
  readonly message: KafkaMessage;
  readonly change: DecodedRow | DecodedTruncate | DecodedMessage;
}

/** Records a target took: `durable` settles once it made them durable. */
export interface WrittenRecords {
  readonly durable: Promise<void>;
}

export interface SourceBatchWriter {
  open(): Promise<void>;
  /** Writes the records in order; resolves once the target took them, with what settles when they are durable. */
  write(records: readonly SourceRecord[]): Promise<WrittenRecords>;
  /** Lets go of what is kept for partitions no longer held (their writes have settled). */
  release(partitions: ReadonlySet<string>): Promise<void>;
  close(): Promise<void>;
}

/** The transaction of a record: its source's xid and time when it has them, its offset + 1 as position. */
function recordTransaction(record: SourceRecord): TransactionInfo {
  const change = record.change;
  const position = record.message.offset + 1;
  const tsMs = change.kind === 'message' ? undefined : change.tsMs;
  return {
    xid: change.kind === 'message' ? 0 : (change.txId ?? 0),
    commitLsn: position,
    commitTimeMicros: (tsMs ?? record.message.timestamp) * 1000,
    previousCommitLsn: 0,
    origin: undefined,
  };
}

/** Events for targets that receive them: rows over JSON-valued tables, truncates, messages. */
export class EventTargetWriter implements SourceBatchWriter {
  readonly #target: Target;
  readonly #tables = new JsonValuedTables();
  /** The transaction of the last record of each partition: the next records of its source transaction share it (and what encoders cache per transaction). */
  readonly #lastTransactions = new Map<string, TransactionInfo>();

  constructor(target: Target) {
    this.#target = target;
  }

  open(): Promise<void> {
    return this.#target.open();
  }

  async write(records: readonly SourceRecord[]): Promise<WrittenRecords> {
    const events: StreamEvent[] = [];
    // Records come in runs of one partition: its name and last transaction are looked up once per run.
    let runTopic: string | undefined;
    let runPartition = -1;
    let runName = '';
    let runIdPrefix = '';
    let last: TransactionInfo | undefined;
    for (const record of records) {
      const { change, message } = record;
      if (message.partition !== runPartition || message.topic !== runTopic) {
        if (runTopic !== undefined && last !== undefined) this.#lastTransactions.set(runName, last);
        runTopic = message.topic;
        runPartition = message.partition;
        runName = partitionName(runTopic, runPartition);
        runIdPrefix = `${runName}:`;
        last = this.#lastTransactions.get(runName);
      }
      // The partition's previous record's transaction when it comes from the same source transaction (same xid and commit time).
      const txn = last !== undefined && change.kind !== 'message' && change.txId !== undefined && last.xid === change.txId && change.tsMs !== undefined && last.commitTimeMicros === change.tsMs * 1000 ? last : (last = recordTransaction(record));
      const lsn = change.sourceLsn ?? message.offset + 1;
      const recordId = runIdPrefix + message.offset;
      if (change.kind === 'row') {
        const table = this.#tables.table(change.schema, change.table, change.columns, change.keyColumns);
        const before = change.beforeValues === null ? null : new RecordImageTuple(change.beforeValues, 'O', change.columns);
        const after = change.afterValues === null ? null : new RecordImageTuple(change.afterValues, 'N', change.columns);
        events.push(change.snapshot === undefined ? { kind: 'row', op: change.op, table, lsn, txn, before, after, recordId } : { kind: 'row', op: change.op, table, lsn, txn, before, after, snapshot: change.snapshot, recordId });
      } else if (change.kind === 'truncate') {
        const table = this.#tables.table(change.schema, change.table, [], []);
        events.push({ kind: 'truncate', table, lsn, txn, cascade: false, restartIdentity: false, recordId });
      } else {
        events.push({ kind: 'message', lsn, txn: change.transactional ? txn : null, prefix: change.prefix, content: change.content });
      }
    }
    if (runTopic !== undefined && last !== undefined) this.#lastTransactions.set(runName, last);
    if (events.length === 0) return { durable: Promise.resolve() };
    const written = await this.#target.write({ events });
    return { durable: written ? written.durable : Promise.resolve() };
  }

  async release(held: ReadonlySet<string>): Promise<void> {
    for (const name of [...this.#lastTransactions.keys()]) if (!held.has(name)) this.#lastTransactions.delete(name);
  }

  close(): Promise<void> {
    return this.#target.close();
  }
}

/** A Postgres target per partition held, each applying its partition's records exactly once. */
export class PostgresPartitionWriter implements SourceBatchWriter {
  readonly #stream: StreamConfig;
  readonly #logger: Logger;
  readonly #signal: AbortSignal;
  readonly #targets = new Map<string, PostgresTarget>();
  readonly #connection: ConnectionConfig;
  #catalog: CatalogConnection | undefined;
  readonly #shapes: TargetTableShapes;
  /** Resolved target tables by the records' column list (the decoder's array, the same while a table's columns stay), then by `schema.table` and record key. */
  readonly #tablesByColumns = new WeakMap<readonly string[], Map<string, TargetTable>>();

  constructor(stream: StreamConfig, logger: Logger, signal: AbortSignal) {
    if (stream.target.type !== 'Postgres') throw new Error('PostgresPartitionWriter needs a Postgres target');
    this.#stream = stream;
    this.#logger = logger;
    this.#signal = signal;
    this.#connection = stream.target.connection;
    this.#shapes = new TargetTableShapes(async (text, params) => {
      try {
        this.#catalog ??= await CatalogConnection.open(this.#connection);
        return await this.#catalog.query(text, params);
      } catch (error) {
        throw asTargetError(error, this.#connection, 'cannot read the tables of the target');
      }
    }, { unavailableValuePlaceholder: stream.source.unavailableValuePlaceholder });
  }

  async open(): Promise<void> {}

  async write(records: readonly SourceRecord[]): Promise<WrittenRecords> {
    const byPartition = new Map<string, SourceRecord[]>();
    for (const record of records) {
      if (record.change.kind === 'message') continue; // logical messages carry nothing a table holds
      const name = partitionName(record.message.topic, record.message.partition);
      const list = byPartition.get(name);
      if (list === undefined) byPartition.set(name, [record]);
      else list.push(record);
    }
    const durable: Promise<void>[] = [];
    await Promise.all(
      [...byPartition].map(async ([name, list]) => {
        const target = await this.#partitionTarget(name);
        const events = await this.#partitionEvents(list, target.appliedPosition);
        if (events.length === 0) return;
        const written = await target.write({ events });
        if (written) {
          // Observed here too: when another partition's write fails, nobody waits for this one.
          written.durable.catch(() => undefined);
          durable.push(written.durable);
        }
      }),
    );
    return { durable: Promise.all(durable).then(() => undefined) };
  }

  /**
   * One source transaction holding a partition's records not applied yet (those at or below the
   * applied position were, before a crash or by the partition's previous holder), its position the
   * last one's offset + 1: the target applies them in one transaction, in multi-row statements,
   * and records that position with them.
   */
  async #partitionEvents(records: readonly SourceRecord[], applied: number): Promise<StreamEvent[]> {
    let first = 0;
    while (first < records.length && records[first]!.message.offset + 1 <= applied) first++;
    if (first === records.length) return [];
    const txn = recordTransaction(records[records.length - 1]!);
    const events: StreamEvent[] = [{ kind: 'begin', txn }];
    for (let i = first; i < records.length; i++) {
      const change = records[i]!.change;
      if (change.kind === 'message') continue;
      const table = await this.#table(change.schema, change.table, change.kind === 'row' ? change.keyColumns : [], change.kind === 'row' ? change.columns : NO_COLUMNS);
      if (change.kind === 'truncate') {
        events.push({ kind: 'truncate', table, lsn: txn.commitLsn, txn, cascade: false, restartIdentity: false });
        continue;
      }
      const key = change.keyColumns.length > 0 ? postgresTextTuple(table, change.keyColumns, change.key, 'K') : null;
      const before = change.op === 'd' || change.op === 'u' ? (key ?? (change.before && postgresTextTuple(table, change.columns, change.before, 'O'))) : null;
      const after = change.after === null ? null : postgresTextTuple(table, change.columns, change.after, 'N');
      events.push({ kind: 'row', op: change.op, table, lsn: txn.commitLsn, txn, before, after });
    }
    events.push({ kind: 'commit', txn, endLsn: txn.commitLsn });
    return events;
  }

  async release(held: ReadonlySet<string>): Promise<void> {
    for (const [name, target] of this.#targets) {
      if (held.has(name)) continue;
      this.#targets.delete(name);
      await target.close();
      this.#logger.info({ partition: name }, 'partition moved to another member of the group: let go of it on the target');
    }
  }

  async close(): Promise<void> {
    const targets = [...this.#targets.values()];
    this.#targets.clear();
    await Promise.all(targets.map((target) => target.close()));
    await this.#catalog?.close();
  }

  /**
   * The target table of a change, one object per list of columns the records carry: the target
   * groups inserts of one table object into one statement naming the first row's columns, so rows
   * carrying other columns (a column added on the source meanwhile) must not join them.
   */
  async #table(schema: string, table: string, keyColumns: readonly string[], columns: readonly string[]): Promise<TargetTable> {
    const cacheKey = `${schema}\u0000${table}\u0000${keyColumns.join('\u0000')}`;
    let byTable = this.#tablesByColumns.get(columns);
    if (byTable === undefined) this.#tablesByColumns.set(columns, (byTable = new Map()));
    let info = byTable.get(cacheKey);
    if (info === undefined) {
      info = await this.#shapes.table(schema, table, keyColumns);
      if (info === undefined) {
        throw new PgcdcError('TARGET_FAILED', `the target has no table ${schema}.${table} for the changes read from Kafka`, {
          hint: `create it on the target (e.g. pg_dump --schema-only --table '${schema}.${table}' of the source database, applied to the target); nothing from this record on was committed`,
        });
      }
      info = { ...info };
      byTable.set(cacheKey, info);
    }
    return info;
  }

  async #partitionTarget(name: string): Promise<PostgresTarget> {
    let target = this.#targets.get(name);
    if (target === undefined) {
      target = new PostgresTarget(this.#stream.target as Extract<StreamConfig['target'], { type: 'Postgres' }>, this.#stream, this.#logger.child({ partition: name }), {
        positionName: `${this.#stream.name}/${name}`,
        ownership: { signal: this.#signal },
      });
      this.#targets.set(name, target);
      await target.open();
    }
    return target;
  }
}
