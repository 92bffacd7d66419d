#!/usr/bin/env bash
# security_secrets: no provider secret in last_error or the server log after
# failed sends. A private cluster runs the outbox worker against stub
# providers that fail in the nastiest way: answering 401/500 with a body
# that echoes the request's Authorization header and body back, and a port
# where nothing listens. After the worker has tried every message, neither
# the secret, nor the Basic-auth token made from it, appears in any
# outbox.last_error, contact_attempt detail, audit row, or server log line.
# Skipped (exit 0) while the worker is not in this tree.
source "$(dirname "$0")/../lib.sh"
if [ ! -e "$ROOT/src/worker.c" ]; then echo "RESULT security_secrets: skipped (no worker in this tree yet)"; exit 0; fi
W=$(scratch_dir); STUB=
trap '[ -n "$STUB" ] && kill $STUB 2>/dev/null; cluster_stop "$W/pg"; rm -rf "$W"' EXIT
PORT_ECHO=$(( 42000 + RANDOM % 5000 )); PORT_DEAD=$(( PORT_ECHO + 5001 ))
cat > "$W/echo.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("latin-1")
        code = 401 if "Messages" in self.path else 500
        data = json.dumps({"code": 20003, "message": "Authenticate: you sent " + str(self.headers.get("Authorization"))
                           + " with " + body, "more_info": self.headers.get("Authorization")}).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("WWW-Authenticate", str(self.headers.get("Authorization")))
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$W/echo.py" "$PORT_ECHO" & STUB=$!
cluster_start "$W/pg" "collect.database = 'secrets'" "log_min_messages = debug1" "log_statement = 'all'" \
  "collect.worker_max_attempts = 2" "collect.worker_retry_base = 1" "collect.worker_retry_max = 1"
createdb secrets
SECRET=sk_live_SECRETVALUE_7f3a9c
SID=AC0123456789abcdef0123456789abcdef
# a time zone where it is daytime now, so contact-hour rules let the messages go
TZNAME=$(psql -X -qAt -d postgres -c "SELECT z FROM unnest(ARRAY['America/New_York','Europe/London','Asia/Tokyo','Australia/Sydney','Pacific/Honolulu','Asia/Kolkata','America/Los_Angeles']) z
                                      WHERE extract(hour FROM now() AT TIME ZONE z) BETWEEN 10 AND 18 LIMIT 1")
psql -X -q -v ON_ERROR_STOP=1 -d secrets >/dev/null <<SQL
SET client_min_messages = warning;
SET log_statement = 'none';   -- the DBA's own statement holds the secret
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('S1', 'Secret Clinic', '$TZNAME');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent)
VALUES ('S1', 'p1', 'Pat', '+15555550142', 'pat@example.com', true, true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('S1', 'p1', 'c1', 'charge', 80, now() - interval '20 days');
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender) VALUES
  ('S1', 'sms', 'twilio', 'http://127.0.0.1:$PORT_ECHO', '$SID', '$SECRET', '+15555550100'),
  ('S1', 'email', 'sendgrid', 'http://127.0.0.1:$PORT_ECHO', NULL, '$SECRET', 'billing@example.com'),
  ('S1', 'webhook', 'webhook', 'http://127.0.0.1:$PORT_DEAD', NULL, '$SECRET', NULL);
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, template, to_address, subject, body, send_after, idempotency_key)
VALUES ('S1', 'p1', 'sms', 'sec1', 'first_text', '+15555550142', NULL, 'Balance due. Reply STOP to opt out.', now() - interval '1 minute', 'sec-sms'),
       ('S1', 'p1', 'email', 'sec2', 'insurance_paid', 'pat@example.com', 'Your balance', 'Balance due. Unsubscribe: reply STOP.', now() - interval '1 minute', 'sec-email'),
       ('S1', 'p1', 'webhook', 'sec3', NULL, NULL, NULL, '{}', now() - interval '1 minute', 'sec-webhook');
SQL
if ! wait_until 60 "SELECT count(*) = 3 FROM collect.outbox WHERE attempts >= 1 AND status NOT IN ('queued', 'sending') OR attempts >= 2" secrets; then
  psql -X -d secrets -c "SELECT message_id, channel, status, attempts, last_error FROM collect.outbox"
  echo "RESULT security_secrets: the worker did not try every message within 60 s"; exit 1
fi
sleep 1
BASIC=$(printf '%s:%s' "$SID" "$SECRET" | base64 -w0)
found=$(psql -X -qAt -d secrets -c "SET log_statement = 'none'" -c "
  SELECT count(*) FROM (
    SELECT last_error AS t FROM collect.outbox UNION ALL SELECT provider_ref FROM collect.outbox
    UNION ALL SELECT detail FROM collect.contact_attempt UNION ALL SELECT reason || facts::text FROM collect.audit_log
    UNION ALL SELECT summary || details::text FROM collect.task) x
  WHERE t LIKE '%$SECRET%' OR t LIKE '%$BASIC%'")
inlog=$(grep -c -e "$SECRET" -e "$BASIC" "$W/pg/server.log" || true)
psql -X -qAt -d secrets -c "SELECT 'RESULT security_secrets: ' || channel || ' ' || status || ' after ' || attempts || ' attempt(s): ' || coalesce(left(last_error, 100), '-') FROM collect.outbox ORDER BY message_id"
echo "RESULT security_secrets: secret found in $found database rows and $inlog server log lines"
if [ "$inlog" != 0 ]; then grep -e "$SECRET" -e "$BASIC" "$W/pg/server.log" | sed -e "s/$SECRET/<SECRET>/g" -e "s/$BASIC/<BASIC>/g" | cut -c1-300 | head -5; fi
[ "$found" = 0 ] && [ "$inlog" = 0 ]
