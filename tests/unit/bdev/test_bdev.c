/* SPDX-License-Identifier: MIT */
/* fq_bdev_open option checks and fq_bdev_submit request checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bdev/bdev.h"
#include "bdev_test.h"

static int open_ram(uint64_t size, uint32_t bs, struct fq_bdev **out, char *err, size_t len)
{
	struct fq_bdev_opts o = {.kind = FQ_BDEV_RAM, .size = size, .block_size = bs};

	return fq_bdev_open(&o, out, err, len);
}

static void test_default_block_size(void **state)
{
	struct fq_bdev *b = NULL;
	char err[128];

	(void)state;
	assert_int_equal(open_ram(1 << 20, 0, &b, err, sizeof(err)), 0);
	assert_non_null(b);
	assert_int_equal(b->block_size, 512);
	assert_int_equal(b->num_blocks, 2048);
	assert_string_equal(b->name, "ram");
	assert_string_equal(err, "");
	fq_bdev_close(b);

	assert_int_equal(open_ram(1 << 20, 4096, &b, err, sizeof(err)), 0);
	assert_int_equal(b->block_size, 4096);
	assert_int_equal(b->num_blocks, 256);
	fq_bdev_close(b);
}

static void test_bad_block_size(void **state)
{
	struct fq_bdev *b = (struct fq_bdev *)&b;
	char err[128];

	(void)state;
	assert_int_equal(open_ram(1 << 20, 1000, &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	assert_string_equal(err, "ram: block size 1000 is not 512 or 4096");
	assert_int_equal(open_ram(1 << 20, 1024, &b, err, sizeof(err)), -EINVAL);
}

static void test_bad_size(void **state)
{
	struct fq_bdev_opts o = {.kind = FQ_BDEV_NULL};
	struct fq_bdev *b = NULL;
	char err[128];

	(void)state;
	assert_int_equal(open_ram(1000, 0, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ram: size 1000 is not a multiple of the block size 512");
	assert_int_equal(open_ram(8192 + 512, 4096, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ram: size 8704 is not a multiple of the block size 4096");
	assert_int_equal(open_ram(0, 0, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ram: a size is required");
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "null: a size is required");
	assert_null(b);
}

static void test_bad_kind_and_args(void **state)
{
	struct fq_bdev_opts o = {.kind = (enum fq_bdev_kind)99, .size = 4096};
	struct fq_bdev *b = NULL;
	char err[128];

	(void)state;
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bdev: unknown backend kind 99");
	o.kind = FQ_BDEV_FILE;
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "file: no path given");
	assert_int_equal(fq_bdev_open(NULL, &b, err, sizeof(err)), -EINVAL);
	/* A NULL error buffer is allowed. */
	o.kind = FQ_BDEV_RAM;
	o.size = 1000;
	assert_int_equal(fq_bdev_open(&o, &b, NULL, 0), -EINVAL);
	fq_bdev_close(NULL);
}

struct sub_ctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
	uint8_t buf[8192];
};

static int sub_setup(void **state)
{
	static struct sub_ctx c;
	char err[128];

	assert_int_equal(fq_engine_init(&c.eng, 32), 0);
	assert_int_equal(open_ram(64 * 1024, 512, &c.bdev, err, sizeof(err)), 0);
	*state = &c;
	return 0;
}

static int sub_teardown(void **state)
{
	struct sub_ctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	return 0;
}

static int rd(struct sub_ctx *c, uint64_t off, uint64_t len, size_t buflen)
{
	struct iovec iov = {c->buf, buflen};

	return bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_READ, off, &iov, 1, len);
}

static void test_submit_range(void **state)
{
	struct sub_ctx *c = *state;
	uint64_t cap = 64 * 1024;

	assert_int_equal(rd(c, cap - 512, 512, 512), 0); /* last block is fine */
	assert_int_equal(rd(c, cap, 512, 512), -EINVAL);
	assert_int_equal(rd(c, cap - 512, 1024, 1024), -EINVAL);
	assert_int_equal(rd(c, UINT64_MAX - 511, 1024, 1024), -EINVAL); /* wraps */
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, cap - 512, 1024),
			 -EINVAL);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_DEALLOCATE, cap, 512), -EINVAL);
	/* Flush carries no range. */
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_FLUSH, 0, 0), 0);
}

static void test_submit_alignment(void **state)
{
	struct sub_ctx *c = *state;

	assert_int_equal(rd(c, 100, 512, 512), -EINVAL);
	assert_int_equal(rd(c, 0, 100, 512), -EINVAL);
	assert_int_equal(rd(c, 0, 0, 512), -EINVAL);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, 256, 512), -EINVAL);
}

static void test_submit_iov(void **state)
{
	struct sub_ctx *c = *state;
	struct iovec two[2] = {{c->buf, 512}, {c->buf + 512, 256}};
	struct fq_bdev_io io;

	/* Iovecs must hold the whole transfer. */
	assert_int_equal(rd(c, 0, 1024, 512), -EINVAL);
	assert_int_equal(bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_WRITE, 0, two, 2, 1024), -EINVAL);
	assert_int_equal(bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_WRITE, 0, NULL, 0, 512), -EINVAL);
	assert_int_equal(bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_READ, 0, two, 0, 512), -EINVAL);

	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_NUM_TYPES;
	io.offset = 0;
	io.length = 512;
	assert_int_equal(bt_run(&c->eng, c->bdev, &io), -EINVAL);
	io.type = FQ_BDEV_IO_FLUSH;
	io.cb = NULL;
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, &io), -EINVAL);
	assert_int_equal(fq_bdev_submit(NULL, &c->eng, &io), -EINVAL);
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_block_size),
		cmocka_unit_test(test_bad_block_size),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_bad_kind_and_args),
		cmocka_unit_test_setup_teardown(test_submit_range, sub_setup, sub_teardown),
		cmocka_unit_test_setup_teardown(test_submit_alignment, sub_setup, sub_teardown),
		cmocka_unit_test_setup_teardown(test_submit_iov, sub_setup, sub_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
