/**
 * The metrics over OTLP/HTTP to a real OpenTelemetry Collector (built from the Go module proxy by
 * test/support/otelcol/install-otelcol.sh: an OTLP receiver and the debug exporter, whose detailed
 * log of every data point received is what this test reads): a stream's delivered events arrive
 * with their labels and values, as do the Debezium names and the batch histogram.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { ServeMetrics } from '../../src/metrics/serve-metrics.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, tempDir } from '../support/stream-fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The data points the collector logged for metric `name`: their attributes and value. */
function dataPoints(log: string, name: string): { attributes: Record<string, string>; value: number | undefined; count: number | undefined }[] {
  const points: { attributes: Record<string, string>; value: number | undefined; count: number | undefined }[] = [];
  for (const block of log.split(/^Metric #\d+$/m).slice(1)) {
    if (!new RegExp(`-> Name: ${name}$`, 'm').test(block)) continue;
    for (const point of block.split(/^(?:Number|Histogram)DataPoints #\d+$/m).slice(1)) {
      const attributes: Record<string, string> = {};
      for (const m of point.matchAll(/^\s*-> (\w+): Str\((.*)\)$/gm)) attributes[m[1]!] = m[2]!;
      const value = /^Value: (\S+)$/m.exec(point);
      const count = /^Count: (\d+)$/m.exec(point);
      points.push({ attributes, value: value ? Number(value[1]) : undefined, count: count ? Number(count[1]) : undefined });
    }
  }
  return points;
}

describe('OTLP export', () => {
  const server = useTestServer();
  let collector: ChildProcess | undefined;
  let log = '';
  let endpoint = '';

  beforeAll(async () => {
    const binary = execFileSync(path.join(here, '../support/otelcol/install-otelcol.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 590_000 }).trim();
    const port = await freePort();
    const dir = tempDir('pgcdc-otelcol-');
    const config = path.join(dir, 'collector.yaml');
    fs.writeFileSync(
      config,
      `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${port}\nexporters:\n  debug:\n    verbosity: detailed\nservice:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [debug]\n`,
    );
    collector = spawn(binary, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    collector.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    collector.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    await waitFor(() => (log.includes('Everything is ready') ? true : undefined), 30_000, 'the collector to start');
    endpoint = `http://127.0.0.1:${port}/v1/metrics`;
  }, 600_000);
  afterAll(() => {
    collector?.kill();
  });

  it('pushes the stream metrics, Debezium names and the batch histogram to a collector', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key)');
    const { config } = await fileStream({ url });
    const metrics = new ServeMetrics({ logger: silentLogger(), otlp: { url: endpoint, intervalMs: 60_000 }, slotPollIntervalMs: 200 });
    const streamMetrics = metrics.stream(config.name, config);
    streamMetrics.setState('running');
    const stop = new AbortController();
    const run = runStream(config, { logger: silentLogger(), signal: stop.signal, observer: streamMetrics.observer });
    try {
      await waitFor(() => (streamMetrics.read().connected ? true : undefined), 20_000, 'the stream to connect');
      await sql(url, 'insert into t select generate_series(1, 12)');
      await sql(url, 'update t set id = id + 100 where id <= 5');
      await waitFor(async () => ((await streamMetrics.stats()).events === 17 ? true : undefined), 20_000, 'the events delivered');
      await metrics.flushOtlp();
      const events = await waitFor(() => {
        const points = dataPoints(log, 'pgcdc_events_total').filter((p) => p.attributes.stream === config.name);
        return points.length >= 2 ? points : undefined;
      }, 20_000, 'pgcdc_events_total at the collector');
      expect(events.find((p) => p.attributes.operation === 'c')).toMatchObject({ attributes: { table: 'public.t' }, value: 12 });
      expect(events.find((p) => p.attributes.operation === 'u')).toMatchObject({ attributes: { table: 'public.t' }, value: 5 });
      expect(dataPoints(log, 'debezium_metrics_NumberOfCreateEventsSeen').find((p) => p.attributes.name === config.name)?.value).toBe(12);
      expect(dataPoints(log, 'pgcdc_transactions_total').find((p) => p.attributes.stream === config.name)?.value).toBe(2);
      const batches = (await streamMetrics.stats()).batches;
      expect(dataPoints(log, 'pgcdc_batch_write_seconds').find((p) => p.attributes.stream === config.name)?.count).toBe(batches);
    } finally {
      stop.abort();
      await run.catch(() => undefined);
      await metrics.close();
    }
  });
});
