/**
 * The logical decoding message pgcdc's event triggers emit for each DDL command on the source
 * (prefix `pgcdc.ddl`, transactional, JSON content): its TypeScript type and validating parser.
 */
import { z } from 'zod';
import { PgcdcError } from '../errors/pgcdc-error.js';
import { tableDescriptionSchema, typeDescriptionSchema, type TableDescription, type TypeDescription } from './table-description.js';

/** The prefix of pgcdc's DDL messages (`pg_logical_emit_message(true, 'pgcdc.ddl', json)`). */
export const DDL_MESSAGE_PREFIX = 'pgcdc.ddl';

/** The message format version this pgcdc writes and reads. */
export const DDL_MESSAGE_VERSION = 1;

/** One object `pg_event_trigger_dropped_objects()` listed (temporary and system objects left out). */
export interface DroppedObject {
  /** `table`, `table column`, `index`, `table constraint`, `schema` or `type`. */
  readonly objectType: string;
  /** The object's oid; for a column, its table's. */
  readonly oid: number;
  /** The column's attnum for `table column`, else 0. */
  readonly subId: number;
  readonly schema: string | null;
  readonly name: string | null;
  /** `object_identity`, e.g. `public.orders`, `orders_pkey on public.orders`. */
  readonly identity: string;
  /** `address_names`: `[schema, table]`, `[schema, table, column]`, `[schema, table, constraint]`, `[schema, index]`, `[schema]`, `[schema.type]`. */
  readonly addressNames: readonly string[];
  /** Named by the DROP command itself. */
  readonly original: boolean;
  /** Dropped through a normal dependency (CASCADE). */
  readonly normal: boolean;
}

/** A schema a command created or altered (renamed). */
export interface SchemaRef {
  readonly oid: number;
  readonly name: string;
}

export interface DdlMessage {
  readonly version: 1;
  /** `ddl_command_end`: what the command created or altered, described after it; `sql_drop`: what it dropped. */
  readonly event: 'ddl_command_end' | 'sql_drop';
  /** The command's tag, e.g. `ALTER TABLE`. */
  readonly commandTag: string;
  /** The statement text (`current_query()`), for logs only: replay works from the descriptions. */
  readonly query: string | null;
  readonly schemas: readonly SchemaRef[];
  /** Created or altered enum, composite, domain and range types, each after the types it uses. */
  readonly types: readonly TypeDescription[];
  /** Created or altered tables (also when one of their indexes or sequences changed). */
  readonly tables: readonly TableDescription[];
  readonly dropped: readonly DroppedObject[];
  /**
   * The last descriptions the capture recorded of the tables in `tables` (`ddl_command_end`) or of
   * the dropped tables (`sql_drop`), from before this command: absent from messages of older
   * captures, and a table created by the command has none.
   */
  readonly previous?: readonly TableDescription[];
  /** Set when the trigger could not describe the command: the DDL was not captured. */
  readonly error: string | null;
}

const messageSchema: z.ZodType<DdlMessage> = z.object({
  version: z.literal(DDL_MESSAGE_VERSION),
  event: z.enum(['ddl_command_end', 'sql_drop']),
  commandTag: z.string(),
  query: z.string().nullable(),
  schemas: z.array(z.object({ oid: z.number().int().nonnegative(), name: z.string().min(1) })),
  types: z.array(typeDescriptionSchema),
  tables: z.array(tableDescriptionSchema),
  dropped: z.array(
    z.object({
      objectType: z.string(),
      oid: z.number().int().nonnegative(),
      subId: z.number().int(),
      schema: z.string().nullable(),
      name: z.string().nullable(),
      identity: z.string(),
      addressNames: z.array(z.string()),
      original: z.boolean(),
      normal: z.boolean(),
    }),
  ),
  previous: z.array(tableDescriptionSchema).optional(),
  error: z.string().nullable(),
});

/** Parses and validates the content of a `pgcdc.ddl` message. */
export function parseDdlMessage(content: string): DdlMessage {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (error) {
    throw invalid(`it is not JSON (${(error as Error).message})`, content);
  }
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`, content);
  }
  return parsed.data;
}

function invalid(reason: string, content: string): PgcdcError {
  const start = content.length > 200 ? `${content.slice(0, 200)}…` : content;
  return new PgcdcError('PROTOCOL', `invalid ${DDL_MESSAGE_PREFIX} message: ${reason}: ${start}`, {
    hint: 'the source runs DDL capture from another pgcdc version; run pgcdc init with this version to reinstall it',
  });
}
