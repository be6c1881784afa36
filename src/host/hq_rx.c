/* SPDX-License-Identifier: MIT */
/*
 * The host role on the NVMe/TCP connection (xport/tcp_conn.h): what the
 * controller sends, checked against the command it names before any
 * request state changes. A violation is fatal for the connection, which
 * then sends a TermReq naming the field (NVMe/TCP 1.0 §3.6.2.3).
 */
#include "hq.h"

#include <errno.h>
#include <string.h>

static bool closed(const struct hq *q)
{
	return q->state == HQ_CLOSING || q->state == HQ_CLOSED;
}

static int go_on(const struct hq *q)
{
	return closed(q) ? -EPROTO : 0;
}

static int on_ready(void *arg)
{
	struct hq *q = arg;

	hq_on_icresp(q);
	return go_on(q);
}

/* A response: the CID must name a command waiting for it (§3.6.2.5). */
static int on_response(void *arg, const struct fq_cqe *cqe)
{
	struct hq *q = arg;
	struct hreq *r = hq_req_lookup(q, cqe->cid);
	struct fq_cpl cpl;

	if (!r)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "CapsuleResp for an unknown or completed command ID");
	static_assert(sizeof(cpl) == sizeof(*cqe), "fq_cpl mirrors the CQE");
	memcpy(&cpl, cqe, sizeof(cpl));
	/* A read that reports success must have delivered all its data. */
	if (fq_status_ok(cpl.status) && r->dir == HREQ_C2H && r->c2h_off != r->len)
		r->local_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_DATA_XFER_ERROR);
	if (fq_status_ok(cpl.status) && r->local_status)
		cpl.status = r->local_status;
	r->r2t_active = false;
	hq_req_finish(r, &cpl);
	return go_on(q);
}

/* Controller data: in order, inside the read's buffer, SUCCESS only with LAST (§3.6.2.7). */
static int on_data(void *arg, const struct fq_tcp_data_info *d, struct fq_tcp_place *pl)
{
	struct hq *q = arg;
	struct hreq *r = hq_req_lookup(q, d->cid);

	if (!r)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "C2HData for an unknown or completed command ID");
	if (r->dir != HREQ_C2H)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "C2HData for a command that reads no data");
	if (d->success && !d->last)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_FLAGS,
					  "C2HData SUCCESS without LAST");
	/* The range is checked by the connection (expect_off, xfer_len) first. */
	if (d->success && d->off + d->len != r->len && d->off <= r->len &&
	    d->len <= r->len - d->off && d->off == r->c2h_off)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_FLAGS,
					  "C2HData SUCCESS before all data was sent");
	pl->iov = r->iov;
	pl->iovcnt = r->iovcnt;
	pl->off = d->off;
	pl->ctx = r;
	pl->expect_off = r->c2h_off;
	pl->xfer_len = r->len;
	return 0;
}

/*
 * The data of a C2HData is in place. A data digest error spoils this
 * command only, not the stream (§3.6.1.1): it completes with Data Transfer
 * Error. SUCCESS completes it without a response.
 */
static int on_data_done(void *arg, void *ctx, const struct fq_tcp_data_info *d, bool digest_ok)
{
	struct hq *q = arg;
	struct hreq *r = ctx;
	struct fq_cpl cpl;

	if (!digest_ok)
		r->local_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_DATA_XFER_ERROR);
	r->c2h_off += d->len;
	if (d->success) {
		hq_set_status(&cpl, r->sqe.cid, 0, 0, false);
		cpl.sqid = q->p.qid;
		if (r->local_status)
			cpl.status = r->local_status;
		hq_req_finish(r, &cpl);
	}
	return go_on(q);
}

/* Ready to transfer: only for a waiting write, one at a time (we sent MAXR2T 0). */
static int on_r2t(void *arg, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len)
{
	struct hq *q = arg;
	struct hreq *r = hq_req_lookup(q, cid);

	if (!r)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "R2T for an unknown or completed command ID");
	if (r->dir != HREQ_H2C || r->inline_data)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "R2T for a command with no data to solicit");
	if (r->r2t_active)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_SEQUENCE, "R2T beyond MAXR2T");
	if (len == 0)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_R2TL, "R2T with R2TL 0");
	if (off < r->h2c_done || len > r->len || off > r->len - len)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_R2TO,
					  "R2T range outside the command's data");
	r->ttag = ttag;
	r->h2c_off = off;
	r->h2c_end = off + len;
	r->r2t_active = true;
	hq_tx_next_h2c(r);
	return go_on(q);
}

/* The command cannot complete to the caller while a receive may still write its buffers. */
static void on_rx_hold(void *arg, void *ctx, bool held)
{
	struct hreq *r = ctx;

	(void)arg;
	r->rx_direct = held;
	if (!held)
		hq_req_try_release(r);
}

static void on_failed(void *arg, const struct fq_tcp_fail *f)
{
	hq_conn_failed(arg, f);
}

/* After each engine completion: send what it queued, finish a close. */
static void on_io_done(void *arg)
{
	struct hq *q = arg;

	hq_sock_kick(q);
	hq_maybe_closed(q);
}

const struct fq_tcp_conn_ops hq_conn_ops = {
	.ready = on_ready,
	.response = on_response,
	.data = on_data,
	.data_done = on_data_done,
	.r2t = on_r2t,
	.rx_hold = on_rx_hold,
	.failed = on_failed,
	.io_done = on_io_done,
};

int hq_rx_feed(struct hq *q, const uint8_t *buf, size_t len)
{
	if (closed(q))
		return -EPROTO;
	return fq_tcp_conn_feed(&q->conn, buf, len);
}
