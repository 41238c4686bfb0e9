/**
 * The catalog queries behind table and type descriptions, as SQL text with one parameter `$1`
 * (an oid) returning one jsonb value: the same text runs directly and is installed as the body of
 * `pgcdc.describe_table(oid)` / `pgcdc.describe_types(oid)` on the source. Both must run with
 * `search_path = pg_catalog, pg_temp`, so that every user object in the output is schema-qualified.
 */

/** `"schema"."collation"` of collation `oid`. */
function collationName(oid: string): string {
  return `(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
          FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`;
}

/** JSON of the type `t` (pg_type) in namespace `tn`, with its pg_range row `r` (or nulls). */
const TYPE_JSON = `pg_catalog.jsonb_build_object(
  'oid', t.oid::pg_catalog.int8,
  'schema', tn.nspname::pg_catalog.text,
  'name', t.typname::pg_catalog.text,
  'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite' WHEN 'd' THEN 'domain' ELSE 'range' END
) || CASE t.typtype
WHEN 'e' THEN pg_catalog.jsonb_build_object(
  'labels', COALESCE((
    SELECT pg_catalog.jsonb_agg(e.enumlabel::pg_catalog.text ORDER BY e.enumsortorder)
    FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '[]'))
WHEN 'c' THEN pg_catalog.jsonb_build_object(
  'attributes', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'attnum', ta.attnum,
      'name', ta.attname::pg_catalog.text,
      'type', pg_catalog.format_type(ta.atttypid, ta.atttypmod),
      'typeOid', ta.atttypid::pg_catalog.int8,
      'typmod', ta.atttypmod,
      'collation', CASE WHEN ta.attcollation <> tat.typcollation THEN ${collationName('ta.attcollation')} END
    ) ORDER BY ta.attnum)
    FROM pg_catalog.pg_attribute ta JOIN pg_catalog.pg_type tat ON tat.oid = ta.atttypid
    WHERE ta.attrelid = t.typrelid AND ta.attnum > 0 AND NOT ta.attisdropped), '[]'))
WHEN 'd' THEN pg_catalog.jsonb_build_object(
  'baseType', pg_catalog.format_type(t.typbasetype, t.typtypmod),
  'collation', CASE WHEN t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)
    THEN ${collationName('t.typcollation')} END,
  'default', pg_catalog.pg_get_expr(t.typdefaultbin, 0),
  'notNull', t.typnotnull,
  'checks', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'name', k.conname::pg_catalog.text, 'definition', pg_catalog.pg_get_constraintdef(k.oid)) ORDER BY k.conname)
    FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'), '[]'))
ELSE pg_catalog.jsonb_build_object(
  'subtype', pg_catalog.format_type(r.rngsubtype, NULL),
  'collation', CASE WHEN r.rngcollation <> 0
    AND r.rngcollation <> (SELECT s.typcollation FROM pg_catalog.pg_type s WHERE s.oid = r.rngsubtype)
    THEN ${collationName('r.rngcollation')} END,
  'subtypeDiff', CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::pg_catalog.text END,
  'multirangeName', (
    SELECT pg_catalog.quote_ident(mn.nspname) || '.' || pg_catalog.quote_ident(m.typname)
    FROM pg_catalog.pg_type m JOIN pg_catalog.pg_namespace mn ON mn.oid = m.typnamespace WHERE m.oid = r.rngmultitypid))
END`;

/**
 * A jsonb array of the user-defined types reachable from the type oids `seed` selects (array
 * elements, domain bases, composite attributes, range subtypes, a multirange's range), every type
 * after those it uses; `[]` when none. Types of extensions and tables' row types are left out.
 */
function userTypesJson(seed: string): string {
  return `COALESCE((
  WITH RECURSIVE used(oid, depth) AS (
    ${seed}
    UNION ALL
    SELECT dependency.oid, used.depth + 1
    FROM used
    JOIN pg_catalog.pg_type t ON t.oid = used.oid
    CROSS JOIN LATERAL (
      SELECT t.typelem WHERE t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
      UNION ALL
      SELECT t.typbasetype WHERE t.typtype = 'd'
      UNION ALL
      SELECT ta.atttypid FROM pg_catalog.pg_attribute ta
      WHERE t.typtype = 'c' AND ta.attrelid = t.typrelid AND ta.attnum > 0 AND NOT ta.attisdropped
      UNION ALL
      SELECT rs.rngsubtype FROM pg_catalog.pg_range rs WHERE t.typtype = 'r' AND rs.rngtypid = t.oid
      UNION ALL
      SELECT rm.rngtypid FROM pg_catalog.pg_range rm WHERE t.typtype = 'm' AND rm.rngmultitypid = t.oid
    ) AS dependency(oid)
    WHERE used.depth < 100
  )
  SELECT pg_catalog.jsonb_agg((${TYPE_JSON}) ORDER BY w.depth DESC, tn.nspname, t.typname)
  FROM (SELECT used.oid, pg_catalog.max(used.depth) AS depth FROM used GROUP BY used.oid) AS w
  JOIN pg_catalog.pg_type t ON t.oid = w.oid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  WHERE t.typtype IN ('e', 'c', 'd', 'r')
    AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
    AND (t.typtype <> 'c' OR (SELECT rc.relkind FROM pg_catalog.pg_class rc WHERE rc.oid = t.typrelid) = 'c')
    AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend x
      WHERE x.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND x.objid = t.oid AND x.deptype = 'e')
), '[]')`;
}

/** `pg_get_indexdef()` of index `i` on table `c` (namespace `n`) after `ON table `. */
const INDEX_DEFINITION = `(
  SELECT CASE WHEN pg_catalog.left(def.text, pg_catalog.length(def.prefix)) = def.prefix
    THEN pg_catalog.substr(def.text, pg_catalog.length(def.prefix) + 1) ELSE def.text END
  FROM (SELECT pg_catalog.pg_get_indexdef(i.oid) AS text,
    'CREATE ' || CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || pg_catalog.quote_ident(i.relname)
    || ' ON ' || CASE WHEN c.relkind = 'p' THEN 'ONLY ' ELSE '' END
    || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) || ' ' AS prefix) AS def)`;

/**
 * The description of table `$1` (an ordinary or partitioned table) as jsonb: see
 * `TableDescription`. NULL when `$1` is no such table.
 */
export const DESCRIBE_TABLE_SQL = `SELECT (
SELECT pg_catalog.jsonb_build_object(
  'oid', c.oid::pg_catalog.int8,
  'schemaOid', n.oid::pg_catalog.int8,
  'schema', n.nspname::pg_catalog.text,
  'name', c.relname::pg_catalog.text,
  'relkind', c.relkind::pg_catalog.text,
  'unlogged', c.relpersistence = 'u',
  'replicaIdentity', c.relreplident::pg_catalog.text,
  'replicaIdentityIndex', (
    SELECT ri.relname::pg_catalog.text
    FROM pg_catalog.pg_index rx JOIN pg_catalog.pg_class ri ON ri.oid = rx.indexrelid
    WHERE rx.indrelid = c.oid AND rx.indisreplident),
  'partitionKey', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
  'partitionOf', (
    SELECT pg_catalog.jsonb_build_object('schema', pn.nspname::pg_catalog.text, 'name', pc.relname::pg_catalog.text,
      'bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid))
    FROM pg_catalog.pg_inherits h
    JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent
    JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
    WHERE c.relispartition AND h.inhrelid = c.oid),
  'columns', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'attnum', a.attnum,
      'name', a.attname::pg_catalog.text,
      'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'typeOid', a.atttypid::pg_catalog.int8,
      'typmod', a.atttypmod,
      'collation', CASE WHEN a.attcollation <> at.typcollation THEN ${collationName('a.attcollation')} END,
      'notNull', a.attnotnull,
      'default', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
      'identity', CASE WHEN a.attidentity IN ('a', 'd') THEN a.attidentity::pg_catalog.text END,
      'generated', CASE WHEN a.attgenerated IN ('s', 'v') THEN pg_catalog.jsonb_build_object(
        'expression', pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'stored', a.attgenerated = 's') END,
      'inherited', NOT a.attislocal
    ) ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
  'constraints', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'oid', k.oid::pg_catalog.int8,
      'name', k.conname::pg_catalog.text,
      'type', k.contype::pg_catalog.text,
      'definition', pg_catalog.pg_get_constraintdef(k.oid),
      'columns', COALESCE((
        SELECT pg_catalog.jsonb_agg(ka.attname::pg_catalog.text ORDER BY u.ord)
        FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
        JOIN pg_catalog.pg_attribute ka ON ka.attrelid = k.conrelid AND ka.attnum = u.attnum), '[]'),
      'references', (
        SELECT pg_catalog.jsonb_build_object('schema', fn.nspname::pg_catalog.text, 'name', fc.relname::pg_catalog.text)
        FROM pg_catalog.pg_class fc JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE k.contype = 'f' AND fc.oid = k.confrelid),
      'deferrable', k.condeferrable,
      'deferred', k.condeferred,
      'validated', k.convalidated,
      'inherited', NOT k.conislocal
    ) ORDER BY k.conname)
    FROM pg_catalog.pg_constraint k
    WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c', 'f', 'x')), '[]'),
  'indexes', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'oid', i.oid::pg_catalog.int8,
      'name', i.relname::pg_catalog.text,
      'unique', x.indisunique,
      'partial', x.indpred IS NOT NULL,
      'columns', (
        SELECT pg_catalog.jsonb_agg(ia.attname::pg_catalog.text ORDER BY u.ord)
        FROM pg_catalog.unnest(x.indkey::pg_catalog.int2[]) WITH ORDINALITY AS u(attnum, ord)
        LEFT JOIN pg_catalog.pg_attribute ia ON ia.attrelid = x.indrelid AND ia.attnum = u.attnum
        WHERE u.ord <= x.indnkeyatts),
      'definition', ${INDEX_DEFINITION}
    ) ORDER BY i.relname)
    FROM pg_catalog.pg_index x
    JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = c.oid
      AND NOT EXISTS (
        SELECT FROM pg_catalog.pg_constraint k
        WHERE k.conrelid = c.oid AND k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits ih WHERE ih.inhrelid = x.indexrelid)), '[]'),
  'sequences', COALESCE((
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'oid', s.oid::pg_catalog.int8,
      'schema', sn.nspname::pg_catalog.text,
      'name', s.relname::pg_catalog.text,
      'column', sa.attname::pg_catalog.text,
      'identity', dep.deptype = 'i',
      'dataType', pg_catalog.format_type(q.seqtypid, NULL),
      'start', q.seqstart::pg_catalog.text,
      'increment', q.seqincrement::pg_catalog.text,
      'min', q.seqmin::pg_catalog.text,
      'max', q.seqmax::pg_catalog.text,
      'cache', q.seqcache::pg_catalog.text,
      'cycle', q.seqcycle
    ) ORDER BY s.relname)
    FROM pg_catalog.pg_depend dep
    JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
    JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
    JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
    JOIN pg_catalog.pg_attribute sa ON sa.attrelid = c.oid AND sa.attnum = dep.refobjsubid
    WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND dep.refobjid = c.oid AND dep.refobjsubid > 0 AND dep.deptype IN ('a', 'i')), '[]'),
  'types', ${userTypesJson(`SELECT ua.atttypid, 1 FROM pg_catalog.pg_attribute ua
    WHERE ua.attrelid = c.oid AND ua.attnum > 0 AND NOT ua.attisdropped`)}
)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = $1 AND c.relkind IN ('r', 'p')
) AS description`;

/**
 * The description of user-defined type `$1` and of the user-defined types it uses, as a jsonb array
 * (`TypeDescription[]`, the type last); `[]` when `$1` is no enum, composite, domain or range.
 */
export const DESCRIBE_TYPES_SQL = `SELECT ${userTypesJson('SELECT $1::pg_catalog.oid, 1')} AS types`;
