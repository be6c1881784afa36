/* SPDX-License-Identifier: MIT */
/*
 * Reconnect policy after a lost controller: wait reconnect_delay_ms, run the
 * bring-up again, repeat until it works, the target answers a Connect with
 * DNR set, or ctrl_loss_timeout_ms passed (as the Linux host does with
 * reconnect_delay and ctrl_loss_tmo, reference B10). Runs on its own thread
 * because the bring-up waits for admin commands the service thread carries.
 * An embedded controller runs each attempt from reset_timer on its loop
 * instead: the bring-up then turns that loop while it waits, so the loop's
 * other work goes on during a reconnect.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "host/host_int.h"
#include "util/log.h"

static bool wait_delay(struct fq_ctrlr *c)
{
	struct timespec ts;
	int32_t ms = c->opts.reconnect_delay_ms > 0 ? c->opts.reconnect_delay_ms : 0;
	bool go;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (atomic_load(&c->state) == FQ_CTRLR_RESETTING) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	go = atomic_load(&c->state) == FQ_CTRLR_RESETTING;
	pthread_mutex_unlock(&c->lock);
	return go;
}

/* Close a half-built admin connection before the next attempt. */
static void close_admin(struct fq_ctrlr *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->admin.state != HQ_CLOSED) {
		c->reset_req = true;
		strcpy(c->reset_reason, "reconnect attempt failed");
		ctrlr_wake(c);
		while (c->admin.state != HQ_CLOSED && !c->stop) {
			if (c->loop) {
				pthread_mutex_unlock(&c->lock);
				fq_loop_turn(c->loop, (int64_t)SVC_TICK_NS);
				pthread_mutex_lock(&c->lock);
			} else {
				pthread_cond_wait(&c->cond, &c->lock);
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* One reconnect attempt; returns whether to try again. */
static bool attempt(struct fq_ctrlr *c)
{
	int rc = ctrlr_bringup(c, false);

	if (!rc) {
		/*
		 * Counted before the state says LIVE, so that whoever sees LIVE
		 * sees the count too; taken back if a disconnect started meanwhile.
		 */
		atomic_fetch_add(&c->reconnects, 1);
		if (!ctrlr_set_state_if(c, FQ_CTRLR_RESETTING, FQ_CTRLR_LIVE))
			atomic_fetch_sub(&c->reconnects, 1);
		return false;
	}
	fq_warn("reconnect to %s failed: %s", c->peer, fq_last_error());
	close_admin(c);
	if (c->admin.err_dnr || hq_now_ns() >= c->loss_deadline_ns) {
		fq_err("giving up on controller %s", c->peer);
		ctrlr_set_state_if(c, FQ_CTRLR_RESETTING, FQ_CTRLR_FAILED);
		return false;
	}
	return true;
}

void ctrlr_reset_timer_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct fq_ctrlr *c =
		(struct fq_ctrlr *)((char *)t - offsetof(struct fq_ctrlr, reset_timer));
	int32_t ms = c->opts.reconnect_delay_ms > 0 ? c->opts.reconnect_delay_ms : 0;

	if (c->stop || atomic_load(&c->state) != FQ_CTRLR_RESETTING)
		return;
	if (attempt(c) && !c->stop && atomic_load(&c->state) == FQ_CTRLR_RESETTING &&
	    fq_timer_arm(l, t, (uint64_t)ms * 1000000ull))
		ctrlr_set_state_if(c, FQ_CTRLR_RESETTING, FQ_CTRLR_FAILED);
}

void *ctrlr_reset_main(void *arg)
{
	struct fq_ctrlr *c = arg;

	while (wait_delay(c)) {
		if (!attempt(c))
			break;
	}
	pthread_mutex_lock(&c->lock);
	c->reset_thr_done = true;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}
