/**
 * Stable ids of the records the Debezium encoder writes, the same on every delivery of a change
 * (after a restart too): from the change's position, or for reads of the initial snapshot (which
 * all share one position) from the row's key. Targets that name each event (CloudEvents, webhook
 * dead letters) take them from here.
 */
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { JsonWriter } from '../encoding/json-writer.js';
import type { StreamEvent, TableInfo } from './stream-event.js';
import { writeKeyJson } from './tuple-json.js';

/** Assigns ids to records in stream order; keeps the ordinal of records at one position across batches. */
export class EventIds {
  readonly #keyWriter = new JsonWriter(4096);
  #lastCommitLsn = -1;
  #lastLsn = -1;
  #ordinal = 0;

  /**
   * The id of the record of `event` whose op is `op` (the encoder's: `c`, `u`, … or `BEGIN`/`END`).
   *
   * @example
   * ids.idOf('c', insertEvent); // '24078328:24078216:0'
   */
  idOf(op: string, event: StreamEvent): string {
    // A change read from Kafka keeps its record's id (one event written as two records, a key change, tells them apart by op).
    if (event.kind === 'row' && event.recordId !== undefined) return op === event.op ? event.recordId : `${event.recordId}:${op}`;
    if (event.kind === 'truncate' && event.recordId !== undefined) return event.recordId;
    if (op === 'BEGIN' || op === 'END') return `${event.txn!.commitLsn}:${op.toLowerCase()}`;
    if (event.kind === 'row' && op === 'r' && event.snapshot !== 'incremental') return this.#snapshotReadId(event.table, event.lsn, event.after!);
    const lsn = event.kind === 'row' || event.kind === 'truncate' || event.kind === 'message' || event.kind === 'schema' ? event.lsn : -1;
    return this.#positionId(event.txn?.commitLsn ?? lsn, lsn);
  }

  /**
   * `<commitLsn>:<lsn>:<n>`: the n-th record at this position (a multi-row insert shares one WAL
   * record; a primary-key change is two records). A transaction is always delivered again from its
   * start, so n is the same on every delivery.
   */
  #positionId(commitLsn: number, lsn: number): string {
    if (commitLsn === this.#lastCommitLsn && lsn === this.#lastLsn) this.#ordinal++;
    else {
      this.#lastCommitLsn = commitLsn;
      this.#lastLsn = lsn;
      this.#ordinal = 0;
    }
    return `${commitLsn}:${lsn}:${this.#ordinal}`;
  }

  /**
   * `<lsn>:<schema>.<table>:<key>`: reads of the initial snapshot all share the snapshot's position
   * and come in no fixed order, so the row's key tells them apart.
   */
  #snapshotReadId(table: TableInfo, lsn: number, row: TupleRef): string {
    const w = this.#keyWriter;
    writeKeyJson(w, table, row);
    const key = w.takeCopy().toString('utf8');
    return `${lsn}:${table.schema}.${table.table}:${key}`;
  }
}
