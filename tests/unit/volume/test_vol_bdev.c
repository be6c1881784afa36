/* SPDX-License-Identifier: MIT */
/*
 * The vol bdev module: volumes of registered pools opened as block devices
 * ("vol:POOL/NAME") pass the data-path checks every storing module passes,
 * on a RAM pool and on a file pool driven asynchronously through io_uring
 * (whose pool is closed, reopened and read again); snapshots refuse writes
 * with Namespace Is Write Protected; the registry refuses what it must; a
 * held pool queues I/O until released, and a detached vol bdev fails it.
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
#include "volume/volume.h"

#define MiB (1ull << 20)

static struct fq_bdev *open_vol(const char *path)
{
	struct fq_bdev_opts o;
	struct fq_bdev *b = NULL;
	char err[160];
	int rc;

	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_VOL), 0);
	o.path = path;
	rc = fq_bdev_open(&o, &b, err, sizeof(err));
	if (rc)
		fail_msg("open %s: %s", path, err);
	return b;
}

static void test_registry(void **state)
{
	struct fq_bdev_opts o, ram;
	struct fq_bdev *base, *b = NULL;
	struct fq_pool *p;
	char err[160];

	(void)state;
	assert_non_null(fq_bdev_module_find("vol"));
	assert_int_equal(fq_bdev_module_find("vol")->kind, FQ_BDEV_VOL);
	assert_int_equal(fq_bdev_opts_init(&ram, FQ_BDEV_RAM), 0);
	ram.size = 32 * MiB;
	assert_int_equal(fq_bdev_open(&ram, &base, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_create(base, NULL, NULL), 0);
	assert_int_equal(fq_pool_open(base, NULL, &p), 0);
	assert_int_equal(fq_vol_create(p, "v", 4 * MiB, false), 0);
	assert_int_equal(fq_pool_register("reg", p), 0);
	assert_int_equal(fq_pool_register("reg", p), -EEXIST);
	assert_int_equal(fq_pool_register("a/b", p), -EINVAL);
	assert_ptr_equal(fq_pool_lookup("reg"), p);
	assert_null(fq_pool_lookup("nosuch"));
	/* Bad names are refused with a message. */
	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_VOL), 0);
	o.path = "reg/nosuch";
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no volume 'nosuch'"));
	o.path = "other/v";
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no open pool 'other'"));
	o.path = "noslash";
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), -EINVAL);
	/* While a vol bdev is open the pool stays registered. */
	b = open_vol("reg/v");
	assert_int_equal(b->num_blocks * b->block_size, 4 * MiB);
	assert_true(b->supports_dealloc);
	assert_true(b->read_zeroes_after_dealloc);
	/* NUSE: a fresh thin volume uses nothing; a RAM bdev keeps no count. */
	assert_int_equal(fq_bdev_used_blocks(b), 0);
	assert_int_equal(fq_bdev_used_blocks(base), base->num_blocks);
	assert_int_equal(fq_pool_unregister("reg"), -EBUSY);
	fq_bdev_close(b);
	assert_int_equal(fq_pool_unregister("reg"), 0);
	assert_int_equal(fq_pool_unregister("reg"), -ENOENT);
	assert_int_equal(fq_pool_close(p), 0);
	fq_bdev_close(base);
}

static void test_ram_pool(void **state)
{
	struct fq_bdev_opts ram;
	struct fq_bdev *base, *b, *s;
	struct fq_engine eng, other;
	struct fq_pool *p;
	struct fq_bdev_io io;
	struct iovec iov;
	uint8_t *buf = bt_alloc(4096);
	char err[160];

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 64), 0);
	assert_int_equal(fq_engine_init(&other, 8), 0);
	assert_int_equal(fq_bdev_opts_init(&ram, FQ_BDEV_RAM), 0);
	ram.size = 64 * MiB;
	assert_int_equal(fq_bdev_open(&ram, &base, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_create(base, NULL, &(struct fq_pool_opts){.cluster_size = 65536}),
			 0);
	assert_int_equal(fq_pool_open(base, NULL, &p), 0);
	assert_int_equal(fq_vol_create(p, "v", 8 * MiB, false), 0);
	assert_int_equal(fq_pool_register("rp", p), 0);
	b = open_vol("rp/v");
	bt_data_path(&eng, b);
	/* A snapshot exported read-only. */
	bt_write_pattern(&eng, b, 0, 65536, 3);
	assert_true(fq_bdev_used_blocks(b) >= 65536 / b->block_size);
	assert_true(fq_bdev_used_blocks(b) < b->num_blocks);
	assert_int_equal(fq_vol_snapshot(p, "v@s"), 0);
	s = open_vol("rp/v@s");
	bt_expect(&eng, s, 0, 65536, 3);
	memset(&io, 0, sizeof(io));
	iov.iov_base = buf;
	iov.iov_len = 4096;
	io.type = FQ_BDEV_IO_WRITE;
	io.length = 4096;
	io.iov = &iov;
	io.iovcnt = 1;
	assert_int_equal(bt_run(&eng, s, &io), -EROFS);
	assert_int_equal(io.nvme_status, 0x20 << 1);
	/* The volume goes on, copying on write. */
	bt_write_pattern(&eng, b, 4096, 4096, 4);
	bt_expect(&eng, b, 0, 4096, 3);
	bt_expect(&eng, b, 4096, 4096, 4);
	bt_expect(&eng, s, 4096, 4096, 3);
	/* Bound to its first engine: another thread's engine is refused. */
	io.type = FQ_BDEV_IO_READ;
	assert_int_equal(bt_run(&other, b, &io), -EXDEV);
	fq_bdev_close(s);
	fq_bdev_close(b);
	assert_int_equal(fq_pool_unregister("rp"), 0);
	assert_int_equal(fq_pool_close(p), 0);
	fq_bdev_close(base);
	fq_engine_fini(&other);
	fq_engine_fini(&eng);
	free(buf);
}

/* The asynchronous path: a pool in a file, through the engine's io_uring. */
static void test_file_pool(void **state)
{
	char dir[] = "/var/tmp/fq-vol-XXXXXX", path[64];
	struct fq_bdev_opts fo;
	struct fq_bdev *base, *b;
	struct fq_engine eng;
	struct fq_pool *p;
	struct fq_pool_check_report rep;
	char err[160];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool.img", dir);
	assert_int_equal(fq_engine_init(&eng, 64), 0);
	assert_int_equal(fq_bdev_opts_init(&fo, FQ_BDEV_FILE), 0);
	fo.path = path;
	fo.size = 96 * MiB;
	fo.create = true;
	assert_int_equal(fq_bdev_open(&fo, &base, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_create(base, &eng,
					&(struct fq_pool_opts){.cluster_size = 65536,
							       .journal_size = 65536}),
			 0);
	assert_int_equal(fq_pool_open(base, &eng, &p), 0);
	assert_int_equal(fq_vol_create(p, "f", 16 * MiB, false), 0);
	assert_int_equal(fq_pool_register("fp", p), 0);
	b = open_vol("fp/f");
	bt_data_path(&eng, b);
	/* Enough first writes to wrap the 64 KiB journal through checkpoints. */
	for (int i = 0; i < 64; i++)
		bt_write_pattern(&eng, b, (uint64_t)i * 131072 + 512, 1024, (unsigned)i + 10);
	assert_int_equal(fq_vol_snapshot(p, "f@s"), 0);
	bt_write_pattern(&eng, b, 512, 512, 99);
	assert_int_equal(fq_vol_clone(p, "f@s", "g"), 0);
	fq_bdev_close(b);
	/*
	 * A file pool zeroes a new cluster by punching it: clusters freed by
	 * one volume and taken by another read zeroes around the new data.
	 */
	assert_int_equal(fq_vol_create(p, "old", 4 * MiB, false), 0);
	b = open_vol("fp/old");
	bt_write_pattern(&eng, b, 0, 4 * MiB, 21);
	fq_bdev_close(b);
	assert_int_equal(fq_vol_delete(p, "old"), 0);
	assert_int_equal(fq_vol_create(p, "new", 4 * MiB, false), 0);
	b = open_vol("fp/new");
	for (uint64_t off = 0; off < 4 * MiB; off += 65536)
		bt_write_pattern(&eng, b, off + 4096, 4096, 22);
	for (uint64_t off = 0; off < 4 * MiB; off += 65536) {
		bt_expect(&eng, b, off, 4096, -1);
		bt_expect(&eng, b, off + 4096, 4096, 22);
		bt_expect(&eng, b, off + 8192, 65536 - 8192, -1);
	}
	fq_bdev_close(b);
	assert_int_equal(fq_vol_delete(p, "new"), 0);
	assert_int_equal(fq_pool_unregister("fp"), 0);
	assert_int_equal(fq_pool_close(p), 0);
	assert_int_equal(fq_pool_check(base, &eng, &rep), 0);
	if (rep.errors)
		fail_msg("check: %s", rep.first_error);
	/* Reopened: everything is where it was. */
	assert_int_equal(fq_pool_open(base, &eng, &p), 0);
	assert_int_equal(fq_pool_register("fp", p), 0);
	b = open_vol("fp/f");
	bt_expect(&eng, b, 512, 512, 99);
	for (int i = 1; i < 64; i++)
		bt_expect(&eng, b, (uint64_t)i * 131072 + 512, 1024, (unsigned)i + 10);
	fq_bdev_close(b);
	b = open_vol("fp/g");
	bt_expect(&eng, b, 512, 1024, 10);
	fq_bdev_close(b);
	assert_int_equal(fq_pool_unregister("fp"), 0);
	fq_pool_abandon(p);
	fq_bdev_close_discard(base);
	fq_engine_fini(&eng);
	rmdir(dir);
}

struct held_done {
	int n, rc;
};

static void held_cb(struct fq_bdev_io *io, int rc)
{
	struct held_done *d = io->cb_arg;

	d->n++;
	d->rc = rc;
}

/*
 * The management socket's hold: I/O submitted while a pool is held waits
 * (its callback does not run) until the release starts it; a resize is
 * seen through the bdev; a detached vol bdev fails its I/O.
 */
static void test_hold_release_detach(void **state)
{
	struct fq_bdev_opts ram;
	struct fq_bdev *base, *b;
	struct fq_engine eng;
	struct fq_pool *p;
	struct fq_bdev_io io;
	struct held_done d = {0};
	struct iovec iov;
	uint8_t *buf = bt_alloc(4096);
	char err[160];

	(void)state;
	assert_int_equal(fq_engine_init(&eng, 64), 0);
	assert_int_equal(fq_bdev_opts_init(&ram, FQ_BDEV_RAM), 0);
	ram.size = 32 * MiB;
	assert_int_equal(fq_bdev_open(&ram, &base, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_create(base, NULL, &(struct fq_pool_opts){.cluster_size = 65536}),
			 0);
	assert_int_equal(fq_pool_open(base, NULL, &p), 0);
	assert_int_equal(fq_vol_create(p, "v", 4 * MiB, false), 0);
	assert_int_equal(fq_pool_register("hp", p), 0);
	b = open_vol("hp/v");
	bt_write_pattern(&eng, b, 0, 4096, 7);
	assert_true(fq_pool_io_idle(p));

	assert_int_equal(fq_pool_io_hold(p, true), 0);
	memset(&io, 0, sizeof(io));
	iov.iov_base = buf;
	iov.iov_len = 4096;
	io.type = FQ_BDEV_IO_READ;
	io.length = 4096;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = held_cb;
	io.cb_arg = &d;
	assert_int_equal(fq_bdev_submit(b, &eng, &io), 0);
	assert_int_equal(d.n, 0);
	assert_true(fq_pool_io_idle(p)); /* queued, not in flight */
	/* A metadata change while it waits. */
	assert_int_equal(fq_vol_resize(p, "v", 8 * MiB, false), 0);
	fq_vol_bdev_resized(p, fq_vol_find(p, "v"));
	assert_int_equal(b->num_blocks * b->block_size, 8 * MiB);
	fq_pool_io_release(p);
	while (d.n == 0)
		fq_engine_run(&eng, 1, 1000000);
	assert_int_equal(d.rc, 0);
	bt_expect(&eng, b, 0, 4096, 7);

	/* Detached (its volume is going): I/O fails, the pool is no longer in use. */
	fq_vol_bdev_detach(p, fq_vol_find(p, "v"));
	assert_int_equal(fq_bdev_submit(b, &eng, &io), -ENXIO);
	assert_int_equal(fq_bdev_used_blocks(b), 0);
	assert_int_equal(fq_vol_delete(p, "v"), 0);
	assert_int_equal(fq_pool_unregister("hp"), 0);
	fq_bdev_close(b);
	assert_int_equal(fq_pool_close(p), 0);
	fq_bdev_close(base);
	fq_engine_fini(&eng);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_ram_pool),
		cmocka_unit_test(test_file_pool),
		cmocka_unit_test(test_hold_release_detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
