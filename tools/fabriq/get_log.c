/* SPDX-License-Identifier: MIT */
/* fabriq get-log: any log page, as hex, JSON or raw bytes (NVMe Base 2.0 §5.16). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

int cmd_get_log(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	uint32_t len = (cli->log_len + 3) / 4 * 4;
	uint8_t *buf;
	int rc;

	if (cli->lid < 0 || !len) {
		fprintf(stderr, "fabriq get-log: --log-id is required\n");
		return EXIT_USAGE;
	}
	buf = calloc(1, len);
	rc = buf ? cli_connect(cli, cli->lid == 0x70, &c) : EXIT_LOCAL_IO;
	if (!rc) {
		rc = fq_ctrlr_get_log_page(c, (uint8_t)cli->lid, cli->nsid ? cli->nsid : 0xffffffff,
					   0, false, buf, len);
		if (rc) {
			rc = cli_nvme_fail("get log page", rc, NULL);
		} else if (cli->raw_binary) {
			rc = write(STDOUT_FILENO, buf, len) == (ssize_t)len ? EXIT_OK
									    : EXIT_LOCAL_IO;
		} else if (cli->json) {
			json_object *o = json_object_new_object(), *a = json_object_new_array();

			json_object_object_add(o, "log_id", json_object_new_int(cli->lid));
			for (uint32_t i = 0; i < len; i++)
				json_object_array_add(a, json_object_new_int(buf[i]));
			json_object_object_add(o, "data", a);
			cli_print_json(o);
		} else {
			printf("log page %#x, %u bytes:\n", cli->lid, len);
			cli_hexdump(buf, len);
		}
	}
	free(buf);
	cli_close(c, NULL);
	return rc;
}
