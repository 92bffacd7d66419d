/*
 * reply_classify.h: the reply classifier core. Pure C over libc only (no
 * PostgreSQL headers) so it can be fuzzed with libFuzzer and unit-tested
 * outside the server. It never allocates: all state lives in the caller's
 * ReplyClass, and input of any length and any bytes is safe (it is cut to
 * REPLY_MAX_INPUT bytes and invalid UTF-8 is treated as separators).
 */
#ifndef COLLECT_REPLY_CLASSIFY_H
#define COLLECT_REPLY_CLASSIFY_H

#include <stddef.h>

typedef enum ReplyIntent
{
	RI_UNKNOWN = 0,
	RI_PAY,
	RI_PLAN,
	RI_ACCEPT,
	RI_STOP,
	RI_ALREADY_PAID,
	RI_INSURANCE,
	RI_HARDSHIP,
	RI_DISPUTE,
	RI_UPSET,
	RI_QUESTION,
	RI_N_INTENTS
} ReplyIntent;

#define REPLY_MAX_INPUT 2000	/* bytes looked at; the rest is ignored */
#define REPLY_MAX_TOKENS 200
#define REPLY_TOKEN_LEN 24		/* longer words are cut */

/* sentiment at or below this is "strongly negative" (routes to a person) */
#define REPLY_STRONGLY_NEGATIVE (-0.6)

typedef struct ReplyClass
{
	ReplyIntent intent;
	double		sentiment;		/* -1 (very negative) .. +1 (very positive) */
	int			stop_like;		/* an opt-out keyword or phrase was seen */
	int			sarcasm;		/* a sarcasm cue flipped the positive words */
	int			n_tokens;
	double		scores[RI_N_INTENTS];	/* rule weight per intent */
	char		rule[96];		/* the strongest rule of the chosen intent */
	/* the normalized tokens (lower-case ASCII; "|" and "?" mark clauses) */
	char		tokens[REPLY_MAX_TOKENS][REPLY_TOKEN_LEN];
} ReplyClass;

/* Classify text (UTF-8, need not be NUL-terminated) into out. */
extern void reply_classify(const char *text, size_t len, ReplyClass *out);

/* Intent names as SQL sees them ("pay", "already_paid", ...). */
extern const char *reply_intent_name(ReplyIntent intent);
extern ReplyIntent reply_intent_from_name(const char *name);	/* -1 if none */

/*
 * Normalization alone, for tests: the tokens joined by single spaces into
 * out (always NUL-terminated when outsz > 0). Returns the token count.
 */
extern int	reply_normalize(const char *text, size_t len, char *out, size_t outsz);

/* Is a within one edit (substitution, insertion, deletion, swap) of b? */
extern int	reply_within_one_edit(const char *a, const char *b);

#endif
