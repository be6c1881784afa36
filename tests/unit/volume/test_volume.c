/* SPDX-License-Identifier: MIT */
/*
 * The volume engine on a RAM bdev: pools, thin and thick volumes, the data
 * path (zeroes where nothing was written, allocation on first write,
 * deallocation of whole clusters), snapshots with copy-on-write, clones,
 * rollback, flatten, snapshot delete, resize, rename, the journal's
 * checkpoints and replay, and the offline check.
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
#include "vol_test.h"
#include "volume/vol_internal.h" /* share_cap, shared_extra */

#define MiB (1ull << 20)
#define KiB 1024ull

struct ctx {
	struct fq_bdev *bdev;
	struct fq_pool *pool;
	uint32_t cs;
};

static struct fq_bdev *ram(uint64_t size)
{
	struct fq_bdev_opts o;
	struct fq_bdev *b;
	char err[128];

	assert_int_equal(fq_bdev_opts_init(&o, FQ_BDEV_RAM), 0);
	o.size = size;
	assert_int_equal(fq_bdev_open(&o, &b, err, sizeof(err)), 0);
	return b;
}

static int setup_cs(void **state, uint32_t cs, uint64_t journal)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct fq_pool_opts o = {.name = "p0", .cluster_size = cs, .journal_size = journal};

	assert_non_null(c);
	c->bdev = ram(64 * MiB);
	c->cs = cs ? cs : (uint32_t)MiB;
	assert_int_equal(fq_pool_create(c->bdev, NULL, &o), 0);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	*state = c;
	return 0;
}

static int setup(void **state)
{
	return setup_cs(state, 64 * KiB, 0);
}

static int setup_default(void **state)
{
	return setup_cs(state, 0, 0);
}

static int setup_small_journal(void **state)
{
	return setup_cs(state, 64 * KiB, 16 * KiB);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->pool)
		assert_int_equal(fq_pool_close(c->pool), 0);
	fq_bdev_close(c->bdev);
	free(c);
	return 0;
}

/* Close (or drop, as a crash would) and open again; check the pool first. */
static void reopen(struct ctx *c, bool clean)
{
	struct fq_pool_check_report rep;

	if (clean)
		assert_int_equal(fq_pool_close(c->pool), 0);
	else
		fq_pool_abandon(c->pool);
	c->pool = NULL;
	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("pool check: %s", rep.first_error);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
}

static void check_clean(struct ctx *c)
{
	struct fq_pool_check_report rep;

	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("pool check: %s", rep.first_error);
}

static struct fq_vol *vol(struct ctx *c, const char *name)
{
	struct fq_vol *v = fq_vol_find(c->pool, name);

	if (!v)
		fail_msg("no volume %s", name);
	return v;
}

static void fill(uint8_t *b, uint64_t len, uint8_t seed)
{
	for (uint64_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static void wr(struct ctx *c, const char *name, uint64_t off, uint64_t len, uint8_t seed)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	fill(b, len, seed);
	assert_int_equal(vt_io(vol(c, name), NULL, FQ_BDEV_IO_WRITE, off, b, len), 0);
	free(b);
}

/* [off, off+len) holds the pattern @seed started at @pat_off, or zeroes when @seed is 0. */
static void expect(struct ctx *c, const char *name, uint64_t off, uint64_t len, uint8_t seed,
		   uint64_t pat_off)
{
	uint8_t *b = malloc(len), *e = calloc(1, len + pat_off);

	assert_non_null(b);
	assert_non_null(e);
	memset(b, 0xee, len);
	if (seed)
		fill(e, len + pat_off, seed);
	assert_int_equal(vt_io(vol(c, name), NULL, FQ_BDEV_IO_READ, off, b, len), 0);
	if (memcmp(b, e + pat_off, len)) {
		for (uint64_t i = 0; i < len; i++)
			if (b[i] != e[pat_off + i])
				fail_msg("%s: byte %llu is %02x, expected %02x", name,
					 (unsigned long long)(off + i), b[i], e[pat_off + i]);
	}
	free(b);
	free(e);
}

static uint64_t allocated(struct ctx *c, const char *name)
{
	struct fq_vol_info i;

	assert_int_equal(fq_vol_info(vol(c, name), &i), 0);
	return i.allocated_bytes;
}

static void cmd(struct ctx *c, const char *name, enum fq_bdev_io_type t, uint64_t off, uint64_t len)
{
	assert_int_equal(vt_io(vol(c, name), NULL, t, off, NULL, len), 0);
}

static void test_create_open(void **state)
{
	struct ctx *c = *state;
	struct fq_pool_info pi;
	struct fq_vol_info vi;
	struct fq_pool *p2;

	assert_int_equal(fq_vol_create(c->pool, "v", 8 * MiB, false), 0);
	assert_int_equal(fq_vol_create(c->pool, "v", 8 * MiB, false), -EEXIST);
	assert_int_equal(fq_vol_create(c->pool, "bad@name", 8 * MiB, false), -EINVAL);
	assert_int_equal(fq_vol_create(c->pool, "odd", 8 * MiB + 4096, false), -EINVAL);
	assert_int_equal(fq_vol_info(vol(c, "v"), &vi), 0);
	assert_int_equal(vi.size, 8 * MiB);
	assert_int_equal(vi.allocated_bytes, 0);
	assert_false(vi.snapshot);
	assert_string_equal(vi.parent, "");
	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	assert_string_equal(pi.name, "p0");
	assert_int_equal(pi.cluster_size, c->cs);
	assert_int_equal(pi.volumes, 1);
	assert_int_equal(pi.allocated, 0);
	assert_true(pi.capacity > 48 * MiB && pi.capacity < 64 * MiB);
	/* Unwritten space reads as zeroes. */
	expect(c, "v", 0, 256 * KiB, 0, 0);
	reopen(c, true);
	assert_int_equal(fq_vol_info(vol(c, "v"), &vi), 0);
	assert_int_equal(vi.size, 8 * MiB);
	/* Not a pool: refused. */
	{
		struct fq_bdev *b = ram(16 * MiB);

		assert_int_equal(fq_pool_open(b, NULL, &p2), -EBADMSG);
		fq_bdev_close(b);
	}
}

static void test_thin_write(void **state)
{
	struct ctx *c = *state;
	struct fq_pool_info pi;

	assert_int_equal(fq_vol_create(c->pool, "v", 4 * MiB, false), 0);
	/* A partial first write allocates one cluster; the rest of it reads zeroes. */
	wr(c, "v", 100 * KiB, 4 * KiB, 1);
	assert_int_equal(allocated(c, "v"), c->cs);
	expect(c, "v", 100 * KiB, 4 * KiB, 1, 0);
	expect(c, "v", 64 * KiB, 36 * KiB, 0, 0);
	expect(c, "v", 104 * KiB, 24 * KiB, 0, 0);
	/* Across clusters, with an overwrite of the allocated one. */
	wr(c, "v", 60 * KiB, 80 * KiB, 2);
	assert_int_equal(allocated(c, "v"), 3 * c->cs);
	expect(c, "v", 60 * KiB, 80 * KiB, 2, 0);
	expect(c, "v", 0, 60 * KiB, 0, 0);
	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	assert_int_equal(pi.allocated, 3 * c->cs);
	/* Out of range and misaligned requests are refused. */
	assert_int_equal(vt_io(vol(c, "v"), NULL, FQ_BDEV_IO_READ, 4 * MiB, pi.name, 512), -EINVAL);
	assert_int_equal(vt_io(vol(c, "v"), NULL, FQ_BDEV_IO_READ, 100, pi.name, 512), -EINVAL);
	reopen(c, false);
	expect(c, "v", 60 * KiB, 80 * KiB, 2, 0);
	assert_int_equal(allocated(c, "v"), 3 * c->cs);
}

static void test_default_cluster(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(c->cs, MiB);
	assert_int_equal(fq_vol_create(c->pool, "v", 16 * MiB, false), 0);
	wr(c, "v", 3 * MiB + 512, 1024, 9);
	assert_int_equal(allocated(c, "v"), MiB);
	expect(c, "v", 3 * MiB, 512, 0, 0);
	expect(c, "v", 3 * MiB + 512, 1024, 9, 0);
	reopen(c, false);
	expect(c, "v", 3 * MiB + 512, 1024, 9, 0);
}

static void test_thick(void **state)
{
	struct ctx *c = *state;
	struct fq_vol_info vi;
	struct fq_pool_info pi;

	assert_int_equal(fq_vol_create(c->pool, "t", 2 * MiB, true), 0);
	assert_int_equal(fq_vol_info(vol(c, "t"), &vi), 0);
	assert_true(vi.thick);
	assert_int_equal(vi.allocated_bytes, 2 * MiB);
	expect(c, "t", 0, 2 * MiB, 0, 0);
	wr(c, "t", 8 * KiB, 8 * KiB, 3);
	expect(c, "t", 0, 8 * KiB, 0, 0);
	expect(c, "t", 8 * KiB, 8 * KiB, 3, 0);
	expect(c, "t", 16 * KiB, 48 * KiB, 0, 0);
	assert_int_equal(allocated(c, "t"), 2 * MiB);
	/* Deallocating keeps the reservation and reads zeroes. */
	cmd(c, "t", FQ_BDEV_IO_DEALLOCATE, 0, 64 * KiB);
	assert_int_equal(allocated(c, "t"), 2 * MiB);
	expect(c, "t", 0, 64 * KiB, 0, 0);
	/* Thick growth reserves; too big a thick volume is refused. */
	assert_int_equal(fq_vol_resize(c->pool, "t", 3 * MiB, false), 0);
	assert_int_equal(allocated(c, "t"), 3 * MiB);
	assert_int_equal(fq_vol_create(c->pool, "huge", 128 * MiB, true), -ENOSPC);
	assert_null(fq_vol_find(c->pool, "huge"));
	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	assert_int_equal(pi.allocated, 3 * MiB);
	reopen(c, false);
	assert_int_equal(allocated(c, "t"), 3 * MiB);
	expect(c, "t", 0, 3 * MiB, 0, 0);
}

static void test_dealloc(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(fq_vol_create(c->pool, "v", 2 * MiB, false), 0);
	wr(c, "v", 0, 256 * KiB, 4);
	assert_int_equal(allocated(c, "v"), 4 * c->cs);
	/* Whole clusters are freed; the partial edges are zeroed in place. */
	cmd(c, "v", FQ_BDEV_IO_DEALLOCATE, 32 * KiB, 160 * KiB);
	assert_int_equal(allocated(c, "v"), 2 * c->cs);
	expect(c, "v", 0, 32 * KiB, 4, 0);
	expect(c, "v", 32 * KiB, 160 * KiB, 0, 0);
	expect(c, "v", 192 * KiB, 64 * KiB, 4, 192 * KiB);
	cmd(c, "v", FQ_BDEV_IO_WRITE_ZEROES, 192 * KiB, 64 * KiB);
	assert_int_equal(allocated(c, "v"), c->cs);
	expect(c, "v", 192 * KiB, 64 * KiB, 0, 0);
	/* Zeroing what reads as zeroes allocates nothing. */
	cmd(c, "v", FQ_BDEV_IO_WRITE_ZEROES, 1 * MiB + 4096, 8192);
	assert_int_equal(allocated(c, "v"), c->cs);
	assert_int_equal(vt_io(vol(c, "v"), NULL, FQ_BDEV_IO_FLUSH, 0, NULL, 0), 0);
	reopen(c, false);
	expect(c, "v", 0, 32 * KiB, 4, 0);
	expect(c, "v", 32 * KiB, 224 * KiB, 0, 0);
	assert_int_equal(allocated(c, "v"), c->cs);
}

/*
 * A cluster freed by one volume and allocated again by another must not show
 * the old data around a partial first write (the engine zeroes the cluster on
 * the device instead of writing zeroes from memory).
 */
static void test_reuse_zeroes(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(fq_vol_create(c->pool, "old", 4 * MiB, false), 0);
	wr(c, "old", 0, 4 * MiB, 7);
	assert_int_equal(fq_vol_delete(c->pool, "old"), 0);
	assert_int_equal(fq_vol_create(c->pool, "new", 4 * MiB, false), 0);
	for (uint64_t off = 0; off < 4 * MiB; off += c->cs)
		wr(c, "new", off + 8 * KiB, 4 * KiB, 8);
	for (uint64_t off = 0; off < 4 * MiB; off += c->cs) {
		expect(c, "new", off, 8 * KiB, 0, 0);
		expect(c, "new", off + 8 * KiB, 4 * KiB, 8, 0);
		expect(c, "new", off + 12 * KiB, c->cs - 12 * KiB, 0, 0);
	}
	assert_int_equal(allocated(c, "new"), 4 * MiB);
	reopen(c, false);
	expect(c, "new", 0, 8 * KiB, 0, 0);
	expect(c, "new", 12 * KiB, c->cs - 12 * KiB, 0, 0);
}

/* A memory bdev that can keep writes in flight until the test finishes them. */
struct hold {
	uint8_t *mem;
	bool hold_writes;
	struct fq_bdev_io *held[4];
	int nheld;
};

static void hold_do(struct hold *h, struct fq_bdev_io *io)
{
	uint64_t off = io->offset, left = io->length;

	switch (io->type) {
	case FQ_BDEV_IO_READ:
	case FQ_BDEV_IO_WRITE:
		for (int i = 0; i < io->iovcnt && left; i++) {
			uint64_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : left;

			if (io->type == FQ_BDEV_IO_READ)
				memcpy(io->iov[i].iov_base, h->mem + off, n);
			else
				memcpy(h->mem + off, io->iov[i].iov_base, n);
			off += n;
			left -= n;
		}
		break;
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		memset(h->mem + off, 0, left);
		break;
	default:
		break;
	}
	io->done_bytes = io->type == FQ_BDEV_IO_FLUSH ? 0 : io->length;
	io->cb(io, 0);
}

static int hold_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct hold *h = bdev->priv;

	(void)eng;
	if (h->hold_writes && io->type == FQ_BDEV_IO_WRITE && h->nheld < 4) {
		h->held[h->nheld++] = io;
		return 0;
	}
	hold_do(h, io);
	return 0;
}

static void hold_destroy(struct fq_bdev *bdev)
{
	struct hold *h = bdev->priv;

	free(h->mem);
	free(h);
}

static const struct fq_bdev_ops hold_ops = {
	.name = "hold",
	.submit = hold_submit,
	.destroy = hold_destroy,
};

static struct fq_bdev *hold_new(uint64_t size)
{
	struct fq_bdev *b = calloc(1, sizeof(*b));
	struct hold *h = calloc(1, sizeof(*h));

	assert_non_null(b);
	assert_non_null(h);
	h->mem = calloc(1, size);
	assert_non_null(h->mem);
	b->ops = &hold_ops;
	snprintf(b->name, sizeof(b->name), "hold");
	b->block_size = 512;
	b->num_blocks = size / 512;
	/* Everything but a held write completes inside submit (no engine needed). */
	b->sync_submit = true;
	b->priv = h;
	return b;
}

/*
 * A write to a volume's own cluster is still on its way to the device when
 * a Deallocate frees that cluster and a Flush ends its quarantine. Another
 * volume's first write must not be given the cluster until the late write
 * is over: it would land on top of the new owner's data.
 */
static void test_late_write_keeps_cluster(void **state)
{
	struct fq_pool_opts o = {.name = "p0", .cluster_size = 64 * KiB};
	static uint8_t late[4096];
	struct fq_pool_check_report rep;
	struct ctx c = {.bdev = hold_new(64 * MiB), .cs = 64 * KiB};
	struct hold *h = c.bdev->priv;
	struct iovec iov = {late, sizeof(late)};
	struct fq_bdev_io io;
	struct vt_done d = {0};

	(void)state;
	assert_int_equal(fq_pool_create(c.bdev, NULL, &o), 0);
	assert_int_equal(fq_pool_open(c.bdev, NULL, &c.pool), 0);
	assert_int_equal(fq_vol_create(c.pool, "a", MiB, false), 0);
	assert_int_equal(fq_vol_create(c.pool, "b", MiB, false), 0);
	wr(&c, "a", 0, c.cs, 1);
	/* The late write: started, held by the device. */
	memset(late, 0x5a, sizeof(late));
	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_WRITE;
	io.length = sizeof(late);
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = vt_cb;
	io.cb_arg = &d;
	h->hold_writes = true;
	assert_int_equal(fq_vol_submit(vol(&c, "a"), NULL, &io), 0);
	h->hold_writes = false;
	assert_int_equal(h->nheld, 1);
	assert_false(d.done);
	/* The cluster is freed and its quarantine ends; b takes a cluster. */
	cmd(&c, "a", FQ_BDEV_IO_DEALLOCATE, 0, c.cs);
	assert_int_equal(vt_io(vol(&c, "a"), NULL, FQ_BDEV_IO_FLUSH, 0, NULL, 0), 0);
	wr(&c, "b", 0, c.cs, 3);
	/* The late write lands now. */
	hold_do(h, h->held[0]);
	assert_true(d.done);
	assert_int_equal(d.rc, 0);
	expect(&c, "b", 0, c.cs, 3, 0);
	/* Once it is over the cluster is free again: nothing leaks. */
	assert_int_equal(fq_pool_close(c.pool), 0);
	assert_int_equal(fq_pool_check(c.bdev, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("pool check: %s", rep.first_error);
	fq_bdev_close(c.bdev);
}

static void test_snapshot_cow(void **state)
{
	struct ctx *c = *state;
	struct fq_vol_info vi;
	uint8_t buf[4096];
	uint16_t st = 0;

	assert_int_equal(fq_vol_create(c->pool, "v", 1 * MiB, false), 0);
	wr(c, "v", 0, 256 * KiB, 5);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s1"), 0);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s1"), -EEXIST);
	assert_int_equal(fq_vol_snapshot(c->pool, "nosuch@s1"), -ENOENT);
	/* Instant: the snapshot owns the clusters, the volume shares them. */
	assert_int_equal(allocated(c, "v@s1"), 4 * c->cs);
	assert_int_equal(allocated(c, "v"), 0);
	assert_int_equal(fq_vol_info(vol(c, "v"), &vi), 0);
	assert_string_equal(vi.parent, "v@s1");
	assert_int_equal(vi.snapshots, 1);
	/* The first write to a shared cluster copies that cluster only. */
	wr(c, "v", 68 * KiB, 4 * KiB, 6);
	assert_int_equal(allocated(c, "v"), c->cs);
	expect(c, "v", 64 * KiB, 4 * KiB, 5, 64 * KiB);
	expect(c, "v", 68 * KiB, 4 * KiB, 6, 0);
	expect(c, "v", 72 * KiB, 56 * KiB, 5, 72 * KiB);
	expect(c, "v@s1", 0, 256 * KiB, 5, 0);
	/* A second write to the copied cluster copies nothing more. */
	wr(c, "v", 100 * KiB, 4 * KiB, 7);
	assert_int_equal(allocated(c, "v"), c->cs);
	/* Deallocating a shared cluster hides the snapshot's data from the volume only. */
	cmd(c, "v", FQ_BDEV_IO_DEALLOCATE, 128 * KiB, 64 * KiB);
	expect(c, "v", 128 * KiB, 64 * KiB, 0, 0);
	expect(c, "v@s1", 128 * KiB, 64 * KiB, 5, 128 * KiB);
	/* Snapshots are read-only: Namespace Is Write Protected. */
	assert_int_equal(vt_io_status(vol(c, "v@s1"), NULL, FQ_BDEV_IO_WRITE, 0, buf, 4096, &st),
			 -EROFS);
	assert_int_equal(st, (0x20 << 1));
	assert_int_equal(fq_vol_resize(c->pool, "v@s1", 2 * MiB, false), -EROFS);
	/* A second snapshot stacks on the first. */
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s2"), 0);
	wr(c, "v", 0, 4 * KiB, 8);
	expect(c, "v@s2", 68 * KiB, 4 * KiB, 6, 0);
	expect(c, "v@s2", 0, 4 * KiB, 5, 0);
	expect(c, "v", 0, 4 * KiB, 8, 0);
	reopen(c, false);
	expect(c, "v@s1", 0, 256 * KiB, 5, 0);
	expect(c, "v@s2", 68 * KiB, 4 * KiB, 6, 0);
	expect(c, "v", 0, 4 * KiB, 8, 0);
	expect(c, "v", 4 * KiB, 60 * KiB, 5, 4 * KiB);
	expect(c, "v", 128 * KiB, 64 * KiB, 0, 0);
}

/* Copy @n ranges inside volume @name to @dst (fq_vol_copy, run to completion). */
static void vcopy(struct ctx *c, const char *name, uint64_t dst, const struct fq_bdev_copy_range *r,
		  uint32_t n)
{
	struct fq_bdev_io io;
	struct vt_done d = {0};

	memset(&io, 0, sizeof(io));
	io.offset = dst;
	io.copy_ranges = r;
	io.copy_nr = n;
	for (uint32_t i = 0; i < n; i++)
		io.length += r[i].len;
	io.cb = vt_cb;
	io.cb_arg = &d;
	assert_int_equal(fq_vol_copy(vol(c, name), NULL, &io), 0);
	assert_true(d.done);
	assert_int_equal(d.rc, 0);
}

static uint64_t pool_allocated(struct ctx *c)
{
	struct fq_pool_info pi;

	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	return pi.allocated;
}

/*
 * Copy shares whole aligned clusters (no space, no data moved) and copies
 * the rest; a write to either side of a shared cluster copies it first; the
 * sharing survives a crash (journal replay) and a clean close (checkpoint),
 * a snapshot and its deletion, and the offline check counts it.
 */
static void test_copy_share(void **state)
{
	struct ctx *c = *state;
	struct fq_bdev_copy_range whole = {0, 128 * KiB}, part = {4 * KiB, 8 * KiB};
	struct fq_bdev_copy_range mixed = {32 * KiB, 128 * KiB};
	struct fq_pool_check_report rep;
	uint64_t a0;

	assert_int_equal(fq_vol_create(c->pool, "v", 2 * MiB, false), 0);
	wr(c, "v", 0, 256 * KiB, 5);
	a0 = allocated(c, "v");
	assert_int_equal(a0, 4 * c->cs);
	/* Clusters 0-1 to 8-9: shared, nothing allocated. */
	vcopy(c, "v", 512 * KiB, &whole, 1);
	assert_int_equal(allocated(c, "v"), a0);
	assert_int_equal(pool_allocated(c), a0);
	expect(c, "v", 512 * KiB, 128 * KiB, 5, 0);
	/* Again: the destination holds those clusters already, nothing changes. */
	vcopy(c, "v", 512 * KiB, &whole, 1);
	assert_int_equal(pool_allocated(c), a0);
	/* Part of a cluster: copied into a new one. */
	vcopy(c, "v", 720 * KiB, &part, 1);
	assert_int_equal(allocated(c, "v"), a0 + c->cs);
	expect(c, "v", 720 * KiB, 8 * KiB, 5, 4 * KiB);
	/* Same alignment, not on a boundary: head copied, middle shared, tail copied. */
	vcopy(c, "v", 800 * KiB, &mixed, 1);
	assert_int_equal(allocated(c, "v"), a0 + 3 * c->cs);
	expect(c, "v", 800 * KiB, 128 * KiB, 5, 32 * KiB);
	/* Dropped as a crash would: the check counts the shares, open replays them. */
	fq_pool_abandon(c->pool);
	c->pool = NULL;
	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	if (rep.errors)
		fail_msg("pool check: %s", rep.first_error);
	assert_int_equal(rep.clusters_shared, 3); /* cluster 0 twice, cluster 1 three times */
	assert_int_equal(rep.clusters_owned, 7);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	expect(c, "v", 512 * KiB, 128 * KiB, 5, 0);
	expect(c, "v", 800 * KiB, 128 * KiB, 5, 32 * KiB);
	assert_int_equal(allocated(c, "v"), a0 + 3 * c->cs);
	/* A write to the source copies the shared cluster: the destination keeps the old data. */
	wr(c, "v", 4 * KiB, 4 * KiB, 9);
	expect(c, "v", 512 * KiB, 64 * KiB, 5, 0);
	expect(c, "v", 4 * KiB, 4 * KiB, 9, 0);
	assert_int_equal(allocated(c, "v"), a0 + 4 * c->cs);
	/* And a write to the destination leaves the source alone. */
	wr(c, "v", 576 * KiB, 4 * KiB, 10);
	expect(c, "v", 64 * KiB, 64 * KiB, 5, 64 * KiB);
	expect(c, "v", 576 * KiB, 4 * KiB, 10, 0);
	expect(c, "v", 580 * KiB, 60 * KiB, 5, 68 * KiB);
	/* Cluster 1 is shared with 13 still; deallocating one side keeps the other. */
	cmd(c, "v", FQ_BDEV_IO_DEALLOCATE, 64 * KiB, 64 * KiB);
	expect(c, "v", 832 * KiB, 64 * KiB, 5, 64 * KiB);
	reopen(c, true);
	expect(c, "v", 832 * KiB, 64 * KiB, 5, 64 * KiB);
	/* A snapshot takes the shared entries with it; deleting it merges them back. */
	vcopy(c, "v", 1024 * KiB, &whole, 1);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s"), 0);
	wr(c, "v", 1024 * KiB, 4 * KiB, 11);
	expect(c, "v@s", 1024 * KiB, 4 * KiB, 5, 0);
	expect(c, "v@s", 1028 * KiB, 4 * KiB, 9, 0);
	expect(c, "v", 1024 * KiB, 4 * KiB, 11, 0);
	assert_int_equal(fq_vol_delete(c->pool, "v@s"), 0);
	expect(c, "v", 1028 * KiB, 4 * KiB, 9, 0);
	expect(c, "v", 1032 * KiB, 56 * KiB, 5, 8 * KiB);
	expect(c, "v", 0, 4 * KiB, 5, 0);
	reopen(c, false);
	assert_int_equal(fq_pool_close(c->pool), 0);
	c->pool = NULL;
	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.clusters_shared,
			 0); /* each shared cluster was written or dropped since */
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	/* Deleting the volume frees every cluster, shared or not. */
	assert_int_equal(fq_vol_delete(c->pool, "v"), 0);
	reopen(c, true);
	assert_int_equal(pool_allocated(c), 0);
}

/*
 * The checkpoint has room for a bounded number of shared references
 * (share_cap): past it a Copy copies, and the checkpoint still fits.
 */
static void test_copy_share_cap(void **state)
{
	struct ctx *c = *state;
	struct fq_bdev_copy_range r[FQ_BDEV_COPY_MAX_RANGES];
	struct fq_pool_check_report rep;
	uint64_t cap = c->pool->share_cap, a0, n, done = 0;

	assert_true(cap > 0);
	n = cap + 20;
	assert_int_equal(fq_vol_create(c->pool, "v", (n + 1) * c->cs, false), 0);
	wr(c, "v", 0, c->cs, 5);
	a0 = pool_allocated(c);
	for (uint32_t i = 0; i < FQ_BDEV_COPY_MAX_RANGES; i++)
		r[i] = (struct fq_bdev_copy_range){0, c->cs};
	while (done < n) {
		uint32_t k = n - done < FQ_BDEV_COPY_MAX_RANGES ? (uint32_t)(n - done)
								: FQ_BDEV_COPY_MAX_RANGES;

		vcopy(c, "v", (1 + done) * c->cs, r, k);
		done += k;
	}
	assert_int_equal(c->pool->shared_extra, cap);
	assert_int_equal(pool_allocated(c), a0 + 20 * c->cs);
	expect(c, "v", n * c->cs, c->cs, 5, 0);
	reopen(c, true); /* the checkpoint holds every shared pair */
	assert_int_equal(fq_pool_close(c->pool), 0);
	c->pool = NULL;
	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	assert_int_equal(rep.errors, 0);
	assert_int_equal(rep.clusters_shared, cap);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	expect(c, "v", (cap / 2) * c->cs, c->cs, 5, 0);
}

static void test_clone_flatten_snapdel(void **state)
{
	struct ctx *c = *state;
	struct fq_vol_info vi;

	assert_int_equal(fq_vol_create(c->pool, "v", 1 * MiB, false), 0);
	wr(c, "v", 0, 192 * KiB, 10);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s"), 0);
	assert_int_equal(fq_vol_clone(c->pool, "v@s", "c"), 0);
	assert_int_equal(fq_vol_clone(c->pool, "v", "c2"), -ENOENT);
	assert_int_equal(fq_vol_clone(c->pool, "v@s", "c"), -EEXIST);
	assert_int_equal(allocated(c, "c"), 0);
	expect(c, "c", 0, 192 * KiB, 10, 0);
	wr(c, "c", 64 * KiB, 4 * KiB, 11);
	wr(c, "v", 0, 4 * KiB, 12);
	expect(c, "c", 0, 4 * KiB, 10, 0);
	expect(c, "c", 64 * KiB, 4 * KiB, 11, 0);
	expect(c, "v", 64 * KiB, 4 * KiB, 10, 64 * KiB);
	expect(c, "v@s", 0, 192 * KiB, 10, 0);
	assert_int_equal(fq_vol_info(vol(c, "v@s"), &vi), 0);
	assert_int_equal(vi.dependants, 2);
	assert_true(vi.snapshot);
	/* The volume and a clone depend on the snapshot: delete refused. */
	assert_int_equal(fq_vol_delete(c->pool, "v@s"), -EBUSY);
	/* A volume with snapshots is not deleted either. */
	assert_int_equal(fq_vol_delete(c->pool, "v"), -EBUSY);
	/* Flatten: the clone gets its own copy of every shared cluster. */
	assert_int_equal(fq_vol_flatten(c->pool, "c"), 0);
	assert_int_equal(fq_vol_info(vol(c, "c"), &vi), 0);
	assert_string_equal(vi.parent, "");
	assert_int_equal(vi.allocated_bytes, 3 * c->cs);
	expect(c, "c", 0, 64 * KiB, 10, 0);
	expect(c, "c", 64 * KiB, 4 * KiB, 11, 0);
	expect(c, "c", 128 * KiB, 64 * KiB, 10, 128 * KiB);
	/* Now one dependant: the snapshot merges into the volume, nothing copied. */
	assert_int_equal(fq_vol_delete(c->pool, "v@s"), 0);
	assert_null(fq_vol_find(c->pool, "v@s"));
	assert_int_equal(fq_vol_info(vol(c, "v"), &vi), 0);
	assert_string_equal(vi.parent, "");
	assert_int_equal(vi.allocated_bytes, 3 * c->cs);
	expect(c, "v", 0, 4 * KiB, 12, 0);
	expect(c, "v", 4 * KiB, 188 * KiB, 10, 4 * KiB);
	check_clean(c);
	reopen(c, false);
	expect(c, "v", 0, 4 * KiB, 12, 0);
	expect(c, "c", 64 * KiB, 4 * KiB, 11, 0);
	/* Deleting frees the clusters. */
	assert_int_equal(fq_vol_delete(c->pool, "c"), 0);
	assert_int_equal(fq_vol_delete(c->pool, "c"), -ENOENT);
	assert_int_equal(fq_vol_delete(c->pool, "v"), 0);
	{
		struct fq_pool_info pi;

		assert_int_equal(fq_pool_info(c->pool, &pi), 0);
		assert_int_equal(pi.volumes, 0);
		assert_int_equal(pi.allocated, 0);
	}
	reopen(c, true);
}

static void test_rollback(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(fq_vol_create(c->pool, "v", 1 * MiB, false), 0);
	wr(c, "v", 0, 64 * KiB, 20);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@a"), 0);
	wr(c, "v", 0, 128 * KiB, 21);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@b"), 0);
	wr(c, "v", 0, 4 * KiB, 22);
	/* Only the latest snapshot. */
	assert_int_equal(fq_vol_rollback(c->pool, "v@a"), -EINVAL);
	assert_int_equal(fq_vol_rollback(c->pool, "v@b"), 0);
	assert_int_equal(allocated(c, "v"), 0);
	expect(c, "v", 0, 128 * KiB, 21, 0);
	assert_int_equal(fq_vol_delete(c->pool, "v@b"), 0);
	assert_int_equal(fq_vol_rollback(c->pool, "v@a"), 0);
	expect(c, "v", 0, 64 * KiB, 20, 0);
	expect(c, "v", 64 * KiB, 64 * KiB, 0, 0);
	reopen(c, false);
	expect(c, "v", 0, 64 * KiB, 20, 0);
	expect(c, "v", 64 * KiB, 64 * KiB, 0, 0);
}

static void test_resize(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(fq_vol_create(c->pool, "v", 1 * MiB, false), 0);
	wr(c, "v", 0, 1 * MiB, 30);
	assert_int_equal(fq_vol_resize(c->pool, "v", 2 * MiB, false), 0);
	assert_int_equal(fq_vol_size(vol(c, "v")), 2 * MiB);
	expect(c, "v", 1 * MiB, 1 * MiB, 0, 0);
	wr(c, "v", 1 * MiB + 4096, 4096, 31);
	assert_int_equal(fq_vol_resize(c->pool, "v", 512 * KiB, false), -EINVAL);
	assert_int_equal(fq_vol_resize(c->pool, "v", 1000, true), -EINVAL);
	assert_int_equal(fq_vol_resize(c->pool, "nosuch", 2 * MiB, false), -ENOENT);
	assert_int_equal(fq_vol_snapshot(c->pool, "v@s"), 0);
	/* Shrink frees what lies beyond; growing back shows zeroes, not the snapshot's data. */
	assert_int_equal(fq_vol_resize(c->pool, "v", 512 * KiB, true), 0);
	assert_int_equal(fq_vol_size(vol(c, "v")), 512 * KiB);
	assert_int_equal(fq_vol_resize(c->pool, "v", 2 * MiB, false), 0);
	expect(c, "v", 0, 512 * KiB, 30, 0);
	expect(c, "v", 512 * KiB, 1536 * KiB, 0, 0);
	expect(c, "v@s", 1 * MiB + 4096, 4096, 31, 0);
	reopen(c, false);
	expect(c, "v", 0, 512 * KiB, 30, 0);
	expect(c, "v", 512 * KiB, 1536 * KiB, 0, 0);
	assert_int_equal(fq_vol_size(vol(c, "v@s")), 2 * MiB);
}

static int count_cb(struct fq_vol *v, void *arg)
{
	(void)v;
	(*(int *)arg)++;
	return 0;
}

static void test_rename_list(void **state)
{
	struct ctx *c = *state;
	struct fq_vol_info vi;
	int n = 0;

	assert_int_equal(fq_vol_create(c->pool, "a", 1 * MiB, false), 0);
	assert_int_equal(fq_vol_create(c->pool, "b", 1 * MiB, false), 0);
	wr(c, "a", 0, 4096, 40);
	assert_int_equal(fq_vol_snapshot(c->pool, "a@s"), 0);
	assert_int_equal(fq_vol_rename(c->pool, "a", "b"), -EEXIST);
	assert_int_equal(fq_vol_rename(c->pool, "a", "x@y"), -EINVAL);
	assert_int_equal(fq_vol_rename(c->pool, "a", "z"), 0);
	assert_null(fq_vol_find(c->pool, "a"));
	assert_null(fq_vol_find(c->pool, "a@s"));
	expect(c, "z", 0, 4096, 40, 0);
	expect(c, "z@s", 0, 4096, 40, 0);
	assert_int_equal(fq_vol_rename(c->pool, "z@s", "z@t"), 0);
	assert_int_equal(fq_vol_rename(c->pool, "z@t", "b@t"), -EINVAL);
	assert_int_equal(fq_vol_info(vol(c, "z"), &vi), 0);
	assert_string_equal(vi.parent, "z@t");
	assert_int_equal(fq_vol_list(c->pool, count_cb, &n), 0);
	assert_int_equal(n, 3);
	reopen(c, false);
	assert_non_null(fq_vol_find(c->pool, "z@t"));
	assert_non_null(fq_vol_find(c->pool, "b"));
	expect(c, "z", 0, 4096, 40, 0);
	n = 0;
	assert_int_equal(fq_vol_list(c->pool, count_cb, &n), 0);
	assert_int_equal(n, 3);
}

static void expect_qos(struct ctx *c, const char *name, uint64_t ri, uint64_t wi, uint64_t rb,
		       uint64_t wb, uint32_t burst)
{
	struct fq_vol_info vi;

	assert_int_equal(fq_vol_info(vol(c, name), &vi), 0);
	assert_int_equal(vi.qos.read_iops, ri);
	assert_int_equal(vi.qos.write_iops, wi);
	assert_int_equal(vi.qos.read_bps, rb);
	assert_int_equal(vi.qos.write_bps, wb);
	assert_int_equal(vi.qos.burst_ms, burst);
}

/* QoS limits: journaled (kept by a replay after a drop) and checkpointed; suspension is not. */
static void test_qos_persists(void **state)
{
	struct fq_vol_qos q = {.read_iops = 50,
			       .write_iops = 7,
			       .read_bps = 3 * MiB,
			       .write_bps = 5 * MiB,
			       .burst_ms = 20};
	struct ctx *c = *state;
	struct fq_vol_info vi;

	assert_int_equal(fq_vol_create(c->pool, "a", 1 * MiB, false), 0);
	assert_int_equal(fq_vol_create(c->pool, "b", 1 * MiB, false), 0);
	/* A pool without limits reads as unlimited, with the default burst. */
	expect_qos(c, "a", 0, 0, 0, 0, FQ_VOL_QOS_DEFAULT_BURST_MS);
	assert_int_equal(fq_vol_set_qos(c->pool, "a", &q), 0);
	expect_qos(c, "a", 50, 7, 3 * MiB, 5 * MiB, 20);
	assert_int_equal(fq_vol_suspend(c->pool, "a"), 0);
	assert_int_equal(fq_vol_suspend(c->pool, "a"), -EALREADY);
	reopen(c, false); /* the journal has it */
	expect_qos(c, "a", 50, 7, 3 * MiB, 5 * MiB, 20);
	expect_qos(c, "b", 0, 0, 0, 0, FQ_VOL_QOS_DEFAULT_BURST_MS);
	assert_int_equal(fq_vol_info(vol(c, "a"), &vi), 0);
	assert_false(vi.suspended);
	assert_int_equal(fq_vol_resume(c->pool, "a", FQ_VOL_RESUME_NORMAL), -EALREADY);
	q.read_iops = 0;
	q.burst_ms = 0;
	assert_int_equal(fq_vol_set_qos(c->pool, "a", &q), 0);
	reopen(c, true); /* the checkpoint has it */
	expect_qos(c, "a", 0, 7, 3 * MiB, 5 * MiB, FQ_VOL_QOS_DEFAULT_BURST_MS);
	/* The limits follow a rename and stay with the volume, not its snapshot. */
	assert_int_equal(fq_vol_rename(c->pool, "a", "z"), 0);
	assert_int_equal(fq_vol_snapshot(c->pool, "z@s"), 0);
	reopen(c, false);
	expect_qos(c, "z", 0, 7, 3 * MiB, 5 * MiB, FQ_VOL_QOS_DEFAULT_BURST_MS);
	expect_qos(c, "z@s", 0, 0, 0, 0, FQ_VOL_QOS_DEFAULT_BURST_MS);
	/* Out of range, and unknown volumes. */
	q.read_iops = (uint64_t)FQ_VOL_QOS_MAX_IOPS + 1;
	assert_int_equal(fq_vol_set_qos(c->pool, "z", &q), -EINVAL);
	q.read_iops = 0;
	q.burst_ms = FQ_VOL_QOS_MAX_BURST_MS + 1;
	assert_int_equal(fq_vol_set_qos(c->pool, "z", &q), -EINVAL);
	assert_int_equal(fq_vol_set_qos(c->pool, "nope", &q), -ENOENT);
	assert_int_equal(fq_vol_resume(c->pool, "z", (enum fq_vol_resume_mode)7), -EINVAL);
	expect_qos(c, "z", 0, 7, 3 * MiB, 5 * MiB, FQ_VOL_QOS_DEFAULT_BURST_MS);
}

/* Many entries through a 16 KiB journal: checkpoints, then replay after a drop. */
static void test_journal_wrap(void **state)
{
	struct ctx *c = *state;
	struct fq_pool_info pi;

	assert_int_equal(fq_vol_create(c->pool, "v", 32 * MiB, false), 0);
	for (int i = 0; i < 200; i++)
		wr(c, "v", (uint64_t)i * 64 * KiB + 512, 512, (uint8_t)(i + 1));
	assert_int_equal(allocated(c, "v"), 200 * c->cs);
	fq_pool_abandon(c->pool);
	c->pool = NULL;
	check_clean(c);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	/* The journal holds at most a few entries past the last checkpoint. */
	assert_true(pi.journal_replayed < 4);
	for (int i = 0; i < 200; i++)
		expect(c, "v", (uint64_t)i * 64 * KiB + 512, 512, (uint8_t)(i + 1), 0);
	assert_int_equal(allocated(c, "v"), 200 * c->cs);
	/* A dropped pool replays what its journal holds. */
	wr(c, "v", 300 * 64 * KiB, 4096, 99);
	fq_pool_abandon(c->pool);
	c->pool = NULL;
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	assert_int_equal(fq_pool_info(c->pool, &pi), 0);
	assert_true(pi.journal_replayed >= 1);
	expect(c, "v", 300 * 64 * KiB, 4096, 99, 0);
}

/* Torn or stale metadata: the other superblock copy; a bad checkpoint is reported. */
static void test_corruption(void **state)
{
	struct ctx *c = *state;
	struct fq_pool_check_report rep;
	uint8_t *blk = aligned_alloc(4096, 4096);
	struct iovec iov = {blk, 4096};
	struct fq_bdev_io io;
	struct vt_done d = {0};

	assert_non_null(blk);
	assert_int_equal(fq_vol_create(c->pool, "v", 1 * MiB, false), 0);
	wr(c, "v", 0, 4096, 50);
	assert_int_equal(fq_pool_close(c->pool), 0);
	c->pool = NULL;
	/* Scribble over superblock copy A: the pool opens from B. */
	memset(blk, 0x5a, 4096);
	memset(&io, 0, sizeof(io));
	io.type = FQ_BDEV_IO_WRITE;
	io.length = 4096;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = vt_cb;
	io.cb_arg = &d;
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), 0);
	assert_true(d.done);
	check_clean(c);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), 0);
	expect(c, "v", 0, 4096, 50, 0);
	assert_int_equal(fq_pool_close(c->pool), 0);
	c->pool = NULL;
	/* Both copies gone: the check says so, open refuses. */
	io.offset = 4096;
	d.done = false;
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), 0);
	io.offset = 0;
	d.done = false;
	assert_int_equal(fq_bdev_submit(c->bdev, NULL, &io), 0);
	assert_int_equal(fq_pool_check(c->bdev, NULL, &rep), 0);
	assert_true(rep.errors > 0);
	assert_int_equal(fq_pool_open(c->bdev, NULL, &c->pool), -EBADMSG);
	c->pool = NULL;
	free(blk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thin_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_cluster, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_thick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dealloc, setup, teardown),
		cmocka_unit_test(test_late_write_keeps_cluster),
		cmocka_unit_test_setup_teardown(test_reuse_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_cow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_share_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_flatten_snapdel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_wrap, setup_small_journal, teardown),
		cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qos_persists, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
