/* SPDX-License-Identifier: MIT */
/* Helpers shared by the block backend unit tests: drive I/O through a real engine. */
#ifndef FQ_TEST_BDEV_TEST_H
#define FQ_TEST_BDEV_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bdev/bdev.h"

/* Submit @io and run @eng until its callback ran once; returns its result or the submit error. */
int bt_run(struct fq_engine *eng, struct fq_bdev *bdev, struct fq_bdev_io *io);

/* One read or write of @len bytes at @off over @iov. */
int bt_rw(struct fq_engine *eng, struct fq_bdev *bdev, enum fq_bdev_io_type type, uint64_t off,
	  struct iovec *iov, int iovcnt, uint64_t len);

/* A flush, write-zeroes or deallocate of [off, off+len). */
int bt_cmd(struct fq_engine *eng, struct fq_bdev *bdev, enum fq_bdev_io_type type, uint64_t off,
	   uint64_t len);

/* The test pattern byte for device offset @off; never zero. */
static inline uint8_t bt_pat(uint64_t off, unsigned seed)
{
	return (uint8_t)((off + seed) % 251 + 1);
}

void bt_fill(uint8_t *buf, size_t len, uint64_t dev_off, unsigned seed);
/* Index of the first byte that differs from the pattern, or -1. */
long bt_check(const uint8_t *buf, size_t len, uint64_t dev_off, unsigned seed);
/* Index of the first byte that is not @val, or -1. */
long bt_check_byte(const uint8_t *buf, size_t len, uint8_t val);

/* Page-aligned buffer (freed with free()), so O_DIRECT can use it too. */
void *bt_alloc(size_t len);

/* Write the pattern to [off, off+len) in one single-iovec write. */
void bt_write_pattern(struct fq_engine *eng, struct fq_bdev *bdev, uint64_t off, uint64_t len,
		      unsigned seed);
/* Read [off, off+len) and assert it holds the pattern (or zeroes when @seed < 0). */
void bt_expect(struct fq_engine *eng, struct fq_bdev *bdev, uint64_t off, uint64_t len, int seed);

/*
 * The data-path checks every storing backend must pass: multi-iovec writes
 * and reads with different splits, iovecs larger than the transfer, write
 * zeroes and deallocate reading back zeroes, flush. Needs a device of at
 * least 64 KiB.
 */
void bt_data_path(struct fq_engine *eng, struct fq_bdev *bdev);

/*
 * Fill @o for module @kind and apply the options in @kv ("k=v,k=v", NULL for
 * none) through the module's parser; @base is the bdev below (stacking
 * modules). Fails the test on a parse error.
 */
void bt_opts(struct fq_bdev_opts *o, enum fq_bdev_kind kind, const char *kv,
	     const struct fq_bdev_opts *base);

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t bt_now_us(void);

#endif
