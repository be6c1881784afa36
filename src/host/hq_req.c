/* SPDX-License-Identifier: MIT */
/*
 * Request slots of one host queue. Slots are preallocated; the command ID
 * is the slot index plus a small generation counter in the upper bits, so a
 * response for a recycled slot (a duplicate or stale CID) is recognised and
 * rejected instead of completing the wrong command.
 */
#include "hq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEN_MASK ((1u << (16 - HQ_IDX_BITS)) - 1)
#define IDX_MASK ((1u << HQ_IDX_BITS) - 1)

uint64_t hq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hq_init(struct hq *q, uint32_t depth, uint32_t wire_max, const struct hq_ops *ops, void *owner)
{
	if (depth == 0 || depth > HQ_MAX_DEPTH || wire_max == 0 || wire_max > depth)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->ops = ops;
	q->owner = owner;
	q->depth = depth;
	q->wire_max = wire_max;
	q->reqs = calloc(depth, sizeof(*q->reqs));
	if (!q->reqs)
		return -ENOMEM;
	{
		struct fq_tcp_conn_opts o = {
			.is_target = false,
			.ops = &hq_conn_ops,
			.arg = q,
			.rxbuf_size = HQ_RXBUF_SIZE,
		};

		if (fq_tcp_conn_init(&q->conn, &o)) {
			free(q->reqs);
			return -ENOMEM;
		}
	}
	for (uint32_t i = depth; i-- > 0;) {
		struct hreq *r = &q->reqs[i];

		r->q = q;
		r->idx = (uint16_t)i;
		r->next_free = q->free_list;
		q->free_list = r;
	}
	return 0;
}

void hq_fini(struct hq *q)
{
	fq_tcp_conn_fini(&q->conn);
	free(q->reqs);
	q->reqs = NULL;
}

struct hreq *hq_req_get(struct hq *q)
{
	struct hreq *r = q->free_list;
	uint16_t gen;

	if (!r)
		return NULL;
	q->free_list = r->next_free;
	gen = (uint16_t)((r->gen + 1) & GEN_MASK);
	memset(&r->in_use, 0, offsetof(struct hreq, iov) - offsetof(struct hreq, in_use));
	r->gen = gen;
	r->in_use = true;
	q->outstanding++;
	return r;
}

void hq_req_put(struct hreq *r)
{
	struct hq *q = r->q;

	free(r->heap);
	r->heap = NULL;
	r->in_use = false;
	r->next_free = q->free_list;
	q->free_list = r;
	q->outstanding--;
}

int hq_req_set_data(struct hreq *r, const struct iovec *iov, int iovcnt, enum hreq_dir dir)
{
	uint64_t len = 0;

	if (iovcnt < 0 || iovcnt > FQ_MAX_IOVS)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		r->iov[i] = iov[i];
		len += iov[i].iov_len;
	}
	/* The SGL length and DATAO/DATAL are 32-bit (NVMe Base 2.0 §4.1.3). */
	if (len > UINT32_MAX)
		return -EINVAL;
	r->iovcnt = iovcnt;
	r->len = (uint32_t)len;
	r->dir = len ? dir : HREQ_NONE;
	return 0;
}

int hq_req_from_raw(struct hreq *r, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	enum hreq_dir dir = HREQ_NONE;

	static_assert(sizeof(struct fq_nvme_cmd) == sizeof(struct fq_sqe), "raw command is an SQE");
	if (len && !buf)
		return -EINVAL;
	/* Opcode bits 1:0 give the transfer direction (NVMe Base 2.0 Fig. 138). */
	if (len) {
		if ((cmd->opc & 3) == 3)
			return -EINVAL; /* bidirectional transfers are not defined on TCP */
		if (fq_opc_is_write(cmd->opc))
			dir = HREQ_H2C;
		else if (fq_opc_is_read(cmd->opc))
			dir = HREQ_C2H;
		else
			return -EINVAL;
	}
	memcpy(&r->sqe, cmd, sizeof(r->sqe));
	r->sqe.flags &= FQ_SQE_FUSE_MASK;
	return hq_req_set_data(r, &iov, len ? 1 : 0, dir);
}

/* DPTR of a fabrics command is always one SGL descriptor (NVMe/TCP 1.0 §2.1). */
static void set_sgl(struct hq *q, struct hreq *r)
{
	struct fq_sgl *sgl = &r->sqe.sgl;

	memset(sgl, 0, sizeof(*sgl));
	r->sqe.flags = (uint8_t)((r->sqe.flags & FQ_SQE_FUSE_MASK) | FQ_SQE_PSDT_SGL);
	sgl->length = r->len;
	r->inline_data = r->dir == HREQ_H2C && (r->force_inline || r->len <= q->p.inline_max);
	/* In-capsule data: Data Block, Offset subtype, offset 0 (§3.6.2.4). */
	sgl->type = r->inline_data ? FQ_SGL_INCAPSULE : FQ_SGL_TRANSPORT;
}

int hq_submit(struct hreq *r)
{
	struct hq *q = r->q;
	bool connect = r == q->connect_req;

	if (q->state != HQ_LIVE && !(connect && q->state == HQ_FABRIC_CONNECT))
		return -ENXIO;
	if (q->wire_count >= q->wire_max)
		return -EAGAIN;
	q->wire_count++;
	r->sqe.cid = (uint16_t)((r->gen << HQ_IDX_BITS) | r->idx);
	set_sgl(q, r);
	r->c2h_off = 0;
	r->h2c_off = r->h2c_end = r->h2c_done = 0;
	if (!r->timeout_ms)
		r->timeout_ms = q->p.cmd_timeout_ms;
	/*
	 * The deadline is armed by the next timer scan (every 50 ms), not
	 * here: that keeps a clock read off every submission, and a timeout of
	 * seconds does not need better than scan precision.
	 */
	r->deadline_ns = r->timeout_ms ? HQ_DEADLINE_ARM : 0;
	hq_tx_cmd(q, r);
	return 0;
}

struct hreq *hq_req_lookup(struct hq *q, uint16_t cid)
{
	uint32_t idx = cid & IDX_MASK;
	struct hreq *r;

	if (idx >= q->depth)
		return NULL;
	r = &q->reqs[idx];
	if (!r->in_use || r->is_parent || r->rsp_done || r->gen != (cid >> HQ_IDX_BITS))
		return NULL;
	return r;
}

void hq_set_status(struct fq_cpl *cpl, uint16_t cid, unsigned sct, unsigned sc, bool dnr)
{
	memset(cpl, 0, sizeof(*cpl));
	cpl->cid = cid;
	cpl->status = FQ_STATUS(sct, sc) | (dnr ? FQ_STATUS_DNR : 0);
}

void hq_req_finish(struct hreq *r, const struct fq_cpl *cpl)
{
	r->cpl = *cpl;
	r->rsp_done = true;
	hq_req_try_release(r);
}

/* A child finished: keep the error of the lowest-numbered failing child. */
static void parent_account(struct hreq *p, const struct hreq *c)
{
	if (fq_cpl_is_error(&c->cpl) && (!fq_cpl_is_error(&p->cpl) || c->child_no < p->err_child)) {
		p->cpl = c->cpl;
		p->err_child = c->child_no;
	} else if (!fq_cpl_is_error(&p->cpl) && c->child_no == 0) {
		/* Success: report dword 0 of the first piece. */
		p->cpl.cdw0 = c->cpl.cdw0;
	}
	p->children--;
}

/*
 * Release a request once both its response and its last PDU send are done:
 * the data buffer may be handed back only when the kernel no longer reads
 * it for a sendmsg that is still in flight.
 */
void hq_req_try_release(struct hreq *r)
{
	struct hq *q = r->q;
	struct hreq *p = r->parent;
	struct fq_cpl cpl;
	fq_cmd_cb cb;
	void *arg;

	/* A receive still writing into the buffers holds it back too. */
	if (!r->in_use || !r->rsp_done || r->tx_queued || r->rx_direct)
		return;
	if (!r->is_parent)
		q->wire_count--;
	if (p) {
		parent_account(p, r);
		hq_req_put(r);
		if (p->children == 0) {
			p->rsp_done = true;
			hq_req_try_release(p);
		}
		return;
	}
	cpl = r->cpl;
	cb = r->cb;
	arg = r->cb_arg;
	/* Free the slot first so the callback can submit again. */
	hq_req_put(r);
	q->completions++;
	if (cb)
		cb(arg, &cpl);
}

void hq_fail_all(struct hq *q, unsigned sct, unsigned sc)
{
	for (uint32_t i = 0; i < q->depth; i++) {
		struct hreq *r = &q->reqs[i];

		if (!r->in_use || r->is_parent || r->rsp_done)
			continue;
		hq_set_status(&r->cpl, r->sqe.cid, sct, sc, false);
		r->cpl.sqid = r->q->p.qid;
		r->rsp_done = true;
	}
	for (uint32_t i = 0; i < q->depth; i++) {
		struct hreq *r = &q->reqs[i];

		if (r->in_use && !r->is_parent && r->rsp_done)
			hq_req_try_release(r);
	}
}
