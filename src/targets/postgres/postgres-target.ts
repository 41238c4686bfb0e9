/**
 * The Postgres target: applies the stream to another PostgreSQL, exactly once and in source
 * transaction order. Each batch is applied as few round trips as possible: the source transactions
 * it completes go into one target transaction, batched into multi-row statements, with the commit
 * position of the last one written in the same transaction; a source transaction still open at the
 * end of the batch stays open on the target until its Commit arrives. A transaction seen again
 * after a restart (at or below the applied position) is skipped. When a statement fails, the
 * segment is applied again row by row to name the row (and, by policy, skip it). DDL captured on
 * the source and `command` signals are applied in their place in the stream.
 */
import type { PostgresTargetConfig, StreamConfig } from '../../config/stream-config.js';
import type { CatalogQuery } from '../../decoding/values/type-catalog.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import { JsonWriter } from '../../encoding/json-writer.js';
import type { MessageEvent, StreamEvent, TableInfo, TruncateEvent } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import { formatLsn, parseLsn, type Lsn } from '../../source/lsn.js';
import { quoteLiteral } from '../../source/sql-quoting.js';
import { sleepUnlessAborted } from '../../pipeline/abortable-waits.js';
import type { StatementsOutcome, WireConnection } from '../../source/wire/wire-connection.js';
import { ChangeFilter } from '../../pipeline/change-filter.js';
import type { SnapshotLoader, TableLoad, Target, WrittenBatch } from '../target.js';
import { ChangeRuns } from './change-runs.js';
import { ChangeStatements, keyText, ROW_SAVEPOINT, type StatementExpectation } from './change-statements.js';
import { syncSequences } from './sequence-sync.js';
import { forceFlushSql, TargetFlushWatcher } from './target-flush-watcher.js';
import { PostgresSnapshotLoader } from './snapshot-load.js';
import { TargetSchema } from './target-schema.js';
import { appliedPositionSql, asTargetError, MISSING_ROWS_SQLSTATE, openTargetConnection, readAppliedPosition, serverFields } from './target-session.js';

/** Prefix of the logical messages carrying a `command` signal's SQL for the target. */
export const COMMAND_MESSAGE_PREFIX = 'pgcdc.command';

/** Applies a special message (DDL) inside the open target transaction. */
export interface MessageApplier {
  /** The prefix of the messages it applies. */
  readonly prefix: string;
  apply(message: MessageEvent, connection: WireConnection): Promise<void>;
}

/** Where applying stands in the source stream; saved to apply a segment again. */
interface ApplyState {
  /** Between a source Begin and its Commit. */
  inSourceTxn: boolean;
  /** The current source transaction was applied before (its commit is at or below the applied position). */
  skipping: boolean;
  /** Commit position of the last source transaction applied in the open target transaction. */
  pending: Lsn;
}

const SEGMENT_SAVEPOINT = 'pgcdc_segment';

export interface PostgresTargetOptions {
  /** The name the applied position is kept under (the stream's name by default). */
  readonly positionName?: string;
  /**
   * Apply only while holding a session advisory lock on the position's name, taken before the
   * applied position is read: when several processes may apply to one position in turn (a Kafka
   * partition moving between the members of a consumer group), the next one reads the position
   * only once the previous one's last transaction ended and it let go (or its connection died).
   * Waiting for it stops with `signal`.
   */
  readonly ownership?: { readonly signal: AbortSignal };
}

/** Waits, polling, for the advisory lock of position `name` on `connection`. */
async function acquireOwnership(connection: WireConnection, name: string, ownership: { readonly signal: AbortSignal }, logger: Logger): Promise<void> {
  const lock = `SELECT pg_try_advisory_lock(hashtextextended(${quoteLiteral(`pgcdc.applied_positions:${name}`)}, 0))::text AS taken`;
  for (let waited = 0; ; waited++) {
    const rows = await connection.query(lock);
    if (rows[rows.length - 1]?.rows[0]?.[0] === 'true') return;
    if (waited === 0) logger.info({ position: name }, 'waiting for the previous writer of this position to finish (another pgcdc process still holds it)');
    await sleepUnlessAborted(200, ownership.signal);
    if (ownership.signal.aborted) throw new PgcdcError('STOPPED', `stopped while waiting to take over the position ${name} on the target`);
  }
}

export class PostgresTarget implements Target {
  readonly #config: PostgresTargetConfig;
  readonly #stream: string;
  readonly #logger: Logger;
  readonly #appliers = new Map<string, MessageApplier>();
  readonly #schema: TargetSchema;
  readonly snapshotLoader: SnapshotLoader;
  /** Commits are asynchronous; batches are durable once the target's WAL is flushed past them. */
  readonly #flushes: TargetFlushWatcher | undefined;
  /** The target's WAL position after the last commit of the current write (asynchronous commits). */
  #commitWal: Lsn = 0;
  /** Tables where an inserted row was found to exist already: their inserts use INSERT … ON CONFLICT, not COPY. */
  readonly #conflicting = new Set<number>();
  #connection: WireConnection | undefined;
  /** The source's catalog, to create tables whose first change arrives while streaming. */
  #source: CatalogQuery | undefined;
  readonly #writer = new JsonWriter();
  readonly #statements: ChangeStatements;
  readonly #runs: ChangeRuns;
  /** The position committed on the target. */
  #applied: Lsn = 0;
  /** A target transaction is open (the source transaction continues in the next batch). */
  #txnOpen = false;
  /** The current source transaction changed the schema: commit it on its own. */
  #commitAfterTransaction = false;
  #state: ApplyState = { inSourceTxn: false, skipping: false, pending: 0 };

  /** Held on the connection while applying: one writer per position (a Kafka partition), see `PostgresTargetOptions`. */
  readonly #ownership: PostgresTargetOptions['ownership'];

  constructor(config: PostgresTargetConfig, stream: StreamConfig, logger: Logger, options: PostgresTargetOptions = {}) {
    this.#config = config;
    this.#stream = options.positionName ?? stream.name;
    this.#ownership = options.ownership;
    this.#logger = logger;
    const filter = new ChangeFilter(stream.source.includes, stream.source.excludes);
    this.#schema = new TargetSchema({ config, stream: stream.name, filter, logger });
    this.#statements = new ChangeStatements(
      this.#writer,
      (table) => this.#schema.identityAlways(table),
      (table) => this.#schema.loaded(table.oid),
    );
    this.#flushes = config.synchronousCommit
      ? undefined
      : new TargetFlushWatcher(
          () => openTargetConnection(config.connection, logger, { prepare: false }),
          stream.name,
          (error) => asTargetError(error, config.connection, "lost the connection watching the target's WAL flush"),
        );
    this.#runs = new ChangeRuns(this.#statements, { ...config, copyInserts: (table) => !this.#conflicting.has(table.oid) });
    this.addMessageApplier(this.#schema);
    this.snapshotLoader = new PostgresSnapshotLoader({
      connection: config.connection,
      stream: stream.name,
      logger,
      copyFormat: (table) => this.#schema.copyFormat(table),
      asynchronousCommit: this.#flushes !== undefined,
      restoreDeferred: async () => {
        const connection = await this.#betweenTransactions();
        await this.#schema.restoreDeferred(connection);
        // The load committed asynchronously: make it durable before anything relies on it (the
        // slot of an initial_only stream is dropped next).
        await this.#flushAll(connection);
      },
      restartTables: async (source, tables, position) => {
        await this.#schema.restartTables(await this.#betweenTransactions(), source, tables, position);
      },
    });
  }

  async prepareTables(source: CatalogQuery, tables: readonly number[], loading: TableLoad | undefined): Promise<void> {
    this.#source = source;
    await this.#schema.prepare(await this.#betweenTransactions(), source, tables, loading);
  }

  async syncSequences(source: CatalogQuery): Promise<number> {
    const connection = await this.#betweenTransactions();
    const synced = await syncSequences(source, connection, this.#schema.tables(), this.#logger);
    await this.#flushAll(connection);
    this.#logger.info({ sequences: synced }, 'synchronised the sequences on the target');
    return synced;
  }

  /** Adds what applies special messages (DDL replay). */
  addMessageApplier(applier: MessageApplier): void {
    this.#appliers.set(applier.prefix, applier);
  }

  /** The source position committed on the target. */
  get appliedPosition(): Lsn {
    return this.#applied;
  }

  async open(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    // An open transaction holds part of a source transaction: it is applied again from the slot.
    if (this.#txnOpen) await connection.run('ROLLBACK').catch(() => undefined);
    this.#txnOpen = false;
    await connection.close().catch(() => undefined);
    await this.#flushes?.close();
  }

  async write(batch: { readonly events: readonly StreamEvent[] }): Promise<WrittenBatch | undefined> {
    const events = batch.events;
    if (events.length === 0) return undefined;
    this.#commitWal = 0;
    try {
      await this.#connect();
      // A Begin while a source transaction is open: the stream restarted, the partial one comes again.
      if (events[0]!.kind === 'begin' && this.#state.inSourceTxn) await this.#abandonOpenTransaction();
      const boundary = this.#lastBoundary(events);
      let from = 0;
      let skipping = this.#state.skipping;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (event.kind === 'begin') skipping = event.txn.commitLsn <= this.#applied;
        else if (event.kind === 'commit') {
          skipping = false;
          // After DDL, commit at once: some changes (a new enum value) are usable only once committed.
          if (this.#commitAfterTransaction && i !== boundary) {
            await this.#applySegment(events, from, i + 1, true);
            from = i + 1;
          }
          this.#commitAfterTransaction = false;
        } else if (skipping) {
          // a transaction applied before: nothing of it is applied again
        } else if (event.kind === 'message' && this.#isSpecial(event)) {
          await this.#applySegment(events, from, i, false);
          await this.#applySpecial(event);
          this.#commitAfterTransaction = true;
          from = i + 1;
        } else if ((event.kind === 'row' || event.kind === 'truncate') && this.#source && !this.#schema.knows(event.table.oid)) {
          // The first change of a table the target does not hold yet: create it first.
          await this.#applySegment(events, from, i, false);
          await this.#openTransaction();
          await this.#schema.prepare(this.#connection!, this.#source, [event.table.oid], undefined, true);
          from = i;
        }
        if (i === boundary) {
          await this.#applySegment(events, from, i + 1, true);
          from = i + 1;
        }
      }
      if (from < events.length) await this.#applySegment(events, from, events.length, false);
      // Asynchronous commits: durable once the target's WAL is flushed past the last one.
      return this.#flushes && this.#commitWal > 0 ? { durable: this.#flushes.durableAt(this.#commitWal) } : undefined;
    } catch (error) {
      if (error instanceof PgcdcError && error.code === 'TARGET_UNREACHABLE') this.#lose();
      throw error;
    } finally {
      this.#writer.take();
      this.#writer.recycle();
      this.#statements.recycle();
    }
  }

  async #connect(): Promise<WireConnection> {
    if (this.#connection && !this.#connection.closed) return this.#connection;
    const lostTransaction = this.#txnOpen;
    this.#lose();
    if (lostTransaction) {
      // Part of a source transaction died with the connection: the pipeline restarts from the slot.
      throw new PgcdcError('TARGET_UNREACHABLE', 'the connection to the target was lost in the middle of a source transaction', {
        hint: 'pgcdc reconnects and applies that transaction again from the source',
      });
    }
    const connection = await openTargetConnection(this.#config.connection, this.#logger, { prepare: true, asynchronousCommit: this.#flushes !== undefined });
    try {
      if (this.#ownership) await acquireOwnership(connection, this.#stream, this.#ownership, this.#logger);
      this.#applied = await readAppliedPosition(connection, this.#stream);
      await this.#schema.load(connection);
    } catch (error) {
      connection.destroy();
      throw asTargetError(error, this.#config.connection, "cannot read pgcdc's bookkeeping (applied position, schema) from the target");
    }
    this.#connection = connection;
    this.#restart();
    this.#logger.debug({ applied: formatLsn(this.#applied) }, 'connected to the target');
    return connection;
  }

  /** Forgets the connection and what was open on it (it is rolled back by the server). */
  #lose(): void {
    this.#connection?.destroy();
    this.#connection = undefined;
    this.#restart();
  }

  /** Applying starts again at the applied position, with no target transaction open. */
  #restart(): void {
    this.#txnOpen = false;
    this.#commitAfterTransaction = false;
    this.#state = { inSourceTxn: false, skipping: false, pending: this.#applied };
  }

  async #abandonOpenTransaction(): Promise<void> {
    if (this.#txnOpen) await this.#control('ROLLBACK');
    this.#restart();
  }

  /**
   * The connection with no target transaction open, for work done outside the stream's writes
   * (table preparation and synchronisation, sequences), which commits. A source transaction left
   * open by the last write (the stream stopped in its middle) is rolled back first: committing it
   * with that work would apply its first part without its position, and the whole of it again when
   * the slot sends it next time.
   */
  async #betweenTransactions(): Promise<WireConnection> {
    const connection = await this.#connect();
    await this.#abandonOpenTransaction();
    return connection;
  }

  /** The last index after which no source transaction is open (so the target may commit), or -1. */
  #lastBoundary(events: readonly StreamEvent[]): number {
    let open = this.#state.inSourceTxn;
    let boundary = -1;
    for (let i = 0; i < events.length; i++) {
      const kind = events[i]!.kind;
      if (kind === 'begin') open = true;
      else if (kind === 'commit') open = false;
      if (!open) boundary = i;
    }
    return boundary;
  }

  #isSpecial(message: MessageEvent): boolean {
    return message.prefix === COMMAND_MESSAGE_PREFIX || this.#appliers.has(message.prefix);
  }

  /**
   * Applies `events[from, to)` in the target transaction (opening it when needed) and, with
   * `commit`, records the applied position and commits.
   */
  async #applySegment(events: readonly StreamEvent[], from: number, to: number, commit: boolean): Promise<void> {
    if (from >= to && !commit) return;
    const startedOpen = this.#txnOpen;
    const saved = { ...this.#state };
    const statements = this.#statements;
    this.#startStatements(false, startedOpen);
    this.#build(events, from, to);
    if (commit) this.#commitStatements();
    const text = this.#writer.take();
    const outcome = await this.#run(text, statements.copies);
    if (!outcome.failure) {
      this.#warnMissingRows(statements.expectations, outcome.commands, 0);
      this.#finished(commit, outcome);
      return;
    }
    // Back to the segment's start, then again row by row to find the row (and skip it, by policy).
    await this.#control(startedOpen ? `ROLLBACK TO SAVEPOINT ${SEGMENT_SAVEPOINT}` : 'ROLLBACK');
    this.#txnOpen = startedOpen;
    this.#state = saved;
    const failed = statements.expectations[outcome.commands.length];
    if (failed?.copy && failed.table && serverFields(outcome.failure)?.code === '23505') {
      this.#conflicting.add(failed.table.oid);
      this.#logger.info({ table: tableName(failed.table) }, 'rows inserted on the source already exist on the target: inserts into this table use INSERT … ON CONFLICT from now on');
    }
    if (failed?.kind === 'other') throw await this.#fail(failed, outcome.failure, statementText(Buffer.concat(text), statements.expectations, outcome.commands.length));
    await this.#applyRowByRow(events, from, to, commit);
  }

  /** Applies a segment one statement per row, each in a savepoint; a failing row stops the stream or is skipped. */
  async #applyRowByRow(events: readonly StreamEvent[], from: number, to: number, commit: boolean): Promise<void> {
    const statements = this.#statements;
    this.#startStatements(true, this.#txnOpen);
    this.#build(events, from, to);
    if (commit) this.#commitStatements();
    const text = Buffer.concat(this.#writer.take());
    const expectations = statements.expectations.slice();
    let index = 0;
    for (;;) {
      const outcome = await this.#run([text.subarray(expectations[index]!.offset)]);
      this.#warnMissingRows(expectations, outcome.commands, index);
      if (!outcome.failure) {
        this.#finished(commit, outcome);
        return;
      }
      const failed = expectations[index + outcome.commands.length]!;
      if (failed.kind === 'other' || this.#config.rowErrorPolicy === 'fail') throw await this.#fail(failed, outcome.failure, statementText(text, expectations, index + outcome.commands.length));
      await this.#control(`ROLLBACK TO SAVEPOINT ${ROW_SAVEPOINT}`);
      this.#logger.error({ table: tableName(failed.table), key: rowKey(failed), statement: failed.kind, error: describeFailure(outcome.failure) }, 'the target rejected a row; skipped (rowErrorPolicy: skip)');
      index += outcome.commands.length + 2; // past the failed statement and its RELEASE
      if (index >= expectations.length) {
        // The rejected row ended a segment that does not commit (its source transaction goes on in
        // the next batch): nothing is left to run, the target transaction stays open. A committing
        // segment always ends with its position and COMMIT, so it never gets here.
        this.#txnOpen = true;
        return;
      }
    }
  }

  /** Ends the target transaction after a failure and returns the error naming the table, row and statement. */
  async #fail(failed: StatementExpectation, failure: PgcdcError, statement: string): Promise<PgcdcError> {
    await this.#control('ROLLBACK').catch(() => undefined);
    this.#restart();
    const row = failed.table ? ` ${failed.kind} of ${tableName(failed.table)}${failed.tuples.length === 1 ? ` row (${rowKey(failed)})` : ''}` : '';
    if (serverFields(failure)?.code === MISSING_ROWS_SQLSTATE) {
      return new PgcdcError('TARGET_FAILED', `the${row} found no row to change: ${tableName(failed.table)} on the target is no longer equal to the source`, {
        cause: failure,
        hint: `rows were changed on the target behind pgcdc's back; set spec.target.postgres.rowErrorPolicy: skip to go on, then copy the table again with pgcdc signal execute-snapshot '{"data-collections": ["${tableName(failed.table)}"]}'; nothing after the last applied position was acknowledged at the source`,
      });
    }
    return new PgcdcError('TARGET_FAILED', `the target rejected the${row || ' statement'}: ${describeFailure(failure)}; statement: ${statement}`, {
      cause: failure,
      hint: 'fix the target table (or the row on the source), or set spec.target.postgres.rowErrorPolicy: skip; nothing after the last applied position was acknowledged at the source',
    });
  }

  #startStatements(careful: boolean, open: boolean): void {
    const statements = this.#statements;
    this.#writer.take();
    statements.reset();
    statements.careful = careful;
    this.#runs.maxRows = careful ? 1 : 1000;
    statements.statement(open ? `SAVEPOINT ${SEGMENT_SAVEPOINT}` : 'BEGIN');
  }

  #commitStatements(): void {
    if (this.#state.pending > this.#applied) this.#statements.statement(appliedPositionSql(this.#stream, this.#state.pending));
    this.#statements.statement('COMMIT');
    // The WAL position after an asynchronous commit: the batch is durable once it is flushed.
    if (this.#flushes) this.#statements.statement('SELECT pg_current_wal_insert_lsn()::text');
  }

  #finished(commit: boolean, outcome: StatementsOutcome): void {
    this.#txnOpen = !commit;
    if (!commit) return;
    this.#applied = Math.max(this.#applied, this.#state.pending);
    if (this.#flushes && outcome.lastRow?.[0]) this.#commitWal = Math.max(this.#commitWal, parseLsn(outcome.lastRow[0]));
  }

  /** Writes the statements applying `events[from, to)`, updating the apply state. */
  #build(events: readonly StreamEvent[], from: number, to: number): void {
    const state = this.#state;
    const runs = this.#runs;
    for (let i = from; i < to; i++) {
      const event = events[i]!;
      switch (event.kind) {
        case 'begin':
          runs.flush();
          state.inSourceTxn = true;
          state.skipping = event.txn.commitLsn <= this.#applied;
          break;
        case 'commit':
          runs.flush();
          if (!state.skipping) state.pending = Math.max(state.pending, event.txn.commitLsn);
          state.inSourceTxn = false;
          state.skipping = false;
          break;
        case 'row':
          if (!state.skipping && !this.#schema.loadedLater(event.table.oid, event.txn.commitLsn)) runs.add(event);
          break;
        case 'truncate': {
          let last = i;
          while (last + 1 < to && sameTruncate(events[last + 1]!, event)) last++;
          const tables: TableInfo[] = [];
          for (let j = i; j <= last; j++) {
            const table = (events[j] as TruncateEvent).table;
            if (!this.#schema.loadedLater(table.oid, event.txn.commitLsn)) tables.push(table);
          }
          if (!state.skipping && this.#config.truncateEnabled && tables.length > 0) {
            runs.flush();
            this.#statements.truncate(tables, event.cascade, event.restartIdentity);
          }
          i = last;
          break;
        }
        case 'message':
          break; // special messages end segments; others are not for this target
        case 'schema':
          break; // this target replays the DDL messages themselves
      }
    }
    runs.flush();
  }

  /** Applies a DDL message or a command signal inside the open target transaction. */
  async #applySpecial(message: MessageEvent): Promise<void> {
    const connection = await this.#openTransaction();
    if (message.prefix === COMMAND_MESSAGE_PREFIX) {
      const sql = message.content.toString('utf8');
      const outcome = await this.#run([Buffer.from(`SAVEPOINT ${ROW_SAVEPOINT};\n${sql};\nRELEASE SAVEPOINT ${ROW_SAVEPOINT}`, 'utf8')]);
      if (outcome.failure) {
        await this.#control(`ROLLBACK TO SAVEPOINT ${ROW_SAVEPOINT}`);
        this.#logger.error({ command: sql, error: describeFailure(outcome.failure) }, 'the command signal failed on the target; the stream goes on');
      } else this.#logger.info({ command: sql, result: outcome.commands.slice(1, -1).join(', ') }, 'ran the command signal on the target');
      return;
    }
    await this.#appliers.get(message.prefix)!.apply(message, connection);
  }

  /** Makes everything committed on the target so far durable (a no-op with synchronous commits). */
  async #flushAll(connection: WireConnection): Promise<void> {
    if (this.#flushes) await connection.query(forceFlushSql(this.#stream));
  }

  /** The connection, inside a target transaction. */
  async #openTransaction(): Promise<WireConnection> {
    const connection = await this.#connect();
    if (!this.#txnOpen) {
      await this.#control('BEGIN');
      this.#txnOpen = true;
    }
    return connection;
  }

  /** Runs statements (with the data of their COPYs), turning a lost connection into TARGET_UNREACHABLE. */
  async #run(text: readonly Buffer[], copies: readonly (readonly Buffer[])[] = []): Promise<StatementsOutcome> {
    try {
      return await this.#connection!.run(text, copies);
    } catch (error) {
      throw asTargetError(error, this.#config.connection, 'lost the connection to the target');
    }
  }

  /** Runs a transaction-control statement, which must succeed. */
  async #control(sql: string): Promise<void> {
    const outcome = await this.#run([Buffer.from(sql)]);
    if (outcome.failure) throw asTargetError(outcome.failure, this.#config.connection, `cannot ${sql.toLowerCase()} on the target`);
  }

  /** Logs updates that found fewer rows than they carried (rows missing on the target), as native replication does. */
  #warnMissingRows(expectations: readonly StatementExpectation[], commands: readonly string[], first: number): void {
    for (let n = 0; n < commands.length; n++) {
      const expected = expectations[first + n]!;
      if (expected.kind !== 'update' || expected.rows === undefined) continue;
      const affected = Number(commands[n]!.slice(commands[n]!.lastIndexOf(' ') + 1));
      if (affected >= expected.rows) continue;
      this.#logger.warn(
        { table: tableName(expected.table), missing: expected.rows - affected, ...(expected.tuples.length === 1 ? { key: rowKey(expected) } : {}) },
        'rows to update are missing on the target; the updates were skipped',
      );
    }
  }
}

function sameTruncate(event: StreamEvent, first: TruncateEvent): boolean {
  return event.kind === 'truncate' && event.lsn === first.lsn && event.txn === first.txn;
}

function tableName(table: TableInfo | undefined): string {
  return table ? `${table.schema}.${table.table}` : '(none)';
}

function rowKey(expectation: StatementExpectation): string {
  return expectation.table && expectation.tuples.length > 0 ? keyText(expectation.table, expectation.tuples[0]!) : '';
}

/** The server's message and detail (which names the key of a constraint violation). */
function describeFailure(failure: PgcdcError): string {
  const fields = serverFields(failure);
  if (!fields) return failure.message;
  return `${fields.message}${fields.detail ? ` (${fields.detail})` : ''} [SQLSTATE ${fields.code}]`;
}

/** The start of statement `index`'s text, for the error message. */
function statementText(text: Buffer, expectations: readonly StatementExpectation[], index: number): string {
  const end = expectations[index + 1]?.offset ?? text.length;
  const sql = text.toString('utf8', expectations[index]!.offset, Math.min(end, expectations[index]!.offset + 400)).trim().replace(/\s+/g, ' ');
  return end - expectations[index]!.offset > 400 ? `${sql}…` : sql;
}
