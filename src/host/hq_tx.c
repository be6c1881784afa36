/* SPDX-License-Identifier: MIT */
/*
 * Transmit side of a host queue: a command, then the host data an R2T asks
 * for, each as a unit on the connection's send queue pointing at the
 * caller's buffers (no copy). A request has at most one unit queued at a
 * time; when it has left, the next H2CData of the current R2T follows.
 */
#include "hq.h"

#include <string.h>

/* The request's unit left the host (or was dropped): continue the request. */
static void unit_done(struct fq_tcp_unit *u)
{
	struct hreq *r = (struct hreq *)((char *)u - offsetof(struct hreq, unit));

	r->tx_queued = false;
	if (!fq_tcp_unit_sent(u))
		r->r2t_active = false; /* dropped: the queue is closing */
	if (r->r2t_active)
		hq_tx_next_h2c(r);
	hq_req_try_release(r);
}

static void unit_prepare(struct hreq *r)
{
	fq_tcp_unit_init(&r->unit, r->unit_iov, HQ_PDU_IOVS, unit_done);
	r->tx_queued = true;
}

/* A command with its in-capsule data, if any (NVMe/TCP 1.0 §3.6.2.4). */
void hq_tx_cmd(struct hq *q, struct hreq *r)
{
	uint32_t dlen = r->inline_data ? r->len : 0;

	unit_prepare(r);
	if (dlen)
		r->h2c_done = dlen;
	/*
	 * Early sends keep the target from idling while this side works
	 * through a batch of completions; when it already holds
	 * HQ_EAGER_BACKLOG commands it has work until the turn's end, and a
	 * send per HQ_EAGER_SEND commands would only cost system calls and
	 * wake-ups. 16 rather than 32: at QD32 the host spent 1.1-1.5x the CPU
	 * per command of a host without early sends, and with 16 the same as
	 * it (bench/ab_cost.sh, docs/performance.md).
	 */
	q->conn.eager_hold =
		(int64_t)q->outstanding - 1 - (int64_t)q->conn.tx_unposted >= HQ_EAGER_BACKLOG;
	fq_tcp_conn_send_cmd(&q->conn, &r->unit, &r->sqe, r->iov, r->iovcnt, dlen);
}

/*
 * Next piece of host data for the current R2T: at most MAXH2CDATA bytes,
 * the tag echoed, LAST on the piece that ends the R2T's range.
 */
void hq_tx_next_h2c(struct hreq *r)
{
	struct hq *q = r->q;
	uint32_t n, max = fq_tcp_conn_params(&q->conn)->maxh2cdata;
	bool last;

	if (r->tx_queued || !r->r2t_active || q->state != HQ_LIVE)
		return;
	n = r->h2c_end - r->h2c_off;
	if (n > max)
		n = max;
	last = r->h2c_off + n == r->h2c_end;
	unit_prepare(r);
	fq_tcp_conn_send_h2c(&q->conn, &r->unit, r->sqe.cid, r->ttag, r->iov, r->iovcnt, r->h2c_off,
			     n, last);
	r->h2c_off += n;
	if (r->h2c_off > r->h2c_done)
		r->h2c_done = r->h2c_off;
	if (last)
		r->r2t_active = false;
}

int hq_tx_gather(struct hq *q, struct iovec *iov, int max)
{
	return fq_tcp_conn_gather(&q->conn, iov, max);
}

void hq_tx_advance(struct hq *q, size_t n)
{
	fq_tcp_conn_advance(&q->conn, n);
}
