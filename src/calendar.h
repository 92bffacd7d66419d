/*
 * calendar.h: business days and US federal holidays, computed by rule
 * (5 U.S.C. 6103, with the observed day when a holiday falls on a
 * weekend), and the Reg F validation period built on them. Pure: no SPI,
 * no clock.
 */
#ifndef COLLECT_CALENDAR_H
#define COLLECT_CALENDAR_H

#include "collect.h"

/* receipt of a mailed notice is assumed this many business days after sending */
#define VALIDATION_RECEIPT_BUSINESS_DAYS 5
/* the validation period runs this many days after assumed receipt */
#define VALIDATION_PERIOD_DAYS 30

extern bool calendar_is_federal_holiday(DateADT d, const char **name);
extern bool calendar_is_business_day(DateADT d);
extern DateADT calendar_add_business_days(DateADT d, int n);
extern DateADT validation_period_end(DateADT sent);

#endif
