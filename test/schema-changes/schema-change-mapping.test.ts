/**
 * How a `pgcdc.ddl` message becomes schema-change events, for the cases a live source makes rare or
 * hard to reach: filters on renames and columns, drops without an earlier description, messages of
 * an older capture (no `previous`), failed captures, dropped columns and several tables in one
 * command. Descriptions are built by hand in the shape `pgcdc.describe_table` returns.
 */
import { describe, expect, it } from 'vitest';
import type { DdlMessage } from '../../src/ddl/ddl-message.js';
import type { ColumnDescription, TableDescription } from '../../src/ddl/table-description.js';
import type { TransactionInfo } from '../../src/events/stream-event.js';
import { ChangeFilter } from '../../src/pipeline/change-filter.js';
import { schemaChangeEvents } from '../../src/pipeline/schema-change-events.js';

const txn: TransactionInfo = { xid: 7, commitLsn: 500, commitTimeMicros: 1, previousCommitLsn: 0, origin: undefined };

function column(attnum: number, name: string, type = 'integer', extra: Partial<ColumnDescription> = {}): ColumnDescription {
  return { attnum, name, type, typeOid: 23, typmod: -1, collation: null, notNull: false, default: null, identity: null, generated: null, inherited: false, ...extra };
}

function table(oid: number, schema: string, name: string, columns: ColumnDescription[], key: string[] = []): TableDescription {
  return {
    oid,
    schemaOid: 2200,
    schema,
    name,
    relkind: 'r',
    unlogged: false,
    replicaIdentity: 'd',
    replicaIdentityIndex: null,
    partitionKey: null,
    partitionOf: null,
    columns,
    constraints: key.length === 0 ? [] : [{ oid: oid + 1, name: `${name}_pkey`, type: 'p', definition: 'PRIMARY KEY', columns: key, references: null, deferrable: false, deferred: false, validated: true, inherited: false }],
    indexes: [],
    sequences: [],
    types: [],
  };
}

function message(fields: Partial<DdlMessage>): DdlMessage {
  return { version: 1, event: 'ddl_command_end', commandTag: 'ALTER TABLE', query: 'q', schemas: [], types: [], tables: [], dropped: [], error: null, ...fields };
}

const everything = new ChangeFilter([], []);
const id = column(1, 'id', 'integer', { notNull: true });

describe('schema-change events from DDL messages', () => {
  it('lists columns with type, nullability, default and primary key, leaving out filtered columns', () => {
    const before = table(10, 'public', 't', [id, column(2, 'secret', 'text')], ['id']);
    const after = table(10, 'public', 't', [id, column(2, 'secret', 'text'), column(3, 'n', 'numeric(10,2)', { notNull: true, default: '1' })], ['id']);
    const filter = new ChangeFilter([], ['public\\.t\\.secret']);
    const [event] = schemaChangeEvents(message({ tables: [after], previous: [before] }), filter, txn, 420);
    expect(event).toEqual({
      kind: 'schema',
      operation: 'ALTER',
      oid: 10,
      schema: 'public',
      table: 't',
      previous: null,
      before: [{ name: 'id', type: 'integer', nullable: false, default: null, primaryKey: true }],
      after: [
        { name: 'id', type: 'integer', nullable: false, default: null, primaryKey: true },
        { name: 'n', type: 'numeric(10,2)', nullable: false, default: '1', primaryKey: false },
      ],
      commandTag: 'ALTER TABLE',
      query: 'q',
      lsn: 420,
      txn,
    });
  });

  it('is a RENAME when the name or schema changes, kept when either name is captured', () => {
    const before = table(10, 'public', 'kept', [id]);
    const after = table(10, 'public', 'gone', [id]);
    const onlyOld = new ChangeFilter(['public\\.kept'], []);
    const events = schemaChangeEvents(message({ tables: [after], previous: [before] }), onlyOld, txn, 1);
    expect(events.map((e) => [e.operation, e.schema, e.table, e.previous])).toEqual([['RENAME', 'public', 'gone', { schema: 'public', table: 'kept' }]]);
    const neither = new ChangeFilter(['public\\.other'], []);
    expect(schemaChangeEvents(message({ tables: [after], previous: [before] }), neither, txn, 1)).toEqual([]);
    const moved = table(10, 'archive', 'kept', [id]);
    expect(schemaChangeEvents(message({ tables: [moved], previous: [before] }), everything, txn, 1)[0]!.operation).toBe('RENAME');
  });

  it('is a CREATE only for creating commands; an ALTER with no earlier description has before null', () => {
    const created = table(11, 'public', 'n', [id]);
    expect(schemaChangeEvents(message({ commandTag: 'CREATE TABLE', tables: [created], previous: [] }), everything, txn, 1)[0]).toMatchObject({ operation: 'CREATE', before: null });
    expect(schemaChangeEvents(message({ commandTag: 'CREATE TABLE AS', tables: [created] }), everything, txn, 1)[0]).toMatchObject({ operation: 'CREATE', before: null });
    // A message of an older capture has no `previous`.
    expect(schemaChangeEvents(message({ tables: [created] }), everything, txn, 1)[0]).toMatchObject({ operation: 'ALTER', before: null });
  });

  it('gives one DROP per captured table dropped, none for dropped columns, and before null without a description', () => {
    const dropped = (oid: number, objectType: string, name: string, subId = 0) => ({
      objectType,
      oid,
      subId,
      schema: 'public',
      name,
      identity: `public.${name}`,
      addressNames: ['public', name],
      original: true,
      normal: false,
    });
    const known = table(12, 'public', 'a', [id]);
    const events = schemaChangeEvents(
      message({ event: 'sql_drop', commandTag: 'DROP TABLE', dropped: [dropped(12, 'table', 'a'), dropped(13, 'table', 'b'), dropped(14, 'table', 'skip'), dropped(12, 'table column', 'a', 2)], previous: [known] }),
      new ChangeFilter([], ['public\\.skip']),
      txn,
      1,
    );
    expect(events.map((e) => [e.operation, e.table, e.before?.map((c) => c.name) ?? null, e.after])).toEqual([
      ['DROP', 'a', ['id'], null],
      ['DROP', 'b', null, null],
    ]);
  });

  it('gives one event per captured table of a command, and none for a failed capture', () => {
    const a = table(20, 'public', 'a', [id]);
    const b = table(21, 'public', 'b', [id]);
    expect(schemaChangeEvents(message({ tables: [a, b], previous: [a, b] }), everything, txn, 1).map((e) => e.table)).toEqual(['a', 'b']);
    expect(schemaChangeEvents(message({ tables: [a], previous: [a], error: 'describe failed' }), everything, txn, 1)).toEqual([]);
  });
});
