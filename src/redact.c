/*
 * redact.c: removes provider credentials from error text before it is
 * stored: the secret itself, the HTTP Basic token built from it, a
 * truncated tail of either (error text is often cut to a length), and any
 * "Basic"/"Bearer" credential a provider echoed back. Pure C over one
 * NUL-terminated buffer, rewritten in place and never lengthened; never
 * include PostgreSQL headers or allocate (fuzzed in test/fuzz/fuzz_redact.c).
 */
#include "redact.h"

#include <string.h>
#include <strings.h>

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
redact_base64(const unsigned char *in, size_t len, char *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i += 3)
	{
		unsigned	v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
}

/* replace text[at, at + len) with REDACTED when that is not longer, else with '*'s */
static size_t
replace_span(char *text, size_t at, size_t len)
{
	size_t		rlen = strlen(REDACTED);
	size_t		tail = strlen(text + at + len);

	if (len >= rlen)
	{
		memcpy(text + at, REDACTED, rlen);
		memmove(text + at + rlen, text + at + len, tail + 1);
		return rlen;
	}
	memset(text + at, '*', len);
	return len;
}

/* every occurrence of needle, then a cut-off prefix of it at the very end */
static bool
redact_string(char *text, const char *needle)
{
	size_t		nlen = strlen(needle);
	bool		hit = false;
	char	   *p;
	size_t		tlen;

	if (nlen == 0)
		return false;
	for (size_t pos = 0; (p = strstr(text + pos, needle)) != NULL;)
	{
		pos = (p - text) + replace_span(text, p - text, nlen);
		hit = true;
	}
	tlen = strlen(text);
	for (size_t k = nlen - 1; k >= REDACT_MIN_PIECE && k > 0; k--)
	{
		if (k <= tlen && memcmp(text + tlen - k, needle, k) == 0)
		{
			replace_span(text, tlen - k, k);
			hit = true;
			break;
		}
	}
	return hit;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '+' || c == '/' || c == '=' || c == '.' || c == '_' || c == '-' || c == '~' || c == ':';
}

/* the credential after "Basic " / "Bearer " (any case) */
static bool
redact_auth_schemes(char *text)
{
	static const char *const schemes[] = {"basic ", "bearer "};
	bool		hit = false;

	for (int s = 0; s < 2; s++)
	{
		size_t		slen = strlen(schemes[s]);

		for (size_t i = 0; text[i] != '\0'; i++)
		{
			size_t		start,
						end;

			if (strncasecmp(text + i, schemes[s], slen) != 0)
				continue;
			start = end = i + slen;
			while (text[end] != '\0' && is_token_char(text[end]))
				end++;
			if (end - start >= 4 && strncmp(text + start, REDACTED, strlen(REDACTED)) != 0)
			{
				replace_span(text, start, end - start);
				hit = true;
			}
		}
	}
	return hit;
}

bool
redact_secret(char *text, const char *account, const char *secret)
{
	bool		hit = false;

	if (text == NULL)
		return false;
	if (secret != NULL && secret[0] != '\0')
	{
		if (account != NULL)
		{
			size_t		alen = strlen(account),
						slen = strlen(secret);
			char		pair[1024];
			char		token[4 * (sizeof(pair) + 2) / 3 + 4];

			if (alen + 1 + slen < sizeof(pair))
			{
				memcpy(pair, account, alen);
				pair[alen] = ':';
				memcpy(pair + alen + 1, secret, slen + 1);
				redact_base64((const unsigned char *) pair, alen + 1 + slen, token);
				hit |= redact_string(text, token);
			}
		}
		hit |= redact_string(text, secret);
	}
	hit |= redact_auth_schemes(text);
	return hit;
}
