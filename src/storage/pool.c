/* SPDX-License-Identifier: MIT */
/*
 * Bounce blocks for unaligned edges: one allocation at open, a stack of
 * free blocks, no allocation on the I/O path. A request that finds the
 * pool empty waits (REQ_WAITING) instead of failing.
 */
#include <errno.h>
#include <stdlib.h>

#include "storage_int.h"

int sto_pool_init(struct sto_pool *p, uint64_t bytes, uint32_t block)
{
	uint64_t n = bytes / block;

	p->total = (uint32_t)n;
	p->block = block;
	p->nfree = 0;
	/* Page alignment keeps the blocks usable for O_DIRECT files too. */
	if (posix_memalign((void **)&p->mem, 4096, n * block))
		return -ENOMEM;
	p->free = calloc(n, sizeof(*p->free));
	if (!p->free) {
		free(p->mem);
		p->mem = NULL;
		return -ENOMEM;
	}
	for (uint64_t i = n; i-- > 0;)
		p->free[p->nfree++] = p->mem + i * block;
	return 0;
}

void sto_pool_fini(struct sto_pool *p)
{
	free(p->free);
	free(p->mem);
	p->free = NULL;
	p->mem = NULL;
}

void *sto_pool_get(struct sto_pool *p)
{
	return p->nfree ? p->free[--p->nfree] : NULL;
}

void sto_pool_put(struct sto_pool *p, void *blk)
{
	if (blk)
		p->free[p->nfree++] = blk;
}
