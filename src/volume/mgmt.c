/* SPDX-License-Identifier: MIT */
/*
 * Management of volumes: each call checks the request against the state,
 * commits one journal record (or, for thick allocation, a checkpoint) and
 * returns once it is durable (docs/volumes.md rule 5). Calls are synchronous
 * on the pool's thread.
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int flush_sync(struct fq_pool *p)
{
	uint64_t mark = p->nquar;
	int rc = io_sync(p, FQ_BDEV_IO_FLUSH, 0, NULL, 0);

	if (!rc)
		quar_release(p, mark);
	return rc;
}

/* Commit one record and wait for its entry; @flush: and make it durable. */
static int commit(struct fq_pool *p, uint16_t type, const void *payload, uint16_t len, bool flush)
{
	struct sync_wait s = {.w.fn = sync_wait_fn};
	int rc;

	if (p->failed)
		return p->failed;
	p->io_eng = p->eng;
	rc = jrec_add(p, type, payload, len, &s.w);
	if (rc)
		return rc;
	rc = wait_done(p, &s.done);
	if (!rc)
		rc = s.rc;
	if (!rc && flush)
		rc = flush_sync(p);
	return rc;
}

static bool name_ok(const char *name, bool snap)
{
	const char *at;
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	at = strchr(name, '@');
	if (!n || n >= FQ_VOL_NAME_MAX || (snap != !!at) || (at && (at == name || !at[1])) ||
	    (at && strchr(at + 1, '@')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':' || c == '@'))
			return false;
	}
	return true;
}

static int new_uuid(uint8_t uuid[16])
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, uuid, 16);
	close(fd);
	if (n != 16)
		return -EIO;
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	return 0;
}

static int size_ok(const struct fq_pool *p, uint64_t size)
{
	/* Whole clusters: a shrink then never leaves old data past the end to show on a grow. */
	if (!size || size & (p->cs - 1) || (size >> p->cshift) > 0x7fffffffu ||
	    (size >> p->cshift) > FQ_VOL_OVERCOMMIT * p->nclusters)
		return -EINVAL;
	return 0;
}

static int vol_rec(struct fq_pool *p, struct rec_vol *r, uint32_t id, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->new_id = p->next_id;
	if (name)
		strncpy(r->name, name, FQ_VOL_NAME_MAX - 1);
	return new_uuid(r->uuid);
}

/* Reserve every cluster of @v not reserved yet (thick); undone on -ENOSPC. */
static int reserve_all(struct fq_pool *p, struct fq_vol *v, uint32_t from)
{
	for (uint32_t i = from; i < v->map_n; i++) {
		uint32_t c;

		if (v->map[i] != MAP_NONE)
			continue;
		c = cluster_alloc(p);
		if (!c) {
			for (uint32_t k = from; k < i; k++)
				if (map_owned(v->map[k]) && (v->map[k] & MAP_UNWRITTEN)) {
					cluster_unreserve(p, map_pcl(v->map[k]));
					v->map[k] = MAP_NONE;
					v->owned--;
				}
			return -ENOSPC;
		}
		v->map[i] = c | MAP_UNWRITTEN;
		v->owned++;
	}
	return 0;
}

int fq_vol_create(struct fq_pool *p, const char *name, uint64_t size, bool thick)
{
	struct rec_vol r;
	struct fq_vol *v;
	int rc;

	if (!p || !name_ok(name, false) || size_ok(p, size))
		return -EINVAL;
	if (vol_by_name(p, name))
		return -EEXIST;
	if (p->nvols >= p->sb.max_volumes)
		return -ENOSPC;
	if (thick && (size >> p->cshift) > p->nclusters - p->first_data - p->owned_total)
		return -ENOSPC;
	rc = vol_rec(p, &r, p->next_id, name);
	if (rc)
		return rc;
	r.size = size;
	if (!thick)
		return commit(p, REC_CREATE, &r, sizeof(r), true);
	/* Thick: the volume and all its reservations become durable in one checkpoint. */
	v = vol_new(p, r.id, VOLF_THICK, size, r.uuid, name);
	if (!v)
		return -ENOMEM;
	rc = reserve_all(p, v, 0);
	if (rc) {
		vol_unlink_free(p, v);
		return rc;
	}
	return pool_checkpoint_sync(p);
}

static struct fq_vol *origin_of(struct fq_pool *p, const char *snap)
{
	char base[FQ_VOL_NAME_MAX];
	const char *at = strchr(snap, '@');

	if (!at || (size_t)(at - snap) >= sizeof(base))
		return NULL;
	memcpy(base, snap, (size_t)(at - snap));
	base[at - snap] = '\0';
	return vol_by_name(p, base);
}

int fq_vol_delete(struct fq_pool *p, const char *name)
{
	struct fq_vol *v = p ? vol_by_name(p, name) : NULL;
	size_t n = name ? strlen(name) : 0;
	struct rec_vol r;
	int rc;

	if (!v)
		return -ENOENT;
	if (v->flags & VOLF_SNAPSHOT) {
		if (dependants(p, v) > 1)
			return -EBUSY; /* clones depend on it: flatten them first */
	} else {
		for (struct fq_vol *w = p->vols; w; w = w->next)
			if (!strncmp(w->name, name, n) && w->name[n] == '@')
				return -EBUSY; /* its snapshots go first */
	}
	rc = vol_rec(p, &r, v->id, NULL);
	return rc ? rc : commit(p, REC_DELETE, &r, sizeof(r), true);
}

int fq_vol_resize(struct fq_pool *p, const char *name, uint64_t size, bool allow_shrink)
{
	struct fq_vol *v = p ? vol_by_name(p, name) : NULL;
	uint32_t old_n;
	struct rec_vol r;
	int rc;

	if (!v)
		return -ENOENT;
	if (v->flags & VOLF_SNAPSHOT)
		return -EROFS;
	if (size_ok(p, size) || (size < v->size && !allow_shrink))
		return -EINVAL;
	if (size == v->size)
		return 0;
	if (!(v->flags & VOLF_THICK) || size < v->size) {
		rc = vol_rec(p, &r, v->id, NULL);
		r.size = size;
		return rc ? rc : commit(p, REC_RESIZE, &r, sizeof(r), true);
	}
	old_n = v->map_n;
	if (((size - v->size) >> p->cshift) > p->nclusters - p->first_data - p->owned_total)
		return -ENOSPC;
	rc = vol_set_size(v, size);
	if (!rc)
		rc = reserve_all(p, v, old_n);
	if (rc) {
		v->map_n = old_n;
		v->size = (uint64_t)old_n << p->cshift;
		return rc;
	}
	return pool_checkpoint_sync(p);
}

int fq_vol_rename(struct fq_pool *p, const char *name, const char *new_name)
{
	struct fq_vol *v = p ? vol_by_name(p, name) : NULL;
	bool snap;
	struct rec_vol r;
	int rc;

	if (!v)
		return -ENOENT;
	snap = v->flags & VOLF_SNAPSHOT;
	if (!name_ok(new_name, snap))
		return -EINVAL;
	if (snap && origin_of(p, new_name) != origin_of(p, name))
		return -EINVAL; /* a snapshot keeps its volume's name */
	if (vol_by_name(p, new_name))
		return -EEXIST;
	rc = vol_rec(p, &r, v->id, new_name);
	return rc ? rc : commit(p, REC_RENAME, &r, sizeof(r), true);
}

int fq_vol_snapshot(struct fq_pool *p, const char *snap)
{
	struct fq_vol *v;
	struct rec_vol r;
	int rc;

	if (!p || !name_ok(snap, true))
		return -EINVAL;
	v = origin_of(p, snap);
	if (!v || (v->flags & VOLF_SNAPSHOT))
		return -ENOENT;
	if (vol_by_name(p, snap))
		return -EEXIST;
	if (p->nvols >= p->sb.max_volumes)
		return -ENOSPC;
	rc = vol_rec(p, &r, v->id, snap);
	return rc ? rc : commit(p, REC_SNAPSHOT, &r, sizeof(r), true);
}

int fq_vol_clone(struct fq_pool *p, const char *snap, const char *new_name)
{
	struct fq_vol *s = p && snap ? vol_by_name(p, snap) : NULL;
	struct rec_vol r;
	int rc;

	if (!s || !(s->flags & VOLF_SNAPSHOT))
		return -ENOENT;
	if (!name_ok(new_name, false))
		return -EINVAL;
	if (vol_by_name(p, new_name))
		return -EEXIST;
	if (p->nvols >= p->sb.max_volumes)
		return -ENOSPC;
	rc = vol_rec(p, &r, s->id, new_name);
	return rc ? rc : commit(p, REC_CLONE, &r, sizeof(r), true);
}

int fq_vol_rollback(struct fq_pool *p, const char *snap)
{
	struct fq_vol *s = p && snap ? vol_by_name(p, snap) : NULL;
	struct fq_vol *v;
	struct rec_vol r;
	int rc;

	if (!s || !(s->flags & VOLF_SNAPSHOT))
		return -ENOENT;
	v = origin_of(p, snap);
	if (!v)
		return -ENOENT;
	if (v->parent != s)
		return -EINVAL; /* only to the latest snapshot */
	rc = vol_rec(p, &r, v->id, NULL);
	return rc ? rc : commit(p, REC_ROLLBACK, &r, sizeof(r), true);
}

int fq_vol_flatten(struct fq_pool *p, const char *name)
{
	struct fq_vol *v = p ? vol_by_name(p, name) : NULL;
	uint8_t *buf;
	struct rec_vol r;
	int rc = 0;

	if (!v)
		return -ENOENT;
	if (v->flags & VOLF_SNAPSHOT)
		return -EROFS;
	if (!v->parent)
		return 0;
	buf = aligned_alloc(FQ_META_BLOCK, p->cs);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->map_n && i < v->parent_limit && !rc; i++) {
		struct rec_set set = {.vol = v->id, .idx = i};
		uint32_t src, c;

		if (v->map[i] != MAP_NONE)
			continue;
		src = resolve_parent(v, i);
		if (!src)
			continue;
		c = cluster_alloc(p);
		if (!c) {
			rc = -ENOSPC;
			break;
		}
		rc = io_sync(p, FQ_BDEV_IO_READ, (uint64_t)src << p->cshift, buf, p->cs);
		if (!rc)
			rc = io_sync(p, FQ_BDEV_IO_WRITE, (uint64_t)c << p->cshift, buf, p->cs);
		set.val = c;
		if (!rc)
			rc = commit(p, REC_SET, &set, sizeof(set), false);
		if (rc && v->map[i] != c)
			cluster_unreserve(p, c);
	}
	free(buf);
	if (rc)
		return rc;
	rc = vol_rec(p, &r, v->id, NULL);
	return rc ? rc : commit(p, REC_UNPARENT, &r, sizeof(r), true);
}

int fq_vol_set_qos(struct fq_pool *p, const char *name, const struct fq_vol_qos *q)
{
	struct fq_vol *v = p && name ? vol_by_name(p, name) : NULL;
	struct rec_qos r = {0};

	if (!v)
		return -ENOENT;
	if (!q || qos_check(q))
		return -EINVAL;
	r.id = v->id;
	r.burst_ms = q->burst_ms;
	r.read_iops = (uint32_t)q->read_iops;
	r.write_iops = (uint32_t)q->write_iops;
	r.read_bps = q->read_bps;
	r.write_bps = q->write_bps;
	/* Applied when the record is durable (apply_qos), like every change. */
	return commit(p, REC_QOS, &r, sizeof(r), true);
}

struct fq_vol *fq_vol_find(struct fq_pool *p, const char *name)
{
	return p && name ? vol_by_name(p, name) : NULL;
}

int fq_vol_info(struct fq_vol *v, struct fq_vol_info *info)
{
	size_t n;

	if (!v || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	memcpy(info->name, v->name, sizeof(info->name));
	if (v->parent)
		memcpy(info->parent, v->parent->name, sizeof(info->parent));
	memcpy(info->uuid, v->uuid, 16);
	info->size = v->size;
	info->allocated_bytes = v->owned << v->pool->cshift;
	info->write_gen = v->write_gen;
	info->snapshot = v->flags & VOLF_SNAPSHOT;
	info->thick = v->flags & VOLF_THICK;
	info->dependants = dependants(v->pool, v);
	info->qos = v->qos;
	if (!info->qos.burst_ms)
		info->qos.burst_ms = FQ_VOL_QOS_DEFAULT_BURST_MS;
	info->suspended = v->gate.suspended;
	info->held = v->gate.held.n;
	info->waiting = gate_waiting(&v->gate);
	info->delayed = v->gate.delayed;
	n = strlen(v->name);
	for (struct fq_vol *w = v->pool->vols; w; w = w->next)
		info->snapshots += (w->flags & VOLF_SNAPSHOT) && !strncmp(w->name, v->name, n) &&
				   w->name[n] == '@';
	return 0;
}

int fq_vol_list(struct fq_pool *p, int (*fn)(struct fq_vol *vol, void *arg), void *arg)
{
	if (!p || !fn)
		return -EINVAL;
	for (struct fq_vol *v = p->vols, *n; v; v = n) {
		int rc;

		n = v->next;
		rc = fn(v, arg);
		if (rc)
			return rc;
	}
	return 0;
}
