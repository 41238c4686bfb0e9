/**
 * CloudEvents carrying Debezium changes, as the PgLambda sandbox tests give them to scripts.
 */

/** A Debezium change of `public.customers` (payload form). */
export function debeziumChange(op: 'c' | 'u' | 'd' | 'r', before: Record<string, unknown> | null, after: Record<string, unknown> | null): Record<string, unknown> {
  return {
    before,
    after,
    source: { version: '0.1.0', connector: 'postgresql', name: 'lambda-stream', ts_ms: 1795238224521, snapshot: 'false', db: 'shop', schema: 'public', table: 'customers', txId: 755, lsn: 24512064, xmin: null },
    transaction: null,
    op,
    ts_ms: 1795238224528,
  };
}

/** The CloudEvent (as an object) around a Debezium change. */
export function cloudEvent(data: Record<string, unknown>, id = 'lambda-stream:24512064'): Record<string, unknown> {
  return {
    specversion: '1.0',
    id,
    source: '/pgcdc/lambda-stream',
    type: 'io.debezium.postgresql.datachangeevent',
    time: '2026-11-21T07:00:00.000Z',
    datacontenttype: 'application/json',
    data,
  };
}

export const INSERT = cloudEvent(debeziumChange('c', null, { id: 1, name: 'Ada', tags: ['vip'] }));
export const UPDATE = cloudEvent(debeziumChange('u', { id: 1, name: 'Ada' }, { id: 1, name: 'Ada Lovelace' }));
export const DELETE = cloudEvent(debeziumChange('d', { id: 1, name: 'Ada Lovelace' }, null));
