/**
 * Throughput and lag over time for one stream: the events-per-second rate over the last 10 seconds
 * (from one sample of the delivered-events total per second), and a ring of one point every 5
 * seconds over the last hour (events/s, lag bytes, lag seconds) for the dashboard's charts.
 */
import type { HistoryPoint } from './stream-stats.js';

const RATE_WINDOW_SECONDS = 10;
const HISTORY_POINTS = 720; // one hour at one point every 5 s

export class ThroughputHistory {
  /** Delivered-event totals, one per second, the oldest first (at most RATE_WINDOW_SECONDS + 1). */
  readonly #totals: { t: number; events: number }[] = [];
  readonly #points: HistoryPoint[] = [];

  /** Records the delivered-events total (once a second). */
  sample(events: number, now: number): void {
    this.#totals.push({ t: now, events });
    if (this.#totals.length > RATE_WINDOW_SECONDS + 1) this.#totals.shift();
  }

  /** Events per second over the last 10 seconds (or since the first sample). */
  eventsPerSecond(events: number, now: number): number {
    const oldest = this.#totals.find((s) => s.t >= now - RATE_WINDOW_SECONDS * 1000 - 500) ?? this.#totals[0];
    if (oldest === undefined || now - oldest.t < 1) return 0;
    return Math.max(0, (events - oldest.events) / ((now - oldest.t) / 1000));
  }

  /** Adds a point of the hour's history. */
  addPoint(point: HistoryPoint): void {
    this.#points.push(point);
    if (this.#points.length > HISTORY_POINTS) this.#points.shift();
  }

  points(): readonly HistoryPoint[] {
    return this.#points.slice();
  }
}
