/* SPDX-License-Identifier: MIT */
/*
 * File backend I/O path: a regular file or a block device, driven
 * asynchronously through the calling reactor's io_uring so storage and
 * network operations share one io_uring_enter.
 *
 * Each request runs as a chain of single operations, one in flight at a time,
 * described by io->state; io->done_bytes says how far it got. Short
 * transfers are normal (signals, huge requests, EOF) and continue from where
 * they stopped, without touching the caller's iovecs and without allocating.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "bdev/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Largest single read/write we hand the kernel (it caps at MAX_RW_COUNT anyway). */
#define FILE_MAX_RW (1u << 30)

enum file_state {
	FILE_ST_RW,	    /* READV/WRITEV or READ/WRITE of the data */
	FILE_ST_FSYNC,	    /* fdatasync */
	FILE_ST_PUNCH,	    /* fallocate(PUNCH_HOLE) for a deallocate */
	FILE_ST_ZERO_RANGE, /* fallocate(ZERO_RANGE) */
	FILE_ST_ZERO_WRITE, /* plain writes from the shared zero region */
};

static void file_step(struct file_bdev *f, struct fq_bdev_io *io);

static struct io_uring_sqe *file_sqe(struct fq_bdev_io *io)
{
	io->pending++;
	return fq_engine_sqe(io->eng, &io->uop);
}

static void file_finish(struct fq_bdev_io *io, int result)
{
	io->error = result;
	io->cb(io, result);
}

/*
 * Queue the next piece of a read or write, starting io->done_bytes into the
 * data. Whole iovecs go in one READV/WRITEV; a segment that is partly done
 * or runs past io->length goes alone as READ/WRITE so the caller's array is
 * never modified.
 */
static void file_rw_next(struct file_bdev *f, struct fq_bdev_io *io)
{
	bool rd = io->type == FQ_BDEV_IO_READ;
	uint64_t skip = io->done_bytes, left = io->length - io->done_bytes;
	uint64_t pos = io->offset + io->done_bytes;
	struct io_uring_sqe *sqe;
	uint64_t sum = 0;
	int i = 0, n = 0;

	while (i < io->iovcnt - 1 && skip >= io->iov[i].iov_len)
		skip -= io->iov[i++].iov_len;
	sqe = file_sqe(io);
	if (skip || io->iov[i].iov_len > left) {
		uint64_t len = io->iov[i].iov_len - skip;
		uint8_t *buf = (uint8_t *)io->iov[i].iov_base + skip;

		len = len < left ? len : left;
		len = len < FILE_MAX_RW ? len : FILE_MAX_RW;
		if (rd)
			io_uring_prep_read(sqe, f->fd, buf, (unsigned)len, pos);
		else
			io_uring_prep_write(sqe, f->fd, buf, (unsigned)len, pos);
		return;
	}
	while (i + n < io->iovcnt && n < IOV_MAX && sum + io->iov[i + n].iov_len <= left)
		sum += io->iov[i + n++].iov_len;
	if (rd)
		io_uring_prep_readv(sqe, f->fd, &io->iov[i], n, pos);
	else
		io_uring_prep_writev(sqe, f->fd, &io->iov[i], n, pos);
}

static void file_zero_write_next(struct file_bdev *f, struct fq_bdev_io *io)
{
	uint64_t left = io->length - io->done_bytes;
	unsigned len = left < FQ_BDEV_ZERO_LEN ? (unsigned)left : FQ_BDEV_ZERO_LEN;

	io_uring_prep_write(file_sqe(io), f->fd, fq_bdev_zeroes, len, io->offset + io->done_bytes);
}

/* Queue the operation for io->state. */
static void file_step(struct file_bdev *f, struct fq_bdev_io *io)
{
	switch (io->state) {
	case FILE_ST_RW:
		file_rw_next(f, io);
		break;
	case FILE_ST_FSYNC:
		io_uring_prep_fsync(file_sqe(io), f->fd, IORING_FSYNC_DATASYNC);
		break;
	case FILE_ST_PUNCH:
		io_uring_prep_fallocate(file_sqe(io), f->fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->length);
		break;
	case FILE_ST_ZERO_RANGE:
		io_uring_prep_fallocate(file_sqe(io), f->fd,
					FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->length);
		break;
	case FILE_ST_ZERO_WRITE:
		file_zero_write_next(f, io);
		break;
	}
}

static int zero_state(const struct file_bdev *f)
{
	if (f->force_zero_fallback || atomic_load_explicit(&f->no_zero_range, memory_order_relaxed))
		return FILE_ST_ZERO_WRITE;
	return FILE_ST_ZERO_RANGE;
}

/* A transfer of @res bytes finished (or failed) in FILE_ST_RW or FILE_ST_ZERO_WRITE. */
static void file_xfer_done(struct file_bdev *f, struct fq_bdev_io *io, int res)
{
	if (res < 0) {
		file_finish(io, res);
		return;
	}
	if (res == 0) {
		/* Past EOF of a regular file (e.g. truncated behind our back): zeroes. */
		if (io->type == FQ_BDEV_IO_READ && !f->blkdev) {
			fq_bdev_iov_zero(io, io->done_bytes);
			io->done_bytes = io->length;
			file_finish(io, 0);
		} else {
			file_finish(io, -EIO);
		}
		return;
	}
	io->done_bytes += (unsigned)res;
	if (io->done_bytes < io->length)
		file_step(f, io);
	else
		file_finish(io, 0);
}

static void file_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_bdev_io *io = container_of(op, struct fq_bdev_io, uop);
	struct file_bdev *f = io->bdev->priv;

	(void)cqe_flags;
	io->pending--;
	if (res == -EINTR || res == -EAGAIN) {
		file_step(f, io);
		return;
	}
	switch (io->state) {
	case FILE_ST_RW:
	case FILE_ST_ZERO_WRITE:
		file_xfer_done(f, io, res);
		return;
	case FILE_ST_PUNCH:
		if (res != -EOPNOTSUPP)
			break;
		/* The promise is that deallocated blocks read zeroes: zero them instead. */
		atomic_store_explicit(&f->no_punch, true, memory_order_relaxed);
		io->state = zero_state(f);
		file_step(f, io);
		return;
	case FILE_ST_ZERO_RANGE:
		if (res != -EOPNOTSUPP)
			break;
		atomic_store_explicit(&f->no_zero_range, true, memory_order_relaxed);
		io->state = FILE_ST_ZERO_WRITE;
		file_step(f, io);
		return;
	default:
		break;
	}
	if (res == 0 && io->type != FQ_BDEV_IO_FLUSH)
		io->done_bytes = io->length;
	file_finish(io, res < 0 ? res : 0);
}

/* O_DIRECT: every segment used must start and end on the device's alignment. */
static bool dio_aligned(const struct file_bdev *f, const struct fq_bdev_io *io)
{
	uint64_t left = io->length;
	int i;

	for (i = 0; i < io->iovcnt && left; i++) {
		size_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : left;

		if (((uintptr_t)io->iov[i].iov_base & (f->dio_mem_align - 1)) ||
		    (n & (f->dio_len_align - 1)))
			return false;
		left -= n;
	}
	return true;
}

/*
 * Block devices: BLKDISCARD, synchronously (there is no io_uring opcode for
 * it). The Deallocate attribute of Dataset Management is a hint (NVM Command
 * Set 1.0, Dataset Management command), and this backend reports
 * read_zeroes_after_dealloc = false, so a device without discard completes it
 * as a no-op.
 */
static int file_discard(struct fq_bdev *bdev, struct file_bdev *f, struct fq_bdev_io *io)
{
	uint64_t range[2] = {io->offset, io->length};

	if (bdev->supports_dealloc && ioctl(f->fd, BLKDISCARD, range))
		return -errno;
	io->done_bytes = io->length;
	io->cb(io, 0);
	return 0;
}

static int file_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct file_bdev *f = bdev->priv;

	if (!eng)
		return -EINVAL;
	io->bdev = bdev;
	io->eng = eng;
	io->uop.done = file_done;
	switch (io->type) {
	case FQ_BDEV_IO_READ:
	case FQ_BDEV_IO_WRITE:
		if (f->direct && !dio_aligned(f, io))
			return -EINVAL;
		io->state = FILE_ST_RW;
		break;
	case FQ_BDEV_IO_FLUSH:
		io->state = FILE_ST_FSYNC;
		break;
	case FQ_BDEV_IO_WRITE_ZEROES:
		io->state = zero_state(f);
		break;
	case FQ_BDEV_IO_DEALLOCATE:
		if (f->blkdev)
			return file_discard(bdev, f, io);
		if (f->force_zero_fallback ||
		    atomic_load_explicit(&f->no_punch, memory_order_relaxed))
			io->state = zero_state(f);
		else
			io->state = FILE_ST_PUNCH;
		break;
	default:
		return -EINVAL;
	}
	file_step(f, io);
	return 0;
}

static int file_sync(struct fq_bdev *bdev)
{
	struct file_bdev *f = bdev->priv;

	return fdatasync(f->fd) ? -errno : 0;
}

static void file_destroy(struct fq_bdev *bdev)
{
	struct file_bdev *f = bdev->priv;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->created_path);
	f->created_path = NULL;
}

const struct fq_bdev_ops fq_bdev_file_ops = {
	.name = "file",
	.submit = file_submit,
	.map_read = NULL,
	.sync = file_sync,
	.destroy = file_destroy,
};

int fq_bdev_file_force_zero_fallback(struct fq_bdev *bdev, bool on)
{
	struct file_bdev *f;

	if (!bdev || bdev->ops != &fq_bdev_file_ops)
		return -EINVAL;
	f = bdev->priv;
	f->force_zero_fallback = on;
	return 0;
}
