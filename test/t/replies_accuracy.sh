#!/usr/bin/env bash
# replies_accuracy.sh: the reply classifier against the labelled set
# test/data/replies.tsv (label, language, text; written for the tests).
# Prints accuracy per intent, per language and per split (odd lines were
# used to tune the rules, even lines were held out at first), and fails if
# overall accuracy is below 0.92 or any STOP-like message is missed. The two
# later sets (replies_fresh.tsv, replies_blind.tsv, replies_blind2.tsv) were
# written after the
# rules, scored blind once (figures in docs/replies.md), then used for
# tuning; they are reported too and must not miss a STOP either. Also checks
# generated variants of every opt-out keyword (case, punctuation, emoji,
# repeated and swapped letters, accents) are all read as stop.
source "$(dirname "$0")/../lib.sh"
DB=replies_acc_$$
createdb "$DB"
trap 'dropdb --if-exists "$DB"' EXIT
psql_q "$DB" "CREATE EXTENSION collect CASCADE" >/dev/null 2>&1 || psql_q "$DB" "CREATE EXTENSION collect CASCADE"

psql -X -v ON_ERROR_STOP=1 -q -d "$DB" <<SQL
CREATE TABLE labelled (line serial, label text, language text, body text);
\copy labelled (label, language, body) FROM '$ROOT/test/data/replies.tsv'
CREATE TABLE later (line serial, label text, language text, body text, set text DEFAULT 'fresh');
\copy later (label, language, body) FROM '$ROOT/test/data/replies_fresh.tsv'
UPDATE later SET set = 'fresh' WHERE set IS NULL;
ALTER TABLE later ALTER set SET DEFAULT 'blind';
\copy later (label, language, body) FROM '$ROOT/test/data/replies_blind.tsv'
ALTER TABLE later ALTER set SET DEFAULT 'blind2';
\copy later (label, language, body) FROM '$ROOT/test/data/replies_blind2.tsv'
CREATE TABLE later_scored AS
  SELECT l.*, c.intent FROM later l, collect.classify_reply(l.body) c;
CREATE TABLE scored AS
  SELECT l.*, c.intent, c.sentiment, c.stop_like
    FROM labelled l, collect.classify_reply(l.body) c;
SQL

psql -X -qAt -F ' ' -d "$DB" <<'SQL'
SELECT format('METRIC replies_accuracy_%s %s (%s/%s)', label, round(avg((intent = label)::int), 3),
              sum((intent = label)::int), count(*))
  FROM scored GROUP BY label ORDER BY label;
SELECT format('METRIC replies_accuracy_lang_%s %s (%s/%s)', language, round(avg((intent = label)::int), 3),
              sum((intent = label)::int), count(*))
  FROM scored GROUP BY language ORDER BY language;
SELECT format('METRIC replies_accuracy_%s %s (%s/%s)', CASE WHEN line % 2 = 1 THEN 'dev_split' ELSE 'holdout_split' END,
              round(avg((intent = label)::int), 3), sum((intent = label)::int), count(*))
  FROM scored GROUP BY line % 2 ORDER BY 1;
SELECT format('METRIC replies_accuracy_overall %s (%s/%s)', round(avg((intent = label)::int), 3),
              sum((intent = label)::int), count(*)) FROM scored;
SELECT format('METRIC replies_stop_missed %s', count(*)) FROM scored WHERE label = 'stop' AND intent <> 'stop';
SELECT format('METRIC replies_stop_false_alarms %s', count(*)) FROM scored WHERE label <> 'stop' AND intent = 'stop';
SELECT format('METRIC replies_accuracy_later_%s %s (%s/%s)', set, round(avg((intent = label)::int), 3),
              sum((intent = label)::int), count(*)) FROM later_scored GROUP BY set ORDER BY set;
SELECT format('MISS %s got %s: %s', label, intent, body) FROM scored WHERE intent <> label ORDER BY line;
SELECT format('MISS (%s set) %s got %s: %s', set, label, intent, body) FROM later_scored WHERE intent <> label ORDER BY line;
SQL

# every opt-out keyword, dressed up the way people type it
variants=$(psql -X -qAt -d "$DB" <<'SQL'
WITH kw(k) AS (VALUES ('stop'), ('unsubscribe'), ('cancel'), ('end'), ('quit'), ('alto'), ('stopall')),
v AS (
  SELECT k, unnest(ARRAY[
    k, upper(k), initcap(k), k || '.', upper(k) || '!!!', ' ' || k || ' ', k || ' please', 'please ' || k,
    upper(k) || ' 🛑', k || ' 😡', upper(k) || ' ' || upper(k), k || ' now', '"' || k || '"',
    CASE WHEN length(k) >= 4 THEN k || right(k, 1) END,                         -- stopp
    CASE WHEN length(k) >= 5 THEN left(k, 2) || substr(k, 4, 1) || substr(k, 3, 1) || substr(k, 5) END  -- swapped
  ]) AS body FROM kw)
SELECT count(*) FILTER (WHERE c.intent <> 'stop') || ' ' || count(*) || ' ' ||
       coalesce(string_agg(v.body, ' | ') FILTER (WHERE c.intent <> 'stop'), '')
  FROM v, collect.classify_reply(v.body) c WHERE v.body IS NOT NULL
SQL
)
read -r missed_variants total_variants rest <<<"$variants"
echo "METRIC replies_stop_keyword_variants_missed $missed_variants of $total_variants ${rest:-}"
sp=$(psql -X -qAt -d "$DB" -c "SELECT a.intent FROM collect.classify_reply('Álto') a, collect.classify_reply('S T O P') x WHERE x.intent = 'stop'")

overall=$(psql_q "$DB" "SELECT avg((intent = label)::int) FROM scored")
missed=$(psql_q "$DB" "SELECT (SELECT count(*) FROM scored WHERE label = 'stop' AND intent <> 'stop')
                              + (SELECT count(*) FROM later_scored WHERE label = 'stop' AND intent <> 'stop')")
n=$(psql_q "$DB" "SELECT count(*) FROM scored")
fail=0
[ "$n" -ge 300 ] || { echo "only $n labelled replies"; fail=1; }
awk -v o="$overall" 'BEGIN { exit !(o >= 0.92) }' || { echo "overall accuracy $overall < 0.92"; fail=1; }
[ "$missed" = 0 ] || { echo "$missed STOP-like messages missed"; fail=1; }
[ "$missed_variants" = 0 ] || { echo "$missed_variants opt-out keyword variants missed"; fail=1; }
[ "$sp" = stop ] || { echo "accent/spaced stop variants missed"; fail=1; }
echo "RESULT replies_accuracy $([ $fail = 0 ] && echo pass || echo FAIL)"
exit $fail
