/**
 * The RedisStreams target on bad input, through the `pgcdc` command line, against a real
 * redis-server with a password, ACL users and a 1 MB `proto-max-bulk-len`: an unreachable server,
 * a refused login, a user without XADD, an entry over the server's limit (stopping, set aside as a
 * dead letter, or refused by a server whose limit pgcdc cannot read), a stream key holding another
 * type: each stops the run with one line naming the server, user or key and the fix, and the slot
 * (pg_replication_slots.confirmed_flush_lsn, the oracle) is not acknowledged past the failing
 * change; once fixed, the same stream delivers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorLine, runCli, type CliResult } from '../support/cli.js';
import { confirmedAtMost, createDatabase, sql, useTestServer, walPosition } from '../support/postgres.js';
import { useRedisServer } from '../support/redis-server.js';
import { targetStream, tempDir } from '../support/stream-fixtures.js';

const ROOT_PASSWORD = 'root-secret';
const USERS = [
  ['--user', 'alice', 'on', '>alice-secret', '~*', '&*', '+@all', '-xadd'],
  ['--user', 'bob', 'on', '>bob-secret', '~*', '&*', '+@all'],
  ['--user', 'carol', 'on', '>carol-secret', '~*', '&*', '+@all', '-config'],
].flat();

const run = (specFile: string): Promise<CliResult> => runCli(['run', '-c', specFile, '--stop-at', 'now'], {}, 120_000);

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The run failed with one error line of `code` that starts with `start` and ends with `end`. */
function expectFailure(result: CliResult, code: string, start: string, end: string): void {
  expect(result.code, result.stderr.slice(-3000)).not.toBe(0);
  expect(errorLine(result)).toMatch(new RegExp(`^${escape(`pgcdc: error[${code}] ${start}`)}.*${escape(end)}$`));
}

describe('RedisStreams target, bad input', () => {
  const server = useTestServer();
  const redis = useRedisServer({ args: ['--requirepass', ROOT_PASSWORD, '--proto-max-bulk-len', '1mb', ...USERS], password: ROOT_PASSWORD });

  /** A database with `items` and a stream writing it to Redis as `user`. */
  async function deliveredStream(name: string, settings: Record<string, unknown>) {
    const url = await createDatabase(server(), 'redis_fail');
    await sql(url, 'create table items (id int primary key, note text)');
    const dir = tempDir();
    const spec = await targetStream({ url, name, dir, target: { type: 'RedisStreams', redisStreams: { schemasEnable: false, connectTimeout: '2s', requestTimeout: '5s', ...settings } } });
    return { url, ...spec };
  }

  const userUrl = (user: string, password: string) => `redis://${user}:${password}@127.0.0.1:${redis().port}`;
  const entries = (key: string) => redis().with((client) => client.xrange(key, '-', '+'));

  it('stops with one line when the server cannot be reached', async () => {
    const { specFile } = await deliveredStream('u1', { url: 'redis://127.0.0.1:1' });
    expectFailure(await run(specFile), 'TARGET_UNREACHABLE', 'Redis at 127.0.0.1:1 cannot be reached: connect ECONNREFUSED 127.0.0.1:1', '(fix: check that the server runs and spec.target.redisStreams.url is right (TLS: rediss://))');
  }, 120_000);

  it('stops on a wrong password with one line, and delivers once the secret is right (ACL user, password from a secret)', async () => {
    process.env.PGCDC_SECRET_REDIS_BOB_PASSWORD = 'wrong'; // for the spec parsed here; each run gets its own
    const { url, specFile } = await deliveredStream('p1', { url: redis().url, username: 'bob', password: { name: 'redis-bob', key: 'password' } }).finally(() => {
      delete process.env.PGCDC_SECRET_REDIS_BOB_PASSWORD;
    });
    const slot = await runCli(['run', '-c', specFile, '--stop-at', 'now'], { PGCDC_SECRET_REDIS_BOB_PASSWORD: 'bob-secret' }, 120_000);
    expect(slot.code, slot.stderr.slice(-3000)).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'one')");
    const refused = await runCli(['run', '-c', specFile, '--stop-at', 'now'], { PGCDC_SECRET_REDIS_BOB_PASSWORD: 'wrong' }, 120_000);
    expectFailure(refused, 'TARGET_FAILED', `Redis at 127.0.0.1:${redis().port} refused the login of user "bob": WRONGPASS`, 'against the server\'s ACL (ACL LIST) or requirepass)');
    expect(await confirmedAtMost(url, before)).toBe(true);
    expect(await entries('p1.public.items')).toEqual([]);
    const fixed = await runCli(['run', '-c', specFile, '--stop-at', 'now'], { PGCDC_SECRET_REDIS_BOB_PASSWORD: 'bob-secret' }, 120_000);
    expect(fixed.code, fixed.stderr.slice(-3000)).toBe(0);
    expect((await entries('p1.public.items')).length).toBe(1);
  }, 120_000);

  it('stops with one line when the user may not XADD, acknowledging nothing', async () => {
    const { url, specFile } = await deliveredStream('n1', { url: userUrl('alice', 'alice-secret') });
    expect((await run(specFile)).code).toBe(0); // the slot
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'one')");
    expectFailure(await run(specFile), 'TARGET_FAILED', 'Redis user "alice" may not run XADD on key "n1.public.items": NOPERM this user has no permissions to run the \'xadd\' command', '(fix: grant what the target needs, e.g. ACL SETUSER alice +xadd +multi +exec +set +get +type +ping ~<stream keys> ~<position key>, or use another user)');
    expect(await confirmedAtMost(url, before)).toBe(true);
    expect(await entries('n1.public.items')).toEqual([]);
  }, 120_000);

  it("stops on an entry over the server's proto-max-bulk-len with one line, and sets it aside with the dead-letter policy", async () => {
    const { url, dir, specFile } = await deliveredStream('b1', { url: userUrl('bob', 'bob-secret'), deadLetter: { policy: 'stop' } });
    expect((await run(specFile)).code).toBe(0);
    await sql(url, "insert into items values (1, 'small')");
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items select 2, string_agg(md5(g::text), '') from generate_series(1, 40000) g"); // 1.28 MB
    await sql(url, "insert into items values (3, 'after')");
    expectFailure(
      await run(specFile),
      'TARGET_FAILED',
      'Redis stream "b1.public.items" cannot take the change ',
      "more than the 983040 allowed (the server's proto-max-bulk-len less what packing needs, or maxEntryBytes) (fix: raise the server's proto-max-bulk-len, or set spec.target.redisStreams.deadLetter.policy: dead-letter to set such entries aside; nothing past this change was acknowledged)",
    );
    expect(await confirmedAtMost(url, before)).toBe(true);
    expect((await entries('b1.public.items')).length).toBe(1);
    // The dead-letter policy: the large entry set aside, the next one written.
    const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
    spec.spec.target.redisStreams.deadLetter = { policy: 'dead-letter' };
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const resumed = await run(specFile);
    expect(resumed.code, resumed.stderr.slice(-3000)).toBe(0);
    const written = await entries('b1.public.items');
    expect(written.map(([, fields]) => JSON.parse(fields[3]!).after.id)).toEqual([1, 3]);
    const letters = fs.readFileSync(path.join(dir, 'state', 'dead-letters.ndjson'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(letters.length).toBe(1);
    expect(letters[0].error).toMatch(/more than the 983040 allowed/);
  }, 180_000);

  it("stops with one line when the server refuses an entry as too large and its limit cannot be read (no CONFIG)", async () => {
    const { url, specFile } = await deliveredStream('b2', { url: userUrl('carol', 'carol-secret'), deadLetter: { policy: 'stop' } });
    expect((await run(specFile)).code).toBe(0);
    const before = await walPosition(url);
    await sql(url, "insert into items select 2, string_agg(md5(g::text), '') from generate_series(1, 40000) g");
    const tooLarge = await run(specFile);
    if (process.env.DEBUG_REDIS) console.log(tooLarge.stderr);
    expectFailure(tooLarge, 'TARGET_FAILED', `Redis at 127.0.0.1:${redis().port} refused an entry`, 'so such entries go by deadLetter.policy)');
    expect(await confirmedAtMost(url, before)).toBe(true);
    expect(await entries('b2.public.items')).toEqual([]);
  }, 120_000);

  it('splits a batch larger than the server takes in one argument into several script runs, each change once', async () => {
    const { url, specFile } = await deliveredStream('g1', { url: userUrl('bob', 'bob-secret') });
    expect((await run(specFile)).code).toBe(0);
    // 3,000 rows of about 700 bytes in one transaction: more than 1 MB in one batch of 5,000 events.
    await sql(url, "insert into items select g, repeat(md5(g::text), 20) from generate_series(1, 3000) g");
    const evalsBefore = await redis().with(async (client) => Number(/cmdstat_eval:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0));
    const result = await run(specFile);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const evals = (await redis().with(async (client) => Number(/cmdstat_eval:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0))) - evalsBefore;
    expect(evals).toBeGreaterThanOrEqual(3);
    const written = await entries('g1.public.items');
    expect(written.map(([, fields]) => JSON.parse(fields[3]!).after.id)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  }, 120_000);

  it('stops with one line when a stream key holds another type, and delivers once it is removed', async () => {
    const { url, specFile } = await deliveredStream('w1', { url: userUrl('bob', 'bob-secret'), deadLetter: { policy: 'stop' } });
    expect((await run(specFile)).code).toBe(0);
    await redis().with((client) => client.set('w1.public.items', 'not a stream'));
    const before = await walPosition(url);
    await sql(url, "insert into items values (1, 'one')");
    expectFailure(await run(specFile), 'TARGET_FAILED', 'Redis stream "w1.public.items" cannot take the change ', 'the key holds a string, not a stream (WRONGTYPE) (fix: rename or delete that key, or change spec.target.redisStreams.streamKey; nothing past this change was acknowledged)');
    expect(await confirmedAtMost(url, before)).toBe(true);
    await redis().with((client) => client.del('w1.public.items'));
    expect((await run(specFile)).code).toBe(0);
    expect((await entries('w1.public.items')).length).toBe(1);
  }, 120_000);
});
