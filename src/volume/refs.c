/* SPDX-License-Identifier: MIT */
/*
 * Reference counts of shared data clusters. A Copy on a volume may point
 * several map entries of that volume at one cluster (docs/volumes.md
 * "Shared clusters"); every other cluster has exactly one reference. Only
 * the extra references are kept, in an open-addressing hash table keyed by
 * cluster number (0 never names a data cluster, so it marks a free slot):
 * a pool without shared clusters costs nothing, one with k of them about
 * 16 bytes each. The counts are not stored on disk: the maps hold them
 * (each reference is a map entry), so open rebuilds the table from the
 * checkpoint and the journal.
 *
 * Invariant: all references to a cluster are entries of one volume's map
 * (sharing is only ever made from a cluster the volume's own map holds,
 * and snapshots and merges move whole maps), so freeing, counting a
 * volume's clusters and the offline check stay per volume.
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t slot_of(const struct fq_pool *p, uint32_t c)
{
	return ((uint64_t)c * 2654435761u) & (p->rt_cap - 1);
}

static struct refent *refs_find(const struct fq_pool *p, uint32_t c)
{
	if (!p->rt_cap)
		return NULL;
	for (uint64_t i = slot_of(p, c);; i = (i + 1) & (p->rt_cap - 1)) {
		if (p->rt[i].c == c)
			return &p->rt[i];
		if (!p->rt[i].c)
			return NULL;
	}
}

static int refs_grow(struct fq_pool *p)
{
	uint64_t cap = p->rt_cap ? p->rt_cap * 2 : 64, old_cap = p->rt_cap;
	struct refent *old = p->rt, *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	p->rt = t;
	p->rt_cap = cap;
	for (uint64_t k = 0; k < old_cap; k++) {
		uint64_t i;

		if (!old[k].c)
			continue;
		for (i = slot_of(p, old[k].c); t[i].c; i = (i + 1) & (cap - 1))
			;
		t[i] = old[k];
	}
	free(old);
	return 0;
}

uint32_t refs_extra(const struct fq_pool *p, uint32_t c)
{
	const struct refent *e = refs_find(p, c);

	return e ? e->extra : 0;
}

int refs_inc(struct fq_pool *p, uint32_t c)
{
	struct refent *e = refs_find(p, c);
	uint64_t i;

	if (e) {
		e->extra++;
		p->shared_extra++;
		return 0;
	}
	/* At most half full, so probes stay short and a free slot always exists. */
	if ((p->rt_n + 1) * 2 > p->rt_cap && refs_grow(p))
		return -ENOMEM;
	for (i = slot_of(p, c); p->rt[i].c; i = (i + 1) & (p->rt_cap - 1))
		;
	p->rt[i].c = c;
	p->rt[i].extra = 1;
	p->rt_n++;
	p->shared_extra++;
	return 0;
}

/* Remove slot @i, moving later entries of its probe run back (no tombstones). */
static void refs_remove(struct fq_pool *p, uint64_t i)
{
	uint64_t mask = p->rt_cap - 1, j = i;

	p->rt[i].c = 0;
	for (;;) {
		uint64_t home;

		j = (j + 1) & mask;
		if (!p->rt[j].c)
			break;
		home = slot_of(p, p->rt[j].c);
		/* Move j to the hole at i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			p->rt[i] = p->rt[j];
			p->rt[j].c = 0;
			i = j;
		}
	}
	p->rt_n--;
}

bool refs_dec(struct fq_pool *p, uint32_t c)
{
	struct refent *e = refs_find(p, c);

	if (!e)
		return false;
	p->shared_extra--;
	if (--e->extra == 0)
		refs_remove(p, (uint64_t)(e - p->rt));
	return true;
}

void refs_free(struct fq_pool *p)
{
	free(p->rt);
	p->rt = NULL;
	p->rt_cap = p->rt_n = 0;
	p->shared_extra = 0;
}

/*
 * Room for shared references: the pairs a checkpoint slot holds beyond one
 * per cluster and as many zero markers (what pools had before sharing).
 */
uint64_t refs_capacity(const struct fq_sb *sb)
{
	uint64_t fixed = sizeof(struct fq_ckpt_hdr) +
			 (uint64_t)sb->max_volumes * sizeof(struct fq_ckpt_vol) +
			 (sb->nclusters + 63) / 64 * 8;
	uint64_t pairs = sb->ckpt_len > fixed ? (sb->ckpt_len - fixed) / 8 : 0;

	return pairs > 2 * sb->nclusters ? pairs - 2 * sb->nclusters : 0;
}

uint64_t vol_count_clusters(struct fq_pool *p, const struct fq_vol *v)
{
	uint64_t n = 0, words = (p->nclusters + 63) / 64;
	uint64_t *seen;

	if (!p->shared_extra) {
		for (uint32_t i = 0; i < v->map_n; i++)
			n += map_owned(v->map[i]);
		return n;
	}
	seen = calloc(words, 8);
	if (!seen)
		return UINT64_MAX;
	for (uint32_t i = 0; i < v->map_n; i++) {
		uint32_t c = map_pcl(v->map[i]);

		if (!map_owned(v->map[i]) || c >= p->nclusters || (seen[c / 64] >> (c % 64) & 1))
			continue;
		seen[c / 64] |= 1ull << (c % 64);
		n++;
	}
	free(seen);
	return n;
}
