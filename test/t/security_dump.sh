#!/usr/bin/env bash
# security_dump: pg_dump / pg_restore keeps every collect row. Loads data
# into every practice table (test/security_data.sql), snapshots every table
# and sequence (test/security_snapshot.sql), dumps, restores into a new
# database with session_replication_role = replica (the documented
# procedure: triggers stay quiet, so the ledger rows are not posted to
# collect.account a second time nor write_offs audited twice), and compares.
# Then checks that the restored database keeps working: balances equal
# ledger sums, a new ledger row gets a fresh entry_id and updates its account.
source "$(dirname "$0")/../lib.sh"
W=$(scratch_dir); trap 'dropdb --if-exists sec_dump_a >/dev/null 2>&1; dropdb --if-exists sec_dump_b >/dev/null 2>&1; dropdb --if-exists sec_dump_c >/dev/null 2>&1; rm -rf "$W"' EXIT
createdb sec_dump_a
psql -X -q -v ON_ERROR_STOP=1 -d sec_dump_a -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION collect' >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d sec_dump_a -f "$ROOT/test/security_data.sql" >/dev/null
psql -X -qAt -v ON_ERROR_STOP=1 -d sec_dump_a -f "$ROOT/test/security_snapshot.sql" > "$W/snapshot.sql"
psql -X -qAt -v ON_ERROR_STOP=1 -d sec_dump_a -f "$W/snapshot.sql" > "$W/before.txt"

pg_dump -Fc -f "$W/db.dump" sec_dump_a
createdb sec_dump_b
PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d sec_dump_b "$W/db.dump" 2> "$W/restore.err" ||
  { cat "$W/restore.err"; echo "RESULT security_dump: pg_restore failed"; exit 1; }
psql -X -qAt -v ON_ERROR_STOP=1 -d sec_dump_b -f "$W/snapshot.sql" > "$W/after.txt"

if ! diff "$W/before.txt" "$W/after.txt"; then echo "RESULT security_dump: tables differ after restore"; exit 1; fi
tables=$(grep -vc last_value "$W/before.txt"); rows=$(awk '$2 ~ /^[0-9]+$/ && $2 != "last_value" {s += $2} END {print s}' "$W/before.txt")
empty=$(awk '$2 == "0" {print $1}' "$W/before.txt" | tr '\n' ' ')
echo "RESULT security_dump: $tables tables, $rows rows identical after pg_dump/pg_restore (empty tables: ${empty:-none})"

# the restored database keeps working
check=$(psql -X -qAt -v ON_ERROR_STOP=1 -d sec_dump_b <<'SQL'
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('P2', 'pt1', 'after-restore', 'charge', 1.23, '2026-06-01 15:00+00');
SELECT (SELECT count(*) FROM collect.account a
          WHERE a.balance <> (SELECT coalesce(sum(CASE WHEN l.kind IN ('charge','refund','reversal') THEN l.amount ELSE -l.amount END), 0)
                                FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id))
       || ' ' || (SELECT count(DISTINCT entry_id) = count(*) FROM collect.ledger)
       || ' ' || (SELECT count(*) FROM collect.ledger l LEFT JOIN collect.account a USING (practice_id, patient_id) WHERE a IS NULL);
SQL
)
[ "$check" = "0 true 0" ] || { echo "RESULT security_dump: restored database broken (mismatched balances, duplicate ids, missing accounts): $check"; exit 1; }
echo "RESULT security_dump: restored database takes new ledger rows; every balance equals its ledger sum"

# without replica mode the restore must fail loudly, never double balances
createdb sec_dump_c
if pg_restore --exit-on-error -d sec_dump_c "$W/db.dump" 2> "$W/plain.err"; then
  echo "RESULT security_dump: a plain pg_restore (triggers on) succeeded: balances may be doubled"; exit 1
fi
echo "RESULT security_dump: a plain pg_restore (triggers on) stops with: $(grep -m1 ERROR "$W/plain.err" | sed 's/.*ERROR: *//')"
