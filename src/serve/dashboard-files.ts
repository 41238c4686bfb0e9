/**
 * The web dashboard's files as routes: `/` is `<package root>/dashboard/index.html`, `/dashboard/*`
 * the files of that folder (a name that would leave it is a 404), and `/vendor/…` the uPlot files
 * from the `uplot` package. The package root is found from this module's URL, the same from dist/
 * and from src/ (tests).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError, type Reply, type Route } from './serve-server.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DASHBOARD_DIR = path.join(PACKAGE_ROOT, 'dashboard');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** The uPlot files the page loads, by the name it asks for. */
const VENDOR_FILES: Readonly<Record<string, string>> = {
  'uplot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/** The routes of the page, its files and the vendored chart library. */
export function dashboardRoutes(): Route[] {
  return [
    { method: 'GET', pattern: '/', access: 'page', handler: () => fileReply(path.join(DASHBOARD_DIR, 'index.html')) },
    { method: 'GET', pattern: '/dashboard/{file*}', access: 'page', handler: ({ params }) => fileReply(insideDashboard(params.file!)) },
    { method: 'GET', pattern: '/vendor/{file}', access: 'page', handler: ({ params }) => fileReply(vendorFile(params.file!)) },
  ];
}

function insideDashboard(name: string): string {
  const file = path.resolve(DASHBOARD_DIR, name);
  if (!file.startsWith(DASHBOARD_DIR + path.sep)) throw new HttpError(404, `no dashboard file ${name}`);
  return file;
}

function vendorFile(name: string): string {
  const request = Object.hasOwn(VENDOR_FILES, name) ? VENDOR_FILES[name] : undefined;
  if (request === undefined) throw new HttpError(404, `no vendor file ${name}`);
  try {
    return createRequire(import.meta.url).resolve(request);
  } catch {
    throw new HttpError(404, `${name} is missing: the uplot package is not installed (npm install uplot)`);
  }
}

async function fileReply(file: string): Promise<Reply> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new HttpError(404, `no file ${path.basename(file)}`);
    throw error;
  }
  return { status: 200, body, contentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' };
}
