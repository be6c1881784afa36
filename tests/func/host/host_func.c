/* SPDX-License-Identifier: MIT */
/*
 * Host library functional tests against any NVMe/TCP target named by a
 * transport ID (the Linux kernel target in qemu, or fabriqd):
 *
 *   host_func --trid "traddr:127.0.0.1 trsvcid:4420 subnqn:NQN" [--digest]
 *             [--tests a,b,c] [--mib N] [--seed S] [--disc-port P]
 *             [--kill-cmd CMD --restart-cmd CMD] [--expect-denied]
 *
 * Prints PASS/FAIL per test and exits 0 only if all selected tests passed.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "func_common.h"
#include "proto/nvmf.h"
#include "util/log.h"

static int connect_env(struct fenv *e)
{
	int rc = fq_ctrlr_connect(&e->trid, &e->opts, &e->c);

	CHECK(rc == 0, "connect: %s (%s)", strerror(-rc), fq_last_error());
	e->ns = fq_ctrlr_get_ns(e->c, fq_ctrlr_first_ns(e->c));
	CHECK(e->ns, "no active namespace");
	e->ss = fq_ns_get_sector_size(e->ns);
	e->area = fq_ns_get_size(e->ns);
	if (e->area > 256ull << 20)
		e->area = 256ull << 20;
	return 0;
}

static int t_identify(struct fenv *e)
{
	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(e->c);
	const struct fq_id_ns *ns = fq_ns_get_identify(e->ns);
	char subnqn[257];

	memcpy(subnqn, id->subnqn, 256);
	subnqn[256] = 0;
	CHECK(fq_ctrlr_get_state(e->c) == FQ_CTRLR_LIVE, "controller not live");
	CHECK(id->cntlid == fq_ctrlr_get_cntlid(e->c), "CNTLID differs from Connect");
	CHECK(!strcmp(subnqn, e->trid.subnqn), "SUBNQN %s differs from %s", subnqn, e->trid.subnqn);
	CHECK(fq_ctrlr_get_vs(e->c) >= FQ_VS(1, 2, 0), "VS 0x%x too old", fq_ctrlr_get_vs(e->c));
	CHECK(fq_ctrlr_num_ns(e->c) >= 1, "no namespaces");
	CHECK(fq_ctrlr_get_num_io_queues(e->c) >= 1, "no I/O queues granted");
	CHECK(e->ss == 512 || e->ss == 4096, "odd sector size %u", e->ss);
	CHECK(ns->nsze > 0 && fq_ns_get_num_sectors(e->ns) == ns->nsze, "NSZE mismatch");
	for (uint32_t n = fq_ctrlr_first_ns(e->c); n; n = fq_ctrlr_next_ns(e->c, n))
		CHECK(fq_ctrlr_get_ns(e->c, n), "iterator gave inactive nsid %u", n);
	printf("  cntlid %u, %u namespace(s), ns1 %llu x %u B, %u I/O queues, mdts %u\n",
	       id->cntlid, fq_ctrlr_num_ns(e->c), (unsigned long long)ns->nsze, e->ss,
	       fq_ctrlr_get_num_io_queues(e->c), fq_ctrlr_get_max_xfer(e->c));
	return 0;
}

static struct fq_qpair *new_qp_size(struct fenv *e, struct fq_poll_group *pg, uint32_t size)
{
	struct fq_qpair_opts o;
	struct fq_qpair *qp = NULL;

	fq_qpair_opts_init(&o, sizeof(o));
	o.poll_group = pg;
	o.queue_size = size;
	if (fq_ctrlr_alloc_io_qpair(e->c, &o, &qp))
		fprintf(stderr, "  alloc qpair: %s\n", fq_last_error());
	return qp;
}

struct fq_qpair *func_new_qp(struct fenv *e, struct fq_poll_group *pg)
{
	return new_qp_size(e, pg, 0);
}

/* 64 MiB (by default) written and read back, queue depths 1 to 128. */
static int t_rw(struct fenv *e)
{
	static const uint32_t qds[] = {1, 4, 32, 128};
	/* 129 entries: 128 commands in flight (a full queue keeps one free). */
	struct fq_qpair *qp = new_qp_size(e, NULL, 129);
	int rc = 0;

	CHECK(qp, "no qpair");
	for (size_t i = 0; i < sizeof(qds) / sizeof(qds[0]) && !rc; i++) {
		struct rw_plan p = {
			.qps = &qp,
			.nqp = 1,
			.ns = e->ns,
			.base = 0,
			.len = e->area,
			.total = (e->total_mib << 20) / 4,
			.qd = qds[i],
			.min_io = e->ss,
			.max_io = 1 << 20,
			.seed = e->seed + i,
		};
		uint64_t t0 = now_ms();

		if (p.qd > fq_qpair_depth(qp))
			p.qd = fq_qpair_depth(qp);
		rc = rw_verify(&p);
		printf("  qd %3u: %llu MiB written and verified in %llu ms\n", p.qd,
		       (unsigned long long)(p.total >> 20), (unsigned long long)(now_ms() - t0));
	}
	fq_qpair_free(qp);
	CHECK(rc == 0, "write/read-verify failed");
	return 0;
}

static int t_vectored(struct fenv *e)
{
	struct fq_qpair *qp = func_new_qp(e, NULL);
	struct rw_plan p = {
		.qps = &qp,
		.nqp = 1,
		.ns = e->ns,
		.len = e->area,
		.total = 8 << 20,
		.qd = 16,
		.min_io = e->ss,
		.max_io = 1 << 20,
		.seed = e->seed ^ 0x55,
		.vectored = true,
	};
	int rc;

	CHECK(qp, "no qpair");
	rc = rw_verify(&p);
	fq_qpair_free(qp);
	CHECK(rc == 0, "vectored write/read-verify failed");
	return 0;
}

/* Writes around and far above the in-capsule limit: R2T and H2CData. */
static int t_r2t(struct fenv *e)
{
	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(e->c);
	uint32_t inl = id->ioccsz >= 4 ? id->ioccsz * 16 - 64 : 0;
	uint32_t sizes[] = {inl, inl + e->ss, 8u << 20, 3 * e->ss};
	struct fq_qpair *qp = func_new_qp(e, NULL);
	uint8_t *w = malloc(8u << 20), *r = malloc(8u << 20);
	uint64_t s = e->seed;
	int bad = 0;

	CHECK(qp && w && r, "setup");
	printf("  in-capsule limit %u bytes\n", inl);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i] / e->ss * e->ss;
		struct fq_cpl cpl;

		if (!len)
			continue;
		for (uint32_t j = 0; j < len; j++)
			w[j] = (uint8_t)xrand(&s);
		if (fq_ns_write_sync(e->ns, qp, w, 64, len / e->ss, 0, &cpl) ||
		    fq_ns_read_sync(e->ns, qp, r, 64, len / e->ss, &cpl) || memcmp(w, r, len)) {
			fprintf(stderr, "  %u-byte write/read failed\n", len);
			bad++;
		}
	}
	fq_qpair_free(qp);
	free(w);
	free(r);
	CHECK(!bad, "R2T path");
	return 0;
}

struct thr_arg {
	struct fenv *e;
	int idx;
	int rc;
};

static void *thr_main(void *arg)
{
	struct thr_arg *a = arg;
	struct fq_qpair *qp = func_new_qp(a->e, NULL);
	uint64_t quarter = a->e->area / 4 / a->e->ss * a->e->ss;
	struct rw_plan p = {
		.nqp = 1,
		.ns = a->e->ns,
		.base = quarter * (uint64_t)a->idx,
		.len = quarter,
		.total = 4 << 20,
		.qd = 16,
		.min_io = a->e->ss,
		.max_io = 256 << 10,
		.seed = a->e->seed + 100 + (uint64_t)a->idx,
	};

	if (!qp) {
		a->rc = -1;
		return NULL;
	}
	p.qps = &qp;
	a->rc = rw_verify(&p);
	fq_qpair_free(qp);
	return NULL;
}

/* Four qpairs, each owned and driven by its own thread. */
static int t_threads(struct fenv *e)
{
	pthread_t th[4];
	struct thr_arg a[4];

	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr_arg){e, i, 0};
		CHECK(pthread_create(&th[i], NULL, thr_main, &a[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK(a[i].rc == 0, "thread %d failed", i);
	return 0;
}

/* One thread, one ring, four qpairs. */
static int t_poll_group(struct fenv *e)
{
	struct fq_poll_group *pg;
	struct fq_qpair *qps[4];
	struct rw_plan p = {
		.qps = qps,
		.nqp = 4,
		.ns = e->ns,
		.len = e->area,
		.total = 8 << 20,
		.qd = 64,
		.min_io = e->ss,
		.max_io = 256 << 10,
		.seed = e->seed ^ 0xabc,
	};
	int rc;

	CHECK(fq_poll_group_create(&p.pg) == 0, "poll group");
	pg = p.pg;
	for (int i = 0; i < 4; i++)
		CHECK((qps[i] = func_new_qp(e, pg)), "qpair %d", i);
	rc = rw_verify(&p);
	for (int i = 0; i < 4; i++)
		fq_qpair_free(qps[i]);
	CHECK(fq_poll_group_destroy(pg) == 0, "destroy");
	CHECK(rc == 0, "poll group I/O");
	return 0;
}

static int t_discovery(struct fenv *e)
{
	struct fq_trid t = e->trid;
	struct fq_disc_entry *ents = NULL;
	bool found = false;
	int n;

	snprintf(t.subnqn, sizeof(t.subnqn), "%s", FQ_DISCOVERY_SUBNQN);
	if (e->disc_port[0])
		snprintf(t.trsvcid, sizeof(t.trsvcid), "%s", e->disc_port);
	n = fq_discover(&t, &e->opts, FQ_DISC_FOLLOW_REFERRALS, &ents);
	CHECK(n >= 0, "discover: %s (%s)", strerror(-n), fq_last_error());
	for (int i = 0; i < n; i++) {
		printf("  entry %d: subtype %u %s %s:%s\n", i, ents[i].subtype, ents[i].subnqn,
		       ents[i].traddr, ents[i].trsvcid);
		if (!strcmp(ents[i].subnqn, e->trid.subnqn) && ents[i].trtype == FQ_TRANSPORT_TCP)
			found = true;
	}
	free(ents);
	CHECK(found, "subsystem %s not in the discovery log", e->trid.subnqn);
	return 0;
}

struct test {
	const char *name;
	int (*fn)(struct fenv *e);
	bool needs_conn;
};

static const struct test tests[] = {
	{"identify", t_identify, true},
	{"rw", t_rw, true},
	{"vectored", t_vectored, true},
	{"r2t", t_r2t, true},
	{"threads", t_threads, true},
	{"poll_group", t_poll_group, true},
	{"commands", t_commands, true},
	{"copy", t_copy, true},
	{"discovery", t_discovery, false},
	{"refused", t_refused, false},
	{"no_icresp", t_no_icresp, false},
	{"denied", t_denied, false},
	{"kill_target", t_kill_target, false},
	{"stall_target", t_stall_target, false},
	{"keepalive_idle", t_keepalive_idle, false},
};

static bool selected(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);

		if (l == n && !strncmp(p, name, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static int parse_args(int argc, char **argv, struct fenv *e, const char **list)
{
	static const struct option lo[] = {
		{"trid", required_argument, 0, 't'},	 {"digest", no_argument, 0, 'd'},
		{"tests", required_argument, 0, 'T'},	 {"mib", required_argument, 0, 'm'},
		{"seed", required_argument, 0, 's'},	 {"disc-port", required_argument, 0, 'D'},
		{"kill-cmd", required_argument, 0, 'k'}, {"restart-cmd", required_argument, 0, 'r'},
		{"stop-cmd", required_argument, 0, 'S'}, {"cont-cmd", required_argument, 0, 'C'},
		{"verbose", no_argument, 0, 'v'},	 {0, 0, 0, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (fq_trid_parse(&e->trid, optarg))
				return -1;
			break;
		case 'd':
			e->opts.header_digest = e->opts.data_digest = true;
			break;
		case 'T':
			*list = optarg;
			break;
		case 'm':
			e->total_mib = strtoull(optarg, NULL, 0);
			break;
		case 's':
			e->seed = strtoull(optarg, NULL, 0);
			break;
		case 'D':
			snprintf(e->disc_port, sizeof(e->disc_port), "%s", optarg);
			break;
		case 'k':
			snprintf(e->kill_cmd, sizeof(e->kill_cmd), "%s", optarg);
			break;
		case 'r':
			snprintf(e->restart_cmd, sizeof(e->restart_cmd), "%s", optarg);
			break;
		case 'S':
			snprintf(e->stop_cmd, sizeof(e->stop_cmd), "%s", optarg);
			break;
		case 'C':
			snprintf(e->cont_cmd, sizeof(e->cont_cmd), "%s", optarg);
			break;
		case 'v':
			fq_log_set_level(FQ_LOG_DEBUG);
			break;
		default:
			return -1;
		}
	}
	return e->trid.traddr[0] ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct fenv e;
	const char *list = "identify,rw,vectored,r2t,threads,poll_group,commands,discovery";
	int failed = 0;

	fq_ctrlr_opts_init(&e.opts, sizeof(e.opts));
	e.total_mib = 64;
	e.seed = (uint64_t)time(NULL);
	if (parse_args(argc, argv, &e, &list)) {
		fprintf(stderr, "usage: %s --trid TRID [--digest] [--tests LIST] [--mib N]\n",
			argv[0]);
		return 2;
	}
	printf("seed %llu, digests %s\n", (unsigned long long)e.seed,
	       e.opts.header_digest ? "on" : "off");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		uint64_t t0 = now_ms();
		int rc = 0;

		if (!selected(list, tests[i].name))
			continue;
		if (tests[i].needs_conn && !e.c && connect_env(&e)) {
			printf("FAIL connect\n");
			return 1;
		}
		rc = tests[i].fn(&e);
		printf("%s %s (%llu ms)\n", rc ? "FAIL" : "PASS", tests[i].name,
		       (unsigned long long)(now_ms() - t0));
		fflush(stdout);
		failed += rc != 0;
	}
	if (e.c) {
		int rc = fq_ctrlr_disconnect(e.c);

		if (rc) {
			printf("FAIL disconnect: %s\n", strerror(-rc));
			failed++;
		}
	}
	return failed ? 1 : 0;
}
