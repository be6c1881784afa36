/* SPDX-License-Identifier: MIT */
/* fabriq copy: copy block ranges inside a namespace (NVM CS 2.0 §3.2.2). */
#include <errno.h>
#include <stdio.h>

#include "cli.h"

/* SCT 1h SC 83h means Command Size Limit Exceeded for Copy (NVM CS 2.0 Fig. 33). */
static int copy_fail(int rc, const struct fq_cpl *cpl)
{
	if (rc == -EOPNOTSUPP) {
		fprintf(stderr, "fabriq: copy: the controller does not offer the Copy command "
				"(Identify Controller ONCS bit 8)\n");
		return EXIT_NVME;
	}
	if (rc == -EIO && fq_cpl_sct(cpl) == FQ_CPL_SCT_CMD_SPECIFIC && fq_cpl_sc(cpl) == 0x83) {
		fprintf(stderr,
			"fabriq: copy failed: Command Size Limit Exceeded (sct 0x1 sc 0x83): "
			"more ranges or blocks than the namespace's MSRC, MSSRL or MCL allow\n");
		return EXIT_NVME;
	}
	return cli_nvme_fail("copy", rc, cpl);
}

static json_object *copy_json(const struct cli *cli, const struct fq_ns *ns, uint64_t blocks)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "nsid", json_object_new_int64(fq_ns_get_id(ns)));
	json_object_object_add(o, "dest_lba", json_object_new_int64((int64_t)cli->dest_lba));
	for (uint16_t i = 0; i < cli->ncopy; i++) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "slba",
				       json_object_new_int64((int64_t)cli->copy[i].slba));
		json_object_object_add(r, "nlb", json_object_new_int64(cli->copy[i].nlb));
		json_object_array_add(a, r);
	}
	json_object_object_add(o, "ranges", a);
	json_object_object_add(o, "blocks", json_object_new_int64((int64_t)blocks));
	json_object_object_add(
		o, "bytes", json_object_new_int64((int64_t)(blocks * fq_ns_get_sector_size(ns))));
	json_object_object_add(o, "copied", json_object_new_boolean(true));
	return o;
}

int cmd_copy(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	struct fq_cpl cpl = {0};
	uint64_t blocks = 0;
	int rc;

	if (!cli->have_dest_lba || !cli->ncopy) {
		fprintf(stderr, "fabriq copy: --dest-lba and at least one --range SLBA:NLB "
				"are required\n");
		return EXIT_USAGE;
	}
	for (uint16_t i = 0; i < cli->ncopy; i++)
		blocks += cli->copy[i].nlb;
	rc = cli_connect(cli, false, &c);
	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	if (!rc) {
		rc = fq_ns_copy_sync(ns, qp, cli->dest_lba, cli->copy, cli->ncopy,
				     cli->fua ? FQ_IO_FLAGS_FUA : 0, &cpl);
		if (rc)
			rc = copy_fail(rc, &cpl);
		else if (cli->json)
			cli_print_json(copy_json(cli, ns, blocks));
		else
			printf("copied %llu blocks (%u ranges) to LBA %llu\n",
			       (unsigned long long)blocks, cli->ncopy,
			       (unsigned long long)cli->dest_lba);
	}
	cli_close(c, qp);
	return rc;
}
