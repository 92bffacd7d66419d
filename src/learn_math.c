/*
 * learn_math.c: the arithmetic of the learning loop (see learn_math.h).
 * Pure C over libc; deterministic for a given seed. No SPI, no clock, no
 * allocation except auc_compute's sort buffer (malloc, freed before return).
 */
#include "learn_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Random numbers                                                      */
/* ------------------------------------------------------------------ */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

void
learn_rng_seed(LearnRng *rng, uint64_t seed)
{
	int			k;

	for (k = 0; k < 4; k++)
		rng->s[k] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(LearnRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
learn_rng_uniform(LearnRng *rng)
{
	return (double) (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double
learn_rng_normal(LearnRng *rng)
{
	double		u1,
				u2;

	do
		u1 = learn_rng_uniform(rng);
	while (u1 <= 0.0);
	u2 = learn_rng_uniform(rng);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Marsaglia and Tsang; shape < 1 through the boost U^(1/shape) */
double
learn_rng_gamma(LearnRng *rng, double shape)
{
	double		d,
				c;

	if (shape < 1.0)
	{
		double		u;

		do
			u = learn_rng_uniform(rng);
		while (u <= 0.0);
		return learn_rng_gamma(rng, shape + 1.0) * pow(u, 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x,
					v,
					u;

		do
		{
			x = learn_rng_normal(rng);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = learn_rng_uniform(rng);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

double
learn_rng_beta(LearnRng *rng, double a, double b)
{
	double		x = learn_rng_gamma(rng, a),
				y = learn_rng_gamma(rng, b);

	return (x + y) > 0 ? x / (x + y) : 0.5;
}

uint64_t
learn_hash(uint64_t h, const char *s)
{
	while (s && *s)
	{
		h ^= (unsigned char) *s++;
		h *= UINT64_C(1099511628211);
	}
	h ^= 0xFF;					/* separator, so ("ab","c") != ("a","bc") */
	h *= UINT64_C(1099511628211);
	return h;
}

uint64_t
learn_hash_int(uint64_t h, int64_t v)
{
	int			k;

	for (k = 0; k < 8; k++)
	{
		h ^= (uint64_t) ((v >> (8 * k)) & 0xFF);
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Best hour and channel                                               */
/* ------------------------------------------------------------------ */

int
best_hour_for(const double *patient_counts, const double *segment_counts,
			  int hour_start, int hour_end, double prior_weight)
{
	double		seg_total = 0.0,
				pat_total = 0.0,
				best = 0.0;
	int			h,
				best_h = -1;

	if (hour_start < 0)
		hour_start = 0;
	if (hour_end > LEARN_HOURS)
		hour_end = LEARN_HOURS;
	for (h = 0; h < LEARN_HOURS; h++)
	{
		seg_total += segment_counts ? segment_counts[h] : 0.0;
		pat_total += patient_counts ? patient_counts[h] : 0.0;
	}
	if (seg_total <= 0.0 && pat_total <= 0.0)
		return -1;
	for (h = hour_start; h < hour_end; h++)
	{
		double		score = 0.0;
		int			k;

		for (k = -1; k <= 1; k++)
		{
			int			j = h + k;
			double		w = k == 0 ? 1.0 : 0.5,
						v = 0.0;

			if (j < 0 || j >= LEARN_HOURS)
				continue;
			if (patient_counts)
				v += patient_counts[j];
			if (segment_counts && seg_total > 0.0)
				v += prior_weight * segment_counts[j] / seg_total;
			score += w * v;
		}
		if (score > best)
		{
			best = score;
			best_h = h;
		}
	}
	return best_h;
}

int
learn_choose_channel(const ChannelArm *arms, int n_arms, LearnRng *rng)
{
	double		best = -1.0;
	int			k,
				best_k = -1;

	for (k = 0; k < n_arms; k++)
	{
		double		a = 1.0 + (arms[k].successes > 0 ? arms[k].successes : 0),
					b = 1.0 + (arms[k].failures > 0 ? arms[k].failures : 0),
					v;

		if (!arms[k].allowed)
			continue;
		v = rng ? learn_rng_beta(rng, a, b) : a / (a + b);
		if (v > best)
		{
			best = v;
			best_k = k;
		}
	}
	return best_k;
}

/* ------------------------------------------------------------------ */
/* Logistic regression                                                 */
/* ------------------------------------------------------------------ */

double
logit_predict(const double *x, int d, const double *beta)
{
	double		z = beta[0];
	int			j;

	for (j = 0; j < d; j++)
		z += beta[j + 1] * x[j];
	if (z > 35)
		return 1.0;
	if (z < -35)
		return 0.0;
	return 1.0 / (1.0 + exp(-z));
}

/* Solve A x = b for symmetric positive definite A (m x m) by Cholesky */
static int
cholesky_solve(double *A, double *b, int m)
{
	int			i,
				j,
				k;

	for (j = 0; j < m; j++)
	{
		double		s = A[j * m + j];

		for (k = 0; k < j; k++)
			s -= A[j * m + k] * A[j * m + k];
		if (s <= 1e-12)
			return -1;
		A[j * m + j] = sqrt(s);
		for (i = j + 1; i < m; i++)
		{
			double		t = A[i * m + j];

			for (k = 0; k < j; k++)
				t -= A[i * m + k] * A[j * m + k];
			A[i * m + j] = t / A[j * m + j];
		}
	}
	for (i = 0; i < m; i++)
	{
		double		t = b[i];

		for (k = 0; k < i; k++)
			t -= A[i * m + k] * b[k];
		b[i] = t / A[i * m + i];
	}
	for (i = m - 1; i >= 0; i--)
	{
		double		t = b[i];

		for (k = i + 1; k < m; k++)
			t -= A[k * m + i] * b[k];
		b[i] = t / A[i * m + i];
	}
	return 0;
}

int
logit_fit(const double *X, const int *y, size_t n, int d,
		  double lambda, int max_iter, double *beta)
{
	int			m = d + 1,
				it,
				j,
				k;
	double		H[(LEARN_MAX_FEATURES + 1) * (LEARN_MAX_FEATURES + 1)];
	double		g[LEARN_MAX_FEATURES + 1];

	if (d < 0 || d > LEARN_MAX_FEATURES)
		return -1;
	memset(beta, 0, sizeof(double) * m);
	for (it = 1; it <= max_iter; it++)
	{
		size_t		r;
		double		step = 0.0;

		memset(H, 0, sizeof(double) * m * m);
		memset(g, 0, sizeof(double) * m);
		for (r = 0; r < n; r++)
		{
			const double *x = X + r * d;
			double		p = logit_predict(x, d, beta),
						w = p * (1.0 - p),
						e = (double) y[r] - p;

			if (w < 1e-10)
				w = 1e-10;
			for (j = 0; j < m; j++)
			{
				double		xj = j == 0 ? 1.0 : x[j - 1];

				g[j] += e * xj;
				for (k = 0; k <= j; k++)
				{
					double		xk = k == 0 ? 1.0 : x[k - 1];

					H[j * m + k] += w * xj * xk;
				}
			}
		}
		for (j = 0; j < m; j++)
		{
			for (k = j + 1; k < m; k++)
				H[j * m + k] = H[k * m + j];
			if (j > 0)
			{
				H[j * m + j] += lambda;
				g[j] -= lambda * beta[j];
			}
			else
				H[0] += 1e-9;
		}
		if (cholesky_solve(H, g, m) != 0)
			return -1;
		for (j = 0; j < m; j++)
		{
			beta[j] += g[j];
			step = fmax(step, fabs(g[j]));
		}
		if (step < 1e-8)
			break;
	}
	return it > max_iter ? max_iter : it;
}

typedef struct ScoredLabel
{
	double		score;
	int			label;
} ScoredLabel;

static int
cmp_score(const void *a, const void *b)
{
	double		x = ((const ScoredLabel *) a)->score,
				y = ((const ScoredLabel *) b)->score;

	return (x > y) - (x < y);
}

double
auc_compute(const double *scores, const int *labels, size_t n)
{
	ScoredLabel *v;
	double		pos = 0,
				neg = 0,
				rank_sum = 0;
	size_t		i = 0;

	if (n == 0)
		return 0.5;
	v = malloc(sizeof(ScoredLabel) * n);
	if (v == NULL)
		return 0.5;
	for (i = 0; i < n; i++)
	{
		v[i].score = scores[i];
		v[i].label = labels[i] ? 1 : 0;
	}
	qsort(v, n, sizeof(ScoredLabel), cmp_score);
	/* Mann-Whitney U with average ranks for ties */
	i = 0;
	while (i < n)
	{
		size_t		j = i,
					k;
		double		avg;

		while (j + 1 < n && v[j + 1].score == v[i].score)
			j++;
		avg = (double) (i + j) / 2.0 + 1.0;
		for (k = i; k <= j; k++)
			if (v[k].label)
			{
				rank_sum += avg;
				pos++;
			}
			else
				neg++;
		i = j + 1;
	}
	free(v);
	if (pos == 0 || neg == 0)
		return 0.5;
	return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}
