#!/usr/bin/env bash
# security_upgrade: ALTER EXTENSION collect UPDATE from every released
# version keeps every row, and ends in the same schema as a fresh install.
# For each frozen release sql/releases/collect--X.sql: install X into a new
# database, load test/security_data.sql, snapshot every table, update to
# default_version along the collect--X--Y.sql chain, snapshot again and
# compare (tables added by the update may only be new), then compare the
# catalog (test/security_catalog.sql) with a fresh install.
# Until the first release is frozen there is no old version to test; the
# harness then tests itself on a synthetic release "0.0harness" (today's
# install script plus an empty upgrade script) and says so.
source "$(dirname "$0")/../lib.sh"
EXTDIR=$(pg_config --sharedir)/extension
W=$(scratch_dir); installed=()
cleanup() {
  for f in "${installed[@]}"; do rm -f "$f"; done
  for db in $(psql -X -qAt -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'sec\_upg\_%'"); do dropdb "$db"; done
  rm -rf "$W"
}
trap cleanup EXIT
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/collect.control")
install_file() { cp "$1" "$EXTDIR/$2"; installed+=("$EXTDIR/$2"); }

releases=()
for f in "$ROOT"/sql/releases/collect--*.sql; do
  [ -e "$f" ] || continue
  v=$(basename "$f" .sql); v=${v#collect--}
  [ "$v" = "$current" ] && continue
  install_file "$f" "collect--$v.sql"
  releases+=("$v")
done
if [ ${#releases[@]} -eq 0 ]; then
  echo "RESULT security_upgrade: no release frozen yet (sql/releases/ is empty): testing the harness on a synthetic release"
  install_file "$EXTDIR/collect--$current.sql" "collect--0.0harness.sql"
  printf -- '-- synthetic upgrade for the harness self-test: nothing changes\n%s\n' "${HARNESS_BREAK:-}" > "$W/up.sql"
  install_file "$W/up.sql" "collect--0.0harness--$current.sql"
  releases=(0.0harness)
fi

sql() { psql -X -qAt -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' "$@"; }
createdb sec_upg_fresh
sql -d sec_upg_fresh -c "CREATE EXTENSION collect" >/dev/null
sql -d sec_upg_fresh -f "$ROOT/test/security_catalog.sql" > "$W/catalog.fresh"

status=0
for v in "${releases[@]}"; do
  db=sec_upg_$(echo "$v" | tr -c 'a-z0-9\n' '_')
  createdb "$db"
  sql -d "$db" -c "CREATE EXTENSION collect VERSION '$v'" >/dev/null
  sql -d "$db" -f "$ROOT/test/security_data.sql" >/dev/null
  sql -d "$db" -f "$ROOT/test/security_snapshot.sql" > "$W/snapshot.$v.sql"
  sql -d "$db" -f "$W/snapshot.$v.sql" > "$W/before.$v"
  sql -d "$db" -c "ALTER EXTENSION collect UPDATE" >/dev/null
  got=$(sql -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'collect'" | tail -1)
  sql -d "$db" -f "$W/snapshot.$v.sql" > "$W/after.$v"
  sql -d "$db" -f "$ROOT/test/security_catalog.sql" > "$W/catalog.$v"
  # every column that existed before holds the same values
  lost=$(diff "$W/before.$v" "$W/after.$v" || true)
  if [ "$got" != "$current" ]; then echo "RESULT security_upgrade: $v updated to $got, not $current"; status=1
  elif [ -n "$lost" ]; then echo "RESULT security_upgrade: $v -> $current changed data:"; echo "$lost"; status=1
  elif ! diff "$W/catalog.fresh" "$W/catalog.$v" > "$W/catalog.diff"; then
    echo "RESULT security_upgrade: $v -> $current differs from a fresh install:"; head -40 "$W/catalog.diff"; status=1
  else
    echo "RESULT security_upgrade: $v -> $current keeps $(wc -l < "$W/before.$v") tables/sequences of data; schema equals a fresh install ($(wc -l < "$W/catalog.fresh") catalog lines)"
  fi
done
exit $status
