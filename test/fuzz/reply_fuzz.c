/*
 * reply_fuzz.c: libFuzzer entry point for the reply classifier core
 * (src/reply_classify.c, libc only). Checks the invariants every caller
 * relies on: the intent is a known one, sentiment is finite in [-1, 1],
 * the rule and tokens are NUL-terminated inside their buffers.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     -o test/fuzz/bin/reply_fuzz test/fuzz/reply_fuzz.c src/reply_classify.c -lm
 *   test/fuzz/bin/reply_fuzz -max_total_time=60 test/fuzz/corpus
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reply_classify.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ReplyClass rc;
	char		norm[256];

	reply_classify((const char *) data, size, &rc);
	if ((int) rc.intent < 0 || rc.intent >= RI_N_INTENTS)
		abort();
	if (!isfinite(rc.sentiment) || rc.sentiment < -1.0 || rc.sentiment > 1.0)
		abort();
	if (memchr(rc.rule, '\0', sizeof(rc.rule)) == NULL)
		abort();
	if (rc.n_tokens < 0 || rc.n_tokens > REPLY_MAX_TOKENS)
		abort();
	for (int i = 0; i < rc.n_tokens; i++)
		if (memchr(rc.tokens[i], '\0', REPLY_TOKEN_LEN) == NULL)
			abort();
	if (rc.intent == RI_STOP && !rc.stop_like)
		abort();
	reply_normalize((const char *) data, size, norm, sizeof(norm));
	if (memchr(norm, '\0', sizeof(norm)) == NULL)
		abort();
	(void) reply_intent_name(rc.intent);
	return 0;
}
