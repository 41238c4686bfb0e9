/**
 * The JSON shape of a table description (what `pgcdc.describe_table(oid)` returns) and of the
 * user-defined types its columns use, as TypeScript types with the zod schemas that validate them.
 */
import { z } from 'zod';

/** An enum, composite, domain or range type a column uses (directly, as an array, or nested). */
export type TypeDescription = EnumType | CompositeType | DomainType | RangeType;

interface TypeBase {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

export interface EnumType extends TypeBase {
  readonly kind: 'enum';
  /** Labels in sort order. */
  readonly labels: readonly string[];
}

export interface CompositeAttribute {
  readonly attnum: number;
  readonly name: string;
  /** `format_type()`: quoted and schema-qualified as needed, e.g. `numeric(12,2)`, `public.mood[]`. */
  readonly type: string;
  readonly typeOid: number;
  readonly typmod: number;
  /** `"schema"."collation"` when not the type's default. */
  readonly collation: string | null;
}

export interface CompositeType extends TypeBase {
  readonly kind: 'composite';
  readonly attributes: readonly CompositeAttribute[];
}

export interface DomainType extends TypeBase {
  readonly kind: 'domain';
  readonly baseType: string;
  readonly collation: string | null;
  readonly default: string | null;
  readonly notNull: boolean;
  /** CHECK constraints by name, `pg_get_constraintdef()` text. */
  readonly checks: readonly { readonly name: string; readonly definition: string }[];
}

export interface RangeType extends TypeBase {
  readonly kind: 'range';
  readonly subtype: string;
  readonly collation: string | null;
  /** `SUBTYPE_DIFF` function, null when none. */
  readonly subtypeDiff: string | null;
  /** `"schema"."name"` of the multirange type PostgreSQL created with it. */
  readonly multirangeName: string | null;
}

/** A table column: what a composite type's attribute has, and more. */
export interface ColumnDescription extends CompositeAttribute {
  readonly notNull: boolean;
  /** Default expression (`pg_get_expr`), e.g. `nextval('public.t_id_seq'::regclass)`. */
  readonly default: string | null;
  /** `a` = GENERATED ALWAYS AS IDENTITY, `d` = BY DEFAULT; its sequence is in `sequences`. */
  readonly identity: 'a' | 'd' | null;
  /** Generated column: expression, and whether STORED (else VIRTUAL, PostgreSQL 18). */
  readonly generated: { readonly expression: string; readonly stored: boolean } | null;
  /** Inherited from a partitioned parent. */
  readonly inherited: boolean;
}

export type ConstraintType = 'p' | 'u' | 'c' | 'f' | 'x';

export interface ConstraintDescription {
  readonly oid: number;
  readonly name: string;
  /** p primary key, u unique, c check, f foreign key, x exclusion. */
  readonly type: ConstraintType;
  /** `pg_get_constraintdef()`, e.g. `FOREIGN KEY (a) REFERENCES public.t(id) DEFERRABLE`. */
  readonly definition: string;
  /** Constrained columns in key order. */
  readonly columns: readonly string[];
  /** The referenced table of a foreign key. */
  readonly references: { readonly schema: string; readonly name: string } | null;
  readonly deferrable: boolean;
  readonly deferred: boolean;
  readonly validated: boolean;
  /** Comes from a partitioned parent (created with the partition). */
  readonly inherited: boolean;
}

/** An index that does not back a constraint (those come with their constraint). */
export interface IndexDescription {
  readonly oid: number;
  readonly name: string;
  readonly unique: boolean;
  readonly partial: boolean;
  /** Key columns in order, null for an expression. */
  readonly columns: readonly (string | null)[];
  /** `pg_get_indexdef()` after the table name: `USING btree (lower(email)) WHERE active`. */
  readonly definition: string;
}

/** A sequence owned by a column: serial (`identity` false) or identity. */
export interface SequenceDescription {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly column: string;
  readonly identity: boolean;
  readonly dataType: string;
  /** int8 values as decimal text (bigint limits do not fit a JSON number). */
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

export interface TableDescription {
  readonly oid: number;
  readonly schemaOid: number;
  readonly schema: string;
  readonly name: string;
  /** r ordinary table, p partitioned table. */
  readonly relkind: 'r' | 'p';
  readonly unlogged: boolean;
  /** d default, n nothing, f full, i index (`replicaIdentityIndex`). */
  readonly replicaIdentity: 'd' | 'n' | 'f' | 'i';
  readonly replicaIdentityIndex: string | null;
  /** `pg_get_partkeydef()` of a partitioned table, e.g. `RANGE (created_at)`. */
  readonly partitionKey: string | null;
  /** The parent and bound (`FOR VALUES FROM (…) TO (…)`, `DEFAULT`) of a partition. */
  readonly partitionOf: { readonly schema: string; readonly name: string; readonly bound: string } | null;
  readonly columns: readonly ColumnDescription[];
  readonly constraints: readonly ConstraintDescription[];
  readonly indexes: readonly IndexDescription[];
  readonly sequences: readonly SequenceDescription[];
  /** User-defined types the columns use, transitively; every type after the types it uses. */
  readonly types: readonly TypeDescription[];
}

const oid = z.number().int().nonnegative();
const name = z.string().min(1);

const typeBase = { oid, schema: name, name };
/** What a column and a composite type's attribute both have, but attnum. */
const attributeShape = { name, type: z.string(), typeOid: oid, typmod: z.number().int(), collation: z.string().nullable() };

export const typeDescriptionSchema: z.ZodType<TypeDescription> = z.discriminatedUnion('kind', [
  z.object({ ...typeBase, kind: z.literal('enum'), labels: z.array(z.string()) }),
  z.object({
    ...typeBase,
    kind: z.literal('composite'),
    attributes: z.array(z.object({ attnum: z.number().int(), ...attributeShape })),
  }),
  z.object({
    ...typeBase,
    kind: z.literal('domain'),
    baseType: z.string(),
    collation: z.string().nullable(),
    default: z.string().nullable(),
    notNull: z.boolean(),
    checks: z.array(z.object({ name, definition: z.string() })),
  }),
  z.object({
    ...typeBase,
    kind: z.literal('range'),
    subtype: z.string(),
    collation: z.string().nullable(),
    subtypeDiff: z.string().nullable(),
    multirangeName: z.string().nullable(),
  }),
]);

const columnSchema = z.object({
  attnum: z.number().int().positive(),
  ...attributeShape,
  notNull: z.boolean(),
  default: z.string().nullable(),
  identity: z.enum(['a', 'd']).nullable(),
  generated: z.object({ expression: z.string(), stored: z.boolean() }).nullable(),
  inherited: z.boolean(),
});

const constraintSchema = z.object({
  oid,
  name,
  type: z.enum(['p', 'u', 'c', 'f', 'x']),
  definition: z.string(),
  columns: z.array(z.string()),
  references: z.object({ schema: name, name }).nullable(),
  deferrable: z.boolean(),
  deferred: z.boolean(),
  validated: z.boolean(),
  inherited: z.boolean(),
});

const indexSchema = z.object({
  oid,
  name,
  unique: z.boolean(),
  partial: z.boolean(),
  columns: z.array(z.string().nullable()),
  definition: z.string(),
});

const int8Text = z.string().regex(/^-?\d+$/);

const sequenceSchema = z.object({
  oid,
  schema: name,
  name,
  column: name,
  identity: z.boolean(),
  dataType: z.string(),
  start: int8Text,
  increment: int8Text,
  min: int8Text,
  max: int8Text,
  cache: int8Text,
  cycle: z.boolean(),
});

export const tableDescriptionSchema: z.ZodType<TableDescription> = z.object({
  oid,
  schemaOid: oid,
  schema: name,
  name,
  relkind: z.enum(['r', 'p']),
  unlogged: z.boolean(),
  replicaIdentity: z.enum(['d', 'n', 'f', 'i']),
  replicaIdentityIndex: z.string().nullable(),
  partitionKey: z.string().nullable(),
  partitionOf: z.object({ schema: name, name, bound: z.string() }).nullable(),
  columns: z.array(columnSchema),
  constraints: z.array(constraintSchema),
  indexes: z.array(indexSchema),
  sequences: z.array(sequenceSchema),
  types: z.array(typeDescriptionSchema),
});
