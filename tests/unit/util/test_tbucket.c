/* SPDX-License-Identifier: MIT */
/* Token buckets (src/util/tbucket.h): the GCRA arithmetic with times given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/tbucket.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* any time after 0 */

static void no_rate_never_waits(void **state)
{
	struct fq_tbucket b;

	(void)state;
	fq_tbucket_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(fq_tbucket_take(&b, 1 << 20, T0, 0), 0);
	assert_int_equal(fq_tbucket_wait(&b, T0, 0), 0);
}

static void burst_passes_then_rate(void **state)
{
	struct fq_tbucket b;
	int passed = 0;

	(void)state;
	/* 50/s = 20 ms each; a 100 ms burst lets 100/20 + 1 = 6 pass at once. */
	fq_tbucket_init(&b, 50);
	while (fq_tbucket_wait(&b, T0, 100 * MS) == 0 && passed < 100) {
		fq_tbucket_take(&b, 1, T0, 100 * MS);
		passed++;
	}
	assert_int_equal(passed, 6);
	/* The next conforms 20 ms later, and one more every 20 ms after that. */
	assert_int_equal(fq_tbucket_wait(&b, T0, 100 * MS), 20 * MS);
	assert_int_equal(fq_tbucket_wait(&b, T0 + 20 * MS, 100 * MS), 0);
	fq_tbucket_take(&b, 1, T0 + 20 * MS, 100 * MS);
	assert_int_equal(fq_tbucket_wait(&b, T0 + 20 * MS, 100 * MS), 20 * MS);
}

static void wait_takes_nothing(void **state)
{
	struct fq_tbucket b;

	(void)state;
	fq_tbucket_init(&b, 10);
	fq_tbucket_take(&b, 1, T0, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fq_tbucket_wait(&b, T0, 0), 100 * MS);
}

static void take_returns_the_wait(void **state)
{
	struct fq_tbucket b;

	(void)state;
	/* Reservations: each later one waits its share more (100/s, no burst). */
	fq_tbucket_init(&b, 100);
	assert_int_equal(fq_tbucket_take(&b, 1, T0, 0), 0);
	assert_int_equal(fq_tbucket_take(&b, 1, T0, 0), 10 * MS);
	assert_int_equal(fq_tbucket_take(&b, 1, T0, 0), 20 * MS);
	/* Bytes: 1 MiB/s, a 4 KiB I/O costs 4 096 000 000 / 1 048 576 ns, rounded up. */
	fq_tbucket_init(&b, 1 << 20);
	fq_tbucket_take(&b, 4096, T0, 0);
	assert_int_equal(fq_tbucket_wait(&b, T0, 0), 3906250);
}

static void large_cost_passes_when_idle(void **state)
{
	struct fq_tbucket b;

	(void)state;
	/* 1 MB/s with a 1 ms burst: a 4 MB I/O starts at once and leaves 4 s of debt. */
	fq_tbucket_init(&b, 1000000);
	assert_int_equal(fq_tbucket_wait(&b, T0, MS), 0);
	fq_tbucket_take(&b, 4000000, T0, MS);
	assert_int_equal(fq_tbucket_wait(&b, T0, MS), 4000 * MS - MS);
}

static void idle_time_is_credit_up_to_the_burst(void **state)
{
	struct fq_tbucket b;
	int passed = 0;

	(void)state;
	fq_tbucket_init(&b, 100); /* 10 ms each */
	fq_tbucket_take(&b, 1, T0, 20 * MS);
	/* An hour idle earns no more than the burst: 20/10 + 1 = 3 at once. */
	while (fq_tbucket_wait(&b, T0 + 3600000 * MS, 20 * MS) == 0 && passed < 100) {
		fq_tbucket_take(&b, 1, T0 + 3600000 * MS, 20 * MS);
		passed++;
	}
	assert_int_equal(passed, 3);
}

static void new_rate_drops_the_debt(void **state)
{
	struct fq_tbucket b;

	(void)state;
	fq_tbucket_init(&b, 1);
	for (int i = 0; i < 10; i++)
		fq_tbucket_take(&b, 1, T0, 0);
	assert_true(fq_tbucket_wait(&b, T0, 0) >= 9000 * MS);
	fq_tbucket_set_rate(&b, 1000);
	assert_int_equal(fq_tbucket_rate(&b), 1000);
	assert_int_equal(fq_tbucket_wait(&b, T0, 0), 0);
	fq_tbucket_set_rate(&b, 0);
	assert_int_equal(fq_tbucket_take(&b, 1, T0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_rate_never_waits),
		cmocka_unit_test(burst_passes_then_rate),
		cmocka_unit_test(wait_takes_nothing),
		cmocka_unit_test(take_returns_the_wait),
		cmocka_unit_test(large_cost_passes_when_idle),
		cmocka_unit_test(idle_time_is_credit_up_to_the_burst),
		cmocka_unit_test(new_rate_drops_the_debt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
