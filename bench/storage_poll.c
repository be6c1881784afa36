/* SPDX-License-Identifier: MIT */
/*
 * storage_poll: compare the storage interface's waiting strategies
 * (polling_mode = adaptive, busy, sleep) on CPU time and latency.
 *
 *   storage_poll --target ADDR:PORT --nqn NQN [--seconds S] [--name NAME]
 *
 * For each mode it opens the storage (nvmeof backend) and runs three
 * workloads on 4 KiB random reads of nsid 1:
 *   low    200 reads per second, one at a time (an almost idle application)
 *   qd1    back-to-back reads, one outstanding
 *   qd8    back-to-back reads, eight outstanding
 * and prints, per workload, the rate, mean and p99 latency and the CPU time
 * the process used (user + system, all threads) as a share of one core.
 * The output is a Markdown table (docs/storage-api.md records one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fabriq/storage.h"

static const char *target, *nqn, *name = "nsid:1";
static double seconds = 2.0;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

struct slot {
	struct fq_storage *st;
	uint8_t buf[4096];
	int *inflight;
	uint64_t *done;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd_off(uint64_t size)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng % (size / 4096)) * 4096;
}

static void read_cb(void *arg, int result)
{
	struct slot *s = arg;

	if (result)
		fprintf(stderr, "read failed: %d\n", result);
	(*s->inflight)--;
	(*s->done)++;
}

/* Keep @qd reads outstanding; @gap_ns > 0 paces single reads instead. */
static void run(struct fq_storage *st, const char *mode, const char *wl, int qd, uint64_t gap_ns,
		uint64_t size)
{
	static struct slot slots[8];
	struct fq_storage_stats s;
	uint64_t t0, c0, end, done = 0, next = 0, dt, dc;
	int inflight = 0;

	fq_storage_reset_stats(st);
	t0 = now_ns();
	c0 = cpu_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	while (now_ns() < end) {
		for (int i = 0; i < qd && inflight < qd; i++) {
			struct slot *sl = &slots[i];

			if (gap_ns && now_ns() < next)
				break;
			sl->st = st;
			sl->inflight = &inflight;
			sl->done = &done;
			if (fq_storage_read_async(st, name, rnd_off(size), sl->buf, 4096, read_cb,
						  sl) == 0) {
				inflight++;
				next = now_ns() + gap_ns;
			}
		}
		if (inflight)
			fq_storage_wait(st, 100);
		else if (gap_ns) {
			/* The application's own idle time between requests. */
			uint64_t left = next > now_ns() ? next - now_ns() : 0;
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left};

			nanosleep(&ts, NULL);
		}
	}
	while (inflight)
		fq_storage_wait(st, 100);
	dt = now_ns() - t0;
	dc = cpu_ns() - c0;
	fq_storage_get_stats(st, &s);
	printf("| %-8s | %-5s | %9.0f | %8.1f | %8.1f | %6.1f %% | %5" PRIu64 " / %-5" PRIu64
	       " |\n",
	       mode, wl, (double)done * 1e9 / (double)dt,
	       (double)s.op[FQ_STORAGE_READ].lat_mean_ns / 1000.0,
	       (double)s.op[FQ_STORAGE_READ].lat_p99_ns / 1000.0, 100.0 * (double)dc / (double)dt,
	       s.waits_spun, s.waits_slept);
	fflush(stdout);
}

static int bench_mode(const char *mode)
{
	char ini[1024], err[256], addr[256];
	struct fq_storage *st;
	struct fq_storage_ns_info info;
	const char *colon = strrchr(target, ':');
	int rc;

	if (!colon || (size_t)(colon - target) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, target, (size_t)(colon - target));
	addr[colon - target] = '\0';
	snprintf(ini, sizeof(ini),
		 "backend = nvmeof\ntarget_addr = %s\ntarget_port = %s\ntarget_nqn = %s\n"
		 "io_queue_count = 1\nqueue_depth = 32\npolling_mode = %s\n",
		 addr, colon + 1, nqn, mode);
	rc = fq_storage_open_string(ini, &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "open: %s\n", err);
		return rc;
	}
	rc = fq_storage_lookup(st, name, &info);
	if (!rc) {
		run(st, mode, "low", 1, 5000000, info.size);
		run(st, mode, "qd1", 1, 0, info.size);
		run(st, mode, "qd8", 8, 0, info.size);
	}
	fq_storage_close(st);
	return rc;
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--target"))
			target = argv[i + 1];
		else if (!strcmp(argv[i], "--nqn"))
			nqn = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--name"))
			name = argv[i + 1];
	}
	if (!target || !nqn || seconds <= 0) {
		fprintf(stderr,
			"usage: %s --target ADDR:PORT --nqn NQN [--seconds S] "
			"[--name NAME]\n",
			argv[0]);
		return 2;
	}
	printf("| mode     | load  |  reads/s  | mean us  |  p99 us  |  CPU     | waits spun/slept "
	       "|\n");
	printf("|----------|-------|-----------|----------|----------|----------|------------------"
	       "|\n");
	for (int m = 0; m < 3; m++) {
		static const char *const modes[] = {"adaptive", "busy", "sleep"};

		if (bench_mode(modes[m]))
			return 1;
	}
	return 0;
}
