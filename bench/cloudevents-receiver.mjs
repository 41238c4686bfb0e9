/**
 * The benchmarks' CloudEvents receiver, run as its own process on the loopback: parses every
 * request's JSON (one event, or a batch array), counts the events, and for each one records the
 * time from its source commit (`data.source.ts_us`) to its arrival. `GET /stats?since=<ms>` answers
 * `{events, requests, latenciesMs: {count, p50, p99, max}}`, the latencies of the events committed
 * at or after `since` (epoch ms); it prints its port on standard output.
 */
import http from 'node:http';

let events = 0;
let requests = 0;
/** Commit time and latency of each event, in ms. */
const commitsMs = [];
const latenciesMs = [];
const recordLatency = process.argv.includes('--latency');

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    const since = Number(new URL(req.url, 'http://receiver').searchParams.get('since') ?? 0);
    const sorted = latenciesMs.filter((_, i) => commitsMs[i] >= since).sort((a, b) => a - b);
    const at = (p) => (sorted.length === 0 ? null : +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2));
    res.end(JSON.stringify({ events, requests, latenciesMs: { count: sorted.length, p50: at(50), p99: at(99), max: at(100) } }));
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const list = Array.isArray(body) ? body : [body];
    requests++;
    events += list.length;
    if (recordLatency) {
      const nowMs = performance.timeOrigin + performance.now();
      for (const event of list) {
        const commitMs = event.data.source.ts_us / 1000;
        commitsMs.push(commitMs);
        latenciesMs.push(nowMs - commitMs);
      }
    }
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
