/* SPDX-License-Identifier: MIT */
/* Delay module: reads and writes take at least the set time, changeable at run time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "bdev_test.h"

#define SIZE (1u << 20)

struct delay_ctx {
	struct fq_engine eng;
	struct fq_bdev *bdev;
};

static int setup_kv(void **state, const char *kv, uint32_t bs)
{
	struct delay_ctx *c = calloc(1, sizeof(*c));
	struct fq_bdev_opts ram, delay;
	char err[128];

	assert_non_null(c);
	assert_int_equal(fq_engine_init(&c->eng, 32), 0);
	bt_opts(&ram, FQ_BDEV_RAM, NULL, NULL);
	ram.size = SIZE;
	ram.block_size = bs;
	bt_opts(&delay, FQ_BDEV_DELAY, kv, &ram);
	if (fq_bdev_open(&delay, &c->bdev, err, sizeof(err)))
		fail_msg("open: %s", err);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	return setup_kv(state, "read_us=20000,write_us=30000", 512);
}

static int setup_none(void **state)
{
	return setup_kv(state, NULL, 4096);
}

static int teardown(void **state)
{
	struct delay_ctx *c = *state;

	fq_bdev_close(c->bdev);
	fq_engine_fini(&c->eng);
	free(c);
	return 0;
}

/* The layer takes its geometry from the base and offers no zero-copy reads. */
static void test_geometry(void **state)
{
	struct delay_ctx *c = *state;

	assert_non_null(c->bdev->base);
	assert_string_equal(c->bdev->module->name, "delay");
	assert_int_equal(c->bdev->block_size, 4096);
	assert_int_equal(c->bdev->num_blocks, SIZE / 4096);
	assert_int_equal(c->bdev->num_blocks, c->bdev->base->num_blocks);
	assert_null(c->bdev->ops->map_read);
	assert_false(c->bdev->sync_submit);
	assert_true(c->bdev->supports_dealloc);
	assert_ptr_equal(fq_bdev_bottom(c->bdev), c->bdev->base);
	assert_int_equal(fq_bdev_sync(c->bdev), 0);
}

/* With no delay set, every data-path check passes through the layer. */
static void test_data_path(void **state)
{
	struct delay_ctx *c = *state;

	bt_data_path(&c->eng, c->bdev);
}

static uint64_t timed_rw(struct delay_ctx *c, enum fq_bdev_io_type type, uint64_t off)
{
	uint8_t *buf = bt_alloc(4096);
	struct iovec iov = {buf, 4096};
	uint64_t t0 = bt_now_us();

	if (type == FQ_BDEV_IO_WRITE)
		bt_fill(buf, 4096, off, 3);
	assert_int_equal(bt_rw(&c->eng, c->bdev, type, off, &iov, 1, 4096), 0);
	t0 = bt_now_us() - t0;
	if (type == FQ_BDEV_IO_READ)
		assert_int_equal(bt_check(buf, 4096, off, 3), -1);
	free(buf);
	return t0;
}

/* Each read takes at least read_us, each write at least write_us; the data is intact. */
static void test_latency(void **state)
{
	struct delay_ctx *c = *state;

	assert_true(timed_rw(c, FQ_BDEV_IO_WRITE, 8192) >= 30000);
	assert_true(timed_rw(c, FQ_BDEV_IO_READ, 8192) >= 20000);
}

/* A delayed I/O never completes inside submit, even on RAM. */
static void cb_count(struct fq_bdev_io *io, int result)
{
	assert_int_equal(result, 0);
	(*(int *)io->cb_arg)++;
}

static void test_async(void **state)
{
	struct delay_ctx *c = *state;
	uint8_t *buf = bt_alloc(512);
	struct iovec iov = {buf, 512};
	struct fq_bdev_io io;
	int calls = 0;

	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_READ;
	io.length = 512;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = cb_count;
	io.cb_arg = &calls;
	assert_int_equal(fq_bdev_submit(c->bdev, &c->eng, &io), 0);
	assert_int_equal(calls, 0);
	while (!calls)
		assert_true(fq_engine_run(&c->eng, 1, 2000000000LL) >= 0);
	assert_int_equal(calls, 1);
	assert_int_equal(io.depth, 0);
	assert_ptr_equal(io.bdev, c->bdev);
	assert_int_equal(io.pending, 0);
	/* Without an engine there is nothing to wait on. */
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), -EINVAL);
	free(buf);
}

/* fq_bdev_delay_set changes the delays of the next I/O. */
static void test_set(void **state)
{
	struct delay_ctx *c = *state;

	assert_int_equal(fq_bdev_delay_set(c->bdev, 60000, 0), 0);
	(void)timed_rw(c, FQ_BDEV_IO_WRITE, 0);
	assert_true(timed_rw(c, FQ_BDEV_IO_READ, 0) >= 60000);
	assert_int_equal(fq_bdev_delay_set(c->bdev, 0, 45000), 0);
	assert_true(timed_rw(c, FQ_BDEV_IO_WRITE, 0) >= 45000);
	assert_int_equal(fq_bdev_delay_set(c->bdev, 200000000, 0), -EINVAL);
	assert_int_equal(fq_bdev_delay_set(c->bdev->base, 1, 1), -EINVAL);
	assert_int_equal(fq_bdev_delay_set(NULL, 1, 1), -EINVAL);
}

/* Run-time parameters as text: read back, changed in part, refused whole. */
static void test_params(void **state)
{
	struct delay_ctx *c = *state;
	struct fq_bdev_opts o;
	char buf[128], err[256];

	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "read_us=20000,write_us=30000");
	assert_int_equal(fq_bdev_set_params(c->bdev, "read_us=60000", &o, err, sizeof(err)), 0);
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "read_us=60000,write_us=30000");
	assert_int_equal(o.kind, FQ_BDEV_DELAY);
	(void)timed_rw(c, FQ_BDEV_IO_WRITE, 0);
	assert_true(timed_rw(c, FQ_BDEV_IO_READ, 0) >= 60000);
	/* A bad key or value anywhere changes nothing. */
	assert_int_equal(fq_bdev_set_params(c->bdev, "write_us=1,speed=3", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown parameter 'speed' (read_us, write_us)"));
	assert_int_equal(
		fq_bdev_set_params(c->bdev, "write_us=1,read_us=200000000", NULL, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "bad read_us"));
	assert_int_equal(fq_bdev_set_params(c->bdev, "read_us", NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not KEY=VALUE"));
	assert_int_equal(fq_bdev_set_params(c->bdev, "read_us=1,", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(fq_bdev_set_params(c->bdev, "", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "read_us=60000,write_us=30000");
	assert_int_equal(fq_bdev_params_text(c->bdev, buf, 10), -ENOSPC);
	/* The RAM bdev below has none. */
	assert_int_equal(fq_bdev_params_text(c->bdev->base, buf, sizeof(buf)), -ENOTSUP);
	assert_int_equal(fq_bdev_set_params(c->bdev->base, "size=1", NULL, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "ram: no parameters that change at run time"));
}

/* Write zeroes counts as a write, flush is not delayed but still reaches the base. */
static void test_other_commands(void **state)
{
	struct delay_ctx *c = *state;
	uint64_t t0;

	bt_write_pattern(&c->eng, c->bdev, 0, 4096, 5);
	t0 = bt_now_us();
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_WRITE_ZEROES, 0, 4096), 0);
	assert_true(bt_now_us() - t0 >= 30000);
	assert_int_equal(bt_cmd(&c->eng, c->bdev, FQ_BDEV_IO_FLUSH, 0, 0), 0);
	assert_int_equal(fq_bdev_delay_set(c->bdev, 0, 0), 0);
	bt_expect(&c->eng, c->bdev, 0, 4096, -1);
}

/* The module's parser: the keys it knows, bad values named. */
static void test_parse(void **state)
{
	const struct fq_bdev_module *m = fq_bdev_module_find("delay");
	struct fq_bdev_opts o, base;
	struct fq_bdev *b;
	char err[128];

	(void)state;
	assert_non_null(m);
	assert_true(m->stacks);
	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_DELAY), 0);
	assert_int_equal(m->parse(&o, "read_us", "abc", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad read_us 'abc'"));
	assert_int_equal(m->parse(&o, "write_us", "100000001", err, sizeof(err)), -EINVAL);
	assert_int_equal(m->parse(&o, "speed", "1", err, sizeof(err)), -ENOENT);
	/* Without a base it cannot open. */
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "delay: needs a base"));
	/* A base that fails to open fails the stack with its own message. */
	bt_opts(&base, FQ_BDEV_RAM, NULL, NULL);
	o.base = &base;
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ram: a size is required"));
	assert_null(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_geometry, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_data_path, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_latency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
