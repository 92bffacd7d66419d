#!/usr/bin/env bash
# security_pushdown: every SQL statement of src/*.c on a collect table
# filters on practice_id (Citus routes it to one shard group), or is listed
# with its reason in test/security_pushdown_allow.txt (docs/scaling.md).
source "$(dirname "$0")/../lib.sh"
python3 "$ROOT/test/security_pushdown.py"
