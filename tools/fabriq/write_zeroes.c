/* SPDX-License-Identifier: MIT */
/* fabriq write-zeroes: zero a byte range (NVM CS 1.0 §3.2.8). */
#include <stdio.h>

#include "cli.h"

int cmd_write_zeroes(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	struct fq_cpl cpl = {0};
	uint64_t lba, nlb;
	int rc = cli_connect(cli, false, &c);

	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	if (!rc)
		rc = cli_block_range(cli, ns, &lba, &nlb);
	/* The library splits ranges above 65536 blocks into several commands. */
	if (!rc && nlb > UINT32_MAX)
		rc = EXIT_USAGE;
	if (!rc) {
		rc = fq_ns_write_zeroes_sync(ns, qp, lba, (uint32_t)nlb,
					     cli->deallocate ? FQ_IO_FLAGS_DEALLOC : 0, &cpl);
		if (rc) {
			rc = cli_nvme_fail("write zeroes", rc, &cpl);
		} else if (cli->json) {
			json_object *o = cli_json_range(cli, ns);

			json_object_object_add(o, "zeroed", json_object_new_boolean(true));
			json_object_object_add(o, "deallocate",
					       json_object_new_boolean(cli->deallocate));
			cli_print_json(o);
		} else {
			printf("zeroed %llu bytes at offset %llu\n",
			       (unsigned long long)cli->length, (unsigned long long)cli->offset);
		}
	}
	cli_close(c, qp);
	return rc;
}
