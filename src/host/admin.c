/* SPDX-License-Identifier: MIT */
/*
 * The controller's service thread. It alone touches the controller's
 * io_uring and admin connection: other threads queue admin commands under
 * the controller lock and wake it through an eventfd. It sends Keep Alive
 * every KATO/2 (NVMe Base 2.0 §3.9.5 allows any period below KATO; half
 * leaves room for one lost round trip), keeps one Asynchronous Event Request
 * outstanding, and turns a lost admin connection into a controller reset.
 *
 * An embedded controller (fq_ctrlr_opts.loop) runs the same service turn
 * as a timer on the caller's loop instead, woken by arming it at once
 * rather than through the eventfd; its blocking calls turn that loop until
 * their command completes, since no other thread would ever complete it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/host_int.h"
#include "util/log.h"

static void ev_done(struct fq_uop *op, int res, uint32_t flags);

static void ev_arm(struct fq_ctrlr *c)
{
	struct io_uring_sqe *sqe;

	if (c->ev_busy || c->evfd < 0)
		return;
	sqe = fq_engine_sqe(c->eng, &c->ev_op);
	io_uring_prep_read(sqe, c->evfd, &c->ev_val, sizeof(c->ev_val), 0);
	c->ev_busy = true;
}

static void ev_done(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_ctrlr *c = (struct fq_ctrlr *)((char *)op - offsetof(struct fq_ctrlr, ev_op));

	(void)res;
	(void)flags;
	pthread_mutex_lock(&c->lock);
	c->ev_busy = false;
	if (!c->stop)
		ev_arm(c);
	pthread_mutex_unlock(&c->lock);
}

void ctrlr_wake(struct fq_ctrlr *c)
{
	uint64_t one = 1;

	if (c->loop) {
		/* The loop's thread is the caller: the next turn runs the service. */
		if (c->svc_timer.fn && !c->stop)
			fq_timer_arm(c->loop, &c->svc_timer, 0);
		return;
	}
	if (write(c->evfd, &one, sizeof(one)) < 0)
		fq_dbg("eventfd write: %s", strerror(errno));
}

static void state_changed(struct fq_ctrlr *c, int old, enum fq_ctrlr_state s)
{
	/* Routine transitions are debug noise; losses and recoveries are not. */
	if (s == FQ_CTRLR_RESETTING || s == FQ_CTRLR_FAILED)
		fq_warn("controller %s (%s): %s -> %s", c->trid.subnqn, c->peer,
			fq_ctrlr_state_name((enum fq_ctrlr_state)old), fq_ctrlr_state_name(s));
	else if (old == FQ_CTRLR_RESETTING)
		fq_info("controller %s (%s): %s -> %s", c->trid.subnqn, c->peer,
			fq_ctrlr_state_name((enum fq_ctrlr_state)old), fq_ctrlr_state_name(s));
	else
		fq_dbg("controller %s (%s): %s -> %s", c->trid.subnqn, c->peer,
		       fq_ctrlr_state_name((enum fq_ctrlr_state)old), fq_ctrlr_state_name(s));
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->opts.state_cb)
		c->opts.state_cb(c->opts.state_cb_arg, s);
}

void ctrlr_set_state(struct fq_ctrlr *c, enum fq_ctrlr_state s)
{
	int old = atomic_exchange(&c->state, (int)s);

	if (old != (int)s)
		state_changed(c, old, s);
}

bool ctrlr_set_state_if(struct fq_ctrlr *c, enum fq_ctrlr_state from, enum fq_ctrlr_state to)
{
	int old = (int)from;

	if (!atomic_compare_exchange_strong(&c->state, &old, (int)to))
		return false;
	state_changed(c, old, to);
	return true;
}

static void ka_done(void *arg, const struct fq_cpl *cpl)
{
	struct fq_ctrlr *c = arg;
	char st[128];

	c->ka_busy = false;
	if (fq_cpl_is_error(cpl) && !fq_cpl_is_path_error(cpl))
		fq_warn("Keep Alive to %s failed: %s", c->peer, fq_cpl_str(cpl, st, sizeof(st)));
}

static void keep_alive_tick(struct fq_ctrlr *c, uint64_t now)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_KEEP_ALIVE};

	if (!c->ka_on || c->admin.state != HQ_LIVE || now < c->ka_next_ns)
		return;
	c->ka_next_ns = now + (uint64_t)c->kato_ms * 1000000ull / 2;
	if (c->ka_busy)
		return;
	if (ctrlr_admin_submit(c, &cmd, NULL, 0, c->kato_ms, ka_done, c) == 0)
		c->ka_busy = true;
}

static void aer_submit(struct fq_ctrlr *c);

static void changed_ns_done(void *arg, const struct fq_cpl *cpl)
{
	(void)arg;
	(void)cpl;
}

/* NVMe Base 2.0 §5.2: reading the log page (RAE 0) re-arms the event type. */
static void aer_done(void *arg, const struct fq_cpl *cpl)
{
	struct fq_ctrlr *c = arg;
	uint8_t type = cpl->cdw0 & 0x7, info = (cpl->cdw0 >> 8) & 0xff,
		lid = (cpl->cdw0 >> 16) & 0xff;
	char st[128];

	if (fq_cpl_is_error(cpl)) {
		if (!fq_cpl_is_path_error(cpl))
			fq_warn("Asynchronous Event Request to %s ended: %s", c->peer,
				fq_cpl_str(cpl, st, sizeof(st)));
		c->aer_on = false;
		return;
	}
	fq_info("async event from %s: type %u info 0x%02x log 0x%02x", c->peer, type, info, lid);
	if (type == FQ_AER_TYPE_NOTICE && info == FQ_AER_NOTICE_NS_CHANGED) {
		struct fq_nvme_cmd log = {.opc = FQ_ADM_GET_LOG_PAGE, .nsid = 0xffffffff};

		c->ns_changed = true;
		log.cdw10 = FQ_LID_CHANGED_NS | ((sizeof(c->changed_ns_log) / 4 - 1) << 16);
		ctrlr_admin_submit(c, &log, c->changed_ns_log, sizeof(c->changed_ns_log), 0,
				   changed_ns_done, c);
	}
	if (c->opts.aer_cb)
		c->opts.aer_cb(c->opts.aer_cb_arg, cpl->cdw0);
	aer_submit(c);
}

static void aer_submit(struct fq_ctrlr *c)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_ASYNC_EVENT};
	struct hreq *r;

	if (c->stop || c->admin.state != HQ_LIVE)
		return;
	r = hq_req_get(&c->admin);
	if (!r)
		return;
	hq_req_from_raw(r, &cmd, NULL, 0);
	r->cb = aer_done;
	r->cb_arg = c;
	/* An AER stays outstanding until an event happens: no timeout. */
	r->timeout_ms = 0;
	r->deadline_ns = 0;
	if (hq_submit(r)) {
		hq_req_put(r);
		return;
	}
	r->deadline_ns = 0;
	c->aer_on = true;
}

void ctrlr_start_aer(struct fq_ctrlr *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->aer_on)
		aer_submit(c);
	pthread_mutex_unlock(&c->lock);
	ctrlr_wake(c);
}

static const struct hq_ops admin_ops;

static void admin_state_change(struct hq *q, enum hq_state old)
{
	struct fq_ctrlr *c = q->owner;

	(void)old;
	pthread_cond_broadcast(&c->cond);
	if (q->state == HQ_CLOSED) {
		c->ka_busy = false;
		c->aer_on = false;
		ctrlr_on_admin_closed(c);
	}
}

static const struct hq_ops admin_ops = {
	.state_change = admin_state_change,
	.timeout = NULL, /* an admin timeout resets the controller */
};

static int64_t svc_turn(struct fq_ctrlr *c)
{
	uint64_t now = hq_now_ns();
	int64_t wait = (int64_t)SVC_TICK_NS;

	if (c->stop && c->admin.state != HQ_CLOSED)
		hq_fail(&c->admin, -ESHUTDOWN, "controller disconnected");
	if (c->reset_req) {
		c->reset_req = false;
		hq_fail(&c->admin, -ECONNRESET, "controller reset: %s", c->reset_reason);
	}
	if (c->admin_connect_req && c->admin.state == HQ_CLOSED && !c->stop) {
		c->admin_connect_req = false;
		hq_start(&c->admin, c->eng, (struct sockaddr *)&c->sa, c->salen);
		pthread_cond_broadcast(&c->cond);
	}
	hq_check_timers(&c->admin, now);
	keep_alive_tick(c, now);
	hq_sock_kick(&c->admin);
	if (c->ka_on && c->ka_next_ns > now && (int64_t)(c->ka_next_ns - now) < wait)
		wait = (int64_t)(c->ka_next_ns - now) + 1;
	return wait;
}

static void *svc_main(void *arg)
{
	struct fq_ctrlr *c = arg;

	pthread_mutex_lock(&c->lock);
	ev_arm(c);
	for (;;) {
		int64_t wait = svc_turn(c);

		if (c->stop && c->admin.state == HQ_CLOSED)
			break;
		pthread_mutex_unlock(&c->lock);
		fq_engine_run(c->eng, 1, wait);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	/* Let the eventfd read finish before the ring goes away. */
	while (c->ev_busy) {
		ctrlr_wake(c);
		fq_engine_run(c->eng, 1, (int64_t)SVC_TICK_NS);
	}
	return NULL;
}

/* The embedded service: one turn, then again when the turn asks for. */
static void svc_timer_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct fq_ctrlr *c = (struct fq_ctrlr *)((char *)t - offsetof(struct fq_ctrlr, svc_timer));
	int64_t wait;

	pthread_mutex_lock(&c->lock);
	c->in_svc = true;
	wait = svc_turn(c);
	c->in_svc = false;
	pthread_mutex_unlock(&c->lock);
	if (c->stop && c->admin.state == HQ_CLOSED)
		return;
	/* Armed already: something in the turn woke us for the next one. */
	if (!fq_timer_armed(t))
		fq_timer_arm(l, t, (uint64_t)wait);
}

/* Turn the caller's loop for up to one service tick (embedded controllers). */
static void embedded_turn(struct fq_ctrlr *c)
{
	int rc = fq_loop_turn(c->loop, (int64_t)SVC_TICK_NS);

	if (rc < 0)
		fq_dbg("%s: loop turn: %s", c->peer, strerror(-rc));
}

void ctrlr_sleep(struct fq_ctrlr *c, uint32_t ms)
{
	uint64_t end = hq_now_ns() + (uint64_t)ms * 1000000ull;

	if (!c->loop) {
		usleep(ms * 1000u);
		return;
	}
	for (uint64_t now = hq_now_ns(); now < end; now = hq_now_ns()) {
		int rc = fq_loop_turn(c->loop, (int64_t)(end - now));

		if (rc < 0)
			break;
	}
}

static int svc_start_embedded(struct fq_ctrlr *c)
{
	uint32_t aq = c->opts.admin_queue_size;
	int rc;

	c->eng = fq_loop_engine(c->loop);
	rc = hq_init(&c->admin, aq - 1, aq - 1, &admin_ops, c);
	if (rc)
		return rc;
	c->admin.lock = &c->lock;
	c->svc_timer.fn = svc_timer_fn;
	c->reset_timer.fn = ctrlr_reset_timer_fn;
	return fq_timer_arm(c->loop, &c->svc_timer, 0);
}

static void svc_stop_embedded(struct fq_ctrlr *c)
{
	if (!c->eng)
		return; /* failed before the service was set up */
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	fq_timer_cancel(c->loop, &c->reset_timer);
	/* Close the admin connection on the loop, as the service thread would. */
	while (c->admin.reqs && c->admin.state != HQ_CLOSED) {
		pthread_mutex_lock(&c->lock);
		svc_turn(c);
		pthread_mutex_unlock(&c->lock);
		if (c->admin.state != HQ_CLOSED)
			embedded_turn(c);
	}
	fq_timer_cancel(c->loop, &c->svc_timer);
	if (c->admin.reqs)
		hq_fini(&c->admin);
}

int ctrlr_svc_start(struct fq_ctrlr *c)
{
	pthread_mutexattr_t ma;
	uint32_t aq = c->opts.admin_queue_size;
	int rc;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_cond_init(&c->cond, NULL);
	if (c->loop)
		return svc_start_embedded(c);
	c->eng = &c->own_eng;
	c->ev_op.done = ev_done;
	c->evfd = eventfd(0, EFD_CLOEXEC);
	if (c->evfd < 0)
		return -errno;
	rc = fq_engine_init(&c->own_eng, 64);
	if (rc)
		return rc;
	/* Usable entries are one less than the queue size (a full queue). */
	rc = hq_init(&c->admin, aq - 1, aq - 1, &admin_ops, c);
	if (rc)
		return rc;
	c->admin.lock = &c->lock;
	rc = -pthread_create(&c->svc, NULL, svc_main, c);
	if (rc)
		return rc;
	c->svc_started = true;
	return 0;
}

void ctrlr_svc_stop(struct fq_ctrlr *c)
{
	if (c->loop) {
		svc_stop_embedded(c);
		return;
	}
	if (c->svc_started) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_mutex_unlock(&c->lock);
		ctrlr_wake(c);
		pthread_join(c->svc, NULL);
		c->svc_started = false;
	}
	if (c->admin.reqs)
		hq_fini(&c->admin);
	fq_engine_fini(&c->own_eng);
	if (c->evfd >= 0)
		close(c->evfd);
	c->evfd = -1;
}

void ctrlr_request_reset(struct fq_ctrlr *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->state) == FQ_CTRLR_LIVE && !c->reset_req) {
		c->reset_req = true;
		snprintf(c->reset_reason, sizeof(c->reset_reason), "%s", why);
	}
	pthread_mutex_unlock(&c->lock);
	ctrlr_wake(c);
}

int ctrlr_admin_submit(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		       uint32_t timeout_ms, fq_cmd_cb cb, void *arg)
{
	struct hreq *r;
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->admin.state != HQ_LIVE || c->stop) {
		pthread_mutex_unlock(&c->lock);
		return -ENXIO;
	}
	r = hq_req_get(&c->admin);
	if (!r) {
		pthread_mutex_unlock(&c->lock);
		return -EAGAIN;
	}
	rc = hq_req_from_raw(r, cmd, buf, len);
	if (!rc) {
		r->cb = cb;
		r->cb_arg = arg;
		r->timeout_ms = timeout_ms ? timeout_ms : c->opts.admin_timeout_ms;
		rc = hq_submit(r);
	}
	if (rc)
		hq_req_put(r);
	pthread_mutex_unlock(&c->lock);
	if (!rc && (c->loop || !pthread_equal(pthread_self(), c->svc)))
		ctrlr_wake(c);
	return rc;
}

struct sync_wait {
	struct fq_ctrlr *c;
	bool done;
	struct fq_cpl cpl;
};

static void sync_done(void *arg, const struct fq_cpl *cpl)
{
	struct sync_wait *w = arg;

	/* Runs on the service thread with the lock held. */
	w->cpl = *cpl;
	w->done = true;
	pthread_cond_broadcast(&w->c->cond);
}

int ctrlr_admin_sync(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		     uint32_t timeout_ms, struct fq_cpl *cpl)
{
	struct sync_wait w = {.c = c};
	int rc;

	if (c->svc_started && pthread_equal(pthread_self(), c->svc))
		return -EDEADLK;
	/*
	 * The embedded twin of that: a callback run by the service turn (a
	 * command failed by its timer) would turn the loop inside the turn
	 * and walk the admin queue's timers while they are being walked.
	 */
	if (c->loop && c->in_svc)
		return -EDEADLK;
	rc = ctrlr_admin_submit(c, cmd, buf, len, timeout_ms, sync_done, &w);
	if (rc)
		return rc;
	/* Embedded: only turns of the loop we are on can complete it. */
	while (c->loop && !w.done)
		embedded_turn(c);
	/*
	 * No timed wait here: the admin queue's own command timer fails the
	 * connection, which completes every outstanding command.
	 */
	pthread_mutex_lock(&c->lock);
	while (!w.done)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (cpl)
		*cpl = w.cpl;
	return fq_cpl_is_error(&w.cpl) ? -EIO : 0;
}

/* Ask the service thread to open the admin connection and wait for the end. */
int ctrlr_admin_connect(struct fq_ctrlr *c)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	c->admin_connect_req = true;
	ctrlr_wake(c);
	while (!c->stop && (c->admin_connect_req ||
			    (c->admin.state != HQ_LIVE && c->admin.state != HQ_CLOSED))) {
		if (c->loop) {
			pthread_mutex_unlock(&c->lock);
			embedded_turn(c);
			pthread_mutex_lock(&c->lock);
		} else {
			pthread_cond_wait(&c->cond, &c->lock);
		}
	}
	if (c->admin.state != HQ_LIVE) {
		rc = c->admin.err ? c->admin.err : -ECANCELED;
		host_set_error("connect: %s", c->admin.errmsg[0] ? c->admin.errmsg : "cancelled");
	}
	c->cntlid = c->admin.cntlid;
	pthread_mutex_unlock(&c->lock);
	return rc;
}
