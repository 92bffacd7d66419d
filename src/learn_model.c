/*
 * learn_model.c: collect.train(practice_id, as_of) and collect.train_all:
 * the propensity-to-pay model. Reads collect.risk_features through a
 * cursor (so a large practice never sits in memory as tuples), fits a
 * logistic regression by IRLS (learn_math.c) on standardized features,
 * measures AUC on a held-out fifth of the patients (chosen by a hash of
 * patient_id, so the split is stable), stores the model in
 * collect.risk_model and writes account.risk_score. Never reads the wall
 * clock: the cut is as_of - 30 days.
 */
#include "collect.h"

#include "utils/jsonb.h"

#include "learn.h"
#include "learn_math.h"

PG_FUNCTION_INFO_V1(collect_train);
PG_FUNCTION_INFO_V1(collect_train_all);

#define N_FEATURES 9
#define FETCH_ROWS 1000
#define MIN_TRAIN_ROWS 20

static const char *const feature_names[N_FEATURES] = {
	"log_balance", "months_since_charge", "months_since_payment", "payments_before",
	"lateness", "replies", "contacts_90d", "plans_completed", "plans_defaulted"
};

typedef struct FeatureRows
{
	size_t		n,
				cap;
	double	   *x;				/* n x N_FEATURES */
	int		   *y;
	bool	   *test;
	char	  **patient;
} FeatureRows;

static void
rows_add(FeatureRows *r, const char *patient, const double *x, int y, bool test)
{
	if (r->n == r->cap)
	{
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->x = r->x ? repalloc_huge(r->x, sizeof(double) * N_FEATURES * r->cap)
			: palloc_extended(sizeof(double) * N_FEATURES * r->cap, MCXT_ALLOC_HUGE);
		r->y = r->y ? repalloc_huge(r->y, sizeof(int) * r->cap)
			: palloc_extended(sizeof(int) * r->cap, MCXT_ALLOC_HUGE);
		r->test = r->test ? repalloc_huge(r->test, sizeof(bool) * r->cap)
			: palloc_extended(sizeof(bool) * r->cap, MCXT_ALLOC_HUGE);
		r->patient = r->patient ? repalloc_huge(r->patient, sizeof(char *) * r->cap)
			: palloc_extended(sizeof(char *) * r->cap, MCXT_ALLOC_HUGE);
	}
	memcpy(r->x + r->n * N_FEATURES, x, sizeof(double) * N_FEATURES);
	r->y[r->n] = y;
	r->test[r->n] = test;
	r->patient[r->n] = pstrdup(patient);
	r->n++;
}

/* Every row of risk_features(practice, cut) into rows (caller's context) */
static void
read_features(const char *practice_id, TimestampTz cut, FeatureRows *rows)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2] = {CStringGetTextDatum(practice_id), TimestampTzGetDatum(cut)};
	Portal		portal;

	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT * FROM collect.risk_features($1, $2, interval '30 days')",
									   2, types, args, NULL, false, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			double		x[N_FEATURES];
			bool		isnull;
			char	   *patient = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
			int			y;
			MemoryContext spi;

			for (int j = 0; j < N_FEATURES; j++)
			{
				Datum		d = SPI_getbinval(tup, desc, j + 2, &isnull);

				x[j] = isnull ? 0.0 : DatumGetFloat8(d);
			}
			y = DatumGetInt32(SPI_getbinval(tup, desc, N_FEATURES + 2, &isnull));
			spi = MemoryContextSwitchTo(caller);
			rows_add(rows, patient, x, y,
					 learn_hash(LEARN_HASH_INIT, patient) % 5 == 0);
			MemoryContextSwitchTo(spi);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Jsonb *
jsonb_from_cstring(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

static Jsonb *
train_practice(const char *practice_id, TimestampTz as_of)
{
	TimestampTz cut = as_of - (TimestampTz) 30 * USECS_PER_DAY;
	FeatureRows train_rows = {0},
				score_rows = {0};
	double		mean[N_FEATURES] = {0},
				scale[N_FEATURES] = {0},
				beta[N_FEATURES + 1];
	double	   *xt,
			   *test_scores;
	int		   *yt,
			   *test_labels;
	size_t		n_train = 0,
				n_test = 0,
				i;
	int			positives = 0,
				iters;
	double		auc = -1;
	StringInfoData buf;

	read_features(practice_id, cut, &train_rows);
	for (i = 0; i < train_rows.n; i++)
		if (!train_rows.test[i])
		{
			n_train++;
			positives += train_rows.y[i];
			for (int j = 0; j < N_FEATURES; j++)
				mean[j] += train_rows.x[i * N_FEATURES + j];
		}
		else
			n_test++;
	initStringInfo(&buf);
	if (n_train < MIN_TRAIN_ROWS || positives == 0 || positives == (int) n_train)
	{
		appendStringInfo(&buf, "{\"practice_id\": \"%s\", \"status\": \"insufficient_data\", \"n_train\": %zu, \"positives\": %d}",
						 practice_id, n_train, positives);
		return jsonb_from_cstring(buf.data);
	}
	for (int j = 0; j < N_FEATURES; j++)
		mean[j] /= n_train;
	for (i = 0; i < train_rows.n; i++)
		if (!train_rows.test[i])
			for (int j = 0; j < N_FEATURES; j++)
			{
				double		dlt = train_rows.x[i * N_FEATURES + j] - mean[j];

				scale[j] += dlt * dlt;
			}
	for (int j = 0; j < N_FEATURES; j++)
	{
		scale[j] = sqrt(scale[j] / n_train);
		if (scale[j] < 1e-9)
			scale[j] = 1.0;
	}
	/* standardized training and test matrices */
	xt = palloc_extended(sizeof(double) * N_FEATURES * n_train, MCXT_ALLOC_HUGE);
	yt = palloc_extended(sizeof(int) * n_train, MCXT_ALLOC_HUGE);
	test_scores = palloc(sizeof(double) * (n_test + 1));
	test_labels = palloc(sizeof(int) * (n_test + 1));
	{
		size_t		k = 0;

		for (i = 0; i < train_rows.n; i++)
		{
			if (train_rows.test[i])
				continue;
			for (int j = 0; j < N_FEATURES; j++)
				xt[k * N_FEATURES + j] = (train_rows.x[i * N_FEATURES + j] - mean[j]) / scale[j];
			yt[k++] = train_rows.y[i];
		}
	}
	iters = logit_fit(xt, yt, n_train, N_FEATURES, 1.0, 30, beta);
	if (iters < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the risk model of practice \"%s\" could not be fitted", practice_id),
				 errdetail("The features are collinear on %zu training rows.", n_train)));
	{
		size_t		k = 0;

		for (i = 0; i < train_rows.n; i++)
		{
			double		z[N_FEATURES];

			if (!train_rows.test[i])
				continue;
			for (int j = 0; j < N_FEATURES; j++)
				z[j] = (train_rows.x[i * N_FEATURES + j] - mean[j]) / scale[j];
			test_scores[k] = logit_predict(z, N_FEATURES, beta);
			test_labels[k++] = train_rows.y[i];
		}
		if (n_test > 0)
			auc = auc_compute(test_scores, test_labels, n_test);
	}

	/* store the model and score every open account as of now */
	read_features(practice_id, as_of, &score_rows);
	SPI_connect();
	{
		static SPIPlanPtr save_plan = NULL,
					score_plan = NULL;
		Oid			types[11] = {TEXTOID, TIMESTAMPTZOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, INT4OID, INT4OID, INT4OID, FLOAT8OID, INT4OID};
		Datum		args[11];
		char		nulls[11];
		Datum		names[N_FEATURES];
		Datum	   *ids,
				   *scores;

		for (int j = 0; j < N_FEATURES; j++)
			names[j] = CStringGetTextDatum(feature_names[j]);
		memset(nulls, ' ', sizeof(nulls));
		args[0] = CStringGetTextDatum(practice_id);
		args[1] = TimestampTzGetDatum(as_of);
		args[2] = PointerGetDatum(construct_array(names, N_FEATURES, TEXTOID, -1, false, TYPALIGN_INT));
		args[3] = float8_array(beta, N_FEATURES + 1);
		args[4] = float8_array(mean, N_FEATURES);
		args[5] = float8_array(scale, N_FEATURES);
		args[6] = Int32GetDatum((int32) n_train);
		args[7] = Int32GetDatum((int32) n_test);
		args[8] = Int32GetDatum(positives);
		args[9] = Float8GetDatum(auc);
		if (auc < 0)
			nulls[9] = 'n';
		args[10] = Int32GetDatum(iters);
		learn_keep_plan(&save_plan,
						"INSERT INTO collect.risk_model AS m (practice_id, fitted_at, features, coefficients, means, scales,"
						" n_train, n_test, positives, auc, iterations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
						" ON CONFLICT (practice_id) DO UPDATE SET fitted_at = EXCLUDED.fitted_at, features = EXCLUDED.features,"
						" coefficients = EXCLUDED.coefficients, means = EXCLUDED.means, scales = EXCLUDED.scales,"
						" n_train = EXCLUDED.n_train, n_test = EXCLUDED.n_test, positives = EXCLUDED.positives,"
						" auc = EXCLUDED.auc, iterations = EXCLUDED.iterations",
						11, types);
		if (SPI_execute_plan(save_plan, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "saving the risk model failed");

		ids = palloc(sizeof(Datum) * (score_rows.n + 1));
		scores = palloc(sizeof(Datum) * (score_rows.n + 1));
		for (i = 0; i < score_rows.n; i++)
		{
			double		z[N_FEATURES];

			for (int j = 0; j < N_FEATURES; j++)
				z[j] = (score_rows.x[i * N_FEATURES + j] - mean[j]) / scale[j];
			ids[i] = CStringGetTextDatum(score_rows.patient[i]);
			scores[i] = Float4GetDatum((float4) logit_predict(z, N_FEATURES, beta));
		}
		{
			Oid			stypes[3] = {TEXTOID, TEXTARRAYOID, FLOAT4ARRAYOID};
			Datum		sargs[3];

			sargs[0] = CStringGetTextDatum(practice_id);
			sargs[1] = PointerGetDatum(construct_array(ids, (int) score_rows.n, TEXTOID, -1, false, TYPALIGN_INT));
			sargs[2] = PointerGetDatum(construct_array(scores, (int) score_rows.n, FLOAT4OID, sizeof(float4),
													   true, TYPALIGN_INT));
			learn_keep_plan(&score_plan,
							"UPDATE collect.account a SET risk_score = s.score"
							"  FROM unnest($2::text[], $3::real[]) AS s(patient_id, score)"
							" WHERE a.practice_id = $1 AND a.patient_id = s.patient_id",
							3, stypes);
			if (SPI_execute_plan(score_plan, sargs, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "writing risk scores failed");
		}
	}
	SPI_finish();

	appendStringInfo(&buf, "{\"practice_id\": \"%s\", \"status\": \"fitted\", \"n_train\": %zu, \"n_test\": %zu,"
					 " \"positives\": %d, \"iterations\": %d, \"auc\": %s, \"scored\": %zu, \"coefficients\": {\"intercept\": %.4f",
					 practice_id, n_train, n_test, positives, iters,
					 auc < 0 ? "null" : psprintf("%.4f", auc), score_rows.n, beta[0]);
	for (int j = 0; j < N_FEATURES; j++)
		appendStringInfo(&buf, ", \"%s\": %.4f", feature_names[j], beta[j + 1]);
	appendStringInfoString(&buf, "}}");
	return jsonb_from_cstring(buf.data);
}

Datum
collect_train(PG_FUNCTION_ARGS)
{
	char	   *practice_id;
	TimestampTz as_of;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("train: practice_id and as_of must not be null")));
	practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("train: as_of must be a finite time")));
	{
		Policy		pol;

		policy_load(practice_id, &pol);	/* unknown practice: 42704 */
	}
	PG_RETURN_JSONB_P(train_practice(practice_id, as_of));
}

Datum
collect_train_all(PG_FUNCTION_ARGS)
{
	TimestampTz as_of = PG_ARGISNULL(0) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(0);
	MemoryContext caller = CurrentMemoryContext,
				loop;
	char	  **ids;
	uint64		n;
	int			trained = 0;

	SPI_connect();
	if (SPI_execute("SELECT practice_id FROM collect.practice ORDER BY practice_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "listing practices failed");
	n = SPI_processed;
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		ids = palloc(sizeof(char *) * (n + 1));
		for (uint64 r = 0; r < n; r++)
		{
			bool		isnull;

			ids[r] = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		}
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();

	loop = AllocSetContextCreate(caller, "collect train_all", ALLOCSET_DEFAULT_SIZES);
	for (uint64 r = 0; r < n; r++)
	{
		Jsonb	   *summary;
		Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
		Datum		args[2];

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(loop);
		args[0] = CStringGetTextDatum(ids[r]);
		args[1] = TimestampTzGetDatum(as_of);
		SPI_connect();
		if (SPI_execute_with_args("SELECT collect.learn_update($1, $2)", 2, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "learn_update failed");
		SPI_finish();
		summary = train_practice(ids[r], as_of);
		{
			JsonbValue *st = getKeyJsonValueFromContainer(&summary->root, "status", 6, NULL);

			if (st && st->type == jbvString && st->val.string.len == 6 &&
				strncmp(st->val.string.val, "fitted", 6) == 0)
				trained++;
		}
		MemoryContextSwitchTo(caller);
		MemoryContextReset(loop);
	}
	MemoryContextDelete(loop);
	PG_RETURN_INT32(trained);
}
