/* SPDX-License-Identifier: MIT */
/*
 * fabriqd --metrics-listen: GET /metrics in the Prometheus text format
 * (docs/management.md), served by a thread of its own over the getters of
 * the public target API, so a scrape never stalls a reactor.
 */
#ifndef FQ_MGMT_METRICS_H
#define FQ_MGMT_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "fabriq/target.h"

struct fq_metrics;

/*
 * Bind @listen ("ADDR:PORT" or "[V6ADDR]:PORT", numeric). Returns 0 or
 * -errno with a sentence in @err.
 */
int fq_metrics_open(const char *listen, struct fq_metrics **out, char *err, size_t errlen);

/* Serve the started target @t from a new thread. Returns 0 or -errno. */
int fq_metrics_run(struct fq_metrics *m, struct fq_target *t, const char *version, char *err,
		   size_t errlen);

/* Stop serving and free @m (may be NULL); before the target stops. */
void fq_metrics_stop(struct fq_metrics *m);

/* The exposition text for @t (also what the tests and the fuzzer read). */
int fq_metrics_render(struct fq_target *t, const char *version, FILE *f);

#endif
