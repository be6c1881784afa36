/* SPDX-License-Identifier: MIT */
/* RAM backend: data path, large zeroing with page release, zero-copy reads, lazy backing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "bdev_test.h"

struct ram_ctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
};

static int ram_setup(void **state, uint64_t size, uint32_t bs)
{
	struct fq_bdev_opts o = {.kind = FQ_BDEV_RAM, .size = size, .block_size = bs};
	struct ram_ctx *c = calloc(1, sizeof(*c));
	char err[128];

	assert_non_null(c);
	assert_int_equal(fq_engine_init(&c->eng, 32), 0);
	assert_int_equal(fq_bdev_open(&o, &c->bdev, err, sizeof(err)), 0);
	*state = c;
	return 0;
}

static int setup_512(void **state)
{
	return ram_setup(state, 8 << 20, 512);
}

static int setup_4k(void **state)
{
	return ram_setup(state, 8 << 20, 4096);
}

static int teardown(void **state)
{
	struct ram_ctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	free(c);
	return 0;
}

static void test_flags(void **state)
{
	struct ram_ctx *c = *state;

	assert_true(c->bdev->read_zeroes_after_dealloc);
	assert_true(c->bdev->supports_dealloc);
	assert_false(c->bdev->volatile_cache);
	assert_non_null(c->bdev->ops->map_read);
}

static void test_data_path(void **state)
{
	struct ram_ctx *c = *state;

	bt_data_path(&c->eng, c->bdev);
}

static void count_cb(struct fq_bdev_io *io, int result)
{
	int *calls = io->cb_arg;

	assert_int_equal(result, 0);
	(*calls)++;
}

/* The RAM backend completes inside submit, as bdev.h allows. */
static void test_completes_inline(void **state)
{
	struct ram_ctx *c = *state;
	uint8_t buf[512];
	struct iovec iov = {buf, sizeof(buf)};
	struct fq_bdev_io io = {.type = FQ_BDEV_IO_READ, .length = 512, .iov = &iov, .iovcnt = 1};
	int calls = 0;

	io.cb = count_cb;
	io.cb_arg = &calls;
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, &io), 0);
	assert_int_equal(calls, 1);
	/* A NULL engine is fine for a synchronous backend. */
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), 0);
	assert_int_equal(calls, 2);
}

/* Large unaligned ranges go through madvise in the middle and memset at the edges. */
static void test_zero_large_range(void **state)
{
	struct ram_ctx *c = *state;
	uint64_t off = 512, len = (2 << 20) + 1024;

	bt_write_pattern(&c->eng, c->bdev, 0, 4 << 20, 3);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_DEALLOCATE, off, len), 0);
	bt_expect(&c->eng, c->bdev, 0, off, 3);
	bt_expect(&c->eng, c->bdev, off, len, -1);
	bt_expect(&c->eng, c->bdev, off + len, (4 << 20) - off - len, 3);

	bt_write_pattern(&c->eng, c->bdev, 0, 4 << 20, 4);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, 4096, 3 << 20), 0);
	bt_expect(&c->eng, c->bdev, 0, 4096, 4);
	bt_expect(&c->eng, c->bdev, 4096, 3 << 20, -1);
	bt_expect(&c->eng, c->bdev, 4096 + (3 << 20), (1 << 20) - 4096, 4);
}

static void test_map_read(void **state)
{
	struct ram_ctx *c = *state;
	uint64_t cap = c->bdev->num_blocks * c->bdev->block_size;
	struct iovec iov;

	bt_write_pattern(&c->eng, c->bdev, 8192, 8192, 5);
	assert_int_equal(c->bdev->ops->map_read(c->bdev, 8192, 8192, &iov), 0);
	assert_int_equal(iov.iov_len, 8192);
	assert_int_equal(bt_check(iov.iov_base, 8192, 8192, 5), -1);

	/* It is the RAM itself: a later write shows through the same pointer. */
	bt_write_pattern(&c->eng, c->bdev, 8192, 8192, 6);
	assert_int_equal(bt_check(iov.iov_base, 8192, 8192, 6), -1);

	assert_int_equal(c->bdev->ops->map_read(c->bdev, cap - 512, 1024, &iov), -EINVAL);
	assert_int_equal(c->bdev->ops->map_read(c->bdev, cap + 512, 512, &iov), -EINVAL);
}

static long rss_kib(void)
{
	long pages = -1, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A 1 GiB namespace costs memory only where it is written. */
static void test_lazy_backing(void **state)
{
	struct fq_bdev_opts o = {.kind = FQ_BDEV_RAM, .size = 1ull << 30};
	struct fq_engine eng;
	struct fq_bdev *b;
	char err[128];
	long before;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 8), 0);
	before = rss_kib();
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), 0);
	bt_write_pattern(&eng, b, (1ull << 30) - 4096, 4096, 1);
	bt_expect(&eng, b, (1ull << 30) - 4096, 4096, 1);
	bt_expect(&eng, b, 0, 1 << 20, -1);
	assert_true(rss_kib() - before < 32 * 1024);
	fq_bdev_close(b);
	fq_engine_fini(&eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flags, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_data_path, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_data_path, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_completes_inline, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_zero_large_range, setup_512, teardown),
		cmocka_unit_test_setup_teardown(test_map_read, setup_4k, teardown),
		cmocka_unit_test(test_lazy_backing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
