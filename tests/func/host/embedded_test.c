/* SPDX-License-Identifier: MIT */
/*
 * The host embedded on a caller's loop (fq_ctrlr_opts.loop,
 * fq_poll_group_opts.loop): a target started through fabriq/target.h in the
 * same process, one thread turning one loop that carries the controller, a
 * qpair of its own and a qpair in a loop poll group. Writes and reads are
 * checked byte for byte, the target drops the controller
 * (fq_target_live_disconnect) and the host reconnects from the loop's
 * timers, and through all of it the process gains no thread: the count of
 * /proc/self/task is the same before the loop exists and after every step
 * (io_uring's own iou-wrk workers come and go with load and are not
 * counted). A discovery controller on the same loop. Giving up after the
 * controller loss timeout when the target is gone for good. A threaded controller
 * whose qpair is in a poll group on a loop. And the public loop API alone:
 * timers, a message posted from another thread, fq_loop_run() and
 * fq_loop_stop().
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>

#include "fabriq/host.h"
#include "fabriq/loop.h"
#include "fabriq/target.h"

#define NQN "nqn.2026-11.io.fabriq:embedded"
#define MS 1000000ull
#define BS 4096u
#define NBLK 16u /* blocks per I/O */
#define NIO 32u	 /* I/Os per round */

/* Threads of this process, io_uring workers excepted. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* gone meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (!strncmp(comm, "iou-wrk", 7) || !strncmp(comm, "iou-sqp", 7))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static struct fq_target *start_target(uint16_t *port)
{
	struct fq_target_port_info pi;
	struct fq_target_opts opts;
	struct fq_target *t;

	fq_target_opts_init(&opts, sizeof(opts));
	opts.reactors = 1;
	opts.log_level = FQ_LOG_WARN;
	assert_int_equal(fq_target_create(&opts, &t), 0);
	assert_int_equal(fq_target_add_port(t, "io", "127.0.0.1:0", false), 0);
	assert_int_equal(fq_target_add_subsystem(t, NQN), 0);
	assert_int_equal(fq_target_add_ns(t, NQN, "ram:64M,bs=4096"), 0);
	if (fq_target_start(t))
		fail_msg("start: %s", fq_target_last_error(t));
	assert_int_equal(fq_target_get_port(t, 0, &pi), 0);
	*port = pi.port;
	return t;
}

struct io_round {
	uint32_t done, errors;
};

static void io_cb(void *arg, const struct fq_cpl *cpl)
{
	struct io_round *r = arg;

	r->done++;
	if (fq_cpl_is_error(cpl))
		r->errors++;
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 12));
}

/* Turn @l until @r has @want completions; fail after 10 s. */
static void turn_until_done(struct fq_loop *l, const struct io_round *r, uint32_t want)
{
	uint64_t end = fq_loop_now_ns() + 10000 * MS;

	while (r->done < want) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		if (fq_loop_now_ns() > end)
			fail_msg("%u of %u commands completed in 10 s", r->done, want);
	}
}

/*
 * NIO writes then NIO reads of NBLK blocks each, submitted at once on @qp,
 * completed by turning @l (the embedding program's own loop), then checked.
 */
static void write_read_verify(struct fq_loop *l, struct fq_ns *ns, struct fq_qpair *qp,
			      uint64_t lba0, uint32_t seed)
{
	size_t len = (size_t)NIO * NBLK * BS;
	uint8_t *w = malloc(len), *rd = calloc(1, len);
	struct io_round r = {0};

	assert_non_null(w);
	assert_non_null(rd);
	fill(w, len, seed);
	for (uint32_t i = 0; i < NIO; i++)
		assert_int_equal(fq_ns_write(ns, qp, w + (size_t)i * NBLK * BS,
					     lba0 + (uint64_t)i * NBLK, NBLK, io_cb, &r, 0),
				 0);
	turn_until_done(l, &r, NIO);
	assert_int_equal(r.errors, 0);
	r.done = 0;
	for (uint32_t i = 0; i < NIO; i++)
		assert_int_equal(fq_ns_read(ns, qp, rd + (size_t)i * NBLK * BS,
					    lba0 + (uint64_t)i * NBLK, NBLK, io_cb, &r, 0),
				 0);
	turn_until_done(l, &r, NIO);
	assert_int_equal(r.errors, 0);
	assert_memory_equal(w, rd, len);

	/* The blocking calls work on the loop's thread too: they turn it. */
	memset(rd, 0, len);
	fill(w, NBLK * BS, seed + 1);
	assert_int_equal(fq_ns_write_sync(ns, qp, w, lba0, NBLK, 0, NULL), 0);
	assert_int_equal(fq_ns_read_sync(ns, qp, rd, lba0, NBLK, NULL), 0);
	assert_memory_equal(w, rd, (size_t)NBLK * BS);
	free(w);
	free(rd);
}

struct states {
	int resetting, live;
};

static void state_cb(void *arg, enum fq_ctrlr_state s)
{
	struct states *st = arg;

	if (s == FQ_CTRLR_RESETTING)
		st->resetting++;
	else if (s == FQ_CTRLR_LIVE)
		st->live++;
}

static void test_embedded_host(void **state)
{
	struct fq_poll_group_opts pgo;
	struct fq_ctrlr_opts co;
	struct fq_qpair_opts qo;
	struct fq_poll_group *pg;
	struct fq_qpair *qp, *qp2;
	struct fq_ctrlr *ctrlr;
	struct states st = {0};
	struct fq_target *t;
	struct fq_loop *l;
	struct fq_trid trid;
	struct fq_ns *ns;
	uint16_t port;
	struct fq_disc_entry *ents;
	uint64_t end;
	char s[512];
	int threads, n, i;

	(void)state;
	t = start_target(&port);
	threads = count_threads();

	assert_int_equal(fq_loop_create(NULL, &l), 0);
	fq_ctrlr_opts_init(&co, sizeof(co));
	co.loop = l;
	co.reconnect_delay_ms = 100;
	co.keep_alive_timeout_ms = 2000; /* a few Keep Alives during the test */
	co.state_cb = state_cb;
	co.state_cb_arg = &st;
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	if (fq_ctrlr_connect(&trid, &co, &ctrlr))
		fail_msg("connect: %s", fq_last_error());
	assert_int_equal(fq_ctrlr_get_state(ctrlr), FQ_CTRLR_LIVE);
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	assert_int_equal(fq_ns_get_sector_size(ns), BS);

	/* A qpair on the controller's loop, and one in a poll group on it. */
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);
	fq_poll_group_opts_init(&pgo, sizeof(pgo));
	pgo.loop = l;
	assert_int_equal(fq_poll_group_create_opts(&pgo, &pg), 0);
	fq_qpair_opts_init(&qo, sizeof(qo));
	qo.poll_group = pg;
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, &qo, &qp2), 0);
	assert_int_equal(count_threads(), threads);

	write_read_verify(l, ns, qp, 0, 1);
	write_read_verify(l, ns, qp2, 1024, 2);
	/* Admin commands complete in the loop's turns as well. */
	assert_int_equal(fq_ctrlr_keep_alive(ctrlr, NULL), 0);
	assert_int_equal(count_threads(), threads);

	/* Idle for longer than KATO: Keep Alive must come from the loop's timers. */
	end = fq_loop_now_ns() + 2500 * MS;
	while (fq_loop_now_ns() < end)
		assert_true(fq_loop_turn(l, 100 * MS) >= 0);
	assert_int_equal(fq_ctrlr_get_state(ctrlr), FQ_CTRLR_LIVE);
	assert_int_equal(fq_ctrlr_get_reconnects(ctrlr), 0);

	/* The target drops the controller; the loop's turns bring it back. */
	assert_int_equal(fq_target_live_disconnect(t, fq_ctrlr_get_cntlid(ctrlr)), 0);
	end = fq_loop_now_ns() + 20000 * MS;
	while (fq_ctrlr_get_reconnects(ctrlr) < 1 || fq_qpair_get_state(qp) != FQ_QPAIR_LIVE ||
	       fq_qpair_get_state(qp2) != FQ_QPAIR_LIVE) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		assert_int_not_equal(fq_ctrlr_get_state(ctrlr), FQ_CTRLR_FAILED);
		if (fq_loop_now_ns() > end)
			fail_msg("no reconnect within 20 s (state %s)",
				 fq_ctrlr_state_name(fq_ctrlr_get_state(ctrlr)));
	}
	assert_true(st.resetting >= 1);
	assert_true(st.live >= 2);
	assert_int_equal(count_threads(), threads);
	write_read_verify(l, ns, qp, 2048, 3);
	write_read_verify(l, ns, qp2, 3072, 4);
	assert_int_equal(count_threads(), threads);

	/* A discovery controller on the same loop. */
	snprintf(s, sizeof(s), "traddr:127.0.0.1 trsvcid:%u", port);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	n = fq_discover(&trid, &co, 0, &ents);
	assert_true(n >= 1);
	for (i = 0; i < n && strcmp(ents[i].subnqn, NQN); i++)
		;
	assert_true(i < n);
	free(ents);
	assert_int_equal(count_threads(), threads);

	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_qpair_free(qp2), 0);
	assert_int_equal(fq_poll_group_destroy(pg), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	fq_loop_destroy(l);
	assert_int_equal(count_threads(), threads);
	fq_target_destroy(t);
}

/*
 * The target goes away for good: the reconnect timer retries every
 * reconnect_delay_ms until ctrl_loss_timeout_ms, then the controller fails;
 * I/O is refused, and freeing and disconnecting still work.
 */
static void test_embedded_gives_up(void **state)
{
	struct fq_ctrlr_opts co;
	struct states st = {0};
	struct fq_ctrlr *ctrlr;
	struct fq_target *t;
	struct fq_qpair *qp;
	struct fq_loop *l;
	struct fq_trid trid;
	struct fq_ns *ns;
	uint8_t buf[BS];
	uint64_t t0, end;
	uint16_t port;
	char s[512];

	(void)state;
	t = start_target(&port);
	assert_int_equal(fq_loop_create(NULL, &l), 0);
	fq_ctrlr_opts_init(&co, sizeof(co));
	co.loop = l;
	co.reconnect_delay_ms = 100;
	co.ctrl_loss_timeout_ms = 800;
	co.state_cb = state_cb;
	co.state_cb_arg = &st;
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	if (fq_ctrlr_connect(&trid, &co, &ctrlr))
		fail_msg("connect: %s", fq_last_error());
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(fq_ns_write_sync(ns, qp, buf, 0, 1, 0, NULL), 0);

	fq_target_destroy(t);
	t0 = fq_loop_now_ns();
	end = t0 + 10000 * MS;
	while (fq_ctrlr_get_state(ctrlr) != FQ_CTRLR_FAILED) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		if (fq_loop_now_ns() > end)
			fail_msg("still %s 10 s after the target went away",
				 fq_ctrlr_state_name(fq_ctrlr_get_state(ctrlr)));
	}
	/* Not before the loss timeout: the timer kept trying until then. */
	assert_true(fq_loop_now_ns() - t0 >= 700 * MS);
	assert_int_equal(st.resetting, 1);
	assert_int_equal(fq_ctrlr_get_reconnects(ctrlr), 0);
	/* The qpair follows the controller on the next turns. */
	end = fq_loop_now_ns() + 2000 * MS;
	while (fq_qpair_get_state(qp) != FQ_QPAIR_FAILED && fq_loop_now_ns() < end)
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
	assert_int_equal(fq_qpair_get_state(qp), FQ_QPAIR_FAILED);
	assert_true(fq_ns_write_sync(ns, qp, buf, 0, 1, 0, NULL) < 0);
	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	fq_loop_destroy(l);
}

/*
 * A threaded controller (admin queue on its service thread) whose I/O queue
 * sits in a poll group on the caller's loop.
 */
static void test_threaded_ctrlr_loop_group(void **state)
{
	struct fq_poll_group_opts pgo;
	struct fq_qpair_opts qo;
	struct fq_poll_group *pg;
	struct fq_ctrlr *ctrlr;
	struct fq_target *t;
	struct fq_qpair *qp;
	struct fq_loop *l;
	struct fq_trid trid;
	struct fq_ns *ns;
	uint16_t port;
	char s[512];

	(void)state;
	t = start_target(&port);
	assert_int_equal(fq_loop_create(NULL, &l), 0);
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	if (fq_ctrlr_connect(&trid, NULL, &ctrlr))
		fail_msg("connect: %s", fq_last_error());
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	fq_poll_group_opts_init(&pgo, sizeof(pgo));
	pgo.loop = l;
	assert_int_equal(fq_poll_group_create_opts(&pgo, &pg), 0);
	fq_qpair_opts_init(&qo, sizeof(qo));
	qo.poll_group = pg;
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, &qo, &qp), 0);
	write_read_verify(l, ns, qp, 4096, 5);
	/* The group's own calls turn the loop. */
	assert_int_equal(fq_poll_group_process_completions(pg), 0);
	assert_int_equal(fq_poll_group_wait(pg, 10), 0);
	assert_int_equal(fq_poll_group_destroy(pg), -EBUSY);
	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_poll_group_destroy(pg), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	fq_loop_destroy(l);
	fq_target_destroy(t);
}

/* ---- the loop API on its own ---- */

struct tick {
	struct fq_timer t;
	int fired;
	struct fq_loop *l;
};

static void tick_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct tick *k = (struct tick *)((char *)t - offsetof(struct tick, t));

	if (++k->fired < 3)
		assert_int_equal(fq_timer_arm(l, t, 1 * MS), 0);
}

struct stop_msg {
	struct fq_msg m;
	pthread_t self;
	bool ran_on_loop_thread;
};

static void stop_fn(struct fq_loop *l, struct fq_msg *m)
{
	struct stop_msg *sm = (struct stop_msg *)((char *)m - offsetof(struct stop_msg, m));

	sm->ran_on_loop_thread = pthread_equal(pthread_self(), sm->self);
	fq_loop_stop(l);
}

struct poster {
	struct fq_loop *l;
	struct stop_msg *sm;
};

static void *post_main(void *arg)
{
	struct poster *p = arg;

	fq_loop_post(p->l, &p->sm->m);
	return NULL;
}

static void test_loop_api(void **state)
{
	struct fq_loop_opts o;
	struct stop_msg sm = {.m.fn = stop_fn};
	struct tick k = {.t.fn = tick_fn}, never = {.t.fn = tick_fn};
	struct poster p;
	struct fq_loop *l;
	pthread_t th;

	(void)state;
	assert_int_equal(fq_loop_create(NULL, NULL), -EINVAL);
	/* An older caller's shorter struct: only opts_size is read, the rest defaults. */
	o.opts_size = sizeof(size_t);
	assert_int_equal(fq_loop_create(&o, &l), 0);
	fq_loop_destroy(l);
	fq_loop_destroy(NULL);
	fq_loop_opts_init(&o, sizeof(o));
	assert_int_equal(o.opts_size, sizeof(o));
	o.ring_entries = 32;
	assert_int_equal(fq_loop_create(&o, &l), 0);

	/* A timer re-armed from its own function, one cancelled before it fires. */
	assert_int_equal(fq_timer_arm(l, &k.t, 1 * MS), 0);
	assert_int_equal(fq_timer_arm(l, &never.t, 5 * MS), 0);
	assert_true(fq_timer_armed(&never.t));
	fq_timer_cancel(l, &never.t);
	assert_false(fq_timer_armed(&never.t));
	while (k.fired < 3)
		assert_true(fq_loop_turn(l, 100 * MS) >= 0);
	assert_false(fq_timer_armed(&k.t));
	assert_int_equal(never.fired, 0);

	/* A message from another thread runs on the loop's and stops fq_loop_run. */
	sm.self = pthread_self();
	p.l = l;
	p.sm = &sm;
	assert_int_equal(pthread_create(&th, NULL, post_main, &p), 0);
	assert_int_equal(fq_loop_run(l), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(sm.ran_on_loop_thread);
	assert_true(fq_loop_turn(l, 0) >= 0);
	fq_loop_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_host),
		cmocka_unit_test(test_embedded_gives_up),
		cmocka_unit_test(test_threaded_ctrlr_loop_group),
		cmocka_unit_test(test_loop_api),
	};

	/* The target may close a socket the host is still writing to. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
