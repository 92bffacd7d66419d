/*
 * learn_math.h: the learning arithmetic, pure C over libc (no PostgreSQL
 * headers): a seeded random generator, Beta sampling for Thompson
 * sampling, best contact hour from response counts, channel choice, a
 * logistic regression fitted by Newton/IRLS, and AUC. Never reads the clock
 * nor any global randomness: the caller passes the seed.
 */
#ifndef COLLECT_LEARN_MATH_H
#define COLLECT_LEARN_MATH_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** seeded through splitmix64 */
typedef struct LearnRng
{
	uint64_t	s[4];
} LearnRng;

extern void learn_rng_seed(LearnRng *rng, uint64_t seed);
extern double learn_rng_uniform(LearnRng *rng);	/* [0, 1) */
extern double learn_rng_normal(LearnRng *rng);
extern double learn_rng_gamma(LearnRng *rng, double shape);
extern double learn_rng_beta(LearnRng *rng, double a, double b);

/* FNV-1a of a string mixed into h: deterministic seeds from keys */
extern uint64_t learn_hash(uint64_t h, const char *s);
extern uint64_t learn_hash_int(uint64_t h, int64_t v);
#define LEARN_HASH_INIT UINT64_C(1469598103934665603)

#define LEARN_HOURS 24

/*
 * Best local contact hour in [hour_start, hour_end) from the patient's
 * response counts per local hour, with the segment's distribution as a
 * prior worth prior_weight observations; neighbouring hours count half.
 * Returns -1 when there is no evidence at all (caller keeps its default).
 */
extern int	best_hour_for(const double *patient_counts, const double *segment_counts,
						  int hour_start, int hour_end, double prior_weight);

/* One arm of the channel bandit: paid within 7 days of a touch or not */
typedef struct ChannelArm
{
	double		successes;
	double		failures;
	int			allowed;		/* consent, opt-outs and rules permit it */
} ChannelArm;

/*
 * Thompson sampling: draw from Beta(1 + successes, 1 + failures) for each
 * allowed arm and return the index of the largest draw (-1 if none is
 * allowed). With rng NULL, return the arm with the highest posterior mean
 * (the greedy choice, used for reporting).
 */
extern int	learn_choose_channel(const ChannelArm *arms, int n_arms, LearnRng *rng);

/*
 * Logistic regression by Newton's method (IRLS) with an L2 penalty lambda
 * on the weights (not the intercept). X is n rows of d features, row-major;
 * beta gets d + 1 values: intercept first. Returns the iterations used,
 * or -1 if the system was singular. d must be <= LEARN_MAX_FEATURES.
 */
#define LEARN_MAX_FEATURES 16
extern int	logit_fit(const double *X, const int *y, size_t n, int d,
					  double lambda, int max_iter, double *beta);
extern double logit_predict(const double *x, int d, const double *beta);

/* Area under the ROC curve of scores for labels (0/1); ties count half */
extern double auc_compute(const double *scores, const int *labels, size_t n);

#endif
