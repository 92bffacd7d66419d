/*
 * learn.h: the database side of the learning loop (learn.c, learn_model.c)
 * as the reply handler and the dunning engine call it from C.
 */
#ifndef COLLECT_LEARN_H
#define COLLECT_LEARN_H

#include "collect.h"

/* kind: "open" (weight 1), "reply" (2) or "pay" (3); refreshes account.best_hour */
extern void learn_observe_event(const char *practice_id, const char *patient_id,
								const char *kind, TimestampTz at);

/* The learned best local hour for the patient, or -1 without evidence */
extern int	learn_best_hour(const char *practice_id, const char *patient_id);

/*
 * The channel for the patient's next touch (Thompson sampling over the
 * segment's arms, seeded from practice, patient and as_of) among the
 * channels the patient's consents, opt-outs and address allow; NULL if
 * none is allowed.
 */
extern const char *learn_choose_channel_for(const char *practice_id, const char *patient_id,
											TimestampTz as_of);

/* A plan prepared once and kept for the backend's life */
extern SPIPlanPtr learn_keep_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types);

#endif
