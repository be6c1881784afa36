/* SPDX-License-Identifier: MIT */
/*
 * A target and a host on one loop, in one thread: the target embedded
 * through fabriq/target.h with fq_target_opts.loop (a RAM namespace on a
 * loopback port the kernel picks), a controller and an I/O qpair of
 * fabriq/host.h on the same fq_loop, connected over loopback; data written
 * and read back, byte for byte. This is the shape of a primary that serves
 * hosts and replicates their writes to other nodes from the same reactor.
 * The count of /proc/self/task is the same before the loop exists, after
 * the target started, after the I/O and after everything is gone: neither
 * side started a thread. Also: a management call from another thread
 * (fq_target_run_on_reactor) runs on the loop's thread, a live namespace
 * change reaches the host through the loop's inbox, and what
 * fq_target_create and fq_target_start refuse on a loop.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabriq/host.h"
#include "fabriq/loop.h"
#include "fabriq/target.h"

#define NQN "nqn.2026-11.io.fabriq:same-loop"
#define MS 1000000ull
#define BS 4096u
#define NBLK 8u /* blocks per I/O */
#define NIO 64u /* I/Os per round, all in flight at once */

/* Threads of this process, io_uring's own workers excepted (they come and go with load). */
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

static struct fq_target *start_on(struct fq_loop *l, uint16_t *port)
{
	struct fq_target_port_info pi;
	struct fq_target_opts opts;
	struct fq_target *t;

	fq_target_opts_init(&opts, sizeof(opts));
	opts.log_level = FQ_LOG_WARN;
	opts.loop = l;
	assert_int_equal(fq_target_create(&opts, &t), 0);
	assert_int_equal(fq_target_add_port(t, "io", "127.0.0.1:0", false), 0);
	assert_int_equal(fq_target_add_subsystem(t, NQN), 0);
	assert_int_equal(fq_target_add_ns(t, NQN, "ram:32M,bs=4096"), 0);
	if (fq_target_start(t))
		fail_msg("start: %s", fq_target_last_error(t));
	assert_int_equal(fq_target_get_num_reactors(t), 1);
	assert_int_equal(fq_target_get_port(t, 0, &pi), 0);
	assert_int_not_equal(pi.port, 0);
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
		buf[i] = (uint8_t)(i * 151 + seed * 13 + (i >> 12));
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

/* NIO writes, then NIO reads of the same blocks, all in flight at once, then compared. */
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
	free(w);
	free(rd);
}

static void on_aen(void *arg, uint32_t cdw0)
{
	(void)cdw0;
	(*(unsigned *)arg)++;
}

/* A management call made from another thread while the loop turns here. */
struct call {
	struct fq_target *t;
	pthread_t loop_thread;
	atomic_int ran_on_loop; /* 1: on the loop's thread, -1: elsewhere */
	atomic_bool returned;
	int rc;
};

static int on_reactor(void *arg)
{
	struct call *c = arg;

	atomic_store(&c->ran_on_loop, pthread_equal(pthread_self(), c->loop_thread) ? 1 : -1);
	return 42;
}

static void *caller(void *arg)
{
	struct call *c = arg;

	c->rc = fq_target_run_on_reactor(c->t, 0, on_reactor, c);
	atomic_store(&c->returned, true);
	return NULL;
}

static void test_target_and_host_on_one_loop(void **state)
{
	struct fq_ctrlr_opts co;
	struct fq_ctrlr *ctrlr;
	struct fq_target *t;
	struct fq_qpair *qp;
	struct fq_loop *l;
	struct fq_trid trid;
	struct fq_ns *ns;
	struct call c = {0};
	pthread_t th;
	uint32_t nsid = 0;
	unsigned aens = 0;
	uint64_t end;
	uint16_t port;
	char s[512];
	int threads;

	(void)state;
	threads = count_threads();
	assert_int_equal(fq_loop_create(NULL, &l), 0);
	t = start_on(l, &port);
	assert_int_equal(count_threads(), threads);

	/* The controller's blocking connect turns the loop: the target serves it there. */
	fq_ctrlr_opts_init(&co, sizeof(co));
	co.loop = l;
	co.aer_cb = on_aen;
	co.aer_cb_arg = &aens;
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	if (fq_ctrlr_connect(&trid, &co, &ctrlr))
		fail_msg("connect: %s", fq_last_error());
	assert_int_equal(fq_ctrlr_get_state(ctrlr), FQ_CTRLR_LIVE);
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	assert_int_equal(fq_ns_get_sector_size(ns), BS);
	assert_int_equal(fq_ns_get_num_sectors(ns), 32u * 1024 * 1024 / BS);
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);
	assert_int_equal(fq_target_get_num_connections(t), 2);
	assert_int_equal(count_threads(), threads);

	write_read_verify(l, ns, qp, 0, 1);
	write_read_verify(l, ns, qp, 4096, 2);
	assert_int_equal(count_threads(), threads);

	/* Another thread's call runs in this loop's turns, on this thread. */
	c.t = t;
	c.loop_thread = pthread_self();
	assert_int_equal(pthread_create(&th, NULL, caller, &c), 0);
	end = fq_loop_now_ns() + 10000 * MS;
	while (!atomic_load(&c.returned)) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		if (fq_loop_now_ns() > end)
			fail_msg("fq_target_run_on_reactor did not return in 10 s");
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.rc, 42);
	assert_int_equal(atomic_load(&c.ran_on_loop), 1);
	/* From the loop's own thread it runs at once instead of waiting on itself. */
	atomic_store(&c.ran_on_loop, 0);
	assert_int_equal(fq_target_run_on_reactor(t, 0, on_reactor, &c), 42);
	assert_int_equal(atomic_load(&c.ran_on_loop), 1);

	/*
	 * A live namespace: the target's reactor takes the change from its
	 * inbox and sends the event, the host gets it, all in these turns.
	 */
	assert_int_equal(fq_target_live_add_ns(t, NQN, "ram:4M,bs=4096", 0, &nsid), 0);
	assert_int_equal(nsid, 2);
	end = fq_loop_now_ns() + 10000 * MS;
	while (!aens) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		if (fq_loop_now_ns() > end)
			fail_msg("no Asynchronous Event within 10 s of adding a namespace");
	}
	assert_int_equal(fq_ctrlr_rescan_ns(ctrlr), 0);
	assert_non_null(fq_ctrlr_get_ns(ctrlr, 2));
	write_read_verify(l, fq_ctrlr_get_ns(ctrlr, 2), qp, 0, 3);
	assert_int_equal(count_threads(), threads);

	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	/* Stop turns the loop until the target's connections are closed. */
	fq_target_stop(t);
	assert_int_equal(fq_target_get_num_connections(t), 0);
	fq_target_destroy(t);
	/* Nothing of the target is left on the loop: more turns touch nothing freed. */
	for (int i = 0; i < 5; i++)
		assert_true(fq_loop_turn(l, 10 * MS) >= 0);
	fq_loop_destroy(l);
	assert_int_equal(count_threads(), threads);
}

/*
 * A target on a loop stops with a host still connected: its connections
 * close, the host's controller notices in the loop's turns, and the loop
 * goes on for the host alone.
 */
static void test_stop_under_host(void **state)
{
	struct fq_ctrlr_opts co;
	struct fq_ctrlr *ctrlr;
	struct fq_target *t;
	struct fq_qpair *qp;
	struct fq_loop *l;
	struct fq_trid trid;
	struct fq_ns *ns;
	uint8_t buf[BS];
	uint64_t end;
	uint16_t port;
	char s[512];

	(void)state;
	assert_int_equal(fq_loop_create(NULL, &l), 0);
	t = start_on(l, &port);
	fq_ctrlr_opts_init(&co, sizeof(co));
	co.loop = l;
	co.reconnect_delay_ms = 100;
	co.ctrl_loss_timeout_ms = 300;
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	if (fq_ctrlr_connect(&trid, &co, &ctrlr))
		fail_msg("connect: %s", fq_last_error());
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(fq_ns_write_sync(ns, qp, buf, 7, 1, 0, NULL), 0);

	fq_target_stop(t);
	assert_int_equal(fq_target_get_num_connections(t), 0);
	fq_target_destroy(t);
	end = fq_loop_now_ns() + 10000 * MS;
	while (fq_ctrlr_get_state(ctrlr) != FQ_CTRLR_FAILED) {
		assert_true(fq_loop_turn(l, 50 * MS) >= 0);
		if (fq_loop_now_ns() > end)
			fail_msg("controller still %s 10 s after the target stopped",
				 fq_ctrlr_state_name(fq_ctrlr_get_state(ctrlr)));
	}
	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	fq_loop_destroy(l);
}

/* One loop turns one reactor: more is refused, with the reason. */
static void test_loop_refusals(void **state)
{
	struct fq_target_opts opts;
	struct fq_target *t;
	struct fq_loop *l;
	char path[] = "/tmp/fq-same-loop-XXXXXX";
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(fq_loop_create(NULL, &l), 0);
	fq_target_opts_init(&opts, sizeof(opts));
	assert_null(opts.loop);
	opts.loop = l;
	opts.reactors = 2;
	assert_int_equal(fq_target_create(&opts, &t), -EINVAL);
	assert_null(t);

	/* A configuration file asking for two reactors fails the start (before binding). */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "[target]\nreactors = 2\n\n[port \"io\"]\naddress = 127.0.0.1\nport = 4420\n\n"
		   "[subsystem \"" NQN "\"]\nnamespace = ram:4M\n");
	fclose(f);
	opts.reactors = 0;
	opts.log_level = FQ_LOG_ERROR;
	assert_int_equal(fq_target_create(&opts, &t), 0);
	if (fq_target_load_config(t, path))
		fail_msg("load: %s", fq_target_last_error(t));
	assert_int_equal(fq_target_start(t), -EINVAL);
	assert_non_null(strstr(fq_target_last_error(t), "one reactor"));
	fq_target_destroy(t);
	unlink(path);
	fq_loop_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_and_host_on_one_loop),
		cmocka_unit_test(test_stop_under_host),
		cmocka_unit_test(test_loop_refusals),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
