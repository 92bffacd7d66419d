/*
 * validate.c: the input checks SQL constraints cannot say: IANA time zone
 * names, E.164 phone numbers, e-mail shape and language tags. Each raises a
 * clear error with SQLSTATE 22023 (invalid_parameter_value). Pure: reads
 * nothing but its argument (and the server's tz database).
 */
#include "collect.h"

#include "pgtime.h"

#define MAX_TZ_NAME 64

static inline bool
is_tz_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '/' || c == '-' || c == '+';
}

/*
 * An IANA zone is "Area/Location" (or UTC and a few legacy single names);
 * we refuse POSIX rule strings ("EST5EDT,M3.2.0") and offsets that pg_tzset
 * would also accept, because they have no DST history.
 */
pg_tz *
timezone_lookup(const char *tzname)
{
	size_t		len = strlen(tzname);

	if (len == 0 || len > MAX_TZ_NAME || tzname[0] == '/' || strstr(tzname, "..") != NULL)
		return NULL;
	if (!((tzname[0] >= 'A' && tzname[0] <= 'Z') || (tzname[0] >= 'a' && tzname[0] <= 'z')))
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!is_tz_name_char(tzname[i]))
			return NULL;
	if (pg_strcasecmp(tzname, "localtime") == 0 || pg_strcasecmp(tzname, "posixrules") == 0)
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

/* E.164: "+", a country code that does not start with 0, 8 to 15 digits */
void
validate_e164(const char *phone)
{
	size_t		len = strlen(phone);
	bool		ok = len >= 9 && len <= 16 && phone[0] == '+' && phone[1] >= '1' && phone[1] <= '9';

	for (size_t i = 1; ok && i < len; i++)
		ok = phone[i] >= '0' && phone[i] <= '9';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phone number \"%s\"", phone),
				 errhint("Phone numbers must be E.164: \"+\", country code and number, 8 to 15 digits, for example +15555550123.")));
}

static inline bool
is_email_local_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

/* local@domain.tld: RFC 5321 lengths, dot-atom local part, LDH labels */
void
validate_email(const char *email)
{
	const char *at = strchr(email, '@');
	size_t		len = strlen(email);
	bool		ok = at != NULL && at != email && strchr(at + 1, '@') == NULL &&
		len <= 254 && (size_t) (at - email) <= 64;
	const char *label_start;
	const char *last_dot = NULL;

	for (const char *p = email; ok && p < at; p++)
		ok = is_email_local_char(*p) && !(*p == '.' && (p == email || p[1] == '.' || p + 1 == at));

	label_start = at ? at + 1 : NULL;
	for (const char *p = label_start; ok && p != NULL; p++)
	{
		if (*p == '.' || *p == '\0')
		{
			size_t		label_len = p - label_start;

			ok = label_len >= 1 && label_len <= 63 && label_start[0] != '-' && p[-1] != '-';
			if (*p == '\0')
				break;
			last_dot = p;
			label_start = p + 1;
		}
		else
			ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
				(*p >= '0' && *p <= '9') || *p == '-';
	}
	/* a top-level domain of two or more letters */
	if (ok)
	{
		ok = last_dot != NULL && strlen(last_dot + 1) >= 2;
		for (const char *p = last_dot ? last_dot + 1 : ""; ok && *p; p++)
			ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z');
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid e-mail address \"%s\"", email),
				 errhint("An e-mail address looks like name@example.com.")));
}

/* "en", "es", "en-US": templates exist for en and es, others fall back to en */
void
validate_language(const char *language)
{
	size_t		len = strlen(language);
	bool		ok = (len == 2 || len == 5) &&
		language[0] >= 'a' && language[0] <= 'z' && language[1] >= 'a' && language[1] <= 'z';

	if (ok && len == 5)
		ok = language[2] == '-' && language[3] >= 'A' && language[3] <= 'Z' &&
			language[4] >= 'A' && language[4] <= 'Z';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid language \"%s\"", language),
				 errhint("Use a two-letter ISO 639-1 code such as \"en\" or \"es\", optionally with a region (\"es-MX\").")));
}
