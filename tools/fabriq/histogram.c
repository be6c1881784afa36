/* SPDX-License-Identifier: MIT */
#include "histogram.h"

#include <string.h>

void fq_hist_init(struct fq_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t fq_hist_bucket_low(unsigned i)
{
	unsigned k, e, sub;

	if (i < FQ_HIST_LINEAR)
		return i;
	k = i - FQ_HIST_LINEAR;
	e = k / (1u << FQ_HIST_SUB_BITS) + FQ_HIST_SUB_BITS + 1;
	sub = k % (1u << FQ_HIST_SUB_BITS);
	return ((uint64_t)((1u << FQ_HIST_SUB_BITS) + sub)) << (e - FQ_HIST_SUB_BITS);
}

void fq_hist_merge(struct fq_hist *dst, const struct fq_hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < FQ_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

uint64_t fq_hist_percentile(const struct fq_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)((double)h->count * p / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < FQ_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t hi =
				i + 1 < FQ_HIST_BUCKETS ? fq_hist_bucket_low(i + 1) - 1 : h->max;

			/* Never report beyond what was actually seen. */
			return hi > h->max ? h->max : (hi < h->min ? h->min : hi);
		}
	}
	return h->max;
}

double fq_hist_mean(const struct fq_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
