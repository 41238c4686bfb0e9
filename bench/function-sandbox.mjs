/**
 * Micro-benchmark of the PgLambda script sandbox: invocations per second of one ScriptSandbox,
 * one event at a time, with a trivial script (`response.end('OK')`) and with StackGres's example
 * script (two console lines per event, sent to a sink that drops them). Each event is a CloudEvent
 * JSON text carrying a Debezium change like the ones the stream benchmark produces.
 *
 *   npm run bench -- sandbox       (or, after `npm run build`, node bench/function-sandbox.mjs)
 *
 * PGCDC_BENCH_EVENTS (default 200000; smoke 2000) sets the events per measurement; the median of
 * PGCDC_BENCH_ROUNDS (default 5; smoke 1) measurements is reported.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, setting } from './bench-support.mjs';

// isolated-vm needs Node.js 20 to run without its startup snapshot.
if (!process.execArgv.includes('--no-node-snapshot')) {
  const child = spawnSync(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const { ScriptSandbox } = await import('../dist/targets/function/script-sandbox.js');

const EVENTS = setting('PGCDC_BENCH_EVENTS', 200_000, 2_000);
const ROUNDS = setting('PGCDC_BENCH_ROUNDS', 5, 1);

const SCRIPTS = {
  trivial: "response.end('OK');",
  'stackgres-example': `const data = event.data;
console.log('Received change:', JSON.stringify(data));
if (data.op === 'c') {
  console.log('New record inserted:', data.after);
} else if (data.op === 'u') {
  console.log('Record updated:', data.before, '->', data.after);
} else if (data.op === 'd') {
  console.log('Record deleted:', data.before);
}
response.writeHead(200);
response.end('OK');`,
};

/** CloudEvent JSON texts for `count` inserts into the stream benchmark's table. */
function events(count) {
  const texts = new Array(count);
  for (let id = 1; id <= count; id++) {
    const payload = {
      before: null,
      after: { id, a: id, b: '0cc175b9c0f1b6a831c399e269772661', c: '2026-11-21T07:00:00.000000+00:00', d: (id % 100000) / 7 },
      source: { version: '0.1.0', connector: 'postgresql', name: 'bench', ts_ms: 1795238224521, snapshot: 'false', db: 'bench', sequence: '[null,"24512064"]', schema: 'public', table: 'bench', txId: 755, lsn: 24512064 + id, xmin: null },
      transaction: null,
      op: 'c',
      ts_ms: 1795238224528,
    };
    texts[id - 1] = JSON.stringify({
      specversion: '1.0',
      id: `bench:${24512064 + id}`,
      source: '/pgcdc/bench',
      type: 'io.debezium.postgresql.datachangeevent',
      time: '2026-11-21T07:00:00.000Z',
      datacontenttype: 'application/json',
      data: payload,
    });
  }
  return texts;
}

const texts = events(EVENTS);
console.log(`PgLambda sandbox: ${EVENTS} events per round, median of ${ROUNDS} rounds, Node.js ${process.version}`);
for (const [name, script] of Object.entries(SCRIPTS)) {
  const sandbox = ScriptSandbox.open({ script, origin: name, onConsole: () => undefined });
  for (const text of texts.slice(0, 2000)) await sandbox.invoke(text); // warm-up
  const rates = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (const text of texts) {
      const outcome = await sandbox.invoke(text);
      if (!outcome.ok) throw new Error(`${name}: ${JSON.stringify(outcome)}`);
    }
    rates.push(EVENTS / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  sandbox.close();
  console.log(`${name.padEnd(18)} ${Math.round(median(rates)).toLocaleString('en-US').padStart(9)} invocations/s (rounds: ${rates.map((rate) => Math.round(rate)).join(', ')})`);
}
