/* SPDX-License-Identifier: MIT */
/* fabriq get-feature: Get Features (NVMe Base 2.0 §5.15). */
#include <stdio.h>

#include "cli.h"

int cmd_get_feature(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	uint32_t res = 0;
	int rc;

	if (cli->fid < 0) {
		fprintf(stderr, "fabriq get-feature: --feature-id is required\n");
		return EXIT_USAGE;
	}
	rc = cli_connect(cli, false, &c);
	if (!rc) {
		rc = fq_ctrlr_get_feature(c, (uint8_t)cli->fid, (uint8_t)cli->sel, cli->nsid,
					  cli->cdw11, NULL, 0, &res);
		if (rc)
			rc = cli_nvme_fail("get feature", rc, NULL);
		else if (cli->json)
			printf("{ \"feature_id\": %d, \"sel\": %u, \"value\": %u }\n", cli->fid,
			       cli->sel, res);
		else
			printf("get-feature:%#04x (sel %u), value: 0x%08x\n", cli->fid, cli->sel,
			       res);
	}
	cli_close(c, NULL);
	return rc;
}
