/* SPDX-License-Identifier: MIT */
/*
 * Random write-then-read-verify at a fixed queue depth. Extents in flight
 * never overlap, so a shadow copy of the region predicts every byte a read
 * returns; every read is compared with it when it completes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "func_common.h"

struct extent {
	uint64_t off;
	uint32_t len;
};

struct io {
	bool busy;
	bool write;
	uint64_t off;
	uint32_t len;
	uint8_t *buf;
	struct rw_ctx *ctx;
};

struct rw_ctx {
	const struct rw_plan *p;
	uint8_t *shadow;
	struct io *ios;
	uint32_t inflight;
	int err;
	uint64_t seed;
	struct extent *ext;
	size_t next;
	size_t n_ext;
	size_t cap_ext;
};

static void io_done(void *arg, const struct fq_cpl *cpl)
{
	struct io *io = arg;
	struct rw_ctx *c = io->ctx;
	char st[128];

	io->busy = false;
	c->inflight--;
	if (fq_cpl_is_error(cpl)) {
		fprintf(stderr, "  %s of %u bytes at %llu failed: %s\n",
			io->write ? "write" : "read", io->len, (unsigned long long)io->off,
			fq_cpl_str(cpl, st, sizeof(st)));
		c->err = -EIO;
		return;
	}
	if (!io->write && memcmp(io->buf, c->shadow + (io->off - c->p->base), io->len)) {
		fprintf(stderr, "  data mismatch reading %u bytes at %llu\n", io->len,
			(unsigned long long)io->off);
		c->err = -EILSEQ;
	}
}

static bool overlaps(const struct rw_ctx *c, uint64_t off, uint32_t len)
{
	for (uint32_t i = 0; i < c->p->qd; i++) {
		const struct io *o = &c->ios[i];

		if (o->busy && off < o->off + o->len && o->off < off + len)
			return true;
	}
	return false;
}

static uint32_t pick_len(struct rw_ctx *c)
{
	uint32_t ss = fq_ns_get_sector_size(c->p->ns), lo = c->p->min_io, hi = c->p->max_io;
	int bits_lo = 0, bits_hi = 0, b;
	uint64_t v;

	while ((1u << bits_lo) < lo)
		bits_lo++;
	while ((1u << bits_hi) < hi)
		bits_hi++;
	/* Log-uniform: as many small I/Os as large ones. */
	b = bits_lo + (int)(xrand(&c->seed) % (uint64_t)(bits_hi - bits_lo + 1));
	v = (1ull << b) / 2 + xrand(&c->seed) % ((1ull << b) / 2 + 1);
	v = v / ss * ss;
	if (v < lo)
		v = lo;
	if (v > hi)
		v = hi;
	return (uint32_t)v;
}

static int submit(struct rw_ctx *c, struct io *io, int qpi)
{
	const struct rw_plan *p = c->p;
	uint32_t ss = fq_ns_get_sector_size(p->ns);
	uint64_t lba = io->off / ss;
	uint32_t nlb = io->len / ss;
	struct iovec iov[4];
	int n = 1;

	iov[0].iov_base = io->buf;
	iov[0].iov_len = io->len;
	if (p->vectored && io->len >= 4) {
		/* Cut at odd byte offsets: segments need not be sector sized. */
		uint32_t a = 1 + (uint32_t)(xrand(&c->seed) % (io->len / 2));
		uint32_t b = a + 1 + (uint32_t)(xrand(&c->seed) % ((io->len - a) / 2));

		iov[0].iov_len = a;
		iov[1].iov_base = io->buf + a;
		iov[1].iov_len = b - a;
		iov[2].iov_base = io->buf + b;
		iov[2].iov_len = io->len - b;
		n = 3;
	}
	if (io->write)
		return fq_ns_writev(p->ns, p->qps[qpi], iov, n, lba, nlb, io_done, io, 0);
	return fq_ns_readv(p->ns, p->qps[qpi], iov, n, lba, nlb, io_done, io, 0);
}

static int wait_some(struct rw_ctx *c)
{
	const struct rw_plan *p = c->p;
	int rc;

	if (p->pg)
		rc = fq_poll_group_wait(p->pg, 100);
	else
		rc = fq_qpair_wait(p->qps[0], 100);
	return rc < 0 ? rc : 0;
}

/* Start one I/O; returns 1 if started, 0 if it must wait, <0 on error. */
static int start_one(struct rw_ctx *c, bool write, uint64_t *written, int *rr)
{
	const struct rw_plan *p = c->p;
	struct io *io = NULL;
	uint32_t ss = fq_ns_get_sector_size(p->ns);
	int rc;

	for (uint32_t i = 0; i < p->qd && !io; i++)
		if (!c->ios[i].busy)
			io = &c->ios[i];
	if (!io)
		return 0;
	io->write = write;
	if (write) {
		int tries = 0;

		do {
			io->len = pick_len(c);
			io->off = p->base + xrand(&c->seed) % ((p->len - io->len) / ss + 1) * ss;
		} while (overlaps(c, io->off, io->len) && ++tries < 64);
		if (tries == 64)
			return 0;
		for (uint32_t i = 0; i < io->len; i += 8) {
			uint64_t v = xrand(&c->seed);

			memcpy(io->buf + i, &v, io->len - i < 8 ? io->len - i : 8);
		}
	} else {
		io->off = c->ext[c->next].off;
		io->len = c->ext[c->next].len;
	}
	io->busy = true;
	c->inflight++;
	rc = submit(c, io, (*rr)++ % p->nqp);
	if (rc) {
		io->busy = false;
		c->inflight--;
		return rc == -EAGAIN ? 0 : rc;
	}
	if (write) {
		memcpy(c->shadow + (io->off - p->base), io->buf, io->len);
		if (c->n_ext == c->cap_ext) {
			c->cap_ext = c->cap_ext ? c->cap_ext * 2 : 256;
			c->ext = realloc(c->ext, c->cap_ext * sizeof(*c->ext));
		}
		c->ext[c->n_ext++] = (struct extent){io->off, io->len};
		*written += io->len;
	} else {
		c->next++;
	}
	return 1;
}

static int phase(struct rw_ctx *c, bool write)
{
	uint64_t written = 0;
	int rr = 0;

	c->next = 0;
	for (;;) {
		bool more = write ? written < c->p->total : c->next < c->n_ext;
		int rc = more ? start_one(c, write, &written, &rr) : 0;

		if (rc < 0) {
			fprintf(stderr, "  submit failed: %s\n", strerror(-rc));
			return rc;
		}
		if (c->err)
			return c->err;
		if (rc == 1)
			continue;
		if (!more && c->inflight == 0)
			return 0;
		rc = wait_some(c);
		if (rc < 0) {
			fprintf(stderr, "  poll failed: %s\n", strerror(-rc));
			return rc;
		}
	}
}

int rw_verify(const struct rw_plan *p)
{
	struct rw_ctx c = {.p = p, .seed = p->seed | 1};
	int rc = -ENOMEM;

	c.shadow = calloc(1, p->len);
	c.ios = calloc(p->qd, sizeof(*c.ios));
	if (!c.shadow || !c.ios)
		goto out;
	for (uint32_t i = 0; i < p->qd; i++) {
		c.ios[i].ctx = &c;
		c.ios[i].buf = malloc(p->max_io);
		if (!c.ios[i].buf)
			goto out;
	}
	rc = phase(&c, true);
	if (!rc)
		rc = phase(&c, false);
	/* Drain whatever is still in flight before the buffers go away. */
	while (c.inflight && wait_some(&c) == 0)
		;
out:
	for (uint32_t i = 0; c.ios && i < p->qd; i++)
		free(c.ios[i].buf);
	free(c.ios);
	free(c.shadow);
	free(c.ext);
	return rc;
}
