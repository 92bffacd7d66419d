/*
 * learn_sim.c: collect.learn_simulate(seed, patients, days), a seeded
 * what-if simulation of the learning loop. Synthetic patients in four
 * segments whose true best contact hour and channel differ; balances arrive
 * over the simulated days; each runs the default five cadence days twice,
 * once with the fixed default channels at 10:00 and once with the learned
 * choices (best_hour_for and Thompson-sampled learn_choose_channel from
 * learn_math.c, the same functions the database calls). Reports how often
 * the learned hour/channel equals each patient's true best at the end and
 * the money collected by both. No SPI, no clock, no tables: everything
 * lives in palloc'd arrays of this call.
 */
#include "collect.h"

#include "utils/jsonb.h"

#include "learn_math.h"

PG_FUNCTION_INFO_V1(learn_simulate);

#define SIM_SEGMENTS 4
#define SIM_CHANNELS 4			/* sms, email, letter, call_task */
#define SIM_TOUCHES 5

static const char *const sim_channel_names[SIM_CHANNELS] = {"sms", "email", "letter", "call_task"};
static const int seg_hour[SIM_SEGMENTS] = {9, 12, 17, 20};
static const int seg_channel[SIM_SEGMENTS] = {0, 1, 2, 3};
static const int cadence_day[SIM_TOUCHES] = {3, 10, 18, 25, 35};
/* the default cadence's channels: sms, letter, email, call_task, letter */
static const int fixed_channel[SIM_TOUCHES] = {0, 2, 1, 3, 2};

typedef struct SimPatient
{
	int			segment;
	int			arrival;		/* day the balance came due */
	int			true_hour;
	int			true_channel;	/* best among the allowed channels */
	int			allowed[SIM_CHANNELS];
	double		pay_prob[SIM_CHANNELS];	/* per touch at the best hour */
	int64		balance;		/* cents */
	double		hour_counts[LEARN_HOURS];
} SimPatient;

typedef struct SimArmUpdate
{
	int			due_day;
	int			segment;
	int			channel;
	int			success;
} SimArmUpdate;

/* The hour a patient answers at: mostly their own hour */
static int
response_hour(LearnRng *rng, int true_hour)
{
	double		u = learn_rng_uniform(rng);

	if (u < 0.7)
		return true_hour;
	if (u < 0.9)
		return true_hour + (learn_rng_uniform(rng) < 0.5 ? -1 : 1);
	return 8 + (int) (learn_rng_uniform(rng) * 13);
}

static double
hour_factor(int touched, int best)
{
	int			d = abs(touched - best);

	return d == 0 ? 1.5 : d == 1 ? 1.2 : 0.8;
}

/*
 * Run one policy over the patients; learned = false is the fixed cadence.
 * Returns cents collected within the horizon; when learned, fills the
 * per-segment arms and hour counts and leaves them for evaluation.
 */
static int64
simulate(SimPatient *pts, int n, int days, bool learned, uint64 seed,
		 ChannelArm arms[SIM_SEGMENTS][SIM_CHANNELS],
		 double seg_counts[SIM_SEGMENTS][LEARN_HOURS], double *touches_out)
{
	LearnRng	rng;
	int			day,
				i,
				n_upd = 0,
				upd_cap = n * SIM_TOUCHES + 1;
	int		   *paid_day = palloc(sizeof(int) * n);
	SimArmUpdate *upd = palloc(sizeof(SimArmUpdate) * upd_cap);
	int64		collected = 0;
	double		touches = 0;

	learn_rng_seed(&rng, seed);
	for (i = 0; i < n; i++)
		paid_day[i] = -1;

	for (day = 0; day < days; day++)
	{
		int			u;

		CHECK_FOR_INTERRUPTS();
		/* touches scored 7 days on become bandit evidence */
		for (u = 0; u < n_upd; u++)
			if (upd[u].due_day == day)
			{
				if (upd[u].success)
					arms[upd[u].segment][upd[u].channel].successes += 1;
				else
					arms[upd[u].segment][upd[u].channel].failures += 1;
			}
		for (i = 0; i < n; i++)
		{
			SimPatient *p = &pts[i];
			int			step,
						ch,
						hour;
			double		prob;

			if (paid_day[i] >= 0 || day < p->arrival)
				continue;
			for (step = 0; step < SIM_TOUCHES; step++)
				if (day - p->arrival == cadence_day[step])
					break;
			if (step == SIM_TOUCHES)
				continue;
			if (learned)
			{
				ChannelArm a[SIM_CHANNELS];

				for (ch = 0; ch < SIM_CHANNELS; ch++)
				{
					a[ch] = arms[p->segment][ch];
					a[ch].allowed = p->allowed[ch];
				}
				ch = learn_choose_channel(a, SIM_CHANNELS, &rng);
				hour = best_hour_for(p->hour_counts, seg_counts[p->segment], 8, 21, 2.0);
				if (hour < 0)
					hour = 10;
			}
			else
			{
				ch = fixed_channel[step];
				hour = 10;
			}
			if (ch < 0 || !p->allowed[ch])
				continue;		/* the rules hold the message back */
			touches += 1;
			prob = p->pay_prob[ch] * hour_factor(hour, p->true_hour);
			if (learned && (ch == 0 || ch == 1) && learn_rng_uniform(&rng) < 0.5)
			{
				/* an open or a reply tells us when they read messages */
				int			h = response_hour(&rng, p->true_hour);

				p->hour_counts[h] += 1;
				seg_counts[p->segment][h] += 1;
			}
			if (learn_rng_uniform(&rng) < prob)
			{
				int			pd = day + (int) (learn_rng_uniform(&rng) * 7);

				paid_day[i] = pd;
				if (pd < days)
					collected += p->balance;
				if (learned)
				{
					int			h = response_hour(&rng, p->true_hour);

					p->hour_counts[h] += 1;
					seg_counts[p->segment][h] += 1;
				}
			}
			if (learned && n_upd < upd_cap)
			{
				upd[n_upd].due_day = day + 7;
				upd[n_upd].segment = p->segment;
				upd[n_upd].channel = ch;
				upd[n_upd].success = paid_day[i] >= 0;
				n_upd++;
			}
		}
	}
	pfree(paid_day);
	pfree(upd);
	*touches_out = touches;
	return collected;
}

static void
make_patients(SimPatient *pts, int n, int days, uint64 seed)
{
	LearnRng	rng;
	int			i,
				ch;

	learn_rng_seed(&rng, seed);
	for (i = 0; i < n; i++)
	{
		SimPatient *p = &pts[i];
		double		best = -1;
		int			k;

		memset(p, 0, sizeof(*p));
		p->segment = i % SIM_SEGMENTS;
		p->arrival = (int) (learn_rng_uniform(&rng) * (days - 5));
		p->true_hour = learn_rng_uniform(&rng) < 0.8 ? seg_hour[p->segment]
			: 8 + (int) (learn_rng_uniform(&rng) * 13);
		p->allowed[0] = learn_rng_uniform(&rng) < 0.85;	/* sms consent */
		p->allowed[1] = learn_rng_uniform(&rng) < 0.75;	/* email consent */
		p->allowed[2] = 1;		/* letters need no consent */
		p->allowed[3] = 1;
		p->balance = 5000 + (int64) (learn_rng_uniform(&rng) * 75000);
		for (ch = 0; ch < SIM_CHANNELS; ch++)
		{
			p->pay_prob[ch] = ch == seg_channel[p->segment] ? 0.20 : 0.04 + 0.01 * ch;
			if (p->allowed[ch] && p->pay_prob[ch] > best)
			{
				best = p->pay_prob[ch];
				p->true_channel = ch;
			}
		}
		/* history from earlier balances: a few past answers */
		for (k = (int) (learn_rng_uniform(&rng) * 3); k > 0; k--)
			p->hour_counts[response_hour(&rng, p->true_hour)] += 1;
	}
}

/* collect.learn_simulate(seed bigint, patients int, days int) RETURNS jsonb */
Datum
learn_simulate(PG_FUNCTION_ARGS)
{
	int64		seed = PG_GETARG_INT64(0);
	int			n = PG_GETARG_INT32(1);
	int			days = PG_GETARG_INT32(2);
	SimPatient *pts,
			   *pts2;
	ChannelArm	arms[SIM_SEGMENTS][SIM_CHANNELS];
	ChannelArm	unused[SIM_SEGMENTS][SIM_CHANNELS];
	double		seg_counts[SIM_SEGMENTS][LEARN_HOURS];
	double		unused_counts[SIM_SEGMENTS][LEARN_HOURS];
	double		touches_l,
				touches_f;
	int64		got_learned,
				got_fixed,
				total = 0;
	int			i,
				hour_ok = 0,
				chan_ok = 0;
	StringInfoData buf;

	if (n < SIM_SEGMENTS || n > 100000 || days < 40 || days > 3650)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("learn_simulate needs 4 to 100000 patients and 40 to 3650 days")));
	pts = palloc(sizeof(SimPatient) * n);
	pts2 = palloc(sizeof(SimPatient) * n);
	make_patients(pts, n, days, (uint64) seed);
	memcpy(pts2, pts, sizeof(SimPatient) * n);
	memset(arms, 0, sizeof(arms));
	memset(unused, 0, sizeof(unused));
	memset(unused_counts, 0, sizeof(unused_counts));
	/* the segment prior starts from the patients' history */
	memset(seg_counts, 0, sizeof(seg_counts));
	for (i = 0; i < n; i++)
		for (int h = 0; h < LEARN_HOURS; h++)
			seg_counts[pts[i].segment][h] += pts[i].hour_counts[h];

	got_learned = simulate(pts, n, days, true, (uint64) seed ^ 0x5151, arms, seg_counts, &touches_l);
	got_fixed = simulate(pts2, n, days, false, (uint64) seed ^ 0x5151, unused, unused_counts, &touches_f);

	for (i = 0; i < n; i++)
	{
		SimPatient *p = &pts[i];
		ChannelArm	a[SIM_CHANNELS];
		int			ch;

		total += p->balance;
		if (best_hour_for(p->hour_counts, seg_counts[p->segment], 8, 21, 2.0) == p->true_hour)
			hour_ok++;
		for (ch = 0; ch < SIM_CHANNELS; ch++)
		{
			a[ch] = arms[p->segment][ch];
			a[ch].allowed = p->allowed[ch];
		}
		if (learn_choose_channel(a, SIM_CHANNELS, NULL) == p->true_channel)
			chan_ok++;
	}

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "{\"patients\": %d, \"days\": %d, \"hour_match\": %.4f, \"channel_match\": %.4f, "
					 "\"collected_learned\": %s, \"collected_fixed\": %s, \"billed\": %s, "
					 "\"touches_learned\": %.0f, \"touches_fixed\": %.0f, \"arms\": {",
					 n, days, (double) hour_ok / n, (double) chan_ok / n,
					 cents_to_cstring(got_learned), cents_to_cstring(got_fixed),
					 cents_to_cstring(total), touches_l, touches_f);
	for (i = 0; i < SIM_SEGMENTS; i++)
	{
		appendStringInfo(&buf, "%s\"segment%d\": {", i ? ", " : "", i);
		for (int ch = 0; ch < SIM_CHANNELS; ch++)
			appendStringInfo(&buf, "%s\"%s\": [%.0f, %.0f]", ch ? ", " : "",
							 sim_channel_names[ch], arms[i][ch].successes, arms[i][ch].failures);
		appendStringInfoString(&buf, "}");
	}
	appendStringInfoString(&buf, "}}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
