/* SPDX-License-Identifier: MIT */
/*
 * Statistics: counters per operation type and a log-linear latency
 * histogram (16 linear sub-buckets per power of two, so a percentile is
 * within about 6% of the true value) that costs one increment per
 * completion and no allocation.
 */
#include <string.h>

#include "storage_int.h"

#define SUB_BITS 4
#define SUB (1u << SUB_BITS)

unsigned sto_lat_bucket(uint64_t ns)
{
	unsigned msb;

	if (ns < SUB)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	/* Bucket = (exponent, next SUB_BITS bits below the top bit). */
	return (msb - SUB_BITS + 1) * SUB + (unsigned)((ns >> (msb - SUB_BITS)) & (SUB - 1));
}

/* The midpoint of bucket @b, the value a percentile reports. */
uint64_t sto_lat_bucket_value(unsigned b)
{
	unsigned e = b / SUB, m = b % SUB;
	uint64_t lo, width;

	if (e == 0)
		return m;
	lo = (uint64_t)(SUB + m) << (e - 1);
	width = 1ull << (e - 1);
	return lo + width / 2;
}

void sto_stats_reset(struct sto_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < FQ_STORAGE_NUM_OPS; i++)
		s->op[i].lat_min = UINT64_MAX;
	s->t_reset = sto_now_ns();
}

void sto_stats_submit(struct sto_stats *s, uint32_t outstanding)
{
	if (outstanding > s->outstanding_max)
		s->outstanding_max = outstanding;
	s->occ_sum += outstanding;
	s->occ_samples++;
}

void sto_stats_complete(struct sto_stats *s, const struct sto_req *r, uint64_t now)
{
	struct sto_op_acc *a = &s->op[r->op];
	uint64_t lat = now > r->t_start ? now - r->t_start : 0;
	unsigned b = sto_lat_bucket(lat);

	a->ops++;
	a->bytes += r->len;
	a->retries += r->retries;
	if (r->result)
		a->errors++;
	a->lat_sum += lat;
	if (lat < a->lat_min)
		a->lat_min = lat;
	if (lat > a->lat_max)
		a->lat_max = lat;
	a->hist[b < STO_LAT_BUCKETS ? b : STO_LAT_BUCKETS - 1]++;
}

static uint64_t percentile(const struct sto_op_acc *a, double q)
{
	uint64_t want = (uint64_t)(q * (double)a->ops + 0.999999), seen = 0;

	if (!a->ops)
		return 0;
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < STO_LAT_BUCKETS; b++) {
		seen += a->hist[b];
		if (seen >= want) {
			uint64_t v = sto_lat_bucket_value(b);

			/* Never report outside what was observed. */
			return v < a->lat_min ? a->lat_min : v > a->lat_max ? a->lat_max : v;
		}
	}
	return a->lat_max;
}

static void export_op(const struct sto_op_acc *a, struct fq_storage_op_stats *o)
{
	o->ops = a->ops;
	o->bytes = a->bytes;
	o->errors = a->errors;
	o->retries = a->retries;
	o->lat_mean_ns = a->ops ? a->lat_sum / a->ops : 0;
	o->lat_min_ns = a->ops ? a->lat_min : 0;
	o->lat_max_ns = a->lat_max;
	o->lat_p50_ns = percentile(a, 0.50);
	o->lat_p90_ns = percentile(a, 0.90);
	o->lat_p99_ns = percentile(a, 0.99);
	o->lat_p999_ns = percentile(a, 0.999);
}

void sto_stats_export(const struct fq_storage *st, struct fq_storage_stats *out)
{
	const struct sto_stats *s = &st->stats;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < FQ_STORAGE_NUM_OPS; i++)
		export_op(&s->op[i], &out->op[i]);
	out->rmw_reads = s->rmw_reads;
	out->bounce_bytes = s->bounce_bytes;
	out->elapsed_ns = sto_now_ns() - s->t_reset;
	out->queue_capacity = st->nreqs;
	out->outstanding = st->outstanding;
	out->outstanding_max = s->outstanding_max;
	out->outstanding_mean = s->occ_samples ? (double)s->occ_sum / (double)s->occ_samples : 0;
	out->batch_size = st->poller.batch;
	out->poll_spin_us = sto_poller_spin_us(&st->poller);
	out->waits_spun = s->waits_spun;
	out->waits_slept = s->waits_slept;
}
