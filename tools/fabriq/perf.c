/* SPDX-License-Identifier: MIT */
/*
 * fabriq perf: an NVMe/TCP load generator on libfabriq, in the spirit of
 * spdk_nvme_perf and fio. Each worker thread drives its qpairs through one
 * poll group (one io_uring), keeps every qpair at the requested depth and
 * records every latency in a per-thread histogram (no allocation, no locks
 * on the I/O path). A live line every second; a final report per namespace
 * and in total, human or JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fabriq/host.h"
#include "perf.h"
#include "histogram.h"

#define MAX_TRIDS 16
#define MAX_NS 64
#define MAX_WORKERS 64
/*
 * NVMe queues hold at most 65536 entries, one of them always empty (NVMe
 * Base 2.0 §3.3.1). -q may ask for more; the run uses what the queues hold.
 */
#define MAX_DEPTH 65535
#define MAX_DEPTH_ARG (1 << 24)

enum pattern { PAT_SEQ, PAT_RAND };

struct perf_cfg {
	const char *trids[MAX_TRIDS];
	int ntrids;
	uint32_t depth;
	uint32_t io_size;
	enum pattern pattern;
	int read_pct; /* 100 read, 0 write */
	double seconds;
	double warmup;
	int nworkers;
	int cpus[MAX_WORKERS]; /* -1: not pinned */
	int qpairs_per_ns;     /* per worker */
	bool hdgst, ddgst;
	bool no_sqflow;
	bool poll;
	bool verify;
	bool json;
	uint32_t nsid; /* 0: every active namespace */
	const char *workload;
};

struct perf_ns {
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	char name[300];
	uint32_t bs;
	uint64_t nblocks;
	uint32_t nlb;	/* blocks per I/O */
	uint64_t slots; /* io_size units in the namespace */
};

struct perf_stats {
	uint64_t reads, writes, bytes, errors, verify_errors;
	struct fq_hist hist;
};

struct perf_worker;
struct perf_qp;

struct perf_task {
	struct perf_qp *pq;
	uint8_t *buf;
	uint64_t start_ns;
	uint64_t lba;
	bool is_read;
	bool pending; /* submission refused with -EAGAIN; retry */
};

struct perf_qp {
	struct perf_worker *w;
	int nsidx;
	struct fq_qpair *qp;
	struct perf_task *tasks;
	uint32_t depth; /* tasks used: -q, or less if the qpair holds fewer */
	uint32_t inflight;
	uint32_t npending; /* tasks refused with -EAGAIN, waiting for a retry */
	uint64_t next_slot;
};

struct perf_worker {
	int idx;
	pthread_t thread;
	struct fq_poll_group *pg;
	struct perf_qp *qps;
	int nqps;
	uint64_t rng;
	uint32_t epoch;
	/*
	 * Clock read once per poll turn, at the first completion: every
	 * completion of one receive shares it, as in bench/bound.
	 */
	uint64_t turn_ns;
	struct perf_stats st[MAX_NS];
	/* Read by the main thread for the live line. */
	_Atomic uint64_t live_ios, live_bytes, live_lat_ns;
};

static struct perf_cfg cfg;
static struct perf_ns nss[MAX_NS];
static int nns;
static struct fq_ctrlr *ctrlrs[MAX_TRIDS];
static struct perf_worker workers[MAX_WORKERS];
static _Atomic bool stop_flag;
static _Atomic uint32_t epoch; /* bumped when the warm-up ends: workers reset stats */
static _Atomic int interrupted;
/*
 * The first lost connection: when it was seen (0: none) and a line saying
 * which qpair and why. Workers stop submitting, the run ends there and the
 * report covers the time until then.
 */
static _Atomic uint64_t fail_ns;
static char fail_msg[512];
static int setup_exit = EXIT_NVME; /* exit status if setting up fails */
static uint32_t run_depth;	   /* the depth actually used: -q, clamped to the queues */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Verification pattern: every 8-byte word is a function of (namespace, LBA, word). */
static uint64_t pat_word(int nsidx, uint64_t lba, uint64_t word)
{
	return (lba * 0x9e3779b97f4a7c15ull) ^ (word * 0xbf58476d1ce4e5b9ull) ^ (uint64_t)nsidx;
}

static void pat_fill(uint8_t *buf, const struct perf_ns *n, int nsidx, uint64_t lba)
{
	for (uint32_t b = 0; b < n->nlb; b++) {
		uint64_t *w = (uint64_t *)(buf + (size_t)b * n->bs);

		for (uint32_t i = 0; i < n->bs / 8; i++)
			w[i] = pat_word(nsidx, lba + b, i);
	}
}

static bool pat_check(const uint8_t *buf, const struct perf_ns *n, int nsidx, uint64_t lba)
{
	for (uint32_t b = 0; b < n->nlb; b++) {
		const uint64_t *w = (const uint64_t *)(buf + (size_t)b * n->bs);

		for (uint32_t i = 0; i < n->bs / 8; i++)
			if (w[i] != pat_word(nsidx, lba + b, i))
				return false;
	}
	return true;
}

static void io_done(void *arg, const struct fq_cpl *cpl);

/* @now: the caller's clock reading, reused as the start time (one read per I/O). */
static int submit(struct perf_task *t, uint64_t now)
{
	struct perf_qp *pq = t->pq;
	struct perf_worker *w = pq->w;
	const struct perf_ns *n = &nss[pq->nsidx];
	uint64_t slot;
	int rc;

	if (!t->pending) {
		if (cfg.pattern == PAT_RAND)
			slot = xorshift(&w->rng) % n->slots;
		else
			slot = pq->next_slot++ % n->slots;
		t->lba = slot * n->nlb;
		t->is_read = cfg.read_pct == 100 ||
			     (cfg.read_pct > 0 && (int)(xorshift(&w->rng) % 100) < cfg.read_pct);
		if (!t->is_read && cfg.verify)
			pat_fill(t->buf, n, pq->nsidx, t->lba);
	}
	t->start_ns = now;
	if (t->is_read)
		rc = fq_ns_read(n->ns, pq->qp, t->buf, t->lba, n->nlb, io_done, t, 0);
	else
		rc = fq_ns_write(n->ns, pq->qp, t->buf, t->lba, n->nlb, io_done, t, 0);
	if (rc == -EAGAIN && !t->pending)
		pq->npending++;
	else if (rc != -EAGAIN && t->pending)
		pq->npending--;
	t->pending = rc == -EAGAIN;
	if (rc == 0)
		pq->inflight++;
	return rc;
}

static void io_done(void *arg, const struct fq_cpl *cpl)
{
	struct perf_task *t = arg;
	struct perf_qp *pq = t->pq;
	struct perf_worker *w = pq->w;
	const struct perf_ns *n = &nss[pq->nsidx];
	struct perf_stats *st = &w->st[pq->nsidx];
	uint64_t now = w->turn_ns ? w->turn_ns : (w->turn_ns = now_ns());
	uint64_t lat = now - t->start_ns;

	pq->inflight--;
	if (w->epoch != atomic_load_explicit(&epoch, memory_order_relaxed)) {
		/* Warm-up is over: start counting from zero. */
		w->epoch = atomic_load(&epoch);
		for (int i = 0; i < nns; i++) {
			memset(&w->st[i], 0, sizeof(w->st[i]) - sizeof(w->st[i].hist));
			fq_hist_init(&w->st[i].hist);
		}
	}
	if (fq_cpl_is_error(cpl)) {
		st->errors++;
	} else {
		if (t->is_read && cfg.verify && !pat_check(t->buf, n, pq->nsidx, t->lba))
			st->verify_errors++;
		if (t->is_read)
			st->reads++;
		else
			st->writes++;
		st->bytes += cfg.io_size;
		fq_hist_add(&st->hist, lat);
		atomic_store_explicit(&w->live_ios,
				      atomic_load_explicit(&w->live_ios, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		atomic_store_explicit(&w->live_bytes,
				      atomic_load_explicit(&w->live_bytes, memory_order_relaxed) +
					      cfg.io_size,
				      memory_order_relaxed);
		atomic_store_explicit(&w->live_lat_ns,
				      atomic_load_explicit(&w->live_lat_ns, memory_order_relaxed) +
					      lat,
				      memory_order_relaxed);
	}
	if (!atomic_load_explicit(&stop_flag, memory_order_relaxed))
		submit(t, now);
}

static const char *qp_state_name(enum fq_qpair_state st)
{
	switch (st) {
	case FQ_QPAIR_DISCONNECTED:
		return "disconnected";
	case FQ_QPAIR_CONNECTING:
		return "reconnecting";
	case FQ_QPAIR_LIVE:
		return "live";
	case FQ_QPAIR_FAILED:
		return "failed";
	}
	return "unknown";
}

/* Record the first lost connection and stop every worker. */
static void note_failure(const struct perf_qp *pq, const char *why)
{
	uint64_t zero = 0, now = now_ns();

	if (atomic_compare_exchange_strong(&fail_ns, &zero, now))
		snprintf(fail_msg, sizeof(fail_msg), "qpair %u of %s: %s", fq_qpair_get_id(pq->qp),
			 nss[pq->nsidx].name, why);
	atomic_store(&stop_flag, true);
}

/*
 * A qpair that is not live has lost its connection: its commands have
 * completed with a path error and new ones are refused. Waiting for a
 * reconnect would measure nothing, so the run ends at the first one.
 */
static bool check_qpairs(struct perf_worker *w)
{
	for (int q = 0; q < w->nqps; q++) {
		enum fq_qpair_state st = fq_qpair_get_state(w->qps[q].qp);
		char why[64];

		if (st == FQ_QPAIR_LIVE)
			continue;
		snprintf(why, sizeof(why), "connection lost (qpair %s)", qp_state_name(st));
		note_failure(&w->qps[q], why);
		return false;
	}
	return true;
}

static void submit_checked(struct perf_task *t, uint64_t now)
{
	int rc = submit(t, now);
	char why[96];

	if (rc == 0 || rc == -EAGAIN)
		return;
	snprintf(why, sizeof(why), "submission failed: %s", strerror(-rc));
	note_failure(t->pq, why);
}

static void *worker_main(void *arg)
{
	struct perf_worker *w = arg;
	uint64_t outstanding, stop_at = 0;

	if (cfg.cpus[w->idx] >= 0) {
		cpu_set_t set;
		int rc;

		CPU_ZERO(&set);
		CPU_SET(cfg.cpus[w->idx], &set);
		rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (rc)
			fprintf(stderr, "perf: cannot pin thread %d to CPU %d: %s\n", w->idx,
				cfg.cpus[w->idx], strerror(rc));
	}
	for (int q = 0; q < w->nqps; q++)
		for (uint32_t i = 0; i < w->qps[q].depth; i++)
			submit_checked(&w->qps[q].tasks[i], now_ns());
	do {
		int rc;

		w->turn_ns = 0;
		rc = cfg.poll ? fq_poll_group_process_completions(w->pg)
			      : fq_poll_group_wait(w->pg, 100);

		if (rc < 0 && rc != -EAGAIN && rc != -EINTR && rc != -ETIMEDOUT) {
			char why[96];

			snprintf(why, sizeof(why), "polling failed: %s", strerror(-rc));
			note_failure(&w->qps[0], why);
			break;
		}
		if (!check_qpairs(w))
			break;
		outstanding = 0;
		for (int q = 0; q < w->nqps; q++) {
			struct perf_qp *pq = &w->qps[q];

			/* Retry submissions the qpair refused while it was full. */
			for (uint32_t i = 0; pq->npending && i < pq->depth; i++)
				if (pq->tasks[i].pending && !atomic_load(&stop_flag))
					submit_checked(&pq->tasks[i], now_ns());
				else if (pq->tasks[i].pending)
					pq->tasks[i].pending = false, pq->npending--;
			outstanding += pq->inflight;
		}
		/*
		 * Draining is bounded: a target that stops answering without
		 * closing the connection must not hold the run forever.
		 */
		if (atomic_load(&stop_flag) && !stop_at)
			stop_at = now_ns() + 5000000000ull;
		if (stop_at && now_ns() > stop_at) {
			note_failure(&w->qps[0], "commands still outstanding 5 s after the run");
			break;
		}
	} while (!atomic_load(&stop_flag) || outstanding);
	return NULL;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	uint64_t m = 1;

	if (end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		m = 1024;
		end++;
		break;
	case 'm':
	case 'M':
		m = 1024 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		m = 1024ull * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	*out = (uint64_t)(v * (double)m);
	return 0;
}

/* A whole decimal number in [lo, hi]; anything else is refused. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_secs(const char *s, double lo, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo) || v > 1e7)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * -c N is N unpinned threads; -c LIST (with ',' or '-') pins one thread per
 * CPU. Every listed CPU must be one this process may run on: pinning to a
 * CPU that does not exist would otherwise fail silently in the worker.
 */
static int parse_cpus(const char *s)
{
	char *dup, *tok, *save = NULL;
	cpu_set_t allowed;
	long v;
	int n = 0;

	if (!strchr(s, ',') && !strchr(s, '-')) {
		if (parse_num(s, 1, MAX_WORKERS, &v)) {
			fprintf(stderr,
				"perf: -c '%s': expected a thread count 1..%d or a CPU list "
				"such as 1, or 0-3\n",
				s, MAX_WORKERS);
			return -EINVAL;
		}
		for (int i = 0; i < v; i++)
			cfg.cpus[i] = -1;
		return (int)v;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		CPU_ZERO(&allowed);
	dup = strdup(s);
	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		long a, b;

		if (dash)
			*dash = '\0';
		if (parse_num(tok, 0, 1 << 20, &a) ||
		    (dash && parse_num(dash + 1, 0, 1 << 20, &b)) || (dash && b < a)) {
			fprintf(stderr, "perf: -c '%s': '%s%s%s' is not a CPU or a range of CPUs\n",
				s, tok, dash ? "-" : "", dash ? dash + 1 : "");
			free(dup);
			return -EINVAL;
		}
		if (!dash)
			b = a;
		for (long c = a; c <= b; c++) {
			if (c >= CPU_SETSIZE || !CPU_ISSET((int)c, &allowed)) {
				fprintf(stderr,
					"perf: -c '%s': CPU %ld does not exist or is not allowed "
					"for this process (it may use %d CPU(s))\n",
					s, c, CPU_COUNT(&allowed));
				free(dup);
				return -EINVAL;
			}
			if (n == MAX_WORKERS) {
				fprintf(stderr, "perf: -c '%s': more than %d CPUs\n", s,
					MAX_WORKERS);
				free(dup);
				return -EINVAL;
			}
			cfg.cpus[n++] = (int)c;
		}
	}
	free(dup);
	if (!n)
		fprintf(stderr, "perf: -c '%s': no CPU listed\n", s);
	return n ? n : -EINVAL;
}

void fq_perf_usage(FILE *f)
{
	fprintf(f,
		"Usage: fabriq perf -r TRID [-r TRID...] [options]\n"
		"       fabriq perf --traddr ADDR --trsvcid PORT --nqn NQN [options]\n"
		"\n"
		"Drive NVMe/TCP namespaces as fast as the queue depth allows and report\n"
		"IOPS, bandwidth and latency percentiles.\n"
		"\n"
		"  -r, --trid TRID        target, e.g. 'trtype:TCP adrfam:IPv4 traddr:127.0.0.1\n"
		"                         trsvcid:4420 subnqn:NQN' (repeatable)\n"
		"      --traddr ADDR --trsvcid PORT --nqn NQN\n"
		"                         one more target, in nvme-cli's form\n"
		"  -q, --depth N          outstanding I/Os per qpair (default 32)\n"
		"  -o, --io-size SIZE     bytes per I/O, K/M suffixes (default 4K)\n"
		"  -w, --workload W       read|write|randread|randwrite|rw|randrw (default "
		"randread)\n"
		"  -M, --rwmixread PCT    read percentage for rw/randrw (default 50)\n"
		"  -t, --time SECONDS     measured run time (default 10)\n"
		"      --warmup SECONDS   run before measuring, not counted (default 0)\n"
		"  -c, --cpus N|LIST      N worker threads, or a CPU list like 1,3 or 2-5 "
		"(pinned)\n"
		"  -P, --qpairs N         qpairs per namespace per thread (default 1)\n"
		"  -n, --nsid N           only this namespace (default: every active one)\n"
		"      --hdr-digest       request header digests\n"
		"      --data-digest      request data digests\n"
		"      --poll             busy-poll for completions (default)\n"
		"      --no-poll          sleep in the kernel until completions arrive\n"
		"      --disable-sqflow   ask the target to disable SQ flow control (reads then\n"
		"                         complete with C2HData SUCCESS, one PDU less per read)\n"
		"      --verify           writes store an LBA-derived pattern, reads check it\n"
		"                         (run a --verify write pass over the range first)\n"
		"      --json             final report as JSON on stdout\n"
		"\n"
		"A target on the same machine needs CPUs of its own: pin the two apart,\n"
		"e.g. 'taskset -c 0 fabriqd --reactors 1 ...' and 'fabriq perf -c 1, ...'\n"
		"(a plain -c 1 is one unpinned thread; '1,' is CPU 1). Exit status: 0 ok,\n"
		"1 I/O errors or verify mismatches, 2 bad options, 3 connection failed or\n"
		"lost (the report then covers the I/O until the loss).\n");
}

static int parse_workload(const char *w)
{
	static const struct {
		const char *name;
		enum pattern p;
		int read_pct;
	} t[] = {
		{"read", PAT_SEQ, 100},	    {"write", PAT_SEQ, 0}, {"randread", PAT_RAND, 100},
		{"randwrite", PAT_RAND, 0}, {"rw", PAT_SEQ, -1},   {"randrw", PAT_RAND, -1},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(w, t[i].name))
			continue;
		cfg.pattern = t[i].p;
		if (t[i].read_pct >= 0)
			cfg.read_pct = t[i].read_pct;
		cfg.workload = t[i].name;
		return 0;
	}
	return -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"trid", required_argument, NULL, 'r'},
		CLI_ADDR_LONG_OPTS,
		{"depth", required_argument, NULL, 'q'},
		{"io-size", required_argument, NULL, 'o'},
		{"workload", required_argument, NULL, 'w'},
		{"rwmixread", required_argument, NULL, 'M'},
		{"time", required_argument, NULL, 't'},
		{"warmup", required_argument, NULL, 'W'},
		{"cpus", required_argument, NULL, 'c'},
		{"qpairs", required_argument, NULL, 'P'},
		{"nsid", required_argument, NULL, 'n'},
		{"hdr-digest", no_argument, NULL, 'H'},
		{"data-digest", no_argument, NULL, 'D'},
		{"poll", no_argument, NULL, 'p'},
		{"no-poll", no_argument, NULL, 'N'},
		{"verify", no_argument, NULL, 'V'},
		{"disable-sqflow", no_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static char addr_trid[1200];
	struct cli_addr addr = {0};
	int c, mix = -1;
	uint64_t v;
	long n;

	cfg.depth = 32;
	cfg.io_size = 4096;
	cfg.seconds = 10;
	cfg.nworkers = 1;
	cfg.cpus[0] = -1;
	cfg.qpairs_per_ns = 1;
	cfg.poll = true;
	parse_workload("randread");
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:q:o:w:M:t:c:P:n:h", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (cfg.ntrids == MAX_TRIDS)
				return fprintf(stderr, "perf: -r '%s': at most %d targets\n",
					       optarg, MAX_TRIDS),
				       EXIT_USAGE;
			cfg.trids[cfg.ntrids++] = optarg;
			break;
		case CLI_ADDR_TRADDR:
		case CLI_ADDR_TRSVCID:
		case CLI_ADDR_NQN:
			cli_addr_set(&addr, c, optarg);
			break;
		case 'q':
			/* Larger depths are clamped later to what the queues hold. */
			if (parse_num(optarg, 1, MAX_DEPTH_ARG, &n))
				return fprintf(stderr, "perf: -q '%s': expected 1..%d\n", optarg,
					       MAX_DEPTH_ARG),
				       EXIT_USAGE;
			cfg.depth = (uint32_t)n;
			break;
		case 'o':
			/* Every namespace block size is a multiple of 512 (NVMe LBADS >= 9). */
			if (parse_size(optarg, &v) || v == 0 || v % 512 || v > (64u << 20))
				return fprintf(stderr,
					       "perf: -o '%s': expected a multiple of 512 bytes "
					       "up to 64M\n",
					       optarg),
				       EXIT_USAGE;
			cfg.io_size = (uint32_t)v;
			break;
		case 'w':
			if (parse_workload(optarg))
				return fprintf(stderr,
					       "perf: -w '%s': expected read, write, randread, "
					       "randwrite, rw or randrw\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'M':
			if (parse_num(optarg, 0, 100, &n))
				return fprintf(stderr, "perf: -M '%s': expected 0..100\n", optarg),
				       EXIT_USAGE;
			mix = (int)n;
			break;
		case 't':
			if (parse_secs(optarg, 0, &cfg.seconds) || cfg.seconds <= 0)
				return fprintf(stderr, "perf: -t '%s': expected seconds > 0\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'W':
			if (parse_secs(optarg, 0, &cfg.warmup))
				return fprintf(stderr,
					       "perf: --warmup '%s': expected seconds >= 0\n",
					       optarg),
				       EXIT_USAGE;
			break;
		case 'c':
			cfg.nworkers = parse_cpus(optarg);
			if (cfg.nworkers < 0)
				return EXIT_USAGE;
			break;
		case 'P':
			if (parse_num(optarg, 1, 64, &n))
				return fprintf(stderr, "perf: -P '%s': expected 1..64\n", optarg),
				       EXIT_USAGE;
			cfg.qpairs_per_ns = (int)n;
			break;
		case 'n':
			if (parse_num(optarg, 1, 0xfffffffe, &n))
				return fprintf(stderr, "perf: -n '%s': expected a namespace ID\n",
					       optarg),
				       EXIT_USAGE;
			cfg.nsid = (uint32_t)n;
			break;
		case 'H':
			cfg.hdgst = true;
			break;
		case 'D':
			cfg.ddgst = true;
			break;
		case 'p':
			cfg.poll = true;
			break;
		case 'N':
			cfg.poll = false;
			break;
		case 'V':
			cfg.verify = true;
			break;
		case 'S':
			cfg.no_sqflow = true;
			break;
		case 'j':
			cfg.json = true;
			break;
		case 'h':
			fq_perf_usage(stdout);
			exit(0);
		default:
			fq_perf_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return fprintf(stderr, "perf: unexpected argument '%s'\n", argv[optind]),
		       EXIT_USAGE;
	if (!strcmp(cfg.workload, "rw") || !strcmp(cfg.workload, "randrw"))
		cfg.read_pct = mix >= 0 ? mix : 50;
	/* --traddr/--trsvcid/--nqn name one more target beside any -r. */
	if (cli_addr_given(&addr)) {
		if (cli_addr_check(&addr, "perf", true) || cfg.ntrids == MAX_TRIDS ||
		    cli_addr_string(&addr, addr_trid, sizeof(addr_trid)))
			return EXIT_USAGE;
		cfg.trids[cfg.ntrids++] = addr_trid;
	}
	if (!cfg.ntrids)
		return fprintf(stderr, "perf: give at least one -r TRID or --traddr\n"), EXIT_USAGE;
	return 0;
}

/* Queue entries to ask for: one more than the depth (one stays empty). */
static uint32_t queue_size(void)
{
	uint32_t d = cfg.depth < MAX_DEPTH ? cfg.depth : MAX_DEPTH;

	return d + 1 > 32 ? d + 1 : 32;
}

static int connect_all(void)
{
	for (int i = 0; i < cfg.ntrids; i++) {
		struct fq_ctrlr_opts o;
		struct fq_trid trid;
		uint32_t nsid;
		int rc = fq_trid_parse(&trid, cfg.trids[i]);

		if (rc) {
			fprintf(stderr, "perf: bad TRID '%s': %s\n", cfg.trids[i], fq_last_error());
			setup_exit = EXIT_USAGE;
			return rc;
		}
		fq_ctrlr_opts_init(&o, sizeof(o));
		o.header_digest = cfg.hdgst;
		o.data_digest = cfg.ddgst;
		o.disable_sqflow = cfg.no_sqflow;
		/*
		 * Each thread opens -P qpairs per namespace; the namespace count is
		 * known only after connecting, so ask for plenty: the controller
		 * grants what it can and qpair allocation reports a shortfall.
		 */
		o.num_io_queues = 256;
		o.io_queue_size = queue_size();
		rc = fq_ctrlr_connect(&trid, &o, &ctrlrs[i]);
		if (rc) {
			fprintf(stderr, "perf: connect %s: %s\n", cfg.trids[i], fq_last_error());
			setup_exit = EXIT_CONNECT;
			return rc;
		}
		for (nsid = fq_ctrlr_first_ns(ctrlrs[i]); nsid && nns < MAX_NS;
		     nsid = fq_ctrlr_next_ns(ctrlrs[i], nsid)) {
			struct perf_ns *n = &nss[nns];

			if (cfg.nsid && nsid != cfg.nsid)
				continue;
			n->ctrlr = ctrlrs[i];
			n->ns = fq_ctrlr_get_ns(ctrlrs[i], nsid);
			n->bs = fq_ns_get_sector_size(n->ns);
			n->nblocks = fq_ns_get_num_sectors(n->ns);
			if (cfg.io_size % n->bs) {
				fprintf(stderr,
					"perf: I/O size %u is not a multiple of nsid %u's block "
					"size %u\n",
					cfg.io_size, nsid, n->bs);
				return -EINVAL;
			}
			n->nlb = cfg.io_size / n->bs;
			n->slots = n->nblocks / n->nlb;
			snprintf(n->name, sizeof(n->name), "%s nsid %u", trid.subnqn, nsid);
			if (!n->slots) {
				fprintf(stderr, "perf: %s is smaller than one I/O\n", n->name);
				return -EINVAL;
			}
			nns++;
		}
	}
	if (!nns) {
		fprintf(stderr, "perf: no namespace to drive\n");
		return -ENOENT;
	}
	return 0;
}

static int setup_workers(void)
{
	for (int wi = 0; wi < cfg.nworkers; wi++) {
		struct perf_worker *w = &workers[wi];
		int rc;

		w->idx = wi;
		w->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(wi + 1);
		for (int i = 0; i < nns; i++)
			fq_hist_init(&w->st[i].hist);
		{
			struct fq_poll_group_opts po;

			fq_poll_group_opts_init(&po, sizeof(po));
			po.busy_poll = cfg.poll;
			rc = fq_poll_group_create_opts(&po, &w->pg);
		}
		if (rc)
			return fprintf(stderr, "perf: poll group: %s\n", strerror(-rc)), rc;
		w->nqps = nns * cfg.qpairs_per_ns;
		w->qps = calloc((size_t)w->nqps, sizeof(*w->qps));
		if (!w->qps)
			return -ENOMEM;
		for (int q = 0; q < w->nqps; q++) {
			struct perf_qp *pq = &w->qps[q];
			struct fq_qpair_opts qo;

			pq->w = w;
			pq->nsidx = q / cfg.qpairs_per_ns;
			pq->next_slot = (uint64_t)q * 7919;
			fq_qpair_opts_init(&qo, sizeof(qo));
			qo.queue_size = queue_size();
			qo.poll_group = w->pg;
			rc = fq_ctrlr_alloc_io_qpair(nss[pq->nsidx].ctrlr, &qo, &pq->qp);
			if (rc) {
				fprintf(stderr, "perf: qpair for %s: %s\n", nss[pq->nsidx].name,
					fq_last_error());
				setup_exit = EXIT_CONNECT;
				return rc;
			}
			/*
			 * Never keep more tasks than the qpair holds: the extra ones
			 * would only bounce off -EAGAIN on every loop turn.
			 */
			pq->depth = cfg.depth < MAX_DEPTH ? cfg.depth : MAX_DEPTH;
			if (fq_qpair_depth(pq->qp) && fq_qpair_depth(pq->qp) < pq->depth) {
				pq->depth = fq_qpair_depth(pq->qp);
				if (wi == 0 && q == 0)
					fprintf(stderr,
						"perf: -q %u: the target's queues hold %u "
						"commands; "
						"running at depth %u\n",
						cfg.depth, pq->depth, pq->depth);
			}
			if (!run_depth || pq->depth < run_depth)
				run_depth = pq->depth;
			pq->tasks = calloc(pq->depth, sizeof(*pq->tasks));
			if (!pq->tasks)
				return -ENOMEM;
			for (uint32_t i = 0; i < pq->depth; i++) {
				pq->tasks[i].pq = pq;
				pq->tasks[i].buf =
					aligned_alloc(4096, (cfg.io_size + 4095) & ~4095u);
				if (!pq->tasks[i].buf)
					return -ENOMEM;
				memset(pq->tasks[i].buf, 0x5a, cfg.io_size);
			}
		}
	}
	return 0;
}

static void teardown(void)
{
	for (int wi = 0; wi < cfg.nworkers; wi++) {
		struct perf_worker *w = &workers[wi];

		for (int q = 0; w->qps && q < w->nqps; q++) {
			if (w->qps[q].qp)
				fq_qpair_free(w->qps[q].qp);
			for (uint32_t i = 0; w->qps[q].tasks && i < w->qps[q].depth; i++)
				free(w->qps[q].tasks[i].buf);
			free(w->qps[q].tasks);
		}
		free(w->qps);
		if (w->pg)
			fq_poll_group_destroy(w->pg);
	}
	for (int i = 0; i < cfg.ntrids; i++)
		if (ctrlrs[i])
			fq_ctrlr_disconnect(ctrlrs[i]);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

struct report {
	struct perf_stats st;
	double secs;
};

static void add_row(json_object *arr, const char *name, const struct perf_stats *st, double secs,
		    bool human)
{
	const struct fq_hist *h = &st->hist;
	double iops = (double)(st->reads + st->writes) / secs;
	double mibs = (double)st->bytes / secs / (1024.0 * 1024.0);
	double us = 1e-3;

	if (human) {
		printf("%-46.46s %10.0f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f %10.2f\n",
		       name, iops, mibs, fq_hist_mean(h) * us, h->count ? (double)h->min * us : 0.0,
		       (double)h->max * us, (double)fq_hist_percentile(h, 50) * us,
		       (double)fq_hist_percentile(h, 90) * us,
		       (double)fq_hist_percentile(h, 99) * us,
		       (double)fq_hist_percentile(h, 99.9) * us,
		       (double)fq_hist_percentile(h, 99.99) * us);
		if (st->errors || st->verify_errors)
			printf("%-46.46s errors %llu, verify mismatches %llu\n", "",
			       (unsigned long long)st->errors,
			       (unsigned long long)st->verify_errors);
		return;
	}
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "iops", json_object_new_double(iops));
		json_object_object_add(o, "mib_per_s", json_object_new_double(mibs));
		json_object_object_add(o, "reads", json_object_new_int64((int64_t)st->reads));
		json_object_object_add(o, "writes", json_object_new_int64((int64_t)st->writes));
		json_object_object_add(o, "errors", json_object_new_int64((int64_t)st->errors));
		json_object_object_add(o, "verify_errors",
				       json_object_new_int64((int64_t)st->verify_errors));
		json_object_object_add(o, "lat_mean_us",
				       json_object_new_double(fq_hist_mean(h) * us));
		json_object_object_add(
			o, "lat_min_us",
			json_object_new_double(h->count ? (double)h->min * us : 0.0));
		json_object_object_add(o, "lat_max_us",
				       json_object_new_double((double)h->max * us));
		json_object_object_add(
			o, "p50_us",
			json_object_new_double((double)fq_hist_percentile(h, 50) * us));
		json_object_object_add(
			o, "p90_us",
			json_object_new_double((double)fq_hist_percentile(h, 90) * us));
		json_object_object_add(
			o, "p99_us",
			json_object_new_double((double)fq_hist_percentile(h, 99) * us));
		json_object_object_add(
			o, "p99_9_us",
			json_object_new_double((double)fq_hist_percentile(h, 99.9) * us));
		json_object_object_add(
			o, "p99_99_us",
			json_object_new_double((double)fq_hist_percentile(h, 99.99) * us));
		json_object_array_add(arr, o);
	}
}

static double cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(double secs, double cpu)
{
	struct perf_stats total = {0}, per[MAX_NS];
	json_object *root = NULL, *arr = NULL;
	bool human = !cfg.json;

	fq_hist_init(&total.hist);
	for (int i = 0; i < nns; i++) {
		memset(&per[i], 0, sizeof(per[i]));
		fq_hist_init(&per[i].hist);
		for (int wi = 0; wi < cfg.nworkers; wi++) {
			const struct perf_stats *s = &workers[wi].st[i];

			per[i].reads += s->reads;
			per[i].writes += s->writes;
			per[i].bytes += s->bytes;
			per[i].errors += s->errors;
			per[i].verify_errors += s->verify_errors;
			fq_hist_merge(&per[i].hist, &s->hist);
		}
		total.reads += per[i].reads;
		total.writes += per[i].writes;
		total.bytes += per[i].bytes;
		total.errors += per[i].errors;
		total.verify_errors += per[i].verify_errors;
		fq_hist_merge(&total.hist, &per[i].hist);
	}
	if (human) {
		printf("\n%-46s %10s %9s %9s %9s %9s %9s %9s %9s %10s %10s\n", "namespace", "IOPS",
		       "MiB/s", "avg(us)", "min(us)", "max(us)", "p50", "p90", "p99", "p99.9",
		       "p99.99");
	} else {
		root = json_object_new_object();
		arr = json_object_new_array();
	}
	for (int i = 0; i < nns; i++)
		add_row(arr, nss[i].name, &per[i], secs, human);
	if (human) {
		add_row(NULL, "Total", &total, secs, true);
		printf("CPU (fabriq perf): %.1f%% of one core over %.2f s (%d thread(s), %s)\n",
		       100.0 * cpu / secs, secs, cfg.nworkers, cfg.poll ? "polling" : "sleeping");
	} else {
		json_object *tot = json_object_new_array(), *c = json_object_new_object();

		add_row(tot, "total", &total, secs, false);
		json_object_object_add(root, "namespaces", arr);
		json_object_object_add(root, "total",
				       json_object_get(json_object_array_get_idx(tot, 0)));
		json_object_put(tot);
		json_object_object_add(c, "workload", json_object_new_string(cfg.workload));
		json_object_object_add(c, "io_size", json_object_new_int64(cfg.io_size));
		json_object_object_add(c, "depth", json_object_new_int64(run_depth));
		json_object_object_add(c, "depth_requested", json_object_new_int64(cfg.depth));
		json_object_object_add(c, "threads", json_object_new_int(cfg.nworkers));
		json_object_object_add(c, "qpairs_per_ns", json_object_new_int(cfg.qpairs_per_ns));
		json_object_object_add(c, "read_pct", json_object_new_int(cfg.read_pct));
		json_object_object_add(c, "seconds", json_object_new_double(secs));
		json_object_object_add(c, "poll", json_object_new_boolean(cfg.poll));
		json_object_object_add(c, "hdr_digest", json_object_new_boolean(cfg.hdgst));
		json_object_object_add(c, "data_digest", json_object_new_boolean(cfg.ddgst));
		json_object_object_add(root, "config", c);
		json_object_object_add(root, "cpu_pct", json_object_new_double(100.0 * cpu / secs));
		if (atomic_load(&fail_ns))
			json_object_object_add(root, "error", json_object_new_string(fail_msg));
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
	}
}

/* Print IOPS, MiB/s and mean latency once a second while on a terminal. */
static void live_line(uint64_t *last_ios, uint64_t *last_bytes, uint64_t *last_lat, double dt)
{
	uint64_t ios = 0, bytes = 0, lat = 0;

	for (int wi = 0; wi < cfg.nworkers; wi++) {
		ios += atomic_load_explicit(&workers[wi].live_ios, memory_order_relaxed);
		bytes += atomic_load_explicit(&workers[wi].live_bytes, memory_order_relaxed);
		lat += atomic_load_explicit(&workers[wi].live_lat_ns, memory_order_relaxed);
	}
	if (isatty(STDERR_FILENO) && !cfg.json) {
		uint64_t d = ios - *last_ios;

		fprintf(stderr, "\r%10.0f IOPS %9.2f MiB/s %9.2f us mean    ", (double)d / dt,
			(double)(bytes - *last_bytes) / dt / (1024.0 * 1024.0),
			d ? (double)(lat - *last_lat) / (double)d / 1e3 : 0.0);
		fflush(stderr);
	}
	*last_ios = ios;
	*last_bytes = bytes;
	*last_lat = lat;
}

int fq_cli_perf(int argc, char **argv)
{
	uint64_t t0, t_meas = 0, li = 0, lb = 0, ll = 0, last, end, failed;
	double cpu0 = 0, secs;
	int rc = parse_args(argc, argv);

	if (rc)
		return rc;
	signal(SIGINT, on_signal);
	rc = connect_all();
	if (!rc)
		rc = setup_workers();
	if (rc) {
		teardown();
		return setup_exit;
	}
	atomic_store(&epoch, 0);
	for (int wi = 0; wi < cfg.nworkers; wi++)
		pthread_create(&workers[wi].thread, NULL, worker_main, &workers[wi]);
	t0 = last = now_ns();
	if (cfg.warmup <= 0) {
		t_meas = t0;
		cpu0 = cpu_secs();
	}
	while (!atomic_load(&interrupted) && !atomic_load(&fail_ns)) {
		uint64_t t;

		usleep(20000);
		t = now_ns();
		if (!t_meas && (double)(t - t0) / 1e9 >= cfg.warmup) {
			atomic_fetch_add(&epoch, 1);
			t_meas = t;
			cpu0 = cpu_secs();
		}
		if (t - last >= 1000000000ull) {
			live_line(&li, &lb, &ll, (double)(t - last) / 1e9);
			last = t;
		}
		if (t_meas && (double)(t - t_meas) / 1e9 >= cfg.seconds)
			break;
	}
	end = now_ns();
	atomic_store(&stop_flag, true);
	for (int wi = 0; wi < cfg.nworkers; wi++)
		pthread_join(workers[wi].thread, NULL);
	/* A lost connection ends the measured time where it was seen. */
	failed = atomic_load(&fail_ns);
	if (failed && failed < end)
		end = failed;
	if (!t_meas)
		t_meas = t0;
	secs = end > t_meas ? (double)(end - t_meas) / 1e9 : 1e-9;
	if (isatty(STDERR_FILENO) && !cfg.json)
		fprintf(stderr, "\n");
	if (failed)
		fprintf(stderr, "perf: %s after %.2f s; the report covers the I/O until then\n",
			fail_msg, (double)(failed - t0) / 1e9);
	report(secs, cpu_secs() - cpu0);
	teardown();
	if (failed)
		return EXIT_CONNECT;
	for (int i = 0; i < nns; i++)
		for (int wi = 0; wi < cfg.nworkers; wi++)
			if (workers[wi].st[i].errors || workers[wi].st[i].verify_errors)
				return EXIT_NVME;
	return EXIT_OK;
}
