/* SPDX-License-Identifier: MIT */
/*
 * idle_host: connect to a target with one I/O qpair and do nothing for N
 * seconds (the library keeps the controller alive), so the benchmark suite
 * can measure what an idle connected host costs the target.
 *
 *   idle_host TRID SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fabriq/host.h"

int main(int argc, char **argv)
{
	struct fq_ctrlr_opts o;
	struct fq_qpair_opts qo;
	struct fq_ctrlr *c;
	struct fq_qpair *qp;
	struct fq_trid trid;

	if (argc != 3 || fq_trid_parse(&trid, argv[1])) {
		fprintf(stderr, "usage: idle_host TRID SECONDS\n");
		return 2;
	}
	fq_ctrlr_opts_init(&o, sizeof(o));
	o.num_io_queues = 1;
	if (fq_ctrlr_connect(&trid, &o, &c)) {
		fprintf(stderr, "idle_host: %s\n", fq_last_error());
		return 1;
	}
	fq_qpair_opts_init(&qo, sizeof(qo));
	if (fq_ctrlr_alloc_io_qpair(c, &qo, &qp)) {
		fprintf(stderr, "idle_host: %s\n", fq_last_error());
		return 1;
	}
	printf("connected\n");
	fflush(stdout);
	sleep((unsigned)atoi(argv[2]));
	fq_qpair_free(qp);
	fq_ctrlr_disconnect(c);
	return 0;
}
