/**
 * The Postgres target's schema: creates the captured tables it lacks from the source's catalogs
 * (their schemas, types and sequences too), checks the ones it has, holds back the indexes and
 * constraints of tables about to be bulk-loaded and restores them afterwards, and replays the DDL
 * messages captured on the source. What the target holds is kept as the source's descriptions
 * (`ReplicatedSchema`, by source oid), saved in `pgcdc.replicated_schema` in the same transaction
 * as every change to it, so that a replayed DDL message is never applied twice.
 */
import type { PostgresTargetConfig } from '../../config/stream-config.js';
import { compatibilityProblems } from '../../ddl/compatibility-problems.js';
import { createStatements, deferredStatements } from '../../ddl/create-statements.js';
import { DDL_MESSAGE_PREFIX, parseDdlMessage, type DdlMessage } from '../../ddl/ddl-message.js';
import { describeTables, existingTypes, targetDescriptions } from '../../ddl/describe-tables.js';
import { ReplicatedSchema } from '../../ddl/replicated-schema.js';
import { replayStatements } from '../../ddl/replay-statements.js';
import { tableChangeStatements } from '../../ddl/table-changes.js';
import type { TableDescription } from '../../ddl/table-description.js';
import type { CatalogQuery } from '../../decoding/values/type-catalog.js';
import { PgcdcError } from '../../errors/pgcdc-error.js';
import type { MessageEvent, TableInfo } from '../../events/stream-event.js';
import type { Logger } from '../../logging/logger.js';
import type { ChangeFilter } from '../../pipeline/change-filter.js';
import { formatLsn, parseLsn, type Lsn } from '../../source/lsn.js';
import { qualifiedName, quoteLiteral } from '../../source/sql-quoting.js';
import type { WireConnection } from '../../source/wire/wire-connection.js';
import type { MessageApplier } from './postgres-target.js';
import type { CopyFormat } from '../../snapshot/snapshot-plan.js';
import type { TableLoad } from '../target.js';
import { asTargetError, BOOKKEEPING_LOCK_SQL, queryRows, serverFields } from './target-session.js';

const SCHEMA_TABLES_SQL = `
  ${BOOKKEEPING_LOCK_SQL}
  CREATE TABLE IF NOT EXISTS pgcdc.replicated_schema (stream text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE IF NOT EXISTS pgcdc.deferred_tables (stream text NOT NULL, table_oid bigint NOT NULL, PRIMARY KEY (stream, table_oid));
  CREATE TABLE IF NOT EXISTS pgcdc.table_positions (stream text NOT NULL, table_oid bigint NOT NULL, lsn pg_lsn NOT NULL, PRIMARY KEY (stream, table_oid))`;

export interface TargetSchemaOptions {
  readonly config: PostgresTargetConfig;
  readonly stream: string;
  readonly filter: ChangeFilter;
  readonly logger: Logger;
}

export class TargetSchema implements MessageApplier {
  readonly prefix = DDL_MESSAGE_PREFIX;
  readonly #options: TargetSchemaOptions;
  #state = new ReplicatedSchema();
  /** Tables being loaded whose rows can travel in COPY's binary format, by `schema.table`. */
  readonly #binaryLoads = new Set<string>();
  /** Tables loaded again at a later snapshot: their changes committed before this position are in it (by source oid). */
  readonly #positions = new Map<number, Lsn>();

  constructor(options: TargetSchemaOptions) {
    this.#options = options;
  }

  /** Reads the saved state (after connecting). */
  async load(connection: WireConnection): Promise<void> {
    await connection.query(SCHEMA_TABLES_SQL);
    const [row] = await queryRows(connection, `SELECT state::text AS state FROM pgcdc.replicated_schema WHERE stream = ${quoteLiteral(this.#options.stream)}`);
    this.#state = row?.state ? ReplicatedSchema.fromJSON(JSON.parse(row.state)) : new ReplicatedSchema();
    this.#positions.clear();
    const positions = await queryRows(connection, `SELECT table_oid::text AS oid, lsn::text AS lsn FROM pgcdc.table_positions WHERE stream = ${quoteLiteral(this.#options.stream)}`);
    for (const position of positions) this.#positions.set(Number(position.oid), parseLsn(position.lsn!));
  }

  /** Whether a change committed at `commitLsn` to the table with this source oid is already in the table's last load. */
  loadedLater(oid: number, commitLsn: Lsn): boolean {
    return this.#positions.size > 0 && commitLsn < (this.#positions.get(oid) ?? 0);
  }

  /**
   * Empties tables whose load starts again at a new snapshot at `position`, reshaped as `source`
   * (read inside that snapshot) describes them, creating those the target lacks, and records the
   * position: their changes committed before it are skipped. One transaction; their earlier chunk
   * records are forgotten.
   */
  async restartTables(connection: WireConnection, source: CatalogQuery, oids: readonly number[], position: Lsn): Promise<void> {
    const { config, stream, logger } = this.#options;
    const next = (await describeTables(source, oids)).map((table) => this.#capturedPart(table));
    const present = new Map((await targetDescriptions(targetQuery(connection), next.map((t) => ({ schema: t.schema, table: t.name })))).map((t) => [nameOf(t), t]));
    const missing = next.filter((t) => !present.has(nameOf(t)));
    const existing = next.filter((t) => present.has(nameOf(t)));
    const statements: string[] = [];
    for (const table of existing) {
      const before = this.#state.table(table.oid);
      if (before) statements.push(...tableChangeStatements(before, table));
    }
    statements.push(...(await emptyStatements(connection, existing)));
    const problems = compatibilityProblems(existing.filter((t) => !this.#state.table(t.oid)), [...present.values()]);
    if (problems.length > 0) throw new PgcdcError('TARGET_FAILED', `the target cannot take the source's rows: ${problems.slice(0, 5).join('; ')}`, { hint: 'alter or drop these target tables' });
    const defer = config.deferIndexes && missing.length > 0;
    statements.push(...createStatements(missing, { deferIndexes: defer, existingTypes: await existingTypes(targetQuery(connection), missing) }));
    const names = next.map((t) => quoteLiteral(nameOf(t))).join(', ');
    const before = this.#state.toJSON();
    this.#state.putTables(next);
    try {
      await this.#inTransaction(connection, false, [
        ...statements,
        ...(defer ? missing.map((t) => `INSERT INTO pgcdc.deferred_tables VALUES (${quoteLiteral(stream)}, ${t.oid}) ON CONFLICT DO NOTHING`) : []),
        `DELETE FROM pgcdc.loaded_chunks WHERE stream = ${quoteLiteral(stream)} AND table_name IN (${names})`,
        ...this.#positionStatements(next, position),
        this.#saveStateSql(),
      ]);
    } catch (error) {
      this.#state = ReplicatedSchema.fromJSON(before);
      throw error;
    }
    for (const table of next) this.#positions.set(table.oid, position);
    logger.info({ tables: next.map(nameOf), position: formatLsn(position) }, 'tables emptied to be loaded at a new snapshot');
  }

  /** Whether the target holds rows of the table with this source oid loaded by a snapshot (so every row it is sent a change for must be there). */
  loaded(oid: number): boolean {
    return this.#positions.has(oid);
  }

  /** Whether the target holds the table with this source oid (prepared, or created by DDL). */
  knows(oid: number): boolean {
    return this.#state.table(oid) !== undefined;
  }

  /**
   * Creates the tables (source oids) the target lacks, holding back the indexes and constraints
   * when tables are about to be bulk-loaded (`loading`, with deferIndexes); checks the existing
   * ones. Tables about to be loaded are emptied (the target ends equal to the source) and the
   * load's position is recorded for them. Runs in its own transaction, or inside the open one
   * (`inOpenTransaction`: a table whose first change arrives while streaming). Fails with every
   * problem when the target cannot take the source's rows.
   */
  async prepare(
    connection: WireConnection,
    source: CatalogQuery,
    oids: readonly number[],
    loading: TableLoad | undefined,
    inOpenTransaction = false,
  ): Promise<void> {
    const { config, logger } = this.#options;
    const target = targetQuery(connection);
    // A table the target already holds is as of the applied position: DDL after it is still to come in the stream.
    const loadingOids = new Set(loading?.tables);
    const unknown = oids.filter((oid) => loadingOids.has(oid) || !this.knows(oid));
    if (unknown.length === 0) return;
    const wanted = (await describeTables(source, unknown)).map((table) => this.#capturedPart(table));
    const present = await targetDescriptions(
      target,
      wanted.map((t) => ({ schema: t.schema, table: t.name })),
    );
    const presentNames = new Set(present.map(nameOf));
    const missing = wanted.filter((t) => !presentNames.has(nameOf(t)));
    const existing = wanted.filter((t) => presentNames.has(nameOf(t)));
    const problems = compatibilityProblems(existing, present);
    if (missing.length > 0 && !config.createTables) problems.unshift(...missing.map((t) => `target table ${nameOf(t)} does not exist`));
    if (problems.length > 0) {
      throw new PgcdcError('TARGET_FAILED', `the target cannot take the source's rows: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, {
        hint: config.createTables
          ? 'alter or drop these target tables (pgcdc creates missing ones), or exclude them from the stream'
          : 'create the tables on the target, or set spec.target.postgres.createTables: true',
      });
    }
    const defer = config.deferIndexes && missing.some((t) => loadingOids.has(t.oid));
    const statements = createStatements(missing, { deferIndexes: defer, existingTypes: await existingTypes(target, missing) });
    const loadingWanted = wanted.filter((t) => loadingOids.has(t.oid));
    const holding = await this.#tablesWithRows(connection, existing.filter((t) => loadingOids.has(t.oid)));
    const before = this.#state.toJSON();
    this.#state.putTables(wanted);
    try {
      await this.#inTransaction(connection, inOpenTransaction, [
        ...statements,
        ...(defer ? missing.map((t) => `INSERT INTO pgcdc.deferred_tables VALUES (${quoteLiteral(this.#options.stream)}, ${t.oid}) ON CONFLICT DO NOTHING`) : []),
        ...(await emptyStatements(connection, holding)),
        ...(loading ? this.#positionStatements(loadingWanted, loading.position) : []),
        this.#saveStateSql(),
      ]);
    } catch (error) {
      this.#state = ReplicatedSchema.fromJSON(before);
      throw error;
    }
    if (missing.length > 0) logger.info({ tables: missing.map(nameOf), deferredIndexes: defer }, 'created the missing tables on the target');
    if (holding.length > 0) logger.warn({ tables: holding.map(nameOf) }, 'emptied target tables that already held rows, to load them from the snapshot (the target ends equal to the source)');
    if (loading) for (const table of loadingWanted) this.#positions.set(table.oid, loading.position);
    if (loadingWanted.length > 0 && (await serverMajor(source)) === (await serverMajor(target))) {
      const presentByName = new Map(present.map((t) => [nameOf(t), t]));
      for (const table of loadingWanted) {
        if (binaryCopyFits(table, presentByName.get(nameOf(table)) ?? table)) this.#binaryLoads.add(nameOf(table));
      }
    }
  }

  /**
   * COPY's binary format (about a third faster to write and to read than text) when the rows'
   * bytes mean the same on both sides; text otherwise. See binaryCopyFits.
   */
  copyFormat(table: TableInfo): CopyFormat {
    return this.#binaryLoads.has(`${table.schema}.${table.table}`) ? 'binary' : 'text';
  }

  /**
   * Creates the indexes and constraints held back for the initial load. Statistics are left to
   * autovacuum, as after pg_dump | psql or native logical replication's table sync.
   */
  async restoreDeferred(connection: WireConnection): Promise<void> {
    const rows = await queryRows(connection, `SELECT table_oid::text AS oid FROM pgcdc.deferred_tables WHERE stream = ${quoteLiteral(this.#options.stream)}`);
    const tables = rows.map((row) => this.#state.table(Number(row.oid))).filter((t): t is TableDescription => t !== undefined);
    if (tables.length === 0 && rows.length === 0) return;
    const started = Date.now();
    const present = new Map((await targetDescriptions(targetQuery(connection), tables.map((t) => ({ schema: t.schema, table: t.name })))).map((t) => [nameOf(t), t]));
    // Only what the target lacks: a restore interrupted half-way goes on where it stopped.
    const lacking = tables.map((table) => {
      const have = present.get(nameOf(table));
      const constraints = new Set(have?.constraints.map((c) => c.name));
      const indexes = new Set(have?.indexes.map((i) => i.name));
      return { ...table, constraints: table.constraints.filter((c) => !constraints.has(c.name)), indexes: table.indexes.filter((i) => !indexes.has(i.name)) };
    });
    await connection.query("SET maintenance_work_mem = '512MB'");
    for (const statement of deferredStatements(lacking)) await this.#run(connection, statement, 'restore the deferred indexes and constraints on');
    await connection.query('RESET maintenance_work_mem');
    await connection.query(`DELETE FROM pgcdc.deferred_tables WHERE stream = ${quoteLiteral(this.#options.stream)}`);
    this.#options.logger.info({ tables: tables.map(nameOf), ms: Date.now() - started }, 'restored the indexes and constraints held back during the load');
  }

  /** Replays a DDL message inside the open target transaction (a savepoint around it). */
  async apply(message: MessageEvent, connection: WireConnection): Promise<void> {
    const { config, logger } = this.#options;
    if (!config.replicateDdl) return;
    const ddl = this.#replicatedPart(parseDdlMessage(message.content.toString('utf8')), message.txn?.commitLsn ?? message.lsn);
    let statements: string[];
    try {
      statements = replayStatements(ddl, this.#state);
    } catch (error) {
      // The source could not describe the command (the trigger reported an error).
      if (config.ddlErrorPolicy === 'fail') throw error;
      logger.error({ command: ddl.commandTag, source: ddl.query, error: (error as Error).message }, 'a DDL change cannot be replayed; skipped (ddlErrorPolicy: skip)');
      return;
    }
    if (statements.length === 0) return;
    const before = this.#state.toJSON();
    this.#state.apply(ddl);
    const text = ['SAVEPOINT pgcdc_ddl', ...statements, this.#saveStateSql(), 'RELEASE SAVEPOINT pgcdc_ddl'].join(';\n');
    const outcome = await connection.run(text);
    if (!outcome.failure) {
      logger.info({ command: ddl.commandTag, statements: statements.length }, 'replayed DDL on the target');
      return;
    }
    this.#state = ReplicatedSchema.fromJSON(before);
    const rolledBack = await connection.run('ROLLBACK TO SAVEPOINT pgcdc_ddl');
    if (rolledBack.failure) throw asTargetError(rolledBack.failure, config.connection, 'cannot roll back a failed DDL on the target');
    const failed = statements[outcome.commands.length - 1] ?? ddl.query ?? ddl.commandTag;
    const reason = serverFields(outcome.failure)?.message ?? outcome.failure.message;
    if (config.ddlErrorPolicy === 'skip') {
      logger.error({ command: ddl.commandTag, source: ddl.query, statement: failed, error: reason }, 'the target cannot apply a DDL change; skipped (ddlErrorPolicy: skip)');
      return;
    }
    throw new PgcdcError('TARGET_FAILED', `the target cannot apply the source's ${ddl.commandTag} (${ddl.query ?? 'no text'}): ${reason}; statement: ${failed}`, {
      cause: outcome.failure,
      hint: 'apply an equivalent change to the target by hand, or set spec.target.postgres.ddlErrorPolicy: skip; nothing after the last applied position was acknowledged at the source',
    });
  }

  /** Names of the GENERATED ALWAYS identity columns of a table the target holds. */
  identityAlways(table: TableInfo): ReadonlySet<string> {
    const description = this.#state.table(table.oid);
    return new Set(description?.columns.filter((c) => c.identity === 'a').map((c) => c.name));
  }

  /** The tables the target holds (the source's descriptions), for sequences. */
  tables(): TableDescription[] {
    return this.#state.tables();
  }

  /**
   * The message reduced to what this stream replicates: captured tables (not those loaded again
   * at a later snapshot than `commitLsn`, which already have this change), and drops of what the
   * target holds from the source.
   */
  #replicatedPart(message: DdlMessage, commitLsn: Lsn): DdlMessage {
    const { filter } = this.#options;
    const state = this.#state;
    const tables = message.tables
      .filter((t) => filter.includesTable(t.schema, t.name, t.columns.map((c) => c.name)) && t.schema !== 'pgcdc' && !this.loadedLater(t.oid, commitLsn))
      .map((t) => this.#capturedPart(t));
    const known = (oid: number): boolean => state.tables().some((t) => t.constraints.some((c) => c.oid === oid) || t.indexes.some((i) => i.oid === oid));
    const dropped = message.dropped.filter((d) => {
      switch (d.objectType) {
        case 'table':
        case 'table column':
          return state.table(d.oid) !== undefined && !this.loadedLater(d.oid, commitLsn);
        case 'table constraint':
        case 'index':
          return known(d.oid);
        case 'type':
          return state.type(d.oid) !== undefined;
        default:
          return d.objectType === 'schema' && [...state.tables(), ...tables].some((t) => t.schema === d.name);
      }
    });
    return { ...message, tables, dropped };
  }

  /** A source description without the columns the filters leave out (nor constraints and indexes on them). */
  #capturedPart(table: TableDescription): TableDescription {
    const { filter } = this.#options;
    const kept = (column: string): boolean => filter.includesColumn(table.schema, table.name, column);
    if (table.columns.every((c) => kept(c.name))) return table;
    return {
      ...table,
      columns: table.columns.filter((c) => kept(c.name)),
      constraints: table.constraints.filter((c) => c.columns.every(kept)),
      indexes: table.indexes.filter((i) => i.columns.every((c) => c !== null && kept(c))),
      sequences: table.sequences.filter((s) => kept(s.column)),
    };
  }

  #saveStateSql(): string {
    return `INSERT INTO pgcdc.replicated_schema (stream, state) VALUES (${quoteLiteral(this.#options.stream)}, ${quoteLiteral(JSON.stringify(this.#state.toJSON()))}::jsonb)
      ON CONFLICT (stream) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`;
  }

  /** The tables among `tables` that hold rows on the target. */
  async #tablesWithRows(connection: WireConnection, tables: readonly TableDescription[]): Promise<TableDescription[]> {
    const holding: TableDescription[] = [];
    for (const table of tables) {
      const [row] = await queryRows(connection, `SELECT EXISTS (SELECT FROM ${qualifiedName({ schema: table.schema, table: table.name })}) AS rows`);
      if (row?.rows === 't') holding.push(table);
    }
    return holding;
  }

  /** Records that the tables are loaded as of `position` (their changes committed before it are in the load). */
  #positionStatements(tables: readonly TableDescription[], position: Lsn): string[] {
    const stream = quoteLiteral(this.#options.stream);
    return tables.map((t) => `INSERT INTO pgcdc.table_positions VALUES (${stream}, ${t.oid}, '${formatLsn(position)}') ON CONFLICT (stream, table_oid) DO UPDATE SET lsn = EXCLUDED.lsn`);
  }

  /** Runs statements in a transaction of their own, or in a savepoint of the open one. */
  async #inTransaction(connection: WireConnection, inOpenTransaction: boolean, statements: readonly string[]): Promise<void> {
    const [start, end, undo] = inOpenTransaction ? ['SAVEPOINT pgcdc_prepare', 'RELEASE SAVEPOINT pgcdc_prepare', 'ROLLBACK TO SAVEPOINT pgcdc_prepare'] : ['BEGIN', 'COMMIT', 'ROLLBACK'];
    const outcome = await connection.run([start, ...statements, end].join(';\n'));
    if (!outcome.failure) return;
    await connection.run(undo);
    const failed = statements[outcome.commands.length - 1] ?? '';
    throw asTargetError(outcome.failure, this.#options.config.connection, `cannot create the tables on the target (${failed.slice(0, 200)})`);
  }

  async #run(connection: WireConnection, statement: string, what: string): Promise<void> {
    const outcome = await connection.run(statement);
    if (outcome.failure) throw asTargetError(outcome.failure, this.#options.config.connection, `cannot ${what} the target (${statement.slice(0, 200)})`);
  }
}

/**
 * Statements emptying target tables: one TRUNCATE for those no other table references by a
 * foreign key (TRUNCATE refuses them, even with triggers quiet), DELETE for the others (foreign-key
 * triggers do not fire with session_replication_role = replica).
 */
async function emptyStatements(connection: WireConnection, tables: readonly TableDescription[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const names = tables.map((t) => qualifiedName({ schema: t.schema, table: t.name }));
  const list = `ARRAY[${names.map((name) => `${quoteLiteral(name)}::regclass`).join(', ')}]`;
  const referenced = new Set(
    (await queryRows(connection, `SELECT DISTINCT confrelid::regclass::text AS name FROM pg_constraint WHERE contype = 'f' AND confrelid = ANY(${list}) AND NOT conrelid = ANY(${list})`)).map(
      (row) => row.name!,
    ),
  );
  const regclassText = new Map((await queryRows(connection, `SELECT unnest(${list})::text AS name`)).map((row, i) => [names[i]!, row.name!]));
  const truncated = names.filter((name) => !referenced.has(regclassText.get(name)!));
  return [...(truncated.length > 0 ? [`TRUNCATE ${truncated.join(', ')}`] : []), ...names.filter((name) => !truncated.includes(name)).map((name) => `DELETE FROM ${name}`)];
}

/**
 * Binary COPY carries each value in its type's send/recv format, which is tied to the type: it
 * fits only when every column is a built-in type (user types' oids, which binary arrays and
 * records carry, differ between servers) and the target's column has the same type. The caller
 * also requires the same major version on both sides.
 */
function binaryCopyFits(source: TableDescription, target: TableDescription): boolean {
  const targetTypes = new Map(target.columns.map((c) => [c.name, c.type]));
  return source.columns.every((c) => c.typeOid < FIRST_NORMAL_OBJECT_ID && targetTypes.get(c.name) === c.type);
}

/** Oids below this are the built-in objects of every PostgreSQL server. */
const FIRST_NORMAL_OBJECT_ID = 16384;

async function serverMajor(query: CatalogQuery): Promise<number> {
  const { rows } = await query("SELECT current_setting('server_version_num')::int / 10000 AS major", []);
  return Number(rows[0].major);
}

export function targetQuery(connection: WireConnection): CatalogQuery {
  return (text, params) => connection.queryParams(text, params);
}

function nameOf(table: { readonly schema: string; readonly name: string }): string {
  return `${table.schema}.${table.name}`;
}
