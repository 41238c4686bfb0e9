/**
 * At-least-once delivery across crashes: pgcdc is killed with SIGKILL at random instants during a
 * concurrent random workload and restarted each time. PostgreSQL's own test_decoding, reading a
 * second slot, is the ground truth. Each run must deliver, in commit order and without a gap, the
 * transactions after the position the slot had confirmed when the previous run died (the only
 * duplicates allowed are that unacknowledged tail), and no transaction that did not commit.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startCli, runCli } from '../support/cli.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { WORKLOAD_TABLE_SQL, startWorkload } from '../support/random-workload.js';
import { fileStream } from '../support/stream-fixtures.js';
import { createTruthSlot, lsnToNumber, readTruth, type TruthTransaction } from '../support/truth-log.js';
import { testRandom } from '../support/seeded-random.js';

const KILLS = 8;

interface DeliveredChange {
  readonly xid: number;
  readonly op: string;
  readonly id: number;
}

describe('kill -9 and restart', () => {
  const server = useTestServer();

  it('delivers every committed change exactly from the acknowledged position on', async () => {
    const url = await createDatabase(server());
    await sql(url, WORKLOAD_TABLE_SQL);
    const spec = await fileStream({ url, maxRetries: -1 });
    const slot = spec.config.source.slotName;
    expect((await runCli(['init', '-c', spec.specFile])).code).toBe(0);
    await createTruthSlot(url, 'truth');

    const workload = startWorkload(url);
    const runStarts: number[] = [0];
    const confirmedAtKill: number[] = [];
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const run = startCli(['run', '-c', spec.specFile]);
        await waitFor(async () => ((await slotState(url, slot)).active ? true : undefined));
        await new Promise((resolve) => setTimeout(resolve, 150 + testRandom() * 600));
        run.child.kill('SIGKILL');
        await run.finished();
        // Once the walsender is gone, confirmed_flush_lsn is final for this run.
        const state = await waitFor(async () => {
          const s = await slotState(url, slot);
          return s.active ? undefined : s;
        });
        confirmedAtKill.push(state.confirmed);
        runStarts.push(completeLines(spec.outFile));
      }
    } finally {
      const totals = await workload.stop();
      expect(totals.committed).toBeGreaterThan(50);
      expect(totals.rolledBack).toBeGreaterThan(0);
    }
    const last = await runCli(['run', '-c', spec.specFile, '--stop-at', 'now']);
    expect(last.code).toBe(0);

    const truth = await readTruth(url, 'truth', 'public.t');
    const lines = fs.readFileSync(spec.outFile, 'utf8').split('\n').filter(Boolean);
    runStarts.push(lines.length);
    const delivered = lines.map((line) => toChange(JSON.parse(line)));
    verifyRuns(truth, delivered, runStarts, confirmedAtKill);
  }, 180_000);
});

/** Checks every run against the ground truth. */
function verifyRuns(truth: readonly TruthTransaction[], delivered: readonly DeliveredChange[], runStarts: readonly number[], confirmedAtKill: readonly number[]): void {
  const indexOfXid = new Map(truth.map((t, i) => [t.xid, i]));
  let deliveredUpTo = -1; // highest truth index delivered completely so far
  for (let run = 0; run + 1 < runStarts.length; run++) {
    const changes = delivered.slice(runStarts[run], runStarts[run + 1]);
    const segments = splitByXid(changes);
    // Where this run must start: the first transaction not acknowledged before the previous kill.
    const expectedStart = run === 0 ? 0 : truth.findIndex((t) => t.commitEnd > confirmedAtKill[run - 1]!);
    if (run > 0) {
      // Everything acknowledged before the kill had been delivered: no gap.
      expect(expectedStart === -1 ? truth.length - 1 : expectedStart - 1, `run ${run} would leave a gap`).toBeLessThanOrEqual(deliveredUpTo);
    }
    segments.forEach((segment, j) => {
      const index = indexOfXid.get(segment[0]!.xid);
      expect(index, `transaction ${segment[0]!.xid} was delivered but never committed`).toBeDefined();
      expect(index, `run ${run} segment ${j} is out of order`).toBe(expectedStart + j);
      const expected = truth[index!]!.changes.map((c) => ({ xid: segment[0]!.xid, op: c.op, id: c.id }));
      const isLastOfKilledRun = j === segments.length - 1 && run < runStarts.length - 2;
      if (isLastOfKilledRun && segment.length < expected.length) {
        expect(segment).toEqual(expected.slice(0, segment.length)); // cut by the kill
      } else {
        expect(segment).toEqual(expected);
        deliveredUpTo = Math.max(deliveredUpTo, index!);
      }
    });
  }
  expect(deliveredUpTo, 'the final run must end with the last committed transaction').toBe(truth.length - 1);
}

function splitByXid(changes: readonly DeliveredChange[]): DeliveredChange[][] {
  const segments: DeliveredChange[][] = [];
  for (const change of changes) {
    const current = segments[segments.length - 1];
    if (current && current[0]!.xid === change.xid) current.push(change);
    else segments.push([change]);
  }
  return segments;
}

function toChange(event: any): DeliveredChange {
  const row = event.after ?? event.before;
  return { xid: event.source.txId, op: event.op, id: row.id };
}

function completeLines(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const data = fs.readFileSync(file);
  let count = 0;
  for (const byte of data) if (byte === 0x0a) count++;
  return count;
}

async function slotState(url: string, slot: string): Promise<{ active: boolean; confirmed: number }> {
  const { rows } = await sql(url, 'select active, confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [slot]);
  return { active: rows[0].active, confirmed: lsnToNumber(rows[0].lsn) };
}
