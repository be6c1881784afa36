/* SPDX-License-Identifier: MIT */
/*
 * RAM backend: one anonymous mapping the size of the namespace. MAP_NORESERVE
 * and lazy faulting mean a large namespace costs memory only where written;
 * deallocated ranges are handed back with MADV_DONTNEED. Every operation is a
 * memcpy/memset, so completions run inside submit.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Below this, memset is cheaper than the page-table work of madvise. */
#define RAM_MADVISE_MIN (256u * 1024)

struct ram_bdev {
	uint8_t *base;
	uint64_t size;
	uintptr_t page_mask;
};

/* Copy io->length bytes between the iovecs and @mem. */
static void ram_copy(struct fq_bdev_io *io, uint8_t *mem, bool to_mem)
{
	uint64_t left = io->length;
	int i;

	for (i = 0; i < io->iovcnt && left; i++) {
		size_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : left;

		if (to_mem)
			memcpy(mem, io->iov[i].iov_base, n);
		else
			memcpy(io->iov[i].iov_base, mem, n);
		mem += n;
		left -= n;
	}
}

/*
 * Zero [off, off+len). For large ranges the whole pages inside are dropped
 * (an anonymous private mapping reads back zero-filled pages after
 * MADV_DONTNEED) and only the partial pages at the edges are cleared.
 */
static void ram_zero(struct ram_bdev *r, uint64_t off, uint64_t len)
{
	uint8_t *p = r->base + off;
	uint8_t *end = p + len;
	uint8_t *head, *tail;

	if (len < RAM_MADVISE_MIN) {
		memset(p, 0, len);
		return;
	}
	head = (uint8_t *)(((uintptr_t)p + r->page_mask) & ~r->page_mask);
	tail = (uint8_t *)((uintptr_t)end & ~r->page_mask);
	memset(p, 0, head - p);
	if (madvise(head, tail - head, MADV_DONTNEED))
		memset(head, 0, tail - head);
	memset(tail, 0, end - tail);
}

static int ram_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct ram_bdev *r = bdev->priv;

	(void)eng;
	switch (io->type) {
	case FQ_BDEV_IO_READ:
		ram_copy(io, r->base + io->offset, false);
		break;
	case FQ_BDEV_IO_WRITE:
		ram_copy(io, r->base + io->offset, true);
		break;
	case FQ_BDEV_IO_FLUSH:
		break;
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		ram_zero(r, io->offset, io->length);
		break;
	default:
		return -EINVAL;
	}
	io->done_bytes = io->type == FQ_BDEV_IO_FLUSH ? 0 : io->length;
	io->cb(io, 0);
	return 0;
}

static int ram_map_read(struct fq_bdev *bdev, uint64_t offset, uint64_t len, struct iovec *iov)
{
	struct ram_bdev *r = bdev->priv;

	if (offset > r->size || len > r->size - offset)
		return -EINVAL;
	iov->iov_base = r->base + offset;
	iov->iov_len = len;
	return 0;
}

static int ram_sync(struct fq_bdev *bdev)
{
	(void)bdev;
	return 0;
}

static void ram_destroy(struct fq_bdev *bdev)
{
	struct ram_bdev *r = bdev->priv;

	if (r->base)
		munmap(r->base, r->size);
	r->base = NULL;
}

static const struct fq_bdev_ops ram_ops = {
	.name = "ram",
	.submit = ram_submit,
	.map_read = ram_map_read,
	.sync = ram_sync,
	.destroy = ram_destroy,
};

static int ram_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err, size_t errlen)
{
	struct ram_bdev *r = bdev->priv;
	void *base;

	if (opts->size > SIZE_MAX) {
		fq_bdev_errf(err, errlen, "ram: size %llu does not fit in the address space",
			     (unsigned long long)opts->size);
		return -EINVAL;
	}
	base = mmap(NULL, opts->size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		int rc = -errno;

		fq_bdev_errf(err, errlen, "ram: cannot map %llu bytes: %s",
			     (unsigned long long)opts->size, strerror(-rc));
		return rc;
	}
	/*
	 * Random 4 KiB I/O over a large namespace misses the TLB on almost
	 * every access with 4 KiB pages; transparent huge pages cut the page
	 * walks of the backend's and the socket's copies. Advisory: without
	 * THP the mapping works as before.
	 */
	(void)madvise(base, opts->size, MADV_HUGEPAGE);
	r->base = base;
	r->size = opts->size;
	r->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	bdev->ops = &ram_ops;
	bdev->num_blocks = opts->size / bdev->block_size;
	bdev->volatile_cache = false;
	bdev->sync_submit = true;
	bdev->read_zeroes_after_dealloc = true;
	bdev->supports_dealloc = true;
	return 0;
}

const struct fq_bdev_module fq_bdev_ram_module = {
	.name = "ram",
	.kind = FQ_BDEV_RAM,
	.ctx_size = sizeof(struct ram_bdev),
	.parse = fq_bdev_parse_common,
	.keys = "size, bs",
	.init = ram_init,
};
