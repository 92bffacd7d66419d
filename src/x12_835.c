/*
 * x12_835.c: collect.import_835(practice_id, contents, posted_at): posts
 * the patient responsibility of an X12 835 remittance to the ledger. The
 * file is read in full first by the PostgreSQL-free reader
 * (x12_835_parse.c); a malformed file raises one error naming the segment
 * and posts nothing. Then, in the same statement, unknown patients are
 * created from NM1*QC and one ledger row per claim is inserted. This file
 * decides nothing about the 835 grammar and never reads the wall clock
 * beyond the ledger's own posted_at default.
 *
 * Posting rules (docs/data.md):
 *  - a claim's patient responsibility is the sum of its CAS PR amounts
 *    (claim and service-line level); CLP05 only when the claim has no CAS;
 *  - positive: a 'charge' (billed_amount = CLP03, insurance_paid = CLP04);
 *    negative (reversals CLP02 = 22, negative PR adjustments): an
 *    'adjustment' of the absolute amount; zero (denials with CO/OA only,
 *    predeterminations, fully paid claims): nothing;
 *  - the patient is CLP01, the patient control number the PM system sent;
 *  - external_id = 835:<TRN02>:<CLP07 or CLP01>:<occurrence>, so the same
 *    file imported twice posts nothing new, and a repost with different
 *    values is refused;
 *  - PLB provider-level adjustments are between payer and provider: they
 *    are reported, never posted to a patient.
 */
#include "collect.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

#include "x12_835_parse.h"

PG_FUNCTION_INFO_V1(import_835);

#define X835_EXTERNAL_ID_MAX 200

/* What one claim posts (or why it does not) */
typedef struct ClaimPosting
{
	const X835Claim *claim;
	Cents		responsibility; /* signed */
	char	   *external_id;	/* NULL when nothing to post */
	const char *kind;			/* charge, adjustment */
	const char *outcome;		/* charge, adjustment, duplicate, none */
	bool		patient_created;
	int			n_warnings;
	const char *first_warning;
} ClaimPosting;

typedef struct ExistingEntry
{
	char		external_id[X835_EXTERNAL_ID_MAX + 1];
	char	   *patient_id;
	char	   *kind;
	Cents		amount;
} ExistingEntry;

static SPIPlanPtr practice_plan;
static SPIPlanPtr existing_plan;
static SPIPlanPtr patient_plan;
static SPIPlanPtr ledger_plan;

static inline bool
to_insert(const ClaimPosting *cp)
{
	return cp->external_id != NULL && strcmp(cp->outcome, "duplicate") != 0;
}

static SPIPlanPtr
x835_keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
x835_prepare_plans(void)
{
	Oid			t1[1] = {TEXTOID};
	Oid			t2[2] = {TEXTOID, TEXTARRAYOID};
	Oid			t4[4] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Oid			tl[13] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};

	if (ledger_plan != NULL)
		return;
	practice_plan = x835_keep_plan("SELECT timezone FROM collect.practice WHERE practice_id = $1", 1, t1);
	existing_plan = x835_keep_plan("SELECT external_id, patient_id, kind, amount FROM collect.ledger"
								   " WHERE practice_id = $1 AND external_id = ANY ($2)", 2, t2);
	patient_plan = x835_keep_plan("INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name)"
								  " SELECT DISTINCT ON (u.p) $1, u.p, left(initcap(nullif(u.f, '')), 100),"
								  "        left(initcap(nullif(u.l, '')), 100)"
								  "   FROM unnest($2, $3, $4) WITH ORDINALITY AS u(p, f, l, n)"
								  "  WHERE NOT EXISTS (SELECT 1 FROM collect.patient x"
								  "                     WHERE x.practice_id = $1 AND x.patient_id = u.p)"
								  "  ORDER BY u.p, u.n"
								  " ON CONFLICT (practice_id, patient_id) DO NOTHING"
								  " RETURNING patient_id", 4, t4);
	ledger_plan = x835_keep_plan("INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount,"
								 "  posted_at, service_date, visit_id, billed_amount, insurance_paid, note)"
								 " SELECT $1, u.p, u.e, u.k, u.a::numeric,"
								 "        coalesce($2, (u.r::date + time '12:00') AT TIME ZONE $3, now()),"
								 "        u.s::date, u.v, u.b::numeric, u.i::numeric, u.n"
								 "   FROM unnest($4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
								 "        WITH ORDINALITY AS u(p, e, k, a, r, s, v, b, i, n, o)"
								 "  ORDER BY u.o", 13, tl);
}

static void *
x835_palloc(void *ctx, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
}

/* collect.patient.patient_id: ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$ (ASCII, whatever the locale) */
static inline bool
ascii_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
valid_patient_id(const char *s)
{
	size_t		n = strlen(s);

	if (n == 0 || n > 64 || !ascii_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!ascii_alnum(s[i]) && strchr("_.:-", s[i]) == NULL)
			return false;
	return true;
}

static char *
date_text(int yyyymmdd)
{
	if (yyyymmdd == 0)
		return NULL;
	return psprintf("%04d-%02d-%02d", yyyymmdd / 10000, yyyymmdd / 100 % 100, yyyymmdd % 100);
}

static Datum
text_array(List *values)
{
	int			n = list_length(values);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i = 0;
	ListCell   *lc;

	foreach(lc, values)
	{
		char	   *s = (char *) lfirst(lc);

		nulls[i] = s == NULL;
		elems[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
		i++;
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
x835_malformed(const X835Parse *p)
{
	if (p->error_segment > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("malformed 835: segment %d%s%s%s: %s", p->error_segment,
						p->error_segment_id[0] ? " (" : "", p->error_segment_id,
						p->error_segment_id[0] ? ")" : "", p->error),
				 errdetail("Segments are counted from 1 at the first ISA. Nothing was posted.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("malformed 835: %s", p->error),
			 errdetail("Nothing was posted.")));
}

/* Decide what each claim posts; checks that need no database */
static ClaimPosting *
plan_postings(const X835Parse *p)
{
	ClaimPosting *postings = palloc0(sizeof(ClaimPosting) * Max(p->n_claims, 1));

	for (int i = 0; i < p->n_claims; i++)
	{
		const X835Claim *c = &p->claims[i];
		const X835Transaction *t = &p->transactions[c->transaction];
		ClaimPosting *cp = &postings[i];

		cp->claim = c;
		cp->responsibility = x835_patient_responsibility(c);
		cp->outcome = "none";
		if (cp->responsibility == 0)
			continue;
		if (!valid_patient_id(c->patient_control))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("835 segment %d (CLP): CLP01 \"%s\" cannot be a patient_id", c->segment,
							c->patient_control),
					 errdetail("A patient_id is 1 to 64 letters, digits and _ . : - starting with a letter or digit. Nothing was posted."),
					 errhint("The PM system must send its patient_id as the patient control number (CLP01).")));
		cp->external_id = psprintf("835:%s:%s:%d", t->trace,
								   c->payer_claim_id ? c->payer_claim_id : c->patient_control, c->occurrence);
		if (strlen(cp->external_id) > X835_EXTERNAL_ID_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("835 segment %d (CLP): the trace and claim numbers are too long for a ledger external_id",
							c->segment),
					 errdetail("External ids are at most %d characters. Nothing was posted.", X835_EXTERNAL_ID_MAX)));
		cp->kind = cp->responsibility > 0 ? "charge" : "adjustment";
		cp->outcome = cp->kind;
	}
	for (int w = 0; w < p->n_warnings; w++)
	{
		int			ci = p->warnings[w].claim;

		if (ci >= 0 && ci < p->n_claims)
		{
			if (postings[ci].n_warnings++ == 0)
				postings[ci].first_warning = p->warnings[w].message;
		}
	}
	return postings;
}

/* Entries already posted: identical ones become duplicates, different ones an error */
static void
match_existing(const char *practice_id, ClaimPosting *postings, int n)
{
	List	   *keys = NIL;
	Datum		args[2];
	HASHCTL		ctl;
	HTAB	   *existing;

	for (int i = 0; i < n; i++)
		if (postings[i].external_id)
			keys = lappend(keys, postings[i].external_id);
	if (keys == NIL)
		return;
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = text_array(keys);
	if (SPI_execute_plan(existing_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the ledger failed");
	if (SPI_processed == 0)
		return;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = X835_EXTERNAL_ID_MAX + 1;
	ctl.entrysize = sizeof(ExistingEntry);
	ctl.hcxt = CurrentMemoryContext;
	existing = hash_create("collect 835 existing entries", Max(SPI_processed, 16), &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *ext = SPI_getvalue(row, desc, 1);
		bool		isnull;
		ExistingEntry *e;

		if (strlen(ext) > X835_EXTERNAL_ID_MAX)
			continue;
		e = hash_search(existing, ext, HASH_ENTER, NULL);
		e->patient_id = SPI_getvalue(row, desc, 2);
		e->kind = SPI_getvalue(row, desc, 3);
		e->amount = numeric_to_cents(SPI_getbinval(row, desc, 4, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		ClaimPosting *cp = &postings[i];
		ExistingEntry *e;

		if (cp->external_id == NULL)
			continue;
		e = hash_search(existing, cp->external_id, HASH_FIND, NULL);
		if (e == NULL)
			continue;
		if (strcmp(e->patient_id, cp->claim->patient_control) != 0 || strcmp(e->kind, cp->kind) != 0 ||
			e->amount != Abs(cp->responsibility))
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("835 segment %d (CLP): ledger entry \"%s\" was already posted with different values",
							cp->claim->segment, cp->external_id),
					 errdetail("Posted: %s %s for patient \"%s\"; this file: %s %s for patient \"%s\". Nothing was posted.",
							   e->kind, cents_to_cstring(e->amount), e->patient_id, cp->kind,
							   cents_to_cstring(Abs(cp->responsibility)), cp->claim->patient_control),
					 errhint("A payer corrects a claim with a reversal (CLP02 = 22) and a new claim, not by resending it.")));
		cp->outcome = "duplicate";	/* not inserted again */
	}
}

/* Create the patients the postings need and do not exist yet */
static void
create_patients(const char *practice_id, ClaimPosting *postings, int n)
{
	List	   *ids = NIL,
			   *firsts = NIL,
			   *lasts = NIL;
	Datum		args[4];
	HASHCTL		ctl;
	HTAB	   *created;

	for (int i = 0; i < n; i++)
		if (to_insert(&postings[i]))
		{
			ids = lappend(ids, (void *) postings[i].claim->patient_control);
			firsts = lappend(firsts, (void *) postings[i].claim->first_name);
			lasts = lappend(lasts, (void *) postings[i].claim->last_name);
		}
	if (ids == NIL)
		return;
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = text_array(ids);
	args[2] = text_array(firsts);
	args[3] = text_array(lasts);
	if (SPI_execute_plan(patient_plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "creating patients failed");
	if (SPI_processed == 0)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = 65;
	ctl.entrysize = 65;
	ctl.hcxt = CurrentMemoryContext;
	created = hash_create("collect 835 created patients", Max(SPI_processed, 16), &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 r = 0; r < SPI_processed; r++)
		hash_search(created, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1), HASH_ENTER, NULL);
	for (int i = 0; i < n; i++)
		if (to_insert(&postings[i]) &&
			hash_search(created, postings[i].claim->patient_control, HASH_FIND, NULL) != NULL)
			postings[i].patient_created = true;
}

static char *
claim_note(const X835Claim *c, const X835Transaction *t)
{
	return psprintf("835 %s; payer claim %s; trace %s%s%s",
					x835_status_label(c->status),
					c->payer_claim_id ? c->payer_claim_id : "(none)", t->trace,
					t->payer_name ? "; payer " : "", t->payer_name ? t->payer_name : "");
}

static void
post_entries(const char *practice_id, const char *timezone, Datum posted_at, bool posted_at_null,
			 const X835Parse *p, ClaimPosting *postings)
{
	List	   *cols[10] = {NIL};
	Datum		args[13];
	char		nulls[13];
	int			n = 0;

	for (int i = 0; i < p->n_claims; i++)
	{
		ClaimPosting *cp = &postings[i];
		const X835Claim *c = cp->claim;
		const X835Transaction *t = &p->transactions[c->transaction];
		int			remit = t->production_date ? t->production_date : t->payment_date;

		if (!to_insert(cp))
			continue;
		cols[0] = lappend(cols[0], (void *) c->patient_control);
		cols[1] = lappend(cols[1], cp->external_id);
		cols[2] = lappend(cols[2], (void *) cp->kind);
		cols[3] = lappend(cols[3], cents_to_cstring(Abs(cp->responsibility)));
		cols[4] = lappend(cols[4], date_text(remit));
		cols[5] = lappend(cols[5], date_text(c->service_date));
		cols[6] = lappend(cols[6], (void *) c->patient_control);
		cols[7] = lappend(cols[7], c->has_amounts && c->billed >= 0 ? cents_to_cstring(c->billed) : NULL);
		cols[8] = lappend(cols[8], c->has_amounts && c->paid >= 0 ? cents_to_cstring(c->paid) : NULL);
		cols[9] = lappend(cols[9], claim_note(c, t));
		n++;
	}
	if (n == 0)
		return;
	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = posted_at;
	nulls[1] = posted_at_null ? 'n' : ' ';
	args[2] = CStringGetTextDatum(timezone);
	for (int c = 0; c < 10; c++)
		args[3 + c] = text_array(cols[c]);
	if (SPI_execute_plan(ledger_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "posting to the ledger failed");
}

/* ------------------------------------------------------------ result */

typedef struct ResultRef
{
	int			segment;
	int			order;			/* payment, claim, provider adjustment, warning */
	int			index;
} ResultRef;

static int
compare_refs(const void *a, const void *b)
{
	const ResultRef *x = a,
			   *y = b;

	if (x->segment != y->segment)
		return x->segment < y->segment ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

#define RESULT_COLUMNS 11

static void
emit(ReturnSetInfo *rsinfo, int segment, const char *record, const char *patient, const char *payer_claim,
	 const char *status, const Cents *billed, const Cents *paid, const Cents *responsibility,
	 const char *posted, const char *external_id, const char *note)
{
	Datum		values[RESULT_COLUMNS];
	bool		nulls[RESULT_COLUMNS];
	const char *texts[RESULT_COLUMNS] = {NULL, record, patient, payer_claim, status, NULL, NULL, NULL,
	posted, external_id, note};
	const Cents *money[3] = {billed, paid, responsibility};

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(segment);
	for (int i = 1; i < RESULT_COLUMNS; i++)
	{
		if (i >= 5 && i <= 7)
		{
			nulls[i] = money[i - 5] == NULL;
			if (!nulls[i])
				values[i] = cents_to_numeric(*money[i - 5]);
			continue;
		}
		nulls[i] = texts[i] == NULL;
		if (!nulls[i])
			values[i] = CStringGetTextDatum(texts[i]);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static void
emit_results(ReturnSetInfo *rsinfo, const X835Parse *p, const ClaimPosting *postings)
{
	int			n = p->n_transactions + p->n_claims + p->n_adjustments + p->n_warnings;
	ResultRef  *refs = palloc(sizeof(ResultRef) * Max(n, 1));
	int			k = 0;

	for (int i = 0; i < p->n_transactions; i++)
		refs[k++] = (ResultRef) {p->transactions[i].segment, 0, i};
	for (int i = 0; i < p->n_claims; i++)
		refs[k++] = (ResultRef) {p->claims[i].segment, 1, i};
	for (int i = 0; i < p->n_adjustments; i++)
		refs[k++] = (ResultRef) {p->adjustments[i].segment, 2, i};
	for (int i = 0; i < p->n_warnings; i++)
		if (p->warnings[i].claim < 0)
			refs[k++] = (ResultRef) {p->warnings[i].segment, 3, i};
	qsort(refs, k, sizeof(ResultRef), compare_refs);

	for (int r = 0; r < k; r++)
	{
		int			i = refs[r].index;

		if ((r & 255) == 255)
			CHECK_FOR_INTERRUPTS();
		if (refs[r].order == 0)
		{
			const X835Transaction *t = &p->transactions[i];

			emit(rsinfo, t->segment, "payment", NULL, NULL, NULL, NULL, &t->total_paid, NULL, NULL, NULL,
				 psprintf("ST %s (%s): %d claims, trace %s%s%s", t->control, t->version ? t->version : "version unknown",
						  t->n_claims, t->trace, t->payer_name ? ", payer " : "", t->payer_name ? t->payer_name : ""));
		}
		else if (refs[r].order == 1)
		{
			const ClaimPosting *cp = &postings[i];
			const X835Claim *c = cp->claim;
			StringInfoData note;
			Cents		resp = cp->responsibility;

			initStringInfo(&note);
			if (c->status == X835_STATUS_DENIED)
				appendStringInfoString(&note, resp != 0 ? "denied; the patient owes the CAS PR amount" :
									   "denied; no CAS PR: the patient owes nothing");
			else if (c->status == X835_STATUS_REVERSAL)
				appendStringInfoString(&note, resp < 0 ? "reversal; the patient responsibility is taken back" :
									   "reversal; no patient responsibility to take back");
			else if (c->status == X835_STATUS_PREDETERMINATION)
				appendStringInfoString(&note, "predetermination only; nothing is owed yet");
			else if (resp < 0)
				appendStringInfoString(&note, "negative patient responsibility: credited");
			else if (resp == 0)
				appendStringInfoString(&note, "no patient responsibility");
			if (c->group_total[X835_GROUP_CR] != 0)
				appendStringInfo(&note, "%sCAS CR correction/reversal %s", note.len ? "; " : "",
								 cents_to_cstring(c->group_total[X835_GROUP_CR]));
			if (cp->patient_created)
				appendStringInfo(&note, "%spatient created from NM1*QC", note.len ? "; " : "");
			if (strcmp(cp->outcome, "duplicate") == 0)
				appendStringInfo(&note, "%salready posted by an earlier import", note.len ? "; " : "");
			if (cp->n_warnings > 0)
				appendStringInfo(&note, "%s%d warning%s: %s", note.len ? "; " : "", cp->n_warnings,
								 cp->n_warnings > 1 ? "s, first" : "", cp->first_warning);
			emit(rsinfo, c->segment, "claim", c->patient_control, c->payer_claim_id,
				 x835_status_label(c->status), &c->billed, &c->paid, &resp, cp->outcome,
				 cp->external_id, note.len ? note.data : NULL);
		}
		else if (refs[r].order == 2)
		{
			const X835ProviderAdjustment *a = &p->adjustments[i];
			Cents		effect = -a->amount;

			emit(rsinfo, a->segment, "provider_adjustment", NULL, a->reference, a->reason, NULL, &effect, NULL,
				 "none", NULL,
				 psprintf("PLB %s%s%s %s from provider %s: between payer and provider, posted to no patient",
						  a->reason, a->reference ? ":" : "", a->reference ? a->reference : "",
						  cents_to_cstring(a->amount), a->provider));
		}
		else
			emit(rsinfo, p->warnings[i].segment, "warning", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				 p->warnings[i].message);
	}
}

/*
 * collect.import_835(practice_id text, contents text, posted_at timestamptz DEFAULT NULL)
 * RETURNS TABLE(segment int, record text, patient_id text, payer_claim_id text,
 *               claim_status text, billed numeric, insurance_paid numeric,
 *               patient_responsibility numeric, posted text, external_id text, note text)
 */
Datum
import_835(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *practice_id;
	text	   *contents;
	char	   *timezone;
	MemoryContext parse_ctx;
	X835Parse	parsed;
	ClaimPosting *postings;
	Datum		arg;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("import_835 needs a practice_id and the file contents")));
	InitMaterializedSRF(fcinfo, 0);
	practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	contents = PG_GETARG_TEXT_PP(1);

	SPI_connect();
	x835_prepare_plans();
	arg = CStringGetTextDatum(practice_id);
	if (SPI_execute_plan(practice_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading collect.practice failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("practice \"%s\" does not exist", practice_id),
				 errhint("Create it in collect.practice first.")));
	timezone = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	/* read the whole file before touching anything */
	parse_ctx = AllocSetContextCreate(CurrentMemoryContext, "collect 835 parse", ALLOCSET_DEFAULT_SIZES);
	if (!x835_parse(VARDATA_ANY(contents), VARSIZE_ANY_EXHDR(contents), x835_palloc, parse_ctx, &parsed))
		x835_malformed(&parsed);
	CHECK_FOR_INTERRUPTS();

	postings = plan_postings(&parsed);
	match_existing(practice_id, postings, parsed.n_claims);
	create_patients(practice_id, postings, parsed.n_claims);
	post_entries(practice_id, timezone, PG_GETARG_DATUM(2), PG_ARGISNULL(2), &parsed, postings);

	/* the tuplestore copies each row out of the SPI memory freed below */
	emit_results(rsinfo, &parsed, postings);
	SPI_finish();
	return (Datum) 0;
}
