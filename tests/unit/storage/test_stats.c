/* SPDX-License-Identifier: MIT */
/* Statistics (src/storage/stats.c) and the submission batcher (poller.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/storage_int.h"

static void buckets_are_monotonic_and_tight(void **state)
{
	(void)state;
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 / 2 + 1) {
		unsigned b = sto_lat_bucket(v);
		uint64_t mid = sto_lat_bucket_value(b);

		assert_true(b < STO_LAT_BUCKETS);
		assert_true(sto_lat_bucket(v + 1) >= b);
		/* The reported value is within 1/16 of the true one. */
		assert_true(mid * 16 >= v * 15 && mid * 16 <= v * 17);
	}
	assert_true(sto_lat_bucket(UINT64_MAX) < STO_LAT_BUCKETS);
}

static void percentiles_follow_the_data(void **state)
{
	static struct fq_storage st;
	struct fq_storage_stats out;
	struct sto_req r = {.op = FQ_STORAGE_READ, .len = 100};
	uint64_t sum = 0;

	(void)state;
	sto_stats_reset(&st.stats);
	/* 1000 reads: latencies 1..1000 us. */
	for (uint64_t i = 1; i <= 1000; i++) {
		r.t_start = 0;
		r.result = i == 500 ? -5 : 0;
		sto_stats_complete(&st.stats, &r, i * 1000);
		sum += i * 1000;
	}
	sto_stats_export(&st, &out);
	assert_int_equal(out.op[FQ_STORAGE_READ].ops, 1000);
	assert_int_equal(out.op[FQ_STORAGE_READ].bytes, 100000);
	assert_int_equal(out.op[FQ_STORAGE_READ].errors, 1);
	assert_int_equal(out.op[FQ_STORAGE_READ].lat_mean_ns, sum / 1000);
	assert_int_equal(out.op[FQ_STORAGE_READ].lat_min_ns, 1000);
	assert_int_equal(out.op[FQ_STORAGE_READ].lat_max_ns, 1000000);
	assert_in_range(out.op[FQ_STORAGE_READ].lat_p50_ns, 470000, 530000);
	assert_in_range(out.op[FQ_STORAGE_READ].lat_p90_ns, 846000, 954000);
	assert_in_range(out.op[FQ_STORAGE_READ].lat_p99_ns, 930000, 1000000);
	assert_int_equal(out.op[FQ_STORAGE_WRITE].ops, 0);
	assert_int_equal(out.op[FQ_STORAGE_WRITE].lat_p99_ns, 0);
}

static void batch_follows_request_rate(void **state)
{
	struct sto_config c;
	struct sto_poller p;
	uint64_t t = 1000000000ull;

	(void)state;
	sto_config_defaults(&c);
	c.max_batch_size = 32;
	sto_poller_init(&p, &c);
	assert_int_equal(p.batch, 1);
	/* 1,000,000 submissions per second for 5 ms: ~20 per 20 us. */
	for (int i = 0; i < 5000; i++)
		sto_poller_note_submit(&p, t += 1000);
	assert_in_range(p.batch, 10, 32);
	/* 10,000 per second: back to one at a time. */
	for (int i = 0; i < 200; i++)
		sto_poller_note_submit(&p, t += 100000);
	assert_int_equal(p.batch, 1);
	/* Pinned. */
	c.adaptive_batching = false;
	sto_poller_init(&p, &c);
	for (int i = 0; i < 5000; i++)
		sto_poller_note_submit(&p, t += 1000);
	assert_int_equal(p.batch, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets_are_monotonic_and_tight),
		cmocka_unit_test(percentiles_follow_the_data),
		cmocka_unit_test(batch_follows_request_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
