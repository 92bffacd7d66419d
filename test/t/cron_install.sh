#!/usr/bin/env bash
# pg_cron lives in one database per cluster. collect installs in both kinds:
#  - in the cron database (pg_cron created first): CREATE EXTENSION collect
#    schedules its jobs there;
#  - in any other database pg_cron is optional: CREATE EXTENSION collect
#    succeeds, and collect.cron_schedule_command() gives the
#    SQL that schedules the same jobs from the cron database with
#    cron.schedule_in_database.
# Then pg_cron really runs collect.tick() in both databases.
source "$(dirname "$0")/../lib.sh"
W=$(scratch_dir)
trap 'cluster_stop "$W/pg"; rm -rf "$W"' EXIT
CLUSTER_PORT= cluster_start "$W/pg" "cron.database_name = 'crondb'" "collect.database = 'crondb'"
createdb crondb
createdb appdb
fail() { echo "FAIL: $*"; exit 1; }

# 1. the cron database
psql -X -q -v ON_ERROR_STOP=1 -d crondb -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION collect"
jobs=$(psql_q crondb "SELECT string_agg(jobname || '@' || database || ':' || command, ' ' ORDER BY jobname) FROM cron.job")
echo "cron database jobs: $jobs"
[[ "$jobs" == *"collect-tick-crondb@crondb:SELECT collect.tick()"* ]] || fail "tick not scheduled in the cron database"

# 2. another database: pg_cron cannot be created there, collect still installs
if psql -X -q -d appdb -c "CREATE EXTENSION pg_cron" 2>/dev/null; then fail "pg_cron created outside its database"; fi
psql -X -q -v ON_ERROR_STOP=1 -d appdb -c "CREATE EXTENSION collect"
cmd=$(psql_q appdb "SELECT collect.cron_schedule_command()")
echo "schedule command: $cmd"
psql -X -q -v ON_ERROR_STOP=1 -d crondb -c "$cmd" >/dev/null
n=$(psql_q crondb "SELECT count(*) FROM cron.job WHERE database = 'appdb' AND command = 'SELECT collect.tick()'")
[ "$n" = 1 ] || fail "tick not scheduled for appdb"

# 3. the DBA can remove the schedule
psql_q crondb "SELECT cron.unschedule('collect-tick-appdb')" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d crondb -c "$cmd" >/dev/null

# 4. pg_cron runs tick in both databases within a minute (and the tick succeeds)
if ! wait_until 75 "SELECT count(DISTINCT j.database) = 2 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                    WHERE j.command = 'SELECT collect.tick()' AND d.status = 'succeeded'" crondb; then
  psql -X -d crondb -c "SELECT j.database, d.status, d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid)"
  fail "pg_cron did not run collect.tick() in both databases"
fi
echo "RESULT pg_cron ran collect.tick() in the cron database and in another database"
