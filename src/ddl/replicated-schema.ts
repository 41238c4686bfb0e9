/**
 * What a target holds, as the source's own descriptions keyed by source oid: the "before" that
 * `replayStatements` compares each DDL message with (a rename keeps the oid, so old names are
 * known). The caller keeps one per stream, applies each message after replaying it, and persists
 * it (JSON) together with what it replayed.
 */
import { z } from 'zod';
import { PgcdcError } from '../errors/pgcdc-error.js';
import type { DdlMessage, SchemaRef } from './ddl-message.js';
import { tableDescriptionSchema, typeDescriptionSchema, type TableDescription, type TypeDescription } from './table-description.js';

/** What `replayStatements` needs to know about the target: the source's last applied descriptions. */
export interface ReplayState {
  /** The table with this source oid as last applied to the target. */
  table(oid: number): TableDescription | undefined;
  /** The type with this source oid, if the target has it. */
  type(oid: number): TypeDescription | undefined;
  /** The name of the schema with this source oid, if the target has it. */
  schema(oid: number): string | undefined;
}

export interface ReplicatedSchemaJson {
  readonly version: 1;
  readonly schemas: readonly SchemaRef[];
  readonly types: readonly TypeDescription[];
  readonly tables: readonly TableDescription[];
}

const jsonSchema = z.object({
  version: z.literal(1),
  schemas: z.array(z.object({ oid: z.number().int().nonnegative(), name: z.string().min(1) })),
  types: z.array(typeDescriptionSchema),
  tables: z.array(tableDescriptionSchema),
});

export class ReplicatedSchema implements ReplayState {
  readonly #tables = new Map<number, TableDescription>();
  readonly #types = new Map<number, TypeDescription>();
  readonly #schemas = new Map<number, string>();

  /** The state after `createStatements(tables)` ran on the target. */
  static fromDescriptions(tables: readonly TableDescription[]): ReplicatedSchema {
    const state = new ReplicatedSchema();
    state.putTables(tables);
    return state;
  }

  /** The state `toJSON()` saved. */
  static fromJSON(json: unknown): ReplicatedSchema {
    const parsed = jsonSchema.safeParse(json);
    if (!parsed.success) {
      throw new PgcdcError('STATE_INVALID', `the saved target schema is invalid: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
        hint: 'rebuild the target (its schema state cannot be trusted)',
      });
    }
    const state = new ReplicatedSchema();
    for (const schema of parsed.data.schemas) state.#schemas.set(schema.oid, schema.name);
    for (const type of parsed.data.types) state.#types.set(type.oid, type);
    for (const table of parsed.data.tables) state.#tables.set(table.oid, table);
    return state;
  }

  toJSON(): ReplicatedSchemaJson {
    return {
      version: 1,
      schemas: [...this.#schemas].map(([oid, name]) => ({ oid, name })),
      types: [...this.#types.values()],
      tables: [...this.#tables.values()],
    };
  }

  table(oid: number): TableDescription | undefined {
    return this.#tables.get(oid);
  }

  type(oid: number): TypeDescription | undefined {
    return this.#types.get(oid);
  }

  schema(oid: number): string | undefined {
    return this.#schemas.get(oid);
  }

  /** Every table the target holds. */
  tables(): TableDescription[] {
    return [...this.#tables.values()];
  }

  /** Records tables created on (or found compatible with) the target. */
  putTables(tables: readonly TableDescription[]): void {
    for (const table of tables) this.#putTable(table);
  }

  /** Records what replaying `message` made of the target. */
  apply(message: DdlMessage): void {
    if (message.event === 'sql_drop') {
      this.#applyDrops(message);
      return;
    }
    for (const schema of message.schemas) {
      const old = this.#schemas.get(schema.oid);
      if (old !== undefined && old !== schema.name) this.#renameSchema(old, schema.name);
      this.#schemas.set(schema.oid, schema.name);
    }
    for (const type of message.types) this.#types.set(type.oid, type);
    for (const table of message.tables) this.#putTable(table);
  }

  #putTable(table: TableDescription): void {
    this.#tables.set(table.oid, table);
    this.#schemas.set(table.schemaOid, table.schema);
    for (const type of table.types) if (!this.#types.has(type.oid)) this.#types.set(type.oid, type);
  }

  #renameSchema(from: string, to: string): void {
    for (const [oid, table] of this.#tables) {
      const moved = {
        ...table,
        schema: table.schema === from ? to : table.schema,
        partitionOf: table.partitionOf?.schema === from ? { ...table.partitionOf, schema: to } : table.partitionOf,
        sequences: table.sequences.map((s) => (s.schema === from ? { ...s, schema: to } : s)),
      };
      this.#tables.set(oid, moved);
    }
    for (const [oid, type] of this.#types) if (type.schema === from) this.#types.set(oid, { ...type, schema: to });
  }

  #applyDrops(message: DdlMessage): void {
    for (const dropped of message.dropped) {
      switch (dropped.objectType) {
        case 'table':
          this.#tables.delete(dropped.oid);
          break;
        case 'table column': {
          const table = this.#tables.get(dropped.oid);
          if (table) this.#tables.set(dropped.oid, { ...table, columns: table.columns.filter((c) => c.attnum !== dropped.subId) });
          break;
        }
        case 'table constraint':
        case 'index':
          for (const [oid, table] of this.#tables) {
            const constraints = table.constraints.filter((c) => c.oid !== dropped.oid);
            const indexes = table.indexes.filter((i) => i.oid !== dropped.oid);
            if (constraints.length !== table.constraints.length || indexes.length !== table.indexes.length) {
              this.#tables.set(oid, { ...table, constraints, indexes });
            }
          }
          break;
        case 'type':
          this.#types.delete(dropped.oid);
          break;
        case 'schema':
          this.#schemas.delete(dropped.oid);
          break;
      }
    }
  }
}
