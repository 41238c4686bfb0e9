import { describe, expect, it } from 'vitest';
import { PgoutputDecoder } from '../../src/decoding/pgoutput-decoder.js';
import type { PgoutputMessage } from '../../src/decoding/pgoutput-messages.js';
import { ReplicationSession } from '../../src/source/replication-session.js';
import { connectionConfigFor } from '../support/connection.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';

describe('replication session', () => {
  const server = useTestServer();

  it('authenticates with SCRAM, identifies the system and streams pgoutput messages', async () => {
    const url = await createDatabase(server());
    await sql(url, 'create table t (id int primary key, v text); create publication p for table t');
    const session = await ReplicationSession.open(await connectionConfigFor(url));
    const identity = await session.identifySystem();
    expect(identity.database).toBe(new URL(url).pathname.slice(1));
    const slot = await session.createSlot('s1', { exportSnapshot: false });
    expect(slot.consistentPoint).toBeGreaterThan(0);
    await sql(url, "insert into t values (1, 'a'), (2, 'b')");
    await sql(url, "update t set v = 'c' where id = 1");
    await sql(url, 'delete from t where id = 2');
    const decoder = new PgoutputDecoder(session.protocolVersion);
    const messages: PgoutputMessage[] = [];
    await session.startReplication(
      { slotName: 's1', publicationNames: ['p'], startLsn: 0, streamInProgress: false },
      { onMessage: (_lsn, buf, start, end) => void messages.push(decoder.decode(buf, start, end)), onKeepalive: () => undefined },
    );
    await waitFor(() => (messages.filter((m) => m.tag === 'commit').length >= 3 ? true : undefined));
    expect(messages.map((m) => m.tag)).toEqual([
      'begin', 'relation', 'insert', 'insert', 'commit', 'begin', 'update', 'commit', 'begin', 'delete', 'commit',
    ]);
    session.destroy();
  });
});
