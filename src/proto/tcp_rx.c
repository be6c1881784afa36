/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP receive framer (NVMe/TCP 1.0 §3.6.1: CH, PSH, HDGST, PAD,
 * DATA, DDGST). Every state keeps what it needs to resume, so a PDU may be
 * split anywhere across feeds. Header checks are the pure ones of
 * tcp_decode.c; only the framing lives here.
 */
#include "tcp_rx.h"

#include <errno.h>
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

int fq_tcp_rx_feed(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len)
{
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
		if (rc)
			return rc;
		buf += n;
		len -= n;
	}
	return 0;
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
