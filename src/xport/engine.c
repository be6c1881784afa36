/* SPDX-License-Identifier: MIT */
#include "engine.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

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
	e->busy_poll = busy_poll;
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
		e->pending_sends = 0;
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

static void arm_recv(struct fq_engine *e, struct fq_uop *op)
{
	struct io_uring_sqe *sqe = fq_engine_sqe(e, op);

	if (op->rmsg)
		io_uring_prep_recvmsg(sqe, op->rfd, op->rmsg, 0);
	else
		io_uring_prep_recv(sqe, op->rfd, op->rbuf, op->rlen, 0);
}

static void sw_complete(struct fq_engine *e, struct fq_uop *op, int res)
{
	op->sw_res = res;
	op->sw_next = NULL;
	if (e->sw_tail)
		e->sw_tail->sw_next = op;
	else
		e->sw_head = op;
	e->sw_tail = op;
}

static void post_recv(struct fq_engine *e, struct fq_uop *op);

void fq_engine_recv(struct fq_engine *e, struct fq_uop *op, int fd, void *buf, uint32_t len)
{
	op->rbuf = buf;
	op->rlen = len;
	op->rfd = fd;
	op->rmsg = NULL;
	post_recv(e, op);
}

void fq_engine_recvmsg(struct fq_engine *e, struct fq_uop *op, int fd, struct msghdr *msg)
{
	op->rbuf = NULL;
	op->rlen = 0;
	op->rfd = fd;
	op->rmsg = msg;
	post_recv(e, op);
}

static void post_recv(struct fq_engine *e, struct fq_uop *op)
{
	/*
	 * A receive armed on an empty socket completes through a poll wakeup
	 * and task work, which costs a spinning thread about 2 us per round
	 * trip (bench/ ping-pong, QD1 p50 14.8 -> 12.2 us with non-blocking
	 * attempts). Trying the socket each turn is what busy polling is for.
	 */
	if (e->busy_poll && e->spinning) {
		op->poll_next = e->poll_head;
		e->poll_head = op;
		e->inflight++;
		return;
	}
	arm_recv(e, op);
}

/*
 * A socket that stayed empty for this many turns in a row is tried only
 * every POLL_IDLE_EVERY turns, so an idle connection (an admin queue, say)
 * does not double the turn time, and with it the latency, of a busy one.
 */
#define POLL_IDLE_AFTER 256
#define POLL_IDLE_EVERY 8

/* One non-blocking attempt at every polled receive. */
static void poll_recvs(struct fq_engine *e)
{
	struct fq_uop **pp = &e->poll_head;

	e->turns++;
	while (*pp) {
		struct fq_uop *op = *pp;
		ssize_t n;

		if (op->poll_misses >= POLL_IDLE_AFTER && e->turns % POLL_IDLE_EVERY) {
			pp = &op->poll_next;
			continue;
		}
		n = op->rmsg ? recvmsg(op->rfd, op->rmsg, MSG_DONTWAIT)
			     : recv(op->rfd, op->rbuf, op->rlen, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			op->poll_misses++;
			pp = &op->poll_next;
			continue;
		}
		op->poll_misses = 0;
		*pp = op->poll_next;
		sw_complete(e, op, n >= 0 ? (int)n : -errno);
	}
}

/* The thread is about to sleep: hand the polled receives to the kernel. */
static void arm_polled(struct fq_engine *e)
{
	while (e->poll_head) {
		struct fq_uop *op = e->poll_head;

		e->poll_head = op->poll_next;
		e->inflight--;
		arm_recv(e, op);
	}
}

void fq_engine_sendmsg(struct fq_engine *e, struct fq_uop *op, int fd, struct msghdr *msg,
		       int flags)
{
	struct io_uring_sqe *sqe;

	/*
	 * A spinning thread sends directly: an io_uring sendmsg costs about
	 * 1 us more per round trip than the plain call (bench/ ping-pong, QD1
	 * p50 12.2 -> 11.0 us), and the thread would not sleep anyway.
	 */
	if (e->busy_poll && e->spinning) {
		ssize_t n = sendmsg(fd, msg, flags | MSG_DONTWAIT);

		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			sw_complete(e, op, n >= 0 ? (int)n : -errno);
			e->inflight++;
			return;
		}
	}
	sqe = fq_engine_sqe(e, op);
	io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)flags);
	e->pending_sends++;
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
		e->pending_sends = 0;
	}
	return rc < 0 ? rc : 0;
}

int fq_engine_flush_sends(struct fq_engine *e)
{
	return e->pending_sends ? fq_engine_flush(e) : 0;
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

		if (e->sw_head) {
			op = e->sw_head;
			e->sw_head = op->sw_next;
			if (!e->sw_head)
				e->sw_tail = NULL;
			e->inflight--;
			op->done(op, op->sw_res, 0);
			total++;
			continue;
		}
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

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

/*
 * Add @slept to the idle time and set the start of the current sleep
 * (0: awake), so that a reader never sees a sleep both counted and
 * ongoing: reactor idle time must only grow.
 */
static void idle_mark(struct fq_engine *e, uint64_t slept, uint64_t since)
{
	atomic_fetch_add(&e->idle_seq, 1);
	atomic_store(&e->idle_ns, atomic_load_explicit(&e->idle_ns, memory_order_relaxed) + slept);
	atomic_store(&e->sleep_since_ns, since);
	atomic_fetch_add(&e->idle_seq, 1);
}

uint64_t fq_engine_idle_ns(struct fq_engine *e, uint64_t now_ns)
{
	uint64_t idle, since;
	uint32_t s1, s2;

	do {
		s1 = atomic_load(&e->idle_seq);
		idle = atomic_load(&e->idle_ns);
		since = atomic_load(&e->sleep_since_ns);
		s2 = atomic_load(&e->idle_seq);
	} while (s1 != s2 || (s1 & 1));
	return idle + (since && now_ns > since ? now_ns - since : 0);
}

int fq_engine_run(struct fq_engine *e, unsigned min_complete, int64_t timeout_ns)
{
	struct io_uring_cqe *cqe = NULL;
	struct timespec t0, t1;
	int rc;

	e->spinning = min_complete == 0;
	if (min_complete > 0)
		arm_polled(e);
	else
		poll_recvs(e);
	if (min_complete == 0 || e->sw_head) {
		fq_engine_flush(e);
		/* Polling: run completions the kernel is holding for us. */
		if (!io_uring_cq_ready(&e->ring) &&
		    (IO_URING_READ_ONCE(*e->ring.sq.kflags) & IORING_SQ_TASKRUN))
			io_uring_get_events(&e->ring);
		return reap(e);
	}
	/* Two clock reads per sleep (a system call anyway), none while busy. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	idle_mark(e, 0, ts_ns(&t0));
	if (timeout_ns > 0) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ns / 1000000000,
			.tv_nsec = timeout_ns % 1000000000,
		};
		rc = io_uring_submit_and_wait_timeout(&e->ring, &cqe, min_complete, &ts, NULL);
	} else {
		rc = io_uring_submit_and_wait(&e->ring, min_complete);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	idle_mark(e, ts_ns(&t1) - ts_ns(&t0), 0);
	e->pending = 0;
	e->pending_sends = 0;
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		return rc;
	return reap(e);
}
