/* SPDX-License-Identifier: MIT */
/*
 * Discovery (NVMe-oF 1.1 §5): read the discovery log page 0x70 the way
 * libnvme does (reference B9) - header first, then the entries, then the
 * header again; if the generation counter moved, the log changed while we
 * read it and we start over. Referrals (SUBTYPE 1) are followed breadth
 * first, each address once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_int.h"
#include "util/log.h"

#define DISC_RETRIES 5
#define DISC_CHUNK (64 * 1024)
#define DISC_MAX_RECORDS 4096

static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;

	while (n < len && n + 1 < cap && src[n])
		n++;
	/* Discovery strings may be space or NUL padded. */
	while (n && src[n - 1] == ' ')
		n--;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void decode_entry(const struct fq_disc_log_entry *e, struct fq_disc_entry *d)
{
	memset(d, 0, sizeof(*d));
	d->trtype = e->trtype;
	d->adrfam = e->adrfam;
	d->subtype = e->subtype;
	d->treq = e->treq;
	d->portid = e->portid;
	d->cntlid = e->cntlid;
	d->asqsz = e->asqsz;
	d->eflags = e->eflags;
	copy_field(d->trsvcid, sizeof(d->trsvcid), e->trsvcid, sizeof(e->trsvcid));
	copy_field(d->traddr, sizeof(d->traddr), e->traddr, sizeof(e->traddr));
	copy_field(d->subnqn, sizeof(d->subnqn), e->subnqn, sizeof(e->subnqn));
	d->trid.trtype = FQ_TRANSPORT_TCP;
	d->trid.adrfam = e->adrfam == FQ_ADRFAM_IPV6 ? FQ_AF_IPV6 : FQ_AF_IPV4;
	snprintf(d->trid.traddr, sizeof(d->trid.traddr), "%s", d->traddr);
	snprintf(d->trid.trsvcid, sizeof(d->trid.trsvcid), "%s", d->trsvcid);
	snprintf(d->trid.subnqn, sizeof(d->trid.subnqn), "%s", d->subnqn);
}

static int read_log(struct fq_ctrlr *c, uint8_t *buf, uint64_t off, uint32_t len, bool rae)
{
	uint32_t chunk = DISC_CHUNK;

	if (c->max_xfer && c->max_xfer < chunk)
		chunk = c->max_xfer;
	while (len) {
		uint32_t n = len < chunk ? len : chunk;
		int rc = fq_ctrlr_get_log_page(c, FQ_LID_DISCOVERY, 0, off, rae, buf, n);

		if (rc)
			return rc;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int try_once(struct fq_ctrlr *c, struct fq_disc_entry **out, bool *changed)
{
	struct fq_disc_log_hdr hdr, hdr2;
	struct fq_disc_log_entry *raw = NULL;
	struct fq_disc_entry *ents = NULL;
	uint64_t n;
	int rc;

	rc = read_log(c, (uint8_t *)&hdr, 0, sizeof(hdr), true);
	if (rc)
		return rc;
	n = hdr.numrec < DISC_MAX_RECORDS ? hdr.numrec : DISC_MAX_RECORDS;
	if (n) {
		raw = malloc(n * sizeof(*raw));
		ents = calloc(n, sizeof(*ents));
		if (!raw || !ents) {
			free(raw);
			free(ents);
			return -ENOMEM;
		}
		rc = read_log(c, (uint8_t *)raw, sizeof(hdr), (uint32_t)(n * sizeof(*raw)), true);
	}
	if (!rc)
		rc = read_log(c, (uint8_t *)&hdr2, 0, sizeof(hdr2), false);
	*changed = !rc && hdr2.genctr != hdr.genctr;
	for (uint64_t i = 0; !rc && !*changed && i < n; i++)
		decode_entry(&raw[i], &ents[i]);
	free(raw);
	if (rc || *changed) {
		free(ents);
		return rc;
	}
	*out = ents;
	return (int)n;
}

int fq_ctrlr_get_discovery_log(struct fq_ctrlr *c, struct fq_disc_entry **entries)
{
	for (int i = 0; i < DISC_RETRIES; i++) {
		bool changed = false;
		int rc = try_once(c, entries, &changed);

		if (!changed)
			return rc;
	}
	host_set_error("discovery log of %s kept changing while being read", c->peer);
	return -EAGAIN;
}

struct disc_walk {
	struct fq_disc_entry *all;
	size_t n;
	struct fq_trid seen[32];
	uint32_t depth[32];
	size_t nseen;
};

static bool seen_before(const struct disc_walk *w, const struct fq_trid *t)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i].traddr, t->traddr) &&
		    !strcmp(w->seen[i].trsvcid, t->trsvcid))
			return true;
	return false;
}

static int walk_one(struct disc_walk *w, size_t idx, const struct fq_ctrlr_opts *opts,
		    unsigned flags)
{
	struct fq_disc_entry *ents = NULL, *grown;
	struct fq_ctrlr *c;
	int n, rc;

	rc = fq_ctrlr_connect(&w->seen[idx], opts, &c);
	if (rc)
		return rc;
	n = fq_ctrlr_get_discovery_log(c, &ents);
	fq_ctrlr_disconnect(c);
	if (n < 0)
		return n;
	grown = realloc(w->all, (w->n + (size_t)n + 1) * sizeof(*grown));
	if (!grown) {
		free(ents);
		return -ENOMEM;
	}
	w->all = grown;
	for (int i = 0; i < n; i++) {
		ents[i].depth = w->depth[idx];
		w->all[w->n++] = ents[i];
		if (!(flags & FQ_DISC_FOLLOW_REFERRALS) ||
		    ents[i].subtype != FQ_SUBTYPE_DISCOVERY_REFERRAL ||
		    w->depth[idx] + 1 > FQ_DISC_MAX_REFERRAL_DEPTH ||
		    ents[i].trtype != FQ_TRTYPE_TCP || seen_before(w, &ents[i].trid) ||
		    w->nseen == sizeof(w->seen) / sizeof(w->seen[0]))
			continue;
		w->seen[w->nseen] = ents[i].trid;
		snprintf(w->seen[w->nseen].subnqn, sizeof(w->seen[0].subnqn), "%s",
			 FQ_DISCOVERY_SUBNQN);
		snprintf(w->seen[w->nseen].hostnqn, sizeof(w->seen[0].hostnqn), "%s",
			 w->seen[0].hostnqn);
		w->depth[w->nseen++] = w->depth[idx] + 1;
	}
	free(ents);
	return 0;
}

int fq_discover(const struct fq_trid *trid, const struct fq_ctrlr_opts *opts, unsigned flags,
		struct fq_disc_entry **entries)
{
	struct disc_walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.seen[0] = *trid;
	if (!w.seen[0].subnqn[0])
		snprintf(w.seen[0].subnqn, sizeof(w.seen[0].subnqn), "%s", FQ_DISCOVERY_SUBNQN);
	w.nseen = 1;
	for (size_t i = 0; i < w.nseen; i++) {
		rc = walk_one(&w, i, opts, flags);
		if (rc && i == 0) {
			free(w.all);
			return rc;
		}
		if (rc)
			fq_warn("discovery referral %s:%s failed: %s", w.seen[i].traddr,
				w.seen[i].trsvcid, fq_last_error());
	}
	*entries = w.all;
	return (int)w.n;
}
