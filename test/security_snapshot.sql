-- test/security_snapshot.sql: one line per table of schema collect: name,
-- row count and an md5 over every row in a stable order; then every
-- sequence's last value. Two snapshots that diff clean hold the same data.
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), ''-'') FROM %s t',
              c.relname, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
\gexec
SELECT format('SELECT %L || '' last_value '' || last_value || '' called '' || is_called FROM %s', c.relname, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind = 'S'
 ORDER BY c.relname
\gexec
