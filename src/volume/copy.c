/* SPDX-License-Identifier: MIT */
/*
 * Copy on a volume (the vol module's copy op; docs/volumes.md "Shared
 * clusters"). The ranges are walked in order, one piece at a time:
 *
 * - a whole source cluster, aligned, copied to a whole aligned destination
 *   cluster, whose source entry holds a written cluster of the volume's own
 *   map: the destination entry takes that cluster (a SHARE record, one
 *   more reference) and no data moves. The two entries are pinned (as
 *   in-flight clusters) until the record is durable, so neither can change
 *   under it;
 * - anything else (partial clusters, a source read through a snapshot, a
 *   thick reservation, zeroes, no room left for shared references): the
 *   piece is read into a buffer and written through the volume's own I/O
 *   path, which allocates or copies on write as for any write.
 *
 * Later writes to either entry of a shared cluster copy it first (io.c), so
 * the source and the destination stay independent.
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum vc_phase {
	VC_NEXT,  /* choose the next piece */
	VC_WRITE, /* write the piece just read */
	VC_WAIT,  /* an I/O or a record is in flight */
	VC_DONE,
};

struct vcopy {
	struct fq_pool *p;
	struct fq_vol *v;
	struct fq_bdev_io *io;
	struct fq_engine *eng;
	uint32_t ri;
	uint64_t roff, dst, piece;
	enum vc_phase phase, after; /* after: the phase the in-flight step leads to */
	uint8_t *buf;
	uint64_t buf_len;
	struct fq_bdev_io sub;
	struct iovec iov;
	struct jwait jw;
	struct inflight *isrc, *idst;
	int rc;
	bool running;
};

static void vc_kick(struct vcopy *c);

static void vc_advance(struct vcopy *c)
{
	c->roff += c->piece;
	c->dst += c->piece;
	if (c->roff == c->io->copy_ranges[c->ri].len) {
		c->ri++;
		c->roff = 0;
	}
}

static void vc_fail(struct vcopy *c, int rc)
{
	c->rc = rc;
	c->phase = VC_DONE;
}

static void vc_sub_done(struct fq_bdev_io *sub, int rc)
{
	struct vcopy *c = sub->cb_arg;

	if (rc) {
		c->io->nvme_status = sub->nvme_status;
		vc_fail(c, rc);
	} else {
		if (c->after == VC_NEXT)
			vc_advance(c);
		c->phase = c->after;
	}
	vc_kick(c);
}

static void vc_shared(struct jwait *jw, int rc)
{
	struct vcopy *c = container_of(jw, struct vcopy, jw);
	struct inflight *a = c->isrc, *b = c->idst;

	c->isrc = c->idst = NULL;
	c->p->share_pending--;
	inflight_release(c->p, a);
	inflight_release(c->p, b);
	if (rc) {
		vc_fail(c, rc);
	} else {
		vc_advance(c);
		c->phase = VC_NEXT;
	}
	vc_kick(c);
}

/*
 * Share the cluster at source index @s with destination index @d if it can
 * be: 1 = the record is on its way, 2 = @d holds that cluster already,
 * 0 = copy the piece instead, -errno.
 */
static int vc_try_share(struct vcopy *c, uint32_t s, uint32_t d)
{
	struct fq_pool *p = c->p;
	struct fq_vol *v = c->v;
	uint32_t e = v->map[s];
	struct rec_share r = {.vol = v->id, .idx = d, .src = s, .val = e};
	int rc;

	if (!map_owned(e) || (e & MAP_UNWRITTEN) || inflight_find(p, v, s) ||
	    inflight_find(p, v, d))
		return 0;
	if (v->map[d] == e)
		return 2; /* shared already: the data is there */
	/* Copies on other queues may have records in flight too: count them. */
	if (p->shared_extra + p->share_pending >= p->share_cap)
		return 0;
	c->isrc = inflight_add(p, v, s);
	c->idst = c->isrc ? inflight_add(p, v, d) : NULL;
	if (!c->idst) {
		if (c->isrc)
			inflight_release(p, c->isrc);
		c->isrc = NULL;
		return -ENOMEM;
	}
	c->jw.fn = vc_shared;
	c->phase = VC_WAIT;
	p->share_pending++;
	rc = jrec_add(p, REC_SHARE, &r, sizeof(r), &c->jw);
	if (rc) {
		/* Not queued: the waiter will not run. */
		p->share_pending--;
		inflight_release(p, c->idst);
		inflight_release(p, c->isrc);
		c->isrc = c->idst = NULL;
		return rc;
	}
	return 1;
}

static int vc_sub(struct vcopy *c, enum fq_bdev_io_type type, uint64_t off, enum vc_phase after)
{
	struct fq_bdev_io *sub = &c->sub;

	memset(sub, 0, sizeof(*sub));
	sub->type = type;
	sub->offset = off;
	sub->length = c->piece;
	c->iov.iov_base = c->buf;
	c->iov.iov_len = c->piece;
	sub->iov = &c->iov;
	sub->iovcnt = 1;
	sub->cb = vc_sub_done;
	sub->cb_arg = c;
	c->after = after;
	c->phase = VC_WAIT;
	return fq_vol_submit(c->v, c->eng, sub);
}

/* How much of the current range the next copied (not shared) piece takes. */
static uint64_t vc_copy_len(const struct vcopy *c, uint64_t src, uint64_t rem)
{
	uint64_t cs = c->p->cs, n = rem < c->buf_len ? rem : c->buf_len;

	/* Same alignment: stop at the destination's next cluster, where sharing may start. */
	if (((src - c->dst) & (cs - 1)) == 0 && (c->dst & (cs - 1))) {
		uint64_t to = cs - (c->dst & (cs - 1));

		if (to < n)
			n = to;
	}
	return n;
}

/*
 * One step from VC_NEXT or VC_WRITE: it starts an I/O or a record (VC_WAIT,
 * or further on already if that completed inside), skips a piece, or ends
 * the copy (VC_DONE). Every step makes progress.
 */
static void vc_step(struct vcopy *c)
{
	const struct fq_bdev_copy_range *r;
	uint64_t cs = c->p->cs, src, rem;
	int rc;

	if (c->phase == VC_WRITE) {
		rc = vc_sub(c, FQ_BDEV_IO_WRITE, c->dst, VC_NEXT);
		if (rc)
			vc_fail(c, rc);
		return;
	}
	if (c->ri == c->io->copy_nr) {
		c->phase = VC_DONE;
		return;
	}
	if (c->p->failed) {
		vc_fail(c, c->p->failed);
		return;
	}
	r = &c->io->copy_ranges[c->ri];
	src = r->src + c->roff;
	rem = r->len - c->roff;
	if (!(src & (cs - 1)) && !(c->dst & (cs - 1)) && rem >= cs) {
		uint32_t s = (uint32_t)(src >> c->p->cshift),
			 d = (uint32_t)(c->dst >> c->p->cshift);

		c->piece = cs;
		if (s == d) {
			vc_advance(c); /* a cluster copied onto itself: nothing changes */
			return;
		}
		rc = vc_try_share(c, s, d);
		if (rc == 2)
			vc_advance(c);
		else if (rc < 0)
			vc_fail(c, rc);
		if (rc)
			return;
	}
	if (!c->buf) {
		c->buf = aligned_alloc(FQ_META_BLOCK, c->buf_len);
		if (!c->buf) {
			vc_fail(c, -ENOMEM);
			return;
		}
	}
	c->piece = vc_copy_len(c, src, rem);
	rc = vc_sub(c, FQ_BDEV_IO_READ, src, VC_WRITE);
	if (rc)
		vc_fail(c, rc);
}

/*
 * Run steps until one waits. A completion that arrives inside a step (a
 * RAM pool completes in submit) only moves the phase on; this loop then
 * takes the next step, so a long copy does not grow the stack.
 */
static void vc_kick(struct vcopy *c)
{
	struct fq_bdev_io *io = c->io;
	int rc;

	if (c->running)
		return;
	c->running = true;
	while (c->phase == VC_NEXT || c->phase == VC_WRITE)
		vc_step(c);
	c->running = false;
	if (c->phase != VC_DONE)
		return;
	rc = c->rc;
	if (!rc) {
		io->done_bytes = io->length;
		c->v->write_gen++; /* the replication hook: one more acknowledged change */
	}
	free(c->buf);
	free(c);
	io->cb(io, rc);
}

/* A byte range of whole blocks inside the volume. */
static bool copy_fits(const struct fq_vol *v, uint64_t off, uint64_t len)
{
	uint64_t mask = v->pool->bdev->block_size - 1;

	return len && !(off & mask) && !(len & mask) && off <= v->size && len <= v->size - off;
}

int fq_vol_copy(struct fq_vol *v, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct fq_pool *p = v->pool;
	struct vcopy *c;
	uint64_t max = 0;

	if (!io->cb || !io->copy_ranges || !io->copy_nr || io->copy_nr > FQ_BDEV_COPY_MAX_RANGES ||
	    !copy_fits(v, io->offset, io->length))
		return -EINVAL;
	for (uint32_t i = 0; i < io->copy_nr; i++) {
		if (!copy_fits(v, io->copy_ranges[i].src, io->copy_ranges[i].len))
			return -EINVAL;
		max += io->copy_ranges[i].len;
	}
	if (max != io->length)
		return -EINVAL;
	max = 0;
	/* Nothing could be shared: the block layer's copy does the same with less. */
	if (!p->share_cap || (v->flags & VOLF_SNAPSHOT))
		return -EOPNOTSUPP;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < io->copy_nr; i++)
		if (io->copy_ranges[i].len > max)
			max = io->copy_ranges[i].len;
	c->buf_len = max < FQ_BDEV_COPY_CHUNK ? max : FQ_BDEV_COPY_CHUNK;
	c->buf_len = (c->buf_len + FQ_META_BLOCK - 1) & ~(uint64_t)(FQ_META_BLOCK - 1);
	c->p = p;
	c->v = v;
	c->io = io;
	c->eng = eng;
	c->dst = io->offset;
	c->phase = VC_NEXT;
	p->io_eng = eng;
	io->error = 0;
	io->nvme_status = 0;
	vc_kick(c);
	return 0;
}
