/* SPDX-License-Identifier: MIT */
/* fabriq trim: deallocate a byte range with Dataset Management (NVM CS 1.0 §3.2.3). */
#include <stdio.h>

#include "cli.h"

#define RANGE_MAX_BLOCKS 0xffffffffull /* NLB of one DSM range is 32 bits */

int cmd_trim(struct cli *cli)
{
	struct fq_dsm_range_desc r[FQ_DSM_MAX_RANGES];
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	struct fq_cpl cpl = {0};
	uint64_t lba, nlb;
	uint16_t n = 0;
	int rc = cli_connect(cli, false, &c);

	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	if (!rc)
		rc = cli_block_range(cli, ns, &lba, &nlb);
	for (; !rc && nlb && n < FQ_DSM_MAX_RANGES; n++) {
		uint64_t k = nlb < RANGE_MAX_BLOCKS ? nlb : RANGE_MAX_BLOCKS;

		r[n] = (struct fq_dsm_range_desc){.cattr = 0, .nlb = (uint32_t)k, .slba = lba};
		lba += k;
		nlb -= k;
	}
	if (!rc) {
		rc = fq_ns_dsm_sync(ns, qp, r, n, FQ_DSM_DEALLOCATE, &cpl);
		if (rc) {
			rc = cli_nvme_fail("deallocate", rc, &cpl);
		} else if (cli->json) {
			json_object *o = cli_json_range(cli, ns);

			json_object_object_add(o, "deallocated", json_object_new_boolean(true));
			cli_print_json(o);
		} else {
			printf("deallocated %llu bytes at offset %llu\n",
			       (unsigned long long)cli->length, (unsigned long long)cli->offset);
		}
	}
	cli_close(c, qp);
	return rc;
}
