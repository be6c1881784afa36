/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for rate limits (the qos bdev layer, volume throttles),
 * kept as a "theoretical arrival time" (the generic cell rate algorithm):
 * one word per bucket, the time at which the bucket would be full again if
 * nothing else were taken. Taking @cost units pushes it @cost / rate
 * seconds later; an operation conforms while that time is no more than the
 * burst ahead of now, so after an idle spell up to burst_ns worth of the
 * rate (plus one operation) pass at once, and an operation larger than the
 * burst still passes when the bucket is idle (it then leaves a debt).
 *
 * The words are atomics so that several reactors may share a bucket
 * (fq_tbucket_take reserves with a compare-and-swap); a bucket owned by
 * one thread pays nothing for that with relaxed ordering. Times are
 * nanoseconds of any monotonic clock the caller chooses; nothing here reads
 * a clock, so the arithmetic is testable as it is.
 */
#ifndef FQ_UTIL_TBUCKET_H
#define FQ_UTIL_TBUCKET_H

#include <stdatomic.h>
#include <stdint.h>

#define FQ_TBUCKET_NS_PER_S 1000000000ull

struct fq_tbucket {
	_Atomic uint64_t rate; /* units per second; 0 = no limit */
	_Atomic uint64_t tat;  /* when the bucket is full again (ns) */
};

static inline void fq_tbucket_init(struct fq_tbucket *b, uint64_t rate)
{
	atomic_init(&b->rate, rate);
	atomic_init(&b->tat, 0);
}

/* A new rate starts from now: no debt or credit carries over from the old one. */
static inline void fq_tbucket_set_rate(struct fq_tbucket *b, uint64_t rate)
{
	atomic_store_explicit(&b->rate, rate, memory_order_relaxed);
	atomic_store_explicit(&b->tat, 0, memory_order_relaxed);
}

static inline uint64_t fq_tbucket_rate(const struct fq_tbucket *b)
{
	return atomic_load_explicit(&b->rate, memory_order_relaxed);
}

/* Nanoseconds of the rate @cost units take (rounded up, so the limit is never exceeded). */
static inline uint64_t fq_tbucket_cost_ns(uint64_t rate, uint64_t cost)
{
	return (uint64_t)(((unsigned __int128)cost * FQ_TBUCKET_NS_PER_S + rate - 1) / rate);
}

/*
 * How long from @now an operation must wait before it conforms (0: it may
 * start now). Takes nothing: with GCRA the answer does not depend on the
 * operation's cost, only on what was taken before.
 */
static inline uint64_t fq_tbucket_wait(const struct fq_tbucket *b, uint64_t now, uint64_t burst_ns)
{
	uint64_t tat = atomic_load_explicit(&b->tat, memory_order_relaxed);

	if (!fq_tbucket_rate(b) || tat <= now + burst_ns)
		return 0;
	return tat - now - burst_ns;
}

/*
 * Reserve @cost units at @now and return how long the operation must wait
 * before it starts (0: at once). Safe from several threads at once.
 */
static inline uint64_t fq_tbucket_take(struct fq_tbucket *b, uint64_t cost, uint64_t now,
				       uint64_t burst_ns)
{
	uint64_t rate = fq_tbucket_rate(b);
	uint64_t old, start, inc;

	if (!rate || !cost)
		return 0;
	inc = fq_tbucket_cost_ns(rate, cost);
	old = atomic_load_explicit(&b->tat, memory_order_relaxed);
	do {
		start = old > now ? old : now;
	} while (!atomic_compare_exchange_weak_explicit(
		&b->tat, &old, start + inc, memory_order_relaxed, memory_order_relaxed));
	return start > now + burst_ns ? start - now - burst_ns : 0;
}

#endif
