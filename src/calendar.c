/*
 * calendar.c: US federal holidays by rule and business-day arithmetic
 * (src/calendar.h). Saturdays and Sundays are never business days; a
 * holiday on a Saturday is observed the Friday before, on a Sunday the
 * Monday after (5 U.S.C. 6103(b)); New Year's Day on a Saturday is
 * observed on December 31 of the year before. Juneteenth counts from 2021.
 * Pure: no SPI, no clock, no table of dates to keep up to date.
 */
#include "collect.h"

#include "calendar.h"

static DateADT
ymd(int y, int m, int d)
{
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

/* 0 = Sunday .. 6 = Saturday */
static int
weekday(DateADT d)
{
	return j2day(d + POSTGRES_EPOCH_JDATE);
}

/* the nth (1-based) weekday wd of a month; n = -1: the last one */
static DateADT
nth_weekday(int y, int m, int wd, int n)
{
	DateADT		d;

	if (n > 0)
	{
		d = ymd(y, m, 1);
		d += (wd - weekday(d) + 7) % 7;
		return d + 7 * (n - 1);
	}
	d = ymd(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
	return d - (weekday(d) - wd + 7) % 7;
}

/* a fixed-date holiday moved to its observed day */
static DateADT
observed(DateADT d)
{
	int			wd = weekday(d);

	return wd == 6 ? d - 1 : wd == 0 ? d + 1 : d;
}

typedef struct Holiday
{
	const char *name;
	int			month;
	int			day;			/* fixed date, or 0 for a floating one */
	int			wd;				/* floating: weekday and which one (-1 last) */
	int			nth;
	int			from_year;
} Holiday;

static const Holiday holidays[] = {
	{"New Year's Day", 1, 1, 0, 0, 0},
	{"Birthday of Martin Luther King, Jr.", 1, 0, 1, 3, 1986},
	{"Washington's Birthday", 2, 0, 1, 3, 0},
	{"Memorial Day", 5, 0, 1, -1, 0},
	{"Juneteenth National Independence Day", 6, 19, 0, 0, 2021},
	{"Independence Day", 7, 4, 0, 0, 0},
	{"Labor Day", 9, 0, 1, 1, 0},
	{"Columbus Day", 10, 0, 1, 2, 0},
	{"Veterans Day", 11, 11, 0, 0, 0},
	{"Thanksgiving Day", 11, 0, 4, 4, 0},
	{"Christmas Day", 12, 25, 0, 0, 0},
};

static bool
holiday_in_year(DateADT d, int y, const char **name)
{
	for (size_t i = 0; i < lengthof(holidays); i++)
	{
		const Holiday *h = &holidays[i];
		DateADT		hd;

		if (y < h->from_year)
			continue;
		hd = h->day > 0 ? observed(ymd(y, h->month, h->day)) : nth_weekday(y, h->month, h->wd, h->nth);
		if (hd == d)
		{
			if (name)
				*name = h->name;
			return true;
		}
	}
	return false;
}

bool
calendar_is_federal_holiday(DateADT d, const char **name)
{
	int			y,
				m,
				day;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	/* December 31 may be the observed New Year's Day of the next year */
	return holiday_in_year(d, y, name) || (m == 12 && day == 31 && holiday_in_year(d, y + 1, name));
}

bool
calendar_is_business_day(DateADT d)
{
	int			wd = weekday(d);

	return wd != 0 && wd != 6 && !calendar_is_federal_holiday(d, NULL);
}

/* the n-th business day after d (n >= 0; n = 0 returns d) */
DateADT
calendar_add_business_days(DateADT d, int n)
{
	while (n > 0)
	{
		d++;
		if (calendar_is_business_day(d))
			n--;
	}
	return d;
}

/*
 * Reg F 12 CFR 1006.34(b)(5): the validation period ends 30 days after the
 * consumer receives the notice; receipt may be assumed 5 days (excluding
 * legal public holidays, Saturdays and Sundays) after it was sent.
 */
DateADT
validation_period_end(DateADT sent)
{
	return calendar_add_business_days(sent, VALIDATION_RECEIPT_BUSINESS_DAYS) + VALIDATION_PERIOD_DAYS;
}
