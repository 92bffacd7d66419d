/*
 * validate.c: the input checks SQL constraints cannot say: IANA time zone
 * names, E.164 phone numbers, e-mail shape and language tags. Each raises a
 * clear error with SQLSTATE 22023 (invalid_parameter_value). The checks
 * themselves are pure C in checks.c (fuzzed in fuzz/); this file only adds
 * the tz database lookup and the errors.
 */
#include "collect.h"

#include "pgtime.h"

#include "checks.h"

/*
 * An IANA zone is "Area/Location" (or UTC and a few legacy single names);
 * we refuse POSIX rule strings ("EST5EDT,M3.2.0") and offsets that pg_tzset
 * would also accept, because they have no DST history. The shape check is
 * pure (checks.c); the lookup uses the server's tz database.
 */
pg_tz *
timezone_lookup(const char *tzname)
{
	if (!is_tz_name_shape(tzname))
		return NULL;
	return pg_tzset(tzname);
}

void
validate_timezone(const char *tzname, const char *what)
{
	pg_tz	   *tz = timezone_lookup(tzname);

	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid time zone \"%s\" for %s", tzname, what),
				 errhint("Use an IANA time zone name such as \"America/Chicago\".")));
}

void
validate_e164(const char *phone)
{
	if (!is_e164(phone))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phone number \"%s\"", phone),
				 errhint("Phone numbers must be E.164: \"+\", country code and number, 8 to 15 digits, for example +15555550123.")));
}

void
validate_email(const char *email)
{
	if (!is_email(email))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid e-mail address \"%s\"", email),
				 errhint("An e-mail address looks like name@example.com.")));
}

void
validate_language(const char *language)
{
	if (!is_language_tag(language))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid language \"%s\"", language),
				 errhint("Use a two-letter ISO 639-1 code such as \"en\" or \"es\", optionally with a region (\"es-MX\").")));
}
