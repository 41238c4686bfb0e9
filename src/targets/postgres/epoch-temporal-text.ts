/**
 * PostgreSQL input text of dates and times Debezium writes as numbers (time.precision.mode
 * `adaptive`): a date as days since 1970-01-01, a time as milliseconds or microseconds since
 * midnight, a timestamp as milliseconds or microseconds since 1970-01-01 00:00. Exact for every
 * value PostgreSQL holds (BigInt arithmetic, proleptic Gregorian calendar, BC years).
 */

/** The unit of a time or timestamp number: milliseconds for precision 0 to 3, else microseconds. */
export type EpochUnit = 'ms' | 'us';

const MICROS_PER_DAY = 86_400_000_000n;

/** The unit Debezium's adaptive mode uses for a time or timestamp column of this type modifier (its precision; -1: 6). */
export function epochUnitOf(typeModifier: number): EpochUnit {
  return typeModifier >= 0 && typeModifier <= 3 ? 'ms' : 'us';
}

/** `2020-02-29`, `0044-03-15 BC` for days since 1970-01-01. */
export function dateTextOfEpochDays(days: bigint): string {
  // Howard Hinnant's civil_from_days, in BigInt so that any day count stays exact.
  const z = days + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  const date = `${pad(year > 0n ? year : 1n - year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
  return year > 0n ? date : `${date} BC`;
}

/** `HH:MM:SS.ffffff` of a time since midnight (24:00:00 included). */
export function timeTextOfEpoch(value: bigint, unit: EpochUnit): string {
  return clockText(unit === 'ms' ? value * 1000n : value);
}

/** `YYYY-MM-DD HH:MM:SS.ffffff[ BC]` of a timestamp since 1970-01-01 00:00. */
export function timestampTextOfEpoch(value: bigint, unit: EpochUnit): string {
  const micros = unit === 'ms' ? value * 1000n : value;
  const days = floorDiv(micros, MICROS_PER_DAY);
  const date = dateTextOfEpochDays(days);
  const clock = clockText(micros - days * MICROS_PER_DAY);
  return date.endsWith(' BC') ? `${date.slice(0, -3)} ${clock} BC` : `${date} ${clock}`;
}

function clockText(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  return `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}.${pad(fraction, 6)}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function pad(value: bigint, width: number): string {
  return value.toString().padStart(width, '0');
}
