/* SPDX-License-Identifier: MIT */
/*
 * Transmit side of a host queue: builds CapsuleCmd, H2CData, ICReq and
 * H2CTermReq PDUs as iovecs that point at the caller's data buffers (no
 * copy), and keeps them on one FIFO that the socket layer drains with
 * vectored sends. A request has at most one PDU on the FIFO at a time.
 */
#include "hq.h"

#include <string.h>

void hq_tx_push(struct hq *q, struct hq_pdu *pdu)
{
	pdu->next = NULL;
	pdu->sent = 0;
	if (q->tx_tail)
		q->tx_tail->next = pdu;
	else
		q->tx_head = pdu;
	q->tx_tail = pdu;
	if (pdu->req)
		pdu->req->tx_queued = true;
}

/* Header (+HDGST), data iovecs (+DDGST): fills pdu->iov and pdu->len. */
static void pdu_layout(struct hq *q, struct hreq *r, uint32_t hdr_bytes, uint32_t off,
		       uint32_t dlen)
{
	struct hq_pdu *pdu = &r->pdu;

	pdu->iovcnt = fq_tcp_tx_iov(pdu->iov, &r->hdr, hdr_bytes, r->iov, r->iovcnt, off, dlen,
				    q->ddgst ? &r->ddgst : NULL, false);
	pdu->len = fq_tcp_hdr_plen(&r->hdr);
}

static struct fq_tcp_dgst queue_dgst(const struct hq *q)
{
	return (struct fq_tcp_dgst){.hdgst = q->hdgst, .ddgst = q->ddgst};
}

/* CapsuleCmd, NVMe/TCP 1.0 §3.6.2.4: the SQE plus any in-capsule data. */
void hq_tx_cmd(struct hq *q, struct hreq *r)
{
	uint32_t dlen = r->inline_data ? r->len : 0;

	pdu_layout(q, r, fq_tcp_build_cmd(&r->hdr.cmd, &r->sqe, queue_dgst(q), dlen), 0, dlen);
	if (dlen)
		r->h2c_done = dlen;
	hq_tx_push(q, &r->pdu);
}

/*
 * Next H2CData PDU of the current R2T (§3.6.2.6): at most MAXH2CDATA bytes,
 * TTAG echoed, LAST set on the PDU that ends the R2T's range.
 */
void hq_tx_next_h2c(struct hreq *r)
{
	struct hq *q = r->q;
	uint32_t n, hb;

	if (r->tx_queued || !r->r2t_active || q->state != HQ_LIVE)
		return;
	n = r->h2c_end - r->h2c_off;
	if (n > q->maxh2cdata)
		n = q->maxh2cdata;
	hb = fq_tcp_build_h2c(&r->hdr.small, r->sqe.cid, r->ttag, r->h2c_off, n,
			      r->h2c_off + n == r->h2c_end, queue_dgst(q));
	pdu_layout(q, r, hb, r->h2c_off, n);
	r->h2c_off += n;
	if (r->h2c_off > r->h2c_done)
		r->h2c_done = r->h2c_off;
	if (r->h2c_off == r->h2c_end)
		r->r2t_active = false;
	hq_tx_push(q, &r->pdu);
}

/*
 * ICReq, §3.6.2.2: PFV 0, HPDA 0 (data right after the header), MAXR2T 0
 * (one R2T per command at a time), and the digests we want.
 */
void hq_tx_icreq(struct hq *q)
{
	uint32_t n = fq_tcp_build_icreq(&q->ctl_hdr.icreq, q->p.hdgst, q->p.ddgst, 0, 0);

	q->ctl.iov[0].iov_base = &q->ctl_hdr.icreq;
	q->ctl.iov[0].iov_len = n;
	q->ctl.iovcnt = 1;
	q->ctl.len = n;
	q->ctl.req = NULL;
	hq_tx_push(q, &q->ctl);
}

/* H2CTermReq, §3.6.2.3: FES, FEI and the offending header as data. */
void hq_tx_term(struct hq *q, uint16_t fes, uint32_t fei, const void *hdr, uint32_t hlen)
{
	uint32_t n;

	if (hlen > sizeof(q->ctl_data))
		hlen = sizeof(q->ctl_data);
	memcpy(q->ctl_data, hdr, hlen);
	n = fq_tcp_build_term(&q->ctl_hdr.term, false, fes, fei, hlen);
	q->ctl.iov[0].iov_base = &q->ctl_hdr.term;
	q->ctl.iov[0].iov_len = n;
	q->ctl.iov[1].iov_base = q->ctl_data;
	q->ctl.iov[1].iov_len = hlen;
	q->ctl.iovcnt = hlen ? 2 : 1;
	q->ctl.len = fq_tcp_hdr_plen(&q->ctl_hdr.term);
	q->ctl.req = NULL;
	hq_tx_push(q, &q->ctl);
}

int hq_tx_gather(struct hq *q, struct iovec *iov, int max)
{
	int n = 0;

	for (struct hq_pdu *p = q->tx_head; p && n < max; p = p->next) {
		uint32_t skip = p->sent;

		for (int i = 0; i < p->iovcnt && n < max; i++) {
			size_t l = p->iov[i].iov_len;

			if (skip >= l) {
				skip -= (uint32_t)l;
				continue;
			}
			iov[n].iov_base = (uint8_t *)p->iov[i].iov_base + skip;
			iov[n].iov_len = l - skip;
			skip = 0;
			n++;
		}
	}
	return n;
}

/* A PDU left the host completely: continue its request. */
static void pdu_done(struct hq *q, struct hq_pdu *p)
{
	struct hreq *r = p->req;

	(void)q;
	if (!r)
		return;
	r->tx_queued = false;
	if (r->r2t_active)
		hq_tx_next_h2c(r);
	hq_req_try_release(r);
}

void hq_tx_advance(struct hq *q, size_t n)
{
	while (n && q->tx_head) {
		struct hq_pdu *p = q->tx_head;
		size_t left = p->len - p->sent;

		if (n < left) {
			p->sent += (uint32_t)n;
			return;
		}
		n -= left;
		p->sent = p->len;
		q->tx_head = p->next;
		if (!q->tx_head)
			q->tx_tail = NULL;
		pdu_done(q, p);
	}
}

void hq_tx_drop_unstarted(struct hq *q)
{
	struct hq_pdu **pp = &q->tx_head, *p;

	q->tx_tail = NULL;
	while ((p = *pp)) {
		if (p->sent == 0 && p->req) {
			*pp = p->next;
			p->req->tx_queued = false;
			p->req->r2t_active = false;
			hq_req_try_release(p->req);
			continue;
		}
		q->tx_tail = p;
		pp = &p->next;
	}
}

void hq_tx_abandon(struct hq *q)
{
	struct hq_pdu *p = q->tx_head;

	q->tx_head = q->tx_tail = NULL;
	while (p) {
		struct hq_pdu *next = p->next;

		/* Over a fake transport the test reads the H2CTermReq afterwards. */
		if (!p->req && !q->eng)
			hq_tx_push(q, p);
		if (p->req) {
			p->req->tx_queued = false;
			p->req->r2t_active = false;
			hq_req_try_release(p->req);
		}
		p = next;
	}
}
