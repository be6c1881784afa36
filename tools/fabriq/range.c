/* SPDX-License-Identifier: MIT */
/* Byte range to block range for write-zeroes and trim. */
#include <stdio.h>

#include "cli.h"

int cli_block_range(struct cli *cli, struct fq_ns *ns, uint64_t *lba, uint64_t *nlb)
{
	uint32_t ss = fq_ns_get_sector_size(ns);

	if (!cli->have_length || !cli->length || cli->offset % ss || cli->length % ss) {
		fprintf(stderr,
			"fabriq %s: --offset and --length must be multiples of the "
			"%u-byte block size (and --length non-zero)\n",
			cli->cmd, ss);
		return EXIT_USAGE;
	}
	if (cli->offset + cli->length > fq_ns_get_size(ns)) {
		fprintf(stderr, "fabriq %s: range ends beyond the namespace\n", cli->cmd);
		return EXIT_USAGE;
	}
	*lba = cli->offset / ss;
	*nlb = cli->length / ss;
	return EXIT_OK;
}

json_object *cli_json_range(struct cli *cli, struct fq_ns *ns)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "nsid", json_object_new_int64(fq_ns_get_id(ns)));
	json_object_object_add(o, "offset", json_object_new_uint64(cli->offset));
	json_object_object_add(o, "length", json_object_new_uint64(cli->length));
	return o;
}
