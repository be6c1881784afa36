/* SPDX-License-Identifier: MIT */
/* fabriq id-ns: Identify Namespace fields (NVM Command Set 1.0 Fig. 97). */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "log_decode.h"
#include "fabriq/nvme_spec.h"

static void print_json(const struct fq_id_ns *id, uint32_t nsid, bool human)
{
	json_object *o = json_object_new_object(), *lbafs = json_object_new_array();

	json_object_object_add(o, "nsid", json_object_new_int64(nsid));
	json_object_object_add(o, "nsze", json_object_new_uint64(id->nsze));
	json_object_object_add(o, "ncap", json_object_new_uint64(id->ncap));
	json_object_object_add(o, "nuse", json_object_new_uint64(id->nuse));
	json_object_object_add(o, "nsfeat", json_object_new_int(id->nsfeat));
	json_object_object_add(o, "nlbaf", json_object_new_int(id->nlbaf));
	json_object_object_add(o, "flbas", json_object_new_int(id->flbas));
	json_object_object_add(o, "nmic", json_object_new_int(id->nmic));
	json_object_object_add(o, "dlfeat", json_object_new_int(id->dlfeat));
	json_object_object_add(o, "mssrl", json_object_new_int(id->mssrl));
	json_object_object_add(o, "mcl", json_object_new_int64(id->mcl));
	json_object_object_add(o, "msrc", json_object_new_int(id->msrc));
	json_object_object_add(o, "anagrpid", json_object_new_int64(id->anagrpid));
	json_object_object_add(o, "nguid", cli_json_hex(id->nguid, sizeof(id->nguid)));
	json_object_object_add(o, "eui64", cli_json_hex(id->eui64, sizeof(id->eui64)));
	for (int i = 0; i <= id->nlbaf && i < 16; i++) {
		json_object *l = json_object_new_object();

		json_object_object_add(l, "ms", json_object_new_int(id->lbaf[i].ms));
		json_object_object_add(l, "ds", json_object_new_int(id->lbaf[i].lbads));
		json_object_object_add(l, "rp", json_object_new_int(id->lbaf[i].rp));
		json_object_array_add(lbafs, l);
	}
	json_object_object_add(o, "lbafs", lbafs);
	if (human)
		json_object_object_add(o, "fields", id_ns_human_json(id));
	cli_print_json(o);
}

static void print_text(const struct fq_id_ns *id, uint32_t nsid)
{
	printf("NVME Identify Namespace %u:\n", nsid);
	printf("nsze    : %#llx\nncap    : %#llx\nnuse    : %#llx\nnsfeat  : %#x\n"
	       "nlbaf   : %u\nflbas   : %#x\nnmic    : %#x\ndlfeat  : %#x\nanagrpid: %u\n",
	       (unsigned long long)id->nsze, (unsigned long long)id->ncap,
	       (unsigned long long)id->nuse, id->nsfeat, id->nlbaf, id->flbas, id->nmic, id->dlfeat,
	       id->anagrpid);
	printf("mssrl   : %u\nmcl     : %u\nmsrc    : %u\n", id->mssrl, id->mcl, id->msrc);
	printf("nguid   : ");
	for (int i = 0; i < 16; i++)
		printf("%02x", id->nguid[i]);
	printf("\neui64   : ");
	for (int i = 0; i < 8; i++)
		printf("%02x", id->eui64[i]);
	printf("\n");
	for (int i = 0; i <= id->nlbaf && i < 16; i++)
		printf("lbaf %2d : ms:%-3u lbads:%-2u rp:%#x%s\n", i, id->lbaf[i].ms,
		       id->lbaf[i].lbads, id->lbaf[i].rp,
		       (id->flbas & 0xf) == i ? " (in use)" : "");
}

int cmd_id_ns(struct cli *cli)
{
	const struct fq_id_ns *id;
	struct fq_ctrlr *c;
	struct fq_ns *ns;
	int rc = cli_connect(cli, false, &c);

	if (rc)
		return rc;
	rc = cli_open_ns(cli, c, &ns, NULL);
	if (!rc) {
		id = fq_ns_get_identify(ns);
		if (cli->raw_binary)
			rc = write(STDOUT_FILENO, id, sizeof(*id)) == sizeof(*id) ? EXIT_OK
										  : EXIT_LOCAL_IO;
		else if (cli->json)
			print_json(id, fq_ns_get_id(ns), cli->human);
		else
			print_text(id, fq_ns_get_id(ns));
		if (!cli->raw_binary && !cli->json && cli->human)
			cli_print_fields(id_ns_human_json(id));
	}
	cli_close(c, NULL);
	return rc;
}
