/*
 * learn.c: the learning loop's tables. Observations of when patients
 * open, reply and pay (contact_hour_stats, segment_hour_stats, and the
 * account's best_hour), the channel bandit's arms (channel_arm), the
 * SQL functions learn_observe, best_hour, choose_channel, learn_update,
 * and the bandit draw the cadence pass asks for (learn_segment_arms,
 * learn_draw_channel).
 * The arithmetic is in learn_math.c; this file only reads and writes rows.
 * Never reads the wall clock (times are arguments) and sends nothing.
 */
#include "collect.h"

#include "learn.h"
#include "learn_math.h"

PG_FUNCTION_INFO_V1(collect_learn_observe);
PG_FUNCTION_INFO_V1(collect_best_hour);
PG_FUNCTION_INFO_V1(collect_choose_channel);
PG_FUNCTION_INFO_V1(collect_learn_update);

const char *const learn_channels[LEARN_CHANNELS] = {"sms", "email", "letter", "call_task"};

/* prior weight of the segment's hour distribution, in observations */
#define SEGMENT_PRIOR_WEIGHT 2.0

SPIPlanPtr
learn_keep_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*cache = p;
	}
	return *cache;
}

static char *
arg_text(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static TimestampTz
arg_time(FunctionCallInfo fcinfo, int n, const char *name)
{
	TimestampTz t;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	t = PG_GETARG_TIMESTAMPTZ(n);
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite time", name)));
	return t;
}

/*
 * The observation counts for the patient and, as the prior, for the
 * account's segment; not for settled or credit accounts: a payment is
 * mostly observed after it settled the account, and no cadence runs there,
 * so those hours would only blur the segments that are contacted.
 */
void
learn_observe_event(const char *practice_id, const char *patient_id, const char *kind, TimestampTz at)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, FLOAT4OID};
	Datum		args[4];
	float4		weight;

	if (strcmp(kind, "open") == 0)
		weight = 1;
	else if (strcmp(kind, "reply") == 0)
		weight = 2;
	else if (strcmp(kind, "pay") == 0)
		weight = 3;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown observation kind \"%s\"", kind),
				 errhint("Use open, reply or pay.")));

	SPI_connect();
	learn_keep_plan(&plan,
					"WITH h AS ("
					"  SELECT extract(hour FROM $3 AT TIME ZONE coalesce(p.timezone, pr.timezone))::smallint AS hour,"
					"         coalesce(a.segment, 'fresh') AS segment"
					"    FROM collect.patient p JOIN collect.practice pr USING (practice_id)"
					"    LEFT JOIN collect.account a USING (practice_id, patient_id)"
					"   WHERE p.practice_id = $1 AND p.patient_id = $2),"
					" seg AS ("
					"  INSERT INTO collect.segment_hour_stats AS s (practice_id, segment, hour, events)"
					"  SELECT $1, h.segment, h.hour, $4 FROM h WHERE h.segment NOT IN ('settled', 'credit')"
					"  ON CONFLICT (practice_id, segment, hour) DO UPDATE SET events = s.events + EXCLUDED.events"
					"  RETURNING 1)"
					" INSERT INTO collect.contact_hour_stats AS s (practice_id, patient_id, hour, events)"
					" SELECT $1, $2, h.hour, $4 FROM h"
					" ON CONFLICT (practice_id, patient_id, hour) DO UPDATE SET events = s.events + EXCLUDED.events",
					4, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	args[2] = TimestampTzGetDatum(at);
	args[3] = Float4GetDatum(weight);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording an observation failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("unknown patient \"%s\" of practice \"%s\"", patient_id, practice_id)));
	SPI_finish();
	(void) learn_best_hour(practice_id, patient_id);
}

/* Read hour counts (hour, events) rows of the last SELECT into counts[24] */
static void
read_counts(double *counts)
{
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		n1,
					n2;
		int			h = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &n1));
		float4		e = DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &n2));

		if (!n1 && !n2 && h >= 0 && h < LEARN_HOURS)
			counts[h] += e;
	}
}

/*
 * The learned best hour; also stores it in account.best_hour (where the
 * outreach code looks) when it changed.
 */
int
learn_best_hour(const char *practice_id, const char *patient_id)
{
	static SPIPlanPtr own_plan = NULL,
				seg_plan = NULL,
				store_plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, INT2OID};
	Datum		args[3];
	double		own[LEARN_HOURS] = {0},
				seg[LEARN_HOURS] = {0};
	Policy		pol;
	int			hour;

	policy_load(practice_id, &pol);
	SPI_connect();
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	learn_keep_plan(&own_plan,
					"SELECT hour, events FROM collect.contact_hour_stats WHERE practice_id = $1 AND patient_id = $2",
					2, types);
	if (SPI_execute_plan(own_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading contact_hour_stats failed");
	read_counts(own);
	learn_keep_plan(&seg_plan,
					"SELECT s.hour, s.events FROM collect.segment_hour_stats s"
					" WHERE s.practice_id = $1 AND s.segment = coalesce("
					"   (SELECT a.segment FROM collect.account a WHERE a.practice_id = $1 AND a.patient_id = $2), 'fresh')",
					2, types);
	if (SPI_execute_plan(seg_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading segment_hour_stats failed");
	read_counts(seg);
	hour = best_hour_for(own, seg, pol.contact_hour_start, pol.contact_hour_end, SEGMENT_PRIOR_WEIGHT);
	if (hour >= 0)
	{
		learn_keep_plan(&store_plan,
						"UPDATE collect.account SET best_hour = $3"
						" WHERE practice_id = $1 AND patient_id = $2 AND best_hour IS DISTINCT FROM $3",
						3, types);
		args[2] = Int16GetDatum((int16) hour);
		if (SPI_execute_plan(store_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "storing best_hour failed");
	}
	SPI_finish();
	return hour;
}

const char *
learn_choose_channel_for(const char *practice_id, const char *patient_id, TimestampTz as_of)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	ChannelArm	arms[LEARN_CHANNELS];
	int			k;

	memset(arms, 0, sizeof(arms));
	SPI_connect();
	/* one row per channel: allowed?, successes, failures for the patient's segment */
	learn_keep_plan(&plan,
					"SELECT c.ch,"
					"  CASE c.ch"
					"    WHEN 'sms' THEN p.sms_consent AND p.phone IS NOT NULL"
					"    WHEN 'email' THEN p.email_consent AND p.email IS NOT NULL"
					"    WHEN 'letter' THEN p.address_ok"
					"    ELSE p.phone IS NOT NULL END"
					"  AND NOT EXISTS (SELECT 1 FROM collect.channel_opt_out o"
					"     WHERE o.practice_id = p.practice_id AND o.patient_id = p.patient_id AND o.opted_in_at IS NULL"
					"       AND o.channel = CASE c.ch WHEN 'call_task' THEN 'voice' ELSE c.ch END),"
					"  coalesce(m.successes, 0)::float8, coalesce(m.failures, 0)::float8"
					" FROM collect.patient p"
					" CROSS JOIN unnest(ARRAY['sms','email','letter','call_task']) WITH ORDINALITY AS c(ch, ord)"
					" LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
					" LEFT JOIN collect.channel_arm m ON m.practice_id = p.practice_id"
					"      AND m.segment = coalesce(a.segment, 'fresh') AND m.channel = c.ch"
					" WHERE p.practice_id = $1 AND p.patient_id = $2"
					" ORDER BY c.ord",
					2, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading channel arms failed");
	if (SPI_processed != LEARN_CHANNELS)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("unknown patient \"%s\" of practice \"%s\"", patient_id, practice_id)));
	for (k = 0; k < LEARN_CHANNELS; k++)
	{
		HeapTuple	row = SPI_tuptable->vals[k];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d = SPI_getbinval(row, desc, 2, &isnull);

		arms[k].allowed = !isnull && DatumGetBool(d);
		arms[k].successes = DatumGetFloat8(SPI_getbinval(row, desc, 3, &isnull));
		arms[k].failures = DatumGetFloat8(SPI_getbinval(row, desc, 4, &isnull));
	}
	SPI_finish();
	return learn_draw_channel(arms, practice_id, patient_id, as_of);
}

/* Thompson draw seeded from (practice, patient, as_of): the same call, the same answer */
const char *
learn_draw_channel(const ChannelArm *arms, const char *practice_id, const char *patient_id,
				   TimestampTz as_of)
{
	LearnRng	rng;
	uint64		seed;
	int			k;

	seed = learn_hash(LEARN_HASH_INIT, practice_id);
	seed = learn_hash(seed, patient_id);
	seed = learn_hash_int(seed, (int64) as_of);
	learn_rng_seed(&rng, seed);
	k = learn_choose_channel(arms, LEARN_CHANNELS, &rng);
	return k < 0 ? NULL : learn_channels[k];
}

/*
 * The arms of the patient's current segment, in learn_channels order, all
 * marked allowed; false while the segment has fewer than
 * LEARN_STEER_MIN_TOUCHES scored touches (the cadence keeps its channels).
 */
bool
learn_segment_arms(const char *practice_id, const char *patient_id, ChannelArm *arms)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	double		touches = 0;

	memset(arms, 0, sizeof(ChannelArm) * LEARN_CHANNELS);
	SPI_connect();
	learn_keep_plan(&plan,
					"SELECT m.channel, m.successes::float8, m.failures::float8"
					" FROM collect.account a JOIN collect.channel_arm m"
					"   ON m.practice_id = a.practice_id AND m.segment = a.segment"
					" WHERE a.practice_id = $1 AND a.patient_id = $2",
					2, types);
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading channel arms failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *ch = SPI_getvalue(row, desc, 1);

		for (int k = 0; k < LEARN_CHANNELS; k++)
			if (strcmp(ch, learn_channels[k]) == 0)
			{
				arms[k].successes = DatumGetFloat8(SPI_getbinval(row, desc, 2, &isnull));
				arms[k].failures = DatumGetFloat8(SPI_getbinval(row, desc, 3, &isnull));
				touches += arms[k].successes + arms[k].failures;
			}
	}
	SPI_finish();
	for (int k = 0; k < LEARN_CHANNELS; k++)
		arms[k].allowed = 1;
	return touches >= LEARN_STEER_MIN_TOUCHES;
}

/* ---- SQL ---- */

Datum
collect_learn_observe(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	char	   *kind = arg_text(fcinfo, 2, "kind");
	TimestampTz at = arg_time(fcinfo, 3, "at");

	learn_observe_event(practice_id, patient_id, kind, at);
	PG_RETURN_VOID();
}

Datum
collect_best_hour(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	Policy		pol;
	double		own[LEARN_HOURS] = {0},
				seg[LEARN_HOURS] = {0};
	int			hour;

	/* read-only twin of learn_best_hour (this function is STABLE) */
	policy_load(practice_id, &pol);
	SPI_connect();
	learn_keep_plan(&plan,
					"SELECT s.hour, s.events, false FROM collect.contact_hour_stats s"
					" WHERE s.practice_id = $1 AND s.patient_id = $2"
					" UNION ALL "
					"SELECT s.hour, s.events, true FROM collect.segment_hour_stats s"
					" WHERE s.practice_id = $1 AND s.segment = coalesce("
					"   (SELECT a.segment FROM collect.account a WHERE a.practice_id = $1 AND a.patient_id = $2), 'fresh')",
					2, types);
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading hour stats failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int			h = DatumGetInt16(SPI_getbinval(row, desc, 1, &isnull));
		float4		e = DatumGetFloat4(SPI_getbinval(row, desc, 2, &isnull));

		if (h >= 0 && h < LEARN_HOURS)
			(DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)) ? seg : own)[h] += e;
	}
	SPI_finish();
	hour = best_hour_for(own, seg, pol.contact_hour_start, pol.contact_hour_end, SEGMENT_PRIOR_WEIGHT);
	if (hour < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(hour);
}

Datum
collect_choose_channel(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	TimestampTz as_of = arg_time(fcinfo, 2, "as_of");
	const char *ch = learn_choose_channel_for(practice_id, patient_id, as_of);

	if (ch == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ch));
}

/*
 * learn_update: touches (messages sent on a bandit channel, and staff calls)
 * between the watermark and as_of - 7 days are scored: success when the
 * patient posted a payment within 7 days after. New payments up to as_of
 * become "pay" hour observations.
 */
Datum
collect_learn_update(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	TimestampTz as_of = arg_time(fcinfo, 1, "as_of");
	static SPIPlanPtr state_plan = NULL,
				arms_plan = NULL,
				pay_plan = NULL,
				save_plan = NULL;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2] = {CStringGetTextDatum(practice_id), TimestampTzGetDatum(as_of)};
	int64		scored = 0;
	uint64		n_pay;
	char	  **pay_patients;
	TimestampTz *pay_times;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	learn_keep_plan(&state_plan,
					"INSERT INTO collect.learn_state (practice_id) SELECT practice_id FROM collect.practice"
					" WHERE practice_id = $1 ON CONFLICT DO NOTHING",
					1, types);
	if (SPI_execute_plan(state_plan, args, NULL, false, 0) < 0)
		elog(ERROR, "learn_state upsert failed");

	learn_keep_plan(&arms_plan,
					"WITH st AS (SELECT touches_scored_through AS since FROM collect.learn_state"
					"             WHERE practice_id = $1 FOR UPDATE),"
					" touch AS ("
					"  SELECT o.patient_id, o.channel, coalesce(o.sent_at, o.send_after) AS at,"
					"         (SELECT c.segment FROM collect.contact_attempt c WHERE c.practice_id = $1"
					"           AND c.patient_id = o.patient_id AND c.message_id = o.message_id"
					"           AND c.outcome = 'queued' LIMIT 1) AS segment"
					"    FROM collect.outbox o, st"
					"   WHERE o.practice_id = $1 AND o.channel IN ('sms','email','letter')"
					"     AND o.status IN ('sent','delivered') AND coalesce(o.step, '') NOT LIKE 'notice:%'"
					"     AND coalesce(o.step, '') NOT LIKE 'opt_out_confirmation%'"
					"     AND coalesce(o.sent_at, o.send_after) > st.since"
					"     AND coalesce(o.sent_at, o.send_after) <= $2 - interval '7 days'"
					"  UNION ALL"
					"  SELECT c.patient_id, 'call_task', c.at, c.segment FROM collect.contact_attempt c, st"
					"   WHERE c.practice_id = $1 AND c.channel = 'call_task' AND c.outcome IN ('conversation','no_answer')"
					"     AND c.at > st.since AND c.at <= $2 - interval '7 days'),"
					" scored AS ("
					"  SELECT coalesce(t.segment, a.segment, 'fresh') AS segment, t.channel,"
					"         count(*) FILTER (WHERE paid) AS s, count(*) FILTER (WHERE NOT paid) AS f"
					"    FROM touch t"
					"    LEFT JOIN collect.account a ON a.practice_id = $1 AND a.patient_id = t.patient_id"
					"    CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM collect.ledger l"
					"        WHERE l.practice_id = $1 AND l.patient_id = t.patient_id AND l.kind = 'payment'"
					"          AND l.posted_at >= t.at AND l.posted_at <= t.at + interval '7 days') AS paid) x"
					"   GROUP BY 1, 2),"
					" up AS ("
					"  INSERT INTO collect.channel_arm AS m (practice_id, segment, channel, successes, failures, updated_at)"
					"  SELECT $1, segment, channel, s, f, $2 FROM scored"
					"  ON CONFLICT (practice_id, segment, channel) DO UPDATE"
					"  SET successes = m.successes + EXCLUDED.successes, failures = m.failures + EXCLUDED.failures,"
					"      updated_at = EXCLUDED.updated_at"
					"  RETURNING 1),"
					" mark AS (UPDATE collect.learn_state SET touches_scored_through = greatest(touches_scored_through, $2 - interval '7 days')"
					"          WHERE practice_id = $1 RETURNING 1)"
					" SELECT coalesce((SELECT sum(s + f) FROM scored), 0)::bigint, (SELECT count(*) FROM up), (SELECT count(*) FROM mark)",
					2, types);
	if (SPI_execute_plan(arms_plan, args, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "scoring touches failed");
	{
		bool		isnull;

		scored = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	/* payments since the last run: observation per payment */
	learn_keep_plan(&pay_plan,
					"SELECT l.patient_id, l.posted_at FROM collect.ledger l, collect.learn_state st"
					" WHERE st.practice_id = $1 AND l.practice_id = $1 AND l.kind = 'payment'"
					"   AND l.posted_at > st.payments_seen_through AND l.posted_at <= $2"
					" ORDER BY l.posted_at",
					2, types);
	if (SPI_execute_plan(pay_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading payments failed");
	n_pay = SPI_processed;
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		pay_patients = palloc(sizeof(char *) * (n_pay + 1));
		pay_times = palloc(sizeof(TimestampTz) * (n_pay + 1));
		for (uint64 r = 0; r < n_pay; r++)
		{
			bool		isnull;

			pay_patients[r] = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
			pay_times[r] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		}
		MemoryContextSwitchTo(spi);
	}
	learn_keep_plan(&save_plan,
					"UPDATE collect.learn_state SET payments_seen_through = greatest(payments_seen_through, $2)"
					" WHERE practice_id = $1",
					2, types);
	if (SPI_execute_plan(save_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "saving learn_state failed");
	SPI_finish();

	for (uint64 r = 0; r < n_pay; r++)
	{
		CHECK_FOR_INTERRUPTS();
		learn_observe_event(practice_id, pay_patients[r], "pay", pay_times[r]);
	}
	pfree(pay_patients);
	pfree(pay_times);
	PG_RETURN_INT64(scored);
}
