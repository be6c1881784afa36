/* SPDX-License-Identifier: MIT */
/*
 * fq_bdev_copy, the block layer's copy (src/bdev/copy.c): ranges land at
 * the destination in order, sources stay, copies longer than one chunk and
 * with many ranges complete (a RAM bdev completes inside submit: no stack
 * growth), a file bdev copies through io_uring, a failing read below an
 * error layer fails the copy with that layer's status, and bad requests
 * are refused before anything runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bdev_test.h"

#define MiB (1ull << 20)
#define KiB 1024ull

struct wait {
	int calls, result;
};

static void copy_cb(struct fq_bdev_io *io, int rc)
{
	struct wait *w = io->cb_arg;

	w->calls++;
	w->result = rc;
}

/* Copy @n ranges to @dst and run @eng until it completed. */
static int run_copy(struct fq_engine *eng, struct fq_bdev *b, uint64_t dst,
		    const struct fq_bdev_copy_range *r, uint32_t n, uint16_t *status)
{
	struct fq_bdev_io io;
	struct wait w = {0};
	int rc;

	memset(&io, 0, sizeof(io));
	io.offset = dst;
	io.copy_ranges = r;
	io.copy_nr = n;
	for (uint32_t i = 0; i < n; i++)
		io.length += r[i].len;
	io.cb = copy_cb;
	io.cb_arg = &w;
	rc = fq_bdev_copy(b, eng, &io);
	if (rc) {
		assert_int_equal(w.calls, 0);
		return rc;
	}
	for (int t = 0; !w.calls && t < 1000; t++)
		assert_true(fq_engine_run(eng, 1, 2000000000LL) >= 0);
	assert_int_equal(w.calls, 1);
	if (status)
		*status = io.nvme_status;
	return w.result;
}

static struct fq_bdev *open_bdev(enum fq_bdev_kind kind, const char *kv,
				 const struct fq_bdev_opts *base, struct fq_bdev_opts *o)
{
	struct fq_bdev *b;
	char err[160];

	bt_opts(o, kind, kv, base);
	if (fq_bdev_open(o, &b, err, sizeof(err)))
		fail_msg("open: %s", err);
	return b;
}

static void expect_moved(struct fq_engine *eng, struct fq_bdev *b, uint64_t dst, uint64_t src,
			 uint64_t len, unsigned seed)
{
	uint8_t *buf = bt_alloc(len);
	struct iovec iov = {buf, len};
	long bad;

	assert_int_equal(bt_rw(eng, b, FQ_BDEV_IO_READ, dst, &iov, 1, len), 0);
	/* The pattern is a function of the offset: what moved carries its source's. */
	bad = bt_check(buf, len, src, seed);
	if (bad >= 0)
		fail_msg("byte %ld of the copy to %llu differs", bad, (unsigned long long)dst);
	free(buf);
}

static void test_ram_ranges(void **state)
{
	struct fq_bdev_copy_range r[3] = {{64 * KiB, 32 * KiB}, {0, 16 * KiB}, {8 * KiB, 24 * KiB}};
	struct fq_engine eng;
	struct fq_bdev_opts o;
	struct fq_bdev *b;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	b = open_bdev(FQ_BDEV_RAM, "size=4M", NULL, &o);
	bt_write_pattern(&eng, b, 0, 128 * KiB, 3);
	assert_int_equal(run_copy(&eng, b, 512 * KiB, r, 3, NULL), 0);
	expect_moved(&eng, b, 512 * KiB, 64 * KiB, 32 * KiB, 3);
	expect_moved(&eng, b, 544 * KiB, 0, 16 * KiB, 3);
	expect_moved(&eng, b, 560 * KiB, 8 * KiB, 24 * KiB, 3);
	bt_expect(&eng, b, 0, 128 * KiB, 3); /* the sources stayed */
	fq_bdev_close(b);
	fq_engine_fini(&eng);
}

/* 2.5 MiB in one range (three chunks) and 256 one-block ranges, all in submit. */
static void test_ram_long_and_many(void **state)
{
	struct fq_bdev_copy_range big = {0, 2 * MiB + 512 * KiB}, many[FQ_BDEV_COPY_MAX_RANGES];
	struct fq_engine eng;
	struct fq_bdev_opts o;
	struct fq_bdev *b;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	b = open_bdev(FQ_BDEV_RAM, "size=8M", NULL, &o);
	bt_write_pattern(&eng, b, 0, 3 * MiB, 5);
	assert_int_equal(run_copy(&eng, b, 4 * MiB, &big, 1, NULL), 0);
	expect_moved(&eng, b, 4 * MiB, 0, big.len, 5);
	for (unsigned i = 0; i < FQ_BDEV_COPY_MAX_RANGES; i++)
		many[i] = (struct fq_bdev_copy_range){(uint64_t)(255 - i) * 512, 512};
	assert_int_equal(run_copy(&eng, b, 7 * MiB, many, FQ_BDEV_COPY_MAX_RANGES, NULL), 0);
	for (unsigned i = 0; i < FQ_BDEV_COPY_MAX_RANGES; i += 51)
		expect_moved(&eng, b, 7 * MiB + i * 512ull, (255 - i) * 512ull, 512, 5);
	fq_bdev_close(b);
	fq_engine_fini(&eng);
}

static void test_file_async(void **state)
{
	struct fq_bdev_copy_range r[2] = {{1 * MiB, 1 * MiB + 64 * KiB}, {0, 4 * KiB}};
	char dir[] = "/var/tmp/fq-copy-XXXXXX", path[64], kv[128];
	struct fq_engine eng;
	struct fq_bdev_opts o;
	struct fq_bdev *b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f.img", dir);
	snprintf(kv, sizeof(kv), "size=8M,create=1,direct=1");
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	bt_opts(&o, FQ_BDEV_FILE, kv, NULL);
	o.path = path;
	{
		char err[160];

		if (fq_bdev_open(&o, &b, err, sizeof(err)))
			fail_msg("open: %s", err);
	}
	bt_write_pattern(&eng, b, 0, 3 * MiB, 9);
	assert_int_equal(run_copy(&eng, b, 4 * MiB, r, 2, NULL), 0);
	expect_moved(&eng, b, 4 * MiB, 1 * MiB, r[0].len, 9);
	expect_moved(&eng, b, 4 * MiB + r[0].len, 0, 4 * KiB, 9);
	fq_bdev_close(b);
	unlink(path);
	rmdir(dir);
	fq_engine_fini(&eng);
}

/* A read failing below an error layer fails the copy with the layer's status. */
static void test_error_below(void **state)
{
	struct fq_bdev_copy_range r = {0, 64 * KiB};
	struct fq_bdev_error_rule rule = {
		.ops = 1u << FQ_BDEV_IO_READ,
		.lba = 16,
		.nlb = 1,
		.action = FQ_BDEV_ERR_FAIL,
		.status = 0x8000 | (2 << 9) | (0x81 << 1)}; /* media, Unrecovered Read Error, DNR */
	struct fq_bdev_opts ram, e;
	struct fq_engine eng;
	struct fq_bdev *b;
	uint16_t st = 0;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	bt_opts(&ram, FQ_BDEV_RAM, "size=1M", NULL);
	b = open_bdev(FQ_BDEV_ERROR, NULL, &ram, &e);
	assert_int_equal(fq_bdev_error_set(b, 0, &rule), 0);
	assert_int_equal(run_copy(&eng, b, 512 * KiB, &r, 1, &st), -EIO);
	assert_int_equal(st, rule.status);
	fq_bdev_close(b);
	fq_engine_fini(&eng);
}

static void test_refused(void **state)
{
	struct fq_bdev_copy_range r = {0, 4 * KiB};
	struct fq_engine eng;
	struct fq_bdev_opts o;
	struct fq_bdev *b;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	b = open_bdev(FQ_BDEV_RAM, "size=1M", NULL, &o);
	assert_int_equal(run_copy(&eng, b, 1 * MiB - 2 * KiB, &r, 1, NULL), -EINVAL);
	r.src = 1 * MiB - 2 * KiB;
	assert_int_equal(run_copy(&eng, b, 0, &r, 1, NULL), -EINVAL);
	r = (struct fq_bdev_copy_range){100, 512};
	assert_int_equal(run_copy(&eng, b, 0, &r, 1, NULL), -EINVAL);
	r = (struct fq_bdev_copy_range){0, 0};
	assert_int_equal(run_copy(&eng, b, 0, &r, 1, NULL), -EINVAL);
	r = (struct fq_bdev_copy_range){0, 512};
	assert_int_equal(run_copy(&eng, b, 0, &r, 0, NULL), -EINVAL);
	fq_bdev_close(b);
	fq_engine_fini(&eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_ranges), cmocka_unit_test(test_ram_long_and_many),
		cmocka_unit_test(test_file_async), cmocka_unit_test(test_error_below),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
