/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the volume engine's metadata decoders: a pool is
 * created in RAM, then the input becomes either its checkpoint or a run of
 * journal entries, wrapped with the right magic, sequence numbers, uuid and
 * checksums so that the decoders behind the checksums see it (a checksum
 * alone would stop almost every input at the door). Opening the pool and the
 * offline check must then fail cleanly or succeed; when the open succeeds, a
 * read and a write of every volume and a close must too.
 *
 * First input byte: bit 0 chooses checkpoint (0) or journal (1). For the
 * journal, the rest is cut into entries at each 0xff 0xfe pair.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev.h"
#include "proto/crc32c.h"
#include "volume/vol_internal.h"

#define POOL_SIZE (4u << 20)
#define BLK 4096u

static struct fq_bdev *bdev;
static uint8_t *blk;

struct done {
	int rc;
};

static void raw_cb(struct fq_bdev_io *io, int rc)
{
	((struct done *)io->cb_arg)->rc = rc;
}

static int raw(enum fq_bdev_io_type type, uint64_t off, void *buf, uint64_t len)
{
	struct fq_bdev_io io;
	struct iovec iov = {buf, len};
	struct done d = {-1};

	memset(&io, 0, sizeof(io));
	io.type = type;
	io.offset = off;
	io.length = len;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = raw_cb;
	io.cb_arg = &d;
	if (fq_bdev_submit(bdev, NULL, &io))
		return -1;
	return d.rc;
}

/* The newest superblock, or -1. */
static int read_sb(struct fq_sb *sb, int *copy)
{
	struct fq_sb a, b;

	raw(FQ_BDEV_IO_READ, 0, blk, BLK);
	memcpy(&a, blk, sizeof(a));
	raw(FQ_BDEV_IO_READ, BLK, blk, BLK);
	memcpy(&b, blk, sizeof(b));
	*copy = a.seq > b.seq ? 0 : 1;
	*sb = *copy ? b : a;
	return 0;
}

static void write_sb(struct fq_sb *sb, int copy)
{
	memset(blk, 0, BLK);
	sb->crc = 0;
	memcpy(blk, sb, sizeof(*sb));
	sb->crc = fq_crc32c(blk, BLK);
	memcpy(blk, sb, sizeof(*sb));
	raw(FQ_BDEV_IO_WRITE, (uint64_t)copy * BLK, blk, BLK);
}

static void as_checkpoint(struct fq_sb *sb, int copy, const uint8_t *d, size_t n)
{
	uint64_t len = sizeof(struct fq_ckpt_hdr) + n;
	uint8_t *b;
	struct fq_ckpt_hdr h;

	if (len > sb->ckpt_len)
		len = sb->ckpt_len;
	b = aligned_alloc(BLK, sb->ckpt_len);
	if (!b)
		return;
	memset(b, 0, sb->ckpt_len);
	memcpy(b + sizeof(h), d, len - sizeof(h));
	/* The header's counts come from the input too (its first 24 bytes). */
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, FQ_CKPT_MAGIC, 8);
	memcpy(&h.next_id, d, n >= 4 ? 4 : 0);
	h.seq = sb->ckpt_seq;
	h.nvols = n >= 8 ? (uint32_t)(d[4] % 12) : 0;
	h.npairs = n >= 12 ? d[8] | (uint32_t)d[9] << 8 : 0;
	h.bytes = len;
	h.bitmap_off =
		len >= (sb->nclusters + 63) / 64 * 8 ? len - (sb->nclusters + 63) / 64 * 8 : 0;
	memcpy(b, &h, sizeof(h));
	h.crc = fq_crc32c(b, len);
	memcpy(b, &h, sizeof(h));
	raw(FQ_BDEV_IO_WRITE, sb->ckpt_off[sb->ckpt_slot], b, (len + BLK - 1) / BLK * BLK);
	free(b);
	sb->ckpt_bytes = len;
	sb->ckpt_crc = h.crc;
	sb->seq++;
	write_sb(sb, copy ^ 1);
}

static void as_journal(struct fq_sb *sb, const uint8_t *d, size_t n)
{
	uint64_t off = 0, seq = sb->ckpt_seq;
	size_t i = 0;
	uint8_t *b = aligned_alloc(BLK, 4 * BLK);

	if (!b)
		return;
	while (i <= n && off + 4 * BLK <= sb->journal_len) {
		size_t j = i, len;
		struct fq_je_hdr h;
		uint32_t nrec = 0;

		while (j + 1 < n && !(d[j] == 0xff && d[j + 1] == 0xfe))
			j++;
		if (j + 1 >= n)
			j = n;
		len = j - i;
		if (len > 4 * BLK - sizeof(h))
			len = 4 * BLK - sizeof(h);
		memset(b, 0, 4 * BLK);
		memcpy(b + sizeof(h), d + i, len);
		/* Count the records the payload claims, as a writer would have. */
		for (size_t k = 0; k + sizeof(struct fq_rec_hdr) <= len;) {
			struct fq_rec_hdr r;

			memcpy(&r, d + i + k, sizeof(r));
			k += sizeof(r) + r.len;
			nrec++;
		}
		memset(&h, 0, sizeof(h));
		h.magic = FQ_JE_MAGIC;
		h.seq = ++seq;
		memcpy(&h.uuid_lo, sb->uuid, 8);
		h.len = (uint32_t)((sizeof(h) + len + BLK - 1) / BLK * BLK);
		h.nrec = nrec;
		memcpy(b, &h, sizeof(h));
		h.crc = fq_crc32c(b, h.len);
		memcpy(b, &h, sizeof(h));
		raw(FQ_BDEV_IO_WRITE, sb->journal_off + off, b, h.len);
		off += h.len;
		i = j + 2;
	}
	free(b);
}

static int each_vol(struct fq_vol *v, void *arg)
{
	static uint8_t buf[8192];
	struct fq_bdev_io io;
	struct iovec iov = {buf, sizeof(buf)};
	struct done d;

	(void)arg;
	for (int t = 0; t < 2; t++) {
		memset(&io, 0, sizeof(io));
		io.type = t ? FQ_BDEV_IO_WRITE : FQ_BDEV_IO_READ;
		io.length = fq_vol_size(v) < sizeof(buf) ? fq_vol_size(v) : sizeof(buf);
		io.length -= io.length % 512;
		if (!io.length)
			return 0;
		io.iov = &iov;
		io.iovcnt = 1;
		io.cb = raw_cb;
		io.cb_arg = &d;
		(void)fq_vol_submit(v, NULL, &io);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fq_pool_opts o = {.cluster_size = 4096, .journal_size = 64 * 1024, .max_volumes = 8};
	struct fq_pool_check_report rep;
	struct fq_pool *p;
	struct fq_sb sb;
	int copy;

	if (!bdev) {
		struct fq_bdev_opts bo;
		char err[64];

		fq_bdev_opts_init(&bo, FQ_BDEV_RAM);
		bo.size = POOL_SIZE;
		if (fq_bdev_open(&bo, &bdev, err, sizeof(err)))
			abort();
		blk = aligned_alloc(BLK, BLK);
	}
	if (!size || fq_pool_create(bdev, NULL, &o))
		return 0;
	/* A volume and a snapshot, so records have something to act on. */
	if (!fq_pool_open(bdev, NULL, &p)) {
		fq_vol_create(p, "v", 64 * 1024, false);
		fq_vol_snapshot(p, "v@s");
		fq_pool_close(p);
	}
	read_sb(&sb, &copy);
	if (data[0] & 1)
		as_journal(&sb, data + 1, size - 1);
	else
		as_checkpoint(&sb, copy, data + 1, size - 1);
	fq_pool_check(bdev, NULL, &rep);
	if (!fq_pool_open(bdev, NULL, &p)) {
		fq_vol_list(p, each_vol, NULL);
		fq_pool_close(p);
	}
	return 0;
}
