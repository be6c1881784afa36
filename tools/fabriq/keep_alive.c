/* SPDX-License-Identifier: MIT */
/* fabriq keep-alive: send Keep Alive commands and time them (NVMe Base 2.0 §5.25). */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

int cmd_keep_alive(struct cli *cli)
{
	json_object *arr = cli->json ? json_object_new_array() : NULL;
	struct fq_ctrlr *c = NULL;
	int rc = cli_connect(cli, false, &c);

	for (uint32_t i = 0; !rc && i < cli->count; i++) {
		uint64_t rtt = 0;

		if (i)
			usleep(cli->interval_ms * 1000u);
		rc = fq_ctrlr_keep_alive(c, &rtt);
		if (rc) {
			rc = cli_nvme_fail("keep alive", rc, NULL);
			break;
		}
		if (arr)
			json_object_array_add(arr, json_object_new_uint64(rtt));
		else
			printf("keep-alive %u: %llu us\n", i + 1, (unsigned long long)rtt);
	}
	if (arr && !rc) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "rtt_us", arr);
		cli_print_json(o);
	} else if (arr) {
		json_object_put(arr);
	}
	cli_close(c, NULL);
	return rc;
}
