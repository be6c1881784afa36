/* SPDX-License-Identifier: MIT */
/*
 * libfabriq's event loop, for programs that run the host on a thread of
 * their own choosing (docs/host-api.md, "Embedding the host").
 *
 * A loop owns one io_uring, a set of timers and an inbox other threads post
 * messages to. It starts no thread: whoever created it calls fq_loop_run(),
 * or fq_loop_turn() from a loop of its own, and that thread is the loop's
 * thread. Controllers created with fq_ctrlr_opts.loop and poll groups
 * created with fq_poll_group_opts.loop do all their work (socket I/O,
 * completions, keep-alive, reconnects) in the turns of that loop.
 *
 * Timers, messages and fd watches are caller-owned structs: the loop never
 * allocates for them on the way through, so arming a timer or posting a
 * message cannot fail for want of memory except when the timer heap grows,
 * and a watch only when more are armed at once than ever before.
 */
#ifndef FABRIQ_LOOP_H
#define FABRIQ_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fq_loop;
struct fq_timer;
struct fq_msg;
struct fq_fd_watch;
struct fq_fd_watch_slot;

typedef void (*fq_timer_fn)(struct fq_loop *l, struct fq_timer *t);
typedef void (*fq_msg_fn)(struct fq_loop *l, struct fq_msg *m);
/* @revents: the poll(2) events that were ready (POLLIN, POLLERR, ...), or -errno. */
typedef void (*fq_fd_watch_fn)(struct fq_loop *l, struct fq_fd_watch *w, int revents);

/*
 * A timer: set fn, then arm it. Embed it in your own struct and find that
 * struct from the pointer the function gets. The other fields are the
 * loop's; zero them before first use.
 */
struct fq_timer {
	fq_timer_fn fn;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint32_t slot;	      /* heap index + 1; 0 when not armed */
};

/* A message: set fn, then post it. next is the loop's. */
struct fq_msg {
	fq_msg_fn fn;
	struct fq_msg *next;
};

/*
 * A watch on a file descriptor: set fn, then arm it with fq_loop_watch_fd().
 * Embed it in your own struct. slot is the loop's; zero it before first
 * use (NULL while the watch is not armed).
 */
struct fq_fd_watch {
	fq_fd_watch_fn fn;
	struct fq_fd_watch_slot *slot;
};

struct fq_loop_opts {
	size_t opts_size;      /* sizeof(struct fq_loop_opts) as the caller knows it */
	unsigned ring_entries; /* SQ entries of the loop's io_uring; 0 = 256 */
	bool busy_poll;	       /* never sleep in the kernel: spin on the ring */
};

/** fq_loop_opts_init() - Fill @opts with defaults. @opts_size: sizeof(*opts). */
void fq_loop_opts_init(struct fq_loop_opts *opts, size_t opts_size);

/**
 * fq_loop_create() - Create a loop (its io_uring and wake-up eventfd).
 * @opts: options, or NULL for defaults.
 * Return: 0, -ENOMEM, or the -errno of creating the ring.
 */
int fq_loop_create(const struct fq_loop_opts *opts, struct fq_loop **out);

/**
 * fq_loop_destroy() - Free @l. Destroy or disconnect whatever runs on it
 * first (controllers, poll groups, qpairs); timers still armed are
 * forgotten and messages not yet run are dropped. @l may be NULL.
 */
void fq_loop_destroy(struct fq_loop *l);

/** fq_loop_now_ns() - CLOCK_MONOTONIC in nanoseconds, the loop's clock. */
uint64_t fq_loop_now_ns(void);

/**
 * fq_loop_turn() - One bounded turn: posted messages, due timers, pollers,
 * then the ring. If none of them had work, sleep for a completion up to the
 * next timer or @max_wait_ns (0: never sleep; -1: until something happens).
 * Loop thread only.
 * Return: the work done (0: none), or -errno from the ring.
 */
int fq_loop_turn(struct fq_loop *l, int64_t max_wait_ns);

/** fq_loop_run() - Turn until fq_loop_stop(). Return: 0 or -errno from the ring. */
int fq_loop_run(struct fq_loop *l);

/** fq_loop_stop() - Make fq_loop_run() return after its current turn. Any thread. */
void fq_loop_stop(struct fq_loop *l);

/**
 * fq_loop_post() - Run @m->fn on the loop's thread, at its next turn. Any
 * thread; @m stays the caller's and must stay valid until its function ran.
 * Messages from one thread run in the order they were posted.
 */
void fq_loop_post(struct fq_loop *l, struct fq_msg *m);

/**
 * fq_timer_arm() - Run @t->fn on the loop's thread once @delay_ns passed
 * (0: next turn). Arming an armed timer moves it. Loop thread only.
 * Return: 0 or -ENOMEM.
 */
int fq_timer_arm(struct fq_loop *l, struct fq_timer *t, uint64_t delay_ns);

/** fq_timer_cancel() - Disarm @t if it is armed. Loop thread only. */
void fq_timer_cancel(struct fq_loop *l, struct fq_timer *t);

static inline bool fq_timer_armed(const struct fq_timer *t)
{
	return t->slot != 0;
}

/**
 * fq_loop_watch_fd() - Run @w->fn once, on the loop's thread, when @fd has
 * one of @poll_events (POLLIN, POLLOUT, ...; errors and hang-ups always
 * count). One-shot: the watch is disarmed before its function runs, which
 * may arm it again. The wait is a poll on the loop's own io_uring, so a
 * turn sleeping in fq_loop_turn() wakes when @fd becomes ready. @w stays
 * the caller's; @fd must stay open while the watch is armed. Loop thread only.
 * Return: 0, -EBUSY if @w is armed already, -EINVAL, or -ENOMEM.
 */
int fq_loop_watch_fd(struct fq_loop *l, struct fq_fd_watch *w, int fd, uint32_t poll_events);

/**
 * fq_loop_unwatch_fd() - Disarm @w if it is armed: its function will not
 * run, even if @fd became ready meanwhile, and @w may be freed or armed
 * again as soon as this returns. Loop thread only.
 */
void fq_loop_unwatch_fd(struct fq_loop *l, struct fq_fd_watch *w);

static inline bool fq_fd_watch_armed(const struct fq_fd_watch *w)
{
	return w->slot != NULL;
}

#ifdef __cplusplus
}
#endif

#endif
