------------------------------------------------------------------------
-- KPIs (src/kpi_rollup.c, docs/kpi.md): rollup tables kept per statement
-- by C triggers, and the analyst views that read them. Every view carries
-- practice_id and reads one practice's rows through practice_id-led
-- indexes; none exposes a name, phone or e-mail. Views for display may use
-- the clock (ar_aging, staff_queue, promise_kept_rate); the rollups never do.
------------------------------------------------------------------------

-- Ledger sums per practice, practice-local day and the account's segment
-- before the posting; resolutions (balance went from > 0 to <= 0) with and
-- without a staff task. slot spreads concurrent writers (kpi.h KPI_SLOTS).
CREATE TABLE @extschema@.kpi_daily (
  practice_id       text NOT NULL,
  day               date NOT NULL,
  segment           text NOT NULL,
  slot              smallint NOT NULL,
  charges           numeric(14,2) NOT NULL DEFAULT 0,
  payments          numeric(14,2) NOT NULL DEFAULT 0,
  reversals         numeric(14,2) NOT NULL DEFAULT 0,
  refunds           numeric(14,2) NOT NULL DEFAULT 0,
  adjustments       numeric(14,2) NOT NULL DEFAULT 0,
  write_offs        numeric(14,2) NOT NULL DEFAULT 0,
  resolved          int NOT NULL DEFAULT 0,
  resolved_no_touch int NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, segment, slot)
);

-- Contacts per practice and local day (outbox rows that reached sent or
-- delivered on a patient channel), and first contacts after a charge,
-- counted on the charge's local day with the seconds it took.
CREATE TABLE @extschema@.kpi_contact_daily (
  practice_id text NOT NULL,
  day         date NOT NULL,
  slot        smallint NOT NULL,
  contacts    int NOT NULL DEFAULT 0,
  ftc_n       int NOT NULL DEFAULT 0,
  ftc_seconds numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, slot)
);

-- Contact, event and promise rollups (src/kpi_rollup.c); the argument
-- names the rollup.
CREATE FUNCTION @extschema@.kpi_rollup() RETURNS trigger
  AS 'MODULE_PATHNAME', 'kpi_rollup' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Outbox rows inserted as sent/delivered, or updated into it.
CREATE TRIGGER outbox_kpi_insert AFTER INSERT ON @extschema@.outbox
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('outbox_insert');
CREATE TRIGGER outbox_kpi_update AFTER UPDATE ON @extschema@.outbox
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('outbox_update');

-- Complaints and balances placed with an agency per practice and local
-- day, as recorded (kpi_rollup.c 'event_insert').
CREATE TABLE @extschema@.kpi_event_daily (
  practice_id text NOT NULL,
  day         date NOT NULL,
  slot        smallint NOT NULL,
  complaints  int NOT NULL DEFAULT 0,
  placed      numeric(14,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, slot)
);

-- One row per resolved dispute: local day of the resolution and days
-- since the patient's latest dispute_opened at or before it.
CREATE TABLE @extschema@.kpi_dispute (
  practice_id text NOT NULL,
  day         date NOT NULL,
  event_id    bigint NOT NULL,
  days        numeric NOT NULL,
  PRIMARY KEY (practice_id, day, event_id)
);

CREATE TRIGGER event_kpi_insert AFTER INSERT ON @extschema@.event
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('event_insert');

-- Installments per practice and due date (practice-local): due = counted
-- (plan agreed, not waived), kept = paid on or before the due date.
-- Installments and plans change status; they are not deleted.
CREATE TABLE @extschema@.kpi_installment_daily (
  practice_id text NOT NULL,
  due_date    date NOT NULL,
  slot        smallint NOT NULL,
  due         int NOT NULL DEFAULT 0,
  kept        int NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, due_date, slot)
);

CREATE TRIGGER installment_kpi_insert AFTER INSERT ON @extschema@.installment
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('installment_insert');
CREATE TRIGGER installment_kpi_update AFTER UPDATE ON @extschema@.installment
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('installment_update');
CREATE TRIGGER plan_kpi_update AFTER UPDATE ON @extschema@.plan
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('plan_update');

-- Indexes the views and rollups probe (all practice_id first).
CREATE INDEX task_patient_created_idx ON @extschema@.task (practice_id, patient_id, created_at);
CREATE INDEX outbox_contact_idx ON @extschema@.outbox (practice_id, channel, step)
  WHERE status IN ('sent', 'delivered', 'failed', 'dead');

------------------------------------------------------------------------
-- kpi_scorecard: one row per practice and ISO week (week = its Monday, in
-- the practice's time zone), from the first to the last week with ledger
-- activity. Definitions: docs/kpi.md. Rates are fractions rounded to 4
-- places, days to 2 places.
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_scorecard AS
SELECT p.practice_id,
       w.week,
       round(c.ftc_seconds / NULLIF(c.ftc_n, 0) / 86400, 2)            AS days_to_first_contact,
       round(w.paid_todate / NULLIF(w.charges_todate, 0), 4)          AS patient_pay_yield,
       round(i.kept::numeric / NULLIF(i.due, 0), 4)                   AS promise_kept_rate,
       round(d.median_days::numeric, 2)                               AS dispute_resolution_days,
       round(COALESCE(e.complaints, 0) * 1000.0 / NULLIF(c.contacts, 0), 2) AS complaints_per_1000,
       CASE WHEN w.ar_end > 0 THEN round(COALESCE(e.placed, 0) / w.ar_end, 4) END AS placed_pct,
       round(w.ar_end * 90 / NULLIF(w.charges_90, 0), 2)              AS days_in_ar,
       round(w.paid_90 / NULLIF(w.charges_90, 0), 4)                  AS collection_rate_90d,
       w.write_offs::numeric(14,2) AS write_offs,
       round(w.resolved_no_touch::numeric / NULLIF(w.resolved, 0), 4) AS no_touch_share,
       round(d.p90_days::numeric, 2)                                  AS dispute_resolution_days_p90
  FROM @extschema@.practice p
  -- ledger figures per week from the daily rollup, over a dense calendar
  CROSS JOIN LATERAL (
    SELECT date_trunc('week', x.day::timestamp)::date AS week,
           sum(x.write_offs) AS write_offs,
           sum(x.resolved) AS resolved,
           sum(x.resolved_no_touch) AS resolved_no_touch,
           max(x.ar) FILTER (WHERE extract(isodow FROM x.day) = 7) AS ar_end,
           max(x.charges_90) FILTER (WHERE extract(isodow FROM x.day) = 7) AS charges_90,
           max(x.paid_90) FILTER (WHERE extract(isodow FROM x.day) = 7) AS paid_90,
           max(x.charges_todate) FILTER (WHERE extract(isodow FROM x.day) = 7) AS charges_todate,
           max(x.paid_todate) FILTER (WHERE extract(isodow FROM x.day) = 7) AS paid_todate
      FROM (
        SELECT g.day,
               COALESCE(dd.write_offs, 0) AS write_offs,
               COALESCE(dd.resolved, 0) AS resolved,
               COALESCE(dd.resolved_no_touch, 0) AS resolved_no_touch,
               sum(COALESCE(dd.net, 0)) OVER running AS ar,
               sum(COALESCE(dd.charges, 0)) OVER running AS charges_todate,
               sum(COALESCE(dd.paid_net, 0)) OVER running AS paid_todate,
               sum(COALESCE(dd.charges, 0)) OVER last90 AS charges_90,
               sum(COALESCE(dd.paid_net, 0)) OVER last90 AS paid_90
          FROM (SELECT min(k.day) AS lo, max(k.day) AS hi
                  FROM @extschema@.kpi_daily k WHERE k.practice_id = p.practice_id) s
          CROSS JOIN LATERAL generate_series(date_trunc('week', s.lo::timestamp),
                                             date_trunc('week', s.hi::timestamp) + interval '6 days',
                                             interval '1 day') AS gs(t)
          CROSS JOIN LATERAL (SELECT gs.t::date AS day) g
          LEFT JOIN (
            SELECT k.day,
                   sum(k.charges) AS charges,
                   sum(k.payments - k.reversals) AS paid_net,
                   sum(k.charges + k.refunds + k.reversals - k.payments - k.adjustments - k.write_offs) AS net,
                   sum(k.write_offs) AS write_offs,
                   sum(k.resolved) AS resolved,
                   sum(k.resolved_no_touch) AS resolved_no_touch
              FROM @extschema@.kpi_daily k
             WHERE k.practice_id = p.practice_id
             GROUP BY k.day) dd ON dd.day = g.day
        WINDOW running AS (ORDER BY g.day),
               last90 AS (ORDER BY g.day ROWS BETWEEN 89 PRECEDING AND CURRENT ROW)
      ) x
     GROUP BY 1
  ) w
  -- contacts and first contacts per week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           sum(k.contacts) AS contacts, sum(k.ftc_n) AS ftc_n, sum(k.ftc_seconds) AS ftc_seconds
      FROM @extschema@.kpi_contact_daily k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) c ON c.week = w.week
  -- installments due in the week (up to today), of plans that were agreed
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.due_date::timestamp)::date AS week, sum(k.due) AS due, sum(k.kept) AS kept
      FROM @extschema@.kpi_installment_daily k
     WHERE k.practice_id = p.practice_id AND k.due_date <= (now() AT TIME ZONE p.timezone)::date
     GROUP BY 1
  ) i ON i.week = w.week
  -- complaints and placements in the week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           sum(k.complaints) AS complaints, sum(k.placed) AS placed
      FROM @extschema@.kpi_event_daily k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) e ON e.week = w.week
  -- disputes resolved in the week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY k.days) AS median_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY k.days) AS p90_days
      FROM @extschema@.kpi_dispute k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) d ON d.week = w.week;

------------------------------------------------------------------------
-- kpi_recovery_by_segment: per practice, month (first day, practice-local)
-- and the account's segment at the time of posting: dollars recovered
-- (payments minus reversals) and the recovery rate = recovered / all
-- balance reductions (recovered + adjustments + write-offs).
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_recovery_by_segment AS
SELECT k.practice_id,
       date_trunc('month', k.day::timestamp)::date AS month,
       k.segment,
       sum(k.payments - k.reversals) AS recovered,
       sum(k.payments - k.reversals + k.adjustments + k.write_offs) AS reduced,
       round(sum(k.payments - k.reversals)
             / NULLIF(sum(k.payments - k.reversals + k.adjustments + k.write_offs), 0), 4) AS recovery_rate
  FROM @extschema@.kpi_daily k
 GROUP BY k.practice_id, date_trunc('month', k.day::timestamp)::date, k.segment
HAVING sum(k.payments + k.reversals + k.adjustments + k.write_offs) > 0;

------------------------------------------------------------------------
-- ar_aging: open balances (> 0; credit balances not counted) by days since
-- due_since as of the practice's local today; every bucket is listed.
------------------------------------------------------------------------
CREATE VIEW @extschema@.ar_aging AS
SELECT p.practice_id, y.bucket, y.accounts, y.balance
  FROM @extschema@.practice p
  CROSS JOIN LATERAL (
    SELECT b.bucket, COALESCE(x.accounts, 0) AS accounts, COALESCE(x.balance, 0)::numeric(14,2) AS balance
      FROM (VALUES (1, '0-30'), (2, '31-60'), (3, '61-90'), (4, '91-120'), (5, '120+')) AS b(ord, bucket)
      LEFT JOIN (
        SELECT CASE WHEN t.today - COALESCE(a.due_since, t.today) <= 30 THEN 1
                    WHEN t.today - a.due_since <= 60 THEN 2
                    WHEN t.today - a.due_since <= 90 THEN 3
                    WHEN t.today - a.due_since <= 120 THEN 4
                    ELSE 5 END AS ord,
               count(*) AS accounts, sum(a.balance) AS balance
          FROM (SELECT (now() AT TIME ZONE p.timezone)::date AS today) t
          JOIN @extschema@.account a ON a.practice_id = p.practice_id AND a.balance > 0
         GROUP BY 1
      ) x ON x.ord = b.ord
  ) y;

------------------------------------------------------------------------
-- kpi_channel_effectiveness: per practice, channel and cadence step, over
-- all outbox messages on a patient channel: sent (reached sent or
-- delivered), delivered, failed (failed or dead), replied (a
-- contact_attempt 'replied' on that channel within 7 days after sending)
-- and paid within 7 days (a payment posted within 7 days after sending).
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_channel_effectiveness AS
SELECT o.practice_id, o.channel, COALESCE(o.step, '') AS step,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered')) AS sent,
       count(*) FILTER (WHERE o.status = 'delivered') AS delivered,
       count(*) FILTER (WHERE o.status IN ('failed', 'dead')) AS failed,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered') AND EXISTS (
         SELECT 1 FROM @extschema@.contact_attempt ca
          WHERE ca.practice_id = o.practice_id AND ca.patient_id = o.patient_id
            AND ca.channel = o.channel AND ca.outcome = 'replied'
            AND ca.at >= COALESCE(o.sent_at, o.send_after)
            AND ca.at < COALESCE(o.sent_at, o.send_after) + interval '7 days')) AS replied,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered') AND EXISTS (
         SELECT 1 FROM @extschema@.ledger l
          WHERE l.practice_id = o.practice_id AND l.patient_id = o.patient_id AND l.kind = 'payment'
            AND l.posted_at >= COALESCE(o.sent_at, o.send_after)
            AND l.posted_at < COALESCE(o.sent_at, o.send_after) + interval '7 days')) AS paid_7d
  FROM @extschema@.outbox o
 WHERE o.status IN ('sent', 'delivered', 'failed', 'dead')
   AND o.channel NOT IN ('webhook', 'charge')
 GROUP BY o.practice_id, o.channel, COALESCE(o.step, '');

------------------------------------------------------------------------
-- staff_queue: open tasks by queue, kind and age (days since created, in
-- the practice's local today). Queues, first match wins:
-- returns_rejections (address_check, delivery_failed, payment_failed);
-- new_balances (the patient's balance came due under 30 days ago);
-- plans_followups (due before the end of this local week); later.
------------------------------------------------------------------------
CREATE VIEW @extschema@.staff_queue AS
SELECT q.practice_id, q.queue, q.kind, q.age,
       count(*) AS tasks,
       count(*) FILTER (WHERE q.overdue) AS overdue,
       min(q.created_at) AS oldest_created_at
  FROM (
    SELECT t.practice_id, t.kind, t.created_at, t.due_at < now() AS overdue,
           CASE WHEN t.kind IN ('address_check', 'delivery_failed', 'payment_failed') THEN 'returns_rejections'
                WHEN a.balance > 0 AND a.due_since > today.d - 30 THEN 'new_balances'
                WHEN t.due_at < ((date_trunc('week', today.d::timestamp) + interval '7 days') AT TIME ZONE p.timezone)
                  THEN 'plans_followups'
                ELSE 'later' END AS queue,
           CASE WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 2 THEN '0-2'
                WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 7 THEN '3-7'
                WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 30 THEN '8-30'
                ELSE '31+' END AS age
      FROM @extschema@.task t
      JOIN @extschema@.practice p ON p.practice_id = t.practice_id
      CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE p.timezone)::date AS d) today
      LEFT JOIN @extschema@.account a ON a.practice_id = t.practice_id AND a.patient_id = t.patient_id
     WHERE t.status = 'open'
  ) q
 GROUP BY q.practice_id, q.queue, q.kind, q.age;

-- Analysts read the KPI views only (no names, phones or e-mails in them);
-- billing staff also work from the queue.
GRANT SELECT ON @extschema@.kpi_scorecard, @extschema@.kpi_recovery_by_segment, @extschema@.ar_aging,
  @extschema@.kpi_channel_effectiveness, @extschema@.staff_queue TO collect_analyst;
GRANT SELECT ON @extschema@.staff_queue, @extschema@.ar_aging TO collect_staff;
