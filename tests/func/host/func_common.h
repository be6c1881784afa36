/* SPDX-License-Identifier: MIT */
/* Helpers shared by the host functional tests. */
#ifndef FQ_TEST_FUNC_COMMON_H
#define FQ_TEST_FUNC_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "fabriq/host.h"

#define T_SKIP 77

struct fenv {
	struct fq_trid trid;
	struct fq_ctrlr_opts opts;
	struct fq_ctrlr *c;
	struct fq_ns *ns;
	uint32_t ss;
	uint64_t area; /* bytes of the namespace the tests may use */
	uint64_t total_mib;
	uint64_t seed;
	char disc_port[16];
	char kill_cmd[512];
	char restart_cmd[512];
	char stop_cmd[512];
	char cont_cmd[512];
};

#define FAILF(...)                                                                                 \
	do {                                                                                       \
		fprintf(stderr, "  check failed at %s:%d: ", __FILE__, __LINE__);                  \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		return -1;                                                                         \
	} while (0)

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAILF(__VA_ARGS__);                                                        \
	} while (0)

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t xrand(uint64_t *s)
{
	/* xorshift64*: fast, reproducible from the seed printed at start. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

struct fq_qpair *func_new_qp(struct fenv *e, struct fq_poll_group *pg);
int t_commands(struct fenv *e);
int t_copy(struct fenv *e);
int t_refused(struct fenv *e);
int t_no_icresp(struct fenv *e);
int t_denied(struct fenv *e);
int t_kill_target(struct fenv *e);
int t_stall_target(struct fenv *e);
int t_keepalive_idle(struct fenv *e);

/* Write then read-verify random extents (rw_engine.c). */
struct rw_plan {
	struct fq_qpair **qps;
	int nqp;
	struct fq_poll_group *pg;
	struct fq_ns *ns;
	uint64_t base;	/* byte offset of the region */
	uint64_t len;	/* region length */
	uint64_t total; /* bytes to write (and read back) */
	uint32_t qd;
	uint32_t min_io; /* bytes */
	uint32_t max_io;
	uint64_t seed;
	bool vectored; /* split buffers into several iovecs */
};
int rw_verify(const struct rw_plan *p);

#endif
