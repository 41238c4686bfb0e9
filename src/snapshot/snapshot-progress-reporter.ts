/**
 * Shows the running snapshot's progress: on a terminal, one line kept up to date (the tables being
 * copied with rows done of estimated, rows/s and ETA, then the total); a log line every ten seconds
 * otherwise. The terminal line is rewritten in place only (never the lines above it, which may be
 * log lines).
 */
import type { Logger } from '../logging/logger.js';
import { inflect } from '../text/counts.js';
import type { SnapshotController } from './snapshot-controller.js';
import { hasRowEstimate, type TableProgress } from './snapshot-progress.js';

const LOG_EVERY_MS = 10_000;

/** Starts showing progress; returns the function that stops it. */
export function watchSnapshotProgress(snapshots: SnapshotController, logger: Logger, display: boolean): () => void {
  const terminal = display && process.stderr.isTTY === true;
  let lastLog = Date.now();
  let shown = false;
  const timer = setInterval(() => {
    const progress = snapshots.progress;
    if (progress.record.status !== 'running' || progress.complete) {
      if (shown) process.stderr.write('\n');
      shown = false;
      return;
    }
    const figures = progress.figures();
    if (terminal) {
      const copying = figures.filter((t) => t.chunksDone < t.chunks && t.rowsDone > 0).map(tableLine);
      const line = [...copying, summaryLine(figures)].join(' | ');
      const width = process.stderr.columns ?? 120;
      process.stderr.write(`\r\u001b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      shown = true;
    } else if (Date.now() - lastLog >= LOG_EVERY_MS) {
      lastLog = Date.now();
      logger.info({ snapshot: progress.record.id, tables: figures.map(tableFigures) }, 'snapshot progress');
    }
  }, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (shown) process.stderr.write('\n');
  };
}

/**
 * Rows copied of a table's estimate: `120,000 of ~300,000 rows (40%)`, or `298 rows copied` when
 * there is no estimate (a table never analyzed).
 */
export function rowsCopied(rowsDone: number, estimatedRows: number): string {
  if (!hasRowEstimate(rowsDone, estimatedRows)) return `${rowsDone.toLocaleString('en-US')} ${inflect(rowsDone, 'row')} copied`;
  const percent = Math.floor((100 * rowsDone) / estimatedRows);
  return `${rowsDone.toLocaleString('en-US')} of ~${estimatedRows.toLocaleString('en-US')} ${inflect(estimatedRows, 'row')} (${percent}%)`;
}

/** `public.orders 120,000 of ~300,000 rows (40%) 52,000 rows/s ETA 4s`. */
export function tableLine(table: TableProgress): string {
  const rate = table.rowsPerSecond === undefined ? '' : ` ${Math.round(table.rowsPerSecond).toLocaleString('en-US')} rows/s`;
  const eta = table.etaSeconds === undefined ? '' : ` ETA ${formatDuration(table.etaSeconds)}`;
  return `${table.name} ${rowsCopied(table.rowsDone, table.estimatedRows)}${rate}${eta}`;
}

/**
 * `snapshot 2/5 tables, 1,204,000 of ~3,000,000 rows (40%), 210,500 rows/s, ETA 9s`; the rows
 * copied alone, without percent or ETA, while a table being copied has no estimate.
 */
export function summaryLine(figures: readonly TableProgress[]): string {
  const done = figures.reduce((n, t) => n + t.rowsDone, 0);
  const copying = figures.filter((t) => t.chunksDone < t.chunks);
  const estimated = copying.every((t) => hasRowEstimate(t.rowsDone, t.estimatedRows)) ? figures.reduce((n, t) => n + Math.max(t.estimatedRows, t.rowsDone), 0) : 0;
  const rate = figures.reduce((n, t) => n + (t.rowsPerSecond ?? 0), 0);
  const tablesDone = figures.length - copying.length;
  const eta = rate > 0 && estimated > 0 ? `, ETA ${formatDuration(Math.max(0, estimated - done) / rate)}` : '';
  return `snapshot ${tablesDone}/${figures.length} ${inflect(figures.length, 'table')}, ${rowsCopied(done, estimated)}, ${Math.round(rate).toLocaleString('en-US')} rows/s${eta}`;
}

function tableFigures(table: TableProgress): Record<string, unknown> {
  return {
    table: table.name,
    rows: table.rowsDone,
    estimatedRows: table.estimatedRows,
    chunks: `${table.chunksDone}/${table.chunks}`,
    rowsPerSecond: table.rowsPerSecond === undefined ? undefined : Math.round(table.rowsPerSecond),
    etaSeconds: table.etaSeconds === undefined ? undefined : Math.round(table.etaSeconds),
  };
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.ceil(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}
