/* SPDX-License-Identifier: MIT */
/*
 * Admin commands at the target (NVMe Base 2.0 §5): Identify, Get Log Page,
 * Set/Get Features, Keep Alive, Asynchronous Event Request and Abort.
 * Discovery controllers accept the subset NVMe-oF 1.1 §5 allows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

#define ST(sct, sc) FQ_STATUS(sct, sc)
#define INVALID_FIELD (ST(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR)

static void pad_copy(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, l < n ? l : n);
}

/* Read-type admin command: get a buffer for the reply, zeroed. */
static uint8_t *reply_buf(struct fq_req *req, uint32_t len)
{
	if (fq_req_get_buf(req, len)) {
		fq_req_need_buf(req);
		return NULL;
	}
	memset(req->buf, 0, len);
	return req->buf;
}

static void reply(struct fq_req *req, uint32_t len)
{
	if (len > req->xfer_len)
		len = req->xfer_len;
	req->data_iov.iov_base = req->buf;
	req->data_iov.iov_len = len;
	if (!len) {
		fq_req_complete(req, 0);
		return;
	}
	fq_req_send_data(req);
}

static void id_ctrl(struct fq_req *req, struct fq_id_ctrl *id)
{
	struct fq_ctrl *c = req->q->ctrl;
	struct fq_subsys *s = c->subsys;
	struct fq_target_conf *conf = req->q->r->tgt->conf;

	id->vid = 0;
	id->ssvid = 0;
	pad_copy(id->sn, sizeof(id->sn), s->serial);
	pad_copy(id->mn, sizeof(id->mn), s->model);
	pad_copy(id->fr, sizeof(id->fr), "0.1.0");
	id->rab = 6;
	id->cmic = s->discovery ? 0 : 0x2; /* may have several controllers */
	id->mdts = (uint8_t)req->q->r->tgt->mdts;
	id->cntlid = c->cntlid;
	id->ver = FQ_VS(1, 3, 0);
	id->oaes = s->discovery ? 0 : FQ_AEN_CFG_NS_ATTR;
	id->ctratt = 1; /* 128-bit host identifier */
	id->cntrltype = s->discovery ? FQ_CTRL_TYPE_DISCOVERY : FQ_CTRL_TYPE_IO;
	id->acl = 3;
	id->aerl = FQ_TGT_MAX_AER - 1;
	id->frmw = 0x3; /* one slot, read-only */
	id->lpa = FQ_LPA_CMD_EFFECTS | FQ_LPA_EXT_DATA;
	id->elpe = 0;
	id->kas = 10; /* 100 ms units: keep-alive checked with 1 s granularity */
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->maxcmd = (uint16_t)(s->discovery ? FQ_TGT_ADMIN_QSIZE : conf->max_queue_size);
	id->nn = FQ_TGT_NN;
	id->oncs = s->discovery
			   ? 0
			   : FQ_ONCS_COMPARE | FQ_ONCS_DSM | FQ_ONCS_WRITE_ZEROES | FQ_ONCS_COPY;
	id->ocfs = s->discovery ? 0 : FQ_OCFS_FORMAT_0;
	id->vwc = s->discovery ? 0 : 1;
	id->sgls = FQ_SGLS_SUPPORTED | FQ_SGLS_OFFSET;
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", s->nqn);
	id->ioccsz = (64 + conf->in_capsule_size) / 16;
	id->iorcsz = 1;
	id->icdoff = 0;
	id->msdbd = 1;
	id->psd[0].mp = 2500; /* 25 W in 0.01 W units: informative only */
}

static void id_ns(struct fq_req *req, struct fq_id_ns *id, const struct fq_tgt_ns *ns)
{
	const struct fq_bdev *b = ns->bdev;
	struct fq_copy_limits lim;

	id->nsze = id->ncap = b->num_blocks;
	/* A thin volume counts only its allocated blocks (NVMe base 2.0, 5.17.2.1). */
	id->nuse = fq_bdev_used_blocks(ns->bdev);
	id->nsfeat = b->supports_dealloc ? FQ_NSFEAT_THIN : 0;
	id->nlbaf = 0;
	id->flbas = 0;
	id->nmic = 1; /* may be attached to several controllers */
	/*
	 * A write-protected namespace (a snapshot) says so: the Linux host then
	 * makes the disk read-only instead of failing each write at the target.
	 */
	id->nsattr = b->write_protected ? FQ_NSATTR_WRITE_PROTECTED : 0;
	/* Deallocated blocks read as zeroes; Write Zeroes may deallocate. */
	id->dlfeat = b->read_zeroes_after_dealloc ? (FQ_DLFEAT_READ_ZEROES | 0x08) : 0;
	id->lbaf[0].lbads = ns->lbads;
	fq_tgt_copy_limits(ns, &lim);
	id->mssrl = lim.mssrl;
	id->mcl = lim.mcl;
	id->msrc = lim.msrc;
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	(void)req;
}

/* Identify Namespace Identification Descriptor list (CNS 03h). */
static uint32_t ns_descs(uint8_t *p, const struct fq_tgt_ns *ns)
{
	uint32_t off = 0;
	struct fq_ns_desc_hdr h = {0};

	h.nidt = FQ_NIDT_NGUID;
	h.nidl = 16;
	memcpy(p + off, &h, sizeof(h));
	memcpy(p + off + 4, ns->nguid, 16);
	off += 20;
	h.nidt = FQ_NIDT_UUID;
	memcpy(p + off, &h, sizeof(h));
	memcpy(p + off + 4, ns->uuid, 16);
	off += 20;
	h.nidt = FQ_NIDT_CSI;
	h.nidl = 1;
	memcpy(p + off, &h, sizeof(h));
	p[off + 4] = FQ_CSI_NVM;
	return off + 5;
}

static void exec_identify(struct fq_req *req)
{
	struct fq_subsys *s = req->q->ctrl->subsys;
	uint8_t cns = req->cmd.cdw10 & 0xff;
	uint8_t csi = (req->cmd.cdw11 >> 24) & 0xff;
	uint32_t nsid = req->cmd.nsid;
	struct fq_tgt_ns *ns = NULL;
	uint8_t *buf;

	if (s->discovery && cns != FQ_CNS_CTRL) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	if (cns == FQ_CNS_NS || cns == FQ_CNS_NS_DESC_LIST || cns == FQ_CNS_CSI_NS) {
		if (nsid == 0 || (nsid > FQ_TGT_NN && nsid != 0xffffffff)) {
			fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_NS) | FQ_STATUS_DNR);
			return;
		}
		ns = fq_subsys_find_ns(s, nsid);
		if (!ns && cns == FQ_CNS_NS_DESC_LIST) {
			fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_NS) | FQ_STATUS_DNR);
			return;
		}
	}
	if ((cns == FQ_CNS_CSI_NS || cns == FQ_CNS_CSI_CTRL) && csi != FQ_CSI_NVM) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	buf = reply_buf(req, 4096);
	if (!buf)
		return;
	switch (cns) {
	case FQ_CNS_NS:
		if (ns) /* an inactive NSID reads as all zeroes (§5.17.2.1) */
			id_ns(req, (struct fq_id_ns *)buf, ns);
		break;
	case FQ_CNS_CTRL:
		id_ctrl(req, (struct fq_id_ctrl *)buf);
		break;
	case FQ_CNS_ACTIVE_NS_LIST: {
		uint32_t *list = (uint32_t *)buf, n = 0;

		if (nsid >= 0xfffffffe) {
			fq_req_complete(req, INVALID_FIELD);
			return;
		}
		struct fq_tgt_ns_table *tab = fq_subsys_ns(s);

		for (uint32_t i = 0; i < tab->n && n < 1024; i++)
			if (tab->ns[i]->nsid > nsid)
				list[n++] = tab->ns[i]->nsid;
		break;
	}
	case FQ_CNS_NS_DESC_LIST:
		ns_descs(buf, ns);
		break;
	case FQ_CNS_CSI_NS:   /* NVM command set specific: no fields we fill */
	case FQ_CNS_CSI_CTRL: /* all limits 0 = not reported */
		break;
	default:
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	reply(req, 4096);
}

static void log_smart(struct fq_subsys *s, struct fq_smart_log *l)
{
	uint64_t rd = 0, wr = 0, nrd = 0, nwr = 0;

	struct fq_tgt_ns_table *tab = fq_subsys_ns(s);

	for (uint32_t i = 0; i < tab->n; i++) {
		rd += atomic_load_explicit(&tab->ns[i]->bytes_read, memory_order_relaxed);
		wr += atomic_load_explicit(&tab->ns[i]->bytes_written, memory_order_relaxed);
		nrd += atomic_load_explicit(&tab->ns[i]->reads, memory_order_relaxed);
		nwr += atomic_load_explicit(&tab->ns[i]->writes, memory_order_relaxed);
	}
	/* Data units are thousands of 512-byte units, rounded up (§5.16.1.3). */
	fq_put_u128(l->data_units_read, (rd / 512 + 999) / 1000);
	fq_put_u128(l->data_units_written, (wr / 512 + 999) / 1000);
	fq_put_u128(l->host_reads, nrd);
	fq_put_u128(l->host_writes, nwr);
	l->temperature[0] = 0x27; /* 295 K */
	l->temperature[1] = 0x01;
	l->avail_spare = 100;
	l->spare_thresh = 10;
	fq_put_u128(l->power_cycles, 1);
}

static void log_effects(struct fq_effects_log *l)
{
	static const uint8_t admin[] = {
		FQ_ADM_GET_LOG_PAGE, FQ_ADM_IDENTIFY,	 FQ_ADM_ABORT,	   FQ_ADM_SET_FEATURES,
		FQ_ADM_GET_FEATURES, FQ_ADM_ASYNC_EVENT, FQ_ADM_KEEP_ALIVE};
	static const uint8_t io[] = {FQ_IO_WRITE, FQ_IO_WRITE_ZEROES, FQ_IO_DSM, FQ_IO_COPY};

	for (size_t i = 0; i < sizeof(admin); i++)
		l->acs[admin[i]] = FQ_EFFECTS_CSUPP;
	l->iocs[FQ_IO_FLUSH] = FQ_EFFECTS_CSUPP;
	l->iocs[FQ_IO_READ] = FQ_EFFECTS_CSUPP;
	l->iocs[FQ_IO_COMPARE] = FQ_EFFECTS_CSUPP;
	for (size_t i = 0; i < sizeof(io); i++)
		l->iocs[io[i]] = FQ_EFFECTS_CSUPP | FQ_EFFECTS_LBCC;
}

static void exec_get_log(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	struct fq_tgt *t = req->q->r->tgt;
	uint8_t lid = req->cmd.cdw10 & 0xff;
	bool rae = req->cmd.cdw10 & (1u << 15);
	uint64_t numd = (((uint64_t)(req->cmd.cdw11 & 0xffff) << 16) | (req->cmd.cdw10 >> 16)) + 1;
	uint64_t off = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);
	uint64_t len = numd * 4, size;
	uint8_t *buf;

	if (len > req->xfer_len)
		len = req->xfer_len;
	if (off & 3) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	if (c->subsys->discovery != (lid == FQ_LID_DISCOVERY)) {
		fq_req_complete(req,
				ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_INVALID_LOG_PAGE) | FQ_STATUS_DNR);
		return;
	}
	switch (lid) {
	case FQ_LID_ERROR:
		size = 64;
		break;
	case FQ_LID_SMART:
		size = sizeof(struct fq_smart_log);
		break;
	case FQ_LID_FW_SLOT:
		size = 512;
		break;
	case FQ_LID_CHANGED_NS:
	case FQ_LID_CMD_EFFECTS:
		size = 4096;
		break;
	case FQ_LID_DISCOVERY:
		size = fq_discovery_log_size(t, c);
		break;
	default:
		fq_req_complete(req,
				ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_INVALID_LOG_PAGE) | FQ_STATUS_DNR);
		return;
	}
	if (off > size) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	buf = reply_buf(req, (uint32_t)(len ? len : 4));
	if (!buf)
		return;
	if (lid == FQ_LID_DISCOVERY) {
		fq_discovery_log(t, c, buf, off, (uint32_t)len);
		reply(req, (uint32_t)len);
		return;
	}
	{
		uint8_t page[4096] = {0};

		if (lid == FQ_LID_SMART) {
			log_smart(c->subsys, (struct fq_smart_log *)page);
		} else if (lid == FQ_LID_CMD_EFFECTS) {
			log_effects((struct fq_effects_log *)page);
		} else if (lid == FQ_LID_FW_SLOT) {
			page[0] = 1; /* active slot 1 */
			memcpy(page + 8, "0.1.0   ", 8);
		} else if (lid == FQ_LID_CHANGED_NS) {
			uint32_t *l = (uint32_t *)page;

			if (c->changed_overflow)
				l[0] = 0xffffffff;
			else
				memcpy(l, c->changed_ns, (size_t)c->nchanged * 4);
			if (!rae) {
				c->nchanged = 0;
				c->changed_overflow = false;
			}
		}
		if (off < size)
			memcpy(buf, page + off, size - off < len ? size - off : len);
	}
	reply(req, (uint32_t)len);
}

static bool feature_ok_for_discovery(uint8_t fid)
{
	return fid == FQ_FEAT_KATO || fid == FQ_FEAT_ASYNC_EVENT;
}

static void exec_set_features(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	uint8_t fid = req->cmd.cdw10 & 0xff;
	uint32_t v = req->cmd.cdw11;

	if (req->cmd.cdw10 & (1u << 31)) {
		fq_req_complete(req, ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_FEATURE_NOT_SAVEABLE) |
					     FQ_STATUS_DNR);
		return;
	}
	if (c->subsys->discovery && !feature_ok_for_discovery(fid)) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	switch (fid) {
	case FQ_FEAT_NUM_QUEUES: {
		uint32_t nsq = (v & 0xffff) + 1, ncq = (v >> 16) + 1, max;

		if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff) {
			fq_req_complete(req, INVALID_FIELD);
			return;
		}
		max = req->q->r->tgt->conf->max_io_queues;
		nsq = nsq < ncq ? nsq : ncq;
		c->nr_io_queues = nsq < max ? nsq : max;
		req->cqe.dw0 = (c->nr_io_queues - 1) | ((c->nr_io_queues - 1) << 16);
		break;
	}
	case FQ_FEAT_ASYNC_EVENT:
		c->aec = v & (c->subsys->discovery ? FQ_AEN_CFG_DISC_CHANGE : FQ_AEN_CFG_NS_ATTR);
		break;
	case FQ_FEAT_KATO:
		c->kato_ms = v;
		if (v && v < req->q->r->tgt->conf->kato_min_ms)
			c->kato_ms = req->q->r->tgt->conf->kato_min_ms;
		fq_ctrl_keep_alive(c, req->q->r->now_ns);
		break;
	case FQ_FEAT_VOLATILE_WC:
		c->vwc = v & 1;
		break;
	case FQ_FEAT_POWER_MGMT:
		if ((v & 0x1f) != 0) {
			fq_req_complete(req, INVALID_FIELD);
			return;
		}
		break;
	case FQ_FEAT_ARBITRATION:
	case FQ_FEAT_TEMP_THRESH:
	case FQ_FEAT_ERR_RECOVERY:
	case FQ_FEAT_IRQ_COALESCE:
	case FQ_FEAT_WRITE_ATOMIC:
		break; /* accepted; nothing on a fabric depends on them */
	default:
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	fq_req_complete(req, 0);
}

static void exec_get_features(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	uint8_t fid = req->cmd.cdw10 & 0xff;
	uint8_t sel = (req->cmd.cdw10 >> 8) & 7;
	uint32_t max = req->q->r->tgt->conf->max_io_queues;
	uint32_t v = 0;

	if (c->subsys->discovery && !feature_ok_for_discovery(fid)) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	if (sel == 3) { /* supported capabilities: changeable, not saveable */
		req->cqe.dw0 = 0x4;
		fq_req_complete(req, 0);
		return;
	}
	switch (fid) {
	case FQ_FEAT_NUM_QUEUES:
		v = sel == 0 && c->nr_io_queues ? c->nr_io_queues : max;
		v = (v - 1) | ((v - 1) << 16);
		break;
	case FQ_FEAT_ASYNC_EVENT:
		v = sel == 0 ? c->aec : 0;
		break;
	case FQ_FEAT_KATO:
		v = sel == 0 ? c->kato_ms : 0;
		break;
	case FQ_FEAT_VOLATILE_WC:
		v = sel == 0 ? c->vwc : 1;
		break;
	case FQ_FEAT_TEMP_THRESH:
		v = 0x157; /* 343 K over-temperature threshold */
		break;
	case FQ_FEAT_ARBITRATION:
	case FQ_FEAT_POWER_MGMT:
	case FQ_FEAT_ERR_RECOVERY:
	case FQ_FEAT_IRQ_COALESCE:
	case FQ_FEAT_WRITE_ATOMIC:
		break;
	default:
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	req->cqe.dw0 = v;
	fq_req_complete(req, 0);
}

static void exec_aer(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;

	if (c->naer >= FQ_TGT_MAX_AER) {
		fq_req_complete(req, ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_ASYNC_LIMIT) | FQ_STATUS_DNR);
		return;
	}
	c->aer_reqs[c->naer++] = req;
	fq_req_set_state(req, FQ_REQ_AER);
	fq_ctrl_deliver_events(c);
}

/*
 * Abort (§5.1): only held AERs can be cancelled here; any other command is
 * already moving and completes on its own, so dword 0 bit 0 says "not aborted".
 */
static void exec_abort(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	uint16_t sqid = req->cmd.cdw10 & 0xffff, cid = req->cmd.cdw10 >> 16;

	req->cqe.dw0 = 1;
	if (sqid == 0) {
		for (int i = 0; i < c->naer; i++) {
			struct fq_req *aer = c->aer_reqs[i];

			if (aer->cmd.cid != cid)
				continue;
			c->aer_reqs[i] = c->aer_reqs[--c->naer];
			fq_req_complete(aer, ST(FQ_SCT_GENERIC, FQ_SC_ABORT_REQ));
			req->cqe.dw0 = 0;
			break;
		}
	}
	fq_req_complete(req, 0);
}

void fq_exec_admin(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	uint8_t opc = req->cmd.opcode;

	if (!(atomic_load(&c->csts) & FQ_CSTS_RDY)) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		return;
	}
	if (req->cmd.flags & FQ_SQE_FUSE_MASK) {
		fq_req_complete(req, INVALID_FIELD);
		return;
	}
	switch (opc) {
	case FQ_ADM_IDENTIFY:
		exec_identify(req);
		break;
	case FQ_ADM_GET_LOG_PAGE:
		exec_get_log(req);
		break;
	case FQ_ADM_SET_FEATURES:
		exec_set_features(req);
		break;
	case FQ_ADM_GET_FEATURES:
		exec_get_features(req);
		break;
	case FQ_ADM_KEEP_ALIVE:
		fq_ctrl_keep_alive(c, req->q->r->now_ns);
		fq_req_complete(req, 0);
		break;
	case FQ_ADM_ASYNC_EVENT:
		exec_aer(req);
		break;
	case FQ_ADM_ABORT:
		exec_abort(req);
		break;
	default:
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_OPCODE) | FQ_STATUS_DNR);
		break;
	}
}
