/* SPDX-License-Identifier: MIT */
/* Latency histogram: bucket bounds, percentiles against a sorted reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "histogram.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every value lands in the bucket whose bounds contain it. */
static void bucket_bounds_contain_value(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < (1ull << 22); v += 1 + v / 7) {
		unsigned i = fq_hist_index(v);

		assert_true(fq_hist_bucket_low(i) <= v);
		assert_true(i + 1 >= FQ_HIST_BUCKETS || v < fq_hist_bucket_low(i + 1));
	}
	assert_int_equal(fq_hist_index(63), 63);
	assert_int_equal(fq_hist_index(64), 64);
	assert_int_equal(fq_hist_index(UINT64_MAX), FQ_HIST_BUCKETS - 1);
}

/* Percentiles are within one bucket (~3%) of the exact order statistic. */
static void percentiles_match_sorted_samples(void **state)
{
	enum { N = 100000 };
	static uint64_t v[N];
	struct fq_hist h;
	uint64_t seed = 12345;
	const double ps[] = {50, 90, 99, 99.9, 99.99};

	(void)state;
	fq_hist_init(&h);
	for (int i = 0; i < N; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		v[i] = 1000 + seed % 200000; /* 1 us .. 201 us in ns */
		fq_hist_add(&h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp);
	assert_int_equal(h.count, N);
	assert_int_equal(h.min, v[0]);
	assert_int_equal(h.max, v[N - 1]);
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		uint64_t exact = v[(size_t)((double)N * ps[k] / 100.0 + 0.5) - 1];
		uint64_t got = fq_hist_percentile(&h, ps[k]);

		assert_true(got >= exact);
		assert_true((double)got <= (double)exact * 1.04);
	}
}

static void merge_adds_counts(void **state)
{
	struct fq_hist a, b;

	(void)state;
	fq_hist_init(&a);
	fq_hist_init(&b);
	fq_hist_add(&a, 10);
	fq_hist_add(&b, 1000000);
	fq_hist_merge(&a, &b);
	assert_int_equal(a.count, 2);
	assert_int_equal(a.min, 10);
	assert_int_equal(a.max, 1000000);
	assert_int_equal(fq_hist_percentile(&a, 50), 10);
	assert_int_equal(fq_hist_percentile(&a, 100), 1000000);
	assert_true(fq_hist_mean(&a) == 500005.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bucket_bounds_contain_value),
		cmocka_unit_test(percentiles_match_sorted_samples),
		cmocka_unit_test(merge_adds_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
