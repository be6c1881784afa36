/* SPDX-License-Identifier: MIT */
/* Null backend: reads are zeroes, everything else succeeds and keeps nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "bdev_test.h"

#define NULL_SIZE (1ull << 40) /* no memory behind it, so any size is cheap */

struct null_ctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
};

static int setup(void **state)
{
	struct fq_bdev_opts o = {.kind = FQ_BDEV_NULL, .size = NULL_SIZE, .block_size = 4096};
	struct null_ctx *c = calloc(1, sizeof(*c));
	char err[128];

	assert_non_null(c);
	assert_int_equal(fq_engine_init(&c->eng, 8), 0);
	assert_int_equal(fq_bdev_open(&o, &c->bdev, err, sizeof(err)), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct null_ctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	free(c);
	return 0;
}

static void test_geometry(void **state)
{
	struct null_ctx *c = *state;

	assert_int_equal(c->bdev->block_size, 4096);
	assert_int_equal(c->bdev->num_blocks, NULL_SIZE / 4096);
	assert_string_equal(c->bdev->name, "null");
	assert_false(c->bdev->volatile_cache);
	assert_true(c->bdev->read_zeroes_after_dealloc);
}

/* Writes are accepted and dropped: reading back gives zeroes, multi-iovec too. */
static void test_writes_discarded(void **state)
{
	struct null_ctx *c = *state;
	uint8_t *a = bt_alloc(4096), *b = bt_alloc(8192);
	struct iovec rv[2] = {{a, 4096}, {b, 8192}};

	bt_write_pattern(&c->eng, c->bdev, NULL_SIZE - 12288, 12288, 2);
	memset(a, 0xFF, 4096);
	memset(b, 0xFF, 8192);
	assert_int_equal(bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_READ, NULL_SIZE - 12288, rv, 2, 12288),
			 0);
	assert_int_equal(bt_check_byte(a, 4096, 0), -1);
	assert_int_equal(bt_check_byte(b, 8192, 0), -1);
	free(a);
	free(b);
}

static void test_other_commands(void **state)
{
	struct null_ctx *c = *state;

	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_FLUSH, 0, 0), 0);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, 0, 1 << 30), 0);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_DEALLOCATE, 4096, 4096), 0);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_DEALLOCATE, NULL_SIZE, 4096), -EINVAL);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, 512, 4096), -EINVAL);
	assert_int_equal(c->bdev->ops->sync(c->bdev), 0);
}

/* Zero-copy reads up to the shared zero region; larger ones go through submit. */
static void test_map_read_and_large_read(void **state)
{
	struct null_ctx *c = *state;
	size_t big = 4 << 20;
	uint8_t *buf = bt_alloc(big);
	struct iovec iov;

	assert_int_equal(c->bdev->ops->map_read(c->bdev, 0, 128 * 1024, &iov), 0);
	assert_int_equal(iov.iov_len, 128 * 1024);
	assert_int_equal(bt_check_byte(iov.iov_base, iov.iov_len, 0), -1);
	assert_int_equal(c->bdev->ops->map_read(c->bdev, 0, big, &iov), -ENOTSUP);
	assert_int_equal(c->bdev->ops->map_read(c->bdev, NULL_SIZE, 4096, &iov), -EINVAL);

	memset(buf, 0xAB, big);
	iov.iov_base = buf;
	iov.iov_len = big;
	assert_int_equal(bt_rw(&c->eng, c->bdev, FQ_BDEV_IO_READ, 0, &iov, 1, big), 0);
	assert_int_equal(bt_check_byte(buf, big, 0), -1);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_discarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_read_and_large_read, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
