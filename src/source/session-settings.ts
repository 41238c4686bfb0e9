/**
 * The session settings every pgcdc connection to the source uses. The server formats each value with
 * these (pgoutput sends values as their text output), so value rendering can rely on them.
 */
export const SOURCE_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  client_encoding: 'UTF8',
  DateStyle: 'ISO, YMD',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
};

/** The settings as a libpq `options` startup parameter (`-c name=value ...`). */
export function sessionOptionsParameter(settings: Readonly<Record<string, string>> = SOURCE_SESSION_SETTINGS): string {
  return Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value.replace(/([\\ ])/g, '\\$1')}`)
    .join(' ');
}
