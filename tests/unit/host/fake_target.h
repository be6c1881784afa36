/* SPDX-License-Identifier: MIT */
/*
 * A fake transport for the host queue state machines: the test plays the
 * controller. It reads what the host queued for sending (hq_tx_gather /
 * hq_tx_advance) and feeds hand-built controller PDUs into hq_rx_feed() in
 * chunks of any size.
 */
#ifndef FQ_TEST_FAKE_TARGET_H
#define FQ_TEST_FAKE_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "host/hq.h"
#include "proto/crc32c.h"

struct fake_cpl_log {
	int n;
	struct fq_cpl cpl[16];
};

static inline void fake_cb(void *arg, const struct fq_cpl *cpl)
{
	struct fake_cpl_log *log = arg;

	if (log->n < 16)
		log->cpl[log->n] = *cpl;
	log->n++;
}

/* Take everything the host queued: copy up to @max bytes, mark them sent. */
static inline size_t fake_take(struct hq *q, uint8_t *buf, size_t max)
{
	struct iovec iov[HQ_SEND_IOVS];
	int n = hq_tx_gather(q, iov, HQ_SEND_IOVS);
	size_t got = 0;

	for (int i = 0; i < n && got < max; i++) {
		size_t l = iov[i].iov_len < max - got ? iov[i].iov_len : max - got;

		memcpy(buf + got, iov[i].iov_base, l);
		got += l;
	}
	hq_tx_advance(q, got);
	return got;
}

/* Feed @len bytes in pieces of @chunk bytes (1 = byte by byte). */
static inline int fake_feed(struct hq *q, const void *buf, size_t len, size_t chunk)
{
	const uint8_t *p = buf;
	int rc = 0;

	while (len && !rc) {
		size_t n = len < chunk ? len : chunk;

		rc = hq_rx_feed(q, p, n);
		p += n;
		len -= n;
	}
	return rc;
}

/* Build a controller PDU: header (+HDGST), data (+DDGST). Returns its length. */
static inline size_t fake_pdu(uint8_t *out, const void *hdr, uint8_t hlen, const void *data,
			      uint32_t dlen, uint8_t extra_flags, bool hdgst, bool ddgst)
{
	struct fq_tcp_ch *ch = (struct fq_tcp_ch *)out;
	size_t off = hlen;

	memcpy(out, hdr, hlen);
	fq_tcp_ch_init(ch, ch->type, hlen, hdgst, ddgst, dlen);
	ch->flags |= extra_flags;
	if (hdgst) {
		uint32_t crc = fq_crc32c(out, hlen);

		memcpy(out + off, &crc, 4);
		off += 4;
	}
	if (dlen) {
		memcpy(out + off, data, dlen);
		off += dlen;
		if (ddgst) {
			uint32_t crc = fq_crc32c(data, dlen);

			memcpy(out + off, &crc, 4);
			off += 4;
		}
	}
	return off;
}

static inline size_t fake_icresp(uint8_t *out, uint8_t dgst, uint32_t maxh2c)
{
	struct fq_tcp_icresp r;

	memset(&r, 0, sizeof(r));
	r.ch.type = FQ_TCP_ICRESP;
	r.dgst = dgst;
	r.maxh2cdata = maxh2c;
	return fake_pdu(out, &r, sizeof(r), NULL, 0, 0, false, false);
}

static inline size_t fake_rsp(uint8_t *out, uint16_t cid, uint16_t status, uint32_t dw0, bool hdgst)
{
	struct fq_tcp_rsp r;

	memset(&r, 0, sizeof(r));
	r.ch.type = FQ_TCP_CAPSULE_RESP;
	r.cqe.cid = cid;
	r.cqe.status = status;
	r.cqe.dw0 = dw0;
	return fake_pdu(out, &r, sizeof(r), NULL, 0, 0, hdgst, false);
}

static inline size_t fake_c2h(uint8_t *out, uint16_t cid, uint32_t off, const void *data,
			      uint32_t len, uint8_t flags, bool hdgst, bool ddgst)
{
	struct fq_tcp_data d;

	memset(&d, 0, sizeof(d));
	d.ch.type = FQ_TCP_C2H_DATA;
	d.cccid = cid;
	d.datao = off;
	d.datal = len;
	return fake_pdu(out, &d, sizeof(d), data, len, flags, hdgst, ddgst);
}

static inline size_t fake_r2t(uint8_t *out, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len)
{
	struct fq_tcp_r2t t;

	memset(&t, 0, sizeof(t));
	t.ch.type = FQ_TCP_R2T;
	t.cccid = cid;
	t.ttag = ttag;
	t.r2to = off;
	t.r2tl = len;
	return fake_pdu(out, &t, sizeof(t), NULL, 0, 0, false, false);
}

/*
 * Answer the ICReq and the Connect so the queue is LIVE (no digests).
 * @scratch receives the bytes the host sent.
 */
static inline int fake_make_live(struct hq *q, uint8_t *scratch, size_t cap, uint32_t maxh2c)
{
	uint8_t in[256];
	const struct fq_tcp_cmd *cmd = (const struct fq_tcp_cmd *)scratch;
	size_t n;

	fake_take(q, scratch, cap);
	n = fake_icresp(in, 0, maxh2c);
	if (fake_feed(q, in, n, n))
		return -1;
	fake_take(q, scratch, cap);
	n = fake_rsp(in, cmd->sqe.cid, 0, q->p.cntlid, false);
	if (fake_feed(q, in, n, n))
		return -1;
	return q->state == HQ_LIVE ? 0 : -1;
}

#endif
