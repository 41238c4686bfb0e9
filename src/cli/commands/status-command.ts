/**
 * `pgcdc status -c FILE`: the slot (exists, active, confirmed position, lag in bytes, WAL
 * retained), the publication, and the latest snapshot's progress, as text or JSON.
 */
import type { Command } from 'commander';
import { CatalogConnection } from '../../source/catalog-connection.js';
import { formatLsn, parseLsn } from '../../source/lsn.js';
import { readSlot } from '../../source/slot-manager.js';
import { hasRowEstimate } from '../../snapshot/snapshot-progress.js';
import type { SnapshotTableStats } from '../../metrics/stream-stats.js';
import { rowsCopied } from '../../snapshot/snapshot-progress-reporter.js';
import { streamStateStore, type SnapshotRecord } from '../../state/state-store.js';
import { counted } from '../../text/counts.js';
import { loadDatabaseSourcedSpec, withSpecOptions, type SpecOptions } from '../cli-context.js';

export interface StreamStatus {
  readonly stream: string;
  readonly slot: {
    readonly name: string;
    readonly exists: boolean;
    readonly active?: boolean;
    readonly activePid?: number | null;
    readonly confirmedLsn?: string | null;
    readonly lagBytes?: number | null;
    readonly retainedWalBytes?: number | null;
    readonly walStatus?: string | null;
  };
  readonly publication: { readonly name: string; readonly exists: boolean; readonly tables: number };
  readonly currentLsn: string;
  /** The latest snapshot recorded in the state directory. */
  readonly snapshot: SnapshotStatusView | null;
}

export interface SnapshotStatusView {
  readonly id: string;
  readonly kind: string;
  readonly status: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly tables: readonly SnapshotTableStats[];
}

export function statusCommand(program: Command): void {
  withSpecOptions(program.command('status').description('show the slot position, lag and activity'))
    .option('--json', 'print JSON')
    .action(async (options: SpecOptions & { json?: boolean }) => {
      const config = await loadDatabaseSourcedSpec(options, 'status');
      const catalog = await CatalogConnection.open(config.source.connection);
      let status: StreamStatus;
      try {
        const { rows } = await catalog.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
        const current = parseLsn(rows[0]!.lsn);
        const slot = await readSlot(catalog, config.source.slotName);
        const { rows: publication } = await catalog.query<{ tables: number }>(
          `select (select count(*)::int from pg_publication_tables t where t.pubname = p.pubname) as tables from pg_publication p where p.pubname = $1`,
          [config.source.publicationName],
        );
        status = {
          stream: config.name,
          slot: slot
            ? {
                name: slot.name,
                exists: true,
                active: slot.active,
                activePid: slot.activePid,
                confirmedLsn: slot.confirmedFlush === undefined ? null : formatLsn(slot.confirmedFlush),
                lagBytes: slot.confirmedFlush === undefined ? null : Math.max(0, current - slot.confirmedFlush),
                retainedWalBytes: slot.restartLsn === undefined ? null : Math.max(0, current - slot.restartLsn),
                walStatus: slot.walStatus,
              }
            : { name: config.source.slotName, exists: false },
          publication: { name: config.source.publicationName, exists: publication.length > 0, tables: publication[0]?.tables ?? 0 },
          currentLsn: formatLsn(current),
          snapshot: snapshotView((await streamStateStore(catalog, config).read()).snapshot),
        };
      } finally {
        await catalog.close();
      }
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
    });
}

/** The status as text, one line per subject. */
export function renderStatus(status: StreamStatus): string {
  const { slot, publication } = status;
  const lines = [`stream ${status.stream} (source at ${status.currentLsn})`];
  if (!slot.exists) {
    lines.push(`slot ${slot.name}: not created (pgcdc init or pgcdc run creates it)`);
  } else {
    lines.push(
      `slot ${slot.name}: ${slot.active ? `active (pid ${slot.activePid})` : 'inactive'}, confirmed ${slot.confirmedLsn ?? '-'}, lag ${formatBytes(slot.lagBytes)}, WAL retained ${formatBytes(slot.retainedWalBytes)}${slot.walStatus ? `, wal_status ${slot.walStatus}` : ''}`,
    );
  }
  lines.push(`publication ${publication.name}: ${publication.exists ? counted(publication.tables, 'table') : 'not created'}`);
  const snapshot = status.snapshot;
  if (snapshot) {
    lines.push(`snapshot ${snapshot.id} (${snapshot.kind}): ${snapshot.status}, started ${snapshot.startedAt}${snapshot.finishedAt ? `, finished ${snapshot.finishedAt}` : ''}`);
    for (const t of snapshot.tables) {
      const rate = t.rowsPerSecond === null ? '' : `, ${t.rowsPerSecond} rows/s`;
      const eta = t.etaSeconds === null ? '' : `, ETA ${t.etaSeconds}s`;
      lines.push(`  ${t.table}: ${rowsCopied(t.rowsDone, t.estimatedRows)}, ${t.chunksDone}/${counted(t.chunks, 'chunk')}${rate}${eta}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function snapshotView(record: SnapshotRecord | undefined): SnapshotStatusView | null {
  if (!record) return null;
  const running = record.status === 'running';
  const seconds = Math.max(0.001, (Date.now() - Date.parse(record.startedAt)) / 1000);
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt ?? null,
    tables: record.tables.map((t) => ({
      table: `${t.schema}.${t.table}`,
      rowsDone: t.rowsDone,
      estimatedRows: t.estimatedRows,
      chunksDone: t.chunks.filter((c) => c.done).length,
      chunks: t.chunks.length,
      rowsPerSecond: running && t.rowsDone > 0 ? Math.round(t.rowsDone / seconds) : null,
      etaSeconds: running && t.rowsDone > 0 && hasRowEstimate(t.rowsDone, t.estimatedRows) ? Math.round((t.estimatedRows - t.rowsDone) / (t.rowsDone / seconds)) : null,
    })),
  };
}

function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]} (${bytes} B)`;
}
