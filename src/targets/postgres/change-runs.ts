/**
 * Groups consecutive row events into runs that one statement can apply (same table, same kind,
 * same columns, each row at most once: one multi-row UPDATE … FROM (VALUES …) would apply only one
 * of two changes of a row, which one being the server's choice), preserving their order, and
 * writes each run with ChangeStatements. Inserts and snapshot reads become upserts per the
 * conflict policy; updates whose key changed, and changes of tables without a key, are written
 * row by row.
 */
import type { ConflictPolicy } from '../../config/stream-config.js';
import type { TupleRef } from '../../decoding/pgoutput-messages.js';
import type { RowEvent, TableInfo } from '../../events/stream-event.js';
import { rowKeyHash } from '../../events/event-key-hash.js';
import { keyChanged } from '../../events/tuple-json.js';
import { ChangeStatements, writableColumns } from './change-statements.js';

/** Most rows in one statement. */
const RUN_ROWS = 1000;

type RunKind = 'insert' | 'read' | 'update' | 'delete';

interface Run {
  kind: RunKind;
  table: TableInfo;
  /** For updates: the columns carried (differs when TOASTed values were left unchanged). */
  columns: string;
  tuples: TupleRef[];
}

export interface ChangeRunOptions {
  readonly conflictPolicy: ConflictPolicy;
  readonly deleteEnabled: boolean;
  /** Whether inserts into a table may go in with COPY (no row of theirs was found to exist already). */
  readonly copyInserts: (table: TableInfo) => boolean;
}

export class ChangeRuns {
  readonly #statements: ChangeStatements;
  readonly #options: ChangeRunOptions;
  #run: Run | undefined;
  /** Key hashes of the current run's rows (a row seen again starts a new run; a hash collision only cuts a run short). */
  readonly #keys = new Set<number>();
  /** Most rows per statement: RUN_ROWS, or 1 when applying row by row. */
  maxRows = RUN_ROWS;

  constructor(statements: ChangeStatements, options: ChangeRunOptions) {
    this.#statements = statements;
    this.#options = options;
  }

  /** Adds a row event; writes the current run when this one cannot join it. */
  add(event: RowEvent): void {
    const table = event.table;
    if (event.op === 'd' && !this.#options.deleteEnabled) return;
    if (table.keyColumns.length === 0 && event.op !== 'c' && event.op !== 'r') {
      // No key: each update or delete finds its row by the old values.
      this.flush();
      if (event.before) this.#statements.withoutKey(table, event.before, event.op === 'd' ? null : event.after);
      return;
    }
    if (event.op === 'u' && event.before !== null && keyChanged(event)) {
      this.flush();
      this.#statements.updateKey(table, event.before, event.after!);
      return;
    }
    const kind: RunKind = event.op === 'c' ? 'insert' : event.op === 'r' ? 'read' : event.op === 'u' ? 'update' : 'delete';
    const tuple = kind === 'delete' ? event.before! : event.after!;
    const columns = kind === 'update' ? writableColumns(table, tuple).join(',') : '';
    // Only rows with a key can repeat in a run (inserts into a table without one never conflict).
    const key = table.keyColumns.length > 0 ? rowKeyHash(table, tuple, event.before) : -1;
    const run = this.#run;
    if (run && run.kind === kind && run.table === table && run.columns === columns && run.tuples.length < this.maxRows && !this.#keys.has(key)) {
      run.tuples.push(tuple);
      if (key >= 0) this.#keys.add(key);
      return;
    }
    this.flush();
    this.#run = { kind, table, columns, tuples: [tuple] };
    if (key >= 0) this.#keys.add(key);
  }

  /** Writes the current run. */
  flush(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    this.#keys.clear();
    const statements = this.#statements;
    switch (run.kind) {
      case 'insert':
        if (this.maxRows > 1 && this.#options.copyInserts(run.table)) return statements.copyInsert(run.table, run.tuples);
        return statements.insert(run.table, run.tuples, this.#options.conflictPolicy);
      case 'read':
        // A snapshot read is the row's current value: it always wins.
        return statements.insert(run.table, run.tuples, 'update');
      case 'update':
        return statements.update(run.table, run.tuples);
      case 'delete':
        return statements.delete(run.table, run.tuples);
    }
  }
}
