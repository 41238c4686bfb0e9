/**
 * The web dashboard end to end: a real headless Chromium (Debian's chromium through playwright-core)
 * on the real `pgcdc serve` (the built CLI) running two streams on a real PostgreSQL: a File stream,
 * and a CloudEvent stream whose receiver, a real HTTP server here, rejects one event. The page loads
 * with no console error and no failed or foreign request; the File stream's event count rises on
 * the page while a workload runs; Pause on the page really stops the stream (its output stops
 * growing) and Resume delivers the rest; the rejected event shows as a dead letter with its error,
 * its JSON viewable, and Resend delivers it to the receiver; with `--token`, the page opened once
 * with ?token= keeps working. PGCDC_UPDATE_SCREENSHOTS=1 also writes docs/images/dashboard-*.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openWatchedPage, type WatchedPage } from '../support/browser.js';
import type { StartedProgram } from '../support/cli.js';
import { cloudEventStream } from '../support/cloudevent-fixtures.js';
import { CloudEventReceiver } from '../support/cloudevent-receiver.js';
import { type Served, startServe } from '../support/serve-process.js';
import { createDatabase, sql, useTestServer, waitFor } from '../support/postgres.js';
import { fileStream, readEvents, tempDir } from '../support/stream-fixtures.js';

const FILE_STREAM = 'orders-file';
const EVENTS_STREAM = 'orders-events';
const TOKEN = 'dashboard-test-token';
const SCREENSHOTS = process.env.PGCDC_UPDATE_SCREENSHOTS === '1' ? path.resolve('docs/images') : undefined;

const rowId = (event: any): number => (event.data.after ?? event.data.before).id;
const digits = (text: string | null): number => Number((text ?? '').replace(/\D/g, '') || 'NaN');


async function stopServe(program: StartedProgram): Promise<number | null> {
  if (program.child.exitCode !== null) return program.child.exitCode;
  program.child.kill('SIGTERM');
  return (await program.finished()).code;
}

/** Waits until `locator`'s text passes `accept`, and returns it. */
function textOf(locator: Locator, accept: (text: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    async () => {
      const text = (await locator.textContent({ timeout: 1000 })) ?? '';
      return accept(text) ? text : undefined;
    },
    timeoutMs,
    what,
  );
}

async function selectStream(page: Page, name: string): Promise<void> {
  await page.locator(`tr[data-stream="${name}"] a`).click();
  await textOf(page.locator('#detail-name'), (text) => text === name, `the detail of ${name}`);
}

async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (SCREENSHOTS === undefined) return;
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${name}.png`), fullPage });
}

describe('web dashboard in a real Chromium', () => {
  const server = useTestServer();
  let fileUrl: string;
  let eventsUrl: string;
  let outFile: string;
  let streamsDir: string;
  let receiver: CloudEventReceiver;
  let rejecting = true;
  let serve: Served | undefined;
  let browser: Browser;
  let watched: WatchedPage;
  let nextId = 1;

  /** Inserts `count` rows into the File stream's table. */
  const insertRows = (count: number) => {
    const first = nextId;
    nextId += count;
    return sql(fileUrl, 'insert into orders select g, g * 10 from generate_series($1::int, $2::int) g', [first, first + count - 1]);
  };
  const delivered = (): Set<number> => new Set(readEvents(outFile).filter((e) => e.op === 'c').map((e) => e.after.id as number));

  beforeAll(async () => {
    fileUrl = await createDatabase(server(), 'files');
    eventsUrl = await createDatabase(server(), 'events');
    await sql(fileUrl, 'create table orders (id int primary key, total int)');
    await sql(eventsUrl, 'create table orders (id int primary key, note text)');
    receiver = await CloudEventReceiver.start({ answer: (events) => (rejecting && events.some((e) => e.data.after?.note === 'reject-me') ? 400 : 200) });

    streamsDir = tempDir('pgcdc-dashboard-');
    const file = await fileStream({ url: fileUrl, name: FILE_STREAM, source: { statusIntervalMs: 200 } });
    outFile = file.outFile;
    const events = await cloudEventStream({ url: eventsUrl, receiverUrl: receiver.url, name: EVENTS_STREAM, source: { statusIntervalMs: 200 } });
    fs.copyFileSync(file.specFile, path.join(streamsDir, `${FILE_STREAM}.yaml`));
    fs.copyFileSync(events.specFile, path.join(streamsDir, `${EVENTS_STREAM}.yaml`));

    serve = await startServe(streamsDir);
    browser = await launchChromium();
    watched = await openWatchedPage(browser, serve.origin);
  });

  afterAll(async () => {
    await watched?.close();
    await browser?.close();
    if (serve) await stopServe(serve.program);
    await receiver?.stop();
  });

  it('loads with no console error and shows the running stream counting events while a workload runs', async () => {
    const { page } = watched;
    await page.goto(`${serve!.origin}/`);
    for (const name of [FILE_STREAM, EVENTS_STREAM]) {
      await textOf(page.locator(`tr[data-stream="${name}"] .badge`), (text) => text === 'running', `${name} shown running`, 60_000);
    }
    expect(await page.locator(`tr[data-stream="${FILE_STREAM}"] td`).nth(2).textContent()).toBe('File');
    await selectStream(page, FILE_STREAM);

    let workload = true;
    const running = (async () => {
      while (workload) {
        await insertRows(25);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      const first = digits(await textOf(page.locator('#fig-events'), (text) => digits(text) > 0, 'a first event count'));
      const later = digits(await textOf(page.locator('#fig-events'), (text) => digits(text) > first, 'the event count to rise'));
      expect(later).toBeGreaterThan(first);
      await textOf(page.locator('#operations [data-op="c"] .num'), (text) => digits(text) > 0, 'inserts counted by operation');
      if (SCREENSHOTS !== undefined) {
        // A picture of some history (screenshots only: the test itself does not wait for this).
        await new Promise((resolve) => setTimeout(resolve, 30_000));
        await screenshot(page, 'overview');
        const dark = await openWatchedPage(browser, serve!.origin, { colorScheme: 'dark' });
        await dark.page.goto(`${serve!.origin}/#/streams/${FILE_STREAM}`);
        await textOf(dark.page.locator('#fig-events'), (text) => digits(text) > later, 'the count on a dark page');
        await screenshot(dark.page, 'dark');
        await dark.close();
        expect(dark.problems).toEqual([]);
      }
    } finally {
      workload = false;
      await running;
    }
    await waitFor(() => (delivered().size === nextId - 1 ? true : undefined), 30_000, 'the workload delivered');
    expect(watched.problems).toEqual([]);
  });

  it('pauses the stream from the page (its output stops growing) and resumes it', async () => {
    const { page } = watched;
    await selectStream(page, FILE_STREAM);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.toast', { hasText: `Paused ${FILE_STREAM}` }).waitFor();
    await textOf(page.locator('#detail-state'), (text) => text === 'paused', 'the stream shown paused');
    await textOf(page.locator(`tr[data-stream="${FILE_STREAM}"] .badge`), (text) => text === 'paused', 'the list showing it paused');
    // Paused means no replication connection on the slot any more.
    await waitFor(async () => ((await sql(fileUrl, 'select bool_or(active) as active from pg_replication_slots where database = current_database()')).rows[0].active === false ? true : undefined), 20_000, 'the slot released');

    const before = readEvents(outFile).length;
    await insertRows(100);
    // Long enough for a running stream to have delivered them many times over (as the first test shows).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(readEvents(outFile).length).toBe(before);
    expect(await page.locator('#detail-state').textContent()).toBe('paused');

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.toast', { hasText: `Resumed ${FILE_STREAM}` }).waitFor();
    await textOf(page.locator('#detail-state'), (text) => text === 'running', 'the stream shown running again', 30_000);
    await waitFor(() => (delivered().size === nextId - 1 ? true : undefined), 30_000, 'the rows inserted while paused delivered');
    expect(watched.problems).toEqual([]);
  });

  it('shows the event the receiver rejected as a dead letter, views it and re-sends it', async () => {
    const { page } = watched;
    await sql(eventsUrl, "insert into orders values (11, 'ok'), (12, 'ok'), (13, 'reject-me'), (14, 'ok')");
    await waitFor(() => ([11, 12, 14].every((id) => receiver.accepted.some((e) => rowId(e) === id)) ? true : undefined), 30_000, 'the accepted events');
    expect(receiver.accepted.map(rowId)).not.toContain(13);

    await selectStream(page, EVENTS_STREAM);
    const letter = page.locator('tr[data-dead-letter]');
    await textOf(letter.locator('.error-text'), (text) => text.includes('HTTP 400'), 'the dead letter with its error', 30_000);
    expect(await letter.count()).toBe(1);
    await screenshot(page, 'dead-letters', true);

    await letter.getByRole('button', { name: 'View' }).click();
    const json = await textOf(page.locator('#event-json'), (text) => text.length > 0, 'the dead letter event');
    expect(JSON.parse(json).data.after).toEqual({ id: 13, note: 'reject-me' });
    await screenshot(page, 'dead-letter-event');
    await page.getByRole('button', { name: 'Close' }).click();

    rejecting = false;
    await letter.getByRole('button', { name: 'Resend' }).click();
    await page.locator('.toast', { hasText: 're-sent' }).waitFor();
    await waitFor(() => (receiver.accepted.some((e) => rowId(e) === 13) ? true : undefined), 30_000, 'the dead letter delivered');
    expect(receiver.accepted.filter((e) => rowId(e) === 13)[0]!.data.after).toEqual({ id: 13, note: 'reject-me' });
    await textOf(letter.locator('.resent'), (text) => text.startsWith('resent'), 'the dead letter shown re-sent');
    expect(watched.problems).toEqual([]);
  });

  it('works with a serve started with --token once opened with ?token=', async () => {
    await watched.close();
    expect(await stopServe(serve!.program)).toBe(0);
    serve = await startServe(streamsDir, ['--token', TOKEN]);
    expect((await fetch(`${serve.origin}/api/streams`)).status).toBe(401);
    watched = await openWatchedPage(browser, serve.origin);
    const { page } = watched;
    await page.goto(`${serve.origin}/?token=${TOKEN}`);
    await textOf(page.locator(`tr[data-stream="${FILE_STREAM}"] .badge`), (text) => text === 'running', 'the streams listed with the token', 60_000);
    expect(new URL(page.url()).search).toBe('');
    await page.reload();
    await textOf(page.locator(`tr[data-stream="${EVENTS_STREAM}"] .badge`), (text) => text.length > 0, 'the streams listed after a reload');
    await selectStream(page, FILE_STREAM);
    await textOf(page.locator('#fig-events'), (text) => text !== '–', 'the figures of the stream');
    expect(watched.problems).toEqual([]);
  });
});
