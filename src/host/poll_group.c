/* SPDX-License-Identifier: MIT */
/*
 * Poll groups: one io_uring for many qpairs of one thread, so one
 * io_uring_enter moves the sockets of all of them (DESIGN: one ring per
 * thread). The group keeps a plain list; it is touched by its thread only.
 * A group created on a caller's loop uses that loop's ring; its qpairs are
 * then serviced by the loop's turns, and the group's calls turn the loop.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_int.h"

void fq_poll_group_opts_init(struct fq_poll_group_opts *opts, size_t opts_size)
{
	struct fq_poll_group_opts d = {.opts_size = sizeof(d), .busy_poll = false};

	if (!opts)
		return;
	if (opts_size > sizeof(d))
		opts_size = sizeof(d);
	memcpy(opts, &d, opts_size);
	if (opts_size >= sizeof(size_t))
		opts->opts_size = opts_size;
}

int fq_poll_group_create(struct fq_poll_group **out)
{
	return fq_poll_group_create_opts(NULL, out);
}

int fq_poll_group_create_opts(const struct fq_poll_group_opts *opts, struct fq_poll_group **out)
{
	struct fq_poll_group *pg;
	struct fq_loop *loop = NULL;
	bool busy = false;
	int rc;

	if (!out)
		return -EINVAL;
	if (opts &&
	    opts->opts_size >= offsetof(struct fq_poll_group_opts, busy_poll) + sizeof(bool))
		busy = opts->busy_poll;
	if (opts && opts->opts_size >= offsetof(struct fq_poll_group_opts, loop) + sizeof(loop))
		loop = opts->loop;
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	if (loop) {
		pg->loop = loop;
		pg->eng = fq_loop_engine(loop);
		*out = pg;
		return 0;
	}
	pg->eng = &pg->own_eng;
	rc = fq_engine_init_poll(&pg->own_eng, 256, busy);
	if (rc) {
		free(pg);
		return rc;
	}
	*out = pg;
	return 0;
}

int fq_poll_group_destroy(struct fq_poll_group *pg)
{
	if (!pg)
		return -EINVAL;
	if (pg->nr)
		return -EBUSY;
	if (!pg->loop)
		fq_engine_fini(&pg->own_eng);
	free(pg);
	return 0;
}

void pg_add(struct fq_poll_group *pg, struct fq_qpair *qp)
{
	qp->pg_next = pg->qps;
	pg->qps = qp;
	pg->nr++;
}

void pg_remove(struct fq_poll_group *pg, struct fq_qpair *qp)
{
	for (struct fq_qpair **pp = &pg->qps; *pp; pp = &(*pp)->pg_next) {
		if (*pp == qp) {
			*pp = qp->pg_next;
			pg->nr--;
			return;
		}
	}
}

static uint64_t total_completions(const struct fq_poll_group *pg)
{
	uint64_t n = 0;

	for (const struct fq_qpair *qp = pg->qps; qp; qp = qp->pg_next)
		n += qp->q.completions;
	return n;
}

static int pg_turn(struct fq_poll_group *pg, int64_t wait_ns)
{
	uint64_t before = total_completions(pg), now = hq_now_ns();
	int rc;

	if (pg->loop) {
		/* The loop's pollers service the qpairs. */
		rc = fq_loop_turn(pg->loop, wait_ns);
		return rc < 0 ? rc : (int)(total_completions(pg) - before);
	}

	for (struct fq_qpair *qp = pg->qps; qp; qp = qp->pg_next)
		qpair_service(qp, now);
	rc = fq_engine_run(pg->eng, wait_ns ? 1 : 0, wait_ns);
	for (struct fq_qpair *qp = pg->qps; qp; qp = qp->pg_next)
		hq_sock_kick(&qp->q);
	/*
	 * Commands the completions queued leave now. Receives they re-armed
	 * alone wait for the next turn's submit-and-wait: a caller that
	 * queues its next commands between turns (the fio engine) would
	 * otherwise pay a system call per turn for them, one in three.
	 */
	fq_engine_flush_sends(pg->eng);
	if (rc < 0)
		return rc;
	return (int)(total_completions(pg) - before);
}

int fq_poll_group_process_completions(struct fq_poll_group *pg)
{
	return pg_turn(pg, 0);
}

static int pg_turn_ctx(void *ctx, int64_t wait_ns)
{
	return pg_turn(ctx, wait_ns);
}

int fq_poll_group_wait(struct fq_poll_group *pg, int timeout_ms)
{
	return hq_wait_loop(timeout_ms, pg_turn_ctx, pg);
}

int hq_wait_loop(int timeout_ms, int (*turn)(void *ctx, int64_t wait_ns), void *ctx)
{
	uint64_t end =
		timeout_ms < 0 ? UINT64_MAX : hq_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		uint64_t now = hq_now_ns();
		int64_t wait = (int64_t)SVC_TICK_NS;
		int n;

		if (end != UINT64_MAX && end - now < (uint64_t)wait)
			wait = end > now ? (int64_t)(end - now) : 1;
		n = turn(ctx, wait);
		if (n != 0)
			return n;
		if (hq_now_ns() >= end)
			return 0;
	}
}
