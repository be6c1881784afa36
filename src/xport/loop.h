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
 */
#ifndef FQ_XPORT_LOOP_H
#define FQ_XPORT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "xport/engine.h"

struct fq_loop;
struct fq_timer;
struct fq_msg;
struct fq_poller;

typedef void (*fq_timer_fn)(struct fq_loop *l, struct fq_timer *t);
typedef void (*fq_msg_fn)(struct fq_loop *l, struct fq_msg *m);
/* One poll of the poller's work; returns how much it did (0: nothing). */
typedef int (*fq_poller_fn)(struct fq_loop *l, struct fq_poller *p);

struct fq_timer {
	fq_timer_fn fn;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint32_t slot;	      /* heap index + 1; 0 when not armed */
};

struct fq_msg {
	fq_msg_fn fn;
	struct fq_msg *next;
};

struct fq_poller {
	fq_poller_fn fn;
	struct fq_poller *next;
	bool added;
};

struct fq_loop_opts {
	unsigned ring_entries; /* SQ entries of the loop's io_uring; 0 = 256 */
	bool busy_poll;	       /* never sleep in the kernel: spin on the ring */
};

struct fq_loop {
	struct fq_engine eng;
	struct fq_timer **heap;
	uint32_t nheap, heap_cap;
	struct fq_poller *pollers;
	_Atomic(struct fq_msg *) inbox;
	int evfd;
	struct fq_uop ev_op;
	uint64_t ev_val;
	bool ev_armed;
	bool busy_poll;
	_Atomic bool stop;
	uint64_t now_ns; /* the time at the start of the current turn */
};

/* Set up @l (ring, eventfd, an empty heap). Returns 0 or -errno. */
int fq_loop_init(struct fq_loop *l, const struct fq_loop_opts *opts);
/* Tear down; timers and pollers still registered are forgotten, posted messages dropped. */
void fq_loop_fini(struct fq_loop *l);

static inline struct fq_engine *fq_loop_engine(struct fq_loop *l)
{
	return &l->eng;
}

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t fq_loop_now_ns(void);

/*
 * Run @t's function on the loop's thread once @delay_ns have passed (0: on
 * the next turn). Arming an armed timer moves it. Loop thread only.
 * Returns 0 or -ENOMEM.
 */
int fq_timer_arm(struct fq_loop *l, struct fq_timer *t, uint64_t delay_ns);
/* Disarm @t if armed (it will not run). Loop thread only. */
void fq_timer_cancel(struct fq_loop *l, struct fq_timer *t);

static inline bool fq_timer_armed(const struct fq_timer *t)
{
	return t->slot != 0;
}

/* Call @p's function on every turn from now on / no more. Loop thread only. */
void fq_loop_poller_add(struct fq_loop *l, struct fq_poller *p);
void fq_loop_poller_remove(struct fq_loop *l, struct fq_poller *p);

/*
 * Run @m's function on the loop's thread. Any thread; @m must stay valid
 * until its function has run. Messages from one thread run in the order
 * they were posted.
 */
void fq_loop_post(struct fq_loop *l, struct fq_msg *m);

/*
 * One turn: the inbox, due timers, the pollers, then the ring: when none of
 * them had work, wait for a completion up to the next timer or @max_wait_ns
 * (0: do not wait; the busy-poll mode never waits). Returns the work done
 * (messages, timers, poller work, completions) or -errno from the ring.
 */
int fq_loop_turn(struct fq_loop *l, int64_t max_wait_ns);

/* Turn until fq_loop_stop(). Returns 0 or -errno from the ring. */
int fq_loop_run(struct fq_loop *l);
/* Make fq_loop_run() return after its current turn. Any thread. */
void fq_loop_stop(struct fq_loop *l);

#endif
