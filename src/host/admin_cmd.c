/* SPDX-License-Identifier: MIT */
/* Public admin commands: raw passthrough and the blocking helpers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/host_int.h"

static int ready(struct fq_ctrlr *c)
{
	int s = atomic_load(&c->state);

	/* Bring-up (CONNECTING and reconnects) issues admin commands itself. */
	if (s == FQ_CTRLR_FAILED || s == FQ_CTRLR_DELETING)
		return -ENXIO;
	return 0;
}

int fq_ctrlr_admin_raw(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		       fq_cmd_cb cb, void *cb_arg)
{
	int rc = ready(c);

	if (rc)
		return rc;
	return ctrlr_admin_submit(c, cmd, buf, len, 0, cb, cb_arg);
}

static int sync_cmd(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		    struct fq_cpl *cpl, const char *what)
{
	struct fq_cpl tmp = {0};
	char st[128];
	int rc = ready(c);

	if (!rc)
		rc = ctrlr_admin_sync(c, cmd, buf, len, 0, &tmp);
	if (cpl)
		*cpl = tmp;
	if (rc == -EIO)
		host_set_error("%s failed: %s", what, fq_cpl_str(&tmp, st, sizeof(st)));
	else if (rc)
		host_set_error("%s: %s", what,
			       c->admin.errmsg[0] && rc != -EAGAIN && rc != -ENXIO ? c->admin.errmsg
										   : strerror(-rc));
	return rc;
}

int fq_ctrlr_admin_raw_sync(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf,
			    uint32_t len, struct fq_cpl *cpl)
{
	char what[64];

	snprintf(what, sizeof(what), "admin command 0x%02x", cmd->opc);
	return sync_cmd(c, cmd, buf, len, cpl, what);
}

/* Identify, NVMe Base 2.0 §5.17: CDW10 CNS and CNTID. */
int fq_ctrlr_identify(struct fq_ctrlr *c, uint8_t cns, uint16_t cntid, uint32_t nsid, void *buf,
		      uint32_t len)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_IDENTIFY, .nsid = nsid};
	char what[64];

	cmd.cdw10 = cns | ((uint32_t)cntid << 16);
	snprintf(what, sizeof(what), "Identify CNS 0x%02x nsid %u", cns, nsid);
	return sync_cmd(c, &cmd, buf, len, NULL, what);
}

/* Get Log Page, NVMe Base 2.0 §5.16: NUMD split over CDW10/11, offset in 12/13. */
int fq_ctrlr_get_log_page(struct fq_ctrlr *c, uint8_t lid, uint32_t nsid, uint64_t offset, bool rae,
			  void *buf, uint32_t len)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_GET_LOG_PAGE, .nsid = nsid};
	uint32_t numd;
	char what[64];

	if (len < 4 || len % 4)
		return -EINVAL;
	numd = len / 4 - 1;
	cmd.cdw10 = lid | (rae ? 1u << 15 : 0) | ((numd & 0xffff) << 16);
	cmd.cdw11 = numd >> 16;
	cmd.cdw12 = (uint32_t)offset;
	cmd.cdw13 = (uint32_t)(offset >> 32);
	snprintf(what, sizeof(what), "Get Log Page 0x%02x", lid);
	return sync_cmd(c, &cmd, buf, len, NULL, what);
}

/* Get/Set Features, NVMe Base 2.0 §5.15 and §5.27. */
int fq_ctrlr_get_feature(struct fq_ctrlr *c, uint8_t fid, uint8_t sel, uint32_t nsid,
			 uint32_t cdw11, void *buf, uint32_t len, uint32_t *result)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_GET_FEATURES, .nsid = nsid};
	struct fq_cpl cpl;
	char what[64];
	int rc;

	cmd.cdw10 = fid | ((uint32_t)(sel & 7) << 8);
	cmd.cdw11 = cdw11;
	snprintf(what, sizeof(what), "Get Features 0x%02x", fid);
	rc = sync_cmd(c, &cmd, buf, len, &cpl, what);
	if (!rc && result)
		*result = cpl.cdw0;
	return rc;
}

int fq_ctrlr_set_feature(struct fq_ctrlr *c, uint8_t fid, bool save, uint32_t nsid, uint32_t cdw11,
			 uint32_t cdw12, void *buf, uint32_t len, uint32_t *result)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_SET_FEATURES, .nsid = nsid};
	struct fq_cpl cpl;
	char what[64];
	int rc;

	cmd.cdw10 = fid | (save ? 1u << 31 : 0);
	cmd.cdw11 = cdw11;
	cmd.cdw12 = cdw12;
	snprintf(what, sizeof(what), "Set Features 0x%02x", fid);
	rc = sync_cmd(c, &cmd, buf, len, &cpl, what);
	if (!rc && result)
		*result = cpl.cdw0;
	return rc;
}

int fq_ctrlr_keep_alive(struct fq_ctrlr *c, uint64_t *rtt_us)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_KEEP_ALIVE};
	uint64_t t0 = hq_now_ns();
	int rc = sync_cmd(c, &cmd, NULL, 0, NULL, "Keep Alive");

	if (!rc && rtt_us)
		*rtt_us = (hq_now_ns() - t0) / 1000;
	return rc;
}

enum fq_ctrlr_state fq_ctrlr_get_state(const struct fq_ctrlr *c)
{
	return (enum fq_ctrlr_state)atomic_load(&((struct fq_ctrlr *)c)->state);
}

const void *fq_ctrlr_get_identify(const struct fq_ctrlr *c)
{
	return &c->id;
}

uint16_t fq_ctrlr_get_cntlid(const struct fq_ctrlr *c)
{
	return c->cntlid;
}

const struct fq_trid *fq_ctrlr_get_trid(const struct fq_ctrlr *c)
{
	return &c->trid;
}

uint64_t fq_ctrlr_get_cap(const struct fq_ctrlr *c)
{
	return c->cap;
}

uint32_t fq_ctrlr_get_vs(const struct fq_ctrlr *c)
{
	return c->vs;
}

uint32_t fq_ctrlr_get_num_io_queues(const struct fq_ctrlr *c)
{
	return c->num_io_queues;
}

uint32_t fq_ctrlr_get_max_xfer(const struct fq_ctrlr *c)
{
	return c->max_xfer;
}

bool fq_ctrlr_is_discovery(const struct fq_ctrlr *c)
{
	return c->discovery;
}

uint32_t fq_ctrlr_get_reconnects(const struct fq_ctrlr *c)
{
	return atomic_load(&c->reconnects);
}
