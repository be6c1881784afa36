/* SPDX-License-Identifier: MIT */
/*
 * Connection life cycle of a host queue: TCP connect, ICReq/ICResp
 * (NVMe/TCP 1.0 §3.3), Fabrics Connect (NVMe-oF 1.1 §3.3), per-step and
 * per-command timers, and failure. Every failure records a sentence naming
 * the step and the reason; the first failure wins.
 */
#include "hq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/status.h"
#include "util/log.h"

#define CLOSE_GRACE_NS 1000000000ull /* time to flush an H2CTermReq */
#define SCAN_PERIOD_NS 50000000ull

const char *hq_state_name(enum hq_state s)
{
	static const char *const names[] = {
		[HQ_CLOSED] = "closed", [HQ_TCP_CONNECT] = "tcp-connect",
		[HQ_IC] = "icreq",	[HQ_FABRIC_CONNECT] = "fabrics-connect",
		[HQ_LIVE] = "live",	[HQ_CLOSING] = "closing",
	};
	static_assert(sizeof(names) / sizeof(names[0]) == HQ_NUM_STATES, "name every state");

	return s < HQ_NUM_STATES ? names[s] : "?";
}

void hq_set_state(struct hq *q, enum hq_state s)
{
	enum hq_state old = q->state;

	if (old == s)
		return;
	fq_dbg("queue %u to %s: %s -> %s", q->p.qid, q->p.peer, hq_state_name(old),
	       hq_state_name(s));
	q->state = s;
	if ((s == HQ_LIVE || s == HQ_CLOSED) && q->ops && q->ops->state_change)
		q->ops->state_change(q, old);
}

static void step_deadline(struct hq *q, uint64_t now)
{
	q->step_deadline_ns = now + (uint64_t)q->p.connect_timeout_ms * 1000000ull;
}

int hq_start(struct hq *q, struct fq_engine *eng, const struct sockaddr *sa, socklen_t salen)
{
	if (q->state != HQ_CLOSED)
		return -EBUSY;
	if (salen > sizeof(q->addr))
		return -EINVAL;
	q->eng = eng;
	q->err = 0;
	q->err_dnr = false;
	q->errmsg[0] = 0;
	q->connect_req = NULL;
	/* What this connection asks for; the rest was set at hq_init. */
	q->conn.o.want_hdgst = q->p.hdgst;
	q->conn.o.want_ddgst = q->p.ddgst;
	q->conn.o.lock = q->lock;
	/*
	 * Send every HQ_EAGER_SEND commands rather than all at the end of the
	 * poll turn, where the queue's thread owns the engine; in threaded
	 * mode (a lock) the service thread does and an application thread must
	 * not touch its ring.
	 */
	q->conn.o.eager_units = q->lock ? 0 : HQ_EAGER_SEND;
	q->conn.o.peer = q->p.peer;
	memcpy(&q->addr, sa, salen);
	q->addrlen = salen;
	step_deadline(q, hq_now_ns());
	hq_set_state(q, HQ_TCP_CONNECT);
	hq_sock_connect(q);
	return 0;
}

/* Connect command and data, NVMe-oF 1.1 Fig. 19 and Fig. 20. */
static void connect_done(void *arg, const struct fq_cpl *cpl);

static void send_connect(struct hq *q)
{
	struct hreq *r = hq_req_get(q);
	struct fq_connect_cmd *c;
	struct fq_connect_data *d = &q->connect_data;
	struct iovec iov = {.iov_base = d, .iov_len = sizeof(*d)};

	if (!r) {
		hq_fail(q, -ENOMEM, "no request slot for Fabrics Connect");
		return;
	}
	c = (struct fq_connect_cmd *)&r->sqe;
	c->opcode = FQ_ADM_FABRICS;
	c->fctype = FQ_FCTYPE_CONNECT;
	c->recfmt = 0;
	c->qid = q->p.qid;
	c->sqsize = q->p.sqsize;
	if (q->p.disable_sqflow)
		c->cattr |= FQ_CONNECT_CATTR_DISABLE_SQFLOW;
	/* KATO is meaningful on the admin queue only (§3.3, Fig. 19). */
	c->kato = q->p.qid == 0 ? q->p.kato_ms : 0;
	memset(d, 0, sizeof(*d));
	memcpy(d->hostid, q->p.hostid, sizeof(d->hostid));
	d->cntlid = q->p.cntlid;
	snprintf(d->subnqn, sizeof(d->subnqn), "%s", q->p.subnqn);
	snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", q->p.hostnqn);
	hq_req_set_data(r, &iov, 1, HREQ_H2C);
	/* Connect data always travels in the capsule, whatever IOCCSZ says. */
	r->force_inline = true;
	r->cb = connect_done;
	r->cb_arg = q;
	r->timeout_ms = q->p.connect_timeout_ms;
	q->connect_req = r;
	if (hq_submit(r)) {
		hq_req_put(r);
		hq_fail(q, -EIO, "cannot queue Fabrics Connect");
	}
}

/* The connection accepted the ICResp: digests and MAXH2CDATA are set. */
void hq_on_icresp(struct hq *q)
{
	step_deadline(q, hq_now_ns());
	hq_set_state(q, HQ_FABRIC_CONNECT);
	send_connect(q);
}

/* Name the field an Invalid Parameter status points at (NVMe-oF 1.1 Fig. 21). */
static const char *connect_field(bool in_data, uint16_t ipo)
{
	if (in_data) {
		if (ipo < 16)
			return "HOSTID";
		if (ipo < 18)
			return "CNTLID";
		if (ipo >= 256 && ipo < 512)
			return "SUBNQN";
		if (ipo >= 512 && ipo < 768)
			return "HOSTNQN";
		return "reserved";
	}
	switch (ipo) {
	case 40:
		return "RECFMT";
	case 42:
		return "QID";
	case 44:
		return "SQSIZE";
	case 46:
		return "CATTR";
	case 48:
		return "KATO";
	default:
		return "command";
	}
}

static int connect_errno(const struct fq_cpl *cpl)
{
	if (fq_cpl_sct(cpl) != FQ_SCT_CMD_SPECIFIC)
		return -EIO;
	switch (fq_cpl_sc(cpl)) {
	case FQ_SC_CONNECT_INVALID_HOST:
		return -EACCES;
	case FQ_SC_CONNECT_INVALID_PARAM:
		return -EINVAL;
	case FQ_SC_CONNECT_CTRL_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static void connect_done(void *arg, const struct fq_cpl *cpl)
{
	struct hq *q = arg;
	char st[128];

	q->connect_req = NULL;
	if (q->state != HQ_FABRIC_CONNECT)
		return;
	if (fq_cpl_is_error(cpl)) {
		fq_status_str(cpl->status, st, sizeof(st));
		q->err_dnr = fq_status_dnr(cpl->status);
		if (fq_cpl_sct(cpl) == FQ_SCT_CMD_SPECIFIC &&
		    fq_cpl_sc(cpl) == FQ_SC_CONNECT_INVALID_PARAM) {
			bool in_data = (cpl->cdw0 >> 16) & 1;
			uint16_t ipo = cpl->cdw0 & 0xffff;

			hq_fail(q, -EINVAL,
				"Fabrics Connect (qid %u) to %s rejected: %s; invalid %s at byte "
				"%u "
				"of the Connect %s",
				q->p.qid, q->p.peer, st, connect_field(in_data, ipo), ipo,
				in_data ? "data" : "command");
		} else {
			hq_fail(q, connect_errno(cpl),
				"Fabrics Connect (qid %u) to %s rejected: %s%s", q->p.qid,
				q->p.peer, st,
				connect_errno(cpl) == -EACCES ? " (host NQN not allowed)" : "");
		}
		return;
	}
	q->cntlid = (uint16_t)(cpl->cdw0 & 0xffff);
	hq_set_state(q, HQ_LIVE);
}

static void fail_common(struct hq *q, int err)
{
	q->err = err;
	hq_set_state(q, HQ_CLOSING);
	q->step_deadline_ns = hq_now_ns() + CLOSE_GRACE_NS;
	/* What nobody started to send is dropped; a TermReq of ours still leaves. */
	fq_tcp_conn_drop_unstarted(&q->conn);
	/* Outstanding commands get a path error: retrying elsewhere may work. */
	hq_fail_all(q, FQ_SCT_PATH, FQ_SC_HOST_PATH_ERROR);
	fq_tcp_conn_close(&q->conn);
	if (!q->conn.started)
		hq_sock_shutdown(q); /* still connecting */
	hq_sock_kick(q);
	hq_maybe_closed(q);
}

void hq_fail(struct hq *q, int err, const char *fmt, ...)
{
	va_list ap;

	if (q->state == HQ_CLOSED || q->state == HQ_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(q->errmsg, sizeof(q->errmsg), fmt, ap);
	va_end(ap);
	/* Closing on request (free, disconnect) is not worth a warning. */
	if (q->state == HQ_LIVE && err != -ECANCELED && err != -ESHUTDOWN)
		fq_warn("queue %u: %s", q->p.qid, q->errmsg);
	else
		fq_dbg("queue %u: %s", q->p.qid, q->errmsg);
	fail_common(q, err);
}

void hq_conn_failed(struct hq *q, const struct fq_tcp_fail *f)
{
	if (q->state == HQ_CLOSED || q->state == HQ_CLOSING)
		return;
	switch (f->kind) {
	case FQ_TCP_FAIL_PROTO:
		/* A TermReq naming the field is on its way (§3.6.2.3). */
		snprintf(q->errmsg, sizeof(q->errmsg), "protocol error from %s: %s (%s, FEI %u)",
			 q->p.peer, f->why, f->fes_name, f->fei);
		fq_warn("queue %u: %s", q->p.qid, q->errmsg);
		fail_common(q, -EPROTO);
		break;
	case FQ_TCP_FAIL_PEER_TERM:
		hq_fail(q, -ECONNRESET, "%s terminated the connection: %s (FEI %u)", q->p.peer,
			f->fes_name, f->fei);
		break;
	case FQ_TCP_FAIL_IC:
		hq_fail(q, -EPROTO, "ICResp from %s rejected: %s (byte %u)", q->p.peer, f->why,
			f->fei);
		break;
	case FQ_TCP_FAIL_CLOSED:
		hq_fail(q, -ECONNRESET, "connection closed by %s", q->p.peer);
		break;
	case FQ_TCP_FAIL_IO:
		hq_fail(q, f->err, "I/O with %s failed: %s", q->p.peer, f->why);
		break;
	}
}

void hq_maybe_closed(struct hq *q)
{
	if (q->state != HQ_CLOSING || q->conn_busy || fq_tcp_conn_busy(&q->conn))
		return;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	fq_tcp_conn_release(&q->conn);
	hq_set_state(q, HQ_CLOSED);
}

static void connect_step_timeout(struct hq *q)
{
	uint32_t ms = q->p.connect_timeout_ms;

	switch (q->state) {
	case HQ_TCP_CONNECT:
		hq_fail(q, -ETIMEDOUT, "TCP connect to %s timed out after %u ms", q->p.peer, ms);
		break;
	case HQ_IC:
		hq_fail(q, -ETIMEDOUT, "no ICResp from %s within %u ms", q->p.peer, ms);
		break;
	default:
		hq_fail(q, -ETIMEDOUT,
			"no response to Fabrics Connect (qid %u) from %s within %u ms", q->p.qid,
			q->p.peer, ms);
		break;
	}
}

static void scan_commands(struct hq *q, uint64_t now)
{
	for (uint32_t i = 0; i < q->depth && q->state == HQ_LIVE; i++) {
		struct hreq *r = &q->reqs[i];

		if (r->in_use && r->deadline_ns == HQ_DEADLINE_ARM) {
			r->deadline_ns = now + (uint64_t)r->timeout_ms * 1000000ull;
			continue;
		}
		if (!r->in_use || r->is_parent || r->rsp_done || !r->deadline_ns ||
		    now < r->deadline_ns)
			continue;
		if (q->ops && q->ops->timeout && q->ops->timeout(q, r))
			continue;
		hq_fail(q, -ETIMEDOUT, "command opcode 0x%02x (cid 0x%04x) on queue %u timed out",
			r->sqe.opcode, r->sqe.cid, q->p.qid);
	}
}

void hq_check_timers(struct hq *q, uint64_t now)
{
	switch (q->state) {
	case HQ_TCP_CONNECT:
	case HQ_IC:
	case HQ_FABRIC_CONNECT:
		if (now >= q->step_deadline_ns)
			connect_step_timeout(q);
		break;
	case HQ_CLOSING:
		if (now >= q->step_deadline_ns)
			hq_sock_shutdown(q);
		hq_maybe_closed(q);
		break;
	case HQ_LIVE:
		if (now >= q->next_scan_ns) {
			q->next_scan_ns = now + SCAN_PERIOD_NS;
			scan_commands(q, now);
		}
		break;
	default:
		break;
	}
}
