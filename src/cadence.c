/*
 * cadence.c: the dunning state machine of one account. From the account's
 * facts, the practice policy and as_of it decides one thing: wait (until
 * when), queue a message (which channel and template), open a call task,
 * skip a step that has no channel, or open a placement review. Pure: no
 * SPI, no clock; tick.c gathers the facts and applies the decision.
 *
 * The rules, in order: nothing below the minimum balance; plans,
 * placements and reviews are left alone; holds (dispute, assistance,
 * hardship, pause) stop the cadence; a payment, reply or conversation in
 * the last recent_touch_quiet_hours postpones the next touch; a no-show
 * lets the rebooking message go first; then the next step of the policy
 * cadence on its day, with the channel chosen by balance (text first below
 * text_first_below, e-mail first above email_first_above), mail moved to
 * other channels after returned mail, calls only after two unanswered
 * digital attempts, gentler timing for patients who always pay within 30
 * days, shorter gaps after 60 days without a response, wording gentle or
 * firm by the propensity score (by those two histories without one), and
 * the channel bandit's pick in place of the step's channel once its segment
 * has enough evidence (tick.c draws it); when the cadence has run out, a placement review no
 * earlier than placement_review_after_days after the due date and 120 days
 * after the first statement.
 */
#include "collect.h"

#include "cadence.h"

#define NONE DT_NOBEGIN
#define GENTLE_EXTRA_DAYS 3

bool
cadence_is_gentle(const CadenceFacts *f)
{
	return f->paid_on_time > 0 && f->paid_late == 0;
}

bool
cadence_is_firm(const CadenceFacts *f)
{
	return !cadence_is_gentle(f) && f->has_anchor && f->today - f->anchor >= 60 &&
		(f->last_response_at == NONE || f->last_response_at < f->as_of - 60 * USECS_PER_DAY);
}

/* the local date step i falls due */
DateADT
cadence_step_date(const CadenceFacts *f, int i)
{
	const CadenceStep *steps = f->policy->cadence;
	int			day = steps[i].day + (cadence_is_gentle(f) ? GENTLE_EXTRA_DAYS : 0);
	DateADT		date = f->anchor + day;

	if (i > 0 && f->last_step_date != 0)
	{
		int			gap = steps[i].day - steps[i - 1].day;

		if (cadence_is_firm(f))
			return f->last_step_date + Max(1, (gap * 2 + 2) / 3);
		date = Max(date, f->last_step_date + Max(gap, 1));
	}
	return date;
}

static bool
is_digital(const char *channel)
{
	return strcmp(channel, "sms") == 0 || strcmp(channel, "email") == 0;
}

static int
first_digital_step(const Policy *p)
{
	for (int i = 0; i < p->n_cadence; i++)
		if (is_digital(p->cadence[i].channel))
			return i;
	return -1;
}

static void
set_step(CadenceDecision *d, const char *channel, const char *template_name)
{
	strlcpy(d->channel, channel, sizeof(d->channel));
	strlcpy(d->template_name, template_name, sizeof(d->template_name));
}

/*
 * A step's wording moved to another channel: the first text and the first
 * e-mail trade places, texts get the short reminder, letters the
 * statement, a call step becomes a reminder and a call uses the call
 * script; e-mail carries the other templates as they are.
 */
static const char *
template_on(const char *channel, const char *from_channel, const char *template_name)
{
	if (strcmp(channel, from_channel) == 0)
		return template_name;
	if (strcmp(channel, "call_task") == 0)
		return "call";
	if (strcmp(channel, "sms") == 0)
		return strcmp(template_name, "first_email") == 0 ? "first_text" : "reminder";
	if (strcmp(channel, "letter") == 0)
		return "statement";
	if (strcmp(from_channel, "call_task") == 0 || strcmp(from_channel, "voice") == 0)
		return "reminder";
	return strcmp(template_name, "first_text") == 0 ? "first_email" : template_name;
}

/* substitute channel for the one decided so far, carrying the wording over */
static void
move_step(CadenceDecision *d, const char *channel)
{
	set_step(d, channel, template_on(channel, d->channel, d->template_name));
}

/*
 * The channel for step i, substituting when the cadence's channel cannot be
 * used. false: no channel at all (the step is skipped). The bandit's pick
 * was drawn among the channels the rules allow, so it needs no substitute.
 */
static bool
choose_channel(const CadenceFacts *f, int i, CadenceDecision *d)
{
	const CadenceStep *s = &f->policy->cadence[i];
	bool		sms_first = false,
				email_first = false;

	set_step(d, s->channel, s->template_name);
	if (f->learned_channel != NULL)
	{
		move_step(d, f->learned_channel);
		return true;
	}
	if (i == first_digital_step(f->policy))
	{
		sms_first = f->balance < f->policy->text_first_below;
		email_first = f->balance > f->policy->email_first_above;
		if (sms_first && f->can_sms)
			set_step(d, "sms", "first_text");
		else if (email_first && f->can_email)
			set_step(d, "email", "first_email");
	}

	if (strcmp(d->channel, "letter") == 0 && !f->can_letter)
	{
		/* returned mail or no address: the statement goes digital */
		if (f->can_email)
			move_step(d, "email");
		else if (f->can_sms)
			move_step(d, "sms");
		else
			return false;
	}
	else if (strcmp(d->channel, "sms") == 0 && !f->can_sms)
	{
		if (f->can_email)
			move_step(d, "email");
		else if (f->can_letter)
			move_step(d, "letter");
		else
			return false;
	}
	else if (strcmp(d->channel, "email") == 0 && !f->can_email)
	{
		if (f->can_sms)
			move_step(d, "sms");
		else if (f->can_letter)
			move_step(d, "letter");
		else
			return false;
	}
	else if (strcmp(d->channel, "voice") == 0 || strcmp(d->channel, "call_task") == 0)
	{
		bool		digital_possible = f->can_sms || f->can_email;

		if (digital_possible && f->failed_digital < 2)
		{
			/* phone escalation only after two unanswered digital attempts */
			move_step(d, f->can_sms ? "sms" : "email");
		}
		else if (strcmp(d->channel, "voice") == 0 && f->can_voice)
			set_step(d, "voice", s->template_name);
		else if (!f->can_call)
			return false;
		else
			set_step(d, "call_task", s->template_name);
	}
	return true;
}

static void
wait_until(CadenceDecision *d, TimestampTz wake, const char *reason)
{
	d->action = CA_WAIT;
	d->wake_at = wake;
	d->reason = reason;
}

/* when the cadence has run out: placement review, or when it may come */
static void
after_cadence(const CadenceFacts *f, LocalTimeFn local_time, void *arg, CadenceDecision *d)
{
	TimestampTz earliest;

	if (f->first_statement_at == NONE)
	{
		wait_until(d, NONE, "cadence complete; no statement was sent, so no placement review");
		return;
	}
	earliest = local_time(f->anchor + f->policy->placement_review_after_days, f->policy->contact_hour_start, arg);
	earliest = Max(earliest, f->first_statement_at + (TimestampTz) 120 * USECS_PER_DAY);
	if (f->placement_hold_until != NONE)
		earliest = Max(earliest, f->placement_hold_until);
	if (f->as_of < earliest)
	{
		wait_until(d, earliest, "cadence complete; placement review not yet allowed");
		return;
	}
	d->action = CA_PLACEMENT_REVIEW;
	d->state = "placement_review";
	d->wake_at = NONE;
	d->reason = "cadence complete, 120 days after the first statement";
}

void
cadence_decide(const CadenceFacts *f, LocalTimeFn local_time, void *arg, CadenceDecision *d)
{
	const Policy *p = f->policy;
	TimestampTz touch = NONE;
	DateADT		due;

	memset(d, 0, sizeof(*d));
	d->state = f->state;
	d->step_index = f->step;
	d->wake_at = NONE;

	if (f->balance < Max(p->min_outreach_balance, 1))
	{
		d->state = f->balance <= 0 ? "closed" : strcmp(f->state, "closed") == 0 ? "current" : f->state;
		wait_until(d, NONE, "nothing (or less than the minimum) is owed");
		return;
	}
	if (strcmp(f->state, "on_plan") == 0 || strcmp(f->state, "placed") == 0 ||
		strcmp(f->state, "placement_review") == 0)
	{
		wait_until(d, NONE, "the account is on a plan, placed or in review");
		return;
	}
	if (f->dispute_open)
	{
		d->state = "disputed";
		wait_until(d, NONE, "open dispute: no outreach until it is resolved");
		return;
	}
	if (f->legal_hold != NULL)
	{
		d->state = "paused";
		wait_until(d, f->legal_hold_until, f->legal_hold);
		return;
	}
	if (f->assistance_open)
	{
		d->state = "paused";
		wait_until(d, NONE, "financial-assistance request: collection paused");
		return;
	}
	if (f->hardship_until != NONE && f->hardship_until > f->as_of)
	{
		d->state = "hardship";
		wait_until(d, f->hardship_until, "hardship support in force");
		return;
	}
	if (f->paused_until != NONE && f->paused_until > f->as_of)
	{
		d->state = "paused";
		wait_until(d, f->paused_until, "paused");
		return;
	}
	d->state = strcmp(f->state, "escalated") == 0 ? "escalated" : "in_cadence";

	touch = Max(Max(f->last_payment_at, f->last_response_at), f->last_conversation_at);
	if (touch != NONE && touch + (TimestampTz) p->recent_touch_quiet_hours * USECS_PER_HOUR > f->as_of)
	{
		wait_until(d, touch + (TimestampTz) p->recent_touch_quiet_hours * USECS_PER_HOUR,
				   "a recent payment, reply or conversation postpones the next touch");
		d->cancel_queued = true;
		return;
	}
	if (f->no_show_until != NONE && f->no_show_until > f->as_of)
	{
		wait_until(d, f->no_show_until, "after a no-show the rebooking message goes first");
		return;
	}
	if (!f->has_anchor)
	{
		wait_until(d, NONE, "no due date to run a cadence from");
		return;
	}
	if (f->step >= p->n_cadence)
	{
		after_cadence(f, local_time, arg, d);
		return;
	}

	due = cadence_step_date(f, f->step);
	if (f->today < due)
	{
		wait_until(d, local_time(due, p->contact_hour_start, arg), "next cadence step not yet due");
		return;
	}
	if (!choose_channel(f, f->step, d))
	{
		d->action = CA_SKIP_STEP;
		d->reason = "no usable channel for this step";
		d->wake_at = f->as_of;	/* re-decide at once for the next step */
		return;
	}
	if (strcmp(d->channel, "call_task") == 0)
	{
		d->action = CA_CALL_TASK;
		d->state = "escalated";
		d->reason = "cadence call step after unanswered digital attempts";
	}
	else
	{
		d->action = CA_MESSAGE;
		d->reason = "cadence step";
		if (is_digital(d->channel) && f->appointment_at != NONE && f->appointment_at > f->as_of &&
			f->appointment_at < f->as_of + 14 * USECS_PER_DAY)
			set_step(d, d->channel, "appointment_and_balance");	/* one message, not two */
		else if (f->has_risk)
			strlcat(d->template_name, f->risk_score >= RISK_FIRM_BELOW ? "_gentle" : "_firm",
					sizeof(d->template_name));
		else if (cadence_is_gentle(f))
			strlcat(d->template_name, "_gentle", sizeof(d->template_name));
		else if (cadence_is_firm(f))
			strlcat(d->template_name, "_firm", sizeof(d->template_name));
	}

	/* when to look again: the next step's day (or the placement review) */
	{
		CadenceFacts next = *f;
		CadenceDecision nd;

		next.step = f->step + 1;
		next.last_step_date = f->today;
		next.last_payment_at = next.last_response_at = next.last_conversation_at = NONE;
		next.no_show_until = NONE;
		if (d->action == CA_MESSAGE && strcmp(d->channel, "letter") == 0 && next.first_statement_at == NONE)
			next.first_statement_at = f->as_of;
		if (next.step < p->n_cadence)
			d->wake_at = local_time(Max(cadence_step_date(&next, next.step), f->today + 1),
									p->contact_hour_start, arg);
		else
		{
			next.state = d->state;
			after_cadence(&next, local_time, arg, &nd);
			d->wake_at = nd.action == CA_PLACEMENT_REVIEW ? f->as_of : nd.wake_at;
		}
	}
}
