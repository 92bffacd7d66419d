/*
 * fuzz_x12_835.c: libFuzzer harness for the X12 835 reader
 * (src/x12_835_parse.c) with an arena allocator. A successful parse must
 * be internally consistent: counts within capacity, claims pointing at a
 * real transaction, transaction claim counts adding up, strings
 * terminated; a failed one must carry a terminated error message.
 * FUZZ_SOURCES: src/x12_835_parse.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x12_835_parse.h"

#define EXPECT(cond) do { if (!(cond)) abort(); } while (0)

typedef struct Arena
{
	void	  **blocks;
	size_t		n,
				cap;
} Arena;

static void *
arena_alloc(void *ctx, size_t size)
{
	Arena	   *a = ctx;
	void	   *p = calloc(1, size ? size : 1);

	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 64;
		a->blocks = realloc(a->blocks, a->cap * sizeof(void *));
	}
	a->blocks[a->n++] = p;
	return p;
}

static void
arena_free(Arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
}

static void
expect_string(const char *s)
{
	if (s != NULL)
		EXPECT(strlen(s) < 1024 * 1024);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Arena		arena = {0};
	X835Parse	out;

	memset(&out, 0, sizeof(out));
	if (x835_parse((const char *) data, size, arena_alloc, &arena, &out))
	{
		int			claims = 0;

		EXPECT(out.n_transactions >= 0 && out.n_claims >= 0 && out.n_adjustments >= 0 && out.n_warnings >= 0);
		for (int i = 0; i < out.n_transactions; i++)
		{
			expect_string(out.transactions[i].control);
			expect_string(out.transactions[i].trace);
			expect_string(out.transactions[i].payer_name);
			claims += out.transactions[i].n_claims;
		}
		EXPECT(claims == out.n_claims);
		for (int i = 0; i < out.n_claims; i++)
		{
			const X835Claim *c = &out.claims[i];

			EXPECT(c->transaction >= 0 && c->transaction < out.n_transactions);
			expect_string(c->patient_control);
			expect_string(c->last_name);
			expect_string(c->payer_claim_id);
			(void) x835_patient_responsibility(c);
			(void) x835_status_label(c->status);
		}
		for (int i = 0; i < out.n_adjustments; i++)
			EXPECT(out.adjustments[i].transaction >= 0 && out.adjustments[i].transaction < out.n_transactions);
		for (int i = 0; i < out.n_warnings; i++)
			EXPECT(memchr(out.warnings[i].message, '\0', X835_MAX_MESSAGE) != NULL);
	}
	else
		EXPECT(memchr(out.error, '\0', X835_MAX_MESSAGE) != NULL && out.error[0] != '\0');
	arena_free(&arena);
	return 0;
}
