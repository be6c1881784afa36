/* SPDX-License-Identifier: MIT */
/* Error module: failed, dropped and torn I/O chosen by type, LBA range, count and chance. */
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

#define SIZE (1u << 20)
#define BS 512u
#define READ_ERR FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_READ_ERROR)

struct err_ctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
	uint8_t *buf;
};

static int setup_kv(void **state, const char *kv)
{
	struct err_ctx *c = calloc(1, sizeof(*c));
	struct fq_bdev_opts ram, e;
	char err[128];

	assert_non_null(c);
	assert_int_equal(fq_engine_init(&c->eng, 32), 0);
	bt_opts(&ram, FQ_BDEV_RAM, "size=1M", NULL);
	bt_opts(&e, FQ_BDEV_ERROR, kv, &ram);
	if (fq_bdev_open(&e, &c->bdev, err, sizeof(err)))
		fail_msg("open: %s", err);
	c->buf = bt_alloc(64 * 1024);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	return setup_kv(state, NULL);
}

static int teardown(void **state)
{
	struct err_ctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	free(c->buf);
	free(c);
	return 0;
}

/* One I/O of @nlb blocks at @lba; *status gets the module's NVMe status. */
static int io_at(struct err_ctx *c, enum fq_bdev_io_type type, uint64_t lba, uint32_t nlb,
		 uint16_t *status)
{
	struct iovec iov = {c->buf, (size_t)nlb * BS};
	struct fq_bdev_io io;
	int rc;

	memset(&io, 0, sizeof(io));
	io.type = type;
	io.offset = lba * BS;
	io.length = (uint64_t)nlb * BS;
	io.iov = &iov;
	io.iovcnt = 1;
	rc = bt_run(&c->eng, c->bdev, &io);
	if (status)
		*status = rc ? io.nvme_status : 0;
	assert_int_equal(io.depth, 0);
	return rc;
}

static void set_rule(struct err_ctx *c, int idx, const struct fq_bdev_error_rule *r)
{
	assert_int_equal(fq_bdev_error_set(c->bdev, idx, r), 0);
}

/* Reads touching LBAs 8..15 fail with the chosen status; everything else works. */
static void test_fail_range(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {
		.ops = 1u << FQ_BDEV_IO_READ,
		.lba = 8,
		.nlb = 8,
		.status = FQ_STATUS(FQ_SCT_MEDIA, 0x86) | FQ_STATUS_DNR,
	};
	uint16_t st;

	set_rule(c, 0, &r);
	for (uint64_t lba = 0; lba < 24; lba++) {
		int rc = io_at(c, FQ_BDEV_IO_READ, lba, 1, &st);

		if (lba >= 8 && lba < 16) {
			assert_int_equal(rc, -EIO);
			assert_int_equal(st, r.status);
		} else {
			assert_int_equal(rc, 0);
		}
	}
	/* Overlapping either edge counts. */
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 4, 5, &st), -EIO);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 15, 4, &st), -EIO);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 0, 8, NULL), 0);
	/* Writes are not chosen. */
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 8, 8, NULL), 0);
	assert_int_equal(fq_bdev_error_hits(c->bdev, 0), 10);
	/* Cleared, the range reads again. */
	set_rule(c, 0, NULL);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 8, 8, NULL), 0);
}

/* A write failure without a chosen status is a write fault; the data stays as it was. */
static void test_fail_write_default_status(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {.ops = 1u << FQ_BDEV_IO_WRITE, .lba = 100, .nlb = 1};
	uint16_t st;

	set_rule(c, 3, &r);
	bt_fill(c->buf, BS, 100 * BS, 1);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 100, 1, &st), -EIO);
	assert_int_equal(st, FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT));
	bt_expect(&c->eng, c->bdev, 100 * BS, BS, -1);
	/* ops = 0 means reads and writes. */
	r.ops = 0;
	set_rule(c, 3, &r);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 100, 1, &st), -EIO);
	assert_int_equal(st, READ_ERR);
}

/* count: the rule affects that many I/Os, then ends. */
static void test_count(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {.count = 2};

	set_rule(c, 0, &r);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 0, 1, NULL), -EIO);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 1, 1, NULL), -EIO);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 0, 1, NULL), 0);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 1, 1, NULL), 0);
	assert_int_equal(fq_bdev_error_hits(c->bdev, 0), 2);
}

/* percent: about that share of matching I/O is affected. */
static void test_percent(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {.percent = 30};
	int failed = 0;

	set_rule(c, 0, &r);
	for (int i = 0; i < 2000; i++)
		failed += io_at(c, FQ_BDEV_IO_READ, (uint64_t)i % 64, 1, NULL) != 0;
	assert_int_equal(fq_bdev_error_hits(c->bdev, 0), failed);
	assert_true(failed > 400 && failed < 800);
}

static void cb_count(struct fq_bdev_io *io, int result)
{
	(void)result;
	(*(int *)io->cb_arg)++;
}

/* drop: the I/O is accepted and never completed; others go on. */
static void test_drop(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {.lba = 32, .nlb = 1, .action = FQ_BDEV_ERR_DROP};
	struct iovec iov = {c->buf, BS};
	struct fq_bdev_io io;
	int calls = 0;

	set_rule(c, 0, &r);
	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_READ;
	io.offset = 32 * BS;
	io.length = BS;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = cb_count;
	io.cb_arg = &calls;
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, &io), 0);
	for (int i = 0; i < 5; i++)
		assert_true(fq_engine_run(&c->eng, 0, 10000000) >= 0);
	assert_int_equal(calls, 0);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 31, 1, NULL), 0);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 33, 1, NULL), 0);
	assert_int_equal(calls, 0);
	assert_int_equal(fq_bdev_error_hits(c->bdev, 0), 1);
}

static void cb_result(struct fq_bdev_io *io, int result)
{
	*(int *)io->cb_arg = result;
}

/*
 * Dropped I/O comes back, aborted, when shutdown asks each engine for what
 * the stack holds (fq_bdev_abort_held): only the asking engine's I/O, once.
 */
static void test_drop_abort_held(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {.lba = 32, .nlb = 2, .action = FQ_BDEV_ERR_DROP};
	struct iovec iov[2] = {{c->buf, BS}, {c->buf + BS, BS}};
	struct fq_bdev_io io[2];
	struct fq_engine other;
	int result[2] = {1, 1};

	assert_int_equal(fq_engine_init(&other, 8), 0);
	set_rule(c, 0, &r);
	for (int i = 0; i < 2; i++) {
		memset(&io[i], 0, sizeof(io[i]));
		io[i].type = i ? FQ_BDEV_IO_WRITE : FQ_BDEV_IO_READ;
		io[i].offset = (32 + i) * BS;
		io[i].length = BS;
		io[i].iov = &iov[i];
		io[i].iovcnt = 1;
		io[i].cb = cb_result;
		io[i].cb_arg = &result[i];
		assert_int_equal(fq_bdev_submit(c->bdev, i ? &other : &c->eng, &io[i]), 0);
	}
	assert_int_equal(result[0], 1);
	assert_int_equal(fq_bdev_abort_held(c->bdev, &c->eng), 1);
	assert_int_equal(result[0], -ECANCELED);
	assert_int_equal(io[0].nvme_status, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_ABORT_SQ_DEL));
	assert_int_equal(io[0].depth, 0); /* the frame it pushed is gone */
	assert_int_equal(result[1], 1);	  /* the other engine's stays held */
	assert_int_equal(fq_bdev_abort_held(c->bdev, &c->eng), 0);
	assert_int_equal(fq_bdev_abort_held(c->bdev, &other), 1);
	assert_int_equal(result[1], -ECANCELED);
	assert_int_equal(fq_bdev_abort_held(c->bdev, &other), 0);
	/* A layer with nothing to hold answers 0 all the way down. */
	assert_int_equal(fq_bdev_abort_held(c->bdev->base, &c->eng), 0);
	fq_engine_fini(&other);
}

/* tear: the first tear_blocks blocks of a write land, then it fails. */
static void test_tear(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule r = {
		.ops = 1u << FQ_BDEV_IO_WRITE,
		.lba = 64,
		.nlb = 64,
		.action = FQ_BDEV_ERR_TEAR,
		.status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INTERNAL),
		.tear_blocks = 3,
	};
	uint16_t st;

	set_rule(c, 0, &r);
	bt_fill(c->buf, 8 * BS, 64 * BS, 7);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 64, 8, &st), -EIO);
	assert_int_equal(st, r.status);
	bt_expect(&c->eng, c->bdev, 64 * BS, 3 * BS, 7);
	bt_expect(&c->eng, c->bdev, 67 * BS, 5 * BS, -1);
	/* A write shorter than the tear lands whole, and still fails. */
	bt_fill(c->buf, 2 * BS, 80 * BS, 9);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 80, 2, &st), -EIO);
	bt_expect(&c->eng, c->bdev, 80 * BS, 2 * BS, 9);
	/* Reads are never torn (the rule is for writes). */
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 64, 8, NULL), 0);
}

/* The first matching active slot applies. */
static void test_slots(void **state)
{
	struct err_ctx *c = *state;
	struct fq_bdev_error_rule a = {.lba = 0, .nlb = 4, .status = FQ_STATUS(0, 0x02)};
	struct fq_bdev_error_rule b = {.lba = 2, .nlb = 4, .status = FQ_STATUS(0, 0x04)};
	uint16_t st;

	set_rule(c, 1, &a);
	set_rule(c, 5, &b);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 2, 1, &st), -EIO);
	assert_int_equal(st, a.status);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 5, 1, &st), -EIO);
	assert_int_equal(st, b.status);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 6, 1, NULL), 0);
	/* Bad arguments. */
	assert_int_equal(fq_bdev_error_set(c->bdev, FQ_BDEV_ERROR_RULES, &a), -EINVAL);
	assert_int_equal(fq_bdev_error_set(c->bdev, -1, &a), -EINVAL);
	assert_int_equal(fq_bdev_error_set(c->bdev->base, 0, &a), -EINVAL);
	a.percent = 101;
	assert_int_equal(fq_bdev_error_set(c->bdev, 0, &a), -EINVAL);
	a.percent = 0;
	a.action = (enum fq_bdev_error_action)7;
	assert_int_equal(fq_bdev_error_set(c->bdev, 0, &a), -EINVAL);
	assert_int_equal(fq_bdev_error_hits(c->bdev, 99), -EINVAL);
}

/* With no rule the layer is transparent. */
static void test_data_path(void **state)
{
	struct err_ctx *c = *state;

	bt_data_path(&c->eng, c->bdev);
}

/* A rule from the configuration: installed in slot 0 when the bdev opens. */
static int setup_conf(void **state)
{
	return setup_kv(state, "op=write,lba=4-7,count=1,sct=0,sc=6,dnr=1");
}

static void test_conf_rule(void **state)
{
	struct err_ctx *c = *state;
	uint16_t st;

	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 3, 1, NULL), 0);
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 5, 1, NULL), 0);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 7, 2, &st), -EIO);
	assert_int_equal(st, FQ_STATUS(0, 6) | FQ_STATUS_DNR);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 7, 2, NULL), 0); /* count=1 */
}

/* The spec's rule as run-time parameters: read back, changed, re-armed. */
static void test_params(void **state)
{
	struct err_ctx *c = *state;
	char buf[192], err[256];
	uint16_t st;

	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "op=write,action=fail,lba=4-7,count=1,sct=0,sc=6,dnr=1");
	/* Moved to reads of 20..21, with a media status, no limit. */
	assert_int_equal(fq_bdev_set_params(c->bdev, "op=read,lba=20-21,count=0,sct=2,sc=0x81",
					    NULL, err, sizeof(err)),
			 0);
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "op=read,action=fail,lba=20-21,count=0,sct=2,sc=129,dnr=1");
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 4, 4, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 21, 1, &st), -EIO);
		assert_int_equal(st, FQ_STATUS(2, 0x81) | FQ_STATUS_DNR);
	}
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 22, 1, NULL), 0);
	/* The text it gives back is a spec: set it again, nothing changes. */
	assert_int_equal(fq_bdev_set_params(c->bdev, buf, NULL, err, sizeof(err)), 0);
	assert_int_equal(fq_bdev_params_text(c->bdev, err, sizeof(err)), 0);
	assert_string_equal(err, buf);
	assert_int_equal(fq_bdev_set_params(c->bdev, "action=tear", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "action=tear needs tear=BLOCKS"));
	assert_int_equal(fq_bdev_set_params(c->bdev, "op=sideways", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad op 'sideways'"));
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 20, 1, NULL), -EIO);
}

/* Without a rule there is nothing to show; setting one arms slot 0. */
static void test_params_no_rule(void **state)
{
	struct err_ctx *c = *state;
	char buf[128], err[256];

	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 9, 1, NULL), 0);
	assert_int_equal(fq_bdev_set_params(c->bdev, "lba=9", NULL, err, sizeof(err)), 0);
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "op=rw,action=fail,lba=9-9,count=0,dnr=0");
	assert_int_equal(io_at(c, FQ_BDEV_IO_READ, 9, 1, NULL), -EIO);
	assert_int_equal(io_at(c, FQ_BDEV_IO_WRITE, 9, 1, NULL), -EIO);
}

static void test_parse(void **state)
{
	static const struct {
		const char *key, *val;
	} bad[] = {
		{"op", "append"}, {"lba", "9-3"},     {"lba", "x"},	     {"count", "-1"},
		{"percent", "0"}, {"percent", "101"}, {"action", "explode"}, {"sct", "8"},
		{"sc", "256"},	  {"dnr", "2"},	      {"tear", "0"},
	};
	const struct fq_bdev_module *m = fq_bdev_module_find("error");
	struct fq_bdev_opts o, ram;
	struct fq_bdev *b;
	char err[160];

	(void)state;
	assert_non_null(m);
	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_ERROR), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];

		err[0] = '\0';
		snprintf(want, sizeof(want), "bad %s '%s'", bad[i].key, bad[i].val);
		if (m->parse(&o, bad[i].key, bad[i].val, err, sizeof(err)) != -EINVAL ||
		    !strstr(err, want))
			fail_msg("%s=%s: got '%s'", bad[i].key, bad[i].val, err);
	}
	assert_int_equal(m->parse(&o, "nsid", "1", err, sizeof(err)), -ENOENT);
	/* tear needs a block count. */
	bt_opts(&ram, FQ_BDEV_RAM, "size=64k", NULL);
	bt_opts(&o, FQ_BDEV_ERROR, "action=tear", &ram);
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "action=tear needs tear=BLOCKS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fail_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_write_default_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_percent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_abort_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_rule, setup_conf, teardown),
		cmocka_unit_test_setup_teardown(test_params, setup_conf, teardown),
		cmocka_unit_test_setup_teardown(test_params_no_rule, setup, teardown),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
