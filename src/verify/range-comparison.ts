/**
 * Compares one key range on both sides, and names the rows of a differing range: directly when
 * it is small, else by splitting it into sub-ranges of `detailRows` and listing the rows of the
 * sub-ranges that differ (up to `maxKeys`). Also names the differing rows of a small keyless table.
 */
import type { SidePair } from './connection-pairs.js';
import { rangeBoundaries, splitRange, WHOLE_TABLE, type KeyRange } from './key-ranges.js';
import { rangeChecksum, rangeRowHashes, tableRows, type ComparedRelation } from './row-checksums.js';
import type { RangeDifference, RowKey } from './verify-report.js';

export interface DetailOptions {
  /** Ranges with at most this many rows on each side have their differing rows listed. */
  readonly detailRows: number;
  /** At most this many differing rows are listed per range. */
  readonly maxKeys: number;
}

/** Both sides of one table. */
export interface ComparedPair {
  readonly source: ComparedRelation;
  readonly target: ComparedRelation;
}

export interface RangeOutcome {
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Present when the range differs. */
  readonly difference?: RangeDifference;
}

/** Key values, or a keyless table's row values, as text. */
type RowValues = readonly (string | null)[];

interface DifferingRows {
  missing: RowValues[];
  extra: RowValues[];
  changed: RowValues[];
  complete: boolean;
}

/** Compares `range` of a keyed table; a differing range comes with its differing keys. */
export async function compareRange(pair: SidePair, table: ComparedPair, range: KeyRange, options: DetailOptions): Promise<RangeOutcome> {
  const [source, target] = await Promise.all([rangeChecksum(pair.source, table.source, range), rangeChecksum(pair.target, table.target, range)]);
  if (source.rows === target.rows && source.hash === target.hash) return { sourceRows: source.rows, targetRows: target.rows };
  const rows = await differingRows(pair, table, range, source.rows, target.rows, options);
  const names = table.source.keys.map((k) => k.name);
  const asKey = (tuple: RowValues): RowKey => Object.fromEntries(names.map((name, i) => [name, tuple[i] ?? null]));
  return {
    sourceRows: source.rows,
    targetRows: target.rows,
    difference: {
      lower: range.lower && asKey(range.lower),
      upper: range.upper && asKey(range.upper),
      sourceRows: source.rows,
      targetRows: target.rows,
      missingOnTarget: rows.missing.map(asKey),
      extraOnTarget: rows.extra.map(asKey),
      changed: rows.changed.map(asKey),
      keysComplete: rows.complete,
    },
  };
}

async function differingRows(pair: SidePair, table: ComparedPair, range: KeyRange, sourceRows: number, targetRows: number, options: DetailOptions): Promise<DifferingRows> {
  if (sourceRows <= options.detailRows && targetRows <= options.detailRows) return capped(await listDifferingRows(pair, table, range), options.maxKeys);
  // Cut the range where the side with more rows has every detailRows-th key.
  const [side, relation, rows] = sourceRows >= targetRows ? [pair.source, table.source, sourceRows] : [pair.target, table.target, targetRows];
  const subRanges = splitRange(range, await rangeBoundaries(side, relation.relation, relation.keys, range, rows, options.detailRows));
  const found: DifferingRows = { missing: [], extra: [], changed: [], complete: true };
  for (const sub of subRanges) {
    if (listed(found) >= options.maxKeys) {
      found.complete = false; // the sub-ranges from here on are not looked at
      break;
    }
    const [source, target] = await Promise.all([rangeChecksum(pair.source, table.source, sub), rangeChecksum(pair.target, table.target, sub)]);
    if (source.rows === target.rows && source.hash === target.hash) continue;
    if (source.rows > options.detailRows || target.rows > options.detailRows) {
      found.complete = false;
      continue;
    }
    const rowsOfSub = await listDifferingRows(pair, table, sub);
    found.missing.push(...rowsOfSub.missing);
    found.extra.push(...rowsOfSub.extra);
    found.changed.push(...rowsOfSub.changed);
  }
  return capped(found, options.maxKeys);
}

/**
 * Keys on one side only, and keys on both whose rows differ, in key order. A key held more often
 * on one side (a side without the primary key) counts as missing or extra there.
 */
async function listDifferingRows(pair: SidePair, table: ComparedPair, range: KeyRange): Promise<DifferingRows> {
  const [source, target] = await Promise.all([rangeRowHashes(pair.source, table.source, range), rangeRowHashes(pair.target, table.target, range)]);
  const found: DifferingRows = { missing: [], extra: [], changed: [], complete: true };
  for (const [id, row] of source) {
    const other = target.get(id);
    if (!other || other.hashes.length < row.hashes.length) found.missing.push(row.key);
    else if (other.hashes.length > row.hashes.length) found.extra.push(row.key);
    else if (other.hashes.sort().join() !== row.hashes.sort().join()) found.changed.push(row.key);
  }
  for (const [id, row] of target) if (!source.has(id)) found.extra.push(row.key);
  return found;
}

/**
 * The whole-table comparison of a table without a primary key: its count and hash, and when it
 * differs and is small, the rows found on one side only (a changed row is one of each).
 */
export async function compareKeylessTable(pair: SidePair, table: ComparedPair, options: DetailOptions): Promise<RangeOutcome> {
  const [source, target] = await Promise.all([rangeChecksum(pair.source, table.source, WHOLE_TABLE), rangeChecksum(pair.target, table.target, WHOLE_TABLE)]);
  if (source.rows === target.rows && source.hash === target.hash) return { sourceRows: source.rows, targetRows: target.rows };
  let rows: DifferingRows = { missing: [], extra: [], changed: [], complete: false };
  if (source.rows <= options.detailRows && target.rows <= options.detailRows) {
    const [sourceValues, targetValues] = await Promise.all([tableRows(pair.source, table.source), tableRows(pair.target, table.target)]);
    const unmatched = new Map<string, number>();
    for (const values of targetValues) unmatched.set(JSON.stringify(values), (unmatched.get(JSON.stringify(values)) ?? 0) + 1);
    rows = { missing: [], extra: [], changed: [], complete: true };
    for (const values of sourceValues) {
      const id = JSON.stringify(values);
      const left = unmatched.get(id) ?? 0;
      if (left > 0) unmatched.set(id, left - 1);
      else rows.missing.push(values);
    }
    for (const values of targetValues) {
      const id = JSON.stringify(values);
      const left = unmatched.get(id) ?? 0;
      if (left > 0) {
        unmatched.set(id, left - 1);
        rows.extra.push(values);
      }
    }
    rows = capped(rows, options.maxKeys);
  }
  const columns = table.source.columns;
  const asRow = (values: RowValues): RowKey => Object.fromEntries(columns.map((name, i) => [name, values[i] ?? null]));
  return {
    sourceRows: source.rows,
    targetRows: target.rows,
    difference: {
      lower: null,
      upper: null,
      sourceRows: source.rows,
      targetRows: target.rows,
      missingOnTarget: rows.missing.map(asRow),
      extraOnTarget: rows.extra.map(asRow),
      changed: [],
      keysComplete: rows.complete,
    },
  };
}

function listed(rows: DifferingRows): number {
  return rows.missing.length + rows.extra.length + rows.changed.length;
}

/** At most `maxKeys` rows in all (missing first, then extra, then changed). */
function capped(rows: DifferingRows, maxKeys: number): DifferingRows {
  if (listed(rows) <= maxKeys) return rows;
  const missing = rows.missing.slice(0, maxKeys);
  const extra = rows.extra.slice(0, maxKeys - missing.length);
  const changed = rows.changed.slice(0, maxKeys - missing.length - extra.length);
  return { missing, extra, changed, complete: false };
}
