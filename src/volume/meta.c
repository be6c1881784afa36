/* SPDX-License-Identifier: MIT */
/*
 * The in-memory state of a pool (volumes, their cluster maps, the allocation
 * bitmap) and the journal records applied to it. The same apply code runs
 * live, when an entry's write completed, and on replay at open, so the state
 * after a crash is the state the journal describes (docs/volumes.md).
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bit_set(struct fq_pool *p, uint64_t c)
{
	p->bitmap[c / 64] |= 1ull << (c % 64);
}

void bit_clear(struct fq_pool *p, uint64_t c)
{
	p->bitmap[c / 64] &= ~(1ull << (c % 64));
}

bool bit_test(const struct fq_pool *p, uint64_t c)
{
	return p->bitmap[c / 64] >> (c % 64) & 1;
}

uint32_t cluster_alloc(struct fq_pool *p)
{
	uint64_t n = p->nclusters - p->first_data;
	uint64_t c = p->cursor;

	/* Next fit from the last allocation, a word at a time. */
	for (uint64_t i = 0; i < n; i++, c++) {
		if (c >= p->nclusters || c < p->first_data)
			c = p->first_data;
		if (c % 64 == 0 && p->bitmap[c / 64] == ~0ull && c + 64 <= p->nclusters) {
			i += 63;
			c += 63;
			continue;
		}
		if (!bit_test(p, c)) {
			bit_set(p, c);
			p->cursor = c + 1;
			p->owned_total++;
			return (uint32_t)c;
		}
	}
	return 0;
}

/*
 * A cluster became free: allocation resumes at the lowest free one, so space
 * is reused early (and a cluster is handed out again as soon as rule 4 of
 * docs/volumes.md allows, which the crash test relies on to check that rule).
 */
void cluster_release(struct fq_pool *p, uint32_t c)
{
	bit_clear(p, c);
	p->owned_total--;
	if (c < p->cursor)
		p->cursor = c;
}

void cluster_unreserve(struct fq_pool *p, uint32_t c)
{
	cluster_release(p, c);
}

/* A cluster left its owner: free now (replay) or after the next Flush (live). */
static void cluster_free(struct fq_pool *p, uint32_t c, bool live)
{
	if (!live) {
		cluster_release(p, c);
		return;
	}
	if (p->nquar - p->quar_base == p->quar_cap) {
		uint64_t cap = p->quar_cap ? p->quar_cap * 2 : 256;
		uint32_t *q = realloc(p->quar, cap * sizeof(*q));

		if (!q) {
			/* Keeping the cluster used is safe; it only leaks until the next open. */
			return;
		}
		p->quar = q;
		p->quar_cap = cap;
	}
	p->quar[p->nquar - p->quar_base] = c;
	p->nquar++;
}

/*
 * One reference to cluster @c went: free it if that was the last one.
 * Returns whether it was freed (the volume holds one cluster fewer).
 */
static bool cluster_drop(struct fq_pool *p, uint32_t c, bool live)
{
	if (refs_dec(p, c))
		return false;
	cluster_free(p, c, live);
	return true;
}

void quar_release(struct fq_pool *p, uint64_t mark)
{
	uint64_t k, left;

	if (mark <= p->quar_base)
		return;
	k = mark - p->quar_base;
	for (uint64_t i = 0; i < k; i++)
		if (!busy_defer(p, p->quar[i]))
			cluster_release(p, p->quar[i]);
	left = p->nquar - mark;
	memmove(p->quar, p->quar + k, left * sizeof(*p->quar));
	p->quar_base = mark;
}

struct fq_vol *vol_by_id(struct fq_pool *p, uint32_t id)
{
	for (struct fq_vol *v = p->vols; v; v = v->next)
		if (v->id == id)
			return v;
	return NULL;
}

struct fq_vol *vol_by_name(struct fq_pool *p, const char *name)
{
	for (struct fq_vol *v = p->vols; v; v = v->next)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

uint32_t dependants(const struct fq_pool *p, const struct fq_vol *v)
{
	uint32_t n = 0;

	for (const struct fq_vol *w = p->vols; w; w = w->next)
		n += w->parent == v;
	return n;
}

/* Copy a name into a fixed field, cut to fit and NUL padded. */
static void set_name(char dst[FQ_VOL_NAME_MAX], const char *src)
{
	size_t n = strnlen(src, FQ_VOL_NAME_MAX - 1);

	memset(dst, 0, FQ_VOL_NAME_MAX);
	memcpy(dst, src, n);
}

static uint32_t clusters_of(const struct fq_pool *p, uint64_t size)
{
	return (uint32_t)((size + p->cs - 1) >> p->cshift);
}

int vol_set_size(struct fq_vol *v, uint64_t size)
{
	uint32_t n;

	/*
	 * Whole clusters, indexes that fit the map's 31 bits, and at most
	 * FQ_VOL_OVERCOMMIT times the pool: a record cannot make a map that
	 * costs more memory and time than the pool could ever fill.
	 */
	if (size & (v->pool->cs - 1) || (size >> v->pool->cshift) > 0x7fffffffu ||
	    (size >> v->pool->cshift) > FQ_VOL_OVERCOMMIT * v->pool->nclusters)
		return -EINVAL;
	n = clusters_of(v->pool, size);

	if (n > v->map_n) {
		/* calloc: a large map costs memory only where entries are set. */
		uint32_t *m = calloc(n, sizeof(*m));

		if (!m)
			return -ENOMEM;
		if (v->map)
			memcpy(m, v->map, (size_t)v->map_n * sizeof(*m));
		free(v->map);
		v->map = m;
	}
	v->map_n = n;
	v->size = size;
	return 0;
}

struct fq_vol *vol_new(struct fq_pool *p, uint32_t id, uint32_t flags, uint64_t size,
		       const uint8_t uuid[16], const char *name)
{
	struct fq_vol *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->pool = p;
	v->id = id;
	v->flags = flags;
	gate_init(&v->gate, &v->qos);
	memcpy(v->uuid, uuid, 16);
	set_name(v->name, name);
	if (vol_set_size(v, size)) {
		free(v);
		return NULL;
	}
	if (p->vtail)
		p->vtail->next = v;
	else
		p->vols = v;
	p->vtail = v;
	p->nvols++;
	if (id >= p->next_id)
		p->next_id = id + 1;
	return v;
}

void vol_unlink_free(struct fq_pool *p, struct fq_vol *v)
{
	struct fq_vol **pp = &p->vols, *prev = NULL;

	while (*pp && *pp != v) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = v->next;
		if (p->vtail == v)
			p->vtail = prev;
		p->nvols--;
	}
	/* I/O waiting in its gate has no volume to go to any more. */
	vol_gate_fail_all(v, -ENXIO);
	free(v->map);
	free(v);
}

/* Drop every cluster @v owns from index @from on. */
static void free_from(struct fq_pool *p, struct fq_vol *v, uint32_t from, bool live)
{
	for (uint32_t i = from; i < v->map_n; i++) {
		if (map_owned(v->map[i]) && cluster_drop(p, map_pcl(v->map[i]), live))
			v->owned--;
		v->map[i] = MAP_NONE;
	}
}

uint32_t resolve(const struct fq_vol *v, uint64_t idx)
{
	uint64_t limit = UINT64_MAX;

	while (v) {
		uint32_t e;

		if (idx >= v->map_n || idx >= limit)
			return 0;
		e = v->map[idx];
		if (e == MAP_NONE) {
			if (v->parent_limit < limit)
				limit = v->parent_limit;
			v = v->parent;
			continue;
		}
		if (e == MAP_ZERO || (e & MAP_UNWRITTEN))
			return 0;
		return e;
	}
	return 0;
}

uint32_t resolve_parent(const struct fq_vol *v, uint64_t idx)
{
	if (!v->parent || idx >= v->parent_limit)
		return 0;
	return resolve(v->parent, idx);
}

static int apply_set(struct fq_pool *p, const struct rec_set *r, bool live)
{
	struct fq_vol *v = vol_by_id(p, r->vol);
	uint32_t old;

	/* A record never names a cluster outside the data area (a decoder must not trust it). */
	if (map_owned(r->val) &&
	    (map_pcl(r->val) < p->first_data || map_pcl(r->val) >= p->nclusters))
		return -EINVAL;
	if (!v || r->idx >= v->map_n) {
		/* The volume went (or shrank) while the write was in flight. */
		if (map_owned(r->val) && live)
			cluster_free(p, map_pcl(r->val), live);
		return 0;
	}
	old = v->map[r->idx];
	if (map_owned(old) && (!map_owned(r->val) || map_pcl(old) != map_pcl(r->val)) &&
	    cluster_drop(p, map_pcl(old), live))
		v->owned--;
	if (map_owned(r->val) && (!map_owned(old) || map_pcl(old) != map_pcl(r->val))) {
		if (!live) {
			bit_set(p, map_pcl(r->val));
			p->owned_total++;
		}
		v->owned++;
	}
	v->map[r->idx] = r->val;
	return 0;
}

/*
 * SHARE (a Copy of a whole cluster): entry @idx takes the written cluster
 * entry @src holds, one more reference to it; what @idx held loses one.
 */
static int apply_share(struct fq_pool *p, const struct rec_share *r, bool live)
{
	struct fq_vol *v = vol_by_id(p, r->vol);
	uint32_t old;
	int rc;

	if (!map_owned(r->val) || (r->val & MAP_UNWRITTEN) || r->val < p->first_data ||
	    r->val >= p->nclusters)
		return -EINVAL;
	if (!v || r->idx >= v->map_n || r->src >= v->map_n)
		return 0; /* the volume went (or shrank) since */
	/* The source entry is pinned while the record is in flight: it must still hold val. */
	if (v->map[r->src] != r->val)
		return -EINVAL;
	if (r->idx == r->src)
		return 0;
	rc = refs_inc(p, r->val);
	if (rc)
		return rc;
	old = v->map[r->idx];
	v->map[r->idx] = r->val;
	if (map_owned(old) && cluster_drop(p, map_pcl(old), live))
		v->owned--;
	return 0;
}

static void apply_snapshot(struct fq_pool *p, const struct rec_vol *r)
{
	struct fq_vol *v = vol_by_id(p, r->id), *s;
	uint32_t *empty;

	if (!v || (v->flags & VOLF_SNAPSHOT))
		return;
	empty = calloc(v->map_n ? v->map_n : 1, sizeof(*empty));
	s = empty ? vol_new(p, r->new_id, VOLF_SNAPSHOT, 0, r->uuid, r->name) : NULL;
	if (!s) {
		free(empty);
		p->failed = -ENOMEM;
		return;
	}
	/* The snapshot takes the volume's map as it is; the volume starts anew on top. */
	free(s->map);
	s->map = v->map;
	s->map_n = v->map_n;
	s->size = v->size;
	s->owned = v->owned;
	s->parent = v->parent;
	s->parent_limit = v->parent_limit;
	v->map = empty;
	v->owned = 0;
	v->parent = s;
	v->parent_limit = v->map_n;
}

static void apply_snapdel(struct fq_pool *p, struct fq_vol *s, bool live)
{
	struct fq_vol *c = NULL;

	for (struct fq_vol *w = p->vols; w; w = w->next)
		if (w->parent == s) {
			if (c)
				return; /* refused live; never journaled */
			c = w;
		}
	if (!c) {
		free_from(p, s, 0, live);
		vol_unlink_free(p, s);
		return;
	}
	/* Merge into the one dependant: its own entries win, the rest move over. */
	for (uint32_t i = 0; i < s->map_n; i++) {
		uint32_t e = s->map[i];

		if (e == MAP_NONE)
			continue;
		if (i < c->parent_limit && i < c->map_n && c->map[i] == MAP_NONE)
			c->map[i] = e;
		else if (map_owned(e))
			cluster_drop(p, map_pcl(e), live);
		s->map[i] = MAP_NONE;
	}
	/* Entries of a shared cluster may have moved or gone: count again. */
	c->owned = vol_count_clusters(p, c);
	if (c->owned == UINT64_MAX)
		p->failed = -ENOMEM;
	c->parent = s->parent;
	if (s->parent_limit < c->parent_limit)
		c->parent_limit = s->parent_limit;
	if (!c->parent)
		c->parent_limit = 0;
	vol_unlink_free(p, s);
}

static void apply_rename(struct fq_pool *p, struct fq_vol *v, const char *name)
{
	char old[FQ_VOL_NAME_MAX];
	size_t ol = strlen(v->name);

	memcpy(old, v->name, sizeof(old));
	memset(v->name, 0, sizeof(v->name));
	set_name(v->name, name);
	if (strchr(old, '@'))
		return;
	/* The volume's snapshots follow it: "OLD@S" becomes "NEW@S". */
	for (struct fq_vol *w = p->vols; w; w = w->next) {
		char nn[2 * FQ_VOL_NAME_MAX];

		if (w == v || strncmp(w->name, old, ol) || w->name[ol] != '@')
			continue;
		snprintf(nn, sizeof(nn), "%s%s", v->name, w->name + ol);
		set_name(w->name, nn);
	}
}

/* The limits a record or checkpoint holds; -EINVAL out of fq_vol_set_qos's ranges. */
int qos_check(const struct fq_vol_qos *q)
{
	if (q->read_iops > FQ_VOL_QOS_MAX_IOPS || q->write_iops > FQ_VOL_QOS_MAX_IOPS ||
	    q->burst_ms > FQ_VOL_QOS_MAX_BURST_MS)
		return -EINVAL;
	return 0;
}

void vol_apply_qos(struct fq_vol *v, const struct fq_vol_qos *q)
{
	v->qos = *q;
	gate_set(&v->gate, q);
}

static int apply_qos(struct fq_pool *p, const struct rec_qos *r)
{
	struct fq_vol *v = vol_by_id(p, r->id);
	struct fq_vol_qos q = {
		.read_iops = r->read_iops,
		.write_iops = r->write_iops,
		.read_bps = r->read_bps,
		.write_bps = r->write_bps,
		.burst_ms = r->burst_ms,
	};

	if (qos_check(&q))
		return -EINVAL;
	if (v) /* else the volume went since */
		vol_apply_qos(v, &q);
	return 0;
}

static int apply_one(struct fq_pool *p, uint16_t type, const uint8_t *pl, uint16_t len, bool live)
{
	const struct rec_vol *rv = (const void *)pl;
	struct fq_vol *v;

	if (type == REC_SET) {
		if (len != sizeof(struct rec_set))
			return -EINVAL;
		return apply_set(p, (const void *)pl, live);
	}
	if (type == REC_QOS) {
		if (len != sizeof(struct rec_qos))
			return -EINVAL;
		return apply_qos(p, (const void *)pl);
	}
	if (type == REC_SHARE) {
		if (len != sizeof(struct rec_share))
			return -EINVAL;
		return apply_share(p, (const void *)pl, live);
	}
	if (len != sizeof(struct rec_vol))
		return -EINVAL;
	v = vol_by_id(p, rv->id);
	/* Ids are never reused: a record that would make a second one is corrupt. */
	if ((type == REC_CREATE && v) ||
	    ((type == REC_SNAPSHOT || type == REC_CLONE) && vol_by_id(p, rv->new_id)))
		return -EINVAL;
	switch (type) {
	case REC_CREATE:
		if (!rv->size ||
		    !vol_new(p, rv->id, rv->flags & VOLF_THICK, rv->size, rv->uuid, rv->name))
			return -EINVAL;
		break;
	case REC_DELETE:
		if (!v)
			break;
		if (v->flags & VOLF_SNAPSHOT) {
			apply_snapdel(p, v, live);
			break;
		}
		free_from(p, v, 0, live);
		for (struct fq_vol *w = p->vols; w; w = w->next)
			if (w->parent == v)
				w->parent = NULL;
		vol_unlink_free(p, v);
		break;
	case REC_RESIZE:
		if (!v)
			break;
		if (!rv->size || rv->size & (p->cs - 1) || (rv->size >> p->cshift) > 0x7fffffffu ||
		    (rv->size >> p->cshift) > FQ_VOL_OVERCOMMIT * p->nclusters)
			return -EINVAL;
		if (clusters_of(p, rv->size) < v->map_n) {
			uint32_t n = clusters_of(p, rv->size);

			free_from(p, v, n, live);
			if (v->parent_limit > n)
				v->parent_limit = n;
		}
		if (!rv->size || vol_set_size(v, rv->size))
			return -EINVAL;
		break;
	case REC_RENAME:
		if (v)
			apply_rename(p, v, rv->name);
		break;
	case REC_SNAPSHOT:
		apply_snapshot(p, rv);
		break;
	case REC_CLONE: {
		struct fq_vol *c;

		if (!v || !(v->flags & VOLF_SNAPSHOT))
			break;
		c = vol_new(p, rv->new_id, 0, v->size, rv->uuid, rv->name);
		if (!c)
			return -ENOMEM;
		c->parent = v;
		c->parent_limit = v->map_n;
		break;
	}
	case REC_ROLLBACK:
		if (!v || !v->parent)
			break;
		free_from(p, v, 0, live);
		if (vol_set_size(v, v->parent->size))
			return -ENOMEM;
		v->parent_limit = v->map_n;
		break;
	case REC_SNAPDEL:
		if (v)
			apply_snapdel(p, v, live);
		break;
	case REC_UNPARENT:
		if (v) {
			v->parent = NULL;
			v->parent_limit = 0;
		}
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

int apply_records(struct fq_pool *p, const uint8_t *buf, uint64_t len, uint32_t nrec, bool live)
{
	uint64_t off = 0;

	for (uint32_t i = 0; i < nrec; i++) {
		struct fq_rec_hdr h;
		int rc;

		if (len - off < sizeof(h))
			return -EINVAL;
		memcpy(&h, buf + off, sizeof(h));
		off += sizeof(h);
		if (len - off < h.len)
			return -EINVAL;
		/* Payloads are 8-byte multiples, so every header stays aligned. */
		rc = apply_one(p, h.type, buf + off, h.len, live);
		if (rc)
			return rc;
		off += h.len;
	}
	return 0;
}
