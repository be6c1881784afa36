/* SPDX-License-Identifier: MIT */
/*
 * Receive side of a host queue: an incremental parser that accepts the byte
 * stream in pieces of any size (partial headers, PDUs split across reads,
 * many PDUs in one read). Every header is validated by the pure decoder
 * (proto/tcp_decode.c) and against the command it names before any request
 * state changes; a violation is fatal for the connection (NVMe/TCP 1.0
 * §3.6.2.3) and sends an H2CTermReq.
 */
#include "hq.h"

#include <errno.h>
#include <string.h>

#include "proto/crc32c.h"

void hq_rx_reset(struct hq *q)
{
	q->rx_state = RX_CH;
	q->rx_have = 0;
	q->rx_req = NULL;
	q->rx_left = 0;
}

static int rx_fail(struct hq *q, uint16_t fes, uint32_t fei, const char *why)
{
	struct fq_tcp_err e = {.fes = fes, .fei = fei, .reason = why};

	hq_proto_error(q, &e, q->rx_hdr, q->rx_fr.hlen ? q->rx_fr.hlen : sizeof(struct fq_tcp_ch));
	return -EPROTO;
}

/* CapsuleResp, §3.6.2.5: the CID must name a command waiting for it. */
static int rx_rsp(struct hq *q)
{
	const struct fq_tcp_rsp *rsp = (const struct fq_tcp_rsp *)q->rx_hdr;
	struct hreq *r = hq_req_lookup(q, rsp->cqe.cid);
	struct fq_cpl cpl;

	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_rsp, cqe.cid),
			       "CapsuleResp for an unknown or completed command ID");
	static_assert(sizeof(cpl) == sizeof(rsp->cqe), "fq_cpl mirrors the CQE");
	memcpy(&cpl, &rsp->cqe, sizeof(cpl));
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
	const struct fq_tcp_data *d = (const struct fq_tcp_data *)q->rx_hdr;
	struct hreq *r = hq_req_lookup(q, d->cccid);
	struct fq_tcp_err e;

	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_data, cccid),
			       "C2HData for an unknown or completed command ID");
	if (r->dir != HREQ_C2H)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_data, cccid),
			       "C2HData for a command that reads no data");
	if (fq_tcp_check_data_range(d, r->c2h_off, r->len, &e))
		return rx_fail(q, e.fes, e.fei, e.reason);
	if ((d->ch.flags & FQ_TCP_F_DATA_SUCCESS) && !(d->ch.flags & FQ_TCP_F_DATA_LAST))
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, 1, "C2HData SUCCESS without LAST");
	if ((d->ch.flags & FQ_TCP_F_DATA_SUCCESS) && d->datao + d->datal != r->len)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, 1,
			       "C2HData SUCCESS before all data was sent");
	q->rx_req = r;
	q->rx_off = d->datao;
	q->rx_left = d->datal;
	q->rx_crc = FQ_CRC32C_SEED;
	q->rx_state = RX_DATA;
	return 0;
}

/* R2T, §3.6.2.8: only for a waiting write, one at a time (we sent MAXR2T 0). */
static int rx_r2t(struct hq *q)
{
	const struct fq_tcp_r2t *t = (const struct fq_tcp_r2t *)q->rx_hdr;
	struct hreq *r = hq_req_lookup(q, t->cccid);

	if (!r)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_r2t, cccid),
			       "R2T for an unknown or completed command ID");
	if (r->dir != HREQ_H2C || r->inline_data)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_r2t, cccid),
			       "R2T for a command with no data to solicit");
	if (r->r2t_active)
		return rx_fail(q, FQ_TCP_FES_PDU_SEQUENCE, 0, "R2T beyond MAXR2T");
	if (t->r2tl == 0)
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, offsetof(struct fq_tcp_r2t, r2tl),
			       "R2T with R2TL 0");
	if (t->r2to < r->h2c_done || t->r2tl > r->len || t->r2to > r->len - t->r2tl)
		return rx_fail(q, FQ_TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct fq_tcp_r2t, r2to),
			       "R2T range outside the command's data");
	r->ttag = t->ttag;
	r->h2c_off = t->r2to;
	r->h2c_end = t->r2to + t->r2tl;
	r->r2t_active = true;
	hq_tx_next_h2c(r);
	return 0;
}

static int rx_term(struct hq *q)
{
	q->rx_req = NULL;
	q->rx_off = 0;
	q->rx_left = q->rx_fr.data_len;
	if (q->rx_left == 0) {
		const struct fq_tcp_term *t = (const struct fq_tcp_term *)q->rx_hdr;

		hq_fail(q, -ECONNRESET, "%s terminated the connection: %s (FEI %u)", q->p.peer,
			fq_tcp_fes_name(t->fes), fq_tcp_term_fei(t));
		return -EPROTO;
	}
	q->rx_state = RX_DATA;
	return 0;
}

static int rx_header_done(struct hq *q)
{
	struct fq_tcp_err e;

	if (q->rx_fr.has_hdgst && fq_tcp_check_hdgst(q->rx_hdr, q->rx_fr.hlen, &e))
		return rx_fail(q, e.fes, e.fei, e.reason);
	q->rx_state = RX_CH;
	q->rx_have = 0;
	switch (q->rx_fr.type) {
	case FQ_TCP_ICRESP:
		hq_on_icresp(q, (const struct fq_tcp_icresp *)q->rx_hdr);
		return 0;
	case FQ_TCP_CAPSULE_RESP:
		return rx_rsp(q);
	case FQ_TCP_C2H_DATA:
		return rx_c2h(q);
	case FQ_TCP_R2T:
		return rx_r2t(q);
	case FQ_TCP_C2H_TERM:
		return rx_term(q);
	default:
		return rx_fail(q, FQ_TCP_FES_INVALID_HEADER, 0, "unexpected PDU type");
	}
}

static size_t rx_collect(struct hq *q, const uint8_t *buf, size_t len, uint32_t want)
{
	size_t n = want - q->rx_have;

	if (n > len)
		n = len;
	memcpy(q->rx_hdr + q->rx_have, buf, n);
	q->rx_have += (uint32_t)n;
	return n;
}

static int rx_ch(struct hq *q)
{
	struct fq_tcp_rx_ctx ctx = {
		.is_target = false,
		.ic_done = q->state > HQ_IC,
		.hdgst = q->hdgst,
		.ddgst = q->ddgst,
		/* C2HData size is bounded by the command, checked per PDU. */
		.max_data = UINT32_MAX,
	};
	struct fq_tcp_err e;

	if (fq_tcp_decode_ch((const struct fq_tcp_ch *)q->rx_hdr, &ctx, &q->rx_fr, &e)) {
		q->rx_fr.hlen = 0;
		return rx_fail(q, e.fes, e.fei, e.reason);
	}
	q->rx_state = RX_HDR;
	return 0;
}

/* Copy data into the command's buffers at @off. */
static void iov_store(struct hreq *r, uint32_t off, const uint8_t *src, size_t len)
{
	for (int i = 0; i < r->iovcnt && len; i++) {
		size_t l = r->iov[i].iov_len;

		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		memcpy((uint8_t *)r->iov[i].iov_base + off, src, l);
		src += l;
		len -= l;
		off = 0;
	}
}

static void rx_data_done(struct hq *q)
{
	const struct fq_tcp_data *d = (const struct fq_tcp_data *)q->rx_hdr;
	struct hreq *r = q->rx_req;
	struct fq_cpl cpl;

	q->rx_state = RX_CH;
	q->rx_have = 0;
	if (q->rx_fr.type == FQ_TCP_C2H_TERM) {
		const struct fq_tcp_term *t = (const struct fq_tcp_term *)q->rx_hdr;

		hq_fail(q, -ECONNRESET, "%s terminated the connection: %s (FEI %u)", q->p.peer,
			fq_tcp_fes_name(t->fes), fq_tcp_term_fei(t));
		return;
	}
	r->c2h_off += d->datal;
	q->rx_req = NULL;
	/* SUCCESS: the command completes without a CapsuleResp (§3.6.2.7). */
	if (d->ch.flags & FQ_TCP_F_DATA_SUCCESS) {
		hq_set_status(&cpl, r->sqe.cid, 0, 0, false);
		cpl.sqid = q->p.qid;
		if (r->local_status)
			cpl.status = r->local_status;
		hq_req_finish(r, &cpl);
	}
}

/* @n more payload bytes are in place (and in the digest): move on. */
static void rx_data_advance(struct hq *q, uint32_t n)
{
	q->rx_off += n;
	q->rx_left -= n;
	if (q->rx_left == 0) {
		if (q->rx_fr.has_ddgst) {
			q->rx_state = RX_DDGST;
			q->rx_have = 0;
		} else {
			rx_data_done(q);
		}
	}
}

static size_t rx_data(struct hq *q, const uint8_t *buf, size_t len)
{
	size_t n = q->rx_left < len ? q->rx_left : len;

	if (q->rx_req)
		iov_store(q->rx_req, q->rx_off, buf, n);
	else if (q->rx_off + n <= sizeof(q->rx_term))
		memcpy(q->rx_term + q->rx_off, buf, n);
	if (q->rx_fr.has_ddgst)
		q->rx_crc = fq_crc32c_update(q->rx_crc, buf, n);
	rx_data_advance(q, (uint32_t)n);
	return n;
}

/*
 * A data digest error spoils this command only, not the stream (§3.6.1.1):
 * the command completes with Data Transfer Error.
 */
static size_t rx_ddgst(struct hq *q, const uint8_t *buf, size_t len)
{
	size_t n = FQ_TCP_DIGEST_LEN - q->rx_have;
	uint32_t got;

	if (n > len)
		n = len;
	memcpy(q->rx_ddgst + q->rx_have, buf, n);
	q->rx_have += (uint32_t)n;
	if (q->rx_have < FQ_TCP_DIGEST_LEN)
		return n;
	memcpy(&got, q->rx_ddgst, sizeof(got));
	if (got != fq_crc32c_final(q->rx_crc) && q->rx_req)
		q->rx_req->local_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_DATA_XFER_ERROR);
	rx_data_done(q);
	return n;
}

void hq_rx_direct(struct hq *q, uint32_t len)
{
	uint32_t left = len;

	if (q->rx_fr.has_ddgst)
		for (int i = 0; left && i < FQ_MAX_IOVS; i++) {
			size_t n = q->rx_iov[i].iov_len < left ? q->rx_iov[i].iov_len : left;

			q->rx_crc = fq_crc32c_update(q->rx_crc, q->rx_iov[i].iov_base, n);
			left -= (uint32_t)n;
		}
	rx_data_advance(q, len);
}

int hq_rx_feed(struct hq *q, const uint8_t *buf, size_t len)
{
	while (len) {
		size_t n = 0;
		int rc = 0;

		if (q->state == HQ_CLOSING || q->state == HQ_CLOSED || q->rx_state == RX_ERROR)
			return -EPROTO;
		switch (q->rx_state) {
		case RX_CH:
			n = rx_collect(q, buf, len, sizeof(struct fq_tcp_ch));
			if (q->rx_have == sizeof(struct fq_tcp_ch))
				rc = rx_ch(q);
			break;
		case RX_HDR:
			n = rx_collect(q, buf, len, q->rx_fr.hdr_len);
			if (q->rx_have == q->rx_fr.hdr_len)
				rc = rx_header_done(q);
			break;
		case RX_DATA:
			n = rx_data(q, buf, len);
			break;
		case RX_DDGST:
			n = rx_ddgst(q, buf, len);
			break;
		case RX_ERROR:
			return -EPROTO;
		}
		if (rc)
			return rc;
		buf += n;
		len -= n;
	}
	return 0;
}
