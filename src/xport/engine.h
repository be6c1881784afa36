/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine: one io_uring per thread, shared by sockets and block
 * backends so one io_uring_enter moves network and storage operations.
 *
 * Every submission carries a pointer to a struct fq_uop embedded in the
 * object that owns the operation; the completion calls uop->done. The owner
 * must keep the uop alive until done has run (objects with operations in
 * flight are torn down only after their count drops to zero).
 */
#ifndef FQ_XPORT_ENGINE_H
#define FQ_XPORT_ENGINE_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fq_uop;
typedef void (*fq_uop_fn)(struct fq_uop *op, int res, uint32_t cqe_flags);

struct fq_uop {
	fq_uop_fn done;
	/* Set by fq_engine_recv: what to try again after a non-blocking miss. */
	void *rbuf;
	uint32_t rlen;
	int rfd;
	struct msghdr *rmsg; /* set by fq_engine_recvmsg instead of rbuf */
	/* A send done inline (fq_engine_sendmsg) waits here for dispatch. */
	struct fq_uop *sw_next;
	struct fq_uop *poll_next; /* on the engine's list of polled receives */
	uint32_t poll_misses;	  /* consecutive empty attempts */
	int sw_res;
};

struct fq_engine {
	struct io_uring ring;
	unsigned pending;	/* SQEs prepared but not yet submitted */
	unsigned pending_sends; /* of those, sends (fq_engine_sendmsg) */
	unsigned inflight;
	bool has_ring;
	bool busy_poll; /* created for a thread that spins on fq_engine_run(e, 0, 0) */
	bool spinning;	/* the last fq_engine_run did not wait */
	/* Completions of inline sends, dispatched by the next fq_engine_run. */
	struct fq_uop *sw_head, *sw_tail;
	/* Receives a spinning engine tries itself each turn (fq_engine_recv). */
	struct fq_uop *poll_head;
	uint32_t turns;
	/*
	 * Nanoseconds spent asleep in the kernel waiting for completions, and
	 * when the current sleep began (0: awake); written by the engine's
	 * thread under the sequence count idle_seq (odd while writing), read
	 * by others through fq_engine_idle_ns().
	 */
	_Atomic uint64_t idle_ns, sleep_since_ns;
	_Atomic uint32_t idle_seq;
	/* The loop whose ring this is (fq_loop_init), or NULL: where to post work for it. */
	struct fq_loop *loop;
};

/* Time @e has spent asleep so far, the current sleep included, at @now_ns. */
uint64_t fq_engine_idle_ns(struct fq_engine *e, uint64_t now_ns);

/* Create the ring with room for @entries SQEs. Returns 0 or -errno. */
int fq_engine_init(struct fq_engine *e, unsigned entries);
/* Same, tuned for a thread that busy-polls fq_engine_run(e, 0, 0). */
int fq_engine_init_poll(struct fq_engine *e, unsigned entries, bool busy_poll);
void fq_engine_fini(struct fq_engine *e);

/*
 * Get an SQE bound to @op. If the SQ ring is full, pending SQEs are submitted
 * first. Never returns NULL.
 */
struct io_uring_sqe *fq_engine_sqe(struct fq_engine *e, struct fq_uop *op);

/*
 * Receive from socket @fd into @buf; op->done gets the byte count, 0 at end
 * of stream, or -errno. A sleeping engine arms an io_uring receive, so the
 * thread sleeps until data arrives. A spinning busy-poll engine instead tries
 * a non-blocking recv on every fq_engine_run turn, and arms the io_uring
 * receive only when the thread is about to sleep.
 */
void fq_engine_recv(struct fq_engine *e, struct fq_uop *op, int fd, void *buf, uint32_t len);

/* As fq_engine_recv, scattering into @msg's iovecs (kept alive until done). */
void fq_engine_recvmsg(struct fq_engine *e, struct fq_uop *op, int fd, struct msghdr *msg);

/*
 * Send @msg on socket @fd; op->done gets the byte count (short sends are
 * normal) or -errno. On a spinning busy-poll engine the send is made at once
 * with a non-blocking sendmsg and its completion is queued for the next
 * fq_engine_run; if the socket cannot take a byte it falls back to an io_uring
 * send, which waits for room without the thread spinning on it.
 */
void fq_engine_sendmsg(struct fq_engine *e, struct fq_uop *op, int fd, struct msghdr *msg,
		       int flags);

/* An SQE whose completion is ignored (e.g. cancel requests). */
struct io_uring_sqe *fq_engine_sqe_noop(struct fq_engine *e);

/*
 * Submit pending SQEs, wait for at least @min_complete completions (or until
 * @timeout_ns passes when > 0; 0 means do not wait at all if min_complete is
 * 0), and dispatch every completion available. Returns the number of
 * completions handled or -errno.
 */
int fq_engine_run(struct fq_engine *e, unsigned min_complete, int64_t timeout_ns);

/* Submit pending SQEs without waiting. */
int fq_engine_flush(struct fq_engine *e);

/*
 * Submit pending SQEs without waiting if a send is among them; otherwise
 * leave them (receives re-armed by the completions just run) for the next
 * fq_engine_run, which submits them with its wait in the same system call.
 */
int fq_engine_flush_sends(struct fq_engine *e);

#endif
