/* SPDX-License-Identifier: MIT */
/*
 * The decoded log page commands: smart-log, error-log, fw-log, ana-log,
 * changed-ns-log and discovery-log (NVMe Base 2.0 §5.16.1). Each reads its
 * page with Get Log Page, decodes it (log_decode.c) and prints it as JSON or
 * as "field : value" text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log_decode.h"
#include "fabriq/nvme_spec.h"

/* Read @len bytes of log @lid; on failure print why and return the exit code. */
static int read_log(struct cli *cli, struct fq_ctrlr *c, uint8_t lid, const char *name,
		    uint32_t nsid, void *buf, uint32_t len)
{
	int rc = fq_ctrlr_get_log_page(c, lid, nsid, 0, false, buf, len);
	char what[64];

	if (!rc)
		return EXIT_OK;
	snprintf(what, sizeof(what), "%s (log page %#x)", name, lid);
	(void)cli;
	return cli_nvme_fail(what, rc, NULL);
}

static int show(struct cli *cli, json_object *o, const char *title)
{
	if (!o) {
		fprintf(stderr, "fabriq %s: the controller returned a malformed log page\n",
			cli->cmd);
		return EXIT_NVME;
	}
	if (cli->json) {
		cli_print_json(o);
	} else {
		printf("%s\n", title);
		cli_print_text(o, 0);
		json_object_put(o);
	}
	return EXIT_OK;
}

/* Connect, read one fixed-size page, decode it with @decode. */
static int fixed_log(struct cli *cli, uint8_t lid, const char *name, uint32_t nsid, uint32_t len,
		     json_object *(*decode)(const void *))
{
	struct fq_ctrlr *c = NULL;
	void *buf = calloc(1, len);
	char title[400];
	int rc = buf ? cli_connect(cli, false, &c) : EXIT_LOCAL_IO;

	if (!rc)
		rc = read_log(cli, c, lid, name, nsid, buf, len);
	if (!rc) {
		snprintf(title, sizeof(title), "%s for NVMe controller %s namespace-id:%#x", name,
			 cli->trid.subnqn, nsid);
		rc = show(cli, decode(buf), title);
	}
	free(buf);
	cli_close(c, NULL);
	return rc;
}

static json_object *smart(const void *b)
{
	return log_smart_json(b);
}

static json_object *fw(const void *b)
{
	return log_fw_json(b);
}

static json_object *changed(const void *b)
{
	return log_changed_ns_json(b);
}

static json_object *ana(const void *b)
{
	return log_ana_json(b, 4096);
}

int cmd_smart_log(struct cli *cli)
{
	return fixed_log(cli, FQ_LID_SMART, "Smart Log", cli->nsid ? cli->nsid : 0xffffffff,
			 sizeof(struct fq_smart_log), smart);
}

int cmd_fw_log(struct cli *cli)
{
	return fixed_log(cli, FQ_LID_FW_SLOT, "Firmware Log", 0xffffffff,
			 sizeof(struct fq_fw_slot_log), fw);
}

int cmd_changed_ns_log(struct cli *cli)
{
	return fixed_log(cli, FQ_LID_CHANGED_NS, "Changed Namespace List Log", 0xffffffff,
			 sizeof(struct fq_changed_ns_log), changed);
}

int cmd_ana_log(struct cli *cli)
{
	/* One 4 KiB read covers a header, groups and NSID lists of small subsystems. */
	return fixed_log(cli, FQ_LID_ANA, "ANA Log", 0xffffffff, 4096, ana);
}

int cmd_error_log(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	struct fq_error_log *e = NULL;
	char title[400];
	uint32_t n = 0;
	int rc = cli_connect(cli, false, &c);

	if (!rc) {
		/* ELPE is zero-based (Fig. 275); --count caps what is shown. */
		n = (uint32_t)((const struct fq_id_ctrl *)fq_ctrlr_get_identify(c))->elpe + 1;
		if (cli->have_count && cli->count < n)
			n = cli->count;
		e = calloc(n ? n : 1, sizeof(*e));
		rc = e ? EXIT_OK : EXIT_LOCAL_IO;
	}
	if (!rc && n)
		rc = read_log(cli, c, FQ_LID_ERROR, "Error Log", 0xffffffff, e, n * sizeof(*e));
	if (!rc) {
		snprintf(title, sizeof(title),
			 "Error Log Entries for NVMe controller %s entries:%u", cli->trid.subnqn,
			 n);
		rc = show(cli, log_error_json(e, n), title);
	}
	free(e);
	cli_close(c, NULL);
	return rc;
}

int cmd_discovery_log(struct cli *cli)
{
	struct fq_ctrlr *c = NULL;
	uint8_t *buf = calloc(1, sizeof(struct fq_disc_log_hdr)), *big;
	char title[400];
	size_t len = 0;
	int rc = buf ? cli_connect(cli, true, &c) : EXIT_LOCAL_IO;

	/* The header first, for NUMREC; then header and records in one read. */
	if (!rc)
		rc = read_log(cli, c, FQ_LID_DISCOVERY, "Discovery Log", 0, buf,
			      sizeof(struct fq_disc_log_hdr));
	if (!rc) {
		len = log_discovery_len(buf);
		big = realloc(buf, len);
		rc = big ? EXIT_OK : EXIT_LOCAL_IO;
		if (big)
			buf = big;
	}
	if (!rc && len > sizeof(struct fq_disc_log_hdr))
		rc = read_log(cli, c, FQ_LID_DISCOVERY, "Discovery Log", 0, buf, (uint32_t)len);
	if (!rc) {
		snprintf(title, sizeof(title), "Discovery Log of %s", cli->trid.subnqn);
		rc = show(cli, log_discovery_json(buf, len), title);
	}
	free(buf);
	cli_close(c, NULL);
	return rc;
}
