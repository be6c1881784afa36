/* SPDX-License-Identifier: MIT */
/*
 * The reactor loop: timers in deadline order (cancel, re-arm, arming from a
 * timer), pollers, the inbox under concurrent posters (every message once,
 * each poster's in order, all on the loop's thread), a sleeping loop woken
 * by a post and by stop, I/O on the loop's ring, fd watches (once per
 * arming, re-armed from their function, never after being disarmed, even
 * with the poll's completion already in the ring, a sleeping turn woken by
 * the fd), and no thread of its own.
 * Time is only checked from below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xport/loop.h"

#define MS 1000000ull

static int setup(void **state)
{
	struct fq_loop *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	assert_int_equal(fq_loop_init(l, NULL), 0);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	fq_loop_fini(*state);
	free(*state);
	return 0;
}

struct rec_timer {
	struct fq_timer t;
	int id;
	int *order;
	int *n;
	uint64_t fired_ns;
};

static void rec_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct rec_timer *r = (struct rec_timer *)t;

	(void)l;
	r->fired_ns = fq_loop_now_ns();
	r->order[(*r->n)++] = r->id;
}

static void turn_until(struct fq_loop *l, const int *n, int want)
{
	uint64_t end = fq_loop_now_ns() + 10000 * MS;

	while (*n < want) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		assert_true(fq_loop_now_ns() < end);
	}
}

/* 64 timers armed in a scrambled order fire in deadline order, never early. */
static void test_timer_order(void **state)
{
	struct fq_loop *l = *state;
	struct rec_timer r[64];
	int order[64], n = 0;
	uint64_t t0 = fq_loop_now_ns();

	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64; /* every index once, scrambled */

		memset(&r[k], 0, sizeof(r[k]));
		r[k].t.fn = rec_fn;
		r[k].id = k;
		r[k].order = order;
		r[k].n = &n;
		assert_int_equal(fq_timer_arm(l, &r[k].t, (uint64_t)(k + 1) * MS / 2), 0);
		assert_true(fq_timer_armed(&r[k].t));
	}
	turn_until(l, &n, 64);
	/*
	 * Deadlines are when each was armed plus its delay (arming takes time
	 * too): they fire in the order of those deadlines, none before its own.
	 */
	for (int i = 0; i < 64; i++) {
		assert_false(fq_timer_armed(&r[order[i]].t));
		assert_true(r[order[i]].fired_ns >= r[order[i]].t.deadline_ns);
		if (i)
			assert_true(r[order[i - 1]].t.deadline_ns <= r[order[i]].t.deadline_ns);
		assert_true(r[i].fired_ns - t0 >= (uint64_t)(i + 1) * MS / 2);
	}
}

/* Cancelled timers never run; re-arming moves a timer instead of adding it twice. */
static void test_cancel_rearm(void **state)
{
	struct fq_loop *l = *state;
	struct rec_timer r[8];
	int order[8], n = 0;

	for (int i = 0; i < 8; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].t.fn = rec_fn;
		r[i].id = i;
		r[i].order = order;
		r[i].n = &n;
		assert_int_equal(fq_timer_arm(l, &r[i].t, (uint64_t)(i + 1) * MS), 0);
	}
	fq_timer_cancel(l, &r[2].t);
	fq_timer_cancel(l, &r[5].t);
	fq_timer_cancel(l, &r[5].t); /* twice is harmless */
	assert_false(fq_timer_armed(&r[5].t));
	assert_int_equal(fq_timer_arm(l, &r[0].t, 20 * MS), 0); /* 0 moves to the end */
	assert_int_equal(l->nheap, 6);
	turn_until(l, &n, 6);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(order[2], 4);
	assert_int_equal(order[3], 6);
	assert_int_equal(order[4], 7);
	assert_int_equal(order[5], 0);
	for (int i = 0; i < 20; i++)
		assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(n, 6);
}

struct periodic {
	struct fq_timer t;
	int runs;
};

static void periodic_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct periodic *p = (struct periodic *)t;

	if (++p->runs < 5)
		assert_int_equal(fq_timer_arm(l, t, MS), 0);
}

/* A timer that arms itself again runs once per turn at most and keeps going. */
static void test_periodic(void **state)
{
	struct fq_loop *l = *state;
	struct periodic p = {.t.fn = periodic_fn};
	uint64_t t0 = fq_loop_now_ns();

	assert_int_equal(fq_timer_arm(l, &p.t, 0), 0);
	turn_until(l, &p.runs, 5);
	assert_true(fq_loop_now_ns() - t0 >= 4 * MS);
	assert_false(fq_timer_armed(&p.t));
}

struct counter_poller {
	struct fq_poller p;
	int calls;
	int stop_after;
};

static int count_fn(struct fq_loop *l, struct fq_poller *p)
{
	struct counter_poller *c = (struct counter_poller *)p;

	if (++c->calls == c->stop_after)
		fq_loop_poller_remove(l, p);
	return 0;
}

/* Pollers run every turn until removed, also from inside their own call. */
static void test_pollers(void **state)
{
	struct fq_loop *l = *state;
	struct counter_poller a = {.p.fn = count_fn, .stop_after = 3};
	struct counter_poller b = {.p.fn = count_fn, .stop_after = -1};

	fq_loop_poller_add(l, &a.p);
	fq_loop_poller_add(l, &b.p);
	fq_loop_poller_add(l, &b.p); /* twice is once */
	for (int i = 0; i < 10; i++)
		assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(a.calls, 3);
	assert_int_equal(b.calls, 10);
	fq_loop_poller_remove(l, &b.p);
	assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(b.calls, 10);
}

struct remover {
	struct fq_poller p;
	struct counter_poller *victim;
	int calls;
};

static int remover_fn(struct fq_loop *l, struct fq_poller *p)
{
	struct remover *r = (struct remover *)p;

	if (++r->calls == 1) {
		/* A blocking call would turn the loop here, then free a poller. */
		assert_true(fq_loop_turn(l, 0) >= 0);
		fq_loop_poller_remove(l, &r->victim->p);
	}
	return 0;
}

/* A poller removed by the one before it, after a nested turn, does not run again. */
static void test_pollers_nested_remove(void **state)
{
	struct fq_loop *l = *state;
	struct counter_poller victim = {.p.fn = count_fn, .stop_after = -1};
	struct remover r = {.p.fn = remover_fn, .victim = &victim};

	fq_loop_poller_add(l, &victim.p);
	fq_loop_poller_add(l, &r.p); /* runs first: added last */
	assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(r.calls, 2);	   /* once, and once in the nested turn */
	assert_int_equal(victim.calls, 1); /* only in the nested turn */
	assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(victim.calls, 1);
	fq_loop_poller_remove(l, &r.p);
}

#define POSTERS 4
#define PER_POSTER 20000

struct tmsg {
	struct fq_msg m;
	int poster, seq;
};

struct inbox_test {
	struct fq_loop *l;
	pthread_t loop_thread;
	int last_seq[POSTERS];
	int received;
	int wrong_thread, out_of_order;
	struct tmsg *msgs[POSTERS];
};

static struct inbox_test *g_it;

static void tmsg_fn(struct fq_loop *l, struct fq_msg *m)
{
	struct tmsg *t = (struct tmsg *)m;

	(void)l;
	if (!pthread_equal(pthread_self(), g_it->loop_thread))
		g_it->wrong_thread++;
	if (t->seq != g_it->last_seq[t->poster] + 1)
		g_it->out_of_order++;
	g_it->last_seq[t->poster] = t->seq;
	g_it->received++;
}

static void *poster_main(void *arg)
{
	struct tmsg *m = arg;

	for (int i = 0; i < PER_POSTER; i++) {
		fq_loop_post(g_it->l, &m[i].m);
		if (i % 1000 == 0)
			usleep(100); /* let the loop go to sleep now and then */
	}
	return NULL;
}

/* ---- nested turns keep the inbox order ---- */

struct nmsg {
	struct fq_msg m;
	int id;
	int *order, *n;
	struct nmsg *post; /* posted, then the loop turned from inside, as a blocking call does */
};

static void nmsg_fn(struct fq_loop *l, struct fq_msg *m)
{
	struct nmsg *x = (struct nmsg *)m;

	x->order[(*x->n)++] = x->id;
	if (x->post) {
		fq_loop_post(l, &x->post->m);
		assert_true(fq_loop_turn(l, 0) >= 0);
	}
}

/*
 * 1, 2, 3 posted; 1 posts 4 and turns the loop inside its function. The
 * nested turn runs 2 and 3, taken with 1, before 4: 1 2 3 4.
 */
static void test_inbox_nested(void **state)
{
	struct fq_loop *l = *state;
	int order[8] = {0}, n = 0;
	struct nmsg m[4];

	for (int i = 0; i < 4; i++)
		m[i] = (struct nmsg){.m.fn = nmsg_fn, .id = i + 1, .order = order, .n = &n};
	m[0].post = &m[3];
	for (int i = 0; i < 3; i++)
		fq_loop_post(l, &m[i].m);
	assert_true(fq_loop_turn(l, 0) >= 0);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], i + 1);
}

/* Four threads post 80,000 messages: each runs once, on the loop, in each poster's order. */
static void test_inbox(void **state)
{
	struct inbox_test it = {.l = *state, .loop_thread = pthread_self()};
	pthread_t th[POSTERS];
	uint64_t end = fq_loop_now_ns() + 30000 * MS;

	g_it = &it;
	for (int p = 0; p < POSTERS; p++) {
		it.last_seq[p] = -1;
		it.msgs[p] = calloc(PER_POSTER, sizeof(struct tmsg));
		assert_non_null(it.msgs[p]);
		for (int i = 0; i < PER_POSTER; i++)
			it.msgs[p][i] = (struct tmsg){.m.fn = tmsg_fn, .poster = p, .seq = i};
	}
	for (int p = 0; p < POSTERS; p++)
		assert_int_equal(pthread_create(&th[p], NULL, poster_main, it.msgs[p]), 0);
	/* The loop sleeps without limit between posts: only the wake-ups move it. */
	while (it.received < POSTERS * PER_POSTER) {
		assert_true(fq_loop_turn(it.l, -1) >= 0);
		assert_true(fq_loop_now_ns() < end);
	}
	for (int p = 0; p < POSTERS; p++)
		pthread_join(th[p], NULL);
	assert_int_equal(it.received, POSTERS * PER_POSTER);
	assert_int_equal(it.wrong_thread, 0);
	assert_int_equal(it.out_of_order, 0);
	for (int p = 0; p < POSTERS; p++) {
		assert_int_equal(it.last_seq[p], PER_POSTER - 1);
		free(it.msgs[p]);
	}
}

static void *stopper_main(void *arg)
{
	usleep(50000);
	fq_loop_stop(arg);
	return NULL;
}

/* fq_loop_run sleeps with nothing to do and returns when another thread stops it. */
static void test_run_stop(void **state)
{
	struct fq_loop *l = *state;
	pthread_t th;
	uint64_t t0 = fq_loop_now_ns();

	assert_int_equal(pthread_create(&th, NULL, stopper_main, l), 0);
	assert_int_equal(fq_loop_run(l), 0);
	assert_true(fq_loop_now_ns() - t0 >= 50 * MS);
	pthread_join(th, NULL);
}

struct read_op {
	struct fq_uop op;
	int res;
	bool done;
};

static void read_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct read_op *r = (struct read_op *)op;

	(void)cqe_flags;
	r->res = res;
	r->done = true;
}

/* An operation on the loop's ring completes through the loop's turns. */
static void test_ring_io(void **state)
{
	struct fq_loop *l = *state;
	struct read_op r = {.op.done = read_done};
	int fds[2];
	char buf[8];

	assert_int_equal(pipe(fds), 0);
	io_uring_prep_read(fq_engine_sqe(fq_loop_engine(l), &r.op), fds[0], buf, sizeof(buf), 0);
	for (int i = 0; i < 5; i++)
		assert_true(fq_loop_turn(l, MS) >= 0);
	assert_false(r.done);
	assert_int_equal(write(fds[1], "fabriq", 6), 6);
	for (int i = 0; i < 100 && !r.done; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	assert_true(r.done);
	assert_int_equal(r.res, 6);
	assert_memory_equal(buf, "fabriq", 6);
	close(fds[0]);
	close(fds[1]);
}

struct wtest {
	struct fq_fd_watch w;
	int fd;
	int fired;
	int revents;
	int rearm; /* times the function arms the watch again */
};

static void wtest_fn(struct fq_loop *l, struct fq_fd_watch *w, int revents)
{
	struct wtest *t = (struct wtest *)w;

	t->fired++;
	t->revents = revents;
	assert_false(fq_fd_watch_armed(w)); /* disarmed before its function runs */
	if (t->rearm > 0) {
		t->rearm--;
		assert_int_equal(fq_loop_watch_fd(l, w, t->fd, POLLIN), 0);
	}
}

/*
 * A watch on a pipe fires once it is readable, once, even though the data
 * stays unread and more comes; armed again, it fires again.
 */
static void test_watch_once(void **state)
{
	struct fq_loop *l = *state;
	struct wtest t = {.w.fn = wtest_fn}, q = {.w.fn = wtest_fn};
	int fds[2], quiet[2];

	assert_int_equal(pipe(fds), 0);
	t.fd = fds[0];
	assert_false(fq_fd_watch_armed(&t.w));
	assert_int_equal(fq_loop_watch_fd(l, &t.w, fds[0], POLLIN), 0);
	assert_true(fq_fd_watch_armed(&t.w));
	assert_int_equal(fq_loop_watch_fd(l, &t.w, fds[0], POLLIN), -EBUSY);
	for (int i = 0; i < 5; i++)
		assert_true(fq_loop_turn(l, MS) >= 0);
	assert_int_equal(t.fired, 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	for (int i = 0; i < 100 && !t.fired; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	assert_int_equal(t.fired, 1);
	assert_true(t.revents > 0 && (t.revents & POLLIN));
	assert_false(fq_fd_watch_armed(&t.w));
	assert_int_equal(write(fds[1], "y", 1), 1); /* more data: still nothing armed */
	for (int i = 0; i < 5; i++)
		assert_true(fq_loop_turn(l, MS) >= 0);
	assert_int_equal(t.fired, 1);
	/*
	 * Two watches armed now: only the one whose fd is ready fires (nothing
	 * left of the first poll may land on either of them).
	 */
	assert_int_equal(pipe(quiet), 0);
	q.fd = quiet[0];
	assert_int_equal(fq_loop_watch_fd(l, &q.w, quiet[0], POLLIN), 0);
	assert_int_equal(fq_loop_watch_fd(l, &t.w, fds[0], POLLIN), 0);
	for (int i = 0; i < 100 && t.fired < 2; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	assert_int_equal(t.fired, 2);
	assert_int_equal(q.fired, 0);
	assert_true(fq_fd_watch_armed(&q.w));
	fq_loop_unwatch_fd(l, &q.w);
	close(quiet[0]);
	close(quiet[1]);
	close(fds[0]);
	close(fds[1]);
}

/* Re-armed from its own function, a watch fires once per arming. */
static void test_watch_rearm(void **state)
{
	struct fq_loop *l = *state;
	struct wtest t = {.w.fn = wtest_fn, .rearm = 3};
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	t.fd = fds[0];
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(fq_loop_watch_fd(l, &t.w, fds[0], POLLIN), 0);
	for (int i = 0; i < 100 && t.fired < 4; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	assert_int_equal(t.fired, 4);
	assert_false(fq_fd_watch_armed(&t.w));
	for (int i = 0; i < 5; i++)
		assert_true(fq_loop_turn(l, MS) >= 0);
	assert_int_equal(t.fired, 4);
	close(fds[0]);
	close(fds[1]);
}

static void never_fn(struct fq_loop *l, struct fq_fd_watch *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	fail_msg("a disarmed watch fired");
}

/*
 * Disarmed watches never fire and their memory is free to go at once:
 * one disarmed before its poll was submitted, one while the poll waits in
 * the kernel, one whose completion is already in the CQ ring. Each was
 * heap memory, freed right after fq_loop_unwatch_fd (a sanitized build
 * sees any later touch). Disarming one that is not armed does nothing.
 */
static void test_unwatch(void **state)
{
	struct fq_loop *l = *state;
	struct fq_fd_watch *w[3];
	struct wtest after = {.w.fn = wtest_fn};
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < 3; i++) {
		w[i] = calloc(1, sizeof(*w[i]));
		assert_non_null(w[i]);
		w[i]->fn = never_fn;
	}
	fq_loop_unwatch_fd(l, w[0]); /* not armed: nothing to do */
	assert_int_equal(fq_loop_watch_fd(l, w[0], fds[0], POLLIN), 0);
	fq_loop_unwatch_fd(l, w[0]);
	assert_false(fq_fd_watch_armed(w[0]));
	free(w[0]);
	assert_int_equal(fq_loop_watch_fd(l, w[1], fds[0], POLLIN), 0);
	assert_true(fq_loop_turn(l, MS) >= 0); /* the poll is in the kernel now */
	fq_loop_unwatch_fd(l, w[1]);
	free(w[1]);
	assert_int_equal(write(fds[1], "x", 1), 1);
	/* Readable at submission: the poll completes inside the submit call. */
	assert_int_equal(fq_loop_watch_fd(l, w[2], fds[0], POLLIN), 0);
	assert_int_equal(fq_engine_flush(fq_loop_engine(l)), 0);
	fq_loop_unwatch_fd(l, w[2]);
	free(w[2]);
	for (int i = 0; i < 10; i++)
		assert_true(fq_loop_turn(l, MS) >= 0);
	/* The loop still watches: a new watch on the same fd fires. */
	after.fd = fds[0];
	assert_int_equal(fq_loop_watch_fd(l, &after.w, fds[0], POLLIN), 0);
	for (int i = 0; i < 100 && !after.fired; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	assert_int_equal(after.fired, 1);
	close(fds[0]);
	close(fds[1]);
}

static void *late_writer(void *arg)
{
	usleep(50000);
	if (write(*(int *)arg, "x", 1) != 1)
		abort();
	return NULL;
}

/*
 * A turn with no limit on its sleep, no timer and nothing posted returns
 * because the watched fd became readable (it would hang otherwise).
 */
static void test_watch_wakes_turn(void **state)
{
	struct fq_loop *l = *state;
	struct wtest t = {.w.fn = wtest_fn};
	pthread_t th;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	t.fd = fds[0];
	assert_int_equal(fq_loop_watch_fd(l, &t.w, fds[0], POLLIN), 0);
	assert_int_equal(pthread_create(&th, NULL, late_writer, &fds[1]), 0);
	while (!t.fired)
		assert_true(fq_loop_turn(l, -1) >= 0);
	assert_int_equal(t.fired, 1);
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);
}

/* A loop torn down with a watch armed runs no function and leaks nothing. */
static void test_watch_fini(void **state)
{
	struct fq_loop l2;
	struct fq_fd_watch w = {.fn = never_fn};
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fq_loop_init(&l2, NULL), 0);
	assert_int_equal(fq_loop_watch_fd(&l2, &w, fds[0], POLLIN), 0);
	assert_true(fq_loop_turn(&l2, MS) >= 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	fq_loop_fini(&l2);
	close(fds[0]);
	close(fds[1]);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A loop, used for timers, posts and I/O, adds no thread to the process. */
static void test_no_threads(void **state)
{
	struct fq_loop l2;
	struct rec_timer r = {.t.fn = rec_fn};
	int order[1], n = 0, before = count_threads();

	(void)state;
	r.order = order;
	r.n = &n;
	assert_int_equal(fq_loop_init(&l2, &(struct fq_loop_opts){.ring_entries = 32}), 0);
	assert_int_equal(fq_timer_arm(&l2, &r.t, MS), 0);
	turn_until(&l2, &n, 1);
	assert_int_equal(count_threads(), before);
	fq_loop_fini(&l2);
}

/* Busy-poll mode never sleeps: a turn with nothing to do returns at once. */
static void test_busy_poll(void **state)
{
	struct fq_loop l2;

	(void)state;
	assert_int_equal(fq_loop_init(&l2, &(struct fq_loop_opts){.busy_poll = true}), 0);
	for (int i = 0; i < 100; i++)
		assert_true(fq_loop_turn(&l2, -1) >= 0); /* would hang if it slept */
	fq_loop_fini(&l2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_timer_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_rearm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pollers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pollers_nested_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbox_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_rearm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_wakes_turn, setup, teardown),
		cmocka_unit_test(test_watch_fini),
		cmocka_unit_test(test_no_threads),
		cmocka_unit_test(test_busy_poll),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
