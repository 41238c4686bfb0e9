/**
 * Checks that the source can be captured, each check with a verdict and the fix: server version,
 * wal_level, the REPLICATION privilege, DDL capture when `captureDdl` asks for it, free
 * replication slots and WAL senders, the slot and the publication, and the captured tables (at least one, each with a primary key or replica identity).
 * `pgcdc validate` prints them all; `pgcdc run` stops at the first failure.
 */
import type { StreamConfig } from '../config/stream-config.js';
import { PgcdcError, type ErrorCode } from '../errors/pgcdc-error.js';
import { ChangeFilter } from '../pipeline/change-filter.js';
import { ddlCaptureCurrent, ddlCaptureRefused, probeDdlCapture } from '../ddl/ddl-capture.js';
import type { CatalogConnection } from './catalog-connection.js';
import { lacksReplicaIdentity, listSourceTables, selectCapturedTables, type SourceTable } from './captured-tables.js';
import { rowFiltersProblem } from './publication-manager.js';
import { qualifiedName, quoteIdent } from './sql-quoting.js';
import { counted, inflect } from '../text/counts.js';

export type CheckVerdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly name: string;
  readonly verdict: CheckVerdict;
  readonly message: string;
  /** How to fix a failure or warning. */
  readonly hint?: string;
  /** The error raised by `run` for a failure. */
  readonly code?: ErrorCode;
}

export interface SourceFacts {
  readonly checks: readonly CheckResult[];
  readonly capturedTables: readonly SourceTable[];
  readonly slotExists: boolean;
}

interface ServerFacts {
  version: number;
  wal_level: string;
  is_super: boolean;
  can_replicate: boolean;
  max_slots: number;
  used_slots: number;
  max_senders: number;
  used_senders: number;
  can_create: boolean;
  user_name: string;
}

const SERVER_FACTS_SQL = `
  select current_setting('server_version_num')::int as version,
         current_setting('wal_level') as wal_level,
         r.rolsuper as is_super, r.rolreplication as can_replicate,
         current_setting('max_replication_slots')::int as max_slots,
         (select count(*)::int from pg_replication_slots) as used_slots,
         current_setting('max_wal_senders')::int as max_senders,
         (select count(*)::int from pg_stat_replication) as used_senders,
         has_database_privilege(current_database(), 'CREATE') as can_create,
         current_user as user_name
    from pg_roles r where r.rolname = current_user`;

/** Runs every check. */
export async function checkSource(catalog: CatalogConnection, config: StreamConfig): Promise<SourceFacts> {
  const { source } = config;
  const checks: CheckResult[] = [];
  const { rows } = await catalog.query<ServerFacts>(SERVER_FACTS_SQL);
  const facts = rows[0]!;
  const role = quoteIdent(facts.user_name);

  checks.push(
    facts.version >= 140000
      ? ok('server version', `PostgreSQL ${Math.floor(facts.version / 10000)}`)
      : fail('server version', `PostgreSQL ${facts.version} is older than 14`, 'upgrade the source to PostgreSQL 14 or later', 'SERVER_UNSUPPORTED'),
  );
  checks.push(
    facts.wal_level === 'logical'
      ? ok('wal_level', 'logical')
      : fail('wal_level', `wal_level is "${facts.wal_level}", logical decoding needs "logical"`, "run ALTER SYSTEM SET wal_level = 'logical' and restart PostgreSQL", 'WAL_LEVEL'),
  );
  checks.push(
    facts.is_super || facts.can_replicate
      ? ok('replication privilege', `${facts.user_name} may start replication`)
      : fail('replication privilege', `role ${facts.user_name} has neither REPLICATION nor SUPERUSER`, `run ALTER ROLE ${role} WITH REPLICATION`, 'PERMISSION_DENIED'),
  );

  if (source.captureDdl) checks.push(await ddlCaptureCheck(catalog, facts.user_name));

  const { rows: slotRows } = await catalog.query(
    `select plugin, slot_type, database, active, active_pid from pg_replication_slots where slot_name = $1`,
    [source.slotName],
  );
  const slot = slotRows[0];
  if (slot) {
    if (slot.slot_type !== 'logical' || slot.plugin !== 'pgoutput') {
      checks.push(fail('replication slot', `slot "${source.slotName}" exists but is a ${slot.slot_type} slot with plugin ${slot.plugin ?? 'none'}`, 'choose another slotName, or drop that slot if it is unused', 'CONFIG_INVALID'));
    } else if (slot.database !== catalog.context.database) {
      checks.push(fail('replication slot', `slot "${source.slotName}" belongs to database ${slot.database}`, 'choose another slotName for this database', 'CONFIG_INVALID'));
    } else if (slot.active) {
      checks.push(warn('replication slot', `slot "${source.slotName}" exists and is in use by process ${slot.active_pid}`, 'stop the other consumer (another pgcdc?) before running this stream'));
    } else {
      checks.push(ok('replication slot', `slot "${source.slotName}" exists and is free`));
    }
  } else if (facts.used_slots >= facts.max_slots) {
    checks.push(fail('replication slot', `all ${facts.max_slots} replication slots are in use`, 'raise max_replication_slots (restart needed) or drop an unused slot', 'SLOT_LIMIT'));
  } else {
    checks.push(ok('replication slot', `slot "${source.slotName}" will be created (${facts.max_slots - facts.used_slots} of ${facts.max_slots} free)`));
  }
  checks.push(
    facts.used_senders < facts.max_senders
      ? ok('wal senders', `${facts.max_senders - facts.used_senders} of ${facts.max_senders} free`)
      : fail('wal senders', `all ${facts.max_senders} WAL senders are in use`, 'raise max_wal_senders (restart needed)', 'SLOT_LIMIT'),
  );

  const { rows: publicationRows } = await catalog.query(`select puballtables from pg_publication where pubname = $1`, [source.publicationName]);
  const publication = publicationRows[0];
  if (publication) {
    checks.push(ok('publication', `publication "${source.publicationName}" exists${publication.puballtables ? ' (all tables)' : ''}`));
  } else if (source.publicationAutocreateMode === 'disabled') {
    checks.push(fail('publication', `publication "${source.publicationName}" does not exist and publicationAutocreateMode is disabled`, `create it (CREATE PUBLICATION ${quoteIdent(source.publicationName)} FOR TABLE ...) or set publicationAutocreateMode to filtered`, 'PUBLICATION_MISSING'));
  } else if (source.publicationAutocreateMode === 'all_tables' && !facts.is_super) {
    checks.push(fail('publication', `creating a FOR ALL TABLES publication needs a superuser; ${facts.user_name} is not one`, 'set publicationAutocreateMode to filtered, or create the publication as a superuser', 'PERMISSION_DENIED'));
  } else if (!facts.can_create && !facts.is_super) {
    checks.push(fail('publication', `${facts.user_name} may not create publications in this database`, `run GRANT CREATE ON DATABASE ${quoteIdent(catalog.context.database)} TO ${role}`, 'PERMISSION_DENIED'));
  } else {
    checks.push(ok('publication', `publication "${source.publicationName}" will be created (${source.publicationAutocreateMode})`));
  }

  const filter = new ChangeFilter(source.includes, source.excludes);
  const tables = await listSourceTables(catalog);
  const [signalSchema, signalTable] = source.signalTable.split('.');
  const captured = selectCapturedTables(tables, filter).filter((t) => !(t.schema === signalSchema && t.table === signalTable));
  checks.push(
    captured.length > 0
      ? ok('captured tables', `${counted(captured.length, 'table')} ${inflect(captured.length, 'matches', 'match')} the filters`)
      : fail('captured tables', 'no table matches the include/exclude filters', 'check includes/excludes: they are regular expressions over schema.table (escape the dot: public\\.orders)', 'NO_TABLES'),
  );
  // With a FOR ALL TABLES publication every table is published, so every table must have an identity.
  const published = source.publicationAutocreateMode === 'all_tables' || publication?.puballtables ? tables : captured;
  for (const table of published.filter(lacksReplicaIdentity)) {
    checks.push(
      fail(
        'replica identity',
        `table ${table.schema}.${table.table} has neither a primary key nor a replica identity: PostgreSQL would reject its UPDATEs and DELETEs once published`,
        `add a primary key, or run ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY FULL, or exclude the table`,
        'NO_REPLICA_IDENTITY',
      ),
    );
  }
  for (const table of captured.filter((t) => t.identityIndexIsNotPrimaryKey)) {
    checks.push(
      warn(
        'replica identity',
        `table ${table.schema}.${table.table} is keyed by its primary key but its replica identity is another index: deletes and key changes carry only that index's columns, so their event keys lack the primary key`,
        `run ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY DEFAULT (or FULL)`,
      ),
    );
  }
  if (Object.keys(source.rowFilters).length > 0) {
    const problem = await rowFiltersProblem(catalog, source, captured);
    checks.push(problem ? fail('row filters', problem.message, problem.hint ?? '', problem.code) : ok('row filters', `${counted(Object.keys(source.rowFilters).length, 'filter')} accepted by the server, within the replica identity`));
  }
  const unreadable = captured.filter((t) => !t.canSelect);
  if (unreadable.length > 0) {
    const names = unreadable.map((t) => `${t.schema}.${t.table}`).join(', ');
    const verdict = needsSnapshot(config) ? fail : warn;
    checks.push(verdict('select privilege', `${facts.user_name} cannot read ${names}`, `GRANT SELECT ON ${unreadable.map(qualifiedName).join(', ')} TO ${role}`, 'PERMISSION_DENIED'));
  }
  return { checks, capturedTables: captured, slotExists: slot !== undefined };
}

/** `captureDdl`: DDL capture is installed, or this role could install it (tried, then rolled back). */
async function ddlCaptureCheck(catalog: CatalogConnection, role: string): Promise<CheckResult> {
  const query = (text: string, params: unknown[]) => catalog.query(text, params);
  if (await ddlCaptureCurrent(query)) return ok('DDL capture', 'installed');
  const probe = await probeDdlCapture(query);
  if (probe.possible) return ok('DDL capture', `${role} can install it (at start)`);
  const error = ddlCaptureRefused(role, probe.reason);
  return fail('DDL capture', error.message, error.hint ?? '', 'PERMISSION_DENIED');
}

/** Throws the first failed check as a PgcdcError. */
export function assertChecksPass(checks: readonly CheckResult[]): void {
  const failed = checks.find((check) => check.verdict === 'fail');
  if (failed) throw new PgcdcError(failed.code ?? 'CONFIG_INVALID', failed.message, failed.hint ? { hint: failed.hint } : {});
}

function needsSnapshot(config: StreamConfig): boolean {
  return config.source.snapshotMode !== 'never' && config.source.snapshotMode !== 'no_data';
}

function ok(name: string, message: string): CheckResult {
  return { name, verdict: 'ok', message };
}

function warn(name: string, message: string, hint: string): CheckResult {
  return { name, verdict: 'warn', message, hint };
}

function fail(name: string, message: string, hint: string, code: ErrorCode): CheckResult {
  return { name, verdict: 'fail', message, hint, code };
}
