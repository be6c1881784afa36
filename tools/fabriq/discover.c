/* SPDX-License-Identifier: MIT */
/* fabriq discover: the discovery log page, like nvme discover. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "fabriq/nvme_spec.h"

static const char *subtype_name(uint8_t t)
{
	switch (t) {
	case FQ_SUBTYPE_DISCOVERY_REFERRAL:
		return "referral";
	case FQ_SUBTYPE_NVME:
		return "nvme subsystem";
	case FQ_SUBTYPE_CURRENT_DISCOVERY:
		return "current discovery subsystem";
	default:
		return "unknown";
	}
}

static json_object *entry_json(const struct fq_disc_entry *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "trtype",
			       json_object_new_string(e->trtype == 3 ? "tcp" : "other"));
	json_object_object_add(
		o, "adrfam", json_object_new_string(e->adrfam == FQ_ADRFAM_IPV6 ? "ipv6" : "ipv4"));
	json_object_object_add(o, "subtype", json_object_new_string(subtype_name(e->subtype)));
	json_object_object_add(o, "treq", json_object_new_int(e->treq));
	json_object_object_add(o, "portid", json_object_new_int(e->portid));
	json_object_object_add(o, "trsvcid", json_object_new_string(e->trsvcid));
	json_object_object_add(o, "subnqn", json_object_new_string(e->subnqn));
	json_object_object_add(o, "traddr", json_object_new_string(e->traddr));
	json_object_object_add(o, "cntlid", json_object_new_int(e->cntlid));
	json_object_object_add(o, "asqsz", json_object_new_int(e->asqsz));
	json_object_object_add(o, "depth", json_object_new_int((int)e->depth));
	return o;
}

int cmd_discover(struct cli *cli)
{
	struct fq_disc_entry *ents = NULL;
	struct fq_ctrlr_opts o;
	int n, rc;

	/* Reuse cli_connect's TRID building; discover connects itself. */
	rc = cli_connect(cli, true, NULL);
	if (rc)
		return rc;
	fq_ctrlr_opts_init(&o, sizeof(o));
	o.header_digest = cli->hdgst;
	o.data_digest = cli->ddgst;
	if (cli->connect_timeout_ms)
		o.connect_timeout_ms = cli->connect_timeout_ms;
	n = fq_discover(&cli->trid, &o, cli->follow_referrals ? FQ_DISC_FOLLOW_REFERRALS : 0,
			&ents);
	if (n < 0) {
		fprintf(stderr, "fabriq: %s\n", fq_last_error());
		return EXIT_CONNECT;
	}
	if (cli->json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();

		for (int i = 0; i < n; i++)
			json_object_array_add(arr, entry_json(&ents[i]));
		json_object_object_add(root, "records", arr);
		cli_print_json(root);
	} else {
		printf("Discovery Log Number of Records %d\n", n);
		for (int i = 0; i < n; i++) {
			printf("=====Discovery Log Entry %d======\n", i);
			printf("trtype:  %s\nadrfam:  %s\nsubtype: %s\ntreq:    %u\nportid:  %u\n"
			       "trsvcid: %s\nsubnqn:  %s\ntraddr:  %s\n",
			       ents[i].trtype == 3 ? "tcp" : "other",
			       ents[i].adrfam == FQ_ADRFAM_IPV6 ? "ipv6" : "ipv4",
			       subtype_name(ents[i].subtype), ents[i].treq, ents[i].portid,
			       ents[i].trsvcid, ents[i].subnqn, ents[i].traddr);
		}
	}
	free(ents);
	return EXIT_OK;
}
