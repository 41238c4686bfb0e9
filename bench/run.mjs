/**
 * Runs the benchmarks named on the command line (default: all): `npm run bench -- stream latency`.
 */
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
};
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(available);
for (const name of names) {
  if (!available[name]) {
    console.error(`unknown benchmark "${name}"; available: ${Object.keys(available).join(', ')}`);
    process.exit(2);
  }
  await import(available[name]);
}
