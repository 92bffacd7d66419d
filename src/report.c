/*
 * report.c: collect.report_html(practice_id, as_of): one self-contained
 * HTML page for a practice manager: headline figures, A/R aging bars,
 * dollars collected per week, collection rate by segment and the open
 * staff queue, drawn as inline SVG. It reads collect.practice, account,
 * ledger and task directly (not the KPI views) and writes nothing. No
 * scripts, no external fonts, images or style sheets; every text that
 * comes from a table is HTML-escaped. Time windows end at as_of; the
 * wall clock is never read.
 */
#include "collect.h"

#include "lib/stringinfo.h"

#include "account.h"

PG_FUNCTION_INFO_V1(report_html);

#define AGING_BUCKETS 5
#define WEEKS 17				/* 119 days: the rate window, in whole weeks */
#define RATE_WINDOW_DAYS 120
#define MAX_BARS 16

static const char *const aging_labels[AGING_BUCKETS] = {"0-30", "31-60", "61-90", "91-120", "120+"};
static const char *const segment_names[] = {"fresh", "early_stall", "documentation_doubt",
	"high_value_engaged", "silent_aged", "credit", "settled"};

#define N_SEGMENTS lengthof(segment_names)

/* One bar of a chart: a label, a value and how the value is written */
typedef struct Bar
{
	char		label[48];
	int64		value;			/* cents, basis points or a count */
	char		text[48];		/* the value as written above the bar */
} Bar;

typedef struct ReportData
{
	char	   *practice_name;
	char	   *timezone;
	Cents		open_balance;
	int			open_accounts;
	Cents		credit_balance;
	Cents		aging[AGING_BUCKETS];
	int			aging_accounts[AGING_BUCKETS];
	Cents		weekly[WEEKS];	/* weekly[WEEKS - 1] is the week ending at as_of */
	Cents		collected_30d;
	Cents		collected_window;
	Cents		seg_collected[N_SEGMENTS];
	Cents		seg_open[N_SEGMENTS];
	int			n_task_kinds;
	Bar			tasks[MAX_BARS];
	int			tasks_open;
	int			tasks_overdue;
	int			n_recent;
	char	   *recent_kind[8];
	char	   *recent_summary[8];
	char	   *recent_due[8];
} ReportData;

static void
html_escape(StringInfo out, const char *s)
{
	for (; s && *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(out, "&amp;");
				break;
			case '<':
				appendStringInfoString(out, "&lt;");
				break;
			case '>':
				appendStringInfoString(out, "&gt;");
				break;
			case '"':
				appendStringInfoString(out, "&quot;");
				break;
			case '\'':
				appendStringInfoString(out, "&#39;");
				break;
			default:
				appendStringInfoChar(out, *s);
		}
	}
}

static int
segment_index(const char *name)
{
	for (int i = 0; i < (int) N_SEGMENTS; i++)
		if (strcmp(name, segment_names[i]) == 0)
			return i;
	return -1;
}

static int
aging_index(int days)
{
	const char *b = aging_bucket_for(days);

	for (int i = 0; i < AGING_BUCKETS; i++)
		if (strcmp(b, aging_labels[i]) == 0)
			return i;
	return AGING_BUCKETS - 1;
}

/* The report's queries, prepared once per backend and kept */
enum
{
	Q_PRACTICE, Q_LEDGER, Q_WEEKLY, Q_SEGMENT, Q_QUEUE, Q_TASKS, N_QUERIES
};

static SPIPlanPtr report_plans[N_QUERIES];

/* Run read-only query q (parameters: practice_id, as_of) */
static void
run(int q, const char *sql, Datum practice, Datum as_of)
{
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2] = {practice, as_of};
	int			ret;

	if (report_plans[q] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, 2, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		report_plans[q] = plan;
	}
	ret = SPI_execute_plan(report_plans[q], args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "report query failed: %s", SPI_result_code_string(ret));
}

static Cents
cents_at(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? 0 : numeric_to_cents(d);
}

static void
load_data(ReportData *r, Datum practice, TimestampTz as_of)
{
	Datum		at = TimestampTzGetDatum(as_of);
	pg_tz	   *tz;
	DateADT		today;

	run(Q_PRACTICE, "SELECT coalesce(name, practice_id), timezone FROM collect.practice WHERE practice_id = $1 AND $2 IS NOT NULL",
		practice, at);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("practice \"%s\" does not exist", TextDatumGetCString(practice))));
	r->practice_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	r->timezone = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	tz = timezone_lookup(r->timezone);
	if (tz == NULL)
		elog(ERROR, "practice has an invalid time zone");
	today = local_date(as_of, tz);

	/*
	 * Balances and aging as of as_of, from the ledger rows posted by then:
	 * credits pay the oldest charges first (as the ledger trigger does).
	 */
	run(Q_LEDGER, "SELECT l.patient_id, l.kind, l.amount, l.posted_at, a.segment"
		"  FROM collect.ledger l"
		"  LEFT JOIN collect.account a ON a.practice_id = l.practice_id AND a.patient_id = l.patient_id"
		" WHERE l.practice_id = $1 AND l.posted_at <= $2"
		" ORDER BY l.patient_id, l.posted_at, l.entry_id", practice, at);
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Cents	   *charges = palloc(sizeof(Cents) * Max(SPI_processed, 1));
		TimestampTz *charged_at = palloc(sizeof(TimestampTz) * Max(SPI_processed, 1));
		uint64		start = 0;

		while (start < SPI_processed)
		{
			char	   *patient = SPI_getvalue(SPI_tuptable->vals[start], desc, 1);
			char	   *segment = SPI_getvalue(SPI_tuptable->vals[start], desc, 5);
			uint64		end = start;
			int			n = 0;
			Cents		balance = 0,
						charged = 0;
			TimestampTz last_debit = 0;
			int			first;
			int			days;

			CHECK_FOR_INTERRUPTS();
			for (; end < SPI_processed; end++)
			{
				HeapTuple	row = SPI_tuptable->vals[end];
				char	   *kind;
				Cents		amount;
				bool		isnull;
				TimestampTz posted;

				if (end > start && strcmp(SPI_getvalue(row, desc, 1), patient) != 0)
					break;
				kind = SPI_getvalue(row, desc, 2);
				amount = cents_at(row, desc, 3);
				posted = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
				if (strcmp(kind, "charge") == 0)
				{
					charges[n] = amount;
					charged_at[n++] = posted;
					charged += amount;
				}
				if (strcmp(kind, "charge") == 0 || strcmp(kind, "refund") == 0 || strcmp(kind, "reversal") == 0)
				{
					balance += amount;
					last_debit = posted;
				}
				else
					balance -= amount;
			}
			start = end;
			if (balance < 0)
				r->credit_balance -= balance;
			if (balance <= 0)
				continue;
			first = fifo_first_unpaid(charges, n, charged - balance);
			days = Max(0, days_between(local_date(first >= 0 ? charged_at[first] : last_debit, tz), today));
			r->open_balance += balance;
			r->open_accounts++;
			r->aging[aging_index(days)] += balance;
			r->aging_accounts[aging_index(days)]++;
			if (segment != NULL && segment_index(segment) >= 0)
				r->seg_open[segment_index(segment)] += balance;
		}
	}

	/* patient payments in the weeks before as_of */
	run(Q_WEEKLY, "SELECT floor(extract(epoch FROM $2 - l.posted_at) / 604800)::int, sum(l.amount),"
		"       sum(l.amount) FILTER (WHERE l.posted_at > $2 - interval '30 days')"
		"  FROM collect.ledger l"
		" WHERE l.practice_id = $1 AND l.kind = 'payment'"
		"   AND l.posted_at <= $2 AND l.posted_at > $2 - interval '" CppAsString2(RATE_WINDOW_DAYS) " days'"
		" GROUP BY 1", practice, at);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			weeks_ago = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
		Cents		amount = cents_at(row, desc, 2);

		r->collected_window += amount;
		r->collected_30d += cents_at(row, desc, 3);
		if (weeks_ago >= 0 && weeks_ago < WEEKS)
			r->weekly[WEEKS - 1 - weeks_ago] += amount;
	}

	/* collected per segment of the paying account, same window */
	run(Q_SEGMENT, "SELECT a.segment, sum(l.amount) FROM collect.ledger l"
		"  JOIN collect.account a ON a.practice_id = l.practice_id AND a.patient_id = l.patient_id"
		" WHERE l.practice_id = $1 AND l.kind = 'payment'"
		"   AND l.posted_at <= $2 AND l.posted_at > $2 - interval '" CppAsString2(RATE_WINDOW_DAYS) " days'"
		" GROUP BY 1", practice, at);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int			seg = segment_index(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));

		if (seg >= 0)
			r->seg_collected[seg] += cents_at(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}

	/* the open staff queue by kind, overdue at as_of */
	run(Q_QUEUE, "SELECT kind, count(*)::int, (count(*) FILTER (WHERE due_at < $2))::int FROM collect.task"
		" WHERE practice_id = $1 AND status = 'open' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT " CppAsString2(MAX_BARS),
		practice, at);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Bar		   *b = &r->tasks[r->n_task_kinds++];
		int			count = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		int			overdue = DatumGetInt32(SPI_getbinval(row, desc, 3, &isnull));

		strlcpy(b->label, SPI_getvalue(row, desc, 1), sizeof(b->label));
		b->value = count;
		if (overdue > 0)
			snprintf(b->text, sizeof(b->text), "%d (%d overdue)", count, overdue);
		else
			snprintf(b->text, sizeof(b->text), "%d", count);
		r->tasks_open += count;
		r->tasks_overdue += overdue;
	}

	run(Q_TASKS, "SELECT kind, summary, to_char(due_at AT TIME ZONE p.timezone, 'YYYY-MM-DD HH24:MI')"
		"  FROM collect.task t JOIN collect.practice p USING (practice_id)"
		" WHERE t.practice_id = $1 AND t.status = 'open' AND $2 IS NOT NULL"
		" ORDER BY t.due_at, t.task_id LIMIT 8", practice, at);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		r->recent_kind[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		r->recent_summary[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		r->recent_due[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		r->n_recent++;
	}
}

/*
 * A vertical bar chart: bars scaled to the largest value, the value
 * written above each bar and the label below. An empty chart says so.
 */
static void
svg_bars(StringInfo out, const char *id, const char *title, const Bar *bars, int n, const char *color,
		 int64 full_scale)
{
	const int	width = 560,
				height = 250,
				top = 46,
				bottom = 44,
				left = 16;
	int			plot_h = height - top - bottom;
	int			slot = n > 0 ? (width - 2 * left) / n : 0;
	int64		max = 0;

	for (int i = 0; i < n; i++)
		max = Max(max, bars[i].value);
	if (full_scale > 0 && max > 0)
		max = Max(max, full_scale);	/* e.g. rates drawn against 100% */

	appendStringInfo(out, "<figure class=\"chart\" id=\"%s\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
					 "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
					 id, width, height, width, height);
	html_escape(out, title);
	appendStringInfo(out, "\"><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>", width, height);
	appendStringInfo(out, "<text x=\"%d\" y=\"20\" class=\"title\">", left);
	html_escape(out, title);
	appendStringInfoString(out, "</text>");
	appendStringInfo(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
					 left, top + plot_h, width - left, top + plot_h);
	if (max <= 0)
	{
		appendStringInfo(out, "<text x=\"%d\" y=\"%d\" class=\"empty\">no data yet</text></svg></figure>\n",
						 width / 2 - 40, top + plot_h / 2);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		int			bar_w = Max(4, slot * 7 / 10);
		int			x = left + i * slot + (slot - bar_w) / 2;
		int			h = (int) (bars[i].value * plot_h / max);
		int			y = top + plot_h - h;

		if (bars[i].value > 0 && h < 2)
		{
			h = 2;
			y = top + plot_h - h;
		}
		appendStringInfo(out, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>",
						 x, y, bar_w, h, color);
		html_escape(out, bars[i].label);
		appendStringInfoString(out, ": ");
		html_escape(out, bars[i].text);
		appendStringInfoString(out, "</title></rect>");
		if (bars[i].value > 0)
		{
			appendStringInfo(out, "<text x=\"%d\" y=\"%d\" class=\"value\" text-anchor=\"middle\">",
							 x + bar_w / 2, y - 4);
			html_escape(out, bars[i].text);
			appendStringInfoString(out, "</text>");
		}
		appendStringInfo(out, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\"%s>",
						 x + bar_w / 2, top + plot_h + 16, n > 12 ? " style=\"font-size:9px\"" : "");
		html_escape(out, bars[i].label);
		appendStringInfoString(out, "</text>");
	}
	appendStringInfoString(out, "</svg></figure>\n");
}

static void
money_bar(Bar *b, const char *label, Cents value)
{
	char	   *text = cents_to_dollars(value);
	size_t		len = strlen(text);

	strlcpy(b->label, label, sizeof(b->label));
	b->value = value;
	/* whole dollars above bars: "$1,234" */
	if (len > 3)
		text[len - 3] = '\0';
	strlcpy(b->text, text, sizeof(b->text));
}

/* "YYYY-MM-DD" whatever DateStyle says */
static char *
iso_date(DateADT date)
{
	int			y,
				m,
				d;

	j2date(date + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	return psprintf("%04d-%02d-%02d", y, m, d);
}

static void
figure(StringInfo out, const char *label, const char *value)
{
	appendStringInfoString(out, "<div class=\"kpi\"><div class=\"v\">");
	html_escape(out, value);
	appendStringInfoString(out, "</div><div class=\"l\">");
	html_escape(out, label);
	appendStringInfoString(out, "</div></div>");
}

static char *
render(const ReportData *r, TimestampTz as_of)
{
	StringInfoData out;
	Bar			bars[MAX_BARS];
	int			n;
	pg_tz	   *tz = timezone_lookup(r->timezone);
	DateADT		today = local_date(as_of, tz);
	char	   *today_text = iso_date(today);
	Cents		rate_base = r->collected_window + r->open_balance;

	initStringInfo(&out);
	appendStringInfoString(&out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
						   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Collections report: ");
	html_escape(&out, r->practice_name);
	appendStringInfoString(&out, "</title><style>"
						   "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px;color:#1d2733;background:#f4f6f8}"
						   "h1{font-size:22px;margin:0 0 4px}p.sub{color:#5a6775;margin:0 0 18px}"
						   ".kpis{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}"
						   ".kpi{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px rgba(0,0,0,.08)}"
						   ".kpi .v{font-size:22px;font-weight:600}.kpi .l{color:#5a6775;font-size:13px}"
						   ".grid{display:grid;grid-template-columns:repeat(2,minmax(560px,1fr));gap:16px}"
						   "figure.chart{margin:0;background:#fff;border-radius:8px;padding:8px;box-shadow:0 1px 2px rgba(0,0,0,.08)}"
						   "svg text{font-family:inherit;font-size:11px;fill:#1d2733}svg text.title{font-size:14px;font-weight:600}"
						   "svg text.empty{fill:#8a96a3;font-size:13px}"
						   "table{border-collapse:collapse;background:#fff;margin-top:18px;width:100%}"
						   "td,th{border-bottom:1px solid #e3e8ee;padding:6px 10px;text-align:left;font-size:13px;vertical-align:top}"
						   "</style></head><body>\n<h1>Collections report: ");
	html_escape(&out, r->practice_name);
	appendStringInfo(&out, "</h1><p class=\"sub\">As of %s (", today_text);
	html_escape(&out, r->timezone);
	appendStringInfoString(&out, "). Balances are patient responsibility after insurance.</p>\n<div class=\"kpis\">");
	figure(&out, "open patient balances", cents_to_dollars(r->open_balance));
	figure(&out, "accounts with a balance", psprintf("%d", r->open_accounts));
	figure(&out, "collected, last 30 days", cents_to_dollars(r->collected_30d));
	figure(&out, "collected, last " CppAsString2(RATE_WINDOW_DAYS) " days", cents_to_dollars(r->collected_window));
	figure(&out, "collection rate, " CppAsString2(RATE_WINDOW_DAYS) " days",
		   rate_base > 0 ? psprintf("%d.%d%%", (int) (r->collected_window * 1000 / rate_base / 10),
									(int) (r->collected_window * 1000 / rate_base % 10)) : "n/a");
	figure(&out, "credit balances (refunds due)", cents_to_dollars(r->credit_balance));
	figure(&out, "open staff tasks", psprintf("%d (%d overdue)", r->tasks_open, r->tasks_overdue));
	appendStringInfoString(&out, "</div>\n<div class=\"grid\">\n");

	/* A/R aging */
	for (n = 0; n < AGING_BUCKETS; n++)
		money_bar(&bars[n], psprintf("%s days (%d)", aging_labels[n], r->aging_accounts[n]), r->aging[n]);
	svg_bars(&out, "chart-aging", "A/R aging: open balance by days past due", bars, n, "#2f6fb3", 0);

	/* weekly collections */
	for (n = 0; n < WEEKS; n++)
	{
		DateADT		week_end = today - (WEEKS - 1 - n) * 7;
		money_bar(&bars[n], iso_date(week_end) + 5, r->weekly[n]);
	}
	svg_bars(&out, "chart-weekly", "Dollars collected per week (week ending)", bars, n, "#2e8b57", 0);

	/*
	 * Collection rate by segment: what the accounts now in each open
	 * segment paid in the window / (that + what they still owe). Accounts
	 * paid in full (settled) or in credit count in the headline rate only:
	 * their current segment says nothing about how they were collected.
	 */
	n = 0;
	for (int s = 0; s < (int) N_SEGMENTS; s++)
	{
		Cents		base = r->seg_collected[s] + r->seg_open[s];
		int64		bp;
		char	   *of;

		if (base <= 0 || strcmp(segment_names[s], "settled") == 0 || strcmp(segment_names[s], "credit") == 0)
			continue;
		bp = r->seg_collected[s] * 10000 / base;
		of = cents_to_dollars(base);
		of[strlen(of) - 3] = '\0';
		strlcpy(bars[n].label, segment_names[s], sizeof(bars[n].label));
		bars[n].value = Max(bp, 1);	/* a 2-pixel stub at 0% */
		snprintf(bars[n].text, sizeof(bars[n].text), "%d.%d%% of %s", (int) (bp / 100), (int) (bp % 100 / 10), of);
		n++;
	}
	svg_bars(&out, "chart-rate", "Collection rate by segment, open accounts (" CppAsString2(RATE_WINDOW_DAYS) " days)",
			 bars, n, "#c77c12", 10000);

	/* staff queue */
	svg_bars(&out, "chart-queue", "Open staff queue by task kind", r->tasks, r->n_task_kinds, "#8a3ffc", 0);
	appendStringInfoString(&out, "</div>\n");

	if (r->n_recent > 0)
	{
		appendStringInfoString(&out, "<table><thead><tr><th>due</th><th>task</th><th>summary</th></tr></thead><tbody>");
		for (int i = 0; i < r->n_recent; i++)
		{
			appendStringInfoString(&out, "<tr><td>");
			html_escape(&out, r->recent_due[i]);
			appendStringInfoString(&out, "</td><td>");
			html_escape(&out, r->recent_kind[i]);
			appendStringInfoString(&out, "</td><td>");
			html_escape(&out, r->recent_summary[i]);
			appendStringInfoString(&out, "</td></tr>");
		}
		appendStringInfoString(&out, "</tbody></table>\n");
	}
	appendStringInfoString(&out, "<p class=\"sub\">Collection rate = patient payments in the window / (those payments + balances still open), "
						   "by the paying account's current segment; accounts paid in full count in the headline rate. Generated by collect.report_html.</p>\n</body></html>\n");
	return out.data;
}

/* collect.report_html(practice_id text, as_of timestamptz DEFAULT now()) RETURNS text */
Datum
report_html(PG_FUNCTION_ARGS)
{
	ReportData *r;
	TimestampTz as_of;
	char	   *html;
	text	   *result;
	MemoryContext caller = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("report_html needs a practice_id and an as_of time")));
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("report_html needs a finite as_of time")));
	r = palloc0(sizeof(ReportData));
	SPI_connect();
	load_data(r, PG_GETARG_DATUM(0), as_of);
	html = render(r, as_of);
	/* SPI_finish frees what was allocated since SPI_connect: copy the page out */
	result = (text *) MemoryContextAlloc(caller, VARHDRSZ + strlen(html));
	SET_VARSIZE(result, VARHDRSZ + strlen(html));
	memcpy(VARDATA(result), html, strlen(html));
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
