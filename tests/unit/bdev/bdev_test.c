/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdev_test.h"

struct bt_wait {
	int calls;
	int result;
};

static void bt_cb(struct fq_bdev_io *io, int result)
{
	struct bt_wait *w = io->cb_arg;

	w->calls++;
	w->result = result;
}

int bt_run(struct fq_engine *eng, struct fq_bdev *bdev, struct fq_bdev_io *io)
{
	struct bt_wait w = {0};
	int rc, turns;

	io->cb = bt_cb;
	io->cb_arg = &w;
	rc = fq_bdev_submit(bdev, eng, io);
	if (rc) {
		/* A refused submit must not complete. */
		assert_int_equal(w.calls, 0);
		return rc;
	}
	for (turns = 0; !w.calls && turns < 100; turns++) {
		rc = fq_engine_run(eng, 1, 2000000000LL);
		assert_true(rc >= 0);
	}
	assert_int_equal(w.calls, 1);
	/* Nothing of this request may still be in the ring. */
	assert_int_equal(io->pending, 0);
	return w.result;
}

int bt_rw(struct fq_engine *eng, struct fq_bdev *bdev, enum fq_bdev_io_type type, uint64_t off,
	  struct iovec *iov, int iovcnt, uint64_t len)
{
	struct fq_bdev_io io;

	memset(&io, 0, sizeof(io));
	io.type = type;
	io.offset = off;
	io.length = len;
	io.iov = iov;
	io.iovcnt = iovcnt;
	return bt_run(eng, bdev, &io);
}

int bt_cmd(struct fq_engine *eng, struct fq_bdev *bdev, enum fq_bdev_io_type type, uint64_t off,
	   uint64_t len)
{
	return bt_rw(eng, bdev, type, off, NULL, 0, len);
}

void bt_fill(uint8_t *buf, size_t len, uint64_t dev_off, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = bt_pat(dev_off + i, seed);
}

long bt_check(const uint8_t *buf, size_t len, uint64_t dev_off, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != bt_pat(dev_off + i, seed))
			return (long)i;
	return -1;
}

long bt_check_byte(const uint8_t *buf, size_t len, uint8_t val)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != val)
			return (long)i;
	return -1;
}

void *bt_alloc(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	assert_non_null(p);
	return p;
}

void bt_write_pattern(struct fq_engine *eng, struct fq_bdev *bdev, uint64_t off, uint64_t len,
		      unsigned seed)
{
	uint8_t *buf = bt_alloc(len);
	struct iovec iov = {buf, len};

	bt_fill(buf, len, off, seed);
	assert_int_equal(bt_rw(eng, bdev, FQ_BDEV_IO_WRITE, off, &iov, 1, len), 0);
	free(buf);
}

void bt_expect(struct fq_engine *eng, struct fq_bdev *bdev, uint64_t off, uint64_t len, int seed)
{
	uint8_t *buf = bt_alloc(len);
	struct iovec iov = {buf, len};

	memset(buf, 0xEE, len);
	assert_int_equal(bt_rw(eng, bdev, FQ_BDEV_IO_READ, off, &iov, 1, len), 0);
	if (seed < 0)
		assert_int_equal(bt_check_byte(buf, len, 0), -1);
	else
		assert_int_equal(bt_check(buf, len, off, (unsigned)seed), -1);
	free(buf);
}

/* Write 8 KiB at 4 KiB through four uneven iovecs, read it back split differently. */
static void data_multi_iov(struct fq_engine *eng, struct fq_bdev *bdev)
{
	static const size_t wlen[] = {512, 1536, 4096, 2048};
	static const size_t rlen[] = {4096, 512, 3584};
	struct iovec wv[4], rv[3];
	uint64_t off = 4096, pos = off;
	size_t i;

	for (i = 0; i < 4; i++) {
		wv[i].iov_base = bt_alloc(wlen[i]);
		wv[i].iov_len = wlen[i];
		bt_fill(wv[i].iov_base, wlen[i], pos, 7);
		pos += wlen[i];
	}
	assert_int_equal(bt_rw(eng, bdev, FQ_BDEV_IO_WRITE, off, wv, 4, 8192), 0);
	for (i = 0; i < 3; i++) {
		rv[i].iov_base = bt_alloc(rlen[i]);
		rv[i].iov_len = rlen[i];
		memset(rv[i].iov_base, 0xEE, rlen[i]);
	}
	assert_int_equal(bt_rw(eng, bdev, FQ_BDEV_IO_READ, off, rv, 3, 8192), 0);
	for (pos = off, i = 0; i < 3; pos += rlen[i], i++)
		assert_int_equal(bt_check(rv[i].iov_base, rlen[i], pos, 7), -1);
	for (i = 0; i < 4; i++)
		free(wv[i].iov_base);
	for (i = 0; i < 3; i++)
		free(rv[i].iov_base);
}

/* Iovecs longer than the transfer: only length bytes move, the rest is untouched. */
static void data_long_iov(struct fq_engine *eng, struct fq_bdev *bdev)
{
	uint32_t bs = bdev->block_size;
	uint8_t *buf = bt_alloc(bs + 4096);
	struct iovec iov = {buf, bs + 4096};

	memset(buf, 0xEE, bs + 4096);
	assert_int_equal(bt_rw(eng, bdev, FQ_BDEV_IO_READ, 4096, &iov, 1, bs), 0);
	assert_int_equal(bt_check(buf, bs, 4096, 7), -1);
	assert_int_equal(bt_check_byte(buf + bs, 4096, 0xEE), -1);
	free(buf);
}

void bt_data_path(struct fq_engine *eng, struct fq_bdev *bdev)
{
	uint32_t bs = bdev->block_size;

	assert_true(bdev->num_blocks * bs >= 65536);
	data_multi_iov(eng, bdev);
	data_long_iov(eng, bdev);

	/* Write zeroes of one block inside the pattern. */
	bt_write_pattern(eng, bdev, 16384, 4 * bs, 8);
	assert_int_equal(bt_cmd(eng, bdev, FQ_BDEV_IO_WRITE_ZEROES, 16384 + bs, bs), 0);
	bt_expect(eng, bdev, 16384, bs, 8);
	bt_expect(eng, bdev, 16384 + bs, bs, -1);
	bt_expect(eng, bdev, 16384 + 2 * bs, 2 * bs, 8);

	/* Deallocate reads back zeroes where the backend promises it. */
	bt_write_pattern(eng, bdev, 32768, 32768, 9);
	assert_int_equal(bt_cmd(eng, bdev, FQ_BDEV_IO_DEALLOCATE, 40960, 16384), 0);
	if (bdev->read_zeroes_after_dealloc) {
		bt_expect(eng, bdev, 32768, 8192, 9);
		bt_expect(eng, bdev, 40960, 16384, -1);
		bt_expect(eng, bdev, 57344, 8192, 9);
	}

	assert_int_equal(bt_cmd(eng, bdev, FQ_BDEV_IO_FLUSH, 0, 0), 0);
	assert_int_equal(bdev->ops->sync(bdev), 0);
}

void bt_opts(struct fq_bdev_opts *o, enum fq_bdev_kind kind, const char *kv,
	     const struct fq_bdev_opts *base)
{
	const struct fq_bdev_module *m = fq_bdev_module_get(kind);
	char buf[256], err[128], *opt, *next;

	assert_non_null(m);
	assert_int_equal(fq_bdev_opts_init(o, kind), 0);
	o->base = base;
	if (!kv)
		return;
	assert_true(strlen(kv) < sizeof(buf));
	strcpy(buf, kv);
	for (next = buf; (opt = next);) {
		char *val;

		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		val = strchr(opt, '=');
		assert_non_null(val);
		*val++ = '\0';
		if (m->parse(o, opt, val, err, sizeof(err)))
			fail_msg("%s: option %s=%s: %s", m->name, opt, val, err);
	}
}

uint64_t bt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
