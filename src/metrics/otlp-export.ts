/**
 * The same metrics over OTLP/HTTP (OpenTelemetry's SDK): one observable instrument per catalogue
 * entry, read in one batch callback at each export from the streams' readings, and the batch
 * write-time histogram recorded as batches complete. Enabled by the `otlp` option or by the
 * standard environment (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, their
 * _HEADERS, OTEL_METRIC_EXPORT_INTERVAL), which the exporter reads itself.
 */
import type { Attributes, BatchObservableResult, Histogram, Observable } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BATCH_WRITE_BUCKETS, BATCH_WRITE_METRIC, type MetricDefinition } from './metric-catalogue.js';
import type { StreamReading } from './stream-metrics.js';

/** Where and how often metrics are pushed. */
export interface OtlpOptions {
  /** The OTLP/HTTP metrics URL, e.g. `http://collector:4318/v1/metrics` (default: from the environment). */
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Milliseconds between exports (default OTEL_METRIC_EXPORT_INTERVAL, else 60000). */
  readonly intervalMs?: number;
}

/** The OTLP options in force: the option given, else the environment's, else none (off). */
export function otlpOptionsInForce(option: OtlpOptions | false | undefined, env: NodeJS.ProcessEnv = process.env): OtlpOptions | undefined {
  if (option === false) return undefined;
  if (option !== undefined) return option;
  return env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT ? {} : undefined;
}

export class OtlpExport {
  readonly #provider: MeterProvider;
  readonly #histogram: Histogram;

  constructor(options: OtlpOptions, definitions: readonly MetricDefinition[], readings: () => readonly StreamReading[], version: string) {
    const intervalMs = options.intervalMs ?? (Number(process.env.OTEL_METRIC_EXPORT_INTERVAL) || 60_000);
    const exporter = new OTLPMetricExporter({
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
    });
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME || 'pgcdc', 'service.version': version }),
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: intervalMs, exportTimeoutMillis: Math.min(30_000, intervalMs) })],
    });
    const meter = this.#provider.getMeter('pgcdc', version);
    const instruments = definitions.map((definition) => ({
      definition,
      instrument: (definition.kind === 'counter' ? meter.createObservableCounter : meter.createObservableGauge).call(meter, definition.name, { description: definition.help }) as Observable,
    }));
    meter.addBatchObservableCallback(
      (result: BatchObservableResult) => {
        const current = readings();
        for (const { definition, instrument } of instruments) {
          for (const reading of current) definition.read(reading, (labels, value) => result.observe(instrument, value, labels as Attributes));
        }
      },
      instruments.map((i) => i.instrument),
    );
    this.#histogram = meter.createHistogram(BATCH_WRITE_METRIC.name, { description: BATCH_WRITE_METRIC.help, unit: 's', advice: { explicitBucketBoundaries: BATCH_WRITE_BUCKETS } });
  }

  batchWritten(stream: string, seconds: number): void {
    this.#histogram.record(seconds, { stream });
  }

  /** Exports now. */
  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  /** Exports a last time and stops. */
  close(): Promise<void> {
    return this.#provider.shutdown();
  }
}
