/* SPDX-License-Identifier: MIT */
/*
 * Controllers: creation at admin Connect (dynamic controller model, NVMe-oF
 * 1.1 §3.3), lookup at I/O Connect, keep-alive (NVMe Base 2.0 §3.9), async
 * events and teardown. The registry changes under tgt->lock only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

static bool cntlid_in_use(struct fq_tgt *t, uint16_t id)
{
	for (struct fq_ctrl *c = t->ctrls; c; c = c->next)
		if (c->cntlid == id)
			return true;
	return false;
}

int fq_ctrl_create(struct fq_tgt *t, struct fq_subsys *s, struct fq_queue *admin,
		   const struct fq_connect_data *d, uint32_t kato_ms, struct fq_ctrl **out)
{
	struct fq_ctrl *c = calloc(1, sizeof(*c));
	int tries = 0;

	if (!c)
		return -ENOMEM;
	c->subsys = s;
	c->port = admin->port;
	c->admin = admin;
	/* Connect checked the NQN is terminated and at most 223 bytes. */
	memcpy(c->hostnqn, d->hostnqn, strnlen(d->hostnqn, sizeof(c->hostnqn) - 1));
	memcpy(c->hostid, d->hostid, sizeof(c->hostid));
	c->kato_ms = kato_ms;
	c->nr_io_queues = s->discovery ? 0 : t->conf->max_io_queues;
	c->vwc = true;
	atomic_init(&c->csts, 0);
	atomic_init(&c->dead, false);
	atomic_init(&c->refs, 2); /* registry + admin queue */
	pthread_mutex_lock(&t->lock);
	/* A subsystem deleted since Connect looked it up takes no controller. */
	if (s->deleted) {
		pthread_mutex_unlock(&t->lock);
		free(c);
		return -ENOENT;
	}
	/* CNTLID 1..0xFFEF (NVMe Base 2.0 §5.17.2.1); skip IDs still in use. */
	do {
		if (t->next_cntlid == 0 || t->next_cntlid > 0xffef)
			t->next_cntlid = 1;
		c->cntlid = t->next_cntlid++;
	} while (cntlid_in_use(t, c->cntlid) && ++tries < 0xffef);
	if (tries >= 0xffef) {
		pthread_mutex_unlock(&t->lock);
		free(c);
		return -EBUSY;
	}
	c->next = t->ctrls;
	t->ctrls = c;
	pthread_mutex_unlock(&t->lock);
	*out = c;
	return 0;
}

struct fq_ctrl *fq_ctrl_lookup(struct fq_tgt *t, uint16_t cntlid, const char *subnqn,
			       const char *hostnqn)
{
	struct fq_ctrl *found = NULL;

	pthread_mutex_lock(&t->lock);
	for (struct fq_ctrl *c = t->ctrls; c; c = c->next) {
		if (c->cntlid != cntlid || atomic_load(&c->dead))
			continue;
		if (strcmp(c->subsys->nqn, subnqn) || strcmp(c->hostnqn, hostnqn))
			continue;
		atomic_fetch_add(&c->refs, 1);
		found = c;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

int fq_ctrl_add_ioq(struct fq_ctrl *c, uint16_t qid)
{
	struct fq_tgt *t = c->admin->r->tgt;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (qid == 0 || qid > c->nr_io_queues || qid > FQ_TGT_MAX_QID)
		rc = -ERANGE;
	else if (c->ioq_map[qid / 64] & (1ull << (qid % 64)))
		rc = -EEXIST;
	else
		c->ioq_map[qid / 64] |= 1ull << (qid % 64);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void fq_ctrl_del_ioq(struct fq_ctrl *c, struct fq_tgt *t, uint16_t qid)
{
	pthread_mutex_lock(&t->lock);
	if (qid && qid <= FQ_TGT_MAX_QID)
		c->ioq_map[qid / 64] &= ~(1ull << (qid % 64));
	pthread_mutex_unlock(&t->lock);
}

void fq_ctrl_put(struct fq_ctrl *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		free(c);
}

/*
 * Tear the controller down: it leaves the registry (no new I/O queue can
 * join) and is marked dead; reactors close its I/O queues on their next
 * tick or command. Runs on the admin queue's reactor.
 */
void fq_ctrl_kill(struct fq_ctrl *c, const char *why)
{
	struct fq_tgt *t = c->admin->r->tgt;
	struct fq_ctrl **pp;
	bool was_listed = false;

	if (atomic_exchange(&c->dead, true))
		return;
	pthread_mutex_lock(&t->lock);
	for (pp = &t->ctrls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			was_listed = true;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	fq_dbg("controller %u torn down: %s", c->cntlid, why);
	if (was_listed)
		fq_ctrl_put(c);
}

void fq_ctrl_keep_alive(struct fq_ctrl *c, uint64_t now)
{
	c->ka_deadline_ns = now + (uint64_t)c->kato_ms * 1000000ull;
}

void fq_ctrl_check_kato(struct fq_ctrl *c, uint64_t now)
{
	if (!c->kato_ms || atomic_load(&c->dead) || now < c->ka_deadline_ns)
		return;
	fq_warn("controller %u (host %s, %s): keep-alive timeout (KATO %u ms) expired", c->cntlid,
		c->hostnqn, c->admin->peer, c->kato_ms);
	c->admin->xprt->close(c->admin, "keep-alive timeout expired");
}

/* Management asked this controller to go (live.c): runs on the admin reactor. */
void fq_ctrl_check_disconnect(struct fq_ctrl *c)
{
	if (!atomic_load(&c->disconnect_req) || atomic_load(&c->dead))
		return;
	fq_info("controller %u (host %s, %s): disconnected by management", c->cntlid, c->hostnqn,
		c->admin->peer);
	c->admin->xprt->close(c->admin, "disconnected by management");
}

/* Complete one held AER with the oldest pending event, if both exist. */
void fq_ctrl_deliver_events(struct fq_ctrl *c)
{
	while (c->naer > 0 && c->pending_events) {
		struct fq_req *req = c->aer_reqs[--c->naer];

		if (c->pending_events & FQ_EV_NS_CHANGED) {
			c->pending_events &= ~FQ_EV_NS_CHANGED;
			req->cqe.dw0 = fq_aer_result(FQ_AER_TYPE_NOTICE, FQ_AER_NOTICE_NS_CHANGED,
						     FQ_LID_CHANGED_NS);
		} else if (c->pending_events & FQ_EV_DISC_CHANGED) {
			c->pending_events &= ~FQ_EV_DISC_CHANGED;
			req->cqe.dw0 = fq_aer_result(FQ_AER_TYPE_NOTICE, FQ_AER_NOTICE_DISC_CHANGED,
						     FQ_LID_DISCOVERY);
		}
		fq_req_complete(req, 0);
	}
}

/*
 * Record a namespace change for the Changed Namespace List log (NVMe Base
 * 2.0 §5.16.1.5) and raise the Namespace Attribute Changed event if the host
 * enabled it (Async Event Configuration bit 8).
 */
void fq_ctrl_notify_ns_change(struct fq_ctrl *c, uint32_t nsid)
{
	bool dup = false;

	for (int i = 0; i < c->nchanged; i++)
		dup |= c->changed_ns[i] == nsid;
	if (!dup) {
		if (c->nchanged < FQ_TGT_CHANGED_NS_MAX)
			c->changed_ns[c->nchanged++] = nsid;
		else
			c->changed_overflow = true;
	}
	if (c->aec & FQ_AEN_CFG_NS_ATTR) {
		c->pending_events |= FQ_EV_NS_CHANGED;
		fq_ctrl_deliver_events(c);
	}
}

/*
 * Cross-thread half of a namespace change: a reload (main thread) posts the
 * NSID under tgt->lock; the admin queue's reactor takes it on its next event
 * or tick and raises the event there, where AER state lives.
 */
void fq_ctrl_post_ns_change(struct fq_ctrl *c, uint32_t nsid)
{
	if (c->nposted < (int)(sizeof(c->posted_ns) / sizeof(c->posted_ns[0])))
		c->posted_ns[c->nposted] = nsid;
	c->nposted++;
	atomic_store(&c->ns_change_posted, true);
}

void fq_ctrl_take_posted(struct fq_ctrl *c, struct fq_tgt *t)
{
	uint32_t ids[64];
	int n;

	if (!atomic_exchange(&c->ns_change_posted, false))
		return;
	pthread_mutex_lock(&t->lock);
	n = c->nposted;
	memcpy(ids, c->posted_ns, sizeof(ids));
	c->nposted = 0;
	pthread_mutex_unlock(&t->lock);
	if (n > 64)
		c->changed_overflow = true;
	for (int i = 0; i < n && i < 64; i++)
		fq_ctrl_notify_ns_change(c, ids[i]);
	if (n > 64 && (c->aec & FQ_AEN_CFG_NS_ATTR)) {
		c->pending_events |= FQ_EV_NS_CHANGED;
		fq_ctrl_deliver_events(c);
	}
}
