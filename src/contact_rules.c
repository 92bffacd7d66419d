/*
 * contact_rules.c: may this message go out on this channel at this time?
 * The hard rules of DESIGN.md as a table evaluated in order; the first rule
 * that blocks wins and names itself. Pure: facts come in a struct, nothing
 * here reads the database or the clock. To add a rule, add a predicate and
 * a row to contact_rules[] (compliance presets do exactly that).
 */
#include "collect.h"

#include "contact_rules.h"

#define CH_SMS		0x01
#define CH_EMAIL	0x02
#define CH_LETTER	0x04
#define CH_VOICE	0x08
#define CH_CALLTASK	0x10
#define CH_ALL		0x1f
#define CH_CALLS	(CH_VOICE | CH_CALLTASK)

/* which kinds of message a rule applies to */
#define K_COLLECTION	0x01
#define K_NOTICE		0x02
#define K_CONFIRM		0x04
#define K_ALL			0x07

typedef bool (*ContactPredicate) (const ContactFacts *f);

typedef struct ContactRule
{
	const char *name;
	unsigned	channels;
	unsigned	kinds;
	ContactPredicate blocks;
	const char *reason;
	const char *source;
} ContactRule;

static bool
no_address(const ContactFacts *f)
{
	return !f->has_address;
}

static bool
no_consent(const ContactFacts *f)
{
	return !f->consent;
}

static bool
opted_out(const ContactFacts *f)
{
	return f->opted_out;
}

static bool
outside_hours(const ContactFacts *f)
{
	return f->local_hour < f->hour_start || f->local_hour >= f->hour_end;
}

static bool
below_minimum(const ContactFacts *f)
{
	return f->balance < Max(f->min_outreach_balance, 1);
}

static bool
dispute(const ContactFacts *f)
{
	return f->dispute_open;
}

static bool
assistance(const ContactFacts *f)
{
	return f->assistance_open;
}

static bool
hardship(const ContactFacts *f)
{
	return f->hardship_open;
}

static bool
legal_hold(const ContactFacts *f)
{
	return f->legal_hold;
}

static bool
placed(const ContactFacts *f)
{
	return f->placed;
}

static bool
paused(const ContactFacts *f)
{
	return f->paused_until != DT_NOBEGIN && f->paused_until > f->at;
}

static bool
call_cap(const ContactFacts *f)
{
	return f->calls_7d >= f->call_max_7d;
}

static bool
after_conversation(const ContactFacts *f)
{
	return f->last_conversation_at != DT_NOBEGIN &&
		f->at < f->last_conversation_at + (TimestampTz) f->call_quiet_days * USECS_PER_DAY;
}

static bool
touch_cap(const ContactFacts *f)
{
	return f->touch_max_7d > 0 && f->touches_7d >= f->touch_max_7d;
}

static bool
confirmed_already(const ContactFacts *f)
{
	return f->confirmations_sent > 0;
}

static bool
other_channel(const ContactFacts *f)
{
	return f->only_channel != NULL && strcmp(f->only_channel, f->channel) != 0 &&
		!(strcmp(f->only_channel, "voice") == 0 && strcmp(f->channel, "call_task") == 0);
}

/*
 * Contact-frequency presets, one row per policy state_preset. The numbers
 * are ceilings: contact_preset_apply takes the stricter of the preset and
 * the practice policy. California's Rosenthal Act (Cal. Civ. Code
 * 1788.17) applies the federal rules to a creditor collecting its own
 * debts, so the practice itself is bound by Reg F's numbers there.
 */
static const FrequencyPreset frequency_presets[] = {
	{"federal", 7, 7, 0, "Reg F 12 CFR 1006.14(b)(2)"},
	{"MA", 7, 7, 2, "940 CMR 7.04(1)(f); Reg F 12 CFR 1006.14(b)(2)"},
	{"CA", 7, 7, 0, "Rosenthal Act, Cal. Civ. Code 1788.17; Reg F 12 CFR 1006.14(b)(2)"},
};

static const ContactRule contact_rules[] = {
	{"channel_request", CH_ALL, K_ALL, other_channel,
	"the patient asked to be contacted on another channel only", "HIPAA 45 CFR 164.522(b)"},
	{"confirmation_sent", CH_ALL, K_CONFIRM, confirmed_already,
	"the one confirmation of this opt-out was already sent", "TCPA, 47 CFR 64.1200(a)(10)"},
	{"no_address", CH_ALL, K_ALL, no_address,
	"no phone, e-mail or good postal address for this channel", "contact data"},
	{"no_consent", CH_SMS | CH_VOICE | CH_EMAIL, K_COLLECTION | K_NOTICE, no_consent,
	"the patient has not consented to this channel", "TCPA"},
	{"opted_out", CH_SMS | CH_VOICE | CH_EMAIL | CH_LETTER, K_COLLECTION | K_NOTICE, opted_out,
	"the patient opted out of this channel", "TCPA; Reg F 1006.6(e)"},
	{"quiet_hours", CH_ALL, K_ALL, outside_hours,
	"outside the patient's local contact hours", "Reg F 12 CFR 1006.6(b)(1)(i)"},
	{"balance_paid", CH_ALL, K_COLLECTION, below_minimum,
	"nothing (or less than the minimum) is owed", "policy min_outreach_balance"},
	{"dispute_open", CH_ALL, K_COLLECTION, dispute,
	"an open dispute stops outreach on this balance", "FDCPA; Reg F 1006.34"},
	{"assistance_open", CH_ALL, K_COLLECTION, assistance,
	"a financial-assistance request pauses collection", "IRS 501(r)(6)"},
	{"legal_hold", CH_ALL, K_COLLECTION | K_NOTICE, legal_hold,
	"a legal hold stops all outreach", NULL},
	{"hardship", CH_ALL, K_COLLECTION, hardship,
	"hardship support is in force", "policy hardship_support_months"},
	{"placed", CH_ALL, K_COLLECTION, placed,
	"the balance is placed with an agency", "placement"},
	{"paused", CH_ALL, K_COLLECTION, paused,
	"collection on this account is paused", "account paused_until"},
	{"call_cap_7d", CH_CALLS, K_ALL, call_cap,
	"the call attempts allowed in 7 days are used up", NULL},
	{"call_after_conversation", CH_CALLS, K_ALL, after_conversation,
	"no calls for 7 days after a conversation", NULL},
	{"touch_cap_7d", CH_CALLS | CH_SMS, K_COLLECTION, touch_cap,
	"the calls and texts allowed in 7 days for this debt are used up (Massachusetts: 2)", NULL},
};

static unsigned
channel_bit(const char *channel)
{
	if (strcmp(channel, "sms") == 0)
		return CH_SMS;
	if (strcmp(channel, "email") == 0)
		return CH_EMAIL;
	if (strcmp(channel, "letter") == 0)
		return CH_LETTER;
	if (strcmp(channel, "voice") == 0)
		return CH_VOICE;
	if (strcmp(channel, "call_task") == 0)
		return CH_CALLTASK;
	return 0;
}

bool
channel_is_call(const char *channel)
{
	return (channel_bit(channel) & CH_CALLS) != 0;
}

ContactKind
contact_kind_from_name(const char *step_kind)
{
	if (step_kind == NULL || strcmp(step_kind, "collection") == 0)
		return CK_COLLECTION;
	if (strcmp(step_kind, "notice") == 0)
		return CK_NOTICE;
	if (strcmp(step_kind, "opt_out_confirmation") == 0)
		return CK_OPT_OUT_CONFIRMATION;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown step kind \"%s\"", step_kind),
			 errhint("Use collection, notice or opt_out_confirmation.")));
}

ContactDecision
contact_decide(const ContactFacts *f)
{
	ContactDecision d = {true, NULL, NULL, NULL};
	unsigned	ch = channel_bit(f->channel);
	unsigned	k = f->kind == CK_COLLECTION ? K_COLLECTION : f->kind == CK_NOTICE ? K_NOTICE : K_CONFIRM;

	if (ch == 0)
	{
		d.allowed = false;
		d.rule = "unknown_channel";
		d.reason = "not a patient contact channel";
		d.source = "outbox";
		return d;
	}
	for (size_t i = 0; i < lengthof(contact_rules); i++)
	{
		const ContactRule *r = &contact_rules[i];

		if ((r->channels & ch) && (r->kinds & k) && r->blocks(f))
		{
			d.allowed = false;
			d.rule = r->name;
			d.reason = r->reason;
			d.source = r->source;
			if (r->blocks == legal_hold && f->hold_reason != NULL)
				d.reason = f->hold_reason;
			if (d.source == NULL)
				d.source = r->blocks == legal_hold ? "legal hold (collect.legal_hold)" :
					f->frequency_source ? f->frequency_source : "Reg F 12 CFR 1006.14(b)(2)";
			return d;
		}
	}
	return d;
}

const FrequencyPreset *
frequency_preset(const char *name)
{
	for (size_t i = 0; i < lengthof(frequency_presets); i++)
		if (name != NULL && strcmp(frequency_presets[i].name, name) == 0)
			return &frequency_presets[i];
	return &frequency_presets[0];	/* federal: the floor everywhere */
}

/* the stricter of the preset and the practice's own numbers wins */
void
contact_preset_apply(ContactFacts *f, const char *preset, int policy_call_max, int policy_quiet_days)
{
	const FrequencyPreset *p = frequency_preset(preset);

	f->call_max_7d = Min(p->call_max_7d, policy_call_max);
	f->call_quiet_days = Max(p->call_quiet_days, policy_quiet_days);
	f->touch_max_7d = p->touch_max_7d;
	f->frequency_source = p->source;
}
