/* SPDX-License-Identifier: MIT */
/* fabriq list: the active namespaces of a subsystem. */
#include <stdio.h>

#include "cli.h"

static void id_str(char *out, size_t cap, const uint8_t *id, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 3 <= cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02x", id[i]);
}

static json_object *ns_json(struct fq_ns *ns)
{
	json_object *o = json_object_new_object();
	uint8_t id[16];
	char s[40];

	json_object_object_add(o, "nsid", json_object_new_int64(fq_ns_get_id(ns)));
	json_object_object_add(o, "size", json_object_new_uint64(fq_ns_get_size(ns)));
	json_object_object_add(o, "sectors", json_object_new_uint64(fq_ns_get_num_sectors(ns)));
	json_object_object_add(o, "block_size", json_object_new_int64(fq_ns_get_sector_size(ns)));
	if (fq_ns_get_nguid(ns, id)) {
		id_str(s, sizeof(s), id, 16);
		json_object_object_add(o, "nguid", json_object_new_string(s));
	}
	if (fq_ns_get_eui64(ns, id)) {
		id_str(s, sizeof(s), id, 8);
		json_object_object_add(o, "eui64", json_object_new_string(s));
	}
	if (fq_ns_get_uuid(ns, id)) {
		id_str(s, sizeof(s), id, 16);
		json_object_object_add(o, "uuid", json_object_new_string(s));
	}
	return o;
}

int cmd_list(struct cli *cli)
{
	struct fq_ctrlr *c;
	int rc = cli_connect(cli, false, &c);

	if (rc)
		return rc;
	if (cli->json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(root, "subnqn", json_object_new_string(cli->trid.subnqn));
		for (uint32_t n = fq_ctrlr_first_ns(c); n; n = fq_ctrlr_next_ns(c, n))
			json_object_array_add(arr, ns_json(fq_ctrlr_get_ns(c, n)));
		json_object_object_add(root, "namespaces", arr);
		cli_print_json(root);
	} else {
		printf("%-6s %-16s %-12s %-10s %s\n", "NSID", "Size", "Sectors", "BlockSize",
		       "NGUID/EUI64/UUID");
		for (uint32_t n = fq_ctrlr_first_ns(c); n; n = fq_ctrlr_next_ns(c, n)) {
			struct fq_ns *ns = fq_ctrlr_get_ns(c, n);
			char s[40] = "-";
			uint8_t id[16];

			if (fq_ns_get_nguid(ns, id))
				id_str(s, sizeof(s), id, 16);
			else if (fq_ns_get_eui64(ns, id))
				id_str(s, sizeof(s), id, 8);
			else if (fq_ns_get_uuid(ns, id))
				id_str(s, sizeof(s), id, 16);
			printf("%-6u %-16llu %-12llu %-10u %s\n", n,
			       (unsigned long long)fq_ns_get_size(ns),
			       (unsigned long long)fq_ns_get_num_sectors(ns),
			       fq_ns_get_sector_size(ns), s);
		}
	}
	cli_close(c, NULL);
	return EXIT_OK;
}
