/* SPDX-License-Identifier: MIT */
/*
 * The volume gate (src/volume/gate.c): which I/O goes, waits or is held,
 * in what order it comes back, and how a limit change applies to what
 * already waits. Times are given, so nothing here depends on the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "volume/vol_internal.h"

#define MS 1000000ull
#define T0 (1000 * MS)
#define NIO 1100

static struct fq_bdev *bdev;
static struct fq_bdev_io ios[NIO];
static int owner_tag;

static int setup(void **state)
{
	(void)state;
	bdev = calloc(1, sizeof(*bdev));
	memset(ios, 0, sizeof(ios));
	return bdev ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(bdev);
	return 0;
}

static struct fq_bdev_io *mk(int i, enum fq_bdev_io_type type, uint64_t len)
{
	struct fq_bdev_io *io = &ios[i];

	memset(io, 0, sizeof(*io));
	io->type = type;
	io->length = len;
	assert_non_null(gate_push(bdev, io, &owner_tag));
	return io;
}

static void unlimited_goes(void **state)
{
	struct vol_gate g;
	struct fq_vol_qos q = {0};

	(void)state;
	gate_init(&g, &q);
	for (int i = 0; i < 100; i++)
		assert_int_equal(gate_admit(&g, mk(i, FQ_BDEV_IO_READ, 4096), T0), GATE_GO);
	assert_int_equal(gate_waiting(&g), 0);
	assert_ptr_equal(gate_owner(&ios[0]), &owner_tag);
}

static void read_limit_queues_reads_only(void **state)
{
	struct fq_vol_qos q = {.read_iops = 10, .burst_ms = 1};
	struct fq_bdev_io *io;
	struct vol_gate g;
	uint64_t w;

	(void)state;
	gate_init(&g, &q);
	assert_int_equal(gate_admit(&g, mk(0, FQ_BDEV_IO_READ, 4096), T0), GATE_GO);
	assert_int_equal(gate_admit(&g, mk(1, FQ_BDEV_IO_READ, 4096), T0), GATE_QUEUED);
	assert_int_equal(gate_admit(&g, mk(2, FQ_BDEV_IO_READ, 4096), T0), GATE_QUEUED);
	/* Writes and flushes have no limit: they pass the waiting reads. */
	assert_int_equal(gate_admit(&g, mk(3, FQ_BDEV_IO_WRITE, 4096), T0), GATE_GO);
	assert_int_equal(gate_admit(&g, mk(4, FQ_BDEV_IO_FLUSH, 0), T0), GATE_GO);
	assert_int_equal(gate_waiting(&g), 2);
	assert_int_equal(g.delayed, 2);
	/* 100 ms per read, 1 ms of burst: the first waiter goes at 99 ms. */
	assert_int_equal(gate_head_wait(&g, T0), 99 * MS);
	assert_int_equal(gate_head_wait(&g, T0 + 50 * MS), 49 * MS);
	assert_null(gate_next(&g, T0, &w));
	assert_int_equal(w, 99 * MS);
	assert_null(gate_next(&g, T0 + 98 * MS, &w));
	io = gate_next(&g, T0 + 99 * MS, &w);
	assert_ptr_equal(io, &ios[1]);
	assert_null(gate_next(&g, T0 + 99 * MS, &w));
	io = gate_next(&g, T0 + 199 * MS, &w);
	assert_ptr_equal(io, &ios[2]);
	assert_null(gate_next(&g, T0 + 199 * MS, &w));
	assert_int_equal(w, UINT64_MAX);
	assert_int_equal(gate_head_wait(&g, T0 + 199 * MS), UINT64_MAX);
}

static void order_kept_within_a_direction(void **state)
{
	struct fq_vol_qos q = {.write_bps = 4096, .burst_ms = 1};
	struct vol_gate g;
	uint64_t w, t = T0;
	int got = 0;

	(void)state;
	gate_init(&g, &q);
	assert_int_equal(gate_admit(&g, mk(0, FQ_BDEV_IO_WRITE, 4096), T0), GATE_GO);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(gate_admit(&g, mk(i, FQ_BDEV_IO_WRITE, 4096), T0), GATE_QUEUED);
	/* Deallocates move no bytes, but wait behind the writes all the same. */
	assert_int_equal(gate_admit(&g, mk(6, FQ_BDEV_IO_DEALLOCATE, 4096), T0), GATE_QUEUED);
	while (got < 6) {
		struct fq_bdev_io *io = gate_next(&g, t, &w);

		if (!io) {
			assert_true(w > 0 && w != UINT64_MAX);
			t += w;
			continue;
		}
		assert_ptr_equal(io, &ios[1 + got]);
		got++;
	}
	/* Five 4 KiB writes at 4 KiB/s after the first: about five seconds. */
	assert_true(t - T0 >= 4999 * MS);
}

static void limit_change_applies_to_waiters(void **state)
{
	struct fq_vol_qos q = {.read_iops = 1, .burst_ms = 1};
	struct vol_gate g;
	uint64_t w;

	(void)state;
	gate_init(&g, &q);
	gate_admit(&g, mk(0, FQ_BDEV_IO_READ, 512), T0);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(gate_admit(&g, mk(i, FQ_BDEV_IO_READ, 512), T0), GATE_QUEUED);
	assert_null(gate_next(&g, T0, &w));
	assert_true(w >= 998 * MS);
	/* Unlimited now: everything waiting goes at the next look, in order. */
	q.read_iops = 0;
	gate_set(&g, &q);
	for (int i = 1; i <= 3; i++)
		assert_ptr_equal(gate_next(&g, T0 + MS, &w), &ios[i]);
	assert_int_equal(gate_waiting(&g), 0);
	/* A higher rate: the next one conforms after its 1/1000 s, not the old second. */
	q.read_iops = 1000;
	gate_set(&g, &q);
	gate_admit(&g, mk(4, FQ_BDEV_IO_READ, 512), T0 + MS);
	gate_admit(&g, mk(5, FQ_BDEV_IO_READ, 512), T0 + MS);
	assert_int_equal(gate_admit(&g, mk(6, FQ_BDEV_IO_READ, 512), T0 + MS), GATE_QUEUED);
	assert_ptr_equal(gate_next(&g, T0 + 3 * MS, &w), &ios[6]);
}

static void suspend_holds_up_to_the_bound(void **state)
{
	struct fq_vol_qos q = {0};
	struct fq_bdev_io *io;
	struct vol_gate g;
	uint32_t n = 0;

	(void)state;
	gate_init(&g, &q);
	assert_int_equal(gate_suspend(&g), 0);
	assert_int_equal(gate_suspend(&g), -EALREADY);
	for (uint32_t i = 0; i < FQ_VOL_SUSPEND_MAX_HELD; i++)
		assert_int_equal(
			gate_admit(&g, mk((int)i, i % 3 ? FQ_BDEV_IO_WRITE : FQ_BDEV_IO_FLUSH, 512),
				   T0),
			GATE_HELD);
	assert_int_equal(gate_admit(&g, mk(FQ_VOL_SUSPEND_MAX_HELD, FQ_BDEV_IO_READ, 512), T0),
			 GATE_FULL);
	assert_int_equal(g.held.n, FQ_VOL_SUSPEND_MAX_HELD);
	/* Resume gives every held I/O back, in arrival order. */
	for (io = gate_resume(&g); io; io = gate_link_next(io))
		assert_ptr_equal(io, &ios[n++]);
	assert_int_equal(n, FQ_VOL_SUSPEND_MAX_HELD);
	assert_false(g.suspended);
	assert_int_equal(g.held.n, 0);
	assert_int_equal(gate_admit(&g, mk(0, FQ_BDEV_IO_READ, 512), T0), GATE_GO);
}

static void take_all_empties_the_gate(void **state)
{
	struct fq_vol_qos q = {.read_iops = 1, .write_iops = 1, .burst_ms = 1};
	struct fq_bdev_io *io;
	struct vol_gate g;
	int n = 0;

	(void)state;
	gate_init(&g, &q);
	gate_admit(&g, mk(0, FQ_BDEV_IO_READ, 512), T0);
	gate_admit(&g, mk(1, FQ_BDEV_IO_WRITE, 512), T0);
	assert_int_equal(gate_admit(&g, mk(2, FQ_BDEV_IO_READ, 512), T0), GATE_QUEUED);
	assert_int_equal(gate_admit(&g, mk(3, FQ_BDEV_IO_WRITE, 512), T0), GATE_QUEUED);
	gate_suspend(&g);
	assert_int_equal(gate_admit(&g, mk(4, FQ_BDEV_IO_READ, 512), T0), GATE_HELD);
	for (io = gate_take_all(&g); io; io = gate_link_next(io))
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(gate_waiting(&g), 0);
	assert_int_equal(g.held.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unlimited_goes, setup, teardown),
		cmocka_unit_test_setup_teardown(read_limit_queues_reads_only, setup, teardown),
		cmocka_unit_test_setup_teardown(order_kept_within_a_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(limit_change_applies_to_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(suspend_holds_up_to_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(take_all_empties_the_gate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
