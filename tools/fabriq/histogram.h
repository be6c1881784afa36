/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram with log-linear buckets: exact below 64, then 32
 * sub-buckets per power of two (about 3% resolution) up to 2^40. Adding a
 * sample is a few instructions and touches one counter: no allocation, no
 * locks, one histogram per thread, merged when reporting.
 */
#ifndef FQ_TOOLS_HISTOGRAM_H
#define FQ_TOOLS_HISTOGRAM_H

#include <stdint.h>

#define FQ_HIST_SUB_BITS 5
#define FQ_HIST_LINEAR (2u << FQ_HIST_SUB_BITS) /* 64 exact buckets */
#define FQ_HIST_MAX_EXP 40
#define FQ_HIST_BUCKETS                                                                            \
	(FQ_HIST_LINEAR + (FQ_HIST_MAX_EXP - FQ_HIST_SUB_BITS) * (1u << FQ_HIST_SUB_BITS))

struct fq_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t b[FQ_HIST_BUCKETS];
};

void fq_hist_init(struct fq_hist *h);

static inline unsigned fq_hist_index(uint64_t v)
{
	unsigned e;

	if (v < FQ_HIST_LINEAR)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= FQ_HIST_MAX_EXP)
		return FQ_HIST_BUCKETS - 1;
	return FQ_HIST_LINEAR + (e - FQ_HIST_SUB_BITS - 1) * (1u << FQ_HIST_SUB_BITS) +
	       (unsigned)((v >> (e - FQ_HIST_SUB_BITS)) & ((1u << FQ_HIST_SUB_BITS) - 1));
}

static inline void fq_hist_add(struct fq_hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->b[fq_hist_index(v)]++;
}

/* Lower bound of the values that land in bucket @i. */
uint64_t fq_hist_bucket_low(unsigned i);
void fq_hist_merge(struct fq_hist *dst, const struct fq_hist *src);
/* Value at percentile @p (0..100): the upper end of the bucket holding it. */
uint64_t fq_hist_percentile(const struct fq_hist *h, double p);
double fq_hist_mean(const struct fq_hist *h);

#endif
