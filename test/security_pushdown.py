#!/usr/bin/env python3
"""test/security_pushdown.py: every SQL statement in src/*.c that reads or
writes a collect table must filter on practice_id (so that on Citus it is
routed to one shard group), unless it reads a reference table or is listed
in test/security_pushdown_allow.txt with the reason it may span practices.
Prints each offender as FILE:LINE: SQL and exits 1 when there is one."""
import glob, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
reference = {"policy_default", "message_template"}
allow = []
for line in open(os.path.join(root, "test", "security_pushdown_allow.txt")):
    line = line.split("#", 1)[0].strip()
    if line:
        f, _, prefix = line.partition(":")
        allow.append((f.strip(), " ".join(prefix.split())))

statements = offenders = allowed = 0
for path in sorted(glob.glob(os.path.join(root, "src", "**", "*.c"), recursive=True)):
    text = open(path, encoding="utf-8", errors="replace").read()
    rel = os.path.relpath(path, root)
    for m in re.finditer(r'((?:"(?:[^"\\\n]|\\.)*"\s*)+)', text):
        sql = " ".join("".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(1))).split())
        if not re.match(r"(SELECT|UPDATE|DELETE|WITH|INSERT)\b", sql, re.I):
            continue
        tables = set(re.findall(r"\b(?:FROM|UPDATE|JOIN|INTO)\s+collect\.(\w+)", sql, re.I))
        if not tables:
            continue
        statements += 1
        if tables <= reference:
            continue
        if re.match(r"INSERT\b", sql, re.I) and not re.search(r"\b(?:FROM|JOIN)\s+collect\.", sql, re.I) \
                and not re.search(r"ON CONFLICT\s*\(", sql, re.I):
            continue            # INSERT of values (or of rows not read from a collect table): routed by its practice_id
        if re.search(r"practice_id\s*(=|IN\b)|USING\s*\(\s*practice_id|=\s*\w+\.practice_id|ON CONFLICT\s*\(\s*practice_id", sql, re.I):
            continue
        if any(rel == f and sql.startswith(p) for f, p in allow):
            allowed += 1
            continue
        offenders += 1
        print(f"{rel}:{text[:m.start()].count(chr(10)) + 1}: {sql[:200]}")
print(f"RESULT security_pushdown: {statements} SQL statements on collect tables in src/, "
      f"{allowed} allowed to span practices, {offenders} without a practice_id filter")
sys.exit(1 if offenders else 0)
