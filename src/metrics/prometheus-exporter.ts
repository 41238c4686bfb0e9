/**
 * The Prometheus text exposition (prom-client): one Counter or Gauge per catalogue entry whose
 * `collect` sets its samples from the streams' readings taken at the start of the scrape (counters
 * are reset and set to the running totals the streams keep: nothing is counted twice, and a removed
 * stream's samples disappear), plus the batch write-time histogram observed as batches complete.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BATCH_WRITE_BUCKETS, BATCH_WRITE_METRIC, type MetricDefinition } from './metric-catalogue.js';
import type { StreamReading } from './stream-metrics.js';

export class PrometheusExporter {
  readonly registry = new Registry();
  readonly #histogram: Histogram<'stream'>;
  #readings: readonly StreamReading[] = [];

  constructor(definitions: readonly MetricDefinition[]) {
    const exporter = this;
    for (const definition of definitions) {
      const config = { name: definition.name, help: definition.help, labelNames: definition.labels, registers: [this.registry] };
      if (definition.kind === 'counter') {
        new Counter({
          ...config,
          collect(this: Counter) {
            this.reset();
            for (const reading of exporter.#readings) definition.read(reading, (labels, value) => this.inc(labels, value));
          },
        });
      } else {
        new Gauge({
          ...config,
          collect(this: Gauge) {
            this.reset();
            for (const reading of exporter.#readings) definition.read(reading, (labels, value) => this.set(labels, value));
          },
        });
      }
    }
    this.#histogram = new Histogram({ ...BATCH_WRITE_METRIC, labelNames: ['stream'], buckets: BATCH_WRITE_BUCKETS, registers: [this.registry] });
  }

  /** Records one batch's write time. */
  batchWritten(stream: string, seconds: number): void {
    this.#histogram.observe({ stream }, seconds);
  }

  /** Forgets a removed stream's histogram. */
  removeStream(stream: string): void {
    this.#histogram.remove({ stream });
  }

  /** The exposition of these readings. */
  async scrape(readings: readonly StreamReading[]): Promise<{ readonly contentType: string; readonly body: string }> {
    this.#readings = readings;
    try {
      return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    } finally {
      this.#readings = [];
    }
  }
}
