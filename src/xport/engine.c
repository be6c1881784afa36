/* SPDX-License-Identifier: MIT */
#include "engine.h"

#include <errno.h>
#include <string.h>

int fq_engine_init(struct fq_engine *e, unsigned entries)
{
	return fq_engine_init_poll(e, entries, false);
}

int fq_engine_init_poll(struct fq_engine *e, unsigned entries, bool busy_poll)
{
	struct io_uring_params p;
	int rc;

	memset(e, 0, sizeof(*e));
	memset(&p, 0, sizeof(p));
	/* A CQ twice the SQ absorbs bursts of completions from many sockets. */
	/*
	 * A busy-polling thread gets COOP_TASKRUN: completions are not pushed
	 * into it with an interrupt; the kernel raises IORING_SQ_TASKRUN and
	 * the poll path runs them (QD1 p50 21 -> 15 us in bench/). A thread
	 * that sleeps between events does better without it (QD128 throughput
	 * fell by a third to a half with it), so it is off by default.
	 */
	p.flags = IORING_SETUP_CQSIZE;
	if (busy_poll)
		p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	p.cq_entries = entries * 4;
	rc = io_uring_queue_init_params(entries, &e->ring, &p);
	if (rc == -EINVAL) { /* kernels before 5.19 */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		rc = io_uring_queue_init_params(entries, &e->ring, &p);
	}
	if (rc < 0)
		return rc;
	e->has_ring = true;
	return 0;
}

void fq_engine_fini(struct fq_engine *e)
{
	if (e->has_ring)
		io_uring_queue_exit(&e->ring);
	e->has_ring = false;
}

static struct io_uring_sqe *get_sqe(struct fq_engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	while (!sqe) {
		/* SQ full: hand what we have to the kernel and retry. */
		io_uring_submit(&e->ring);
		e->pending = 0;
		sqe = io_uring_get_sqe(&e->ring);
	}
	e->pending++;
	return sqe;
}

struct io_uring_sqe *fq_engine_sqe(struct fq_engine *e, struct fq_uop *op)
{
	struct io_uring_sqe *sqe = get_sqe(e);

	io_uring_sqe_set_data(sqe, op);
	e->inflight++;
	return sqe;
}

struct io_uring_sqe *fq_engine_sqe_noop(struct fq_engine *e)
{
	struct io_uring_sqe *sqe = get_sqe(e);

	io_uring_sqe_set_data(sqe, NULL);
	e->inflight++;
	return sqe;
}

int fq_engine_flush(struct fq_engine *e)
{
	int rc = 0;

	if (e->pending) {
		rc = io_uring_submit(&e->ring);
		e->pending = 0;
	}
	return rc < 0 ? rc : 0;
}

static int reap(struct fq_engine *e)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int total = 0;

	/*
	 * Callbacks may prepare new SQEs and even reap recursively is not
	 * allowed; we copy each CQE's data out and advance before calling.
	 */
	for (;;) {
		struct fq_uop *op;
		int res;
		uint32_t flags;

		n = 0;
		io_uring_for_each_cqe(&e->ring, head, cqe)
		{
			n++;
			break;
		}
		if (!n)
			break;
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&e->ring, cqe);
		if (!(flags & IORING_CQE_F_MORE))
			e->inflight--;
		if (op)
			op->done(op, res, flags);
		total++;
	}
	return total;
}

int fq_engine_run(struct fq_engine *e, unsigned min_complete, int64_t timeout_ns)
{
	struct io_uring_cqe *cqe = NULL;
	int rc;

	if (min_complete == 0) {
		fq_engine_flush(e);
		/* Polling: run completions the kernel is holding for us. */
		if (!io_uring_cq_ready(&e->ring) &&
		    (IO_URING_READ_ONCE(*e->ring.sq.kflags) & IORING_SQ_TASKRUN))
			io_uring_get_events(&e->ring);
		return reap(e);
	}
	if (timeout_ns > 0) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ns / 1000000000,
			.tv_nsec = timeout_ns % 1000000000,
		};
		rc = io_uring_submit_and_wait_timeout(&e->ring, &cqe, min_complete, &ts, NULL);
	} else {
		rc = io_uring_submit_and_wait(&e->ring, min_complete);
	}
	e->pending = 0;
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		return rc;
	return reap(e);
}
