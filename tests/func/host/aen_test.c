/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous events end to end: connect to a target, print "READY", wait
 * for a Namespace Attribute Changed event (the test script makes fabriqd add
 * namespace 3 and remove namespace 2 with SIGHUP), rescan, and check the
 * namespace list and the event's dword 0.
 *
 *   aen_test TRID
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fabriq/host.h"

static atomic_int events;
static atomic_uint last_cdw0;

static void on_aer(void *arg, uint32_t cdw0)
{
	(void)arg;
	atomic_store(&last_cdw0, cdw0);
	atomic_fetch_add(&events, 1);
}

static void print_ns(struct fq_ctrlr *c, const char *when)
{
	printf("%s:", when);
	for (uint32_t n = fq_ctrlr_first_ns(c); n; n = fq_ctrlr_next_ns(c, n))
		printf(" %u", n);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct fq_ctrlr_opts o;
	struct fq_ctrlr *c;
	struct fq_trid trid;
	uint32_t cdw0;
	int rc = 1;

	if (argc != 2 || fq_trid_parse(&trid, argv[1])) {
		fprintf(stderr, "usage: aen_test TRID\n");
		return 2;
	}
	fq_ctrlr_opts_init(&o, sizeof(o));
	o.aer_cb = on_aer;
	if (fq_ctrlr_connect(&trid, &o, &c)) {
		fprintf(stderr, "aen_test: %s\n", fq_last_error());
		return 1;
	}
	print_ns(c, "before");
	if (!fq_ctrlr_get_ns(c, 1) || !fq_ctrlr_get_ns(c, 2) || fq_ctrlr_get_ns(c, 3)) {
		fprintf(stderr, "aen_test: expected namespaces 1 and 2 at start\n");
		goto out;
	}
	printf("READY\n");
	fflush(stdout);
	for (int i = 0; i < 300 && !atomic_load(&events); i++)
		usleep(100000);
	if (!atomic_load(&events)) {
		fprintf(stderr, "aen_test: no asynchronous event within 30 s\n");
		goto out;
	}
	cdw0 = atomic_load(&last_cdw0);
	/* Notice (2), Namespace Attribute Changed (0), log page 04h. */
	if ((cdw0 & 7) != 2 || ((cdw0 >> 8) & 0xff) != 0 || ((cdw0 >> 16) & 0xff) != 4) {
		fprintf(stderr, "aen_test: unexpected event dword 0 0x%08x\n", cdw0);
		goto out;
	}
	if (fq_ctrlr_rescan_ns(c)) {
		fprintf(stderr, "aen_test: rescan: %s\n", fq_last_error());
		goto out;
	}
	print_ns(c, "after");
	if (!fq_ctrlr_get_ns(c, 1) || fq_ctrlr_get_ns(c, 2) || !fq_ctrlr_get_ns(c, 3)) {
		fprintf(stderr, "aen_test: expected namespaces 1 and 3 after the change\n");
		goto out;
	}
	printf("aen_test: event 0x%08x, namespaces updated\n", cdw0);
	rc = 0;
out:
	fq_ctrlr_disconnect(c);
	return rc;
}
