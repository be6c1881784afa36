/* SPDX-License-Identifier: MIT */
/*
 * Receive side of a host queue: the controller's byte stream goes through
 * the NVMe/TCP framer (proto/tcp_rx.c), which accepts it in pieces of any
 * size, checks headers and digests and puts C2HData payload straight into
 * the command's buffers. Here each header is checked against the command it
 * names before any request state changes; a violation is fatal for the
 * connection (NVMe/TCP 1.0 §3.6.2.3) and sends an H2CTermReq.
 */
#include "hq.h"

#include <errno.h>
#include <string.h>

static int rx_fail(struct hq *q, uint16_t fes, uint32_t fei, const char *why)
{
	struct fq_tcp_err e = {.fes = fes, .fei = fei, .reason = why};

	hq_proto_error(q, &e, fq_tcp_rx_hdr(&q->rx), fq_tcp_rx_hdr_len(&q->rx));
	return -EPROTO;
}

/* CapsuleResp, §3.6.2.5: the CID must name a command waiting for it. */
static int rx_rsp(struct hq *q)
{
	const struct fq_cqe *cqe = fq_tcp_rx_cqe(&q->rx);
	struct hreq *r = hq_req_lookup(q, cqe->cid);
	struct fq_cpl cpl;

	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_RSP_CID,
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
	return 0;
}

/* C2HData, §3.6.2.7: in order, inside the read's buffer, SUCCESS only with LAST. */
static int rx_c2h(struct hq *q)
{
	struct fq_tcp_data_hdr d;
	struct fq_tcp_err e;
	struct hreq *r;

	fq_tcp_rx_data_hdr(&q->rx, &d);
	r = hq_req_lookup(q, d.cccid);
	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_CCCID,
			       "C2HData for an unknown or completed command ID");
	if (r->dir != HREQ_C2H)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_CCCID,
			       "C2HData for a command that reads no data");
	if (fq_tcp_rx_check_data_range(&q->rx, r->c2h_off, r->len, &e))
		return rx_fail(q, e.fes, e.fei, e.reason);
	if (d.success && !d.last)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_FLAGS,
			       "C2HData SUCCESS without LAST");
	if (d.success && d.datao + d.datal != r->len)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_FLAGS,
			       "C2HData SUCCESS before all data was sent");
	q->rx_req = r;
	fq_tcp_rx_set_dst(&q->rx, r->iov, r->iovcnt, d.datao);
	return 0;
}

/* R2T, §3.6.2.8: only for a waiting write, one at a time (we sent MAXR2T 0). */
static int rx_r2t(struct hq *q)
{
	struct fq_tcp_r2t_hdr t;
	struct hreq *r;

	fq_tcp_rx_r2t_hdr(&q->rx, &t);
	r = hq_req_lookup(q, t.cccid);
	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_CCCID,
			       "R2T for an unknown or completed command ID");
	if (r->dir != HREQ_H2C || r->inline_data)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_CCCID,
			       "R2T for a command with no data to solicit");
	if (r->r2t_active)
		return rx_fail(q, FQ_TCP_FES_PDU_SEQUENCE, 0, "R2T beyond MAXR2T");
	if (t.r2tl == 0)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_R2TL, "R2T with R2TL 0");
	if (t.r2to < r->h2c_done || t.r2tl > r->len || t.r2to > r->len - t.r2tl)
		return rx_fail(q, FQ_TCP_FES_DATA_OUT_OF_RANGE, FQ_TCP_FEI_R2TO,
			       "R2T range outside the command's data");
	r->ttag = t.ttag;
	r->h2c_off = t.r2to;
	r->h2c_end = t.r2to + t.r2tl;
	r->r2t_active = true;
	hq_tx_next_h2c(r);
	return 0;
}

/* C2HTermReq, §3.6.2.3: the controller gave up on the connection. */
static int rx_term_done(struct hq *q)
{
	uint16_t fes;
	uint32_t fei;

	fq_tcp_rx_term(&q->rx, &fes, &fei);
	hq_fail(q, -ECONNRESET, "%s terminated the connection: %s (FEI %u)", q->p.peer,
		fq_tcp_fes_name(fes), fei);
	return -EPROTO;
}

static bool closed(const struct hq *q)
{
	return q->state == HQ_CLOSING || q->state == HQ_CLOSED;
}

static int rx_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct hq *q = arg;
	int rc;

	(void)rest;
	(void)rest_len;
	q->rx_req = NULL;
	switch (fq_tcp_rx_kind(rx)) {
	case FQ_TCP_KIND_IC:
		hq_on_icresp(q);
		rc = 0;
		break;
	case FQ_TCP_KIND_RSP:
		rc = rx_rsp(q);
		break;
	case FQ_TCP_KIND_DATA:
		rc = rx_c2h(q);
		break;
	case FQ_TCP_KIND_R2T:
		rc = rx_r2t(q);
		break;
	case FQ_TCP_KIND_TERM:
		/* The offending header follows as data; fail once it is in. */
		rc = fq_tcp_rx_frame(rx)->data_len ? 0 : rx_term_done(q);
		break;
	default:
		rc = rx_fail(q, FQ_TCP_FES_INVALID_HEADER, 0, "unexpected PDU type");
		break;
	}
	return rc ? rc : closed(q) ? -EPROTO : 0;
}

/*
 * The payload of a C2HData is in place. A data digest error spoils this
 * command only, not the stream (§3.6.1.1): it completes with Data Transfer
 * Error.
 */
static int rx_data_done(void *arg, struct fq_tcp_rx *rx, bool digest_ok)
{
	struct hq *q = arg;
	struct hreq *r = q->rx_req;
	struct fq_tcp_data_hdr d;
	struct fq_cpl cpl;

	if (fq_tcp_rx_kind(rx) == FQ_TCP_KIND_TERM)
		return rx_term_done(q);
	q->rx_req = NULL;
	if (!r)
		return 0;
	if (!digest_ok)
		r->local_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_DATA_XFER_ERROR);
	fq_tcp_rx_data_hdr(rx, &d);
	r->c2h_off += d.datal;
	/* SUCCESS: the command completes without a CapsuleResp (§3.6.2.7). */
	if (d.success) {
		hq_set_status(&cpl, r->sqe.cid, 0, 0, false);
		cpl.sqid = q->p.qid;
		if (r->local_status)
			cpl.status = r->local_status;
		hq_req_finish(r, &cpl);
	}
	return closed(q) ? -EPROTO : 0;
}

static void rx_error(void *arg, const struct fq_tcp_err *e, const void *hdr, uint32_t hdr_len)
{
	hq_proto_error(arg, e, hdr, hdr_len);
}

static const struct fq_tcp_rx_ops rx_ops = {
	.header = rx_header,
	.data_done = rx_data_done,
	.error = rx_error,
};

void hq_rx_reset(struct hq *q)
{
	struct fq_tcp_rx_ctx ctx = {
		.is_target = false,
		/* C2HData size is bounded by the command, checked per PDU. */
		.max_data = UINT32_MAX,
	};

	fq_tcp_rx_init(&q->rx, &ctx, &rx_ops, q);
	q->rx_req = NULL;
}

void hq_rx_direct(struct hq *q, uint32_t len)
{
	fq_tcp_rx_direct_done(&q->rx, len);
}

int hq_rx_feed(struct hq *q, const uint8_t *buf, size_t len)
{
	if (closed(q))
		return -EPROTO;
	return fq_tcp_rx_feed(&q->rx, buf, len);
}
