/* SPDX-License-Identifier: MIT */
/*
 * fq_bdev_copy: a copy between ranges of one bdev. A module may do it
 * itself (ops->copy: the vol module shares whole clusters); otherwise the
 * block layer reads a chunk of a source range into a buffer and writes it
 * to the destination, chunk after chunk, through the whole stack on the
 * caller's reactor. The data never leaves the target, so a host copies
 * without moving it over the network twice.
 *
 * The buffer (at most FQ_BDEV_COPY_CHUNK bytes) is allocated per copy: a
 * Copy is a large, rare command, and the per-reactor data pools are sized
 * for transfers, not for holding a buffer for the whole of a long copy.
 */
#include "bdev/bdev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum copy_phase {
	CP_READ,  /* read the next chunk */
	CP_WRITE, /* write the chunk just read */
	CP_DONE,
};

struct copy_ctx {
	struct fq_bdev_io *io; /* the caller's */
	struct fq_bdev_io sub;
	struct iovec iov;
	uint8_t *buf;
	uint64_t buf_len;
	uint32_t ri;   /* range being copied */
	uint64_t roff; /* bytes of it done */
	uint64_t dst;  /* where the next chunk goes */
	uint64_t chunk;
	enum copy_phase phase;
	int rc;
	uint16_t nvme_status;
	bool running, again;
};

static void copy_kick(struct copy_ctx *c);

static void copy_sub_done(struct fq_bdev_io *sub, int rc)
{
	struct copy_ctx *c = sub->cb_arg;

	if (rc) {
		c->rc = rc;
		c->nvme_status = sub->nvme_status;
		c->phase = CP_DONE;
	} else if (c->phase == CP_READ) {
		c->phase = CP_WRITE;
	} else {
		c->roff += c->chunk;
		c->dst += c->chunk;
		if (c->roff == c->io->copy_ranges[c->ri].len) {
			c->ri++;
			c->roff = 0;
		}
		c->phase = c->ri == c->io->copy_nr ? CP_DONE : CP_READ;
	}
	copy_kick(c);
}

/* Start the I/O of the current phase; false when the copy is over. */
static bool copy_step(struct copy_ctx *c)
{
	const struct fq_bdev_copy_range *r = &c->io->copy_ranges[c->ri];
	struct fq_bdev_io *sub = &c->sub;
	int rc;

	if (c->phase == CP_DONE)
		return false;
	memset(sub, 0, sizeof(*sub));
	if (c->phase == CP_READ) {
		c->chunk = r->len - c->roff < c->buf_len ? r->len - c->roff : c->buf_len;
		sub->type = FQ_BDEV_IO_READ;
		sub->offset = r->src + c->roff;
	} else {
		sub->type = FQ_BDEV_IO_WRITE;
		sub->offset = c->dst;
	}
	sub->length = c->chunk;
	c->iov.iov_base = c->buf;
	c->iov.iov_len = c->chunk;
	sub->iov = &c->iov;
	sub->iovcnt = 1;
	sub->cb = copy_sub_done;
	sub->cb_arg = c;
	rc = fq_bdev_submit(c->io->bdev, c->io->eng, sub);
	if (rc) {
		c->rc = rc;
		c->phase = CP_DONE;
		return false;
	}
	return true;
}

/*
 * Run steps until one is in flight. A synchronous module (RAM) completes
 * inside submit: its callback only asks for another turn of this loop, so
 * a long copy does not grow the stack.
 */
static void copy_kick(struct copy_ctx *c)
{
	struct fq_bdev_io *io = c->io;
	int rc;

	if (c->running) {
		c->again = true;
		return;
	}
	c->running = true;
	do {
		c->again = false;
		if (!copy_step(c))
			break;
	} while (c->again);
	c->running = false;
	if (c->phase != CP_DONE)
		return;
	rc = c->rc;
	io->nvme_status = rc ? c->nvme_status : 0;
	io->done_bytes = rc ? 0 : io->length;
	free(c->buf);
	free(c);
	io->cb(io, rc);
}

static int copy_generic(struct fq_bdev_io *io)
{
	struct copy_ctx *c = calloc(1, sizeof(*c));
	uint64_t max = 0;

	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < io->copy_nr; i++)
		if (io->copy_ranges[i].len > max)
			max = io->copy_ranges[i].len;
	c->buf_len = max < FQ_BDEV_COPY_CHUNK ? max : FQ_BDEV_COPY_CHUNK;
	/* Page aligned: an O_DIRECT file reads into it. */
	c->buf = aligned_alloc(4096, (c->buf_len + 4095) & ~4095ull);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->io = io;
	c->dst = io->offset;
	c->phase = CP_READ;
	copy_kick(c);
	return 0;
}

static int check_copy(const struct fq_bdev *bdev, const struct fq_bdev_io *io)
{
	uint64_t cap = bdev->num_blocks * bdev->block_size;
	uint64_t mask = bdev->block_size - 1, sum = 0;

	if (!io->cb || !io->copy_ranges || !io->copy_nr || io->copy_nr > FQ_BDEV_COPY_MAX_RANGES)
		return -EINVAL;
	for (uint32_t i = 0; i < io->copy_nr; i++) {
		const struct fq_bdev_copy_range *r = &io->copy_ranges[i];

		if (!r->len || (r->src & mask) || (r->len & mask) || r->src > cap ||
		    r->len > cap - r->src)
			return -EINVAL;
		sum += r->len;
	}
	if (sum != io->length || (io->offset & mask) || io->offset > cap ||
	    io->length > cap - io->offset)
		return -EINVAL;
	return 0;
}

int fq_bdev_copy(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	int rc;

	if (!bdev || !bdev->ops || !io)
		return -EINVAL;
	rc = check_copy(bdev, io);
	if (rc)
		return rc;
	io->bdev = bdev;
	io->eng = eng;
	io->done_bytes = 0;
	io->pending = 0;
	io->error = 0;
	io->state = 0;
	io->nvme_status = 0;
	io->depth = 0;
	if (bdev->ops->copy) {
		rc = bdev->ops->copy(bdev, eng, io);
		if (rc != -EOPNOTSUPP)
			return rc;
	}
	return copy_generic(io);
}
