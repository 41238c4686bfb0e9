/**
 * A real headless Chromium for browser tests: Debian's `chromium` (installed when
 * missing) driven by playwright-core, with no browser download.
 * A watched page records everything that went wrong while it was open: console errors, uncaught
 * exceptions, failed requests, answers with an error status, and any request leaving the page's
 * origin (answered with an abort: the page must load nothing from elsewhere).
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { ensureProgram } from './server-process.js';

/** Starts a headless Chromium (closed by the caller, or when this process exits). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureProgram('chromium', 'chromium'), headless: true });
}

export interface WatchedPageOptions {
  readonly colorScheme?: 'light' | 'dark';
  readonly viewport?: { readonly width: number; readonly height: number };
}

/** A page and what went wrong on it so far. */
export interface WatchedPage {
  readonly page: Page;
  /** One line per console error, uncaught exception, failed request or foreign request. */
  readonly problems: string[];
  close(): Promise<void>;
}

/** Opens a page in a fresh context whose requests may only go to `origin` (e.g. http://127.0.0.1:8083). */
export async function openWatchedPage(browser: Browser, origin: string, options: WatchedPageOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1400, height: 1000 },
    serviceWorkers: 'block',
  });
  const problems: string[] = [];
  let closing = false;
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) await route.continue();
    else {
      problems.push(`request outside ${origin}: ${url}`);
      await route.abort('blockedbyclient');
    }
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.stack ?? error.message}`));
  page.on('requestfailed', (request) => {
    if (!closing) problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`answer ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  return {
    page,
    problems,
    close: async () => {
      closing = true;
      await context.close();
    },
  };
}
