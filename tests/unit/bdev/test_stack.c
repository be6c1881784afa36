/* SPDX-License-Identifier: MIT */
/*
 * Stacking: the module table, layers on layers (delay on error on ram, delay
 * on file), open/close propagating down, completions and status coming back
 * up through every layer.
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

#include "bdev/bdev.h"
#include "bdev_test.h"
#include "proto/nvme.h"

#define BS 512u

static void test_registry(void **state)
{
	static const char *const names[] = {"ram", "null", "file", "delay", "error", "qos", "vol"};

	(void)state;
	_Static_assert(sizeof(names) / sizeof(names[0]) == FQ_BDEV_NUM_KINDS, "a name per module");
	for (int k = 0; k < FQ_BDEV_NUM_KINDS; k++) {
		const struct fq_bdev_module *m = fq_bdev_module_get((enum fq_bdev_kind)k);

		if (k == FQ_BDEV_VOL) {
			/* Comes with the volume engine, which this program does not link. */
			assert_null(m);
			assert_null(fq_bdev_module_find(names[k]));
			continue;
		}
		assert_non_null(m);
		assert_int_equal(m->kind, k);
		assert_string_equal(m->name, names[k]);
		assert_ptr_equal(fq_bdev_module_find(names[k]), m);
		assert_non_null(m->init);
		assert_non_null(m->parse);
		assert_int_equal(m->stacks,
				 k == FQ_BDEV_DELAY || k == FQ_BDEV_ERROR || k == FQ_BDEV_QOS);
	}
	assert_null(fq_bdev_module_find("raid"));
	assert_null(fq_bdev_module_find(NULL));
	assert_null(fq_bdev_module_get(FQ_BDEV_NUM_KINDS));
}

/* delay(read 20 ms) on error(read LBA 0 fails) on ram. */
static struct fq_bdev *open_three(void)
{
	struct fq_bdev_opts ram, err_opts, delay;
	struct fq_bdev *b;
	char err[128];

	bt_opts(&ram, FQ_BDEV_RAM, "size=256k", NULL);
	bt_opts(&err_opts, FQ_BDEV_ERROR, "op=read,lba=0,sct=2,sc=0x81", &ram);
	bt_opts(&delay, FQ_BDEV_DELAY, "read_us=20000", &err_opts);
	if (fq_bdev_open(&delay, &b, err, sizeof(err)))
		fail_msg("open: %s", err);
	return b;
}

static void test_three_layers(void **state)
{
	struct fq_bdev *top = open_three(), *mid = top->base, *ram = mid->base;
	uint8_t *buf = bt_alloc(4096);
	struct iovec iov = {buf, BS};
	struct fq_engine eng;
	struct fq_bdev_io io;
	uint64_t t0;

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 32), 0);
	assert_string_equal(top->module->name, "delay");
	assert_string_equal(mid->module->name, "error");
	assert_string_equal(ram->module->name, "ram");
	assert_string_equal(top->name, "delay+error+ram");
	assert_ptr_equal(fq_bdev_bottom(top), ram);
	assert_null(ram->base);
	assert_int_equal(top->num_blocks, 512);

	/* A failure deep down keeps its status and still waits out the delay above. */
	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_READ;
	io.length = BS;
	io.iov = &iov;
	io.iovcnt = 1;
	t0 = bt_now_us();
	assert_int_equal(bt_run(&eng, top, &io), -EIO);
	assert_true(bt_now_us() - t0 >= 20000);
	assert_int_equal(io.nvme_status, FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_READ_ERROR));
	assert_int_equal(io.depth, 0);
	assert_ptr_equal(io.bdev, top);

	/* Writes pass down to the RAM: visible there directly, and back up through the stack. */
	bt_write_pattern(&eng, top, 8 * BS, 4096, 11);
	bt_expect(&eng, ram, 8 * BS, 4096, 11);
	t0 = bt_now_us();
	bt_expect(&eng, top, 8 * BS, 4096, 11);
	assert_true(bt_now_us() - t0 >= 20000);
	/* The middle layer answers to its own calls only. */
	assert_int_equal(fq_bdev_delay_set(mid, 1, 1), -EINVAL);
	assert_int_equal(fq_bdev_error_set(top, 0, NULL), -EINVAL);
	assert_int_equal(fq_bdev_error_set(mid, 0, NULL), 0);
	assert_int_equal(fq_bdev_delay_set(top, 0, 0), 0);
	bt_data_path(&eng, top);
	assert_int_equal(fq_bdev_sync(top), 0);

	fq_bdev_close(top);
	fq_engine_fini(&eng);
	free(buf);
}

/* Layers over an asynchronous base: delay and error on a file, through io_uring. */
static void test_on_file(void **state)
{
	char path[] = "/tmp/fq_stack_XXXXXX";
	struct fq_bdev_opts file, e, delay;
	struct fq_bdev *b;
	struct fq_engine eng;
	char err[160];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path); /* the bdev creates it, so close_discard may remove it */
	assert_int_equal(fq_engine_init(&eng, 64), 0);
	bt_opts(&file, FQ_BDEV_FILE, "size=1M,create=1", NULL);
	file.path = path;
	bt_opts(&e, FQ_BDEV_ERROR, "op=write,lba=16-31,action=tear,tear=2", &file);
	bt_opts(&delay, FQ_BDEV_DELAY, "write_us=5000", &e);
	if (fq_bdev_open(&delay, &b, err, sizeof(err)))
		fail_msg("open: %s", err);
	assert_true(access(path, F_OK) == 0);
	assert_true(b->volatile_cache); /* inherited from the file */
	{
		uint8_t *buf = bt_alloc(8 * BS);
		struct iovec iov = {buf, 8 * BS};

		bt_fill(buf, 8 * BS, 16 * BS, 4);
		assert_int_equal(bt_rw(&eng, b, FQ_BDEV_IO_WRITE, 16 * BS, &iov, 1, 8 * BS), -EIO);
		bt_expect(&eng, b, 16 * BS, 2 * BS, 4);
		bt_expect(&eng, b, 18 * BS, 6 * BS, -1);
		free(buf);
	}
	assert_int_equal(fq_bdev_error_set(b->base, 0, NULL), 0);
	bt_data_path(&eng, b);
	assert_int_equal(bt_cmd(&eng, b, FQ_BDEV_IO_FLUSH, 0, 0), 0);
	assert_int_equal(fq_bdev_sync(b), 0);
	/* Discarding the top discards down to the file it created. */
	fq_bdev_close_discard(b);
	assert_true(access(path, F_OK) != 0);
	fq_engine_fini(&eng);
}

/* Opening fails cleanly: no base, too deep, a bottom that cannot open. */
static void test_open_errors(void **state)
{
	struct fq_bdev_opts layer[FQ_BDEV_MAX_STACK + 2];
	struct fq_bdev *b = (struct fq_bdev *)1;
	char err[160];
	int n = FQ_BDEV_MAX_STACK + 1;

	(void)state;
	bt_opts(&layer[n], FQ_BDEV_RAM, "size=64k", NULL);
	for (int i = n - 1; i >= 0; i--)
		bt_opts(&layer[i], i % 2 ? FQ_BDEV_DELAY : FQ_BDEV_ERROR, NULL, &layer[i + 1]);
	assert_int_equal(fq_bdev_open(&layer[0], &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "layers stacked"));
	assert_null(b);
	/* FQ_BDEV_MAX_STACK layers are fine. */
	assert_int_equal(fq_bdev_open(&layer[1], &b, err, sizeof(err)), 0);
	{
		struct fq_engine eng;

		assert_int_equal(fq_engine_init(&eng, 8), 0);
		bt_write_pattern(&eng, b, 0, 4096, 2);
		bt_expect(&eng, fq_bdev_bottom(b), 0, 4096, 2);
		fq_engine_fini(&eng);
	}
	fq_bdev_close(b);
	/* A stacking module needs a base; a bad bottom fails the whole stack. */
	bt_opts(&layer[0], FQ_BDEV_ERROR, NULL, NULL);
	assert_int_equal(fq_bdev_open(&layer[0], &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "error: needs a base"));
	bt_opts(&layer[1], FQ_BDEV_FILE, NULL, NULL);
	layer[1].path = "/nonexistent/dir/x.img";
	layer[0].base = &layer[1];
	assert_true(fq_bdev_open(&layer[0], &b, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/dir/x.img"));
	assert_null(b);
	layer[0].kind = FQ_BDEV_NUM_KINDS;
	assert_int_equal(fq_bdev_open(&layer[0], &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown backend kind"));
}

/* A refused submit below pops the frame and leaves the caller's callback unrun. */
static void cb_never(struct fq_bdev_io *io, int result)
{
	(void)io;
	fail_msg("callback ran with %d", result);
}

static void test_refused_below(void **state)
{
	struct fq_bdev_opts file, e, delay;
	char path[] = "/tmp/fq_stack_XXXXXX";
	uint8_t *buf = bt_alloc(BS);
	struct iovec iov = {buf, BS};
	struct fq_bdev *b;
	struct fq_bdev_io io;
	char err[160];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	bt_opts(&file, FQ_BDEV_FILE, NULL, NULL);
	file.path = path;
	bt_opts(&e, FQ_BDEV_ERROR, NULL, &file);
	bt_opts(&delay, FQ_BDEV_DELAY, NULL, &e);
	if (fq_bdev_open(&delay, &b, err, sizeof(err)))
		fail_msg("open: %s", err);
	/* The file module needs an engine; the layers above pass the I/O down without one. */
	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_READ;
	io.length = BS;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = cb_never;
	io.cb_arg = &io;
	assert_int_equal(fq_bdev_submit(b, NULL, &io), -EINVAL);
	assert_int_equal(io.depth, 0);
	assert_ptr_equal(io.bdev, b);
	assert_ptr_equal(io.cb, cb_never);
	assert_ptr_equal(io.cb_arg, &io);
	fq_bdev_close(b);
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),      cmocka_unit_test(test_three_layers),
		cmocka_unit_test(test_on_file),	      cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_refused_below),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
