/**
 * Runs a transform function over a batch: each row event rendered as a plain object (Debezium's
 * payload shape: `op`, `before`, `after`, `source{schema,table,lsn,txId,ts_ms}`), one sandbox call
 * for the whole batch (with the network grant, one run of the batch that may wait for fetches),
 * and each result turned back into row events every encoder renders as it renders any other: over a synthetic TableInfo whose columns are the result's keys (values written
 * as their JSON text, cached per table and key list) and tuples in pgoutput's layout holding those
 * JSON texts (`events/json-valued-rows`). Events the function returns unchanged are kept as they are (nothing rebuilt). Other
 * events (truncates, messages, transaction boundaries, schema changes) pass through untouched.
 */
import type { ColumnInfo, RowEvent, StreamEvent, TableInfo } from '../events/stream-event.js';
import { JsonWriter } from '../encoding/json-writer.js';
import { writeTupleJson } from '../events/tuple-json.js';
import { jsonValuedColumn, textTuple } from '../events/json-valued-rows.js';
import type { TupleRef } from '../decoding/pgoutput-messages.js';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { formatLsn } from '../source/lsn.js';
import type { SandboxGrantsConfig } from '../targets/function/sandbox-grants.js';
import type { BatchOutcome } from './transform-sandbox.js';

const NEWLINE = 0x0a;

/** What runs the function: the sandbox, or anything answering as it does. */
export interface TransformRunner {
  run(linesJson: string): Promise<BatchOutcome>;
  /** Starts afresh after the memory limit was hit. */
  reset(): void;
}

/** An event the function failed for, as the function saw it, and why. */
export interface TransformFailure {
  readonly event: RowEvent;
  /** The event as the function was given it (JSON). */
  readonly eventJson: string;
  readonly error: string;
}

/** A batch after the function: the events to deliver, and those set aside (dead-letter policy only). */
export interface TransformedBatch {
  readonly events: readonly StreamEvent[];
  readonly failures: readonly TransformFailure[];
}

const OPS: ReadonlySet<string> = new Set(['c', 'u', 'd', 'r']);

export interface EventTransformOptions {
  readonly origin: string;
  readonly timeoutMs: number;
  readonly memoryLimitMb: number;
  /** `stop`: a failure throws; `dead-letter`: failed events are returned apart and the others go on. */
  readonly policy: 'stop' | 'dead-letter';
  /**
   * Records carry Kafka Connect schemas: a field the table has no column for is described as a JSON
   * string (`io.debezium.data.Json`), so its value is written as its JSON text in a string.
   */
  readonly newFieldsAsText: boolean;
  /** The function's grants: with `allowNetwork`, its fetches count in the time limit (said in the error). */
  readonly grants?: SandboxGrantsConfig;
}

export class EventTransform {
  readonly #runner: TransformRunner;
  readonly #options: EventTransformOptions;
  readonly #w = new JsonWriter(256 * 1024);
  /** Synthetic tables by source table, then by their column list. */
  readonly #tables = new WeakMap<TableInfo, Map<string, TableInfo>>();

  constructor(runner: TransformRunner, options: EventTransformOptions) {
    this.#runner = runner;
    this.#options = options;
  }

  /**
   * The batch with every row event replaced by what the function returned for it.
   *
   * @throws PgcdcError TRANSFORM_FAILED (policy `stop`) naming the event when the function throws
   *   or returns something that is not an event, and the batch when it exceeds its time or memory limit
   */
  async apply(events: readonly StreamEvent[]): Promise<TransformedBatch> {
    const rows: RowEvent[] = [];
    const w = this.#w;
    for (const event of events) {
      if (event.kind !== 'row') continue;
      if (rows.length > 0) w.byte(NEWLINE);
      writeEventJson(w, event);
      rows.push(event);
    }
    if (rows.length === 0) return { events, failures: [] };
    const chunks = w.take();
    const input = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    w.recycle();
    const failures: TransformFailure[] = [];
    const results = await this.#results(input, rows, failures);
    const out: StreamEvent[] = [];
    let index = 0;
    for (const event of events) {
      if (event.kind !== 'row') {
        out.push(event);
        continue;
      }
      const at = index++;
      const result = results[at];
      if (result === 1) out.push(event);
      else if (result === null || result === 0) continue;
      else {
        try {
          const rebuilt = Array.isArray(result) ? result.map((item) => this.#rebuild(event, item)) : [this.#rebuild(event, result)];
          for (const item of rebuilt) out.push(item);
        } catch (error) {
          if (this.#options.policy === 'stop') throw error;
          failures.push({ event, eventJson: lineAt(input, at), error: (error as Error).message });
        }
      }
    }
    return { events: out, failures };
  }

  /** One result per row; failures added to `failures` (or thrown with the stop policy). */
  async #results(input: string, rows: readonly RowEvent[], failures: TransformFailure[]): Promise<readonly unknown[]> {
    const outcome = await this.#runner.run(input);
    if (outcome.kind === 'done') {
      this.#failed(outcome.failures, rows, input, failures);
      return JSON.parse(outcome.resultsJson) as unknown[];
    }
    if (outcome.kind === 'memory') this.#runner.reset();
    if (this.#options.policy === 'stop') throw this.#limitError(outcome.kind, `a batch of ${rows.length} events (${describeRange(rows)})`);
    // Over a limit with the dead-letter policy: each event alone, to set aside only those at fault.
    const lines = input.split('\n');
    const results: unknown[] = [];
    for (const [i, line] of lines.entries()) {
      const single = await this.#runner.run(line);
      if (single.kind === 'done') {
        this.#failed(single.failures, [rows[i]!], line, failures);
        results.push((JSON.parse(single.resultsJson) as unknown[])[0]);
        continue;
      }
      if (single.kind === 'memory') this.#runner.reset();
      failures.push({ event: rows[i]!, eventJson: line, error: this.#limitError(single.kind, 'this event').message });
      results.push(0);
    }
    return results;
  }

  #failed(reported: readonly (readonly [number, string])[], rows: readonly RowEvent[], input: string, failures: TransformFailure[]): void {
    for (const [index, message] of reported) {
      const event = rows[index]!;
      const what = message.split('\n').slice(0, 2).join(' ');
      if (this.#options.policy === 'stop') throw failure(event, what, this.#options.origin);
      failures.push({ event, eventJson: lineAt(input, index), error: what });
    }
  }

  #limitError(kind: 'timeout' | 'memory', what: string): PgcdcError {
    const { origin, timeoutMs, memoryLimitMb, grants } = this.#options;
    return kind === 'timeout'
      ? new PgcdcError('TRANSFORM_FAILED', `the transform function (${origin}) took longer than ${timeoutMs} ms for ${what}`, {
          hint:
            grants?.allowNetwork === undefined
              ? 'make the function faster, or raise spec.transform.timeoutMs'
              : 'the time limit covers the function and the fetches it waits for: make them faster (or set grants.allowNetwork.timeoutMs and catch its TimeoutError), or raise spec.transform.timeoutMs',
        })
      : new PgcdcError('TRANSFORM_FAILED', `the transform function (${origin}) went over its memory limit of ${memoryLimitMb} MB in ${what}`, {
          hint: 'make the function keep less, or raise spec.transform.memoryLimitMb',
        });
  }

  /** One returned event as a RowEvent over a synthetic table, keeping the source event's position. */
  #rebuild(source: RowEvent, result: unknown): RowEvent {
    const problem = (what: string): PgcdcError => failure(source, what, this.#options.origin);
    if (result === null || typeof result !== 'object' || Array.isArray(result)) throw problem('the function returned a value that is not an event object (inside an array, each item must be an event object)');
    const event = result as Record<string, unknown>;
    const op = event.op;
    if (typeof op !== 'string' || !OPS.has(op)) throw problem(`the returned event's op is ${JSON.stringify(op)}; expected "c", "u", "d" or "r"`);
    const before = imageOf(event.before, 'before', problem);
    const after = imageOf(event.after, 'after', problem);
    if (op === 'd' ? before === null : after === null) throw problem(`the returned event has op "${op}" but no ${op === 'd' ? 'before' : 'after'} object`);
    const destination = event.destination;
    if (destination !== undefined && destination !== null && (typeof destination !== 'string' || destination === '')) throw problem('the returned event\'s destination is not a non-empty string');
    const names = columnNames(before, after);
    const table = this.#syntheticTable(source.table, names);
    return {
      kind: 'row',
      op: op as RowEvent['op'],
      table,
      lsn: source.lsn,
      txn: source.txn,
      before: before === null ? null : tupleOf(before, names, 'O'),
      after: after === null ? null : tupleOf(after, names, 'N'),
      ...(source.snapshot === undefined ? {} : { snapshot: source.snapshot }),
      ...(typeof destination === 'string' ? { destination } : {}),
    };
  }

  #syntheticTable(source: TableInfo, names: readonly string[]): TableInfo {
    let byColumns = this.#tables.get(source);
    if (byColumns === undefined) {
      byColumns = new Map();
      this.#tables.set(source, byColumns);
    }
    const cacheKey = names.join('\u0000');
    let table = byColumns.get(cacheKey);
    if (table === undefined) {
      table = syntheticTable(source, names, this.#options.newFieldsAsText);
      byColumns.set(cacheKey, table);
    }
    return table;
  }
}

/** `{"op":…,"before":…,"after":…,"source":{…}}` of a row event, as the function sees it. */
function writeEventJson(w: JsonWriter, event: RowEvent): void {
  w.raw('{"op":"');
  w.raw(event.op);
  w.raw('","before":');
  if (event.before === null) w.raw('null');
  else writeTupleJson(w, event.table, event.before);
  w.raw(',"after":');
  if (event.after === null) w.raw('null');
  else writeTupleJson(w, event.table, event.after);
  w.raw(',"source":{');
  w.utf8(event.table.sourceJson);
  w.raw(',"lsn":');
  w.integer(event.lsn);
  w.raw(',"txId":');
  w.integer(event.txn.xid);
  w.raw(',"ts_ms":');
  w.integer(Math.floor(event.txn.commitTimeMicros / 1000));
  w.raw('}}');
}

function imageOf(value: unknown, name: string, problem: (what: string) => PgcdcError): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw problem(`the returned event's ${name} is not an object or null`);
  return value as Record<string, unknown>;
}

/** The columns of a returned event: the keys of `after`, then those only `before` has. */
function columnNames(before: Record<string, unknown> | null, after: Record<string, unknown> | null): string[] {
  const names = Object.keys(after ?? before ?? {});
  if (before !== null && after !== null) for (const name of Object.keys(before)) if (!(name in after)) names.push(name);
  return names;
}

/** A TupleData holding each value's JSON text (`n` for null or absent). */
function tupleOf(image: Record<string, unknown>, names: readonly string[], kind: 'O' | 'N'): TupleRef {
  const texts: (string | null)[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const value = image[names[i]!];
    texts[i] =
      value === undefined || value === null ? null : typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)) ? String(value) : JSON.stringify(value);
  }
  return textTuple(texts, kind);
}

/** A table whose columns are `names`, values written as their JSON text; the source's key columns kept by name. */
function syntheticTable(source: TableInfo, names: readonly string[], newFieldsAsText: boolean): TableInfo {
  const original = new Map<string, ColumnInfo>();
  for (const column of source.columns) if (column.included) original.set(JSON.parse(column.jsonKey.slice(0, -1)) as string, column);
  const columns: ColumnInfo[] = names.map((name) => {
    const from = original.get(name);
    return from === undefined ? jsonValuedColumn(name, { asString: newFieldsAsText }) : jsonValuedColumn(name, { from });
  });
  const keyNames = source.keyColumns.map((index) => source.columns[index]!).map((column) => JSON.parse(column.jsonKey.slice(0, -1)) as string);
  const keyColumns = keyNames.map((name) => names.indexOf(name)).filter((index) => index >= 0);
  const { addedFieldsJson: _added, ...rest } = source;
  return { ...rest, columns, keyColumns: keyColumns.length === keyNames.length ? keyColumns : [] };
}

function failure(event: RowEvent, what: string, origin: string): PgcdcError {
  return new PgcdcError('TRANSFORM_FAILED', `the transform function (${origin}) failed for the ${event.op} event of ${event.table.schema}.${event.table.table} at LSN ${formatLsn(event.lsn)}: ${what}`, {
    hint: 'fix the function (it must return the event, null to drop it, or an array of events); nothing from this event on was acknowledged',
  });
}

/** Line `index` of the batch's input (one event per line). */
function lineAt(input: string, index: number): string {
  let start = 0;
  for (let i = 0; i < index; i++) start = input.indexOf('\n', start) + 1;
  const end = input.indexOf('\n', start);
  return input.slice(start, end < 0 ? undefined : end);
}

function describeRange(rows: readonly RowEvent[]): string {
  return `LSN ${formatLsn(rows[0]!.lsn)} to ${formatLsn(rows[rows.length - 1]!.lsn)}`;
}
