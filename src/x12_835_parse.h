/*
 * x12_835_parse.h: the X12 835 (health care claim payment/advice) reader,
 * independent of PostgreSQL so it can be fuzzed on its own. It turns one
 * file into transaction sets, claims (with their patient-responsibility
 * totals) and provider-level adjustments, or into one error naming the
 * segment and the reason. It never posts anything and never reads outside
 * the buffer it is given; every allocation goes through the caller's
 * allocator (palloc in the server, an arena in the fuzzer).
 */
#ifndef X12_835_PARSE_H
#define X12_835_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t x835_cents;

/* limits that bound memory and time on hostile input */
#define X835_MAX_INPUT		(64 * 1024 * 1024)
#define X835_MAX_ELEMENTS	64
#define X835_MAX_MESSAGE	320

/* CLP02 claim status codes that change what is posted */
#define X835_STATUS_DENIED			4
#define X835_STATUS_REVERSAL		22
#define X835_STATUS_PREDETERMINATION 25

/* One transaction set (ST..SE): one payment or advice from one payer */
typedef struct X835Transaction
{
	int			segment;		/* segment number of ST in the file */
	const char *control;		/* ST02 */
	const char *version;		/* GS08 (or ST03), e.g. 005010X221A1 */
	char		handling;		/* BPR01: C, D, H, I, P, U, X */
	x835_cents	total_paid;		/* BPR02 */
	int			payment_date;	/* BPR16 (CCYYMMDD) or 0 */
	int			production_date;	/* DTM*405 or 0 */
	const char *trace;			/* TRN02: check or EFT trace number */
	const char *payer_id;		/* TRN03 */
	const char *payer_name;		/* N1*PR N102 */
	x835_cents	claims_paid;	/* sum of CLP04 */
	x835_cents	provider_adjustments;	/* sum of PLB amounts */
	int			n_claims;
} X835Transaction;

/* One claim payment (CLP loop) */
typedef struct X835Claim
{
	int			segment;		/* segment number of CLP */
	int			transaction;	/* index into X835Parse.transactions */
	const char *patient_control;	/* CLP01 */
	int			status;			/* CLP02 */
	x835_cents	billed;			/* CLP03 (0 when absent) */
	x835_cents	paid;			/* CLP04 (0 when absent) */
	x835_cents	clp05;			/* CLP05 patient responsibility as stated */
	bool		has_amounts;	/* CLP03 and CLP04 were present */
	bool		has_clp05;
	const char *payer_claim_id;	/* CLP07, or NULL */
	const char *last_name;		/* NM1*QC (or NM1*IL) */
	const char *first_name;
	const char *member_id;		/* NM109 */
	int			service_date;	/* DTM*232, else first DTM*472/150 (CCYYMMDD) or 0 */
	int			n_cas;			/* CAS segments, claim and line level */
	int			n_lines;		/* SVC segments */
	x835_cents	group_total[5];	/* CAS sums by group: CO, CR, OA, PI, PR */
	x835_cents	cr_patient;		/* CR amounts with reasons 1, 2, 3, 66 (4010 reversals) */
	x835_cents	lines_billed;	/* sum of SVC02 */
	x835_cents	lines_paid;		/* sum of SVC03 */
	int			occurrence;		/* 1 + earlier claims with the same trace and payer claim id */
} X835Claim;

enum
{
	X835_GROUP_CO, X835_GROUP_CR, X835_GROUP_OA, X835_GROUP_PI, X835_GROUP_PR
};

/* One provider-level adjustment (a PLB reason/amount pair) */
typedef struct X835ProviderAdjustment
{
	int			segment;
	int			transaction;
	const char *provider;		/* PLB01 */
	int			fiscal_date;	/* PLB02 */
	const char *reason;			/* PLB03-1, e.g. WO, L6, CV */
	const char *reference;		/* PLB03-2 or NULL */
	x835_cents	amount;			/* as in the file: positive reduces the payment */
} X835ProviderAdjustment;

/* A finding that does not make the file unusable */
typedef struct X835Warning
{
	int			segment;
	int			claim;			/* index into X835Parse.claims, or -1 */
	char		message[X835_MAX_MESSAGE];
} X835Warning;

typedef void *(*x835_alloc_fn) (void *ctx, size_t size);

typedef struct X835Parse
{
	/* results */
	X835Transaction *transactions;
	int			n_transactions;
	X835Claim  *claims;
	int			n_claims;
	X835ProviderAdjustment *adjustments;
	int			n_adjustments;
	X835Warning *warnings;
	int			n_warnings;
	int			n_segments;
	int			n_interchanges;

	/* the error, when x835_parse returns false */
	int			error_segment;	/* 0 when not tied to a segment */
	char		error_segment_id[4];
	char		error[X835_MAX_MESSAGE];

	/* private */
	x835_alloc_fn alloc;
	void	   *alloc_ctx;
	int			cap_transactions,
				cap_claims,
				cap_adjustments,
				cap_warnings;
} X835Parse;

/*
 * Parse len bytes of data. Returns true and fills out, or false with
 * out->error (and out->error_segment) set and nothing else to be trusted.
 * Strings in out point into memory from alloc; nothing needs freeing
 * beyond what the allocator owns.
 */
extern bool x835_parse(const char *data, size_t len, x835_alloc_fn alloc, void *alloc_ctx,
					   X835Parse *out);

/* "processed as primary", "denied", ... for a CLP02 code (NULL if unknown) */
extern const char *x835_status_label(int status);

/*
 * Patient responsibility posted for a claim: the CAS PR total plus CR
 * amounts with patient reasons; CLP05 only when the claim has no CAS at
 * all; zero for predeterminations; never positive for a reversal.
 */
extern x835_cents x835_patient_responsibility(const X835Claim *claim);

#endif							/* X12_835_PARSE_H */
