/* SPDX-License-Identifier: MIT */
/*
 * The per-command statistics alone: what one 4 KiB read adds to a
 * namespace's counters on the target's I/O path (src/target/io.c and
 * conn.c: reads, bytes_read, one latency bucket and the latency sum, each a
 * relaxed atomic add through fq_stat_add, plus the bucket's computation),
 * timed in a loop on one thread over the real struct fq_tgt_ns. One
 * reactor serves a namespace's commands here, so the cache lines stay with
 * it, as on fabriqd with one reactor. Prints one JSON line with the fastest
 * and the median batch, in nanoseconds per command; divide by the target's
 * CPU time per command (bench/stats_cost.sh) for the share.
 *
 *   stats_add
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "target/tgt.h"

#define BATCH 1000000
#define BATCHES 51

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* As conn.c's lat_record and io.c's read path do it for one command. */
static void one_read(struct fq_tgt_ns *ns, uint64_t lat_ns)
{
	uint64_t us = lat_ns / 1000;
	int b = us ? 64 - __builtin_clzll(us) : 0;

	fq_stat_add(ns->reads, 1);
	fq_stat_add(ns->bytes_read, 4096);
	if (b >= FQ_TGT_LAT_BUCKETS)
		b = FQ_TGT_LAT_BUCKETS - 1;
	fq_stat_add(ns->lat[0][b], 1);
	fq_stat_add(ns->lat_sum_ns[0], lat_ns);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct fq_tgt_ns *ns = calloc(1, sizeof(*ns));
	double t[BATCHES];

	if (!ns)
		return 1;
	for (int k = 0; k < BATCHES; k++) {
		uint64_t t0 = now_ns();

		/* Latencies of 0..127 us: the buckets a RAM or fast file namespace sees. */
		for (uint64_t i = 0; i < BATCH; i++)
			one_read(ns, (i * 2654435761u) % 128000);
		t[k] = (double)(now_ns() - t0) / BATCH;
	}
	qsort(t, BATCHES, sizeof(t[0]), cmp);
	printf("{\"ns_per_command_fastest\": %.2f, \"ns_per_command_median\": %.2f, \"reads\": "
	       "%llu}\n",
	       t[0], t[BATCHES / 2],
	       (unsigned long long)atomic_load_explicit(&ns->reads, memory_order_relaxed));
	free(ns);
	return 0;
}
