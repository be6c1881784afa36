/* SPDX-License-Identifier: MIT */
/*
 * Null backend: a size and nothing behind it. Reads return zeroes, every
 * other operation succeeds and keeps nothing. Useful to measure the target
 * and the network without any storage cost.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"

#include <errno.h>

static int null_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	(void)bdev;
	(void)eng;
	switch (io->type) {
	case FQ_BDEV_IO_READ:
		fq_bdev_iov_zero(io, 0);
		break;
	case FQ_BDEV_IO_WRITE:
	case FQ_BDEV_IO_FLUSH:
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		break;
	default:
		return -EINVAL;
	}
	io->done_bytes = io->type == FQ_BDEV_IO_FLUSH ? 0 : io->length;
	io->cb(io, 0);
	return 0;
}

/* Reads up to the size of the shared zero region are served from it without a copy. */
static int null_map_read(struct fq_bdev *bdev, uint64_t offset, uint64_t len, struct iovec *iov)
{
	uint64_t cap = bdev->num_blocks * bdev->block_size;

	if (offset > cap || len > cap - offset)
		return -EINVAL;
	if (len > FQ_BDEV_ZERO_LEN)
		return -ENOTSUP;
	iov->iov_base = fq_bdev_zeroes;
	iov->iov_len = len;
	return 0;
}

static int null_sync(struct fq_bdev *bdev)
{
	(void)bdev;
	return 0;
}

static void null_destroy(struct fq_bdev *bdev)
{
	(void)bdev;
}

static const struct fq_bdev_ops null_ops = {
	.name = "null",
	.submit = null_submit,
	.map_read = null_map_read,
	.sync = null_sync,
	.destroy = null_destroy,
};

static int null_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		     size_t errlen)
{
	(void)err;
	(void)errlen;
	bdev->ops = &null_ops;
	bdev->num_blocks = opts->size / bdev->block_size;
	bdev->volatile_cache = false;
	bdev->sync_submit = true;
	bdev->read_zeroes_after_dealloc = true;
	bdev->supports_dealloc = true;
	return 0;
}

const struct fq_bdev_module fq_bdev_null_module = {
	.name = "null",
	.kind = FQ_BDEV_NULL,
	.ctx_size = 0,
	.parse = fq_bdev_parse_common,
	.keys = "size, bs",
	.init = null_init,
};
