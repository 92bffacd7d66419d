------------------------------------------------------------------------
-- Scheduling with pg_cron. pg_cron lives in one database per cluster
-- (cron.database_name). Installed there (CREATE EXTENSION pg_cron first,
-- or CASCADE from a dependent extension), collect schedules its own jobs.
-- In any other database pg_cron is optional: the DBA runs the command from
-- collect.cron_schedule_command() in the cron database, which schedules
-- the same jobs with cron.schedule_in_database. (A NOTICE would not reach
-- the DBA: CREATE EXTENSION hides notices of install scripts, and a
-- WARNING would alarm every install that schedules this way on purpose.)
------------------------------------------------------------------------
-- The jobs collect wants: name suffix, schedule, command.
CREATE FUNCTION @extschema@.cron_jobs(OUT job text, OUT schedule text, OUT command text)
  RETURNS SETOF record LANGUAGE sql IMMUTABLE
  AS $$ VALUES ('tick', '* * * * *', 'SELECT collect.tick()'),
               ('train', '30 3 * * *', 'SELECT collect.train_all()') $$;

-- SQL to run in the cron database to schedule collect's jobs for this one.
CREATE FUNCTION @extschema@.cron_schedule_command() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT string_agg(format('SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                 'collect-' || j.job || '-' || current_database(), j.schedule, j.command,
                                 current_database()), E'\n')
          FROM @extschema@.cron_jobs() j $$;

DO $cron$
DECLARE j record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
    FOR j IN SELECT * FROM @extschema@.cron_jobs() LOOP
      PERFORM cron.schedule('collect-' || j.job || '-' || current_database(), j.schedule, j.command);
    END LOOP;
  END IF;
END
$cron$;
