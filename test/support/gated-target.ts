/**
 * Wraps a real target and holds every write until the test opens the gate: lets tests observe
 * what the source acknowledges while the target has not yet made a batch durable.
 */
import type { EventBatch } from '../../src/events/stream-event.js';
import type { Target } from '../../src/targets/target.js';

export class GatedTarget implements Target {
  readonly #inner: Target;
  #open = false;
  #waiting: (() => void)[] = [];
  /** Number of write calls that have started. */
  writesStarted = 0;

  constructor(inner: Target) {
    this.#inner = inner;
  }

  open(): Promise<void> {
    return this.#inner.open();
  }

  async write(batch: EventBatch): Promise<void> {
    this.writesStarted++;
    if (!this.#open) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    await this.#inner.write(batch);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Lets held and future writes through. */
  release(): void {
    this.#open = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}
