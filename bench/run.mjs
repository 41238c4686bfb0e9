/**
 * Runs the benchmarks named on the command line (default: all), each in its own Node.js process,
 * one after the other: `npm run bench -- stream latency`. A benchmark that fails (pgcdc failed,
 * delivered wrong or missing data, a reference tool failed) does not stop the others; the run
 * ends with a summary and exits non-zero if any failed. `PGCDC_BENCH_SMOKE=1` (`npm run
 * bench:smoke`) runs them all with a tiny workload, to check that they still work.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SMOKE } from './bench-support.mjs';

const available = {
  stream: './stream-throughput.mjs',
  latency: './stream-latency.mjs',
  snapshot: './snapshot-throughput.mjs',
  apply: './postgres-apply.mjs',
  load: './postgres-load.mjs',
  cloudevents: './cloudevents-throughput.mjs',
  'cloudevents-latency': './cloudevents-latency.mjs',
  pglambda: './pglambda-throughput.mjs',
  webhooks: './webhook-throughput.mjs',
  sandbox: './function-sandbox.mjs',
  kafka: './kafka-throughput.mjs',
  'kafka-source': './kafka-source-throughput.mjs',
  nats: './nats-throughput.mjs',
  redis: './redis-throughput.mjs',
  rabbitmq: './rabbitmq-throughput.mjs',
  serve: './serve-streams.mjs',
  transform: './transform-throughput.mjs',
};
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(available);
const unknown = names.filter((name) => !available[name]);
if (unknown.length > 0) {
  console.error(`unknown benchmark "${unknown.join('", "')}"; available: ${Object.keys(available).join(', ')}`);
  process.exit(2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
if (SMOKE) console.error('smoke mode (PGCDC_BENCH_SMOKE=1): tiny workloads; the figures mean nothing');
const started = Date.now();
const outcomes = [];
for (const name of names) {
  console.error(`\n=== ${name}`);
  const benchStarted = Date.now();
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(available[name], import.meta.url))], { cwd: root, stdio: 'inherit' });
    child.once('error', (error) => {
      console.error(error);
      resolve(1);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal));
  });
  outcomes.push({ name, code, seconds: (Date.now() - benchStarted) / 1000 });
}

console.error(`\n=== summary (${((Date.now() - started) / 1000).toFixed(0)} s)`);
for (const { name, code, seconds } of outcomes) console.error(`${code === 0 ? 'ok    ' : 'FAILED'} ${name.padEnd(20)} ${seconds.toFixed(0).padStart(5)} s${code === 0 ? '' : ` (exit ${code})`}`);
const failed = outcomes.filter((outcome) => outcome.code !== 0);
if (failed.length > 0) {
  console.error(`${failed.length} of ${outcomes.length} benchmarks failed: ${failed.map((outcome) => outcome.name).join(', ')}`);
  process.exit(1);
}
