/* SPDX-License-Identifier: MIT */
/*
 * The I/O path of a volume. A request is cut at cluster boundaries; each
 * piece (a struct seg) resolves its cluster through the volume's map and its
 * parents' (docs/volumes.md "Snapshots and clones"):
 *
 * - read: from the data cluster it resolves to, or zeroes;
 * - write to a cluster the volume owns: straight to it, unless a Copy shared
 *   it with other entries of the map (then as a first write, copying it);
 * - first write (unallocated, shared with a snapshot, or reserved by a thick
 *   volume): a cluster is taken, the old contents (parent's or zeroes) are
 *   read for the part the write does not cover, the whole cluster is written,
 *   then a SET record is committed; the request completes when the journal
 *   entry holding it was written (rules 1 and 2 of docs/volumes.md);
 * - deallocate / write zeroes of a whole cluster: a SET record that frees it
 *   (or marks it zero over a parent); of part of one: a write of zeroes
 *   unless the cluster reads as zeroes already.
 *
 * Pieces of a cluster whose allocation is in flight wait for it and then
 * start over. Everything is asynchronous over the base bdev's ops.
 */
#include "volume/vol_internal.h"

#include "bdev/backend.h"
#include "proto/nvme.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * Pieces with room for this many iovecs are kept for reuse when done (up
 * to SEG_CACHE_MAX per pool, about a queue depth's worth for several
 * hosts), so a request that fits (any 4 KiB I/O, most larger ones) takes
 * no malloc/free on the I/O path; a larger one is allocated to size.
 */
#define SEG_CACHE_IOV 4
#if defined(__SANITIZE_ADDRESS__)
/* Under ASan every piece is freed, so a use after its end is still reported. */
#define SEG_CACHE_MAX 0
#else
#define SEG_CACHE_MAX 512
#endif

/* NVMe generic status 20h, Namespace Is Write Protected (NVMe base 2.0, 4.2.3.1). */
#define SC_NS_WRITE_PROTECTED 0x20

enum seg_stage {
	ST_DIRECT,
	ST_FILL_READ,
	ST_ZERO_FILL,
	ST_CLUSTER_WRITE,
	ST_FLUSH,
};

struct seg {
	struct fq_bdev_io bio;
	struct fq_pool *p;
	struct fq_vol *vol;
	struct fq_bdev_io *host;
	struct fq_engine *eng;
	enum fq_bdev_io_type type;
	enum seg_stage stage;
	uint32_t idx, off, len;
	uint32_t newval;
	bool fresh;	/* newval's cluster was taken for this piece */
	bool cacheable; /* has room for SEG_CACHE_IOV iovecs */
	uint32_t busy;	/* ST_DIRECT: the cluster it holds busy (busy.c) */
	uint64_t flush_mark;
	uint8_t *buf;
	struct jwait jw;
	struct inflight *inf;
	struct seg *wnext;
	struct iovec cluster_iov;
	int iovcnt;
	struct iovec iov[];
};

static void seg_start(struct seg *s);

static void host_put(struct fq_vol *v, struct fq_bdev_io *io, int rc)
{
	if (rc && !io->error)
		io->error = rc;
	if (--io->pending)
		return;
	if (!io->error) {
		io->done_bytes = io->type == FQ_BDEV_IO_FLUSH ? 0 : io->length;
		/* The replication hook: one more acknowledged change. */
		if (io->type != FQ_BDEV_IO_READ && io->type != FQ_BDEV_IO_FLUSH)
			v->write_gen++;
	}
	io->cb(io, io->error);
}

/* A zeroed piece with room for @n iovecs, from the pool's cache when it fits. */
static struct seg *seg_new(struct fq_pool *p, int n)
{
	struct seg *s;

	if (n > SEG_CACHE_IOV)
		return calloc(1, sizeof(*s) + (size_t)n * sizeof(struct iovec));
	s = p->seg_cache;
	if (!s) {
		s = calloc(1, sizeof(*s) + SEG_CACHE_IOV * sizeof(struct iovec));
		if (s)
			s->cacheable = true;
		return s;
	}
	p->seg_cache = s->wnext;
	p->seg_ncache--;
	/*
	 * As calloc leaves it, field by field: its bio is set up by seg_io
	 * before each use. A memset of the piece (about 500 bytes, a rep
	 * stos) was a visible part of what a 4 KiB I/O costs the volume.
	 */
	s->p = NULL;
	s->vol = NULL;
	s->host = NULL;
	s->eng = NULL;
	s->type = FQ_BDEV_IO_READ;
	s->stage = ST_DIRECT;
	s->idx = s->off = s->len = 0;
	s->newval = 0;
	s->fresh = false;
	s->cacheable = true;
	s->busy = 0;
	s->flush_mark = 0;
	s->buf = NULL;
	s->jw = (struct jwait){0};
	s->inf = NULL;
	s->wnext = NULL;
	s->cluster_iov = (struct iovec){0};
	s->iovcnt = 0;
	return s;
}

static void seg_free(struct fq_pool *p, struct seg *s)
{
	free(s->buf);
	if (!s->cacheable || p->seg_ncache + 1 > SEG_CACHE_MAX) {
		free(s);
		return;
	}
	s->wnext = p->seg_cache;
	p->seg_cache = s;
	p->seg_ncache++;
}

void seg_cache_free(struct fq_pool *p)
{
	while (p->seg_cache) {
		struct seg *s = p->seg_cache;

		p->seg_cache = s->wnext;
		free(s);
	}
	p->seg_ncache = 0;
}

static void seg_done(struct seg *s, int rc)
{
	struct fq_bdev_io *host = s->host;
	struct fq_vol *v = s->vol;

	seg_free(s->p, s);
	host_put(v, host, rc);
}

static void seg_bio_done(struct fq_bdev_io *io, int rc);

static void seg_io(struct seg *s, enum seg_stage stage, enum fq_bdev_io_type type, uint64_t off,
		   struct iovec *iov, int iovcnt, uint64_t len);

/*
 * Read or write data cluster @c in place: @c stays busy until the I/O ends,
 * so a Deallocate that frees it meanwhile cannot hand it to another owner
 * under a write still on its way (busy.c).
 */
static void seg_direct(struct seg *s, enum fq_bdev_io_type type, uint32_t c)
{
	if (busy_get(s->p, c)) {
		seg_done(s, -ENOMEM);
		return;
	}
	s->busy = c;
	seg_io(s, ST_DIRECT, type, ((uint64_t)c << s->p->cshift) + s->off, s->iov, s->iovcnt,
	       s->len);
}

static void seg_io(struct seg *s, enum seg_stage stage, enum fq_bdev_io_type type, uint64_t off,
		   struct iovec *iov, int iovcnt, uint64_t len)
{
	struct fq_bdev_io *io = &s->bio;
	int rc;

	/*
	 * Field by field rather than a memset of the whole header: what is
	 * not set here (done_bytes, pending, error, bdev, eng, state,
	 * nvme_status, depth) fq_bdev_submit sets before the module sees it.
	 */
	s->stage = stage;
	io->type = type;
	io->offset = off;
	io->length = len;
	io->iov = iov;
	io->iovcnt = iovcnt;
	io->cb = seg_bio_done;
	io->cb_arg = s;
	io->uop = (struct fq_uop){0};
	io->copy_ranges = NULL;
	io->copy_nr = 0;
	if (type == FQ_BDEV_IO_FLUSH)
		s->flush_mark = s->p->nquar;
	rc = fq_bdev_submit(s->p->bdev, s->eng, io);
	if (rc)
		seg_bio_done(io, rc);
}

struct inflight *inflight_find(struct fq_pool *p, struct fq_vol *v, uint32_t idx)
{
	for (struct inflight *i = p->inflight; i; i = i->next)
		if (i->vol == v && i->idx == idx)
			return i;
	return NULL;
}

static bool inflight_wait(struct seg *s)
{
	struct inflight *i = inflight_find(s->p, s->vol, s->idx);

	if (!i)
		return false;
	s->wnext = NULL;
	if (i->wtail)
		i->wtail->wnext = s;
	else
		i->waiters = s;
	i->wtail = s;
	return true;
}

struct inflight *inflight_add(struct fq_pool *p, struct fq_vol *v, uint32_t idx)
{
	struct inflight *i = calloc(1, sizeof(*i));

	if (!i)
		return NULL;
	i->vol = v;
	i->idx = idx;
	i->next = p->inflight;
	p->inflight = i;
	return i;
}

static int inflight_start(struct seg *s)
{
	s->inf = inflight_add(s->p, s->vol, s->idx);
	return s->inf ? 0 : -ENOMEM;
}

void inflight_release(struct fq_pool *p, struct inflight *i)
{
	struct inflight **pp = &p->inflight;
	struct seg *w;

	while (*pp && *pp != i)
		pp = &(*pp)->next;
	if (*pp)
		*pp = i->next;
	w = i->waiters;
	free(i);
	while (w) {
		struct seg *n = w->wnext;

		seg_start(w);
		w = n;
	}
}

/* The cluster's change is done (or failed): let the pieces that waited go. */
static void inflight_end(struct seg *s)
{
	struct inflight *i = s->inf;

	if (!i)
		return;
	s->inf = NULL;
	inflight_release(s->p, i);
}

static void seg_committed(struct jwait *jw, int rc)
{
	struct seg *s = container_of(jw, struct seg, jw);

	/* A failed entry was not applied: the cluster taken for it is free again. */
	if (rc && s->fresh)
		cluster_unreserve(s->p, s->newval);
	inflight_end(s);
	seg_done(s, rc);
}

static void seg_commit(struct seg *s)
{
	struct rec_set r = {.vol = s->vol->id, .idx = s->idx, .val = s->newval};
	int rc;

	s->jw.fn = seg_committed;
	rc = jrec_add(s->p, REC_SET, &r, sizeof(r), &s->jw);
	if (rc)
		seg_committed(&s->jw, rc);
}

/* Fail a piece that holds the cluster's in-flight slot. */
static void seg_abort(struct seg *s, int rc)
{
	if (s->fresh)
		cluster_unreserve(s->p, s->newval);
	inflight_end(s);
	seg_done(s, rc);
}

static void copy_from_iov(uint8_t *dst, const struct iovec *iov, int iovcnt, uint64_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(dst, iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

static void write_cluster(struct seg *s)
{
	copy_from_iov(s->buf + s->off, s->iov, s->iovcnt, s->len);
	s->cluster_iov.iov_base = s->buf;
	s->cluster_iov.iov_len = s->p->cs;
	seg_io(s, ST_CLUSTER_WRITE, FQ_BDEV_IO_WRITE, (uint64_t)s->newval << s->p->cshift,
	       &s->cluster_iov, 1, s->p->cs);
}

static void seg_bio_done(struct fq_bdev_io *io, int rc)
{
	struct seg *s = io->cb_arg;

	s->p->io_eng = s->eng;
	switch (s->stage) {
	case ST_DIRECT:
		busy_put(s->p, s->busy);
		seg_done(s, rc);
		return;
	case ST_FLUSH:
		if (!rc)
			quar_release(s->p, s->flush_mark);
		seg_done(s, rc);
		return;
	case ST_FILL_READ:
		if (rc) {
			seg_abort(s, rc);
			return;
		}
		write_cluster(s);
		return;
	case ST_ZERO_FILL:
		if (rc) {
			seg_abort(s, rc);
			return;
		}
		seg_io(s, ST_CLUSTER_WRITE, FQ_BDEV_IO_WRITE,
		       ((uint64_t)s->newval << s->p->cshift) + s->off, s->iov, s->iovcnt, s->len);
		return;
	case ST_CLUSTER_WRITE:
		if (rc) {
			seg_abort(s, rc);
			return;
		}
		seg_commit(s);
		return;
	}
}

/*
 * A sparse file punches the cluster (it stays sparse: only the data written
 * takes space); a device that does not promise zeroes after a discard gets
 * Write Zeroes.
 */
static bool zero_by_dealloc(const struct fq_bdev *b)
{
	return b->supports_dealloc && b->read_zeroes_after_dealloc;
}

static void write_start(struct seg *s)
{
	struct fq_pool *p = s->p;
	struct fq_vol *v = s->vol;
	uint32_t e = v->map[s->idx], src = 0;
	bool written = map_owned(e) && !(e & MAP_UNWRITTEN);
	/* A cluster a Copy shared with other entries is copied on write, like a snapshot's. */
	bool shared = written && refs_extra(p, map_pcl(e));
	int rc;

	if (p->failed) {
		seg_done(s, p->failed);
		return;
	}
	if (written && !shared) {
		seg_direct(s, FQ_BDEV_IO_WRITE, map_pcl(e));
		return;
	}
	if (inflight_wait(s))
		return;
	rc = inflight_start(s);
	if (rc) {
		seg_done(s, rc);
		return;
	}
	if (map_owned(e) && !shared) {
		s->newval = map_pcl(e); /* a thick volume's reserved cluster */
	} else {
		s->newval = cluster_alloc(p);
		if (!s->newval) {
			seg_abort(s, -ENOSPC);
			return;
		}
		s->fresh = true;
	}
	if (s->off == 0 && s->len == p->cs) {
		seg_io(s, ST_CLUSTER_WRITE, FQ_BDEV_IO_WRITE, (uint64_t)s->newval << p->cshift,
		       s->iov, s->iovcnt, s->len);
		return;
	}
	if (shared)
		src = map_pcl(e);
	else if (e == MAP_NONE)
		src = resolve_parent(v, s->idx);
	if (!src) {
		/*
		 * Nothing to copy: the rest of the cluster must read as zeroes.
		 * Zeroing the cluster on the device, then writing the data,
		 * costs a file one fallocate and the data's own write instead
		 * of a whole cluster of zeroes from memory (1 MiB per 4 KiB
		 * first write by default). Both are durable before the SET
		 * record (the journal's Flush).
		 */
		seg_io(s, ST_ZERO_FILL,
		       zero_by_dealloc(p->bdev) ? FQ_BDEV_IO_DEALLOCATE : FQ_BDEV_IO_WRITE_ZEROES,
		       (uint64_t)s->newval << p->cshift, NULL, 0, p->cs);
		return;
	}
	s->buf = aligned_alloc(FQ_META_BLOCK, p->cs);
	if (!s->buf) {
		seg_abort(s, -ENOMEM);
		return;
	}
	/* Copy-on-write: the rest of the cluster comes from the snapshot's copy. */
	s->cluster_iov.iov_base = s->buf;
	s->cluster_iov.iov_len = p->cs;
	seg_io(s, ST_FILL_READ, FQ_BDEV_IO_READ, (uint64_t)src << p->cshift, &s->cluster_iov, 1,
	       p->cs);
}

/* Deallocate or write zeroes of a whole cluster: only its map entry changes. */
static void trim_start(struct seg *s)
{
	struct fq_vol *v = s->vol;
	uint32_t e = v->map[s->idx], target;
	int rc;

	if (s->p->failed) {
		seg_done(s, s->p->failed);
		return;
	}
	if (inflight_wait(s))
		return;
	if ((v->flags & VOLF_THICK) && map_owned(e) && !refs_extra(s->p, map_pcl(e)))
		target = map_pcl(e) | MAP_UNWRITTEN; /* keep the reservation */
	else if (resolve_parent(v, s->idx))
		target = MAP_ZERO; /* hide the parent's data */
	else
		target = MAP_NONE;
	if (target == e) {
		seg_done(s, 0);
		return;
	}
	rc = inflight_start(s);
	if (rc) {
		seg_done(s, rc);
		return;
	}
	s->newval = target;
	seg_commit(s);
}

static void zero_iov(const struct iovec *iov, int iovcnt, uint64_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memset(iov[i].iov_base, 0, n);
		len -= n;
	}
}

static void seg_start(struct seg *s)
{
	struct fq_pool *p = s->p;
	uint32_t e;

	switch (s->type) {
	case FQ_BDEV_IO_READ:
		e = resolve(s->vol, s->idx);
		if (!e) {
			zero_iov(s->iov, s->iovcnt, s->len);
			seg_done(s, 0);
			return;
		}
		seg_direct(s, FQ_BDEV_IO_READ, e);
		return;
	case FQ_BDEV_IO_WRITE:
		write_start(s);
		return;
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		if (s->len == p->cs) {
			trim_start(s);
			return;
		}
		e = s->vol->map[s->idx];
		if (!resolve(s->vol, s->idx) && !(map_owned(e) && !(e & MAP_UNWRITTEN)) &&
		    !inflight_find(p, s->vol, s->idx)) {
			seg_done(s, 0); /* reads as zeroes already */
			return;
		}
		s->type = FQ_BDEV_IO_WRITE;
		s->iov[0].iov_base = fq_bdev_zeroes;
		s->iov[0].iov_len = s->len;
		s->iovcnt = 1;
		write_start(s);
		return;
	default:
		seg_done(s, -EINVAL);
		return;
	}
}

/* Number of iovecs covering [from, from+len) of @io's buffer. */
static int iov_span(const struct fq_bdev_io *io, uint64_t from, uint64_t len, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < io->iovcnt && len; i++) {
		uint64_t il = io->iov[i].iov_len, k;

		if (from >= il) {
			from -= il;
			continue;
		}
		k = il - from < len ? il - from : len;
		if (out) {
			out[n].iov_base = (uint8_t *)io->iov[i].iov_base + from;
			out[n].iov_len = k;
		}
		n++;
		len -= k;
		from = 0;
	}
	return n;
}

static int check_req(const struct fq_vol *v, const struct fq_bdev_io *io)
{
	uint64_t mask = v->pool->bdev->block_size - 1, sum = 0;

	if (!io->cb)
		return -EINVAL;
	if (io->type == FQ_BDEV_IO_FLUSH)
		return 0;
	if (io->type >= FQ_BDEV_IO_NUM_TYPES || !io->length || (io->offset & mask) ||
	    (io->length & mask) || io->offset > v->size || io->length > v->size - io->offset)
		return -EINVAL;
	if (io->type != FQ_BDEV_IO_READ && io->type != FQ_BDEV_IO_WRITE)
		return 0;
	if (!io->iov || io->iovcnt <= 0)
		return -EINVAL;
	for (int i = 0; i < io->iovcnt; i++)
		sum += io->iov[i].iov_len;
	return sum >= io->length ? 0 : -EINVAL;
}

int fq_vol_submit(struct fq_vol *v, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct fq_pool *p;
	uint64_t pos, end;
	int rc;

	if (!v || !io)
		return -EINVAL;
	p = v->pool;
	rc = check_req(v, io);
	if (rc)
		return rc;
	p->io_eng = eng;
	io->eng = eng;
	io->error = 0;
	io->done_bytes = 0;
	io->nvme_status = 0;
	if (io->type != FQ_BDEV_IO_READ && io->type != FQ_BDEV_IO_FLUSH &&
	    (v->flags & VOLF_SNAPSHOT)) {
		io->nvme_status = FQ_STATUS(0, SC_NS_WRITE_PROTECTED);
		io->cb(io, -EROFS);
		return 0;
	}
	io->pending = 1; /* held until every piece is started */
	if (io->type == FQ_BDEV_IO_FLUSH) {
		struct seg *s = seg_new(p, 0);

		if (!s)
			return -ENOMEM;
		s->p = p;
		s->vol = v;
		s->host = io;
		s->eng = eng;
		io->pending++;
		seg_io(s, ST_FLUSH, FQ_BDEV_IO_FLUSH, 0, NULL, 0, 0);
		host_put(v, io, 0);
		return 0;
	}
	for (pos = io->offset, end = io->offset + io->length; pos < end;) {
		uint64_t cl_end = ((pos >> p->cshift) + 1) << p->cshift;
		uint64_t len = (cl_end < end ? cl_end : end) - pos;
		bool rw = io->type == FQ_BDEV_IO_READ || io->type == FQ_BDEV_IO_WRITE;
		int n = rw ? iov_span(io, pos - io->offset, len, NULL) : 1;
		struct seg *s = seg_new(p, n);

		if (!s) {
			host_put(v, io, -ENOMEM);
			return 0;
		}
		s->p = p;
		s->vol = v;
		s->host = io;
		s->eng = eng;
		s->type = io->type;
		s->idx = (uint32_t)(pos >> p->cshift);
		s->off = (uint32_t)(pos & (p->cs - 1));
		s->len = (uint32_t)len;
		s->iovcnt = n;
		if (rw)
			iov_span(io, pos - io->offset, len, s->iov);
		io->pending++;
		seg_start(s);
		pos += len;
	}
	host_put(v, io, 0);
	return 0;
}

uint64_t fq_vol_size(const struct fq_vol *v)
{
	return v->size;
}

uint32_t fq_vol_block_size(const struct fq_vol *v)
{
	return v->pool->bdev->block_size;
}
