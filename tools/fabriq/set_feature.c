/* SPDX-License-Identifier: MIT */
/* fabriq set-feature: Set Features (NVMe Base 2.0 §5.27). */
#include <stdio.h>

#include "cli.h"

int cmd_set_feature(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	uint32_t res = 0;
	int rc;

	if (cli->fid < 0) {
		fprintf(stderr, "fabriq set-feature: --feature-id is required\n");
		return EXIT_USAGE;
	}
	rc = cli_connect(cli, false, &c);
	if (!rc) {
		rc = fq_ctrlr_set_feature(c, (uint8_t)cli->fid, cli->save, cli->nsid, cli->value, 0,
					  NULL, 0, &res);
		if (rc)
			rc = cli_nvme_fail("set feature", rc, NULL);
		else if (cli->json)
			printf("{ \"feature_id\": %d, \"value\": %u, \"result\": %u }\n", cli->fid,
			       cli->value, res);
		else
			printf("set-feature:%#04x, value: 0x%08x, result: 0x%08x\n", cli->fid,
			       cli->value, res);
	}
	cli_close(c, NULL);
	return rc;
}
