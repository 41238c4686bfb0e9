/**
 * Alerts of a real stream (spec.alerts, parsed from the YAML): a CloudEvent receiver that holds its
 * answers stalls the target, the lag in seconds crosses its threshold → a warning line naming the
 * stream, alert, value and threshold, `pgcdc_alert_active` 1 and a `firing` POST to a real HTTP
 * alert receiver; the receiver answers again → an info line, the metric 0, a `resolved` POST.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStreamConfig } from '../../src/config/load-stream-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { ServeMetrics } from '../../src/metrics/serve-metrics.js';
import { runStream } from '../../src/pipeline/run-stream.js';
import { capturedLogger } from '../support/captured-logger.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { tempDir } from '../support/stream-fixtures.js';
import { sampleValue } from '../metrics/exposition.js';

/** A real HTTP server recording the JSON bodies POSTed to it. */
async function alertReceiver(): Promise<{ url: string; bodies: any[]; stop(): Promise<void> }> {
  const bodies: any[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => {
      bodies.push({ ...JSON.parse(text), contentType: req.headers['content-type'], auth: req.headers.authorization });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    bodies,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('lag alerts', () => {
  const server = useTestServer();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fires when a stalled target makes the lag cross its threshold, and resolves when it delivers again', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, note text)');
    const target = await CloudEventReceiver.start();
    const alerts = await alertReceiver();
    cleanups.push(() => target.stop(), () => alerts.stop());
    const dir = tempDir('pgcdc-alerts-');
    const name = `alerts${process.pid}`;
    const document = {
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name },
      spec: {
        source: { type: 'Postgres', postgres: { url, snapshotMode: 'never' } },
        target: { type: 'CloudEvent', cloudEvent: { http: { url: target.url, readTimeout: '0', retryBackoffDelay: 0 } } },
        stateDir: path.join(dir, 'state'),
        alerts: { lagSeconds: 1, evaluationInterval: '1s', webhook: { url: alerts.url, headers: { Authorization: 'Bearer alert-token' } } },
      },
    };
    const specFile = path.join(dir, 'stream.yaml');
    fs.writeFileSync(specFile, JSON.stringify(document));
    const config = await parseStreamConfig(fs.readFileSync(specFile, 'utf8'), { fileName: specFile, cwd: dir });
    expect(config.alerts?.thresholds).toEqual({ lagSeconds: 1 });

    const log = capturedLogger();
    const metrics = new ServeMetrics({ logger: log.logger, otlp: false, slotPollIntervalMs: 200 });
    const streamMetrics = metrics.stream(name, config);
    streamMetrics.setState('running');
    const stop = new AbortController();
    const run = runStream(config, { logger: silentLogger(), signal: stop.signal, observer: streamMetrics.observer });
    cleanups.push(async () => {
      target.release();
      stop.abort();
      await run.catch(() => undefined);
      await metrics.close();
    });
    await waitFor(() => (streamMetrics.read().connected ? true : undefined), 20_000, 'the stream to connect');
    await waitFor(() => (streamMetrics.read().lagSeconds === 0 ? true : undefined), 20_000, 'the stream to be caught up');
    const alertActive = async (): Promise<number | undefined> => sampleValue((await metrics.scrape()).body, 'pgcdc_alert_active', { stream: name, alert: 'lagSeconds' });
    expect(await alertActive()).toBe(0);

    // The receiver stops answering: the change stays pending and the lag grows past 1 s.
    target.hold();
    await sql(url, "insert into items values (1, 'stuck')");
    const firing = await waitFor(() => alerts.bodies.find((b) => b.status === 'firing'), 20_000, 'the firing POST');
    expect(firing).toMatchObject({ stream: name, alert: 'lagSeconds', status: 'firing', threshold: 1, contentType: 'application/json', auth: 'Bearer alert-token' });
    expect(firing.value).toBeGreaterThan(1);
    expect(Number.isNaN(Date.parse(firing.at))).toBe(false);
    expect(await alertActive()).toBe(1);
    const warning = log.lines().find((line) => line.level === 40 && line.alert === 'lagSeconds');
    expect(warning).toMatchObject({ stream: name, alert: 'lagSeconds', threshold: 1 });
    expect(String(warning!.msg)).toContain(name);
    expect((await streamMetrics.stats()).alerts).toMatchObject([{ name: 'lagSeconds', active: true, threshold: 1 }]);
    expect(alerts.bodies.filter((b) => b.status === 'resolved')).toEqual([]);

    // The receiver answers again: delivered, caught up, resolved.
    target.release();
    const resolved = await waitFor(() => alerts.bodies.find((b) => b.status === 'resolved'), 20_000, 'the resolved POST');
    expect(resolved).toMatchObject({ stream: name, alert: 'lagSeconds', status: 'resolved', value: 0, threshold: 1 });
    expect(target.accepted.map((e) => e.data.after.note)).toEqual(['stuck']);
    expect(await alertActive()).toBe(0);
    expect(log.lines().find((line) => line.level === 30 && line.alert === 'lagSeconds')).toMatchObject({ stream: name, value: 0 });
    expect(alerts.bodies.map((b) => b.status)).toEqual(['firing', 'resolved']);
  });

  it('refuses alert settings it cannot use, saying which key is wrong', async () => {
    const dir = tempDir('pgcdc-alerts-');
    const document = {
      apiVersion: 'pgcdc/v1',
      kind: 'Stream',
      metadata: { name: 'badalerts' },
      spec: {
        source: { type: 'Postgres', postgres: { url: 'postgres://u@127.0.0.1:1/db' } },
        target: { type: 'Stdout' },
        alerts: { lagSecond: 5, evaluationInterval: '0' },
      },
    };
    const text = JSON.stringify(document);
    await expect(parseStreamConfig(text, { fileName: path.join(dir, 'stream.yaml'), cwd: dir })).rejects.toThrow(/spec\.alerts/);
  });
});
