/* SPDX-License-Identifier: MIT */
/*
 * Namespace discovery (reference B7 step 12): Identify CNS 2 for the active
 * list (paged by NSID; on a failure with DNR fall back to 1..NN), then per
 * namespace CNS 3 (identifiers, VS >= 1.3) and CNS 0 (Identify Namespace).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_int.h"
#include "util/log.h"

#define NS_LIST_ENTRIES 1024
#define NN_FALLBACK_MAX 1024 /* bound the 1..NN walk on targets without CNS 2 */

static struct fq_ns *ns_slot(struct fq_ctrlr *c, uint32_t nsid)
{
	struct fq_ns *ns;

	for (uint32_t i = 0; i < c->ns_num; i++)
		if (c->ns[i]->nsid == nsid)
			return c->ns[i];
	if (c->ns_num == c->ns_cap) {
		uint32_t cap = c->ns_cap ? c->ns_cap * 2 : 16;
		struct fq_ns **n = realloc(c->ns, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->ns = n;
		c->ns_cap = cap;
	}
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return NULL;
	ns->ctrlr = c;
	ns->nsid = nsid;
	/* Keep the array sorted by NSID for the iterators. */
	uint32_t pos = c->ns_num;
	while (pos && c->ns[pos - 1]->nsid > nsid) {
		c->ns[pos] = c->ns[pos - 1];
		pos--;
	}
	c->ns[pos] = ns;
	c->ns_num++;
	return ns;
}

/* Namespace Identification Descriptors, NVMe Base 2.0 Fig. 280. */
static void parse_descs(struct fq_ns *ns, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	ns->has_nguid = ns->has_eui64 = ns->has_uuid = false;
	while (off + sizeof(struct fq_ns_desc_hdr) <= len) {
		struct fq_ns_desc_hdr hd, *h = &hd;
		const uint8_t *v = buf + off + sizeof(hd);

		/* Descriptors follow each other at any byte offset (CSI is 1 byte). */
		memcpy(&hd, buf + off, sizeof(hd));
		if (h->nidt == 0 || off + sizeof(*h) + h->nidl > len)
			break;
		if (h->nidt == FQ_NIDT_EUI64 && h->nidl == 8) {
			memcpy(ns->eui64, v, 8);
			ns->has_eui64 = true;
		} else if (h->nidt == FQ_NIDT_NGUID && h->nidl == 16) {
			memcpy(ns->nguid, v, 16);
			ns->has_nguid = true;
		} else if (h->nidt == FQ_NIDT_UUID && h->nidl == 16) {
			memcpy(ns->uuid, v, 16);
			ns->has_uuid = true;
		}
		off += sizeof(*h) + h->nidl;
	}
}

static int load_ns(struct fq_ctrlr *c, struct fq_ns *ns, uint8_t *buf)
{
	unsigned fmt;
	int rc;

	if (c->vs >= FQ_VS(1, 3, 0) &&
	    !fq_ctrlr_identify(c, FQ_CNS_NS_DESC_LIST, 0, ns->nsid, buf, 4096))
		parse_descs(ns, buf, 4096);
	rc = fq_ctrlr_identify(c, FQ_CNS_NS, 0, ns->nsid, &ns->id, sizeof(ns->id));
	if (rc)
		return rc;
	/* FLBAS bits 3:0 and 6:5 select the LBA format (NVM CS 1.0 Fig. 97). */
	fmt = (ns->id.flbas & 0xf) | ((ns->id.flbas >> 1) & 0x30);
	if (fmt >= 16 || ns->id.lbaf[fmt].lbads < 9 || ns->id.lbaf[fmt].lbads > 20) {
		fq_warn("%s: namespace %u has an unusable LBA format", c->peer, ns->nsid);
		return -EINVAL;
	}
	ns->sector_size = 1u << ns->id.lbaf[fmt].lbads;
	ns->nsze = ns->id.nsze;
	/* NCAP 0: the namespace is not present (B7). */
	ns->active = ns->id.ncap != 0;
	return 0;
}

static int active_list(struct fq_ctrlr *c, uint32_t *list, uint32_t *count)
{
	uint32_t start = 0, n = 0, cap = NS_LIST_ENTRIES;
	uint32_t page[NS_LIST_ENTRIES];

	for (;;) {
		uint32_t got = 0;
		int rc = fq_ctrlr_identify(c, FQ_CNS_ACTIVE_NS_LIST, 0, start, page, sizeof(page));

		if (rc)
			return rc;
		while (got < NS_LIST_ENTRIES && page[got] && n < cap)
			list[n++] = page[got++];
		if (got < NS_LIST_ENTRIES || n >= cap)
			break;
		start = page[NS_LIST_ENTRIES - 1];
	}
	*count = n;
	return 0;
}

int ctrlr_scan_ns(struct fq_ctrlr *c)
{
	uint32_t *list = calloc(NS_LIST_ENTRIES, sizeof(*list)), count = 0;
	uint8_t *buf = malloc(4096);
	int rc = -ENOMEM;

	if (!list || !buf)
		goto out;
	rc = c->vs >= FQ_VS(1, 1, 0) ? active_list(c, list, &count) : -EOPNOTSUPP;
	if (rc) {
		count = c->id.nn < NN_FALLBACK_MAX ? c->id.nn : NN_FALLBACK_MAX;
		for (uint32_t i = 0; i < count; i++)
			list[i] = i + 1;
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->ns_num; i++)
		c->ns[i]->active = false;
	pthread_mutex_unlock(&c->lock);
	rc = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct fq_ns *ns;

		pthread_mutex_lock(&c->lock);
		ns = ns_slot(c, list[i]);
		pthread_mutex_unlock(&c->lock);
		if (!ns) {
			rc = -ENOMEM;
			break;
		}
		if (load_ns(c, ns, buf))
			ns->active = false;
	}
out:
	free(list);
	free(buf);
	return rc;
}

void ctrlr_free_ns(struct fq_ctrlr *c)
{
	for (uint32_t i = 0; i < c->ns_num; i++)
		free(c->ns[i]);
	free(c->ns);
	c->ns = NULL;
	c->ns_num = c->ns_cap = 0;
}

int fq_ctrlr_rescan_ns(struct fq_ctrlr *c)
{
	return ctrlr_scan_ns(c);
}

/* A rescan (reconnect thread or caller) may grow the array: read under the lock. */
static uint32_t next_active(const struct fq_ctrlr *cc, uint32_t after)
{
	struct fq_ctrlr *c = (struct fq_ctrlr *)cc;
	uint32_t nsid = 0;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->ns_num && !nsid; i++)
		if (c->ns[i]->active && c->ns[i]->nsid > after)
			nsid = c->ns[i]->nsid;
	pthread_mutex_unlock(&c->lock);
	return nsid;
}

uint32_t fq_ctrlr_first_ns(const struct fq_ctrlr *c)
{
	return next_active(c, 0);
}

uint32_t fq_ctrlr_next_ns(const struct fq_ctrlr *c, uint32_t prev)
{
	return next_active(c, prev);
}

uint32_t fq_ctrlr_num_ns(const struct fq_ctrlr *cc)
{
	struct fq_ctrlr *c = (struct fq_ctrlr *)cc;
	uint32_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->ns_num; i++)
		n += c->ns[i]->active;
	pthread_mutex_unlock(&c->lock);
	return n;
}

struct fq_ns *fq_ctrlr_get_ns(struct fq_ctrlr *c, uint32_t nsid)
{
	struct fq_ns *ns = NULL;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->ns_num && !ns; i++)
		if (c->ns[i]->nsid == nsid && c->ns[i]->active)
			ns = c->ns[i];
	pthread_mutex_unlock(&c->lock);
	return ns;
}

uint32_t fq_ns_get_id(const struct fq_ns *ns)
{
	return ns->nsid;
}

uint32_t fq_ns_get_sector_size(const struct fq_ns *ns)
{
	return ns->sector_size;
}

uint64_t fq_ns_get_num_sectors(const struct fq_ns *ns)
{
	return ns->nsze;
}

uint64_t fq_ns_get_size(const struct fq_ns *ns)
{
	return ns->nsze * ns->sector_size;
}

const void *fq_ns_get_identify(const struct fq_ns *ns)
{
	return &ns->id;
}

bool fq_ns_get_nguid(const struct fq_ns *ns, uint8_t nguid[16])
{
	if (ns->has_nguid)
		memcpy(nguid, ns->nguid, 16);
	return ns->has_nguid;
}

bool fq_ns_get_eui64(const struct fq_ns *ns, uint8_t eui64[8])
{
	if (ns->has_eui64)
		memcpy(eui64, ns->eui64, 8);
	return ns->has_eui64;
}

bool fq_ns_get_uuid(const struct fq_ns *ns, uint8_t uuid[16])
{
	if (ns->has_uuid)
		memcpy(uuid, ns->uuid, 16);
	return ns->has_uuid;
}
