/* SPDX-License-Identifier: MIT */
/* Backend-independent part of the block layer: open/close and request checks. */
#include "bdev/bdev.h"
#include "bdev/backend.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t fq_bdev_zeroes[FQ_BDEV_ZERO_LEN] __attribute__((aligned(4096)));

void fq_bdev_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void fq_bdev_iov_zero(struct fq_bdev_io *io, uint64_t from)
{
	uint64_t left = io->length - from;
	int i;

	for (i = 0; i < io->iovcnt && left; i++) {
		size_t len = io->iov[i].iov_len;
		size_t n;

		if (from >= len) {
			from -= len;
			continue;
		}
		n = len - from < left ? len - from : left;
		memset((uint8_t *)io->iov[i].iov_base + from, 0, n);
		left -= n;
		from = 0;
	}
}

/* The prefix of error messages: "ram", "null" or "file <path>". */
static void err_prefix(const struct fq_bdev_opts *opts, char *buf, size_t len)
{
	switch (opts->kind) {
	case FQ_BDEV_RAM:
		snprintf(buf, len, "ram");
		break;
	case FQ_BDEV_NULL:
		snprintf(buf, len, "null");
		break;
	case FQ_BDEV_FILE:
		snprintf(buf, len, "file %s", opts->path ? opts->path : "(no path)");
		break;
	default:
		snprintf(buf, len, "bdev");
		break;
	}
}

static int check_opts(const struct fq_bdev_opts *opts, uint32_t bs, char *err, size_t errlen)
{
	char who[128];

	err_prefix(opts, who, sizeof(who));
	if (opts->kind != FQ_BDEV_RAM && opts->kind != FQ_BDEV_NULL && opts->kind != FQ_BDEV_FILE) {
		fq_bdev_errf(err, errlen, "bdev: unknown backend kind %d", (int)opts->kind);
		return -EINVAL;
	}
	if (bs != 512 && bs != 4096) {
		fq_bdev_errf(err, errlen, "%s: block size %u is not 512 or 4096", who, bs);
		return -EINVAL;
	}
	if (opts->kind == FQ_BDEV_FILE && (!opts->path || !opts->path[0])) {
		fq_bdev_errf(err, errlen, "file: no path given");
		return -EINVAL;
	}
	if (opts->kind != FQ_BDEV_FILE && opts->size == 0) {
		fq_bdev_errf(err, errlen, "%s: a size is required", who);
		return -EINVAL;
	}
	if (opts->size % bs) {
		fq_bdev_errf(err, errlen, "%s: size %llu is not a multiple of the block size %u",
			     who, (unsigned long long)opts->size, bs);
		return -EINVAL;
	}
	return 0;
}

int fq_bdev_open(const struct fq_bdev_opts *opts, struct fq_bdev **out, char *err, size_t errlen)
{
	struct fq_bdev *bdev;
	uint32_t bs;
	int rc;

	fq_bdev_errf(err, errlen, "%s", "");
	if (!opts || !out) {
		fq_bdev_errf(err, errlen, "bdev: no options given");
		return -EINVAL;
	}
	*out = NULL;
	bs = opts->block_size ? opts->block_size : 512;
	rc = check_opts(opts, bs, err, errlen);
	if (rc)
		return rc;
	bdev = calloc(1, sizeof(*bdev));
	if (!bdev) {
		fq_bdev_errf(err, errlen, "bdev: out of memory");
		return -ENOMEM;
	}
	bdev->block_size = bs;
	err_prefix(opts, bdev->name, sizeof(bdev->name));
	if (opts->kind == FQ_BDEV_RAM)
		rc = fq_bdev_ram_init(bdev, opts, err, errlen);
	else if (opts->kind == FQ_BDEV_NULL)
		rc = fq_bdev_null_init(bdev, opts, err, errlen);
	else
		rc = fq_bdev_file_init(bdev, opts, err, errlen);
	if (rc) {
		free(bdev);
		return rc;
	}
	*out = bdev;
	return 0;
}

void fq_bdev_close(struct fq_bdev *bdev)
{
	if (!bdev)
		return;
	if (bdev->ops && bdev->ops->destroy)
		bdev->ops->destroy(bdev);
	free(bdev);
}

void fq_bdev_close_discard(struct fq_bdev *bdev)
{
	if (!bdev)
		return;
	if (bdev->ops && !strcmp(bdev->ops->name, "file"))
		fq_bdev_file_discard(bdev);
	fq_bdev_close(bdev);
}

/* The iovecs must hold at least io->length bytes. */
static int check_iov(const struct fq_bdev_io *io)
{
	uint64_t sum = 0;
	int i;

	if (!io->iov || io->iovcnt <= 0 || io->iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < io->iovcnt && sum < io->length; i++) {
		if (io->iov[i].iov_len && !io->iov[i].iov_base)
			return -EINVAL;
		sum += io->iov[i].iov_len;
	}
	return sum >= io->length ? 0 : -EINVAL;
}

static int check_io(const struct fq_bdev *bdev, const struct fq_bdev_io *io)
{
	uint64_t cap = bdev->num_blocks * bdev->block_size;
	uint64_t mask = bdev->block_size - 1;

	if (!io->cb)
		return -EINVAL;
	switch (io->type) {
	case FQ_BDEV_IO_FLUSH:
		return 0;
	case FQ_BDEV_IO_READ:
	case FQ_BDEV_IO_WRITE:
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		break;
	default:
		return -EINVAL;
	}
	if (!io->length || (io->offset & mask) || (io->length & mask))
		return -EINVAL;
	/* Written so that offset + length cannot wrap. */
	if (io->offset > cap || io->length > cap - io->offset)
		return -EINVAL;
	if (io->type == FQ_BDEV_IO_READ || io->type == FQ_BDEV_IO_WRITE)
		return check_iov(io);
	return 0;
}

int fq_bdev_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	int rc;

	if (!bdev || !bdev->ops || !bdev->ops->submit || !io)
		return -EINVAL;
	rc = check_io(bdev, io);
	if (rc)
		return rc;
	io->bdev = bdev;
	io->eng = eng;
	io->done_bytes = 0;
	io->pending = 0;
	io->error = 0;
	io->state = 0;
	return bdev->ops->submit(bdev, eng, io);
}
