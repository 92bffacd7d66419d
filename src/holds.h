/*
 * holds.h: legal holds and the extraordinary-action gates as pure
 * decisions. Facts in (the holds of one patient, dates, amounts), a
 * verdict with the rule's name and plain reason out. No SPI, no clock.
 * The rows live in collect.legal_hold; events.c writes them.
 */
#ifndef COLLECT_HOLDS_H
#define COLLECT_HOLDS_H

#include "collect.h"

#define MAX_HOLDS 8

typedef struct HoldKindInfo
{
	const char *kind;			/* legal_hold.kind */
	bool		blocks_notices;	/* also receipts and notices, not only collection */
	bool		blocks_placement;
	const char *reason;			/* plain words */
	const char *source;
} HoldKindInfo;

typedef struct LegalHold
{
	char		kind[24];
	TimestampTz starts_at;
	TimestampTz ends_at;		/* DT_NOEND: open until released */
} LegalHold;

extern const HoldKindInfo *hold_kind_info(const char *kind);
extern bool hold_kind_valid(const char *kind);
extern const LegalHold *hold_active(const LegalHold *holds, int n, TimestampTz at, bool notice);

/* No Surprises Act: bill at least $400 over the good-faith estimate, disputed within 120 days */
#define GFE_DISPUTE_MIN_GAP_CENTS	40000
#define GFE_DISPUTE_WINDOW_DAYS		120
extern const char *gfe_dispute_ineligible(Cents billed, Cents estimate, DateADT bill_date, DateADT today);

/* IRS 501(r): applications accepted for 240 days from the first post-discharge statement */
#define ASSISTANCE_APPLICATION_DAYS	240
extern bool assistance_window_open(bool nonprofit_hospital, TimestampTz first_statement_at, TimestampTz at);

/* extraordinary collection actions */
typedef enum EcaAction
{
	ECA_PLACEMENT,
	ECA_CREDIT_REPORTING
} EcaAction;

#define ECA_MIN_DAYS_AFTER_STATEMENT	120
#define ECA_NOTICE_DAYS_BEFORE			30
#define ECA_CREDIT_MIN_CENTS			50000
#define ECA_CREDIT_MIN_DAYS				365

typedef struct EcaFacts
{
	EcaAction	action;
	TimestampTz at;
	TimestampTz first_statement_at;	/* DT_NOBEGIN: none */
	TimestampTz notice_sent_at;		/* DT_NOBEGIN: none */
	Cents		balance;
	const char *open_hold;		/* kind of an open hold or account block, or NULL */
} EcaFacts;

typedef struct EcaDecision
{
	bool		allowed;
	const char *rule;
	const char *reason;
	const char *source;
	TimestampTz earliest;		/* when the time gates open (DT_NOEND: unknown) */
} EcaDecision;

extern EcaDecision eca_decide(const EcaFacts *f);
extern EcaAction eca_action_from_name(const char *name);

#endif
