/* SPDX-License-Identifier: MIT */
/*
 * The file backend: local files or block devices, one namespace per
 * file_path (nsid 1, 2, ... in configuration order), each a bdev of the
 * block layer's file module (src/bdev/), driven through the handle's own
 * io_uring engine. Files are opened for buffered I/O; flush is fdatasync.
 * The core hands it whole blocks only, so it behaves exactly like a
 * namespace of the same block size.
 *
 * Opening keeps the backend's own rules (create with file_size, extend a
 * smaller file, use a larger one as it is, any power-of-two block size); the
 * bdev then sees an existing file at its size, with the finest block size
 * the device allows, which every storage block size is a multiple of.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "storage_int.h"
#include "xport/engine.h"

struct fslot {
	struct fq_bdev_io io;
	struct fctx *fc;
	struct sto_bio *bio;
	struct fslot *next;
};

struct fctx {
	struct fq_storage *st;
	struct fq_engine eng;
	struct fq_bdev *bdev[STO_MAX_FILES];
	unsigned nbdev;
	struct fslot *slots;
	struct fslot *free;
	uint32_t capacity; /* application requests */
};

static int file_size_of(struct fq_storage *st, int fd, const char *path, uint64_t *size,
			uint32_t *lbs)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return -errno;
	*lbs = 512;
	if (S_ISBLK(sb.st_mode)) {
		int ss = 512;

		if (ioctl(fd, BLKGETSIZE64, size) || ioctl(fd, BLKSSZGET, &ss))
			return -errno;
		*lbs = (uint32_t)ss;
		return 0;
	}
	if (!S_ISREG(sb.st_mode)) {
		sto_set_error(st, -EINVAL, "file_path %s: not a regular file or block device",
			      path);
		return -EINVAL;
	}
	if (st->cfg.file_size > (uint64_t)sb.st_size) {
		if (ftruncate(fd, (off_t)st->cfg.file_size))
			return -errno;
		sb.st_size = (off_t)st->cfg.file_size;
	}
	*size = (uint64_t)sb.st_size;
	return 0;
}

static int open_one(struct fq_storage *st, struct fctx *fc, unsigned i)
{
	const struct sto_file *f = &st->cfg.files[i];
	int flags = O_RDWR | O_CLOEXEC | (st->cfg.file_size ? O_CREAT : 0);
	struct sto_ns *ns = &st->ns[i];
	struct fq_bdev_opts o;
	uint32_t lbs = 512, bs;
	uint64_t size = 0;
	char err[256];
	int fd, rc;

	fd = open(f->path, flags, 0644);
	if (fd < 0) {
		rc = -errno;
		sto_set_error(st, rc, "line %d: file_path %s: %s%s", f->line, f->path,
			      strerror(-rc), rc == -ENOENT ? " (set file_size to create it)" : "");
		return rc;
	}
	rc = file_size_of(st, fd, f->path, &size, &lbs);
	close(fd);
	if (rc) {
		if (rc != -EINVAL)
			sto_set_error(st, rc, "file_path %s: %s", f->path, strerror(-rc));
		return rc;
	}
	bs = f->bs ? f->bs : st->cfg.file_block_size ? st->cfg.file_block_size : lbs;
	if (bs < lbs || size < bs) {
		sto_set_error(st, -EINVAL,
			      "file_path %s: size %llu or block size %u unusable "
			      "(device blocks are %u bytes)",
			      f->path, (unsigned long long)size, bs, lbs);
		return -EINVAL;
	}
	fq_bdev_opts_init(&o, FQ_BDEV_FILE);
	o.path = f->path;
	o.block_size = lbs > 512 ? 4096 : 512;
	o.no_lock = true;
	rc = fq_bdev_open(&o, &fc->bdev[i], err, sizeof(err));
	if (rc) {
		sto_set_error(st, rc, "file_path %s: %s", f->path, err);
		return rc;
	}
	fc->nbdev = i + 1;
	ns->nsid = i + 1;
	ns->bs = bs;
	ns->bs_shift = (uint32_t)__builtin_ctz(bs);
	ns->nblocks = size >> ns->bs_shift;
	ns->be = fc->bdev[i];
	return 0;
}

static void file_close(void *ctx)
{
	struct fctx *fc = ctx;

	fq_engine_fini(&fc->eng);
	for (unsigned i = 0; i < fc->nbdev; i++)
		fq_bdev_close(fc->bdev[i]);
	free(fc->slots);
	free(fc);
}

static int file_open(struct fq_storage *st, void **ctx)
{
	struct fctx *fc = calloc(1, sizeof(*fc));
	uint32_t nslots;
	int rc;

	if (!fc)
		return -ENOMEM;
	fc->st = st;
	fc->capacity = st->cfg.io_queue_count * st->cfg.queue_depth;
	nslots = fc->capacity * 2; /* a read-modify-write has two edge reads in flight */
	fc->slots = calloc(nslots, sizeof(*fc->slots));
	rc = fc->slots ? fq_engine_init(&fc->eng, nslots < 4096 ? nslots : 4096) : -ENOMEM;
	if (rc) {
		sto_set_error(st, rc, "file backend: io_uring setup failed: %s", strerror(-rc));
		free(fc->slots);
		free(fc);
		return rc;
	}
	for (uint32_t i = nslots; i-- > 0;) {
		fc->slots[i].fc = fc;
		fc->slots[i].next = fc->free;
		fc->free = &fc->slots[i];
	}
	for (unsigned i = 0; i < st->cfg.nfiles; i++) {
		rc = open_one(st, fc, i);
		if (rc) {
			file_close(fc);
			return rc;
		}
	}
	st->nns = st->cfg.nfiles;
	*ctx = fc;
	return 0;
}

static void slot_done(struct fq_bdev_io *io, int res)
{
	struct fslot *s = io->cb_arg;
	struct fctx *fc = s->fc;
	struct sto_bio *bio = s->bio;
	unsigned flags = 0;

	s->next = fc->free;
	fc->free = s;
	if (res) {
		if (res == -EAGAIN || res == -EINTR || res == -EBUSY)
			flags |= STO_BIO_TRANSIENT;
		sto_set_error(fc->st, res, "file nsid %u: %s of %u blocks at block %llu: %s",
			      bio->ns->nsid, fq_storage_op_name(bio->op), bio->nlb,
			      (unsigned long long)bio->lba, strerror(-res));
	}
	bio->done(bio, res, flags);
}

static int file_submit(void *ctx, struct sto_bio *bio)
{
	struct fctx *fc = ctx;
	struct fslot *s = fc->free;
	struct fq_bdev_io *io;
	int rc;

	if (!s)
		return -EAGAIN;
	fc->free = s->next;
	s->bio = bio;
	io = &s->io;
	io->cb = slot_done;
	io->cb_arg = s;
	switch (bio->op) {
	case FQ_STORAGE_READ:
	case FQ_STORAGE_WRITE:
		io->type = bio->op == FQ_STORAGE_READ ? FQ_BDEV_IO_READ : FQ_BDEV_IO_WRITE;
		io->offset = bio->lba << bio->ns->bs_shift;
		io->length = (uint64_t)bio->nlb << bio->ns->bs_shift;
		io->iov = bio->iov;
		io->iovcnt = bio->iovcnt;
		break;
	default:
		io->type = FQ_BDEV_IO_FLUSH;
		io->offset = 0;
		io->length = 0;
		io->iov = NULL;
		io->iovcnt = 0;
		break;
	}
	rc = fq_bdev_submit(bio->ns->be, &fc->eng, io);
	if (rc) {
		s->next = fc->free;
		fc->free = s;
	}
	return rc;
}

static int file_kick(void *ctx)
{
	struct fctx *fc = ctx;

	return fq_engine_flush(&fc->eng);
}

static int file_poll(void *ctx, int64_t wait_ns)
{
	struct fctx *fc = ctx;
	int n;

	if (wait_ns && fc->eng.inflight)
		n = fq_engine_run(&fc->eng, 1, wait_ns);
	else
		n = fq_engine_run(&fc->eng, 0, 0);
	/* Callbacks may have queued follow-up I/O (read-modify-write). */
	fq_engine_flush(&fc->eng);
	return n;
}

static int file_ready(void *ctx)
{
	(void)ctx;
	return 0;
}

static int file_health(void *ctx, struct fq_storage_health *h)
{
	(void)ctx;
	h->state = FQ_STORAGE_UP;
	h->queues_live = h->queues_total = 1;
	return 0;
}

static uint32_t file_capacity(void *ctx)
{
	return ((struct fctx *)ctx)->capacity;
}

const struct sto_backend_ops sto_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.ready = file_ready,
	.submit = file_submit,
	.kick = file_kick,
	.poll = file_poll,
	.health = file_health,
	.capacity = file_capacity,
};
