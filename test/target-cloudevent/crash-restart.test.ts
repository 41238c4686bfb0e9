/**
 * At least once across crashes: `pgcdc run` with a CloudEvent target is killed with SIGKILL while
 * the receiver holds requests unanswered, then restarted. The events that were in flight come again
 * with the same ids (and the same content), and at the end the rows rebuilt from the accepted
 * events are exactly the source table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { runCli, startCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { differences, rebuildFromEvents, sourceRows } from '../support/rebuild.js';

const KILLS = 3;

/** An event without what legitimately changes between deliveries (processing time, the previous commit). */
function comparable(event: any): unknown {
  const { data, ...attributes } = event;
  return { ...attributes, data: { ...data, ts_ms: 0, ts_us: 0, ts_ns: 0, source: { ...data.source, sequence: '' } } };
}

describe('CloudEvent target, kill -9 and restart', () => {
  const server = useTestServer();
  let receiver: CloudEventReceiver | undefined;
  afterEach(async () => {
    await receiver?.stop();
  });

  it('delivers the unacknowledged events again with the same ids, and nothing committed is missing', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table items (id int primary key, n int not null, note text)');
    receiver = await CloudEventReceiver.start();
    const spec = await cloudEventStream({ url, receiverUrl: receiver.url, http: { concurrency: 4 }, maxRetries: -1 });
    expect((await runCli(['run', '-c', spec.specFile, '--stop-at', 'now'])).code).toBe(0);
    for (let t = 0; t < 20; t++) await sql(url, `insert into items select g, 0, 'row ' || g from generate_series(${t * 10 + 1}, ${t * 10 + 10}) g`);
    for (let t = 0; t < 20; t++) await sql(url, `update items set n = n + 1 where id % 20 = ${t}`);
    await sql(url, 'delete from items where id % 7 = 0');

    const heldAtKill: string[][] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      let acceptedThisRun = 0;
      receiver.answer = () => (++acceptedThisRun > 40 ? 'hold' : 200);
      const before = receiver.requests.length;
      const run = startCli(['run', '-c', spec.specFile]);
      await waitFor(() => (receiver!.requests.slice(before).some((r) => r.status === undefined) ? true : undefined), 30_000, 'a held request');
      run.child.kill('SIGKILL');
      await run.finished();
      heldAtKill.push(receiver.requests.slice(before).filter((r) => r.status === undefined).flatMap((r) => r.events.map((e) => e.id)));
      receiver.dropHeld();
    }
    receiver.answer = () => 200;
    const last = await runCli(['run', '-c', spec.specFile, '--stop-at', 'now']);
    expect(last.code).toBe(0);
    expect(receiver.rejected).toEqual([]);

    const accepted = receiver.accepted;
    const acceptedIds = new Set(accepted.map((e) => e.id));
    // What was in flight at each kill came again, under the same id.
    for (const held of heldAtKill) {
      expect(held.length).toBeGreaterThan(0);
      for (const id of held) expect(acceptedIds.has(id), `held event ${id} delivered again`).toBe(true);
    }
    // Every copy of an id is the same event.
    const firstCopy = new Map<string, unknown>();
    for (const event of receiver.received) {
      const seen = firstCopy.get(event.id);
      if (seen === undefined) firstCopy.set(event.id, comparable(event));
      else expect(comparable(event), `copies of ${event.id}`).toEqual(seen);
    }
    expect(firstCopy.size).toBe(200 + 200 + 28);
    // Applying the accepted events in arrival order (order holds per row) gives the source table.
    const rebuilt = rebuildFromEvents(accepted.map((e) => e.data), 'items');
    expect(differences(rebuilt, await sourceRows(url, 'items'))).toEqual([]);
  }, 120_000);
});
