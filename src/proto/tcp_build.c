/* SPDX-License-Identifier: MIT */
/*
 * PDU builders, NVMe/TCP 1.0 §3.6.2. Reserved fields are zeroed on every
 * build (§3.6.1: senders clear reserved fields), and the common header is
 * derived in one place (fq_tcp_ch_init) so PDO/PLEN/flags always agree.
 */
#include "tcp_build.h"

#include <string.h>

#include "crc32c.h"
#include "tcp_decode.h"
#include "tcp_rx.h"

uint8_t fq_tcp_dgst_bits(bool hdgst, bool ddgst)
{
	return (hdgst ? FQ_TCP_DGST_HDR : 0) | (ddgst ? FQ_TCP_DGST_DATA : 0);
}

/* Append the header digest after @hlen bytes; returns the bytes to send. */
static uint32_t seal(void *hdr, uint32_t hlen, bool hdgst)
{
	uint32_t crc;

	if (!hdgst)
		return hlen;
	crc = fq_crc32c(hdr, hlen);
	memcpy((uint8_t *)hdr + hlen, &crc, sizeof(crc));
	return hlen + FQ_TCP_DIGEST_LEN;
}

uint32_t fq_tcp_build_icreq(struct fq_tcp_hbuf_ic *h, bool hdgst, bool ddgst, uint8_t hpda,
			    uint32_t maxr2t)
{
	struct fq_tcp_icreq *ic = (struct fq_tcp_icreq *)h->b;

	memset(ic, 0, sizeof(*ic));
	/* IC PDUs never carry digests, whatever they negotiate (§3.6.2.2). */
	fq_tcp_ch_init(&ic->ch, FQ_TCP_ICREQ, sizeof(*ic), false, false, 0);
	ic->pfv = 0;
	ic->hpda = hpda;
	ic->dgst = fq_tcp_dgst_bits(hdgst, ddgst);
	ic->maxr2t = maxr2t;
	return sizeof(*ic);
}

uint32_t fq_tcp_build_icresp(struct fq_tcp_hbuf_ic *h, struct fq_tcp_dgst dg, uint8_t cpda,
			     uint32_t maxh2cdata)
{
	struct fq_tcp_icresp *ic = (struct fq_tcp_icresp *)h->b;

	memset(ic, 0, sizeof(*ic));
	fq_tcp_ch_init(&ic->ch, FQ_TCP_ICRESP, sizeof(*ic), false, false, 0);
	ic->pfv = 0;
	ic->cpda = cpda;
	ic->dgst = fq_tcp_dgst_bits(dg.hdgst, dg.ddgst);
	ic->maxh2cdata = maxh2cdata;
	return sizeof(*ic);
}

uint32_t fq_tcp_build_cmd(struct fq_tcp_hbuf_cmd *h, const struct fq_sqe *sqe,
			  struct fq_tcp_dgst dg, uint32_t dlen)
{
	struct fq_tcp_cmd *cmd = (struct fq_tcp_cmd *)h->b;

	fq_tcp_ch_init(&cmd->ch, FQ_TCP_CAPSULE_CMD, sizeof(*cmd), dg.hdgst, dg.ddgst, dlen);
	cmd->sqe = *sqe;
	return seal(cmd, sizeof(*cmd), dg.hdgst);
}

uint32_t fq_tcp_build_rsp(struct fq_tcp_hbuf_small *h, const struct fq_cqe *cqe,
			  struct fq_tcp_dgst dg)
{
	struct fq_tcp_rsp *rsp = (struct fq_tcp_rsp *)h->b;

	fq_tcp_ch_init(&rsp->ch, FQ_TCP_CAPSULE_RESP, sizeof(*rsp), dg.hdgst, false, 0);
	rsp->cqe = *cqe;
	return seal(rsp, sizeof(*rsp), dg.hdgst);
}

static uint32_t build_data(struct fq_tcp_hbuf_small *h, uint8_t type, uint16_t cccid, uint16_t ttag,
			   uint32_t datao, uint32_t datal, uint8_t flags, struct fq_tcp_dgst dg)
{
	struct fq_tcp_data *d = (struct fq_tcp_data *)h->b;

	fq_tcp_ch_init(&d->ch, type, sizeof(*d), dg.hdgst, dg.ddgst, datal);
	d->ch.flags |= flags;
	d->cccid = cccid;
	d->ttag = ttag;
	d->datao = datao;
	d->datal = datal;
	memset(d->rsvd20, 0, sizeof(d->rsvd20));
	return seal(d, sizeof(*d), dg.hdgst);
}

uint32_t fq_tcp_build_h2c(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint16_t ttag,
			  uint32_t datao, uint32_t datal, bool last, struct fq_tcp_dgst dg)
{
	return build_data(h, FQ_TCP_H2C_DATA, cccid, ttag, datao, datal,
			  last ? FQ_TCP_F_DATA_LAST : 0, dg);
}

uint32_t fq_tcp_build_c2h(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint32_t datao,
			  uint32_t datal, bool last, bool success, struct fq_tcp_dgst dg)
{
	uint8_t flags = (last ? FQ_TCP_F_DATA_LAST : 0) | (success ? FQ_TCP_F_DATA_SUCCESS : 0);

	/* TTAG is reserved in C2HData (§3.6.2.7). */
	return build_data(h, FQ_TCP_C2H_DATA, cccid, 0, datao, datal, flags, dg);
}

uint32_t fq_tcp_build_r2t(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint16_t ttag, uint32_t r2to,
			  uint32_t r2tl, struct fq_tcp_dgst dg)
{
	struct fq_tcp_r2t *r = (struct fq_tcp_r2t *)h->b;

	fq_tcp_ch_init(&r->ch, FQ_TCP_R2T, sizeof(*r), dg.hdgst, false, 0);
	r->cccid = cccid;
	r->ttag = ttag;
	r->r2to = r2to;
	r->r2tl = r2tl;
	memset(r->rsvd20, 0, sizeof(r->rsvd20));
	return seal(r, sizeof(*r), dg.hdgst);
}

uint32_t fq_tcp_build_term(struct fq_tcp_hbuf_small *h, bool to_host, uint16_t fes, uint32_t fei,
			   uint32_t dlen)
{
	struct fq_tcp_term *t = (struct fq_tcp_term *)h->b;

	if (dlen > FQ_TCP_TERM_MAX_DATA)
		dlen = FQ_TCP_TERM_MAX_DATA;
	/* TermReq PDUs carry no digests (§3.6.2.3). */
	fq_tcp_term_init(t, to_host, fes, fei, dlen);
	return sizeof(*t);
}

uint32_t fq_tcp_hdr_plen(const void *hdr)
{
	return ((const struct fq_tcp_ch *)hdr)->plen;
}

int fq_tcp_tx_iov(struct iovec *out, const void *hdr, uint32_t hdr_bytes, const struct iovec *data,
		  int datacnt, uint32_t off, uint32_t len, uint32_t *ddgst, bool cold)
{
	int n;

	out[0].iov_base = (void *)hdr;
	out[0].iov_len = hdr_bytes;
	if (!len)
		return 1;
	n = 1 + fq_tcp_iov_slice(data, datacnt, off, len, &out[1], datacnt);
	if (ddgst) {
		if (n == 2)
			*ddgst = cold ? fq_crc32c_uncached(out[1].iov_base, out[1].iov_len)
				      : fq_crc32c(out[1].iov_base, out[1].iov_len);
		else
			*ddgst = fq_crc32c_iov(&out[1], n - 1);
		out[n].iov_base = ddgst;
		out[n].iov_len = FQ_TCP_DIGEST_LEN;
		n++;
	}
	return n;
}
