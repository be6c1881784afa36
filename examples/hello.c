/* SPDX-License-Identifier: MIT */
/*
 * hello: the host library in one page.
 *
 *   hello "trtype:TCP traddr:127.0.0.1 trsvcid:4420 subnqn:NQN"
 *
 * Connects, prints what the controller and its first namespace are, writes
 * one block asynchronously (submit, then poll), reads it back with a
 * blocking call, and disconnects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fabriq/host.h>

struct done {
	bool finished;
	struct fq_cpl cpl;
};

/* Runs on this thread, inside fq_qpair_process_completions/wait. */
static void on_write(void *arg, const struct fq_cpl *cpl)
{
	struct done *d = arg;

	d->cpl = *cpl;
	d->finished = true;
}

static int io(struct fq_ns *ns, struct fq_qpair *qp)
{
	uint32_t bs = fq_ns_get_sector_size(ns);
	char *wbuf = calloc(1, bs), *rbuf = calloc(1, bs), st[128];
	struct done d = {0};
	int rc = -ENOMEM;

	if (!wbuf || !rbuf)
		goto out;
	snprintf(wbuf, bs, "hello from libfabriq");
	/* Asynchronous: submit only queues; the poll does the socket I/O. */
	rc = fq_ns_write(ns, qp, wbuf, 0, 1, on_write, &d, 0);
	while (!rc && !d.finished)
		fq_qpair_wait(qp, 1000);
	if (rc || fq_cpl_is_error(&d.cpl)) {
		fprintf(stderr, "write failed: %s\n",
			rc ? strerror(-rc) : fq_cpl_str(&d.cpl, st, 128));
		rc = rc ? rc : -EIO;
		goto out;
	}
	/* Blocking: the same machinery, waiting for you. */
	rc = fq_ns_read_sync(ns, qp, rbuf, 0, 1, NULL);
	if (!rc)
		printf("read back: \"%s\"\n", rbuf);
out:
	free(wbuf);
	free(rbuf);
	return rc;
}

int main(int argc, char **argv)
{
	struct fq_ctrlr_opts opts;
	struct fq_ctrlr *ctrlr;
	struct fq_qpair *qp;
	struct fq_trid trid;
	struct fq_ns *ns;
	int rc;

	if (argc != 2 || fq_trid_parse(&trid, argv[1])) {
		fprintf(stderr, "usage: %s \"traddr:ADDR trsvcid:PORT subnqn:NQN\"\n", argv[0]);
		return 2;
	}
	fq_ctrlr_opts_init(&opts, sizeof(opts));
	opts.num_io_queues = 1;
	rc = fq_ctrlr_connect(&trid, &opts, &ctrlr);
	if (rc) {
		fprintf(stderr, "%s\n", fq_last_error());
		return 1;
	}
	ns = fq_ctrlr_get_ns(ctrlr, fq_ctrlr_first_ns(ctrlr));
	if (!ns || fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp)) {
		fprintf(stderr, "no namespace or no I/O queue: %s\n", fq_last_error());
		fq_ctrlr_disconnect(ctrlr);
		return 1;
	}
	printf("controller %u, %u namespace(s); namespace %u: %llu blocks of %u bytes\n",
	       fq_ctrlr_get_cntlid(ctrlr), fq_ctrlr_num_ns(ctrlr), fq_ns_get_id(ns),
	       (unsigned long long)fq_ns_get_num_sectors(ns), fq_ns_get_sector_size(ns));
	rc = io(ns, qp);
	fq_qpair_free(qp);
	fq_ctrlr_disconnect(ctrlr);
	return rc ? 1 : 0;
}
