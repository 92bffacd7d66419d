-- test/security_snapshot.sql: prints the queries of a data snapshot of
-- schema collect (run them with psql -f): one line per table with its
-- name, row count and an md5 over its rows in a stable order, then every
-- sequence's last value. The queries name today's columns, so the same
-- query file run after an upgrade that adds columns compares old data only.
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(r::text, ''|'' ORDER BY r::text)), ''-'')'
              ' FROM (SELECT %s FROM %s) r;',
              c.relname,
              (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
              c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p')
UNION ALL
SELECT format('SELECT %L || '' last_value '' || last_value || '' called '' || is_called FROM %s;', c.relname, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind = 'S'
 ORDER BY 1;
