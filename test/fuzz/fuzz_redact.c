/*
 * fuzz_redact.c: libFuzzer harness for src/redact.c. The input is split
 * at NUL bytes into secret, account and text. The scrubbed text is never
 * longer than the input, and once scrubbed it holds neither the secret
 * nor the Basic token made from it (for secrets of 10+ bytes that do not
 * themselves contain the "[redacted]" brackets or '*').
 * FUZZ_SOURCES: src/redact.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

#define EXPECT(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 3);
	char	   *secret,
			   *account,
			   *text;
	size_t		before;

	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	secret = buf;
	account = secret + strlen(secret) + 1;
	if (account > buf + size)
		account = buf + size + 1;
	text = account + strlen(account) + 1;
	if (text > buf + size + 1)
		text = buf + size + 2;
	before = strlen(text);

	redact_secret(text, account[0] ? account : NULL, secret);
	EXPECT(strlen(text) <= before);
	if (strlen(secret) >= 10 && strpbrk(secret, "[]*") == NULL)
	{
		EXPECT(strstr(text, secret) == NULL);
		if (account[0] && strlen(account) + strlen(secret) < 1000)
		{
			char		pair[1024];
			char		token[1400];

			strcpy(pair, account);
			strcat(pair, ":");
			strcat(pair, secret);
			redact_base64((const unsigned char *) pair, strlen(pair), token);
			if (strpbrk(token, "[]*") == NULL)
				EXPECT(strstr(text, token) == NULL);
		}
	}
	free(buf);
	return 0;
}
