/* SPDX-License-Identifier: MIT */
/*
 * Discovery log page (NVMe-oF 1.1 §5.3, log 70h): one entry per (subsystem,
 * port) the asking host may connect to, then one per referral to another
 * discovery service (SUBTYPE 1h). Built on demand into the reply buffer at
 * the requested offset, so no copy of the whole log is kept.
 */
#include <stdio.h>
#include <string.h>

#include "target/tgt.h"

static bool entry_visible(const struct fq_subsys *s, const struct fq_port *p, const char *host)
{
	return !p->conf.discovery_only && fq_subsys_on_port(s, p) &&
	       fq_subsys_host_allowed(s, host);
}

static uint64_t count_entries(struct fq_tgt *t, const struct fq_ctrl *c)
{
	uint64_t n = 0;

	for (int i = 0; i < t->nsubsys; i++)
		for (int p = 0; p < t->nports; p++)
			n += entry_visible(t->subsys[i], &t->ports[p], c->hostnqn);
	return n + (uint64_t)t->conf->nreferrals;
}

uint64_t fq_discovery_log_size(struct fq_tgt *t, struct fq_ctrl *c)
{
	uint64_t n;

	/* Subsystems, hosts and ports change at run time under tgt->lock. */
	pthread_mutex_lock(&t->lock);
	n = count_entries(t, c);
	pthread_mutex_unlock(&t->lock);
	return sizeof(struct fq_disc_log_hdr) + n * sizeof(struct fq_disc_log_entry);
}

static bool is_wildcard(const char *addr)
{
	return !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::");
}

static void fill_entry(struct fq_disc_log_entry *e, const struct fq_subsys *s,
		       const struct fq_port *p, const struct fq_ctrl *c)
{
	memset(e, 0, sizeof(*e));
	e->trtype = FQ_TRTYPE_TCP;
	e->adrfam = p->family == AF_INET6 ? FQ_ADRFAM_IPV6 : FQ_ADRFAM_IPV4;
	e->subtype = FQ_SUBTYPE_NVME;
	/* Secure channel "not specified"; SQ flow control may be disabled. */
	e->treq = FQ_TREQ_NOT_SPECIFIED | FQ_TREQ_SQFLOW_NOT_REQUIRED;
	e->portid = (uint16_t)(p->idx + 1);
	e->cntlid = FQ_CNTLID_DYNAMIC;
	e->asqsz = FQ_TGT_ADMIN_QSIZE;
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%u", p->conf.port);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", s->nqn);
	/* A wildcard listener is reported with the address the host used. */
	snprintf(e->traddr, sizeof(e->traddr), "%s",
		 is_wildcard(p->conf.addr) && c->admin->local[0] ? c->admin->local : p->conf.addr);
	if (p->conf.adv_port) {
		/* The address hosts must use to reach this port (NAT, a VM's forwarded port). */
		e->adrfam = strchr(p->conf.adv_addr, ':') ? FQ_ADRFAM_IPV6 : FQ_ADRFAM_IPV4;
		snprintf(e->traddr, sizeof(e->traddr), "%s", p->conf.adv_addr);
		snprintf(e->trsvcid, sizeof(e->trsvcid), "%u", p->conf.adv_port);
	}
	e->tsas[0] = FQ_TCP_SECTYPE_NONE;
}

/*
 * A referral: the other discovery service's address and subsystem NQN. Its
 * port ID and admin queue size are its own and unknown here; ASQSZ gives
 * the minimum every controller supports (32, NVMe-oF 1.1 Figure 38).
 */
static void fill_referral(struct fq_disc_log_entry *e, const struct fq_referral_conf *r)
{
	memset(e, 0, sizeof(*e));
	e->trtype = FQ_TRTYPE_TCP;
	e->adrfam = strchr(r->addr, ':') ? FQ_ADRFAM_IPV6 : FQ_ADRFAM_IPV4;
	e->subtype = FQ_SUBTYPE_DISCOVERY_REFERRAL;
	/* Whether it allows SQ flow control to be disabled is its own business. */
	e->treq = FQ_TREQ_NOT_SPECIFIED;
	e->cntlid = FQ_CNTLID_DYNAMIC;
	e->asqsz = 32;
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%u", r->port);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", r->nqn);
	snprintf(e->traddr, sizeof(e->traddr), "%s", r->addr);
	e->tsas[0] = FQ_TCP_SECTYPE_NONE;
}

/* Copy the part of entry @e (at log offset @pos) that falls in [@off, @end). */
static void put_entry(uint8_t *buf, const struct fq_disc_log_entry *e, uint64_t pos, uint64_t off,
		      uint64_t end)
{
	uint64_t a = pos > off ? pos : off;
	uint64_t b = pos + sizeof(*e) < end ? pos + sizeof(*e) : end;

	if (a < b)
		memcpy(buf + (a - off), (const uint8_t *)e + (a - pos), b - a);
}

void fq_discovery_log(struct fq_tgt *t, struct fq_ctrl *c, uint8_t *buf, uint64_t off, uint32_t len)
{
	struct fq_disc_log_hdr hdr;
	struct fq_disc_log_entry e;
	uint64_t pos = 0, end = off + len;

	memset(buf, 0, len);
	memset(&hdr, 0, sizeof(hdr));
	pthread_mutex_lock(&t->lock);
	hdr.genctr = t->genctr;
	hdr.numrec = count_entries(t, c);
	hdr.recfmt = 0;
	if (off < sizeof(hdr)) {
		uint64_t n = sizeof(hdr) - off < len ? sizeof(hdr) - off : len;

		memcpy(buf, (uint8_t *)&hdr + off, n);
	}
	pos = sizeof(hdr);
	for (int i = 0; i < t->nsubsys && pos < end; i++) {
		for (int p = 0; p < t->nports && pos < end; p++) {
			if (!entry_visible(t->subsys[i], &t->ports[p], c->hostnqn))
				continue;
			if (pos + sizeof(e) > off) {
				fill_entry(&e, t->subsys[i], &t->ports[p], c);
				put_entry(buf, &e, pos, off, end);
			}
			pos += sizeof(e);
		}
	}
	for (int i = 0; i < t->conf->nreferrals && pos < end; i++) {
		if (pos + sizeof(e) > off) {
			fill_referral(&e, &t->conf->referrals[i]);
			put_entry(buf, &e, pos, off, end);
		}
		pos += sizeof(e);
	}
	pthread_mutex_unlock(&t->lock);
}
