/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP receive framer (NVMe/TCP 1.0 §3.6.1: CH, PSH, HDGST, PAD,
 * DATA, DDGST). Every state keeps what it needs to resume, so a PDU may be
 * split anywhere across feeds. Header checks are the pure ones of
 * tcp_decode.c; only the framing lives here.
 */
#include "tcp_rx.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "crc32c.h"

void fq_tcp_rx_init(struct fq_tcp_rx *rx, const struct fq_tcp_rx_ctx *ctx,
		    const struct fq_tcp_rx_ops *ops, void *arg)
{
	memset(rx, 0, sizeof(*rx));
	rx->ctx = *ctx;
	rx->ops = ops;
	rx->arg = arg;
	fq_tcp_rx_reset(rx);
}

void fq_tcp_rx_reset(struct fq_tcp_rx *rx)
{
	rx->state = FQ_TCP_RX_CH;
	rx->have = 0;
	rx->left = 0;
	rx->discard = true;
	rx->dst = NULL;
	rx->dst_cnt = 0;
	rx->fr.hlen = 0;
	rx->pause = false;
}

void fq_tcp_rx_set_dst(struct fq_tcp_rx *rx, const struct iovec *iov, int iovcnt, uint32_t off)
{
	rx->dst = iov;
	rx->dst_cnt = iovcnt;
	rx->dst_off = off;
	rx->discard = false;
}

void fq_tcp_rx_set_buf(struct fq_tcp_rx *rx, void *buf)
{
	rx->flat.iov_base = buf;
	rx->flat.iov_len = rx->fr.data_len;
	fq_tcp_rx_set_dst(rx, &rx->flat, 1, 0);
}

void fq_tcp_iov_store(const struct iovec *iov, int cnt, uint32_t off, const uint8_t *src,
		      size_t len)
{
	for (int i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *d;

		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		d = (uint8_t *)iov[i].iov_base + off;
		if (d != src) /* equal when the data is used in place */
			memcpy(d, src, l);
		src += l;
		len -= l;
		off = 0;
	}
}

int fq_tcp_iov_slice(const struct iovec *src, int cnt, uint32_t off, uint32_t len,
		     struct iovec *dst, int max)
{
	int n = 0;

	for (int i = 0; i < cnt && len && n < max; i++) {
		size_t l = src[i].iov_len;

		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		dst[n].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[n].iov_len = l;
		n++;
		len -= (uint32_t)l;
		off = 0;
	}
	return n;
}

static int fail(struct fq_tcp_rx *rx, const struct fq_tcp_err *err)
{
	rx->state = FQ_TCP_RX_FAILED;
	if (rx->ops->error)
		rx->ops->error(rx->arg, err, rx->hdr, fq_tcp_rx_hdr_len(rx));
	return -EPROTO;
}

/* A callback asked to stop: nothing more is parsed. */
static int stopped(struct fq_tcp_rx *rx, int rc)
{
	if (rc)
		rx->state = FQ_TCP_RX_FAILED;
	return rc;
}

static size_t collect(struct fq_tcp_rx *rx, uint8_t *to, const uint8_t *buf, size_t len,
		      uint32_t want)
{
	size_t n = want - rx->have;

	if (n > len)
		n = len;
	memcpy(to + rx->have, buf, n);
	rx->have += (uint32_t)n;
	return n;
}

static int pdu_done(struct fq_tcp_rx *rx, bool ok)
{
	rx->state = FQ_TCP_RX_CH;
	rx->have = 0;
	return stopped(rx, rx->ops->data_done ? rx->ops->data_done(rx->arg, rx, ok) : 0);
}

/* The last data byte is in: the digest follows, or the PDU is done. */
static int data_end(struct fq_tcp_rx *rx)
{
	if (rx->fr.has_ddgst) {
		rx->state = FQ_TCP_RX_DDGST;
		rx->have = 0;
		return 0;
	}
	return pdu_done(rx, true);
}

static int header_done(struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct fq_tcp_err err;
	int rc;

	if (rx->fr.has_hdgst && fq_tcp_check_hdgst(rx->hdr, rx->fr.hlen, &err))
		return fail(rx, &err);
	rx->discard = true;
	rx->dst = NULL;
	rx->dst_cnt = 0;
	rx->crc = FQ_CRC32C_SEED;
	rx->have = 0;
	rx->state = FQ_TCP_RX_CH;
	rc = rx->ops->header(rx->arg, rx, rest, rest_len);
	if (rc)
		return stopped(rx, rc);
	if (rx->fr.data_len == 0)
		return 0;
	if (rx->fr.pad_len) {
		rx->state = FQ_TCP_RX_PAD;
		rx->left = rx->fr.pad_len;
	} else {
		rx->state = FQ_TCP_RX_DATA;
		rx->left = rx->fr.data_len;
	}
	return 0;
}

static int feed_ch(struct fq_tcp_rx *rx)
{
	struct fq_tcp_err err;

	if (fq_tcp_decode_ch((const struct fq_tcp_ch *)rx->hdr, &rx->ctx, &rx->fr, &err)) {
		rx->fr.hlen = 0; /* only the common header is there to echo */
		return fail(rx, &err);
	}
	rx->state = FQ_TCP_RX_HDR;
	return 0;
}

static int data_bytes(struct fq_tcp_rx *rx, const uint8_t *buf, uint32_t n)
{
	if (!rx->discard) {
		fq_tcp_iov_store(rx->dst, rx->dst_cnt, rx->dst_off, buf, n);
		if (rx->fr.has_ddgst)
			rx->crc = fq_crc32c_update(rx->crc, buf, n);
		rx->dst_off += n;
	}
	rx->left -= n;
	return rx->left ? 0 : data_end(rx);
}

static int feed(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len, bool may_pause, size_t *used)
{
	const uint8_t *start = buf;

	*used = 0;
	while (len) {
		size_t n;
		uint32_t got;
		int rc = 0;

		switch (rx->state) {
		case FQ_TCP_RX_CH:
			n = collect(rx, rx->hdr, buf, len, sizeof(struct fq_tcp_ch));
			if (rx->have == sizeof(struct fq_tcp_ch))
				rc = feed_ch(rx);
			break;
		case FQ_TCP_RX_HDR:
			n = collect(rx, rx->hdr, buf, len, rx->fr.hdr_len);
			if (rx->have == rx->fr.hdr_len)
				rc = header_done(rx, buf + n, len - n);
			break;
		case FQ_TCP_RX_PAD:
			n = len < rx->left ? len : rx->left;
			rx->left -= (uint32_t)n;
			if (!rx->left) {
				rx->state = FQ_TCP_RX_DATA;
				rx->left = rx->fr.data_len;
			}
			break;
		case FQ_TCP_RX_DATA:
			n = len < rx->left ? len : rx->left;
			rc = data_bytes(rx, buf, (uint32_t)n);
			break;
		case FQ_TCP_RX_DDGST:
			n = collect(rx, rx->ddgst, buf, len, FQ_TCP_DIGEST_LEN);
			if (rx->have == FQ_TCP_DIGEST_LEN) {
				memcpy(&got, rx->ddgst, sizeof(got));
				rc = pdu_done(rx, rx->discard || got == fq_crc32c_final(rx->crc));
			}
			break;
		default:
			return -EPROTO;
		}
		if (rc) {
			*used = (size_t)(buf - start) + n;
			return rc;
		}
		buf += n;
		len -= n;
		/* At a PDU boundary the role may ask for the rest later. */
		if (may_pause && rx->pause && rx->state == FQ_TCP_RX_CH && !rx->have)
			break;
	}
	rx->pause = false;
	*used = (size_t)(buf - start);
	return 0;
}

int fq_tcp_rx_feed(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len)
{
	size_t used;

	return feed(rx, buf, len, false, &used);
}

int fq_tcp_rx_feed_some(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len, size_t *used)
{
	return feed(rx, buf, len, true, used);
}

int fq_tcp_rx_dst_iov(const struct fq_tcp_rx *rx, struct iovec *out, int max)
{
	uint32_t left = fq_tcp_rx_data_left(rx);

	if (!left)
		return 0;
	return fq_tcp_iov_slice(rx->dst, rx->dst_cnt, rx->dst_off, left, out, max);
}

int fq_tcp_rx_direct_done(struct fq_tcp_rx *rx, uint32_t n)
{
	if (!n)
		return 0;
	if (rx->state != FQ_TCP_RX_DATA || rx->discard || n > rx->left)
		return -EINVAL;
	if (rx->fr.has_ddgst) {
		struct iovec v[16];
		uint32_t off = rx->dst_off, todo = n;

		/* In batches: the destination may have more segments than v. */
		while (todo) {
			int cnt = fq_tcp_iov_slice(rx->dst, rx->dst_cnt, off, todo, v, 16);

			if (!cnt)
				break;
			for (int i = 0; i < cnt; i++) {
				rx->crc = fq_crc32c_update(rx->crc, v[i].iov_base, v[i].iov_len);
				off += (uint32_t)v[i].iov_len;
				todo -= (uint32_t)v[i].iov_len;
			}
		}
	}
	rx->dst_off += n;
	rx->left -= n;
	return rx->left ? 0 : data_end(rx);
}

/* ---- typed views -------------------------------------------------------- */

static_assert(offsetof(struct fq_tcp_data, cccid) == FQ_TCP_FEI_CCCID, "FEI of CCCID");
static_assert(offsetof(struct fq_tcp_r2t, cccid) == FQ_TCP_FEI_CCCID, "FEI of R2T CCCID");
static_assert(offsetof(struct fq_tcp_data, ttag) == FQ_TCP_FEI_TTAG, "FEI of TTAG");
static_assert(offsetof(struct fq_tcp_r2t, r2to) == FQ_TCP_FEI_R2TO, "FEI of R2TO");
static_assert(offsetof(struct fq_tcp_r2t, r2tl) == FQ_TCP_FEI_R2TL, "FEI of R2TL");
static_assert(offsetof(struct fq_tcp_rsp, cqe.cid) == FQ_TCP_FEI_RSP_CID, "FEI of CQE CID");
static_assert(offsetof(struct fq_tcp_ch, flags) == FQ_TCP_FEI_FLAGS, "FEI of FLAGS");

enum fq_tcp_pdu_kind fq_tcp_rx_kind(const struct fq_tcp_rx *rx)
{
	switch (rx->fr.type) {
	case FQ_TCP_ICREQ:
	case FQ_TCP_ICRESP:
		return FQ_TCP_KIND_IC;
	case FQ_TCP_H2C_TERM:
	case FQ_TCP_C2H_TERM:
		return FQ_TCP_KIND_TERM;
	case FQ_TCP_CAPSULE_CMD:
		return FQ_TCP_KIND_CMD;
	case FQ_TCP_CAPSULE_RESP:
		return FQ_TCP_KIND_RSP;
	case FQ_TCP_H2C_DATA:
	case FQ_TCP_C2H_DATA:
		return FQ_TCP_KIND_DATA;
	case FQ_TCP_R2T:
		return FQ_TCP_KIND_R2T;
	default:
		return FQ_TCP_KIND_OTHER;
	}
}

const struct fq_sqe *fq_tcp_rx_sqe(const struct fq_tcp_rx *rx)
{
	return &((const struct fq_tcp_cmd *)rx->hdr)->sqe;
}

const struct fq_cqe *fq_tcp_rx_cqe(const struct fq_tcp_rx *rx)
{
	return &((const struct fq_tcp_rsp *)rx->hdr)->cqe;
}

void fq_tcp_rx_data_hdr(const struct fq_tcp_rx *rx, struct fq_tcp_data_hdr *d)
{
	const struct fq_tcp_data *h = (const struct fq_tcp_data *)rx->hdr;

	d->cccid = h->cccid;
	d->ttag = h->ttag;
	d->datao = h->datao;
	d->datal = h->datal;
	d->last = h->ch.flags & FQ_TCP_F_DATA_LAST;
	d->success = h->ch.flags & FQ_TCP_F_DATA_SUCCESS;
}

void fq_tcp_rx_r2t_hdr(const struct fq_tcp_rx *rx, struct fq_tcp_r2t_hdr *r)
{
	const struct fq_tcp_r2t *h = (const struct fq_tcp_r2t *)rx->hdr;

	r->cccid = h->cccid;
	r->ttag = h->ttag;
	r->r2to = h->r2to;
	r->r2tl = h->r2tl;
}

void fq_tcp_rx_term(const struct fq_tcp_rx *rx, uint16_t *fes, uint32_t *fei)
{
	const struct fq_tcp_term *t = (const struct fq_tcp_term *)rx->hdr;

	*fes = t->fes;
	*fei = fq_tcp_term_fei(t);
}

int fq_tcp_rx_check_data_range(const struct fq_tcp_rx *rx, uint32_t expected_off, uint32_t xfer_end,
			       struct fq_tcp_err *err)
{
	return fq_tcp_check_data_range((const struct fq_tcp_data *)rx->hdr, expected_off, xfer_end,
				       err);
}

int fq_tcp_rx_check_icreq(const struct fq_tcp_rx *rx, struct fq_tcp_dgst *dg,
			  struct fq_tcp_err *err)
{
	const struct fq_tcp_icreq *req = (const struct fq_tcp_icreq *)rx->hdr;
	int rc = fq_tcp_check_icreq(req, err);

	if (rc)
		return rc;
	dg->hdgst = req->dgst & FQ_TCP_DGST_HDR;
	dg->ddgst = req->dgst & FQ_TCP_DGST_DATA;
	return 0;
}

int fq_tcp_rx_check_icresp(const struct fq_tcp_rx *rx, struct fq_tcp_dgst want,
			   uint32_t *maxh2cdata, struct fq_tcp_err *err)
{
	const struct fq_tcp_icresp *rsp = (const struct fq_tcp_icresp *)rx->hdr;
	int rc = fq_tcp_check_icresp(rsp, fq_tcp_dgst_bits(want.hdgst, want.ddgst), err);

	if (rc)
		return rc;
	*maxh2cdata = rsp->maxh2cdata;
	return 0;
}
