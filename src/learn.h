/*
 * learn.h: the database side of the learning loop (learn.c, learn_model.c)
 * as the reply handler and the dunning engine call it from C.
 */
#ifndef COLLECT_LEARN_H
#define COLLECT_LEARN_H

#include "collect.h"

#include "learn_math.h"

/* the channel bandit's arms, in this order */
#define LEARN_CHANNELS 4
extern const char *const learn_channels[LEARN_CHANNELS];

/*
 * Scored touches a segment needs before the bandit steers the cadence's
 * channels: about five per arm, so early luck on one arm does not decide.
 */
#define LEARN_STEER_MIN_TOUCHES 20

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

/*
 * The dunning engine's side: the arms of the patient's segment (all
 * allowed; the caller clears what the rules forbid), true once the segment
 * has LEARN_STEER_MIN_TOUCHES scored touches; then a seeded Thompson draw
 * among the allowed arms (NULL: none allowed).
 */
extern bool learn_segment_arms(const char *practice_id, const char *patient_id, ChannelArm *arms);
extern const char *learn_draw_channel(const ChannelArm *arms, const char *practice_id,
									  const char *patient_id, TimestampTz as_of);

/* A plan prepared once and kept for the backend's life */
extern SPIPlanPtr learn_keep_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types);

#endif
