/* SPDX-License-Identifier: MIT */
/* The reactor loop: engine, timers, pollers, fd watches and a cross-thread inbox (loop.h). */
#include "xport/loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_DEFAULT_ENTRIES 256
#define HEAP_INITIAL 16

uint64_t fq_loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- timers: a min-heap on deadline; t->slot is its index + 1 ---- */

static void heap_place(struct fq_loop *l, uint32_t i, struct fq_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct fq_loop *l, uint32_t i)
{
	struct fq_timer *t = l->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (l->heap[parent]->deadline_ns <= t->deadline_ns)
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void sift_down(struct fq_loop *l, uint32_t i)
{
	struct fq_timer *t = l->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->deadline_ns < l->heap[c]->deadline_ns)
			c++;
		if (t->deadline_ns <= l->heap[c]->deadline_ns)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

static void heap_remove(struct fq_loop *l, struct fq_timer *t)
{
	uint32_t i = t->slot - 1;
	struct fq_timer *last = l->heap[--l->nheap];

	t->slot = 0;
	if (i == l->nheap)
		return;
	heap_place(l, i, last);
	if (i > 0 && l->heap[(i - 1) / 2]->deadline_ns > last->deadline_ns)
		sift_up(l, i);
	else
		sift_down(l, i);
}

int fq_timer_arm(struct fq_loop *l, struct fq_timer *t, uint64_t delay_ns)
{
	uint64_t now = fq_loop_now_ns();

	if (t->slot)
		heap_remove(l, t);
	if (l->nheap == l->heap_cap) {
		uint32_t cap = l->heap_cap ? l->heap_cap * 2 : HEAP_INITIAL;
		struct fq_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = cap;
	}
	t->deadline_ns = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
	l->heap[l->nheap] = t;
	sift_up(l, l->nheap++);
	return 0;
}

void fq_timer_cancel(struct fq_loop *l, struct fq_timer *t)
{
	if (t->slot)
		heap_remove(l, t);
}

/* Run the timers due at @now; a timer armed again from its function waits for the next turn. */
static int run_timers(struct fq_loop *l, uint64_t now)
{
	uint32_t budget = l->nheap;
	int n = 0;

	while (budget-- && l->nheap && l->heap[0]->deadline_ns <= now) {
		struct fq_timer *t = l->heap[0];

		heap_remove(l, t);
		t->fn(l, t);
		n++;
	}
	return n;
}

/* ---- pollers ---- */

void fq_loop_poller_add(struct fq_loop *l, struct fq_poller *p)
{
	if (p->added)
		return;
	p->next = l->pollers;
	l->pollers = p;
	p->added = true;
}

/*
 * Each run of the pollers keeps its place in a cursor on the loop, not in a
 * local: a poller's work may turn the loop again (a blocking call) and
 * free another poller there, maybe the very one the outer run goes to next.
 * Removing a poller moves every cursor that points at it.
 */
struct poll_cursor {
	struct fq_poller *next;
	struct poll_cursor *up;
};

void fq_loop_poller_remove(struct fq_loop *l, struct fq_poller *p)
{
	for (struct fq_poller **pp = &l->pollers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->added = false;
			for (struct poll_cursor *c = l->cursors; c; c = c->up)
				if (c->next == p)
					c->next = p->next;
			return;
		}
	}
}

static int run_pollers(struct fq_loop *l)
{
	struct poll_cursor cur = {.up = l->cursors};
	int n = 0;

	l->cursors = &cur;
	for (struct fq_poller *p = l->pollers; p; p = cur.next) {
		cur.next = p->next; /* a poller may remove itself, or others */
		n += p->fn(l, p);
	}
	l->cursors = cur.up;
	return n;
}

/* ---- inbox ---- */

static void arm_wake(struct fq_loop *l);

static void wake_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_loop *l = (struct fq_loop *)((char *)op - offsetof(struct fq_loop, ev_op));

	(void)res;
	(void)cqe_flags;
	l->ev_armed = false;
	if (l->evfd >= 0)
		arm_wake(l);
}

static void arm_wake(struct fq_loop *l)
{
	struct io_uring_sqe *sqe;

	if (l->ev_armed)
		return;
	l->ev_op.done = wake_done;
	sqe = fq_engine_sqe(&l->eng, &l->ev_op);
	io_uring_prep_read(sqe, l->evfd, &l->ev_val, sizeof(l->ev_val), 0);
	l->ev_armed = true;
}

static void wake(struct fq_loop *l)
{
	uint64_t one = 1;
	ssize_t rc;

	do {
		rc = write(l->evfd, &one, sizeof(one));
	} while (rc < 0 && errno == EINTR);
	/* EAGAIN: the counter is full, so a wake-up is pending anyway. */
}

void fq_loop_post(struct fq_loop *l, struct fq_msg *m)
{
	struct fq_msg *old = atomic_load_explicit(&l->inbox, memory_order_relaxed);

	do {
		m->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&l->inbox, &old, m, memory_order_release,
							memory_order_relaxed));
	if (!old)
		wake(l); /* the loop may be asleep: only the first post of a batch needs to say so */
}

/*
 * Messages taken from the inbox wait on l->fifo, not on a local list: a
 * message whose function turns the loop again (a blocking host call on an
 * embedded controller does) then runs the ones taken before it first, so
 * each poster's order holds through nested turns as well.
 */
static int run_inbox(struct fq_loop *l)
{
	struct fq_msg *m, *head = NULL, *tail;
	int n = 0;

	/*
	 * Nearly every turn of a busy reactor finds the inbox empty: a plain
	 * load then spares it the locked exchange. A post that races with it
	 * is seen by the check before the turn sleeps, or wakes it.
	 */
	if (!l->fifo && !atomic_load_explicit(&l->inbox, memory_order_relaxed))
		return 0;
	m = atomic_exchange_explicit(&l->inbox, NULL, memory_order_acquire);
	tail = m;

	while (m) { /* the stack holds the newest first: reverse it */
		struct fq_msg *next = m->next;

		m->next = head;
		head = m;
		m = next;
	}
	if (head) {
		if (l->fifo_tail)
			l->fifo_tail->next = head;
		else
			l->fifo = head;
		l->fifo_tail = tail;
	}
	while (l->fifo) {
		m = l->fifo;
		l->fifo = m->next;
		if (!l->fifo)
			l->fifo_tail = NULL;
		m->fn(l, m); /* may free or post @m again */
		n++;
	}
	return n;
}

/* ---- fd watches ---- */

struct fq_fd_watch_slot {
	struct fq_uop op; /* the POLL_ADD; first, so op is the slot */
	struct fq_loop *l;
	struct fq_fd_watch *w;	       /* NULL once disarmed: the completion is dropped */
	struct fq_fd_watch_slot *next; /* on the spare list */
	struct fq_fd_watch_slot *all;  /* every slot, for fq_loop_fini */
};

static void watch_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_fd_watch_slot *s = (struct fq_fd_watch_slot *)op;
	struct fq_loop *l = s->l;
	struct fq_fd_watch *w = s->w;

	(void)cqe_flags;
	/* One-shot: the kernel is done with the slot, so the function may reuse it. */
	s->w = NULL;
	s->next = l->watch_free;
	l->watch_free = s;
	if (!w)
		return; /* disarmed before it fired */
	w->slot = NULL;
	w->fn(l, w, res);
}

int fq_loop_watch_fd(struct fq_loop *l, struct fq_fd_watch *w, int fd, uint32_t poll_events)
{
	struct fq_fd_watch_slot *s;

	if (!l || !w || !w->fn || fd < 0)
		return -EINVAL;
	if (w->slot)
		return -EBUSY;
	s = l->watch_free;
	if (s) {
		l->watch_free = s->next;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->l = l;
		s->op.done = watch_done;
		s->all = l->watch_all;
		l->watch_all = s;
	}
	s->w = w;
	w->slot = s;
	io_uring_prep_poll_add(fq_engine_sqe(&l->eng, &s->op), fd, poll_events);
	return 0;
}

/*
 * The slot stays out of use until its poll completes: cancelled by the
 * POLL_REMOVE sent here (-ECANCELED), or already done and waiting in the CQ
 * ring (the remove then finds nothing). Either way that completion finds
 * no watch and only recycles the slot. The remove is submitted before any
 * later poll that reuses the slot, SQEs being consumed in order.
 */
void fq_loop_unwatch_fd(struct fq_loop *l, struct fq_fd_watch *w)
{
	struct fq_fd_watch_slot *s = w ? w->slot : NULL;

	if (!s)
		return;
	w->slot = NULL;
	s->w = NULL;
	io_uring_prep_poll_remove(fq_engine_sqe_noop(&l->eng), (uint64_t)(uintptr_t)&s->op);
}

/* ---- the loop ---- */

int fq_loop_init(struct fq_loop *l, const struct fq_loop_opts *opts)
{
	unsigned entries = opts && opts->ring_entries ? opts->ring_entries : LOOP_DEFAULT_ENTRIES;
	int rc;

	memset(l, 0, sizeof(*l));
	l->busy_poll = opts && opts->busy_poll;
	atomic_init(&l->inbox, NULL);
	atomic_init(&l->stop, false);
	l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->evfd < 0)
		return -errno;
	rc = fq_engine_init_poll(&l->eng, entries, l->busy_poll);
	l->eng.loop = l;
	if (rc) {
		close(l->evfd);
		l->evfd = -1;
		return rc;
	}
	arm_wake(l);
	return 0;
}

void fq_loop_fini(struct fq_loop *l)
{
	int fd = l->evfd;

	/* Watches still armed are forgotten: no function runs from here on. */
	for (struct fq_fd_watch_slot *s = l->watch_all; s; s = s->all)
		s->w = NULL;
	/* Let the armed eventfd read finish before the ring goes away. */
	l->evfd = -1;
	while (l->ev_armed) {
		uint64_t one = 1;

		if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
		fq_engine_run(&l->eng, 1, 10000000);
	}
	fq_engine_fini(&l->eng);
	while (l->watch_all) { /* the ring is gone, and with it every poll */
		struct fq_fd_watch_slot *s = l->watch_all;

		l->watch_all = s->all;
		free(s);
	}
	l->watch_free = NULL;
	close(fd);
	free(l->heap);
	l->heap = NULL;
	l->nheap = l->heap_cap = 0;
	l->pollers = NULL;
	l->fifo = l->fifo_tail = NULL;
}

void fq_loop_opts_init(struct fq_loop_opts *opts, size_t opts_size)
{
	struct fq_loop_opts d = {.opts_size = sizeof(d)};

	if (!opts)
		return;
	if (opts_size > sizeof(d))
		opts_size = sizeof(d);
	memcpy(opts, &d, opts_size);
	if (opts_size >= sizeof(size_t))
		opts->opts_size = opts_size;
}

int fq_loop_create(const struct fq_loop_opts *opts, struct fq_loop **out)
{
	struct fq_loop_opts o = {.opts_size = sizeof(o)};
	struct fq_loop *l;
	int rc;

	if (!out)
		return -EINVAL;
	/* Take only the fields the caller's version of the struct has. */
	if (opts && opts->opts_size >= offsetof(struct fq_loop_opts, ring_entries) +
					       sizeof(opts->ring_entries))
		o.ring_entries = opts->ring_entries;
	if (opts &&
	    opts->opts_size >= offsetof(struct fq_loop_opts, busy_poll) + sizeof(opts->busy_poll))
		o.busy_poll = opts->busy_poll;
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = fq_loop_init(l, &o);
	if (rc) {
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void fq_loop_destroy(struct fq_loop *l)
{
	if (!l)
		return;
	fq_loop_fini(l);
	free(l);
}

int fq_loop_turn(struct fq_loop *l, int64_t max_wait_ns)
{
	int work, rc;
	int64_t wait = max_wait_ns;

	l->now_ns = fq_loop_now_ns();
	work = run_inbox(l);
	work += run_timers(l, l->now_ns);
	work += run_pollers(l);
	if (work || l->busy_poll || atomic_load_explicit(&l->inbox, memory_order_relaxed)) {
		wait = 0;
	} else if (l->nheap && wait != 0) { /* a spinning turn reads the clock once */
		uint64_t now = fq_loop_now_ns(), due = l->heap[0]->deadline_ns;
		int64_t until = due > now ? (int64_t)(due - now) : 0;

		if (wait < 0 || until < wait)
			wait = until;
	}
	if (wait == 0)
		rc = fq_engine_run(&l->eng, 0, 0);
	else
		rc = fq_engine_run(&l->eng, 1,
				   wait > 0 ? wait : 0); /* < 0: until something happens */
	if (rc < 0)
		return rc;
	return work + rc;
}

int fq_loop_run(struct fq_loop *l)
{
	while (!atomic_load_explicit(&l->stop, memory_order_acquire)) {
		int rc = fq_loop_turn(l, -1);

		if (rc < 0)
			return rc;
	}
	atomic_store_explicit(&l->stop, false, memory_order_relaxed);
	return 0;
}

void fq_loop_stop(struct fq_loop *l)
{
	atomic_store_explicit(&l->stop, true, memory_order_release);
	wake(l); /* a sleeping loop sees the flag after its eventfd read completes */
}
