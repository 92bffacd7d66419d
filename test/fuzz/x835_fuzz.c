/*
 * x835_fuzz.c: libFuzzer entry point for the PostgreSQL-free 835 reader.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *         -o test/fuzz/bin/x835_fuzz test/fuzz/x835_fuzz.c src/x12_835_parse.c
 *   test/fuzz/bin/x835_fuzz -max_total_time=60 ../shared/data/x12_835
 * Every allocation goes to a per-input arena that is freed afterwards, so
 * leaks are the reader's own. Results are walked so that a bad pointer in
 * them is caught too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x12_835_parse.h"

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
	void	   *p;

	if (a->n == a->cap)
	{
		size_t		cap = a->cap ? a->cap * 2 : 64;
		void	  **blocks = realloc(a->blocks, cap * sizeof(void *));

		if (blocks == NULL)
			return NULL;
		a->blocks = blocks;
		a->cap = cap;
	}
	p = calloc(1, size ? size : 1);
	if (p != NULL)
		a->blocks[a->n++] = p;
	return p;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Arena		arena = {0};
	X835Parse	p;
	volatile size_t sink = 0;

	if (x835_parse((const char *) data, size, arena_alloc, &arena, &p))
	{
		for (int i = 0; i < p.n_claims; i++)
		{
			sink += strlen(p.claims[i].patient_control);
			sink += p.claims[i].payer_claim_id ? strlen(p.claims[i].payer_claim_id) : 0;
			sink += p.claims[i].last_name ? strlen(p.claims[i].last_name) : 0;
			sink += (size_t) x835_patient_responsibility(&p.claims[i]);
			sink += strlen(p.transactions[p.claims[i].transaction].trace);
		}
		for (int i = 0; i < p.n_adjustments; i++)
			sink += strlen(p.adjustments[i].reason);
		for (int i = 0; i < p.n_warnings; i++)
			sink += strlen(p.warnings[i].message);
	}
	else
		sink += strlen(p.error);
	for (size_t i = 0; i < arena.n; i++)
		free(arena.blocks[i]);
	free(arena.blocks);
	(void) sink;
	return 0;
}
