/* SPDX-License-Identifier: MIT */
/* fabriq flush: commit a namespace's volatile write cache (NVM CS 1.0 §3.2.4). */
#include <stdio.h>

#include "cli.h"

int cmd_flush(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	struct fq_cpl cpl = {0};
	int rc = cli_connect(cli, false, &c);

	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	if (!rc) {
		rc = fq_ns_flush_sync(ns, qp, &cpl);
		if (rc)
			rc = cli_nvme_fail("flush", rc, &cpl);
		else if (cli->json)
			printf("{ \"nsid\": %u, \"flushed\": true }\n", fq_ns_get_id(ns));
		else
			printf("namespace %u flushed\n", fq_ns_get_id(ns));
	}
	cli_close(c, qp);
	return rc;
}
