/* SPDX-License-Identifier: MIT */
/*
 * Pool create, open (superblock, checkpoint, journal replay), close and the
 * offline check (docs/volumes.md).
 */
#include "volume/vol_internal.h"

#include "proto/crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define round_up(x, a) (((x) + (a)-1) / (a) * (a))

struct sync_io {
	bool done;
	int rc;
};

static void sync_io_done(struct fq_bdev_io *io, int result)
{
	struct sync_io *s = io->cb_arg;

	s->rc = result;
	s->done = true;
}

int wait_done(struct fq_pool *p, const bool *done)
{
	while (!*done) {
		int rc;

		if (!p->eng)
			return -EIO; /* a bdev without an engine completes inside submit */
		rc = fq_engine_run(p->eng, 1, 1000000);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			return rc;
	}
	return 0;
}

int io_sync(struct fq_pool *p, enum fq_bdev_io_type type, uint64_t off, void *buf, uint64_t len)
{
	struct fq_bdev_io io = {0};
	struct iovec iov = {buf, len};
	struct sync_io s = {0};
	int rc;

	io.type = type;
	io.offset = off;
	io.length = len;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = sync_io_done;
	io.cb_arg = &s;
	rc = fq_bdev_submit(p->bdev, p->eng, &io);
	if (rc)
		return rc;
	rc = wait_done(p, &s.done);
	return rc ? rc : s.rc;
}

static int pool_alloc(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool **out)
{
	struct fq_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->bdev = bdev;
	p->eng = eng;
	p->io_eng = eng;
	p->pend_wtail = &p->pend_w;
	p->sbbuf = aligned_alloc(FQ_META_BLOCK, FQ_META_BLOCK);
	if (!p->sbbuf) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

/* Geometry from p->sb. */
static int pool_setup(struct fq_pool *p)
{
	uint64_t cap = p->bdev->num_blocks * p->bdev->block_size;

	if (!p->sb.cluster_size || (p->sb.cluster_size & (p->sb.cluster_size - 1)) ||
	    p->sb.nclusters * p->sb.cluster_size > cap || p->sb.first_data < 2 ||
	    p->sb.first_data >= p->sb.nclusters || p->sb.nclusters > 0x7fffffffull)
		return -EINVAL;
	p->cs = p->sb.cluster_size;
	p->cshift = (uint32_t)__builtin_ctz(p->cs);
	p->nclusters = p->sb.nclusters;
	p->first_data = p->sb.first_data;
	p->cursor = p->first_data;
	p->share_cap = refs_capacity(&p->sb);
	p->bitmap = calloc(round_up(p->nclusters, 64) / 64, 8);
	return p->bitmap ? 0 : -ENOMEM;
}

static void pool_free(struct fq_pool *p)
{
	while (p->vols)
		vol_unlink_free(p, p->vols);
	for (struct inflight *i = p->inflight, *n; i; i = n) {
		n = i->next;
		free(i);
	}
	refs_free(p);
	busy_free(p);
	seg_cache_free(p);
	free(p->bitmap);
	free(p->quar);
	free(p->pend);
	free(p->ibuf);
	free(p->ckbuf);
	free(p->sbbuf);
	free(p);
}

int fq_pool_create(struct fq_bdev *bdev, struct fq_engine *eng, const struct fq_pool_opts *opts)
{
	struct fq_pool_opts o = opts ? *opts : (struct fq_pool_opts){0};
	uint64_t cap, meta_end, bytes;
	struct fq_pool *p;
	int fd, rc;

	if (!bdev || (!eng && !bdev->sync_submit) || bdev->block_size > FQ_META_BLOCK)
		return -EINVAL;
	if (!o.cluster_size)
		o.cluster_size = 1u << 20;
	if (!o.journal_size)
		o.journal_size = 8u << 20;
	if (!o.max_volumes)
		o.max_volumes = 4096;
	if (o.cluster_size < 4096 || o.cluster_size > (1u << 20) ||
	    (o.cluster_size & (o.cluster_size - 1)) || o.journal_size % FQ_META_BLOCK ||
	    o.journal_size < 4 * FQ_META_BLOCK || (o.name && strlen(o.name) >= FQ_POOL_NAME_MAX))
		return -EINVAL;
	rc = pool_alloc(bdev, eng, &p);
	if (rc)
		return rc;
	cap = bdev->num_blocks * bdev->block_size;
	memcpy(p->sb.magic, FQ_SB_MAGIC, 8);
	p->sb.version = FQ_POOL_VERSION;
	p->sb.cluster_size = o.cluster_size;
	p->sb.block_size = bdev->block_size;
	p->sb.nclusters = cap / o.cluster_size;
	p->sb.max_volumes = o.max_volumes;
	p->sb.journal_off = 2 * FQ_META_BLOCK;
	p->sb.journal_len = o.journal_size;
	p->sb.ckpt_len = ckpt_slot_len(o.max_volumes, p->sb.nclusters);
	p->sb.ckpt_off[0] = p->sb.journal_off + p->sb.journal_len;
	p->sb.ckpt_off[1] = p->sb.ckpt_off[0] + p->sb.ckpt_len;
	meta_end = p->sb.ckpt_off[1] + p->sb.ckpt_len;
	p->sb.first_data = (uint32_t)((meta_end + o.cluster_size - 1) / o.cluster_size);
	if (p->sb.first_data < 2)
		p->sb.first_data = 2;
	if (o.name)
		strncpy(p->sb.name, o.name, FQ_POOL_NAME_MAX - 1);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, p->sb.uuid, 16) != 16)
		rc = -EIO;
	if (fd >= 0)
		close(fd);
	if (!rc && p->sb.first_data + 1 >= p->sb.nclusters)
		rc = -ENOSPC;
	if (!rc)
		rc = pool_setup(p);
	if (rc)
		goto out;
	p->next_id = 1;
	bytes = ckpt_build(p, 0);
	rc = bytes ? 0 : -ENOMEM;
	if (!rc)
		rc = io_sync(p, FQ_BDEV_IO_WRITE, p->sb.ckpt_off[0], p->ckbuf,
			     round_up(bytes, FQ_META_BLOCK));
	/* A stale entry of an earlier pool carries another uuid; clear the first anyway. */
	memset(p->sbbuf, 0, FQ_META_BLOCK);
	if (!rc)
		rc = io_sync(p, FQ_BDEV_IO_WRITE, p->sb.journal_off, p->sbbuf, FQ_META_BLOCK);
	if (!rc)
		rc = io_sync(p, FQ_BDEV_IO_FLUSH, 0, NULL, 0);
	p->sb.ckpt_slot = 0;
	p->sb.ckpt_seq = 0;
	p->sb.ckpt_bytes = bytes;
	p->sb.ckpt_crc = bytes ? ((struct fq_ckpt_hdr *)p->ckbuf)->crc : 0;
	for (int i = 1; i <= 2 && !rc; i++) {
		p->sb.seq = (uint64_t)i;
		sb_fill(p, p->sbbuf);
		rc = io_sync(p, FQ_BDEV_IO_WRITE, (p->sb.seq % 2) * FQ_META_BLOCK, p->sbbuf,
			     FQ_META_BLOCK);
	}
	if (!rc)
		rc = io_sync(p, FQ_BDEV_IO_FLUSH, 0, NULL, 0);
out:
	pool_free(p);
	return rc;
}

static bool sb_valid(const uint8_t *block, struct fq_sb *sb)
{
	uint8_t tmp[FQ_META_BLOCK];
	uint32_t crc;

	memcpy(sb, block, sizeof(*sb));
	if (memcmp(sb->magic, FQ_SB_MAGIC, 8) || sb->version != FQ_POOL_VERSION)
		return false;
	crc = sb->crc;
	memcpy(tmp, block, FQ_META_BLOCK);
	memset(tmp + offsetof(struct fq_sb, crc), 0, 4);
	return fq_crc32c(tmp, FQ_META_BLOCK) == crc;
}

/*
 * A checkpoint pair naming cluster @c for @v: its first reference counts as
 * a cluster of @v, any further one as a share (refs.c). Nonzero: corrupt.
 */
static int load_ref(struct fq_pool *p, uint64_t *seen, uint32_t c, struct fq_vol *v)
{
	if (c >= p->nclusters || c < p->first_data)
		return -1;
	if (seen[c / 64] >> (c % 64) & 1)
		return refs_inc(p, c);
	seen[c / 64] |= 1ull << (c % 64);
	v->owned++;
	return 0;
}

static int load_ckpt(struct fq_pool *p)
{
	uint64_t len = round_up(p->sb.ckpt_bytes, FQ_META_BLOCK);
	struct fq_ckpt_hdr h;
	uint64_t off, words = round_up(p->nclusters, 64) / 64;
	uint64_t *seen;
	uint32_t crc;
	uint8_t *b;
	int rc;

	if (p->sb.ckpt_bytes < sizeof(h) || len > p->sb.ckpt_len || p->sb.ckpt_slot > 1)
		return -EINVAL;
	seen = calloc(words, 8);
	b = seen ? aligned_alloc(FQ_META_BLOCK, len) : NULL;
	if (!b) {
		free(seen);
		return -ENOMEM;
	}
	rc = io_sync(p, FQ_BDEV_IO_READ, p->sb.ckpt_off[p->sb.ckpt_slot], b, len);
	if (rc)
		goto out;
	memcpy(&h, b, sizeof(h));
	crc = h.crc;
	memset(b + offsetof(struct fq_ckpt_hdr, crc), 0, 4);
	rc = -EBADMSG;
	if (memcmp(h.magic, FQ_CKPT_MAGIC, 8) || h.bytes != p->sb.ckpt_bytes ||
	    crc != p->sb.ckpt_crc || fq_crc32c(b, h.bytes) != crc || h.seq != p->sb.ckpt_seq ||
	    h.bitmap_off + words * 8 != h.bytes ||
	    sizeof(h) + (uint64_t)h.nvols * sizeof(struct fq_ckpt_vol) + h.npairs * 8 >
		    h.bitmap_off)
		goto out;
	p->next_id = h.next_id;
	off = sizeof(h);
	for (uint32_t i = 0; i < h.nvols; i++) {
		struct fq_ckpt_vol r;
		struct fq_vol *v;

		memcpy(&r, b + off + (uint64_t)i * sizeof(r), sizeof(r));
		r.name[FQ_VOL_NAME_MAX - 1] = '\0';
		v = vol_new(p, r.id, r.flags, r.size, r.uuid, r.name);
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		v->parent_limit = r.parent_limit;
		v->write_gen = r.write_gen;
		/* Zero in a pool written before QoS existed: no limits. */
		vol_apply_qos(v, &(struct fq_vol_qos){.read_iops = r.qos_read_iops,
						      .write_iops = r.qos_write_iops,
						      .read_bps = r.qos_read_bps,
						      .write_bps = r.qos_write_bps,
						      .burst_ms = r.qos_burst_ms});
		if (qos_check(&v->qos))
			goto out;
		/* The parent id waits in ->parent's place until every volume is read. */
		v->parent = (struct fq_vol *)(uintptr_t)r.parent;
	}
	off += (uint64_t)h.nvols * sizeof(struct fq_ckpt_vol);
	{
		uint32_t i = 0;

		for (struct fq_vol *v = p->vols; v; v = v->next, i++) {
			struct fq_ckpt_vol r;

			memcpy(&r, b + sizeof(h) + (uint64_t)i * sizeof(r), sizeof(r));
			for (uint32_t k = 0; k < r.nent; k++, off += 8) {
				uint32_t pair[2];

				if (off + 8 > h.bitmap_off)
					goto out;
				memcpy(pair, b + off, 8);
				if (pair[0] >= v->map_n)
					goto out;
				v->map[pair[0]] = pair[1];
				if (map_owned(pair[1]) && load_ref(p, seen, map_pcl(pair[1]), v))
					goto out;
			}
		}
	}
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		uint32_t pid = (uint32_t)(uintptr_t)v->parent;

		for (struct fq_vol *w = v->next; w; w = w->next)
			if (w->id == v->id)
				goto out;
		v->parent = NULL;
		if (pid) {
			/* Parents resolve in place, so look them up by id here. */
			for (struct fq_vol *w = p->vols; w; w = w->next)
				if (w->id == pid)
					v->parent = w;
			if (!v->parent)
				goto out;
		}
	}
	/* A parent chain longer than the volumes there are is a loop. */
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		uint32_t hops = 0;

		for (struct fq_vol *a = v->parent; a; a = a->parent)
			if (++hops > p->nvols)
				goto out;
	}
	memcpy(p->bitmap, b + h.bitmap_off, words * 8);
	p->owned_total = 0;
	for (uint64_t w = 0; w < words; w++)
		p->owned_total += (uint64_t)__builtin_popcountll(p->bitmap[w]);
	rc = 0;
out:
	free(seen);
	free(b);
	return rc;
}

static int replay(struct fq_pool *p)
{
	uint64_t off = 0, seq = p->sb.ckpt_seq;
	uint64_t uuid_lo;
	uint8_t *b = NULL;
	uint64_t cap = 0;
	int rc = 0;

	memcpy(&uuid_lo, p->sb.uuid, 8);
	while (off + FQ_META_BLOCK <= p->sb.journal_len) {
		struct fq_je_hdr h;
		uint32_t crc;
		uint8_t *nb;

		if (cap < FQ_META_BLOCK) {
			b = aligned_alloc(FQ_META_BLOCK, FQ_META_BLOCK);
			if (!b)
				return -ENOMEM;
			cap = FQ_META_BLOCK;
		}
		rc = io_sync(p, FQ_BDEV_IO_READ, p->sb.journal_off + off, b, FQ_META_BLOCK);
		if (rc)
			break;
		memcpy(&h, b, sizeof(h));
		if (h.magic != FQ_JE_MAGIC || h.seq != seq + 1 || h.uuid_lo != uuid_lo ||
		    h.len < FQ_META_BLOCK || h.len % FQ_META_BLOCK ||
		    h.len > p->sb.journal_len - off)
			break;
		if (h.len > cap) {
			nb = aligned_alloc(FQ_META_BLOCK, h.len);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			free(b);
			b = nb;
			cap = h.len;
		}
		if (h.len > FQ_META_BLOCK) {
			rc = io_sync(p, FQ_BDEV_IO_READ, p->sb.journal_off + off + FQ_META_BLOCK,
				     b + FQ_META_BLOCK, h.len - FQ_META_BLOCK);
			if (rc)
				break;
		}
		crc = h.crc;
		memset(b + offsetof(struct fq_je_hdr, crc), 0, 4);
		if (fq_crc32c(b, h.len) != crc)
			break; /* torn: the journal ends here */
		rc = apply_records(p, b + sizeof(h), h.len - sizeof(h), h.nrec, false);
		if (rc)
			break;
		seq++;
		off += h.len;
		p->replayed++;
	}
	free(b);
	p->jseq = seq;
	p->jtail = off;
	return rc;
}

static int pool_load(struct fq_bdev *bdev, struct fq_engine *eng, bool check, struct fq_pool **out)
{
	struct fq_sb a, bb;
	bool va, vb;
	struct fq_pool *p;
	int rc;

	if (!bdev || !out || (!eng && !bdev->sync_submit))
		return -EINVAL;
	rc = pool_alloc(bdev, eng, &p);
	if (rc)
		return rc;
	p->check_mode = check;
	rc = io_sync(p, FQ_BDEV_IO_READ, 0, p->sbbuf, FQ_META_BLOCK);
	if (rc)
		goto fail;
	va = sb_valid(p->sbbuf, &a);
	rc = io_sync(p, FQ_BDEV_IO_READ, FQ_META_BLOCK, p->sbbuf, FQ_META_BLOCK);
	if (rc)
		goto fail;
	vb = sb_valid(p->sbbuf, &bb);
	rc = -EBADMSG;
	if (!va && !vb)
		goto fail;
	p->sb = (va && (!vb || a.seq > bb.seq)) ? a : bb;
	rc = pool_setup(p);
	if (!rc)
		rc = load_ckpt(p);
	if (!rc)
		rc = replay(p);
	/* What replay applied (and freed) must be durable before anything reuses it. */
	if (!rc && !check)
		rc = io_sync(p, FQ_BDEV_IO_FLUSH, 0, NULL, 0);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	pool_free(p);
	return rc;
}

int fq_pool_open(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool **out)
{
	return pool_load(bdev, eng, false, out);
}

struct sync_wait {
	struct jwait w;
	bool done;
	int rc;
};

static void sync_wait_fn(struct jwait *w, int rc)
{
	struct sync_wait *s = (struct sync_wait *)w;

	s->rc = rc;
	s->done = true;
}

int pool_checkpoint_sync(struct fq_pool *p)
{
	struct sync_wait s = {.w.fn = sync_wait_fn};
	int rc;

	if (p->failed)
		return p->failed;
	p->io_eng = p->eng;
	jcheckpoint(p, &s.w);
	rc = wait_done(p, &s.done);
	return rc ? rc : s.rc;
}

int fq_pool_close(struct fq_pool *pool)
{
	int rc;

	if (!pool)
		return 0;
	rc = pool_checkpoint_sync(pool);
	pool_free(pool);
	return rc;
}

void fq_pool_abandon(struct fq_pool *pool)
{
	if (pool)
		pool_free(pool);
}

int fq_pool_info(struct fq_pool *p, struct fq_pool_info *info)
{
	if (!p || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	memcpy(info->name, p->sb.name, sizeof(info->name));
	info->name[FQ_POOL_NAME_MAX - 1] = '\0';
	info->cluster_size = p->cs;
	info->capacity = (p->nclusters - p->first_data) * p->cs;
	info->allocated = p->owned_total * p->cs;
	info->volumes = p->nvols;
	info->journal_replayed = p->replayed;
	return 0;
}

__attribute__((format(printf, 2, 3))) static void check_err(struct fq_pool_check_report *rep,
							    const char *fmt, ...)
{
	va_list ap;

	if (!rep->errors++) {
		va_start(ap, fmt);
		vsnprintf(rep->first_error, sizeof(rep->first_error), fmt, ap);
		va_end(ap);
	}
}

int fq_pool_check(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool_check_report *rep)
{
	struct fq_pool *p;
	uint64_t *seen, shared = 0;
	uint32_t *owner;
	int rc;

	if (!rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	rc = pool_load(bdev, eng, true, &p);
	if (rc == -EBADMSG || rc == -EINVAL) {
		check_err(rep, "superblock or checkpoint unreadable: %s", strerror(-rc));
		return 0;
	}
	if (rc)
		return rc;
	seen = calloc(round_up(p->nclusters, 64) / 64, 8);
	owner = calloc(p->nclusters, sizeof(*owner));
	if (!seen || !owner) {
		free(seen);
		free(owner);
		pool_free(p);
		return -ENOMEM;
	}
	for (struct fq_vol *v = p->vols; v; v = v->next) {
		uint64_t owned = 0;
		uint32_t hops = 0;

		for (struct fq_vol *a = v->parent; a; a = a->parent)
			if (++hops > p->nvols || !(a->flags & VOLF_SNAPSHOT)) {
				check_err(rep, "%s: bad parent chain", v->name);
				break;
			}
		for (struct fq_vol *w = v->next; w; w = w->next)
			if (!strcmp(v->name, w->name) || v->id == w->id)
				check_err(rep, "%s: duplicate volume", v->name);
		for (uint32_t i = 0; i < v->map_n; i++) {
			uint32_t e = v->map[i], c = map_pcl(e);

			if (!map_owned(e))
				continue;
			if (c < p->first_data || c >= p->nclusters) {
				check_err(rep, "%s: cluster %u outside the data area", v->name, c);
				continue;
			}
			/* Several entries of one map may share a cluster (a Copy); two maps never. */
			if (seen[c / 64] >> (c % 64) & 1) {
				if (owner[c] != v->id)
					check_err(rep, "%s: cluster %u owned twice", v->name, c);
				else if (e & MAP_UNWRITTEN)
					check_err(rep, "%s: reserved cluster %u shared", v->name,
						  c);
				else
					shared++;
				continue;
			}
			seen[c / 64] |= 1ull << (c % 64);
			owner[c] = v->id;
			owned++;
			rep->clusters_owned++;
		}
		if (owned != v->owned)
			check_err(rep, "%s: owned count %llu, map says %llu", v->name,
				  (unsigned long long)v->owned, (unsigned long long)owned);
	}
	for (uint64_t c = 0; c < p->nclusters; c++) {
		bool s = seen[c / 64] >> (c % 64) & 1;

		if (s != bit_test(p, c))
			check_err(rep, "cluster %llu: bitmap says %s, the maps %s",
				  (unsigned long long)c, s ? "free" : "used",
				  s ? "used" : "free (leak)");
	}
	if (shared != p->shared_extra)
		check_err(rep, "shared references: the maps hold %llu, the counts say %llu",
			  (unsigned long long)shared, (unsigned long long)p->shared_extra);
	if (shared > p->share_cap)
		check_err(rep, "%llu shared references, room for %llu", (unsigned long long)shared,
			  (unsigned long long)p->share_cap);
	rep->clusters_shared = shared;
	free(seen);
	free(owner);
	pool_free(p);
	return 0;
}
