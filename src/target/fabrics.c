/* SPDX-License-Identifier: MIT */
/*
 * Fabrics commands at the target: Connect (NVMe-oF 1.1 §3.3), Property Get
 * and Set (§3.4, §3.5) and Disconnect (§3.6).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

#define SC(sct, sc) FQ_STATUS(sct, sc)
#define INVALID_PARAM (SC(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INVALID_PARAM) | FQ_STATUS_DNR)

static void connect_fail_param(struct fq_req *req, int in_data, uint16_t off, const char *why)
{
	struct fq_queue *q = req->q;

	fq_warn("Connect from %s rejected: %s", q->peer, why);
	req->cqe.dw0 = fq_connect_ipo(in_data, off);
	fq_req_complete(req, INVALID_PARAM);
}

/*
 * NQN fields of the Connect data (NVMe-oF 1.1 Fig. 20) are 256 bytes, NUL
 * padded; an NQN is at most 223 bytes (NVMe Base 2.0 §4.5). Returns what is
 * wrong with @s, or NULL. An empty host NQN is well formed: hosts without an
 * NQN of their own (SPDK's tools by default) send an all-zero field, and it
 * is the subsystem's host check that decides whether it may connect.
 */
static const char *nqn_field_error(const char *s, bool may_be_empty)
{
	size_t n = strnlen(s, FQ_NQN_FIELD);

	if (n == FQ_NQN_FIELD)
		return "not NUL-terminated within its 256 bytes";
	if (n > FQ_NQN_MAX)
		return "longer than 223 bytes";
	if (!n && !may_be_empty)
		return "empty";
	return NULL;
}

static void connect_fail_nqn(struct fq_req *req, uint16_t off, const char *field, const char *why)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s %s", field, why);
	connect_fail_param(req, 1, off, msg);
}

/* NVMe-oF 1.1 §3.3: a host the subsystem does not allow gets Connect Invalid Host. */
static void connect_fail_host(struct fq_req *req, const struct fq_subsys *s, const char *hostnqn)
{
	struct fq_queue *q = req->q;

	if (hostnqn[0])
		fq_warn("Connect from %s rejected: host %s is not allowed on %s", q->peer, hostnqn,
			s->nqn);
	else
		fq_warn("Connect from %s rejected: the host sent an empty host NQN, which "
			"matches no allow_host entry of %s (give the host an NQN, or set "
			"allow_any_host)",
			q->peer, s->nqn);
	fq_req_complete(req, SC(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INVALID_HOST) | FQ_STATUS_DNR);
}

static void connect_admin(struct fq_req *req, struct fq_subsys *s, const struct fq_connect_cmd *c,
			  const struct fq_connect_data *d)
{
	struct fq_queue *q = req->q;
	struct fq_ctrl *ctrl;
	uint32_t kato = c->kato;
	int rc;

	if (d->cntlid != FQ_CNTLID_DYNAMIC)
		return connect_fail_param(
			req, 1, offsetof(struct fq_connect_data, cntlid),
			"admin queue Connect must use CNTLID 0xFFFF (dynamic model)");
	if (c->sqsize < 31 || c->sqsize >= FQ_TGT_ADMIN_QSIZE)
		return connect_fail_param(req, 0, offsetof(struct fq_connect_cmd, sqsize),
					  "admin SQSIZE out of range");
	/* A non-zero KATO below our minimum is rounded up (NVMe Base 2.0 §5.27.1.12). */
	if (kato && kato < q->r->tgt->conf->kato_min_ms)
		kato = q->r->tgt->conf->kato_min_ms;
	rc = fq_ctrl_create(q->r->tgt, s, q, d, kato, &ctrl);
	if (rc) {
		fq_warn("Connect from %s rejected: no controller ID available", q->peer);
		fq_req_complete(req, SC(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_CTRL_BUSY));
		return;
	}
	q->ctrl = ctrl;
	q->qid = 0;
	q->sqsize = (uint16_t)(c->sqsize + 1);
	atomic_store(&ctrl->io_qdepth, q->sqsize);
	q->sqflow_disabled = c->cattr & FQ_CONNECT_CATTR_DISABLE_SQFLOW;
	ctrl->ka_deadline_ns = q->r->now_ns + (uint64_t)kato * 1000000ull;
	fq_info("controller %u created for host %s (%s) on %s, subsystem %s, KATO %u ms",
		ctrl->cntlid, ctrl->hostnqn[0] ? ctrl->hostnqn : "(no host NQN)", q->peer,
		q->port->conf.name, s->nqn, kato);
	req->cqe.dw0 = ctrl->cntlid;
	fq_req_complete(req, 0);
}

static void connect_io(struct fq_req *req, const struct fq_connect_cmd *c,
		       const struct fq_connect_data *d)
{
	struct fq_queue *q = req->q;
	struct fq_tgt *t = q->r->tgt;
	struct fq_ctrl *ctrl = fq_ctrl_lookup(t, d->cntlid, d->subnqn, d->hostnqn);
	int rc;

	if (!ctrl)
		return connect_fail_param(req, 1, offsetof(struct fq_connect_data, cntlid),
					  "I/O queue Connect names an unknown controller");
	if (ctrl->subsys->discovery) {
		fq_ctrl_put(ctrl);
		return connect_fail_param(req, 0, offsetof(struct fq_connect_cmd, qid),
					  "discovery controllers have no I/O queues");
	}
	if (!(atomic_load(&ctrl->csts) & FQ_CSTS_RDY)) {
		fq_ctrl_put(ctrl);
		fq_warn("Connect from %s rejected: controller %u is not enabled", q->peer,
			d->cntlid);
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		return;
	}
	if (c->sqsize < 1 || c->sqsize >= t->conf->max_queue_size) {
		fq_ctrl_put(ctrl);
		return connect_fail_param(req, 0, offsetof(struct fq_connect_cmd, sqsize),
					  "I/O SQSIZE out of range");
	}
	rc = fq_ctrl_add_ioq(ctrl, c->qid);
	if (rc) {
		fq_ctrl_put(ctrl);
		return connect_fail_param(req, 0, offsetof(struct fq_connect_cmd, qid),
					  rc == -EEXIST ? "queue ID already connected"
							: "queue ID above the granted count");
	}
	q->ctrl = ctrl; /* the lookup reference now belongs to the queue */
	q->qid = c->qid;
	q->sqsize = (uint16_t)(c->sqsize + 1);
	atomic_store(&ctrl->io_qdepth, q->sqsize);
	q->sqflow_disabled = c->cattr & FQ_CONNECT_CATTR_DISABLE_SQFLOW;
	fq_dbg("controller %u: I/O queue %u connected from %s (size %u)", ctrl->cntlid, q->qid,
	       q->peer, q->sqsize);
	fq_req_complete(req, 0);
}

static void exec_connect(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	const struct fq_connect_cmd *c = (const void *)&req->cmd;
	const struct fq_connect_data *d = (const void *)req->buf;
	struct fq_subsys *s;
	bool known, allowed;
	const char *why;

	if (q->ctrl) {
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		return;
	}
	if (req->xfer_len != sizeof(*d) || !req->buf) {
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA) | FQ_STATUS_DNR);
		return;
	}
	if (c->recfmt != 0) {
		fq_req_complete(req, SC(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INCOMPAT_FMT) |
					     FQ_STATUS_DNR);
		return;
	}
	why = nqn_field_error(d->subnqn, false);
	if (why)
		return connect_fail_nqn(req, offsetof(struct fq_connect_data, subnqn),
					"subsystem NQN", why);
	why = nqn_field_error(d->hostnqn, true);
	if (why)
		return connect_fail_nqn(req, offsetof(struct fq_connect_data, hostnqn), "host NQN",
					why);
	/* Subsystems, hosts and ports change at run time under tgt->lock. */
	pthread_mutex_lock(&q->r->tgt->lock);
	s = fq_tgt_find_subsys(q->r->tgt, d->subnqn);
	known = s && (s->discovery || fq_subsys_on_port(s, q->port));
	allowed = known && (s->discovery || fq_subsys_host_allowed(s, d->hostnqn));
	pthread_mutex_unlock(&q->r->tgt->lock);
	if (!known)
		return connect_fail_param(req, 1, offsetof(struct fq_connect_data, subnqn),
					  "unknown subsystem NQN");
	if (q->port->conf.discovery_only && !s->discovery)
		return connect_fail_param(req, 1, offsetof(struct fq_connect_data, subnqn),
					  "this port serves only discovery");
	if (!allowed)
		return connect_fail_host(req, s, d->hostnqn);
	if (c->qid == 0)
		connect_admin(req, s, c, d);
	else
		connect_io(req, c, d);
}

/* NVMe Base 2.0 §3.1.3: CAP, VS, CC, CSTS; everything else reads as 0. */
static uint64_t prop_read(struct fq_queue *q, uint32_t off, bool *ok)
{
	struct fq_ctrl *c = q->ctrl;
	struct fq_target_conf *conf = q->r->tgt->conf;
	uint32_t mqes = (c->subsys->discovery ? FQ_TGT_ADMIN_QSIZE : conf->max_queue_size) - 1;

	*ok = true;
	switch (off) {
	case FQ_PROP_CAP:
		/* CQR=1, TO=15 (7.5 s), CSS=NVM, MPSMIN=MPSMAX=0 (4 KiB). */
		return FQ_CAP_MQES(mqes) | FQ_CAP_CQR | FQ_CAP_TO(15) | FQ_CAP_CSS_NVM;
	case FQ_PROP_VS:
		return FQ_VS(1, 3, 0);
	case FQ_PROP_CC:
		return c->cc;
	case FQ_PROP_CSTS:
		return atomic_load(&c->csts);
	case FQ_PROP_INTMS:
	case FQ_PROP_INTMC:
	case FQ_PROP_NSSR:
		return 0;
	default:
		*ok = false;
		return 0;
	}
}

/* Apply a CC write: enable, disable (reset) and shutdown (§3.1.3.5). */
static void cc_write(struct fq_queue *q, uint32_t cc)
{
	struct fq_ctrl *c = q->ctrl;
	uint32_t old = c->cc;
	uint32_t csts = atomic_load(&c->csts);

	c->cc = cc;
	if ((cc & FQ_CC_EN) && !(old & FQ_CC_EN)) {
		if (FQ_CC_IOSQES(cc) != 6 || FQ_CC_IOCQES(cc) != 4 || FQ_CC_MPS(cc) != 0 ||
		    FQ_CC_AMS(cc) != 0 || FQ_CC_CSS(cc) != 0) {
			fq_warn("controller %u: unsupported CC 0x%x, reporting fatal status",
				c->cntlid, cc);
			csts |= FQ_CSTS_CFS;
		} else {
			csts |= FQ_CSTS_RDY;
		}
	} else if (!(cc & FQ_CC_EN) && (old & FQ_CC_EN)) {
		csts &= ~(FQ_CSTS_RDY | FQ_CSTS_CFS | FQ_CSTS_SHST_MASK);
	}
	if (FQ_CC_SHN(cc) && !FQ_CC_SHN(old)) {
		/* Make written data durable before reporting shutdown complete. */
		struct fq_tgt_ns_table *tab = fq_subsys_ns(c->subsys);

		for (uint32_t i = 0; i < tab->n; i++) {
			struct fq_bdev *b = tab->ns[i]->bdev;

			if (b->ops->sync)
				b->ops->sync(b);
		}
		csts = (csts & ~FQ_CSTS_SHST_MASK) | FQ_CSTS_SHST_CMPLT;
		fq_info("controller %u: shutdown requested by host %s", c->cntlid, c->hostnqn);
	} else if (!FQ_CC_SHN(cc)) {
		csts &= ~FQ_CSTS_SHST_MASK;
	}
	atomic_store(&c->csts, csts);
}

static void exec_prop(struct fq_req *req, bool set)
{
	const struct fq_prop_cmd *p = (const void *)&req->cmd;
	struct fq_queue *q = req->q;
	bool ok;
	uint64_t v;

	if (!q->ctrl || q->qid != 0) {
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		return;
	}
	if ((p->attrib & 7) > 1) {
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR);
		return;
	}
	if (set) {
		if (p->offset != FQ_PROP_CC || (p->attrib & 7) != 0) {
			fq_req_complete(req,
					SC(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR);
			return;
		}
		cc_write(q, (uint32_t)p->value);
		fq_req_complete(req, 0);
		return;
	}
	v = prop_read(q, p->offset, &ok);
	if (!ok) {
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR);
		return;
	}
	if ((p->attrib & 7) == 0)
		v &= 0xffffffffu;
	req->cqe.dw0 = (uint32_t)v;
	req->cqe.dw1 = (uint32_t)(v >> 32);
	fq_req_complete(req, 0);
}

void fq_exec_fabrics(struct fq_req *req)
{
	const struct fq_fabrics_cmd *f = (const void *)&req->cmd;

	switch (f->fctype) {
	case FQ_FCTYPE_CONNECT:
		exec_connect(req);
		break;
	case FQ_FCTYPE_PROP_GET:
		exec_prop(req, false);
		break;
	case FQ_FCTYPE_PROP_SET:
		exec_prop(req, true);
		break;
	case FQ_FCTYPE_DISCONNECT:
		if (!req->q->ctrl) {
			fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
			break;
		}
		req->close_after = true;
		fq_req_complete(req, 0);
		break;
	default:
		fq_req_complete(req, SC(FQ_SCT_GENERIC, FQ_SC_INVALID_OPCODE) | FQ_STATUS_DNR);
		break;
	}
}
