-- test/security_catalog.sql: a text picture of everything the extension
-- defines (members, columns, constraints, indexes, triggers, policies,
-- functions, privileges, row-level security flags). An upgraded install
-- and a fresh one must print the same lines.
SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0)
  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass
 WHERE e.extname = 'collect' AND d.deptype = 'e'
UNION ALL
SELECT format('column %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN 'not null' ELSE '' END, pg_get_expr(ad.adbin, ad.adrelid))
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT format('constraint %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
  FROM pg_constraint c WHERE c.connamespace = 'collect'::regnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'collect'::regnamespace
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'collect'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT format('policy %s %s %s %s %s %s', p.tablename, p.policyname, p.cmd, p.roles, p.qual, p.with_check)
  FROM pg_policies p WHERE p.schemaname = 'collect'
UNION ALL
SELECT format('function %s definer=%s config=%s acl=%s body=%s', p.oid::regprocedure, p.prosecdef, p.proconfig,
              p.proacl, md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')))
  FROM pg_proc p WHERE p.pronamespace = 'collect'::regnamespace
UNION ALL
SELECT format('relation %s kind=%s rls=%s acl=%s options=%s', c.relname, c.relkind, c.relrowsecurity, c.relacl, c.reloptions)
  FROM pg_class c WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
UNION ALL
SELECT 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
  FROM pg_class c WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'config_dump ' || x::regclass::text
  FROM pg_extension e, unnest(e.extconfig) x WHERE e.extname = 'collect'
ORDER BY 1;
