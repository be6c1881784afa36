/* SPDX-License-Identifier: MIT */
/*
 * I/O qpairs: one TCP connection each, owned by one thread, no locks. The
 * owner's calls to process_completions also run the qpair's timers, follow
 * controller resets (the qpair closes when a reset starts and reconnects
 * once the controller is live again) and turn an expired command into an
 * Abort, then into a connection reset if the Abort does not help.
 *
 * A qpair on a loop (its controller's, or its poll group's) is serviced by
 * a poller of that loop instead, so the loop's owner drives it by turning
 * the loop; process_completions and wait then turn the loop themselves.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/host_int.h"
#include "util/log.h"

#define ABORT_GRACE_MIN_MS 1000

void fq_qpair_opts_init(struct fq_qpair_opts *o, size_t opts_size)
{
	struct fq_qpair_opts d = {.opts_size = sizeof(d)};

	if (opts_size > sizeof(d))
		opts_size = sizeof(d);
	memcpy(o, &d, opts_size);
	if (opts_size >= sizeof(size_t))
		o->opts_size = opts_size;
}

static void abort_done(void *arg, const struct fq_cpl *cpl)
{
	(void)arg;
	(void)cpl;
}

/* First expiry: Admin Abort (NVMe Base 2.0 §5.1), then wait a grace period. */
static bool io_timeout(struct hq *q, struct hreq *r)
{
	struct fq_qpair *qp = q->owner;
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_ABORT};
	uint32_t grace = qp->ctrlr->opts.io_timeout_ms / 2;

	if (r->abort_sent)
		return false;
	if (grace < ABORT_GRACE_MIN_MS)
		grace = ABORT_GRACE_MIN_MS;
	cmd.cdw10 = qp->qid | ((uint32_t)r->sqe.cid << 16);
	fq_warn("queue %u: command 0x%02x cid 0x%04x timed out, aborting", qp->qid, r->sqe.opcode,
		r->sqe.cid);
	r->abort_sent = true;
	r->deadline_ns = hq_now_ns() + (uint64_t)grace * 1000000ull;
	ctrlr_admin_submit(qp->ctrlr, &cmd, NULL, 0, grace, abort_done, NULL);
	return true;
}

static void io_state_change(struct hq *q, enum hq_state old)
{
	struct fq_qpair *qp = q->owner;
	struct fq_ctrlr *c = qp->ctrlr;

	(void)old;
	/* A failure of our own (not a reset we follow) resets the controller. */
	if (q->state == HQ_CLOSED && !qp->freeing && !qp->initial &&
	    qp->reset_gen == atomic_load(&c->reset_gen) && atomic_load(&c->state) == FQ_CTRLR_LIVE)
		ctrlr_request_reset(c, q->errmsg[0] ? q->errmsg : "I/O queue failed");
}

static const struct hq_ops io_ops = {
	.state_change = io_state_change,
	.timeout = io_timeout,
};

static void io_params(struct fq_qpair *qp)
{
	struct fq_ctrlr *c = qp->ctrlr;
	struct hq_params *p = &qp->q.p;

	memset(p, 0, sizeof(*p));
	p->qid = qp->qid;
	p->sqsize = (uint16_t)(qp->qsize - 1);
	pthread_mutex_lock(&c->lock);
	p->cntlid = c->cntlid;
	qp->reset_gen = atomic_load(&c->reset_gen);
	pthread_mutex_unlock(&c->lock);
	p->disable_sqflow = c->opts.disable_sqflow;
	p->hdgst = c->opts.header_digest;
	p->ddgst = c->opts.data_digest;
	p->connect_timeout_ms = c->opts.connect_timeout_ms;
	p->cmd_timeout_ms = c->opts.io_timeout_ms;
	p->inline_max = c->io_inline_max;
	snprintf(p->subnqn, sizeof(p->subnqn), "%s", c->trid.subnqn);
	snprintf(p->hostnqn, sizeof(p->hostnqn), "%s", c->opts.hostnqn);
	memcpy(p->hostid, c->opts.hostid, sizeof(p->hostid));
	snprintf(p->peer, sizeof(p->peer), "%s", c->peer);
}

static int reconnect(struct fq_qpair *qp)
{
	io_params(qp);
	return hq_start(&qp->q, qp->eng, (struct sockaddr *)&qp->ctrlr->sa, qp->ctrlr->salen);
}

/* Timers, resets and reconnects; called before every poll. */
int qpair_service(struct fq_qpair *qp, uint64_t now)
{
	struct fq_ctrlr *c = qp->ctrlr;
	int cs = atomic_load(&c->state);
	struct hq *q = &qp->q;

	if (q->state != HQ_CLOSED && q->state != HQ_CLOSING) {
		if (cs == FQ_CTRLR_FAILED)
			hq_fail(q, -ENXIO, "controller %s failed", c->peer);
		else if (qp->reset_gen != atomic_load(&c->reset_gen))
			hq_fail(q, -ECONNRESET, "controller %s is resetting", c->peer);
	}
	if (q->state == HQ_CLOSED && cs == FQ_CTRLR_LIVE && !qp->freeing &&
	    qp->reset_gen != atomic_load(&c->reset_gen))
		reconnect(qp);
	hq_check_timers(q, now);
	hq_sock_kick(q);
	return 0;
}

static int loop_poller(struct fq_loop *l, struct fq_poller *p)
{
	struct fq_qpair *qp = (struct fq_qpair *)((char *)p - offsetof(struct fq_qpair, poller));

	qpair_service(qp, l->now_ns);
	return 0;
}

/* Drive the qpair's engine, or its loop, for one step of at most @wait_ns. */
static int qpair_turn(struct fq_qpair *qp, int64_t wait_ns)
{
	if (qp->loop)
		return fq_loop_turn(qp->loop, wait_ns);
	return fq_engine_run(qp->eng, wait_ns ? 1 : 0, wait_ns);
}

static int poll_once(struct fq_qpair *qp, int64_t wait_ns)
{
	uint64_t before = qp->q.completions;
	int rc;

	if (qp->loop) {
		rc = fq_loop_turn(qp->loop, wait_ns);
		return rc < 0 ? rc : (int)(qp->q.completions - before);
	}
	qpair_service(qp, hq_now_ns());
	rc = fq_engine_run(qp->eng, wait_ns ? 1 : 0, wait_ns);
	hq_sock_kick(&qp->q);
	fq_engine_flush_sends(qp->eng); /* as pg_turn() */
	if (rc < 0)
		return rc;
	return (int)(qp->q.completions - before);
}

static int not_live_rc(const struct fq_qpair *qp)
{
	return atomic_load(&qp->ctrlr->state) == FQ_CTRLR_FAILED ? -EPERM : -ENXIO;
}

int fq_qpair_process_completions(struct fq_qpair *qp, uint32_t max)
{
	int n;

	(void)max; /* completions are reaped per received batch */
	if (qp->pg)
		n = fq_poll_group_process_completions(qp->pg);
	else
		n = poll_once(qp, 0);
	if (n == 0 && qp->q.state != HQ_LIVE)
		return not_live_rc(qp);
	return n;
}

static int poll_once_ctx(void *ctx, int64_t wait_ns)
{
	return poll_once(ctx, wait_ns);
}

int fq_qpair_wait(struct fq_qpair *qp, int timeout_ms)
{
	if (qp->pg)
		return fq_poll_group_wait(qp->pg, timeout_ms);
	return hq_wait_loop(timeout_ms, poll_once_ctx, qp);
}

static int alloc_qid(struct fq_ctrlr *c, uint16_t *qid)
{
	int rc = -EBUSY;

	pthread_mutex_lock(&c->lock);
	for (uint32_t k = 0; k < c->num_io_queues && c->qid_used; k++) {
		uint32_t i = (c->last_qid + k) % c->num_io_queues + 1;

		if (!c->qid_used[i]) {
			c->qid_used[i] = 1;
			c->nr_qpairs++;
			c->last_qid = i;
			*qid = (uint16_t)i;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void release_qid(struct fq_ctrlr *c, uint16_t qid)
{
	pthread_mutex_lock(&c->lock);
	c->qid_used[qid] = 0;
	c->nr_qpairs--;
	pthread_mutex_unlock(&c->lock);
}

static uint32_t pick_qsize(const struct fq_ctrlr *c, const struct fq_qpair_opts *o)
{
	uint32_t n = o && o->queue_size ? o->queue_size : c->opts.io_queue_size;

	if (n > c->io_queue_max)
		n = c->io_queue_max;
	return n < 2 ? 2 : n;
}

static void qpair_destroy(struct fq_qpair *qp)
{
	if (qp->loop)
		fq_loop_poller_remove(qp->loop, &qp->poller);
	if (qp->pg)
		pg_remove(qp->pg, qp);
	if (qp->eng == &qp->own_eng)
		fq_engine_fini(&qp->own_eng);
	hq_fini(&qp->q);
	release_qid(qp->ctrlr, qp->qid);
	free(qp);
}

/* Drive the engine until the connection is live or closed. */
static int wait_connected(struct fq_qpair *qp)
{
	while (qp->q.state != HQ_LIVE && qp->q.state != HQ_CLOSED) {
		hq_check_timers(&qp->q, hq_now_ns());
		hq_sock_kick(&qp->q);
		qpair_turn(qp, 10000000);
	}
	if (qp->q.state == HQ_LIVE)
		return 0;
	host_set_error("I/O queue %u connect: %s", qp->qid, qp->q.errmsg);
	return qp->q.err ? qp->q.err : -EIO;
}

static int qpair_setup(struct fq_ctrlr *c, const struct fq_qpair_opts *opts, struct fq_qpair *qp)
{
	int rc;

	qp->ctrlr = c;
	qp->qsize = pick_qsize(c, opts);
	/* One slot per entry minus one (a full queue), doubled for split parents. */
	rc = hq_init(&qp->q, (qp->qsize - 1) * 2, qp->qsize - 1, &io_ops, qp);
	if (rc)
		return rc;
	if (opts && opts->poll_group) {
		qp->pg = opts->poll_group;
		qp->eng = qp->pg->eng;
		qp->loop = qp->pg->loop;
		pg_add(qp->pg, qp);
	} else if (c->loop) {
		/* An embedded controller's qpairs share its loop's ring. */
		qp->loop = c->loop;
		qp->eng = fq_loop_engine(c->loop);
	} else {
		rc = fq_engine_init(&qp->own_eng, 64);
		if (rc) {
			hq_fini(&qp->q);
			return rc;
		}
		qp->eng = &qp->own_eng;
	}
	if (qp->loop) {
		qp->poller.fn = loop_poller;
		fq_loop_poller_add(qp->loop, &qp->poller);
	}
	return 0;
}

int fq_ctrlr_alloc_io_qpair(struct fq_ctrlr *c, const struct fq_qpair_opts *opts,
			    struct fq_qpair **out)
{
	struct fq_qpair *qp;
	int rc;

	host_clear_error();
	if (atomic_load(&c->state) != FQ_CTRLR_LIVE || c->discovery) {
		host_set_error("alloc qpair: controller %s is not a live I/O controller", c->peer);
		return -ENXIO;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	rc = alloc_qid(c, &qp->qid);
	if (rc) {
		host_set_error("alloc qpair: all %u granted I/O queues are in use",
			       c->num_io_queues);
		free(qp);
		return rc;
	}
	rc = qpair_setup(c, opts, qp);
	if (rc) {
		release_qid(c, qp->qid);
		free(qp);
		return rc;
	}
	qp->initial = true;
	for (int attempt = 0;; attempt++) {
		rc = reconnect(qp);
		if (!rc)
			rc = wait_connected(qp);
		/*
		 * Command Sequence Error: the target still holds this QID from a
		 * queue we closed a moment ago (it releases queues asynchronously).
		 */
		if (rc != -EIO || attempt == 3 || !strstr(qp->q.errmsg, "Sequence"))
			break;
		ctrlr_sleep(c, 200);
	}
	qp->initial = false;
	if (rc) {
		qp->freeing = true;
		qpair_destroy(qp);
		return rc;
	}
	*out = qp;
	return 0;
}

int fq_qpair_free(struct fq_qpair *qp)
{
	if (!qp)
		return -EINVAL;
	qp->freeing = true;
	hq_fail(&qp->q, -ECANCELED, "queue %u freed by the application", qp->qid);
	while (qp->q.state != HQ_CLOSED) {
		hq_check_timers(&qp->q, hq_now_ns());
		hq_sock_kick(&qp->q);
		qpair_turn(qp, 10000000);
	}
	qpair_destroy(qp);
	return 0;
}

enum fq_qpair_state fq_qpair_get_state(const struct fq_qpair *qp)
{
	if (atomic_load(&qp->ctrlr->state) == FQ_CTRLR_FAILED)
		return FQ_QPAIR_FAILED;
	switch (qp->q.state) {
	case HQ_LIVE:
		return FQ_QPAIR_LIVE;
	case HQ_TCP_CONNECT:
	case HQ_IC:
	case HQ_FABRIC_CONNECT:
		return FQ_QPAIR_CONNECTING;
	default:
		return FQ_QPAIR_DISCONNECTED;
	}
}

uint16_t fq_qpair_get_id(const struct fq_qpair *qp)
{
	return qp->qid;
}

uint32_t fq_qpair_outstanding(const struct fq_qpair *qp)
{
	return qp->q.outstanding;
}

uint32_t fq_qpair_depth(const struct fq_qpair *qp)
{
	return qp->q.wire_max;
}

int fq_qpair_abort(struct fq_qpair *qp, void *cmd_cb_arg, fq_cmd_cb cb, void *cb_arg)
{
	int sent = 0;

	for (uint32_t i = 0; i < qp->q.depth; i++) {
		struct hreq *r = &qp->q.reqs[i];
		struct fq_nvme_cmd cmd = {.opc = FQ_ADM_ABORT};
		int rc;

		if (!r->in_use || r->is_parent || r->rsp_done)
			continue;
		if ((r->parent ? r->parent->cb_arg : r->cb_arg) != cmd_cb_arg)
			continue;
		cmd.cdw10 = qp->qid | ((uint32_t)r->sqe.cid << 16);
		rc = ctrlr_admin_submit(qp->ctrlr, &cmd, NULL, 0, 0, sent ? abort_done : cb,
					sent ? NULL : cb_arg);
		if (rc)
			return sent ? sent : rc;
		sent++;
	}
	return sent;
}
