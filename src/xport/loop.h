/* SPDX-License-Identifier: MIT */
/*
 * The reactor loop: what one thread runs. It owns an I/O engine (one
 * io_uring), a set of timers, pollers called on every turn, and an inbox
 * that other threads post messages to. Whatever lives on a loop (a target's
 * connections, a host's qpairs and controllers, a volume) is touched by the
 * loop's thread only; another thread that wants something done there posts a
 * message, which runs on the loop's thread in the order it was posted.
 *
 * Nothing here starts a thread: the owner calls fq_loop_run() (or
 * fq_loop_turn() from its own loop) on the thread it chose, so a program
 * that embeds the loop decides how many threads there are.
 *
 * Timers are a binary min-heap of caller-owned struct fq_timer; arming and
 * cancelling are O(log n) and allocate only when the heap outgrows its
 * room (control path; the I/O path uses no timers of its own). The next
 * deadline bounds how long a turn sleeps in io_uring_enter, so no timer
 * needs an io_uring operation. The inbox is a lock-free stack of
 * caller-owned struct fq_msg that the loop takes whole and reverses; a post
 * that finds it empty wakes the loop through an eventfd read the loop
 * keeps armed on its ring.
 *
 * A file descriptor watch is a one-shot IORING_OP_POLL_ADD on the same
 * ring. Its completion points at a slot the loop owns, not at the caller's
 * struct fq_fd_watch, so a watch disarmed (and freed) while its poll is
 * still in the kernel or its completion already in the CQ ring leaves only
 * the slot behind, which goes back on the spare list when that completion
 * comes in.
 */
#ifndef FQ_XPORT_LOOP_H
#define FQ_XPORT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "xport/engine.h"

#include "fabriq/loop.h"

struct fq_poller;

/* One poll of the poller's work; returns how much it did (0: nothing). */
typedef int (*fq_poller_fn)(struct fq_loop *l, struct fq_poller *p);

struct fq_poller {
	fq_poller_fn fn;
	struct fq_poller *next;
	bool added;
};

struct fq_loop {
	struct fq_engine eng;
	struct fq_timer **heap;
	uint32_t nheap, heap_cap;
	struct fq_poller *pollers;
	struct poll_cursor *cursors; /* runs of the pollers in progress (nested turns) */
	_Atomic(struct fq_msg *) inbox;
	struct fq_msg *fifo, *fifo_tail; /* taken from the inbox, not run yet */
	int evfd;
	struct fq_uop ev_op;
	uint64_t ev_val;
	bool ev_armed;
	bool busy_poll;
	/* fd watches: the loop's half of each armed one; spares for reuse; all ever made */
	struct fq_fd_watch_slot *watch_free, *watch_all;
	_Atomic bool stop;
	uint64_t now_ns; /* the time at the start of the current turn */
};

/*
 * Set up @l (ring, eventfd, an empty heap) in memory the caller owns (a
 * loop embedded in another object); fq_loop_create() allocates one for the public
 * API. @opts->opts_size is not looked at. Returns 0 or -errno.
 */
int fq_loop_init(struct fq_loop *l, const struct fq_loop_opts *opts);
/* Tear down; timers and pollers still registered are forgotten, posted messages dropped. */
void fq_loop_fini(struct fq_loop *l);

static inline struct fq_engine *fq_loop_engine(struct fq_loop *l)
{
	return &l->eng;
}

/* Call @p's function on every turn from now on / no more. Loop thread only. */
void fq_loop_poller_add(struct fq_loop *l, struct fq_poller *p);
void fq_loop_poller_remove(struct fq_loop *l, struct fq_poller *p);

#endif
