/*
 * fuzz_checks.c: libFuzzer harness for src/checks.c (E.164, e-mail,
 * time-zone name shape, language tags). Feeds the input as one
 * NUL-terminated string to every check and asserts what a true answer
 * promises, so a logic slip is a crash as much as an overflow is.
 * FUZZ_SOURCES: src/checks.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"

#define EXPECT(cond) do { if (!(cond)) abort(); } while (0)

static int
count_char(const char *s, char c)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	size_t		len;

	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	if (is_e164(s))
	{
		EXPECT(len >= 9 && len <= 16 && s[0] == '+' && s[1] != '0');
		EXPECT(strspn(s + 1, "0123456789") == len - 1);
	}
	if (is_email(s))
	{
		const char *at = strchr(s, '@');

		EXPECT(len <= 254 && count_char(s, '@') == 1 && at != s && at - s <= 64);
		EXPECT(strstr(s, "..") == NULL && s[0] != '.' && at[-1] != '.');
		EXPECT(strchr(at, '.') != NULL && at[1] != '.' && at[1] != '-');
		EXPECT(strpbrk(s, " \t\r\n\"(),:;<>[\\]") == NULL);
	}
	if (is_tz_name_shape(s))
	{
		EXPECT(len >= 1 && len <= CHECKS_MAX_TZ_NAME && s[0] != '/' && strstr(s, "..") == NULL);
		EXPECT(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_/-+") == len);
	}
	if (is_language_tag(s))
		EXPECT(len == 2 || (len == 5 && s[2] == '-'));
	free(s);
	return 0;
}
