/* SPDX-License-Identifier: MIT */
/*
 * QoS module: rate limits in operations and bytes per direction, changed
 * while I/O runs, and suspend/resume in its three modes. Time is only ever
 * checked from below (a limit makes I/O take at least so long): a loaded
 * machine can make anything slower, never faster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "bdev_test.h"
#include "proto/nvme.h"

#define BS 512u
#define NSLOT 16

struct qctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
	uint8_t *buf;
	struct fq_bdev_io io[NSLOT];
	struct iovec iov[NSLOT];
	int result[NSLOT];
	int done;
};

static int setup_kv(void **state, const char *kv)
{
	struct qctx *c = calloc(1, sizeof(*c));
	struct fq_bdev_opts ram, q;
	char err[128];

	assert_non_null(c);
	assert_int_equal(fq_engine_init(&c->eng, 64), 0);
	bt_opts(&ram, FQ_BDEV_RAM, "size=1M", NULL);
	bt_opts(&q, FQ_BDEV_QOS, kv, &ram);
	if (fq_bdev_open(&q, &c->bdev, err, sizeof(err)))
		fail_msg("open: %s", err);
	c->buf = bt_alloc(NSLOT * 4096);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	return setup_kv(state, NULL);
}

static int setup_small_hold(void **state)
{
	return setup_kv(state, "max_held=2");
}

static int teardown(void **state)
{
	struct qctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	free(c->buf);
	free(c);
	return 0;
}

static void slot_done(struct fq_bdev_io *io, int result)
{
	struct qctx *c = io->cb_arg;

	c->result[io - c->io] = result;
	c->done++;
}

/* Start I/O @i (4 KiB at block @i * 8) without waiting for it. */
static void start(struct qctx *c, int i, enum fq_bdev_io_type type)
{
	struct fq_bdev_io *io = &c->io[i];

	assert_int_not_equal(c->result[i], 1); /* the slot's last I/O is done */
	memset(io, 0, sizeof(*io));
	c->iov[i].iov_base = c->buf + (size_t)i * 4096;
	c->iov[i].iov_len = 4096;
	io->type = type;
	io->offset = (uint64_t)i * 4096;
	io->length = 4096;
	io->iov = &c->iov[i];
	io->iovcnt = 1;
	io->cb = slot_done;
	io->cb_arg = c;
	c->result[i] = 1;
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, io), 0);
}

static void run_until(struct qctx *c, int done)
{
	uint64_t t0 = bt_now_us();

	while (c->done < done) {
		assert_true(fq_engine_run(&c->eng, 1, 50000000) >= 0);
		assert_true(bt_now_us() - t0 < 20000000); /* 20 s: something is stuck */
	}
}

static void run_for_us(struct qctx *c, uint64_t us)
{
	uint64_t t0 = bt_now_us();

	while (bt_now_us() - t0 < us)
		assert_true(fq_engine_run(&c->eng, 0, 1000000) >= 0);
}

/* Run @n I/Os of @type, @qd at a time; returns the microseconds it took. */
static uint64_t run_n(struct qctx *c, enum fq_bdev_io_type type, int n, int qd)
{
	uint64_t t0 = bt_now_us();
	int started = 0;

	c->done = 0;
	while (c->done < n) {
		/* Keep @qd in flight; a start may complete at once (within the burst). */
		while (started < n && started - c->done < qd)
			start(c, started++ % NSLOT, type);
		if (c->done < n)
			run_until(c, c->done + 1);
	}
	for (int i = 0; i < NSLOT && i < n; i++)
		assert_int_equal(c->result[i], 0);
	return bt_now_us() - t0;
}

static struct fq_bdev_qos_stats stats(struct qctx *c)
{
	struct fq_bdev_qos_stats st;

	assert_int_equal(fq_bdev_qos_get(c->bdev, NULL, &st), 0);
	return st;
}

/*
 * read_iops=500 with a 10 ms burst: 105 reads cannot take less than
 * (105 - 5) / 500 s = 200 ms; writes, unlimited, never wait.
 */
static void test_read_iops(void **state)
{
	struct qctx *c = *state;
	struct fq_bdev_qos_limits lim = {.read_iops = 500, .write_iops = 0, .burst_ms = 10};
	uint64_t us;

	lim.read_bps = lim.write_bps = 0;
	assert_int_equal(fq_bdev_qos_set(c->bdev, &lim), 0);
	us = run_n(c, FQ_BDEV_IO_READ, 105, 8);
	assert_true(us >= 195000);
	assert_true(stats(c).delayed > 50);
	{
		uint64_t before = stats(c).delayed;

		run_n(c, FQ_BDEV_IO_WRITE, 200, 8);
		assert_int_equal(stats(c).delayed, before);
	}
}

/* write_bps=1 MB/s, 4 KiB writes: 80 of them (327,680 bytes) take >= 0.30 s. */
static void test_write_bps(void **state)
{
	struct qctx *c = *state;
	struct fq_bdev_qos_limits lim = {.read_iops = FQ_BDEV_QOS_KEEP,
					 .write_iops = FQ_BDEV_QOS_KEEP,
					 .read_bps = FQ_BDEV_QOS_KEEP,
					 .write_bps = 1000000,
					 .burst_ms = 10};
	struct fq_bdev_qos_limits got;

	assert_int_equal(fq_bdev_qos_set(c->bdev, &lim), 0);
	assert_true(run_n(c, FQ_BDEV_IO_WRITE, 80, 4) >= 300000);
	assert_int_equal(fq_bdev_qos_get(c->bdev, &got, NULL), 0);
	assert_int_equal(got.write_bps, 1000000);
	assert_int_equal(got.read_iops, 0); /* kept */
	assert_int_equal(got.burst_ms, 10);
}

/* Lifting a limit while I/O runs: nothing waits any more. */
static void test_live_change(void **state)
{
	struct qctx *c = *state;
	struct fq_bdev_qos_limits lim = {.read_iops = 100, .burst_ms = 1};
	uint64_t before;

	assert_int_equal(fq_bdev_qos_set(c->bdev, &lim), 0);
	assert_true(run_n(c, FQ_BDEV_IO_READ, 12, 4) >= 90000);
	lim.read_iops = 0;
	assert_int_equal(fq_bdev_qos_set(c->bdev, &lim), 0);
	before = stats(c).delayed;
	run_n(c, FQ_BDEV_IO_READ, 500, 8);
	assert_int_equal(stats(c).delayed, before);
}

/* Run-time parameters as text: limits change, the hold limit does not. */
static void test_params(void **state)
{
	struct qctx *c = *state;
	struct fq_bdev_qos_limits lim;
	char buf[192], err[256];

	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "read_iops=0,write_iops=0,read_bps=0,write_bps=0,burst_ms=100,"
				 "max_held=4096");
	assert_int_equal(
		fq_bdev_set_params(c->bdev, "read_iops=100,burst_ms=1", NULL, err, sizeof(err)), 0);
	assert_int_equal(fq_bdev_qos_get(c->bdev, &lim, NULL), 0);
	assert_int_equal(lim.read_iops, 100);
	assert_int_equal(lim.burst_ms, 1);
	assert_true(run_n(c, FQ_BDEV_IO_READ, 12, 4) >= 90000);
	assert_int_equal(fq_bdev_set_params(c->bdev, "max_held=5", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "max_held cannot change at run time"));
	assert_int_equal(
		fq_bdev_set_params(c->bdev, "max_held=4096,write_bps=7", NULL, err, sizeof(err)),
		0);
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "read_iops=100,write_iops=0,read_bps=0,write_bps=7,burst_ms=1,"
				 "max_held=4096");
}

/* Options from the spec, and what is refused. */
static void test_parse(void **state)
{
	const struct fq_bdev_module *m = fq_bdev_module_find("qos");
	struct fq_bdev_opts o;
	char err[128];

	(void)state;
	assert_non_null(m);
	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_QOS), 0);
	assert_int_equal(m->parse(&o, "read_iops", "1000", err, sizeof(err)), 0);
	assert_int_equal(m->parse(&o, "write_bps", "0x100000", err, sizeof(err)), 0);
	assert_int_equal(m->parse(&o, "burst_ms", "50", err, sizeof(err)), 0);
	assert_int_equal(m->parse(&o, "read_iops", "lots", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "read_iops"));
	assert_int_equal(m->parse(&o, "burst_ms", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(m->parse(&o, "burst_ms", "10001", err, sizeof(err)), -EINVAL);
	assert_int_equal(m->parse(&o, "max_held", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(m->parse(&o, "iops", "5", err, sizeof(err)), -ENOENT);
	assert_int_equal(fq_bdev_qos_set(NULL, &(struct fq_bdev_qos_limits){0}), -EINVAL);
}

/* Suspended: nothing reaches the base; resume normal lets it all through. */
static void test_suspend_resume_normal(void **state)
{
	struct qctx *c = *state;

	bt_write_pattern(&c->eng, c->bdev, 0, 3 * 4096, 7);
	assert_int_equal(fq_bdev_qos_suspend(c->bdev), 0);
	assert_int_equal(fq_bdev_qos_suspend(c->bdev), -EALREADY);
	c->done = 0;
	for (int i = 0; i < 3; i++)
		start(c, i, FQ_BDEV_IO_READ);
	run_for_us(c, 30000);
	assert_int_equal(c->done, 0);
	assert_int_equal(stats(c).held, 3);
	assert_true(stats(c).suspended);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_NORMAL), 0);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_NORMAL), -EALREADY);
	run_until(c, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c->result[i], 0);
		assert_int_equal(bt_check(c->buf + i * 4096, 4096, (uint64_t)i * 4096, 7), -1);
	}
	assert_int_equal(stats(c).held, 0);
}

/* Resume error: what was held fails with Internal Error; later I/O works. */
static void test_resume_error(void **state)
{
	struct qctx *c = *state;

	assert_int_equal(fq_bdev_qos_suspend(c->bdev), 0);
	c->done = 0;
	start(c, 0, FQ_BDEV_IO_WRITE);
	start(c, 1, FQ_BDEV_IO_READ);
	run_for_us(c, 5000);
	assert_int_equal(c->done, 0);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_ERROR), 0);
	run_until(c, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(c->result[i], -EIO);
		assert_int_equal(c->io[i].nvme_status, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INTERNAL));
	}
	run_n(c, FQ_BDEV_IO_READ, 4, 4); /* each must succeed: checked inside */
}

/* Resume discard: held writes succeed without writing, held reads give zeroes. */
static void test_resume_discard(void **state)
{
	struct qctx *c = *state;

	bt_write_pattern(&c->eng, c->bdev, 0, 2 * 4096, 3);
	assert_int_equal(fq_bdev_qos_suspend(c->bdev), 0);
	c->done = 0;
	bt_fill(c->buf, 4096, 0, 9);
	start(c, 0, FQ_BDEV_IO_WRITE); /* would overwrite block 0 with seed 9 */
	memset(c->buf + 4096, 0xab, 4096);
	start(c, 1, FQ_BDEV_IO_READ);
	run_for_us(c, 5000);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_DISCARD), 0);
	run_until(c, 2);
	assert_int_equal(c->result[0], 0);
	assert_int_equal(c->result[1], 0);
	assert_int_equal(bt_check_byte(c->buf + 4096, 4096, 0), -1);
	bt_expect(&c->eng, c->bdev, 0, 2 * 4096, 3); /* the write never landed */
}

/* Beyond max_held, a new I/O fails at once with Namespace Not Ready (retryable). */
static void test_hold_limit(void **state)
{
	struct qctx *c = *state;

	assert_int_equal(fq_bdev_qos_suspend(c->bdev), 0);
	c->done = 0;
	start(c, 0, FQ_BDEV_IO_READ);
	start(c, 1, FQ_BDEV_IO_READ);
	start(c, 2, FQ_BDEV_IO_READ);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->result[2], -EAGAIN);
	assert_int_equal(c->io[2].nvme_status, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_NS_NOT_READY));
	assert_int_equal(stats(c).held, 2);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_NORMAL), 0);
	run_until(c, 3);
	assert_int_equal(c->result[0], 0);
	assert_int_equal(c->result[1], 0);
}

/* Without an engine to wait on, a held or limited I/O is refused, not lost. */
static void test_no_engine(void **state)
{
	struct qctx *c = *state;
	struct fq_bdev_io io;
	struct iovec iov = {c->buf, 4096};

	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_READ;
	io.length = 4096;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = slot_done;
	io.cb_arg = c;
	assert_int_equal(fq_bdev_qos_suspend(c->bdev), 0);
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), -EINVAL);
	assert_int_equal(stats(c).held, 0);
	assert_int_equal(fq_bdev_qos_resume(c->bdev, FQ_BDEV_QOS_RESUME_NORMAL), 0);
}

/* Unlimited, the layer keeps the base's data path intact. */
static void test_data_path(void **state)
{
	struct qctx *c = *state;

	bt_data_path(&c->eng, c->bdev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_iops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_bps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_suspend_resume_normal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_limit, setup_small_hold, teardown),
		cmocka_unit_test_setup_teardown(test_no_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
