/**
 * The metrics of `pgcdc serve`: src/serve creates one ServeMetrics, asks it for a StreamMetrics per
 * stream, passes that stream's `observer` to runStream, tells it the stream's state, and serves
 * `scrape()` at GET /metrics and each stream's `stats()` / `history()` in its JSON API. The metrics
 * themselves are defined once (metric-catalogue, debezium-metric-names) and exported in the
 * Prometheus text format (prometheus-exporter) and, when configured, over OTLP (otlp-export).
 * A scrape reads figures the streams already hold; nothing in it waits on a database.
 */
import { createRequire } from 'node:module';
import type { StreamConfig } from '../config/stream-config.js';
import type { Logger } from '../logging/logger.js';
import { DEBEZIUM_METRICS } from './debezium-metric-names.js';
import { PGCDC_METRICS } from './metric-catalogue.js';
import { OtlpExport, otlpOptionsInForce, type OtlpOptions } from './otlp-export.js';
import { PrometheusExporter } from './prometheus-exporter.js';
import { StreamMetrics, type StreamReading } from './stream-metrics.js';

export type { AlertStats, HistoryPoint, SnapshotTableStats, StreamRunState, StreamStats } from './stream-stats.js';
export type { OtlpOptions } from './otlp-export.js';
export type { StreamReading } from './stream-metrics.js';
export { StreamMetrics };

export interface ServeMetricsOptions {
  readonly logger: Logger;
  /** Push the metrics over OTLP/HTTP; default: when OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT is set; `false`: never. */
  readonly otlp?: OtlpOptions | false;
  /** How often each stream's slot status is read from the source (default 5000 ms). */
  readonly slotPollIntervalMs?: number;
}

const ALL_METRICS = [...PGCDC_METRICS, ...DEBEZIUM_METRICS];

export class ServeMetrics {
  readonly #streams = new Map<string, StreamMetrics>();
  readonly #options: ServeMetricsOptions;
  readonly #prometheus = new PrometheusExporter(ALL_METRICS);
  readonly #otlp: OtlpExport | undefined;

  constructor(options: ServeMetricsOptions) {
    this.#options = options;
    const otlp = otlpOptionsInForce(options.otlp);
    this.#otlp = otlp && new OtlpExport(otlp, ALL_METRICS, () => this.#readings(), pgcdcVersion());
    if (otlp) options.logger.info({ url: otlp.url ?? process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting metrics over OTLP');
  }

  /** The metrics of a stream (created on first use; a changed spec replaces the config). */
  stream(name: string, config: StreamConfig): StreamMetrics {
    let metrics = this.#streams.get(name);
    if (metrics) metrics.reconfigure(config);
    else {
      metrics = new StreamMetrics(name, config, {
        logger: this.#options.logger,
        ...(this.#options.slotPollIntervalMs === undefined ? {} : { slotPollIntervalMs: this.#options.slotPollIntervalMs }),
        batchWritten: (stream, seconds) => {
          this.#prometheus.batchWritten(stream, seconds);
          this.#otlp?.batchWritten(stream, seconds);
        },
      });
      this.#streams.set(name, metrics);
    }
    return metrics;
  }

  /** Forgets a stream that was removed. */
  remove(name: string): void {
    this.#streams.get(name)?.close();
    this.#streams.delete(name);
    this.#prometheus.removeStream(name);
  }

  /** The Prometheus text exposition of every stream's metrics. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    return this.#prometheus.scrape(this.#readings());
  }

  /** Pushes the metrics over OTLP now (when it is configured). */
  async flushOtlp(): Promise<void> {
    await this.#otlp?.flush();
  }

  async close(): Promise<void> {
    await this.#otlp?.close();
    for (const name of [...this.#streams.keys()]) this.remove(name);
  }

  #readings(): StreamReading[] {
    const now = Date.now();
    return [...this.#streams.values()].map((stream) => stream.read(now));
  }
}

function pgcdcVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
