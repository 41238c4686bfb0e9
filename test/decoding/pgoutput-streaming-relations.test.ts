/**
 * When the server sends Relation messages around streamed transactions (what a consumer of the
 * decoder must keep track of): a Relation streamed in a transaction that commits counts as sent
 * for the rest of the session; after a Stream Abort (of the transaction or of a subtransaction)
 * it is sent again.
 */
import { describe, expect, it } from 'vitest';
import { PgoutputCapture, runTransaction, subtransactionXid, tupleValues, xidOf, type Received } from '../support/connection.js';
import { createDatabase, sql, useTestServer, withClient } from '../support/postgres.js';

/** ~130 bytes a row: 1000 rows are well over the 64 kB logical_decoding_work_mem. */
function insertRows(table: string, from: number, to: number): string {
  return `insert into ${table} select g, repeat(md5(g::text), 4) from generate_series(${from}, ${to}) g`;
}

function tags(received: readonly Received[]): string[] {
  return received.map((r) => r.message.tag);
}

/** A short description of each Relation and Insert (first column), for exact comparison. */
function outline(received: readonly Received[]): string[] {
  return received.flatMap((r) => {
    const m = r.message;
    if (m.tag === 'relation') return [`relation ${m.table} xid=${m.xid}`];
    if (m.tag === 'insert') return [`insert ${tupleValues(m.newTuple)[0]} xid=${m.xid}`];
    if (m.tag === 'stream_abort') return [`abort ${m.subXid}`];
    return [];
  });
}

/** Collapses runs of inserts of consecutive ids with the same xid into `insert a..b xid=x`. */
function collapse(lines: readonly string[]): string[] {
  const out: string[] = [];
  let run: { from: number; to: number; xid: string } | undefined;
  const flush = (): void => {
    if (run) out.push(run.from === run.to ? `insert ${run.from} xid=${run.xid}` : `insert ${run.from}..${run.to} xid=${run.xid}`);
    run = undefined;
  };
  for (const line of lines) {
    const match = /^insert (\d+) xid=(\S+)$/.exec(line);
    if (match && run && run.xid === match[2] && Number(match[1]) === run.to + 1) {
      run.to++;
      continue;
    }
    flush();
    if (match) run = { from: Number(match[1]), to: Number(match[1]), xid: match[2]! };
    else out.push(line);
  }
  flush();
  return out;
}

describe('pgoutput decoder: Relation messages around streamed transactions', () => {
  const server = useTestServer({ settings: { logical_decoding_work_mem: '64kB' } });

  it('does not send the Relation again after the Stream Commit of the transaction that announced it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      const large = await runTransaction(url, [insertRows('big', 1, 1000)]);
      const small = await runTransaction(url, [`insert into big values (5000, 'small')`]);
      await capture.start();

      const streamed = await capture.streamed(large);
      expect(collapse(outline(streamed))).toEqual([`relation big xid=${large}`, `insert 1..1000 xid=${large}`]);
      expect(streamed.at(-1)!.message.tag).toBe('stream_commit');
      // The consumer must keep the Relation it received inside the streamed transaction.
      expect(tags(await capture.transaction(small))).toEqual(['begin', 'insert', 'commit']);
    } finally {
      capture.destroy();
    }
  });

  it('sends the Relation again after the Stream Abort of the transaction that announced it', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table big (id int primary key, payload text); create publication p for table big');
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      await capture.start();
      const large = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows('big', 1, 1000));
        const { rows } = await client.query<{ txid: string }>('select txid_current()::text as txid');
        const xid = xidOf(rows[0]!.txid);
        await capture.until('a streamed change', (received) => received.some((r) => r.message.tag === 'insert' && r.message.xid === xid) || undefined);
        await client.query('rollback');
        return xid;
      });
      const small = await runTransaction(url, [`insert into big values (5000, 'small')`]);

      const streamed = await capture.streamed(large);
      expect(outline(streamed).slice(0, 2)).toEqual([`relation big xid=${large}`, `insert 1 xid=${large}`]);
      expect(streamed.at(-1)!.message).toEqual(expect.objectContaining({ tag: 'stream_abort', xid: large, subXid: large }));
      const tx = await capture.transaction(small);
      expect(tags(tx)).toEqual(['begin', 'relation', 'insert', 'commit']);
      expect(tx[1]!.message).toEqual(expect.objectContaining({ tag: 'relation', xid: undefined, table: 'big' }));
    } finally {
      capture.destroy();
    }
  });

  it('sends a Relation with the xid of the subtransaction, and again for the top level after the subtransaction aborts', async () => {
    const url = await createDatabase(server());
    await sql(
      url,
      `create table big (id int primary key, payload text); create table other (id int primary key, payload text);
       create publication p for table big, other`,
    );
    const capture = await PgoutputCapture.create(url, { publication: 'p', streamInProgress: true });
    try {
      await capture.start();
      const { xid, subXid } = await withClient(url, async (client) => {
        await client.query('begin');
        await client.query(insertRows('other', 1, 1000));
        const top = await client.query<{ txid: string }>('select txid_current()::text as txid');
        const xid = xidOf(top.rows[0]!.txid);
        await client.query('savepoint s');
        await client.query(insertRows('big', 1, 1000));
        const subXid = await subtransactionXid(client, xid);
        await capture.until('a streamed change of the subtransaction', (received) =>
          received.some((r) => r.message.tag === 'insert' && r.message.xid === subXid) || undefined,
        );
        await client.query('rollback to savepoint s');
        await client.query('release savepoint s');
        await client.query(`insert into big values (5000, 'kept')`);
        await client.query('commit');
        return { xid, subXid };
      });

      const lines = collapse(outline(await capture.streamed(xid)));
      // Some of the subtransaction's rows were streamed before its abort was decoded.
      expect(lines).toHaveLength(7);
      expect(lines.slice(0, 3)).toEqual([`relation other xid=${xid}`, `insert 1..1000 xid=${xid}`, `relation big xid=${subXid}`]);
      expect(lines[3]).toMatch(new RegExp(`^insert 1(\\.\\.\\d+)? xid=${subXid}$`));
      expect(lines.slice(4)).toEqual([`abort ${subXid}`, `relation big xid=${xid}`, `insert 5000 xid=${xid}`]);
    } finally {
      capture.destroy();
    }
  });
});
