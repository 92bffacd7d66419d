/*
 * fuzz_reply.c: libFuzzer harness for the reply classifier core
 * (src/reply_classify.c): any bytes, any length. The answer must be a
 * known intent with its name round-tripping, a sentiment in [-1, 1], a
 * bounded token count, NUL-terminated tokens and rule; normalization must
 * terminate its output; and a message that is exactly "STOP" (any case)
 * must be classified stop.
 * FUZZ_SOURCES: src/reply_classify.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reply_classify.h"

#define EXPECT(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ReplyClass rc;
	char		norm[512];
	const char *name;
	int			n;

	reply_classify((const char *) data, size, &rc);
	EXPECT(rc.intent >= RI_UNKNOWN && rc.intent < RI_N_INTENTS);
	name = reply_intent_name(rc.intent);
	EXPECT(name != NULL && reply_intent_from_name(name) == rc.intent);
	EXPECT(rc.sentiment >= -1.0 && rc.sentiment <= 1.0);
	EXPECT(rc.n_tokens >= 0 && rc.n_tokens <= REPLY_MAX_TOKENS);
	EXPECT(memchr(rc.rule, '\0', sizeof(rc.rule)) != NULL);
	for (int i = 0; i < rc.n_tokens; i++)
		EXPECT(memchr(rc.tokens[i], '\0', REPLY_TOKEN_LEN) != NULL);
	if (size == 4 && strncasecmp((const char *) data, "stop", 4) == 0)
		EXPECT(rc.intent == RI_STOP);

	n = reply_normalize((const char *) data, size, norm, sizeof(norm));
	EXPECT(n >= 0 && memchr(norm, '\0', sizeof(norm)) != NULL);
	if (size >= 2)
	{
		char		a[32],
					b[32];
		size_t		h = size / 2 < 31 ? size / 2 : 31;

		memcpy(a, data, h);
		a[h] = '\0';
		memcpy(b, data + size - h, h);
		b[h] = '\0';
		/* symmetric, and every string is within one edit of itself */
		if (strlen(a) == h && strlen(b) == h)
			EXPECT(reply_within_one_edit(a, b) == reply_within_one_edit(b, a) && reply_within_one_edit(a, a));
	}
	return 0;
}
