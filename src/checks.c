/*
 * checks.c: the pure shape checks behind validate.c: E.164 phone numbers,
 * e-mail addresses, IANA time-zone name shape and language tags. Each takes
 * a NUL-terminated string and answers true or false. Never include
 * PostgreSQL headers, allocate, or read anything but the argument: the
 * fuzzers in fuzz/ link this file on its own.
 */
#include "checks.h"

#include <string.h>
#include <strings.h>

static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* E.164: "+", a country code that does not start with 0, 8 to 15 digits */
bool
is_e164(const char *phone)
{
	size_t		len = strlen(phone);
	bool		ok = len >= 9 && len <= 16 && phone[0] == '+' && phone[1] >= '1' && phone[1] <= '9';

	for (size_t i = 1; ok && i < len; i++)
		ok = is_digit(phone[i]);
	return ok;
}

static bool
is_email_local_char(char c)
{
	return c != '\0' && (is_alpha(c) || is_digit(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* local@domain.tld: RFC 5321 lengths, dot-atom local part, LDH labels */
bool
is_email(const char *email)
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
			ok = is_alpha(*p) || is_digit(*p) || *p == '-';
	}
	/* a top-level domain of two or more letters */
	if (ok)
	{
		ok = last_dot != NULL && strlen(last_dot + 1) >= 2;
		for (const char *p = last_dot ? last_dot + 1 : ""; ok && *p; p++)
			ok = is_alpha(*p);
	}
	return ok;
}

static bool
is_tz_name_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || c == '/' || c == '-' || c == '+';
}

/*
 * The shape of an IANA zone name ("Area/Location", "UTC", a few legacy
 * single names): no POSIX rule strings ("EST5EDT,M3.2.0"), no absolute or
 * parent paths, not the tz database's own helper files. Whether the zone
 * exists is the server's tz database's business (validate.c).
 */
bool
is_tz_name_shape(const char *tzname)
{
	size_t		len = strlen(tzname);

	if (len == 0 || len > CHECKS_MAX_TZ_NAME || tzname[0] == '/' || strstr(tzname, "..") != NULL)
		return false;
	if (!is_alpha(tzname[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_tz_name_char(tzname[i]))
			return false;
	if (strcasecmp(tzname, "localtime") == 0 || strcasecmp(tzname, "posixrules") == 0)
		return false;
	return true;
}

/* "en", "es", "en-US": templates exist for en and es, others fall back to en */
bool
is_language_tag(const char *language)
{
	size_t		len = strlen(language);
	bool		ok = (len == 2 || len == 5) &&
		language[0] >= 'a' && language[0] <= 'z' && language[1] >= 'a' && language[1] <= 'z';

	if (ok && len == 5)
		ok = language[2] == '-' && language[3] >= 'A' && language[3] <= 'Z' &&
			language[4] >= 'A' && language[4] <= 'Z';
	return ok;
}
