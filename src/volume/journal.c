/* SPDX-License-Identifier: MIT */
/*
 * The redo journal and checkpoints (docs/volumes.md "Journal"). Records wait
 * in a pending buffer; one entry is written at a time, holding every record
 * that arrived while the previous one was in flight (group commit). When the
 * bdev has a volatile cache a Flush goes before each entry, so the data of
 * the clusters its records point at is durable first (ordering rule 1). When
 * the ring has no room, or a caller asks, a checkpoint goes first: written
 * to the inactive slot, flushed, named by the next superblock, flushed; then
 * the journal starts again at its beginning.
 */
#include "volume/vol_internal.h"

#include "proto/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define round_up(x, a) (((x) + (a)-1) / (a) * (a))

enum {
	JS_IDLE,
	JS_CK_WRITE,
	JS_CK_FLUSH,
	JS_SB_WRITE,
	JS_SB_FLUSH,
	JS_PRE_FLUSH,
	JS_ENTRY_WRITE,
};

static void jstep(struct fq_pool *p);

static int grow(uint8_t **buf, uint64_t *cap, uint64_t need)
{
	uint64_t n = *cap ? *cap : 8192;
	uint8_t *b;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	b = aligned_alloc(FQ_META_BLOCK, n);
	if (!b)
		return -ENOMEM;
	if (*buf)
		memcpy(b, *buf, *cap);
	free(*buf);
	*buf = b;
	*cap = n;
	return 0;
}

int jrec_add(struct fq_pool *p, uint16_t type, const void *payload, uint16_t len, struct jwait *w)
{
	struct fq_rec_hdr h = {.type = type, .len = len};
	int rc;

	if (p->failed)
		return p->failed;
	if (!p->pend_len)
		p->pend_len = sizeof(struct fq_je_hdr);
	rc = grow(&p->pend, &p->pend_cap, round_up(p->pend_len + sizeof(h) + len, FQ_META_BLOCK));
	if (rc)
		return rc;
	memcpy(p->pend + p->pend_len, &h, sizeof(h));
	memcpy(p->pend + p->pend_len + sizeof(h), payload, len);
	p->pend_len += sizeof(h) + len;
	p->pend_nrec++;
	w->next = NULL;
	*p->pend_wtail = w;
	p->pend_wtail = &w->next;
	jkick(p);
	return 0;
}

void jcheckpoint(struct fq_pool *p, struct jwait *w)
{
	p->ckpt_wanted = true;
	w->next = p->ckpt_w;
	p->ckpt_w = w;
	jkick(p);
}

static void wake(struct jwait *w, int rc)
{
	while (w) {
		struct jwait *n = w->next;

		w->fn(w, rc);
		w = n;
	}
}

uint64_t ckpt_slot_len(uint32_t max_volumes, uint64_t nclusters)
{
	/*
	 * Pairs: one per owned cluster, as many zero markers at most, and as
	 * many shared references (refs_capacity; older pools have 16 bytes
	 * per cluster, so next to no room for shares).
	 */
	uint64_t b = sizeof(struct fq_ckpt_hdr) +
		     (uint64_t)max_volumes * sizeof(struct fq_ckpt_vol) + 24 * nclusters +
		     round_up(nclusters, 64) / 8;

	return round_up(b, FQ_META_BLOCK);
}

uint64_t ckpt_build(struct fq_pool *p, uint64_t seq)
{
	struct fq_ckpt_hdr h = {0};
	uint64_t words = round_up(p->nclusters, 64) / 64;
	uint64_t off, npairs = 0, need;
	uint32_t nv = 0;
	uint64_t *bm;

	for (struct fq_vol *v = p->vols; v; v = v->next) {
		nv++;
		for (uint32_t i = 0; i < v->map_n; i++)
			npairs += v->map[i] != MAP_NONE;
	}
	need = sizeof(h) + (uint64_t)nv * sizeof(struct fq_ckpt_vol) + npairs * 8 + words * 8;
	if (need > p->sb.ckpt_len || grow(&p->ckbuf, &p->ckbytes, round_up(need, FQ_META_BLOCK)))
		return 0;
	memset(p->ckbuf, 0, round_up(need, FQ_META_BLOCK));
	off = sizeof(h);
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		struct fq_ckpt_vol r = {0};

		r.id = v->id;
		r.parent = v->parent ? v->parent->id : 0;
		r.size = v->size;
		r.flags = v->flags;
		r.parent_limit = v->parent_limit;
		r.write_gen = v->write_gen;
		r.qos_read_iops = (uint32_t)v->qos.read_iops;
		r.qos_write_iops = (uint32_t)v->qos.write_iops;
		r.qos_read_bps = v->qos.read_bps;
		r.qos_write_bps = v->qos.write_bps;
		r.qos_burst_ms = v->qos.burst_ms;
		for (uint32_t i = 0; i < v->map_n; i++)
			r.nent += v->map[i] != MAP_NONE;
		memcpy(r.uuid, v->uuid, 16);
		memcpy(r.name, v->name, sizeof(r.name));
		memcpy(p->ckbuf + off, &r, sizeof(r));
		off += sizeof(r);
	}
	bm = (uint64_t *)(p->ckbuf + need - words * 8);
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		for (uint32_t i = 0; i < v->map_n; i++) {
			uint32_t pair[2] = {i, v->map[i]};

			if (v->map[i] == MAP_NONE)
				continue;
			memcpy(p->ckbuf + off, pair, 8);
			off += 8;
			if (map_owned(v->map[i]))
				bm[map_pcl(v->map[i]) / 64] |= 1ull << (map_pcl(v->map[i]) % 64);
		}
	}
	memcpy(h.magic, FQ_CKPT_MAGIC, 8);
	h.next_id = p->next_id;
	h.seq = seq;
	h.nvols = nv;
	h.npairs = npairs;
	h.bytes = need;
	h.bitmap_off = need - words * 8;
	memcpy(p->ckbuf, &h, sizeof(h));
	h.crc = fq_crc32c(p->ckbuf, need);
	memcpy(p->ckbuf, &h, sizeof(h));
	return need;
}

void sb_fill(struct fq_pool *p, uint8_t *block)
{
	memset(block, 0, FQ_META_BLOCK);
	p->sb.crc = 0;
	memcpy(block, &p->sb, sizeof(p->sb));
	p->sb.crc = fq_crc32c(block, FQ_META_BLOCK);
	memcpy(block, &p->sb, sizeof(p->sb));
}

static void jfail(struct fq_pool *p, int rc)
{
	struct jwait *w = p->iw, *c = p->icw;

	p->failed = -EIO;
	(void)rc;
	p->iw = p->icw = NULL;
	p->inrec = 0;
	p->jstate = JS_IDLE;
	wake(w, -EIO);
	wake(c, -EIO);
	p->jbusy = false;
	jkick(p);
}

static void jio_done(struct fq_bdev_io *io, int result)
{
	struct fq_pool *p = io->cb_arg;

	p->io_eng = io->eng;
	if (result) {
		jfail(p, result);
		return;
	}
	jstep(p);
}

static void jsubmit(struct fq_pool *p, int state, enum fq_bdev_io_type type, uint64_t off,
		    void *buf, uint64_t len)
{
	struct fq_bdev_io *io = &p->jio;
	int rc;

	p->jstate = state;
	memset(io, 0, sizeof(*io));
	io->type = type;
	io->offset = off;
	io->length = type == FQ_BDEV_IO_FLUSH ? 0 : len;
	p->jiov.iov_base = buf;
	p->jiov.iov_len = len;
	io->iov = &p->jiov;
	io->iovcnt = 1;
	io->cb = jio_done;
	io->cb_arg = p;
	rc = fq_bdev_submit(p->bdev, p->io_eng, io);
	if (rc)
		jfail(p, rc);
}

static void flush_or_step(struct fq_pool *p, int state)
{
	if (p->bdev->volatile_cache) {
		p->flush_mark = p->nquar;
		jsubmit(p, state, FQ_BDEV_IO_FLUSH, 0, NULL, 0);
	} else {
		p->jstate = state;
		p->flush_mark = p->nquar;
		jstep(p);
	}
}

static void write_entry(struct fq_pool *p)
{
	struct fq_je_hdr h = {0};
	uint64_t elen = round_up(p->ilen, FQ_META_BLOCK);

	h.magic = FQ_JE_MAGIC;
	h.seq = p->jseq + 1;
	memcpy(&h.uuid_lo, p->sb.uuid, 8);
	h.len = (uint32_t)elen;
	h.nrec = p->inrec;
	memset(p->ibuf + p->ilen, 0, elen - p->ilen);
	memcpy(p->ibuf, &h, sizeof(h));
	h.crc = fq_crc32c(p->ibuf, elen);
	memcpy(p->ibuf, &h, sizeof(h));
	jsubmit(p, JS_ENTRY_WRITE, FQ_BDEV_IO_WRITE, p->sb.journal_off + p->jtail, p->ibuf, elen);
}

/* The next step of the state machine, after the previous one completed. */
static void jstep(struct fq_pool *p)
{
	switch (p->jstate) {
	case JS_CK_WRITE:
		flush_or_step(p, JS_CK_FLUSH);
		return;
	case JS_CK_FLUSH:
		quar_release(p, p->flush_mark);
		p->sb.seq++;
		p->sb.ckpt_slot ^= 1;
		p->sb.ckpt_seq = p->jseq;
		p->sb.ckpt_bytes = ((struct fq_ckpt_hdr *)p->ckbuf)->bytes;
		p->sb.ckpt_crc = ((struct fq_ckpt_hdr *)p->ckbuf)->crc;
		sb_fill(p, p->sbbuf);
		jsubmit(p, JS_SB_WRITE, FQ_BDEV_IO_WRITE, (p->sb.seq % 2) * FQ_META_BLOCK, p->sbbuf,
			FQ_META_BLOCK);
		return;
	case JS_SB_WRITE:
		/* The old journal may be overwritten only once the new superblock is durable. */
		flush_or_step(p, JS_SB_FLUSH);
		return;
	case JS_SB_FLUSH: {
		struct jwait *c = p->icw;

		quar_release(p, p->flush_mark);
		p->jtail = 0;
		p->icw = NULL;
		wake(c, 0);
		if (!p->inrec) {
			p->jstate = JS_IDLE;
			p->jbusy = false;
			jkick(p);
			return;
		}
		flush_or_step(p, JS_PRE_FLUSH);
		return;
	}
	case JS_PRE_FLUSH:
		quar_release(p, p->flush_mark);
		write_entry(p);
		return;
	case JS_ENTRY_WRITE: {
		struct jwait *w = p->iw;
		int rc;

		p->jseq++;
		p->jtail += round_up(p->ilen, FQ_META_BLOCK);
		rc = apply_records(p, p->ibuf + sizeof(struct fq_je_hdr),
				   p->ilen - sizeof(struct fq_je_hdr), p->inrec, true);
		if (rc)
			p->failed = rc;
		p->iw = NULL;
		p->inrec = 0;
		p->jstate = JS_IDLE;
		wake(w, rc);
		p->jbusy = false;
		jkick(p);
		return;
	}
	default:
		return;
	}
}

void jkick(struct fq_pool *p)
{
	uint64_t need;

	if (p->jbusy)
		return;
	if (p->failed) {
		struct jwait *w = p->pend_w, *c = p->ckpt_w;

		p->pend_w = NULL;
		p->pend_wtail = &p->pend_w;
		p->pend_len = 0;
		p->pend_nrec = 0;
		p->ckpt_w = NULL;
		p->ckpt_wanted = false;
		wake(w, p->failed);
		wake(c, p->failed);
		return;
	}
	if (!p->pend_nrec && !p->ckpt_wanted)
		return;
	p->jbusy = true;
	/* Take the pending records as the next entry. */
	{
		uint8_t *b = p->ibuf;
		uint64_t cap = p->ibuf_cap;

		p->ibuf = p->pend;
		p->ibuf_cap = p->pend_cap;
		p->pend = b;
		p->pend_cap = cap;
	}
	p->ilen = p->pend_len;
	p->inrec = p->pend_nrec;
	p->iw = p->pend_w;
	p->pend_len = 0;
	p->pend_nrec = 0;
	p->pend_w = NULL;
	p->pend_wtail = &p->pend_w;
	p->icw = p->ckpt_w;
	p->ckpt_w = NULL;
	need = round_up(p->ilen, FQ_META_BLOCK);
	if (p->ckpt_wanted || (p->inrec && p->jtail + need > p->sb.journal_len)) {
		uint64_t bytes;

		p->ckpt_wanted = false;
		if (p->inrec && need > p->sb.journal_len) {
			jfail(p, -ENOSPC);
			return;
		}
		bytes = ckpt_build(p, p->jseq);
		if (!bytes) {
			jfail(p, -ENOSPC);
			return;
		}
		jsubmit(p, JS_CK_WRITE, FQ_BDEV_IO_WRITE, p->sb.ckpt_off[p->sb.ckpt_slot ^ 1],
			p->ckbuf, round_up(bytes, FQ_META_BLOCK));
		return;
	}
	flush_or_step(p, JS_PRE_FLUSH);
}
