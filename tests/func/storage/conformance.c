/* SPDX-License-Identifier: MIT */
/*
 * Storage conformance: one suite, run unchanged over every backend. The
 * configuration comes from the command line; run_storage.sh builds it for
 * the file backend and for nvmeof against a fabriqd it starts. The config
 * must map "data" to a namespace of at least 16 MiB with 512-byte blocks
 * and "big" to one with 4096-byte blocks.
 *
 *   storage_conformance --config FILE [--kill-cmd CMD --restart-cmd CMD]
 *
 * With --kill-cmd/--restart-cmd the "target stopped" test runs too.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fabriq/storage.h"

#define AREA (4u << 20) /* the part of "data" the shadow model covers */

static const char *config_path;
static const char *kill_cmd, *restart_cmd;
static struct fq_storage *st;
static uint8_t *shadow; /* what "data" must contain in [0, AREA) */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Write @len bytes at @off of "data" and mirror them in the shadow. */
static void put(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	fill(buf, len);
	assert_int_equal(fq_storage_write_sync(st, "data", off, buf, len), 0);
	memcpy(shadow + off, buf, len);
	free(buf);
}

static void check(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	memset(buf, 0xee, len);
	assert_int_equal(fq_storage_read_sync(st, "data", off, buf, len), 0);
	assert_memory_equal(buf, shadow + off, len);
	free(buf);
}

static int setup(void **state)
{
	char err[512];
	int rc;

	(void)state;
	rc = fq_storage_open(config_path, &st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "open %s: %s (%d)\n", config_path, err, rc);
	assert_int_equal(rc, 0);
	shadow = malloc(AREA);
	fill(shadow, AREA);
	/* Establish the shadow: the whole area in 1 MiB writes. */
	for (uint64_t off = 0; off < AREA; off += 1 << 20)
		assert_int_equal(fq_storage_write_sync(st, "data", off, shadow + off, 1 << 20), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(fq_storage_close(st), 0);
	free(shadow);
	return 0;
}

static void names_resolve_explicitly(void **state)
{
	struct fq_storage_ns_info d, b, x;
	char sel[64];

	(void)state;
	assert_int_equal(fq_storage_lookup(st, "data", &d), 0);
	assert_int_equal(d.block_size, 512);
	assert_true(d.size >= 16u << 20);
	assert_int_equal(fq_storage_lookup(st, "big", &b), 0);
	assert_int_equal(b.block_size, 4096);
	assert_int_not_equal(b.nsid, d.nsid);
	snprintf(sel, sizeof(sel), "nsid:%u", d.nsid);
	assert_int_equal(fq_storage_lookup(st, sel, &x), 0);
	assert_int_equal(x.nsid, d.nsid);
	if (d.nguid[0] | d.nguid[5] | d.nguid[15]) {
		int n = snprintf(sel, sizeof(sel), "nguid:");

		for (int i = 0; i < 16; i++)
			n += snprintf(sel + n, sizeof(sel) - (size_t)n, "%02x", d.nguid[i]);
		assert_int_equal(fq_storage_lookup(st, sel, &x), 0);
		assert_int_equal(x.nsid, d.nsid);
	}
	/* Unknown names fail, and say so; nothing is guessed. */
	assert_int_equal(fq_storage_lookup(st, "/var/data/file.db", NULL), -ENOENT);
	assert_non_null(strstr(fq_storage_last_error(st), "unknown name"));
	assert_int_equal(fq_storage_lookup(st, "nsid:4000", NULL), -ENOENT);
	assert_int_equal(fq_storage_lookup(st, "nguid:zz", NULL), -ENOENT);
	assert_int_equal(fq_storage_read_sync(st, "nope", 0, sel, 1), -ENOENT);
}

static void bad_arguments_rejected(void **state)
{
	struct fq_storage_ns_info d;
	uint8_t b[8];

	(void)state;
	assert_int_equal(fq_storage_lookup(st, "data", &d), 0);
	assert_int_equal(fq_storage_read_sync(st, "data", d.size - 4, b, 8), -ERANGE);
	assert_int_equal(fq_storage_write_sync(st, "data", d.size, b, 1), -ERANGE);
	assert_int_equal(fq_storage_read_sync(st, "data", 0, b, 0), -EINVAL);
	assert_int_equal(fq_storage_read_sync(st, "data", UINT64_MAX - 2, b, 8), -ERANGE);
	/* The last byte is reachable. */
	assert_int_equal(fq_storage_write_sync(st, "data", d.size - 1, b, 1), 0);
	assert_int_equal(fq_storage_read_sync(st, "data", d.size - 1, b + 1, 1), 0);
	assert_int_equal(b[0], b[1]);
}

static void sync_aligned(void **state)
{
	(void)state;
	put(0, 4096);
	put(64 << 10, 128 << 10);
	check(0, 4096);
	check(64 << 10, 128 << 10);
	check(0, AREA);
}

static void unaligned_io(void **state)
{
	static const struct {
		uint64_t off;
		size_t len;
	} cases[] = {
		{1, 1},	    {511, 1},	     {511, 2},	   {100, 300},
		{512, 511}, {513, 511},	     {1000, 5000}, {4095, 4098},
		{7, 65536}, {12345, 100000}, {1 << 20, 1}, {(1 << 20) - 1, 2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(cases[i].off, cases[i].len);
		check(cases[i].off > 600 ? cases[i].off - 600 : 0, cases[i].len + 1200);
	}
	check(0, AREA);
}

static void read_after_write_random(void **state)
{
	(void)state;
	for (int i = 0; i < 300; i++) {
		size_t len = 1 + rnd() % (i % 3 == 0 ? 70000 : 3000);
		uint64_t off = rnd() % (AREA - len);

		if (i % 4 == 0)
			off &= ~511ull;
		put(off, len);
		check(off, len);
	}
	check(0, AREA);
}

struct done {
	int calls;
	int errors;
};

static void count_cb(void *arg, int result)
{
	struct done *d = arg;

	d->calls++;
	d->errors += result != 0;
}

static void drain(int expect, struct done *d)
{
	uint64_t t0 = now_ms();

	while (d->calls < expect && now_ms() - t0 < 30000)
		assert_true(fq_storage_wait(st, 1000) >= 0);
	assert_int_equal(d->calls, expect);
	assert_int_equal(fq_storage_outstanding(st), 0);
}

static void async_io(void **state)
{
	enum { N = 48, LEN = 5000 };
	static uint8_t wbuf[N][LEN], rbuf[N][LEN];
	struct done d = {0};

	(void)state;
	for (int i = 0; i < N; i++) {
		uint64_t off = (2u << 20) + (uint64_t)i * 8192 + (uint64_t)i * 3;
		int rc;

		fill(wbuf[i], LEN);
		while ((rc = fq_storage_write_async(st, "data", off, wbuf[i], LEN, count_cb, &d)) ==
		       -EAGAIN)
			fq_storage_wait(st, 100);
		assert_int_equal(rc, 0);
		memcpy(shadow + off, wbuf[i], LEN);
	}
	drain(N, &d);
	assert_int_equal(d.errors, 0);
	d.calls = 0;
	for (int i = 0; i < N; i++) {
		uint64_t off = (2u << 20) + (uint64_t)i * 8192 + (uint64_t)i * 3;

		assert_int_equal(fq_storage_read_async(st, "data", off, rbuf[i], LEN, count_cb, &d),
				 0);
	}
	drain(N, &d);
	assert_int_equal(d.errors, 0);
	for (int i = 0; i < N; i++)
		assert_memory_equal(rbuf[i], wbuf[i], LEN);
	/* wait() with nothing outstanding returns at once. */
	assert_int_equal(fq_storage_wait(st, -1), 0);
}

/* 64 mixed operations in one batch, including overlapping unaligned writes. */
static void batch_64_mixed(void **state)
{
	enum { N = 64, LEN = 3000 };
	static uint8_t bufs[N][LEN];
	struct fq_storage_io io[N];
	struct done d = {0};
	uint8_t *expect = malloc(AREA);

	(void)state;
	memcpy(expect, shadow, AREA);
	memset(io, 0, sizeof(io));
	for (int i = 0; i < N; i++) {
		/* Writes land in pairs that overlap: later ones must win. */
		uint64_t off = (3u << 20) + (uint64_t)(i / 4) * 10000 + (uint64_t)(i % 4) * 700;

		io[i].name = "data";
		io[i].offset = off;
		io[i].len = LEN;
		io[i].buf = bufs[i];
		io[i].cb = count_cb;
		io[i].cb_arg = &d;
		if (i % 8 == 7) {
			io[i].op = FQ_STORAGE_FLUSH;
		} else if (i % 2 == 0) {
			io[i].op = FQ_STORAGE_WRITE;
			fill(bufs[i], LEN);
			memcpy(expect + off, bufs[i], LEN);
		} else {
			/* Reads of the area below, which the batch does not write. */
			io[i].op = FQ_STORAGE_READ;
			io[i].offset = (uint64_t)i * 11111;
		}
	}
	assert_int_equal(fq_storage_batch(st, io, N), N);
	drain(N, &d);
	assert_int_equal(d.errors, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(io[i].result, 0);
		if (io[i].op == FQ_STORAGE_READ)
			assert_memory_equal(bufs[i], shadow + io[i].offset, LEN);
	}
	memcpy(shadow, expect, AREA);
	free(expect);
	check(3u << 20, 200000);
	/* An invalid operation anywhere: nothing is submitted. */
	io[5].name = "missing";
	d.calls = 0;
	assert_int_equal(fq_storage_batch(st, io, N), -ENOENT);
	assert_int_equal(fq_storage_outstanding(st), 0);
	assert_int_equal(d.calls, 0);
}

static void flush_works(void **state)
{
	struct fq_storage_stats s;

	(void)state;
	fq_storage_reset_stats(st);
	put(12345, 777);
	assert_int_equal(fq_storage_flush(st, "data"), 0);
	assert_int_equal(fq_storage_flush(st, NULL), 0);
	assert_int_equal(fq_storage_flush(st, "missing"), -ENOENT);
	fq_storage_get_stats(st, &s);
	assert_true(s.op[FQ_STORAGE_FLUSH].ops >= 2);
	check(12000, 2000);
}

static void stats_match_what_was_issued(void **state)
{
	struct fq_storage_stats s;
	uint64_t rbytes = 0, wbytes = 0;
	uint8_t buf[9000];

	(void)state;
	fq_storage_reset_stats(st);
	for (int i = 0; i < 40; i++) {
		size_t len = 1 + rnd() % sizeof(buf);
		uint64_t off = rnd() % (AREA - len);

		fill(buf, len);
		assert_int_equal(fq_storage_write_sync(st, "data", off, buf, len), 0);
		memcpy(shadow + off, buf, len);
		wbytes += len;
		if (i % 2) {
			assert_int_equal(fq_storage_read_sync(st, "data", off, buf, len), 0);
			rbytes += len;
		}
	}
	assert_int_equal(fq_storage_flush(st, "data"), 0);
	/* Rejected calls are not operations. */
	assert_int_equal(fq_storage_read_sync(st, "data", 0, buf, 0), -EINVAL);
	fq_storage_get_stats(st, &s);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].ops, 40);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].bytes, wbytes);
	assert_int_equal(s.op[FQ_STORAGE_READ].ops, 20);
	assert_int_equal(s.op[FQ_STORAGE_READ].bytes, rbytes);
	assert_int_equal(s.op[FQ_STORAGE_FLUSH].ops, 1);
	for (int t = 0; t < FQ_STORAGE_NUM_OPS; t++) {
		const struct fq_storage_op_stats *o = &s.op[t];

		assert_int_equal(o->errors, 0);
		assert_true(o->lat_min_ns <= o->lat_p50_ns && o->lat_p50_ns <= o->lat_p99_ns);
		assert_true(o->lat_p99_ns <= o->lat_max_ns);
		assert_true(o->lat_min_ns <= o->lat_mean_ns && o->lat_mean_ns <= o->lat_max_ns);
	}
	assert_true(s.rmw_reads > 0); /* random lengths are rarely aligned */
	assert_int_equal(s.outstanding, 0);
	assert_true(s.outstanding_max >= 1);
	assert_true(s.queue_capacity >= 1);
	fq_storage_reset_stats(st);
	fq_storage_get_stats(st, &s);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].ops, 0);
	assert_int_equal(s.op[FQ_STORAGE_READ].bytes, 0);
}

static void health_up(void **state)
{
	struct fq_storage_health h;

	(void)state;
	assert_int_equal(fq_storage_health_check(st, &h), 0);
	assert_int_equal(h.state, FQ_STORAGE_UP);
	assert_string_equal(h.state_name, "up");
	assert_true(h.queues_live >= 1 && h.queues_live == h.queues_total);
	assert_true(h.since_last_completion_ns >= 0);
}

static int run_cmd(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* Kill the target, check health and fast failure, restart it, check recovery. */
static void target_stopped(void **state)
{
	struct fq_storage_health h;
	uint8_t buf[4096], back[4096];
	uint64_t t0, dt;
	int rc;

	static uint8_t inflight[16][8192];
	struct done d = {0};

	(void)state;
	/* Writes in flight when the target dies all complete, one way or the other. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(fq_storage_write_async(st, "data", (uint64_t)i * 65536 + 17,
							inflight[i], sizeof(inflight[i]), count_cb,
							&d),
				 0);
	assert_int_equal(run_cmd(kill_cmd), 0);
	t0 = now_ms();
	while (d.calls < 16 && now_ms() - t0 < 20000)
		fq_storage_wait(st, 100);
	printf("  %d writes in flight at the kill: %d failed, all done after %" PRIu64 " ms\n",
	       d.calls, d.errors, now_ms() - t0);
	assert_int_equal(d.calls, 16);
	assert_int_equal(fq_storage_outstanding(st), 0);
	/* The loss is noticed quickly: the socket closes with the process. */
	t0 = now_ms();
	do
		rc = fq_storage_health_check(st, &h);
	while (rc == 0 && now_ms() - t0 < 15000);
	printf("  health after kill: %s (%d): %s\n", h.state_name, rc, h.last_error);
	assert_int_equal(rc, -ENOTCONN);
	assert_int_equal(h.state, FQ_STORAGE_CONNECTING);
	assert_non_null(strstr(h.last_error, "unreachable"));
	/* Calls fail fast with a clear error while the target is away. */
	fill(buf, sizeof(buf));
	t0 = now_ms();
	rc = fq_storage_write_sync(st, "data", 0, buf, sizeof(buf));
	dt = now_ms() - t0;
	printf("  write while down: %d after %" PRIu64 " ms: %s\n", rc, dt,
	       fq_storage_last_error(st));
	assert_int_equal(rc, -ENOTCONN);
	assert_true(dt < 200);
	assert_non_null(strstr(fq_storage_last_error(st), "unreachable"));
	assert_int_equal(fq_storage_read_async(st, "data", 0, back, 512, NULL, NULL), -ENOTCONN);
	/* Restart on the same port: the handle recovers by itself. */
	assert_int_equal(run_cmd(restart_cmd), 0);
	t0 = now_ms();
	while ((rc = fq_storage_health_check(st, &h)) != 0 && now_ms() - t0 < 60000)
		fq_storage_wait(st, 100);
	printf("  health %" PRIu64 " ms after restart: %s, %u reconnects\n", now_ms() - t0,
	       h.state_name, h.reconnects);
	assert_int_equal(rc, 0);
	assert_true(h.reconnects >= 1);
	assert_int_equal(fq_storage_write_sync(st, "data", 100, buf, sizeof(buf)), 0);
	assert_int_equal(fq_storage_read_sync(st, "data", 100, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_resolve_explicitly),
		cmocka_unit_test(bad_arguments_rejected),
		cmocka_unit_test(sync_aligned),
		cmocka_unit_test(unaligned_io),
		cmocka_unit_test(read_after_write_random),
		cmocka_unit_test(async_io),
		cmocka_unit_test(batch_64_mixed),
		cmocka_unit_test(flush_works),
		cmocka_unit_test(stats_match_what_was_issued),
		cmocka_unit_test(health_up),
	};
	/* Only a backend that can be stopped and restarted runs this one; the
	 * file backend has no target to stop, so it is not in its list at all
	 * rather than reported as skipped. */
	const struct CMUnitTest restart_tests[] = {
		cmocka_unit_test(target_stopped),
	};

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--config"))
			config_path = argv[i + 1];
		else if (!strcmp(argv[i], "--kill-cmd"))
			kill_cmd = argv[i + 1];
		else if (!strcmp(argv[i], "--restart-cmd"))
			restart_cmd = argv[i + 1];
	}
	if (!config_path) {
		fprintf(stderr, "usage: %s --config FILE [--kill-cmd CMD --restart-cmd CMD]\n",
			argv[0]);
		return 2;
	}
	if ((kill_cmd == NULL) != (restart_cmd == NULL)) {
		fprintf(stderr, "%s: --kill-cmd and --restart-cmd go together\n", argv[0]);
		return 2;
	}
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	if (kill_cmd)
		rc |= cmocka_run_group_tests(restart_tests, setup, teardown);
	return rc;
}
