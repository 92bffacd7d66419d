/*
 * x835_dump.c: a command-line driver for the PostgreSQL-free 835 reader
 * (src/x12_835_parse.c): prints what it read from each file, or the
 * error. For development and for the fuzzer's corpus checks; not part of
 * the extension. Build: cc -Isrc -o x835_dump test/fuzz/x835_dump.c src/x12_835_parse.c
 */
#include <stdio.h>
#include <stdlib.h>

#include "x12_835_parse.h"

static void *
arena_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return calloc(1, size ? size : 1);	/* leaked on purpose: a short-lived tool */
}

static void
money(long long c)
{
	printf("%s%lld.%02lld", c < 0 ? "-" : "", llabs(c) / 100, llabs(c) % 100);
}

int
main(int argc, char **argv)
{
	int			rc = 0;

	for (int a = 1; a < argc; a++)
	{
		FILE	   *f = fopen(argv[a], "rb");
		char	   *buf;
		long		n;
		X835Parse	p;

		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
		{
			perror(argv[a]);
			return 2;
		}
		rewind(f);
		buf = malloc(n + 1);
		if (fread(buf, 1, n, f) != (size_t) n)
			return 2;
		fclose(f);
		printf("== %s\n", argv[a]);
		if (!x835_parse(buf, n, arena_alloc, NULL, &p))
		{
			printf("ERROR segment %d (%s): %s\n", p.error_segment, p.error_segment_id, p.error);
			rc = 1;
			continue;
		}
		printf("segments %d, transactions %d, claims %d, PLB %d, warnings %d\n",
			   p.n_segments, p.n_transactions, p.n_claims, p.n_adjustments, p.n_warnings);
		for (int i = 0; i < p.n_claims && i < 40; i++)
		{
			X835Claim  *c = &p.claims[i];

			printf("  seg %d CLP %s st %d clp07 %s occ %d %s,%s billed ", c->segment, c->patient_control,
				   c->status, c->payer_claim_id ? c->payer_claim_id : "-", c->occurrence,
				   c->last_name ? c->last_name : "-", c->first_name ? c->first_name : "-");
			money(c->billed);
			printf(" paid ");
			money(c->paid);
			printf(" clp05 ");
			money(c->clp05);
			printf(" PR ");
			money(c->group_total[X835_GROUP_PR]);
			printf(" posted ");
			money(x835_patient_responsibility(c));
			printf(" date %d\n", c->service_date);
		}
		for (int i = 0; i < p.n_warnings && i < 20; i++)
			printf("  warning seg %d: %s\n", p.warnings[i].segment, p.warnings[i].message);
	}
	return rc;
}
