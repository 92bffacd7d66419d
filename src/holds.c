/*
 * holds.c: what each kind of legal hold blocks, which hold is in force at
 * a moment, the eligibility windows of good-faith-estimate disputes and
 * financial-assistance applications, and the extraordinary-action gates
 * (agency placement, credit reporting). Pure: facts in a struct, nothing
 * here reads the database or the clock.
 */
#include "collect.h"

#include "holds.h"

static const HoldKindInfo hold_kinds[] = {
	{"dispute", false, true,
	"the patient disputes the balance; outreach waits until it is resolved",
	"FDCPA 15 U.S.C. 1692g(b); Reg F 12 CFR 1006.34"},
	{"validation", false, true,
	"the patient disputed in writing or asked for the original creditor inside the validation period; "
	"collection waits until verification is sent", "FDCPA 15 U.S.C. 1692g(b); Reg F 12 CFR 1006.34(c)(3)"},
	{"assistance", false, true,
	"a financial-assistance application is pending; collection and placement wait for the decision",
	"IRS 501(r)(6), 26 CFR 1.501(r)-6(c)"},
	{"gfe_dispute", false, true,
	"the patient disputes a bill that is $400 or more above the good-faith estimate; "
	"the bill may not go to collection while the dispute is pending", "No Surprises Act, 45 CFR 149.620"},
	{"bankruptcy", true, true,
	"a bankruptcy notice was received; the automatic stay stops every collection contact",
	"11 U.S.C. 362(a)"},
	{"deceased", true, true,
	"the patient has died; no messages go to the patient, the estate is handled by staff",
	"FDCPA 15 U.S.C. 1692c(d); Reg F 12 CFR 1006.2(e)"},
};

const HoldKindInfo *
hold_kind_info(const char *kind)
{
	for (size_t i = 0; i < lengthof(hold_kinds); i++)
		if (strcmp(hold_kinds[i].kind, kind) == 0)
			return &hold_kinds[i];
	return NULL;
}

bool
hold_kind_valid(const char *kind)
{
	return kind != NULL && hold_kind_info(kind) != NULL;
}

/* the first hold in force at `at` that blocks this kind of message, or NULL */
const LegalHold *
hold_active(const LegalHold *holds, int n, TimestampTz at, bool notice)
{
	for (int i = 0; i < n; i++)
	{
		const HoldKindInfo *k = hold_kind_info(holds[i].kind);

		if (k == NULL || holds[i].starts_at > at || holds[i].ends_at <= at)
			continue;
		if (notice && !k->blocks_notices)
			continue;
		return &holds[i];
	}
	return NULL;
}

/* NULL when the dispute qualifies, else the plain reason it does not */
const char *
gfe_dispute_ineligible(Cents billed, Cents estimate, DateADT bill_date, DateADT today)
{
	if (billed - estimate < GFE_DISPUTE_MIN_GAP_CENTS)
		return "the bill is less than $400.00 above the good-faith estimate";
	if (today > bill_date + GFE_DISPUTE_WINDOW_DAYS)
		return "the dispute came more than 120 days after the bill";
	if (today < bill_date)
		return "the dispute is dated before the bill";
	return NULL;
}

bool
assistance_window_open(bool nonprofit_hospital, TimestampTz first_statement_at, TimestampTz at)
{
	if (!nonprofit_hospital)
		return false;
	return first_statement_at == DT_NOBEGIN ||
		at < first_statement_at + (TimestampTz) (ASSISTANCE_APPLICATION_DAYS + 1) * USECS_PER_DAY;
}

EcaAction
eca_action_from_name(const char *name)
{
	if (strcmp(name, "placement") == 0)
		return ECA_PLACEMENT;
	if (strcmp(name, "credit_reporting") == 0)
		return ECA_CREDIT_REPORTING;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown extraordinary collection action \"%s\"", name),
			 errhint("Use placement or credit_reporting.")));
}

static EcaDecision
eca_block(EcaDecision d, const char *rule, const char *reason, const char *source)
{
	d.allowed = false;
	d.rule = rule;
	d.reason = reason;
	d.source = source;
	return d;
}

/*
 * The gates, in the order an auditor reads them; the first that fails is
 * named. Day counts are whole 24-hour days from the first statement.
 */
EcaDecision
eca_decide(const EcaFacts *f)
{
	EcaDecision d = {true, NULL, NULL, NULL, DT_NOEND};
	bool		credit = f->action == ECA_CREDIT_REPORTING;

	if (f->first_statement_at != DT_NOBEGIN)
	{
		d.earliest = f->first_statement_at + (TimestampTz) ECA_MIN_DAYS_AFTER_STATEMENT * USECS_PER_DAY;
		if (credit)
			d.earliest = f->first_statement_at + (TimestampTz) ECA_CREDIT_MIN_DAYS * USECS_PER_DAY;
	}
	if (f->notice_sent_at != DT_NOBEGIN)
		d.earliest = Max(d.earliest == DT_NOEND ? DT_NOBEGIN : d.earliest,
						 f->notice_sent_at + (TimestampTz) ECA_NOTICE_DAYS_BEFORE * USECS_PER_DAY);

	if (f->open_hold != NULL)
		return eca_block(d, "eca_hold_open", psprintf("a %s hold (or block) is open", f->open_hold),
						 "IRS 501(r)(6); FDCPA 15 U.S.C. 1692g(b); 11 U.S.C. 362");
	if (credit && f->balance < ECA_CREDIT_MIN_CENTS)
		return eca_block(d, "eca_credit_min_balance", "medical debts under $500.00 are not reported to credit bureaus",
						 "CFPB / Equifax, Experian, TransUnion medical-debt policy (2023)");
	if (f->first_statement_at == DT_NOBEGIN)
		return eca_block(d, "eca_no_statement", "no statement has been sent yet",
						 "IRS 501(r)(6), 26 CFR 1.501(r)-6(a)");
	if (f->at < f->first_statement_at + (TimestampTz) ECA_MIN_DAYS_AFTER_STATEMENT * USECS_PER_DAY)
		return eca_block(d, "eca_120_days", "less than 120 days since the first statement",
						 "IRS 501(r)(6), 26 CFR 1.501(r)-6(a)");
	if (credit && f->at < f->first_statement_at + (TimestampTz) ECA_CREDIT_MIN_DAYS * USECS_PER_DAY)
		return eca_block(d, "eca_credit_one_year", "less than one year since the first statement",
						 "Equifax, Experian, TransUnion medical-debt policy (2022): one year before reporting");
	if (f->notice_sent_at == DT_NOBEGIN)
		return eca_block(d, "eca_notice_missing", "no written notice of the planned action has been sent",
						 "IRS 501(r)(6), 26 CFR 1.501(r)-6(c)(2)");
	if (f->at < f->notice_sent_at + (TimestampTz) ECA_NOTICE_DAYS_BEFORE * USECS_PER_DAY)
		return eca_block(d, "eca_notice_30_days", "the written notice was sent less than 30 days ago",
						 "IRS 501(r)(6), 26 CFR 1.501(r)-6(c)(2)");
	return d;
}
