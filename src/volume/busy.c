/* SPDX-License-Identifier: MIT */
/*
 * Data clusters with reads or writes in flight that went straight to them
 * (a volume's own written cluster, io.c's ST_DIRECT). Such an I/O looked
 * the cluster up in the map when it started; if a Deallocate (or a Copy
 * over it) frees the cluster meanwhile, the cluster must not be handed to
 * anyone else until the I/O is over: a write that lands late would
 * overwrite the new owner's data (another volume's, even), and a read would
 * return it. The Flush that ends a freed cluster's quarantine (rule 4 of
 * docs/volumes.md) does not wait for I/O still in flight, so the
 * quarantine asks here first (busy_defer) and a cluster still busy is
 * released by the last busy_put instead.
 *
 * An open-addressing table keyed by cluster (0 is never a data cluster),
 * linear probing with backward-shift deletion; it holds only the clusters
 * with I/O in flight, so it stays about as small as the queue depth.
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <stdlib.h>

#define BUSY_ZOMBIE 0x80000000u /* freed while busy: release at the last put */

static uint32_t slot_of(uint32_t c, uint32_t cap)
{
	return (c * 2654435761u) & (cap - 1);
}

static struct busy_ent *find(struct fq_pool *p, uint32_t c)
{
	if (!p->busy_cap)
		return NULL;
	for (uint32_t i = slot_of(c, p->busy_cap);; i = (i + 1) & (p->busy_cap - 1)) {
		if (p->busy[i].c == c)
			return &p->busy[i];
		if (!p->busy[i].c)
			return NULL;
	}
}

static int grow(struct fq_pool *p)
{
	uint32_t cap = p->busy_cap ? p->busy_cap * 2 : 64, old = p->busy_cap;
	struct busy_ent *t = calloc(cap, sizeof(*t)), *o = p->busy;

	if (!t)
		return -ENOMEM;
	p->busy = t;
	p->busy_cap = cap;
	for (uint32_t k = 0; k < old; k++) {
		uint32_t i;

		if (!o[k].c)
			continue;
		for (i = slot_of(o[k].c, cap); t[i].c; i = (i + 1) & (cap - 1))
			;
		t[i] = o[k];
	}
	free(o);
	return 0;
}

int busy_get(struct fq_pool *p, uint32_t c)
{
	struct busy_ent *e = find(p, c);
	uint32_t i;

	if (e) {
		e->n++;
		return 0;
	}
	if ((p->busy_n + 1) * 2 > p->busy_cap && grow(p))
		return -ENOMEM;
	for (i = slot_of(c, p->busy_cap); p->busy[i].c; i = (i + 1) & (p->busy_cap - 1))
		;
	p->busy[i].c = c;
	p->busy[i].n = 1;
	p->busy_n++;
	return 0;
}

/* Empty slot @i, moving later entries of its run back so lookups still find them. */
static void remove_at(struct fq_pool *p, uint32_t i)
{
	uint32_t mask = p->busy_cap - 1, j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!p->busy[j].c)
			break;
		home = slot_of(p->busy[j].c, p->busy_cap);
		/* Entry j may fill the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->busy[i] = p->busy[j];
			i = j;
		}
	}
	p->busy[i].c = 0;
	p->busy[i].n = 0;
	p->busy_n--;
}

void busy_put(struct fq_pool *p, uint32_t c)
{
	struct busy_ent *e = find(p, c);
	bool zombie;

	if (!e)
		return;
	if (--e->n & ~BUSY_ZOMBIE)
		return;
	zombie = e->n & BUSY_ZOMBIE;
	remove_at(p, (uint32_t)(e - p->busy));
	if (zombie)
		cluster_release(p, c);
}

bool busy_defer(struct fq_pool *p, uint32_t c)
{
	struct busy_ent *e = find(p, c);

	if (!e)
		return false;
	e->n |= BUSY_ZOMBIE;
	return true;
}

void busy_free(struct fq_pool *p)
{
	free(p->busy);
	p->busy = NULL;
	p->busy_cap = p->busy_n = 0;
}
