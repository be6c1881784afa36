/* SPDX-License-Identifier: MIT */
/* fabriq id-ctrl: selected Identify Controller fields (NVMe Base 2.0 Fig. 275). */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "log_decode.h"
#include "fabriq/nvme_spec.h"

#define ADD_INT(o, k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))

static void print_json(const struct fq_id_ctrl *id, const char *sn, const char *mn, const char *fr,
		       const char *subnqn, bool human)
{
	json_object *o = json_object_new_object();

	ADD_INT(o, "vid", id->vid);
	ADD_INT(o, "ssvid", id->ssvid);
	json_object_object_add(o, "sn", json_object_new_string(sn));
	json_object_object_add(o, "mn", json_object_new_string(mn));
	json_object_object_add(o, "fr", json_object_new_string(fr));
	ADD_INT(o, "cmic", id->cmic);
	ADD_INT(o, "mdts", id->mdts);
	ADD_INT(o, "cntlid", id->cntlid);
	ADD_INT(o, "ver", id->ver);
	ADD_INT(o, "oaes", id->oaes);
	ADD_INT(o, "ctratt", id->ctratt);
	ADD_INT(o, "cntrltype", id->cntrltype);
	ADD_INT(o, "oacs", id->oacs);
	ADD_INT(o, "acl", id->acl);
	ADD_INT(o, "aerl", id->aerl);
	ADD_INT(o, "lpa", id->lpa);
	ADD_INT(o, "kas", id->kas);
	ADD_INT(o, "sqes", id->sqes);
	ADD_INT(o, "cqes", id->cqes);
	ADD_INT(o, "maxcmd", id->maxcmd);
	ADD_INT(o, "nn", id->nn);
	ADD_INT(o, "oncs", id->oncs);
	ADD_INT(o, "fuses", id->fuses);
	ADD_INT(o, "vwc", id->vwc);
	ADD_INT(o, "ocfs", id->ocfs);
	ADD_INT(o, "sgls", id->sgls);
	json_object_object_add(o, "subnqn", json_object_new_string(subnqn));
	ADD_INT(o, "ioccsz", id->ioccsz);
	ADD_INT(o, "iorcsz", id->iorcsz);
	ADD_INT(o, "icdoff", id->icdoff);
	ADD_INT(o, "msdbd", id->msdbd);
	if (human)
		json_object_object_add(o, "fields", id_ctrl_human_json(id));
	cli_print_json(o);
}

static void print_text(const struct fq_id_ctrl *id, const char *sn, const char *mn, const char *fr,
		       const char *subnqn)
{
	printf("vid       : %#x\nssvid     : %#x\nsn        : %s\nmn        : %s\n"
	       "fr        : %s\ncmic      : %#x\nmdts      : %u\ncntlid    : %#x\n"
	       "ver       : %#x\noaes      : %#x\nctratt    : %#x\ncntrltype : %u\n"
	       "oacs      : %#x\nacl       : %u\naerl      : %u\nlpa       : %#x\n"
	       "kas       : %u\nsqes      : %#x\ncqes      : %#x\nmaxcmd    : %u\n"
	       "nn        : %u\noncs      : %#x\nfuses     : %#x\nvwc       : %#x\n"
	       "sgls      : %#x\nsubnqn    : %s\nioccsz    : %u\niorcsz    : %u\n"
	       "icdoff    : %u\nmsdbd     : %u\n",
	       id->vid, id->ssvid, sn, mn, fr, id->cmic, id->mdts, id->cntlid, id->ver, id->oaes,
	       id->ctratt, id->cntrltype, id->oacs, id->acl, id->aerl, id->lpa, id->kas, id->sqes,
	       id->cqes, id->maxcmd, id->nn, id->oncs, id->fuses, id->vwc, id->sgls, subnqn,
	       id->ioccsz, id->iorcsz, id->icdoff, id->msdbd);
}

int cmd_id_ctrl(struct cli *cli)
{
	const struct fq_id_ctrl *id;
	char sn[21], mn[41], fr[9], subnqn[257];
	struct fq_ctrlr *c;
	int rc = cli_connect(cli, false, &c);

	if (rc)
		return rc;
	id = fq_ctrlr_get_identify(c);
	cli_str(sn, id->sn, sizeof(id->sn));
	cli_str(mn, id->mn, sizeof(id->mn));
	cli_str(fr, id->fr, sizeof(id->fr));
	cli_str(subnqn, id->subnqn, sizeof(id->subnqn));
	if (cli->raw_binary)
		rc = write(STDOUT_FILENO, id, sizeof(*id)) == sizeof(*id) ? EXIT_OK : EXIT_LOCAL_IO;
	else if (cli->json)
		print_json(id, sn, mn, fr, subnqn, cli->human);
	else
		print_text(id, sn, mn, fr, subnqn);
	if (!cli->raw_binary && !cli->json && cli->human)
		cli_print_fields(id_ctrl_human_json(id));
	cli_close(c, NULL);
	return rc;
}
