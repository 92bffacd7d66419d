/*
 * money.c: conversions between SQL numeric and integer cents, and the two
 * ways money is written for people. Pure; no SPI.
 */
#include "collect.h"

#include "utils/numeric.h"

/* numeric(12,2) -> cents, exact (rounds half away from zero past 2 places) */
Cents
numeric_to_cents(Datum numeric)
{
	Datum		scaled = DirectFunctionCall2(numeric_mul, numeric,
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(100)));
	Datum		rounded = DirectFunctionCall2(numeric_round, scaled, Int32GetDatum(0));

	return DatumGetInt64(DirectFunctionCall1(numeric_int8, rounded));
}

/* cents -> numeric with two decimals (the value numeric_in gives for "d.cc"), without text */
Datum
cents_to_numeric(Cents cents)
{
	return NumericGetDatum(int64_div_fast_to_numeric(cents, 2));
}

char *
cents_to_cstring(Cents cents)
{
	uint64		abs_cents = cents < 0 ? (uint64) (-(cents + 1)) + 1 : (uint64) cents;

	return psprintf("%s" UINT64_FORMAT ".%02d", cents < 0 ? "-" : "",
					abs_cents / 100, (int) (abs_cents % 100));
}

char *
cents_to_dollars(Cents cents)
{
	uint64		abs_cents = cents < 0 ? (uint64) (-(cents + 1)) + 1 : (uint64) cents;
	uint64		dollars = abs_cents / 100;
	char		digits[32];
	char		grouped[48];
	int			len,
				out = 0;

	snprintf(digits, sizeof(digits), UINT64_FORMAT, dollars);
	len = strlen(digits);
	for (int i = 0; i < len; i++)
	{
		if (i > 0 && (len - i) % 3 == 0)
			grouped[out++] = ',';
		grouped[out++] = digits[i];
	}
	grouped[out] = '\0';
	return psprintf("%s$%s.%02d", cents < 0 ? "-" : "", grouped, (int) (abs_cents % 100));
}
