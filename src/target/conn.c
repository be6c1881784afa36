/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/TCP connection at the target: the receive state machine (common
 * header -> rest of header -> data -> data digest), the transmit queue
 * (every PDU of a loop turn leaves in one vectored send) and the transport
 * ops the core sends through (xprt.h). The request lifecycle is the core's
 * (req.c). NVMe/TCP 1.0 §3.3 (connection), §3.6 (PDUs), §3.5 (transfers).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/tgt.h"
#include "util/log.h"

#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))

static void post_recv(struct fq_queue *q);
static void rx_continue(struct fq_queue *q);
static void rx_resume_all(struct fq_reactor *r);
static void rx_init(struct fq_queue *q, const struct fq_target_conf *conf);
static void queue_destroy(struct fq_queue *q);
void fq_queue_maybe_destroy(struct fq_queue *q);

/* ---- transmit ---------------------------------------------------------- */

static void tx_queue(struct fq_queue *q, struct fq_tx *tx)
{
	tx->next = NULL;
	if (q->tx_tail)
		q->tx_tail->next = tx;
	else
		q->tx_head = tx;
	q->tx_tail = tx;
	if (!q->tx_dirty) {
		q->tx_dirty = true;
		q->next_flush = q->r->flush_list;
		q->r->flush_list = q;
	}
}

static void on_send(struct fq_uop *op, int res, uint32_t flags);

static void tx_post(struct fq_queue *q)
{
	size_t skip = q->tx_off;
	int n = 0;

	if (q->tx_posted || !q->tx_head || q->fd < 0)
		return;
	for (struct fq_tx *tx = q->tx_head; tx && n < FQ_TGT_TX_IOV; tx = tx->next) {
		for (int i = 0; i < tx->iovcnt && n < FQ_TGT_TX_IOV; i++) {
			struct iovec v = tx->iov[i];

			if (skip >= v.iov_len) {
				skip -= v.iov_len;
				continue;
			}
			v.iov_base = (char *)v.iov_base + skip;
			v.iov_len -= skip;
			skip = 0;
			q->msg_iov[n++] = v;
		}
	}
	memset(&q->msg, 0, sizeof(q->msg));
	q->msg.msg_iov = q->msg_iov;
	q->msg.msg_iovlen = (size_t)n;
	q->tx_posted = true;
	q->ops++;
	fq_engine_sendmsg(&q->r->loop->eng, &q->tx_uop, q->fd, &q->msg, MSG_NOSIGNAL);
}

static size_t tx_len(const struct fq_tx *tx)
{
	size_t len = 0;

	for (int i = 0; i < tx->iovcnt; i++)
		len += tx->iov[i].iov_len;
	return len;
}

static void on_send(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_queue *q = container_of(op, struct fq_queue, tx_uop);
	bool failed = res < 0 && res != -EAGAIN && res != -EINTR;
	size_t sent = res > 0 ? (size_t)res : 0;

	(void)flags;
	/* The op reference is held until the end so callbacks cannot free q. */
	q->tx_posted = false;
	while (q->tx_head) {
		struct fq_tx *tx = q->tx_head;
		size_t len = tx_len(tx) - q->tx_off;

		if (sent < len) {
			q->tx_off += sent;
			break;
		}
		sent -= len;
		q->tx_off = 0;
		q->tx_head = tx->next;
		if (!q->tx_head)
			q->tx_tail = NULL;
		if (tx->done)
			tx->done(tx);
	}
	q->ops--;
	if (failed)
		fq_queue_close(q, "send failed");
	if (q->state == FQ_CONN_CLOSING && !q->closing_sent) {
		fq_queue_maybe_destroy(q);
		return;
	}
	if (q->tx_head)
		tx_post(q);
}

void fq_reactor_flush(struct fq_reactor *r)
{
	if (r->rx_resume)
		rx_resume_all(r);
	fq_req_wake_waiters(r);
	while (r->flush_list) {
		struct fq_queue *q = r->flush_list;

		r->flush_list = q->next_flush;
		q->tx_dirty = false;
		if (q->state != FQ_CONN_CLOSING || q->closing_sent)
			tx_post(q);
	}
}

static void tx_done_final(struct fq_tx *tx)
{
	fq_req_done(container_of(tx, struct fq_req, tx));
}

static void tx2_done_final(struct fq_tx *tx)
{
	fq_req_free(container_of(tx, struct fq_req, tx2));
}

static void tx_done_nop(struct fq_tx *tx)
{
	(void)tx;
}

static struct fq_tcp_dgst queue_dgst(const struct fq_queue *q)
{
	return (struct fq_tcp_dgst){.hdgst = q->hdgst, .ddgst = q->ddgst};
}

static void build_rsp(struct fq_req *req, struct fq_tcp_hbuf_small *h, struct fq_tx *tx)
{
	tx->iov[0].iov_base = h->b;
	tx->iov[0].iov_len = fq_tcp_build_rsp(h, &req->cqe, queue_dgst(req->q));
	tx->iovcnt = 1;
}

/* CapsuleResp (NVMe/TCP 1.0 §3.6.2.6); the request is released once it is sent. */
static void tcp_send_rsp(struct fq_req *req)
{
	build_rsp(req, &req->hdr, &req->tx);
	req->tx.done = tx_done_final;
	tx_queue(req->q, &req->tx);
}

/*
 * Send read data: one C2HData PDU with LAST. With SQ flow control disabled
 * the SUCCESS flag completes the command (NVMe/TCP 1.0 §3.6.2.7) and no
 * CapsuleResp follows; otherwise a CapsuleResp carrying SQHD follows in the
 * same send.
 */
static void tcp_send_data(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	uint32_t len = (uint32_t)req->data_iov.iov_len;
	uint32_t hbytes;

	hbytes = fq_tcp_build_c2h(&req->hdr, req->cmd.cid, 0, len, true, q->sqflow_disabled,
				  queue_dgst(q));
	/*
	 * Without a pooled buffer the data is the namespace's own memory
	 * (RAM), which a random read finds cold; a pooled buffer was just
	 * filled.
	 */
	req->tx.iovcnt = fq_tcp_tx_iov(req->tx.iov, req->hdr.b, hbytes, &req->data_iov, 1, 0, len,
				       q->ddgst ? &req->ddgst : NULL, !req->buf);
	if (q->sqflow_disabled) {
		req->tx.done = tx_done_final;
		tx_queue(q, &req->tx);
		return;
	}
	req->tx.done = tx_done_nop;
	tx_queue(q, &req->tx);
	build_rsp(req, &req->hdr2, &req->tx2);
	req->tx2.done = tx2_done_final;
	tx_queue(q, &req->tx2);
}

/* Ask for all write data at once: we advertise MAXR2T 0 handling (one R2T). */
static void send_r2t(struct fq_req *req)
{
	struct fq_queue *q = req->q;

	req->tx2.iov[0].iov_base = req->hdr2.b;
	req->tx2.iov[0].iov_len = fq_tcp_build_r2t(&req->hdr2, req->cmd.cid, req->ttag, 0,
						   req->xfer_len, queue_dgst(q));
	req->tx2.iovcnt = 1;
	req->tx2.done = tx_done_nop;
	tx_queue(q, &req->tx2);
}

/* The core's way out to NVMe/TCP (xprt.h). */
static const struct fq_xprt_ops tcp_xprt_ops = {
	.name = "tcp",
	.send_rsp = tcp_send_rsp,
	.send_data = tcp_send_data,
	.fetch_data = send_r2t,
	.close = fq_queue_close,
	.release = fq_queue_maybe_destroy,
};

/* ---- connection lifecycle ---------------------------------------------- */

static void on_recv(struct fq_uop *op, int res, uint32_t flags);

void fq_queue_start(struct fq_reactor *r, int fd, struct fq_port *port)
{
	struct fq_target_conf *conf = r->tgt->conf;
	struct fq_queue *q = calloc(1, sizeof(*q));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	if (!q || !(q->rxbuf = malloc(FQ_TGT_RXBUF))) {
		fq_err("out of memory accepting a connection");
		free(q);
		close(fd);
		atomic_fetch_sub(&r->tgt->nconns, 1);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	q->id = atomic_fetch_add(&r->tgt->next_queue_id, 1);
	q->xprt = &tcp_xprt_ops;
	q->r = r;
	q->port = port;
	q->fd = fd;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char host[INET6_ADDRSTRLEN] = "?";

		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
				  sizeof(host));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
				  sizeof(host));
		snprintf(q->peer, sizeof(q->peer), "%s:%u", host,
			 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, q->local,
				  sizeof(q->local));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, q->local,
				  sizeof(q->local));
	}
	q->state = FQ_CONN_IC_WAIT;
	q->rx_uop.done = on_recv;
	q->tx_uop.done = on_send;
	rx_init(q, conf);
	q->last_activity_ns = r->now_ns;
	q->next = r->queues;
	if (r->queues)
		r->queues->prev = q;
	r->queues = q;
	atomic_fetch_add(&r->nqueues, 1);
	fq_dbg("connection from %s on port %u (reactor %d)", q->peer, port->conf.port, r->idx);
	post_recv(q);
}

static void queue_destroy(struct fq_queue *q)
{
	struct fq_reactor *r = q->r;

	if (q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
	if (q->tx_dirty) {
		struct fq_queue **pp = &r->flush_list;

		while (*pp && *pp != q)
			pp = &(*pp)->next_flush;
		if (*pp)
			*pp = q->next_flush;
	}
	if (q->prev)
		q->prev->next = q->next;
	else
		r->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	atomic_fetch_sub(&r->nqueues, 1);
	atomic_fetch_sub(&r->tgt->nconns, 1);
	if (q->ctrl) {
		if (q->qid)
			fq_ctrl_del_ioq(q->ctrl, r->tgt, q->qid);
		fq_ctrl_put(q->ctrl);
	}
	free(q->reqs);
	free(q->rxbuf);
	free(q);
}

/*
 * Free the queue once it is shut and nothing refers to it: no engine
 * operation in flight and no request at a backend. Unsent transmissions are
 * dropped first (their requests are released by the done callbacks).
 */
void fq_queue_maybe_destroy(struct fq_queue *q)
{
	if (q->state != FQ_CONN_CLOSING || !q->shut || q->ops || q->in_drain)
		return;
	q->in_drain = true;
	while (q->tx_head) {
		struct fq_tx *tx = q->tx_head;

		q->tx_head = tx->next;
		if (tx->done)
			tx->done(tx);
	}
	q->tx_tail = NULL;
	q->in_drain = false;
	if (q->busy == 0)
		queue_destroy(q);
}

/*
 * Stop the connection: no more commands are taken; requests at a backend
 * finish and are dropped; the socket is shut down so pending receive and
 * send operations complete; the queue is freed when nothing refers to it.
 */
void fq_queue_close(struct fq_queue *q, const char *why)
{
	if (q->shut)
		return;
	q->state = FQ_CONN_CLOSING;
	q->shut = true;
	q->closing_sent = false;
	if (q->ctrl && q->qid == 0) {
		fq_info("controller %u (%s, host %s) disconnected from %s: %s", q->ctrl->cntlid,
			q->ctrl->subsys->nqn, q->ctrl->hostnqn, q->peer, why);
		fq_ctrl_kill(q->ctrl, why);
	} else if (q->ctrl) {
		fq_dbg("I/O queue %u of controller %u closed (%s): %s", q->qid, q->ctrl->cntlid,
		       q->peer, why);
	} else {
		fq_info("connection from %s closed: %s", q->peer, why);
	}
	fq_queue_drop_parked(q);
	shutdown(q->fd, SHUT_RDWR);
	fq_queue_maybe_destroy(q);
}

static void term_sent(struct fq_tx *tx)
{
	struct fq_queue *q = container_of(tx, struct fq_queue, term_tx);

	q->closing_sent = false;
	fq_queue_close(q, "fatal transport error");
}

/* Fatal protocol error: C2HTermReq with FES/FEI and the offending header. */
void fq_queue_fatal(struct fq_queue *q, const struct fq_tcp_err *err)
{
	uint32_t dlen = fq_tcp_rx_hdr_len(&q->rx);

	if (q->state == FQ_CONN_CLOSING)
		return;
	fq_warn("protocol error from %s (qid %u): %s; sending C2HTermReq FES 0x%x (%s) FEI %u",
		q->peer, q->qid, err->reason, err->fes, fq_tcp_fes_name(err->fes), err->fei);
	if (dlen > sizeof(q->term_data))
		dlen = sizeof(q->term_data);
	memcpy(q->term_data, fq_tcp_rx_hdr(&q->rx), dlen);
	q->term_tx.iov[0].iov_base = q->term.b;
	q->term_tx.iov[0].iov_len = fq_tcp_build_term(&q->term, true, err->fes, err->fei, dlen);
	q->term_tx.iov[1].iov_base = q->term_data;
	q->term_tx.iov[1].iov_len = dlen;
	q->term_tx.iovcnt = 2;
	q->term_tx.done = term_sent;
	q->state = FQ_CONN_CLOSING;
	q->closing_sent = true;
	q->last_activity_ns = q->r->now_ns; /* the tick closes it if the TermReq sticks */
	/* Nothing queued before the TermReq is still worth sending. */
	tx_queue(q, &q->term_tx);
}

/* ---- receive ------------------------------------------------------------ */

/*
 * Receive straight into the request buffer when the rest of a large data PDU
 * is still on the wire: the framer has consumed every byte received so far,
 * so nothing is parsed out of order, and the request (and its pooled buffer)
 * lives until this receive completes because the posted receive holds a
 * queue reference.
 */
#define RX_DIRECT_MIN (16u * 1024)

static bool post_recv_direct(struct fq_queue *q)
{
	uint32_t left = fq_tcp_rx_data_left(&q->rx);

	if (!q->rx_req || left < RX_DIRECT_MIN || q->rx_req->buf_borrowed || !q->rx_req->buf)
		return false;
	if (fq_tcp_rx_dst_iov(&q->rx, q->rx_iov, 1) != 1)
		return false;
	q->rx_zc = left;
	q->rx_iov[1].iov_base = q->rxbuf;
	q->rx_iov[1].iov_len = FQ_TGT_RXBUF;
	memset(&q->rx_msg, 0, sizeof(q->rx_msg));
	q->rx_msg.msg_iov = q->rx_iov;
	q->rx_msg.msg_iovlen = 2;
	fq_engine_recvmsg(&q->r->loop->eng, &q->rx_uop, q->fd, &q->rx_msg);
	q->rx_posted = true;
	q->ops++;
	return true;
}

static void post_recv(struct fq_queue *q)
{
	if (q->rx_posted || q->state == FQ_CONN_CLOSING)
		return;
	q->rx_zc = 0;
	if (post_recv_direct(q))
		return;
	fq_engine_recv(&q->r->loop->eng, &q->rx_uop, q->fd, q->rxbuf, FQ_TGT_RXBUF);
	q->rx_posted = true;
	q->ops++;
}

static void on_recv(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_queue *q = container_of(op, struct fq_queue, rx_uop);
	int rc = 0;

	(void)flags;
	q->rx_posted = false;
	if (q->state == FQ_CONN_CLOSING) {
		/* Closing: either shut already, or a TermReq is on its way out. */
		q->ops--;
		if (res <= 0 && !q->shut)
			fq_queue_close(q, "peer closed the connection");
		fq_queue_maybe_destroy(q);
		return;
	}
	if (res == -EAGAIN || res == -EINTR || res == -ENOBUFS) {
		q->ops--;
		post_recv(q);
		return;
	}
	if (res <= 0) {
		q->ops--;
		fq_queue_close(q, res == 0 ? "peer closed the connection" : strerror(-res));
		return;
	}
	q->last_activity_ns = q->r->now_ns;
	/* The op reference keeps q alive through the callbacks below. */
	if (q->rx_zc) {
		uint32_t direct = (uint32_t)res < q->rx_zc ? (uint32_t)res : q->rx_zc;

		res -= (int)direct;
		q->rx_zc = 0;
		rc = fq_tcp_rx_direct_done(&q->rx, direct);
	}
	if (rc || res <= 0) {
		q->ops--;
		if (q->state == FQ_CONN_CLOSING) {
			fq_queue_maybe_destroy(q);
			return;
		}
		post_recv(q);
		return;
	}
	q->rx_off = 0;
	q->rx_len = (uint32_t)res;
	rx_continue(q);
}

/*
 * Parse what is left of the last receive, up to the receive budget; the
 * op reference of that receive is held until the buffer is consumed, then
 * the next receive is posted.
 */
static void rx_continue(struct fq_queue *q)
{
	if (q->state != FQ_CONN_CLOSING) {
		size_t used = 0;
		int rc;

		q->rx_cmds = 0;
		rc = fq_tcp_rx_feed_some(&q->rx, q->rxbuf + q->rx_off, q->rx_len - q->rx_off,
					 &used);
		q->rx_off += (uint32_t)used;
		if (!rc && q->rx_off < q->rx_len && q->state != FQ_CONN_CLOSING) {
			q->next_resume = q->r->rx_resume;
			q->r->rx_resume = q;
			return;
		}
	}
	q->ops--;
	if (q->state == FQ_CONN_CLOSING) {
		fq_queue_maybe_destroy(q);
		return;
	}
	post_recv(q);
}

/* Connections whose receive budget ran out in the last turn go on. */
static void rx_resume_all(struct fq_reactor *r)
{
	struct fq_queue *list = r->rx_resume;

	r->rx_resume = NULL; /* what pauses again waits for the next turn */
	while (list) {
		struct fq_queue *q = list;

		list = q->next_resume;
		q->next_resume = NULL;
		rx_continue(q);
	}
}

/* Both sides agree on digests and limits: reply with ICResp (§3.6.2.3). */
static void handle_icreq(struct fq_queue *q)
{
	struct fq_tcp_err err;
	struct fq_tcp_dgst dg;

	if (fq_tcp_rx_check_icreq(&q->rx, &dg, &err)) {
		fq_queue_fatal(q, &err);
		return;
	}
	q->hdgst = dg.hdgst;
	q->ddgst = dg.ddgst;
	/* The digest bits are echoed exactly (B1). */
	q->ctl_tx.iov[0].iov_base = q->icresp.b;
	q->ctl_tx.iov[0].iov_len =
		fq_tcp_build_icresp(&q->icresp, dg, 0, q->r->tgt->conf->max_h2c_data);
	q->ctl_tx.iovcnt = 1;
	q->ctl_tx.done = tx_done_nop;
	tx_queue(q, &q->ctl_tx);
	q->rx.ctx.ic_done = true;
	q->rx.ctx.hdgst = q->hdgst;
	q->rx.ctx.ddgst = q->ddgst;
	q->state = FQ_CONN_LIVE;
	/*
	 * The queue kind is known only at Connect; size the request array for
	 * the largest queue. Twice the queue size, because a request is
	 * released only when its response send completes, which the host may
	 * already have seen and answered with a new command.
	 */
	if (!q->reqs) {
		uint32_t n = q->r->tgt->conf->max_queue_size;

		if (n < FQ_TGT_ADMIN_QSIZE)
			n = FQ_TGT_ADMIN_QSIZE;
		if (fq_queue_alloc_reqs(q, 2 * n))
			fq_queue_close(q, "out of memory");
	}
}

/* The data of the current PDU goes to @dst, for @req. */
static void start_data(struct fq_queue *q, struct fq_req *req, uint8_t *dst)
{
	q->rx_req = req;
	fq_tcp_rx_set_buf(&q->rx, dst);
}

/* The data of the current PDU is skipped; @req then completes with its status. */
static void discard_data(struct fq_queue *q, struct fq_req *req)
{
	q->rx_req = req;
	q->rx_discard = true;
}

/*
 * Check the data pointer of a command (NVMe/TCP 1.0 §3.4: SGL Data Block with
 * offset subtype for in-capsule data, Transport SGL Data Block otherwise).
 * Returns 0 or an NVMe status.
 */
static uint16_t check_sgl(struct fq_queue *q, struct fq_req *req, uint32_t icdata)
{
	const struct fq_sgl *sgl = &req->cmd.sgl;
	bool fabrics = req->cmd.opcode == FQ_ADM_FABRICS;
	uint32_t limit =
		fabrics || q->qid == 0 ? FQ_TCP_ADMIN_CCSZ : q->r->tgt->conf->in_capsule_size;

	req->data_in = fabrics ? true : fq_opc_is_write(req->cmd.opcode);
	if (icdata) {
		if (sgl->type != FQ_SGL_INCAPSULE)
			return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_TYPE);
		if (sgl->addr != 0)
			return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_OFFSET);
		if (sgl->length != icdata || !req->data_in || icdata > limit)
			return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA);
		req->incapsule = true;
		req->xfer_len = icdata;
		return 0;
	}
	if (sgl->type == FQ_SGL_INCAPSULE) {
		/* In-capsule descriptor but no data in the PDU. */
		if (sgl->length)
			return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA);
		req->xfer_len = 0;
		return 0;
	}
	if (sgl->type != FQ_SGL_TRANSPORT)
		return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_TYPE);
	req->xfer_len = sgl->length;
	if (sgl->length > q->r->tgt->conf->max_transfer)
		return FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR; /* MDTS */
	return 0;
}

/*
 * A Write whose in-capsule data (and digest) is already whole in the receive
 * buffer, for a namespace whose backend completes inside submit (RAM, null),
 * is executed straight from the receive buffer: the data is consumed before
 * the buffer is touched again, and the pool copy (4 KiB per 4 KiB write) is
 * saved. Anything else takes a pool buffer.
 */
static bool borrow_incapsule(struct fq_queue *q, struct fq_req *req, const uint8_t *rest,
			     size_t rest_len)
{
	const struct fq_tcp_frame *fr = fq_tcp_rx_frame(&q->rx);
	size_t need = (size_t)fr->pad_len + fr->data_len + (fr->has_ddgst ? FQ_TCP_DIGEST_LEN : 0);
	const struct fq_tgt_ns *ns;

	if (q->qid == 0 || req->cmd.opcode != FQ_IO_WRITE || !q->ctrl || rest_len < need ||
	    fr->data_len != req->xfer_len)
		return false;
	ns = fq_subsys_find_ns(q->ctrl->subsys, req->cmd.nsid);
	if (!ns || !ns->bdev->sync_submit)
		return false;
	req->buf = (uint8_t *)rest + fr->pad_len;
	req->buf_borrowed = true;
	return true;
}

static void handle_capsule(struct fq_queue *q, const uint8_t *rest, size_t rest_len)
{
	uint32_t icdata = fq_tcp_rx_frame(&q->rx)->data_len;
	struct fq_req *req;
	uint16_t st;

	if (q->state != FQ_CONN_LIVE)
		return;
	req = fq_req_alloc(q);
	if (!req) {
		struct fq_tcp_err err = {FQ_TCP_FES_PDU_SEQUENCE, 0,
					 "more commands outstanding than the queue size"};
		fq_queue_fatal(q, &err);
		return;
	}
	if (++q->rx_cmds >= FQ_TGT_RX_BUDGET)
		fq_tcp_rx_pause(&q->rx); /* the rest of the buffer waits for the next turn */
	fq_req_set_state(req, FQ_REQ_EXEC);
	req->cmd = *fq_tcp_rx_sqe(&q->rx);
	if (!q->sqflow_disabled && q->sqsize)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->sqsize);
	st = check_sgl(q, req, icdata);
	if (icdata) {
		if (st) {
			/* Swallow the data, then fail the command. */
			req->cqe.status = st;
			discard_data(q, req);
			return;
		}
		if (!borrow_incapsule(q, req, rest, rest_len) &&
		    fq_req_get_buf(req, req->xfer_len)) {
			/*
			 * No buffer for the in-capsule data. Waiting here would stop
			 * this socket, and the buffers may be held by this very
			 * connection's R2T'd writes whose H2CData sits behind us: a
			 * deadlock. Swallow the data and fail the command with
			 * Command Interrupted, which tells the host to retry.
			 */
			req->cqe.status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_INTERRUPTED);
			discard_data(q, req);
			return;
		}
		fq_req_set_state(req, FQ_REQ_RX_DATA);
		start_data(q, req, req->buf);
		return;
	}
	if (st) {
		fq_req_complete(req, st);
		return;
	}
	fq_req_start(req);
}

static void handle_h2c(struct fq_queue *q)
{
	struct fq_tcp_data_hdr d;
	struct fq_tcp_err err;
	struct fq_req *req;

	fq_tcp_rx_data_hdr(&q->rx, &d);
	if (d.ttag >= q->nreqs || q->reqs[d.ttag].state != FQ_REQ_R2T) {
		err = (struct fq_tcp_err){FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_TTAG,
					  "H2CData with an unknown transfer tag"};
		fq_queue_fatal(q, &err);
		return;
	}
	req = &q->reqs[d.ttag];
	if (req->cmd.cid != d.cccid) {
		err = (struct fq_tcp_err){FQ_TCP_FES_INVALID_HEADER, FQ_TCP_FEI_CCCID,
					  "H2CData CCCID does not match the transfer tag"};
		fq_queue_fatal(q, &err);
		return;
	}
	if (fq_tcp_rx_check_data_range(&q->rx, req->rcvd, req->xfer_len, &err)) {
		fq_queue_fatal(q, &err);
		return;
	}
	q->rx_h2c = true;
	start_data(q, req, req->buf + d.datao);
}

/* A whole header whose digest checked out: act on it. */
static int rx_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct fq_queue *q = arg;

	q->rx_req = NULL;
	q->rx_h2c = false;
	q->rx_discard = false;
	switch (fq_tcp_rx_kind(rx)) {
	case FQ_TCP_KIND_IC:
		handle_icreq(q);
		break;
	case FQ_TCP_KIND_CMD:
		handle_capsule(q, rest, rest_len);
		break;
	case FQ_TCP_KIND_DATA:
		handle_h2c(q);
		break;
	case FQ_TCP_KIND_TERM: {
		uint16_t fes;
		uint32_t fei;

		fq_tcp_rx_term(rx, &fes, &fei);
		fq_warn("host %s terminated the connection: FES 0x%x (%s) FEI %u", q->peer, fes,
			fq_tcp_fes_name(fes), fei);
		fq_queue_close(q, "H2CTermReq received");
		break;
	}
	default:
		break; /* the decoder admits nothing else */
	}
	return q->state == FQ_CONN_CLOSING ? -ECONNRESET : 0;
}

/* All data of the current PDU (and its digest) arrived. */
static int rx_data_done(void *arg, struct fq_tcp_rx *rx, bool digest_ok)
{
	struct fq_queue *q = arg;
	struct fq_req *req = q->rx_req;

	q->rx_req = NULL;
	if (!req)
		goto out;
	if (q->rx_discard) {
		fq_req_complete(req, req->cqe.status);
		goto out;
	}
	if (!digest_ok) {
		/*
		 * A data digest error fails the command with Transient Transport
		 * Error and keeps the connection (NVMe/TCP 1.0 §3.6.1.1).
		 */
		fq_warn("data digest error from %s (qid %u, cid %u)", q->peer, q->qid,
			req->cmd.cid);
		req->ddgst_error = true;
	}
	if (q->rx_h2c) {
		req->rcvd += fq_tcp_rx_frame(rx)->data_len;
		if (req->rcvd < req->xfer_len)
			goto out;
	} else {
		req->rcvd = req->xfer_len;
	}
	if (req->ddgst_error) {
		fq_req_complete(req, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_TRANSIENT_TRANSPORT));
		goto out;
	}
	fq_req_data_ready(req);
out:
	return q->state == FQ_CONN_CLOSING ? -ECONNRESET : 0;
}

static void rx_error(void *arg, const struct fq_tcp_err *err, const void *hdr, uint32_t hdr_len)
{
	(void)hdr;
	(void)hdr_len; /* fq_queue_fatal echoes the framer's current header */
	fq_queue_fatal(arg, err);
}

static const struct fq_tcp_rx_ops rx_ops = {
	.header = rx_header,
	.data_done = rx_data_done,
	.error = rx_error,
};

static void rx_init(struct fq_queue *q, const struct fq_target_conf *conf)
{
	struct fq_tcp_rx_ctx ctx = {
		.is_target = true,
		.max_data = conf->max_h2c_data,
		/* Fabrics commands may always carry 8 KiB in the capsule (B3). */
		.max_icdata = conf->in_capsule_size > FQ_TCP_ADMIN_CCSZ ? conf->in_capsule_size
									: FQ_TCP_ADMIN_CCSZ,
	};

	fq_tcp_rx_init(&q->rx, &ctx, &rx_ops, q);
}
