/* SPDX-License-Identifier: MIT */
/*
 * Poll groups: one io_uring for many qpairs of one thread, so one
 * io_uring_enter moves the sockets of all of them (DESIGN: one ring per
 * thread). The group keeps a plain list; it is touched by its thread only.
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
	bool busy = false;
	int rc;

	if (!out)
		return -EINVAL;
	if (opts &&
	    opts->opts_size >= offsetof(struct fq_poll_group_opts, busy_poll) + sizeof(bool))
		busy = opts->busy_poll;
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	rc = fq_engine_init_poll(&pg->eng, 256, busy);
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
	fq_engine_fini(&pg->eng);
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

	for (struct fq_qpair *qp = pg->qps; qp; qp = qp->pg_next)
		qpair_service(qp, now);
	rc = fq_engine_run(&pg->eng, wait_ns ? 1 : 0, wait_ns);
	for (struct fq_qpair *qp = pg->qps; qp; qp = qp->pg_next)
		hq_sock_kick(&qp->q);
	fq_engine_flush(&pg->eng);
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
