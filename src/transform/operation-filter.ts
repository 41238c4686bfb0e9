/**
 * `spec.transform.keepOperations`: which operations of a table reach the target. The first rule
 * whose table pattern matches decides, once per table (cached by TableInfo); a table no rule
 * matches keeps every operation. Row events are `c`/`u`/`d`/`r`, truncates `t`.
 */
import type { TransformConfig, TransformOperation } from '../config/transform-settings.js';
import type { StreamEvent, TableInfo } from '../events/stream-event.js';
import { anchoredPattern } from '../pipeline/change-filter.js';

export class OperationFilter {
  readonly #rules: readonly { readonly tables: readonly RegExp[]; readonly operations: ReadonlySet<TransformOperation> }[];
  /** Per table: the operations kept, or null when all are. */
  readonly #kept = new WeakMap<TableInfo, ReadonlySet<string> | null>();

  constructor(rules: TransformConfig['keepOperations']) {
    this.#rules = rules.map((rule) => ({ tables: rule.tables.map(anchoredPattern), operations: new Set(rule.operations) }));
  }

  get isEmpty(): boolean {
    return this.#rules.length === 0;
  }

  /** The events of `events` whose operation their table keeps (the same array when all are kept). */
  apply(events: readonly StreamEvent[]): readonly StreamEvent[] {
    let out: StreamEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const kept = event.kind === 'row' ? this.#keeps(event.table, event.op) : event.kind === 'truncate' ? this.#keeps(event.table, 't') : true;
      if (kept) out?.push(event);
      else out ??= events.slice(0, i);
    }
    return out ?? events;
  }

  #keeps(table: TableInfo, op: string): boolean {
    let kept = this.#kept.get(table);
    if (kept === undefined) {
      const name = `${table.schema}.${table.table}`;
      kept = this.#rules.find((rule) => rule.tables.some((re) => re.test(name)))?.operations ?? null;
      this.#kept.set(table, kept);
    }
    return kept === null || kept.has(op);
  }
}
