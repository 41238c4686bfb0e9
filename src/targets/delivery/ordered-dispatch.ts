/**
 * Per-key ordered dispatch with bounded concurrency. Items (indexes into a batch, in commit order)
 * carry an ordering key; every key maps to one of `concurrency` lanes, and a lane sends its items
 * one group after another, in order: items of the same key never overtake each other, items of
 * different keys go out in parallel. A barrier item (a truncate, a schema change) is ordered against all others:
 * everything before it settles first and nothing after it starts before it has settled.
 */

/** The ordering key of an item that must wait for, and hold back, every other item. */
export const BARRIER = -1;

/** The items of one batch, as the dispatcher sees them. */
export interface DispatchItems {
  readonly count: number;
  /** Ordering key of item `index`: a non-negative integer (a hash), or BARRIER. */
  keyOf(index: number): number;
  /** Size of item `index` in bytes, to bound a group. */
  bytesOf(index: number): number;
}

export interface DispatchLimits {
  /** Lanes sending at the same time. */
  readonly concurrency: number;
  /** Items sent together at most (1: one item per send). */
  readonly maxGroupItems: number;
  /** Bytes sent together at most (a single larger item is still sent alone). */
  readonly maxGroupBytes: number;
}

/**
 * Settles one group of items of one lane (in their order). A rejection stops the dispatch: `signal`
 * is aborted for the other lanes, which start nothing new.
 */
export type GroupHandler = (group: readonly number[], signal: AbortSignal) => Promise<void>;

/**
 * Hands every item to `handle`, in per-key order; resolves once all are settled, rejects with the
 * first rejection once every lane has stopped.
 */
export async function dispatchInOrder(items: DispatchItems, limits: DispatchLimits, handle: GroupHandler): Promise<void> {
  const controller = new AbortController();
  let start = 0;
  while (start < items.count) {
    let end = start;
    while (end < items.count && items.keyOf(end) !== BARRIER) end++;
    if (end > start) await dispatchSegment(items, start, end, limits, handle, controller);
    if (end < items.count) await handle([end], controller.signal);
    start = end + 1;
  }
}

/** Items `[start, end)`, none a barrier, over the lanes. */
async function dispatchSegment(items: DispatchItems, start: number, end: number, limits: DispatchLimits, handle: GroupHandler, controller: AbortController): Promise<void> {
  const laneCount = Math.max(1, Math.min(limits.concurrency, end - start));
  const lanes: number[][] = Array.from({ length: laneCount }, () => []);
  for (let i = start; i < end; i++) lanes[items.keyOf(i) % laneCount]!.push(i);
  let firstError: { error: unknown } | undefined;
  const runLane = async (lane: number[]): Promise<void> => {
    let next = 0;
    while (next < lane.length && !controller.signal.aborted) {
      const group = [lane[next]!];
      let bytes = items.bytesOf(lane[next]!);
      next++;
      while (next < lane.length && group.length < limits.maxGroupItems) {
        const size = items.bytesOf(lane[next]!);
        if (bytes + size > limits.maxGroupBytes) break;
        group.push(lane[next]!);
        bytes += size;
        next++;
      }
      try {
        await handle(group, controller.signal);
      } catch (error) {
        firstError ??= { error };
        controller.abort();
      }
    }
  };
  await Promise.all(lanes.filter((lane) => lane.length > 0).map(runLane));
  if (firstError) throw firstError.error;
}
