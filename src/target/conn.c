/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/TCP connection at the target: the receive state machine (common
 * header -> rest of header -> data -> data digest), the transmit queue
 * (every PDU of a loop turn leaves in one vectored send) and the request
 * lifecycle. NVMe/TCP 1.0 §3.3 (connection), §3.6 (PDUs), §3.5 (transfers).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/crc32c.h"
#include "target/tgt.h"
#include "util/log.h"

#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))

static void post_recv(struct fq_queue *q);
static void process_rx(struct fq_queue *q);
static void queue_destroy(struct fq_queue *q);
static void send_r2t(struct fq_req *req);
void fq_queue_maybe_destroy(struct fq_queue *q);

static const char *const req_state_name[] = {
	[FQ_REQ_FREE] = "free", [FQ_REQ_RX_DATA] = "rx-data", [FQ_REQ_NEED_BUF] = "need-buf",
	[FQ_REQ_R2T] = "r2t",	[FQ_REQ_EXEC] = "exec",	      [FQ_REQ_AER] = "aer",
	[FQ_REQ_TX] = "tx",
};
static_assert(sizeof(req_state_name) / sizeof(req_state_name[0]) == FQ_REQ_NUM_STATES,
	      "a name per request state");

/* The one place request states change; debug builds trace every move. */
void fq_req_set_state(struct fq_req *req, enum fq_req_state s)
{
	fq_dbg("q%u req %u: %s -> %s", req->q->qid, req->ttag, req_state_name[req->state],
	       req_state_name[s]);
	if (req->state == FQ_REQ_FREE && s != FQ_REQ_FREE)
		req->q->busy++;
	else if (req->state != FQ_REQ_FREE && s == FQ_REQ_FREE)
		req->q->busy--;
	req->state = s;
}

/* ---- buffers ---------------------------------------------------------- */

int fq_bufpool_init(struct fq_bufpool *p, uint32_t small, uint32_t nsmall, uint32_t large,
		    uint32_t nlarge)
{
	uint32_t sizes[2] = {small, large}, counts[2] = {nsmall, nlarge};

	memset(p, 0, sizeof(*p));
	for (int c = 0; c < 2; c++) {
		/* Page-aligned so O_DIRECT file backends can use them as is. */
		if (posix_memalign((void **)&p->mem[c], 4096, (size_t)sizes[c] * counts[c]))
			return -ENOMEM;
		p->free[c] = calloc(counts[c], sizeof(uint8_t *));
		if (!p->free[c])
			return -ENOMEM;
		for (uint32_t i = 0; i < counts[c]; i++)
			p->free[c][i] = p->mem[c] + (size_t)i * sizes[c];
		p->nfree[c] = p->count[c] = counts[c];
		p->size[c] = sizes[c];
	}
	return 0;
}

void fq_bufpool_fini(struct fq_bufpool *p)
{
	for (int c = 0; c < 2; c++) {
		free(p->mem[c]);
		free(p->free[c]);
	}
	memset(p, 0, sizeof(*p));
}

uint8_t *fq_buf_get(struct fq_bufpool *p, uint32_t len, int *cls)
{
	for (int c = 0; c < 2; c++) {
		if (len > p->size[c])
			continue;
		if (!p->nfree[c])
			continue; /* a small request may borrow a large buffer */
		*cls = c;
		return p->free[c][--p->nfree[c]];
	}
	return NULL;
}

void fq_buf_put(struct fq_bufpool *p, uint8_t *buf, int cls)
{
	p->free[cls][p->nfree[cls]++] = buf;
}

int fq_req_get_buf(struct fq_req *req, uint32_t len)
{
	if (req->buf)
		return 0;
	req->buf = fq_buf_get(&req->q->r->pool, len ? len : 1, &req->buf_class);
	return req->buf ? 0 : -ENOMEM;
}

/* Hand freed buffers to waiting requests, oldest first. */
static void wake_waiters(struct fq_reactor *r)
{
	while (r->wait_head) {
		struct fq_req *req = r->wait_head;

		if (fq_req_get_buf(req, req->xfer_len))
			return;
		r->wait_head = req->next_wait;
		if (!r->wait_head)
			r->wait_tail = NULL;
		req->next_wait = NULL;
		if (req->data_in && req->xfer_len && req->rcvd < req->xfer_len) {
			/* A write parked before its R2T: ask for the data now. */
			send_r2t(req);
		} else {
			fq_req_set_state(req, FQ_REQ_EXEC);
			fq_exec(req);
		}
	}
}

void fq_req_need_buf(struct fq_req *req)
{
	struct fq_reactor *r = req->q->r;

	fq_req_set_state(req, FQ_REQ_NEED_BUF);
	req->next_wait = NULL;
	if (r->wait_tail)
		r->wait_tail->next_wait = req;
	else
		r->wait_head = req;
	r->wait_tail = req;
}

static void unlink_waiters(struct fq_queue *q)
{
	struct fq_reactor *r = q->r;
	struct fq_req **pp = &r->wait_head, *last = NULL;

	while (*pp) {
		if ((*pp)->q == q) {
			*pp = (*pp)->next_wait;
			continue;
		}
		last = *pp;
		pp = &(*pp)->next_wait;
	}
	r->wait_tail = last;
}

/* ---- requests --------------------------------------------------------- */

static struct fq_req *req_alloc(struct fq_queue *q)
{
	struct fq_req *req = q->free_reqs;

	if (!req)
		return NULL;
	q->free_reqs = req->next_wait;
	req->next_wait = NULL;
	req->buf = NULL;
	req->buf_borrowed = false;
	req->xfer_len = req->rcvd = 0;
	req->data_in = req->incapsule = req->ddgst_error = req->close_after = false;
	req->data_iov.iov_base = NULL;
	req->data_iov.iov_len = 0;
	req->ns = NULL;
	req->cmp_buf = NULL;
	req->step = 0;
	memset(&req->cqe, 0, sizeof(req->cqe));
	return req;
}

void fq_req_free(struct fq_req *req)
{
	struct fq_queue *q = req->q;

	if (req->buf_borrowed) {
		req->buf = NULL;
		req->buf_borrowed = false;
	} else if (req->buf) {
		fq_buf_put(&q->r->pool, req->buf, req->buf_class);
		req->buf = NULL;
		if (q->r->wait_head)
			wake_waiters(q->r);
	}
	fq_req_set_state(req, FQ_REQ_FREE);
	req->next_wait = q->free_reqs;
	q->free_reqs = req;
	if (q->state == FQ_CONN_CLOSING)
		fq_queue_maybe_destroy(q);
}

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
	fq_engine_sendmsg(&q->r->eng, &q->tx_uop, q->fd, &q->msg, MSG_NOSIGNAL);
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
	struct fq_req *req = container_of(tx, struct fq_req, tx);
	struct fq_queue *q = req->q;
	bool close_after = req->close_after;

	req->close_after = false;
	fq_req_free(req);
	if (close_after)
		fq_queue_close(q, "Disconnect command");
}

static void tx2_done_final(struct fq_tx *tx)
{
	fq_req_free(container_of(tx, struct fq_req, tx2));
}

static void tx_done_nop(struct fq_tx *tx)
{
	(void)tx;
}

static void set_hdgst(struct fq_queue *q, const void *hdr, uint32_t hlen, uint32_t *dst)
{
	if (q->hdgst)
		*dst = fq_crc32c(hdr, hlen);
}

static void build_rsp(struct fq_req *req, struct fq_tcp_rsp *rsp, uint32_t *hdgst, struct fq_tx *tx)
{
	struct fq_queue *q = req->q;

	fq_tcp_ch_init(&rsp->ch, FQ_TCP_CAPSULE_RESP, sizeof(*rsp), q->hdgst, false, 0);
	rsp->cqe = req->cqe;
	set_hdgst(q, rsp, sizeof(*rsp), hdgst);
	tx->iov[0].iov_base = rsp;
	tx->iov[0].iov_len = sizeof(*rsp) + (q->hdgst ? FQ_TCP_DIGEST_LEN : 0);
	tx->iovcnt = 1;
}

/* Fill the CQE; NVMe Base 2.0 §4.6: SQHD and SQID always, CID echoed. */
static void fill_cqe(struct fq_req *req, uint16_t status)
{
	struct fq_queue *q = req->q;

	req->cqe.cid = req->cmd.cid;
	req->cqe.sq_id = q->qid;
	req->cqe.sq_head = q->sqflow_disabled ? 0xffff : q->sqhd;
	req->cqe.status = status;
}

void fq_req_complete(struct fq_req *req, uint16_t status)
{
	struct fq_queue *q = req->q;

	if (q->state == FQ_CONN_CLOSING) {
		fq_req_free(req);
		return;
	}
	fill_cqe(req, status);
	fq_req_set_state(req, FQ_REQ_TX);
	build_rsp(req, &req->hdr.rsp, &req->hdgst, &req->tx);
	req->tx.done = tx_done_final;
	tx_queue(q, &req->tx);
}

/*
 * Send read data: one C2HData PDU with LAST. With SQ flow control disabled
 * the SUCCESS flag completes the command (NVMe/TCP 1.0 §3.6.2.7) and no
 * CapsuleResp follows; otherwise a CapsuleResp carrying SQHD follows in the
 * same send.
 */
void fq_req_send_data(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	struct fq_tcp_data *d = &req->hdr.c2h;
	uint32_t len = (uint32_t)req->data_iov.iov_len;
	int n = 0;

	if (q->state == FQ_CONN_CLOSING) {
		fq_req_free(req);
		return;
	}
	fill_cqe(req, 0);
	fq_req_set_state(req, FQ_REQ_TX);
	fq_tcp_ch_init(&d->ch, FQ_TCP_C2H_DATA, sizeof(*d), q->hdgst, q->ddgst, len);
	d->ch.flags |= FQ_TCP_F_DATA_LAST;
	if (q->sqflow_disabled)
		d->ch.flags |= FQ_TCP_F_DATA_SUCCESS;
	d->cccid = req->cmd.cid;
	d->ttag = 0;
	d->datao = 0;
	d->datal = len;
	memset(d->rsvd20, 0, sizeof(d->rsvd20));
	set_hdgst(q, d, sizeof(*d), &req->hdgst);
	req->tx.iov[n].iov_base = d;
	req->tx.iov[n++].iov_len = sizeof(*d) + (q->hdgst ? FQ_TCP_DIGEST_LEN : 0);
	req->tx.iov[n++] = req->data_iov;
	if (q->ddgst) {
		/*
		 * Without a pooled buffer the data is the namespace's own memory
		 * (RAM), which a random read finds cold; a pooled buffer was just
		 * filled.
		 */
		req->ddgst = req->buf ? fq_crc32c(req->data_iov.iov_base, len)
				      : fq_crc32c_uncached(req->data_iov.iov_base, len);
		req->tx.iov[n].iov_base = &req->ddgst;
		req->tx.iov[n++].iov_len = FQ_TCP_DIGEST_LEN;
	}
	req->tx.iovcnt = n;
	if (q->sqflow_disabled) {
		req->tx.done = tx_done_final;
		tx_queue(q, &req->tx);
		return;
	}
	req->tx.done = tx_done_nop;
	tx_queue(q, &req->tx);
	build_rsp(req, &req->hdr2.rsp, &req->hdgst2, &req->tx2);
	req->tx2.done = tx2_done_final;
	tx_queue(q, &req->tx2);
}

/* Ask for all write data at once: we advertise MAXR2T 0 handling (one R2T). */
static void send_r2t(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	struct fq_tcp_r2t *r = &req->hdr2.r2t;

	fq_req_set_state(req, FQ_REQ_R2T);
	fq_tcp_ch_init(&r->ch, FQ_TCP_R2T, sizeof(*r), q->hdgst, false, 0);
	r->cccid = req->cmd.cid;
	r->ttag = req->ttag;
	r->r2to = 0;
	r->r2tl = req->xfer_len;
	memset(r->rsvd20, 0, sizeof(r->rsvd20));
	set_hdgst(q, r, sizeof(*r), &req->hdgst2);
	req->tx2.iov[0].iov_base = r;
	req->tx2.iov[0].iov_len = sizeof(*r) + (q->hdgst ? FQ_TCP_DIGEST_LEN : 0);
	req->tx2.iovcnt = 1;
	req->tx2.done = tx_done_nop;
	tx_queue(q, &req->tx2);
}

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
	q->rxctx.is_target = true;
	q->rxctx.max_data = conf->max_h2c_data;
	/* Fabrics commands may always carry 8 KiB in the capsule (B3). */
	q->rxctx.max_icdata = conf->in_capsule_size > FQ_TCP_ADMIN_CCSZ ? conf->in_capsule_size
									: FQ_TCP_ADMIN_CCSZ;
	q->last_activity_ns = r->now_ns;
	q->next = r->queues;
	if (r->queues)
		r->queues->prev = q;
	r->queues = q;
	atomic_fetch_add(&r->nqueues, 1);
	fq_dbg("connection from %s on port %u (reactor %d)", q->peer, port->conf.port, r->idx);
	post_recv(q);
}

/* Allocate the request array once the queue size is known (Connect). */
int fq_queue_alloc_reqs(struct fq_queue *q, uint32_t n)
{
	q->reqs = calloc(n, sizeof(*q->reqs));
	if (!q->reqs)
		return -ENOMEM;
	q->nreqs = n;
	for (uint32_t i = n; i-- > 0;) {
		q->reqs[i].q = q;
		q->reqs[i].ttag = (uint16_t)i;
		q->reqs[i].next_wait = q->free_reqs;
		q->free_reqs = &q->reqs[i];
	}
	return 0;
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
	unlink_waiters(q);
	q->in_drain = true; /* no destroy while parked requests are released */
	for (uint32_t i = 0; i < q->nreqs; i++) {
		struct fq_req *req = &q->reqs[i];

		if (req->state == FQ_REQ_AER || req->state == FQ_REQ_R2T ||
		    req->state == FQ_REQ_NEED_BUF || req->state == FQ_REQ_RX_DATA)
			fq_req_free(req);
	}
	q->in_drain = false;
	if (q->ctrl && q->qid == 0)
		q->ctrl->naer = 0;
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
	uint32_t dlen = q->fr.hlen ? q->fr.hlen : sizeof(struct fq_tcp_ch);

	if (q->state == FQ_CONN_CLOSING)
		return;
	fq_warn("protocol error from %s (qid %u): %s; sending C2HTermReq FES 0x%x (%s) FEI %u",
		q->peer, q->qid, err->reason, err->fes, fq_tcp_fes_name(err->fes), err->fei);
	if (dlen > FQ_TCP_TERM_MAX_DATA)
		dlen = FQ_TCP_TERM_MAX_DATA;
	fq_tcp_term_init(&q->term, true, err->fes, err->fei, dlen);
	memcpy(q->term_data, q->hdr, dlen);
	q->term_tx.iov[0].iov_base = &q->term;
	q->term_tx.iov[0].iov_len = sizeof(q->term);
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
 * is still on the wire: the receive buffer is empty, so nothing is parsed
 * out of order, and the request (and its pooled buffer) lives until this
 * receive completes because the posted receive holds a queue reference.
 */
#define RX_DIRECT_MIN (16u * 1024)

static uint8_t *data_dst(struct fq_queue *q);
static bool rx_data_took(struct fq_queue *q, const uint8_t *p, uint32_t n);

static bool post_recv_direct(struct fq_queue *q)
{
	if (q->rx_state != FQ_RX_DATA || !q->rx_req || q->rx_head != q->rx_tail ||
	    q->rx_left < RX_DIRECT_MIN || q->rx_req->buf_borrowed || !q->rx_req->buf)
		return false;
	q->rx_head = q->rx_tail = 0;
	q->rx_zc = q->rx_left;
	q->rx_iov[0].iov_base = data_dst(q);
	q->rx_iov[0].iov_len = q->rx_left;
	q->rx_iov[1].iov_base = q->rxbuf;
	q->rx_iov[1].iov_len = FQ_TGT_RXBUF;
	memset(&q->rx_msg, 0, sizeof(q->rx_msg));
	q->rx_msg.msg_iov = q->rx_iov;
	q->rx_msg.msg_iovlen = 2;
	fq_engine_recvmsg(&q->r->eng, &q->rx_uop, q->fd, &q->rx_msg);
	q->rx_posted = true;
	q->ops++;
	return true;
}

static void post_recv(struct fq_queue *q)
{
	uint32_t space;

	if (q->rx_posted || q->state == FQ_CONN_CLOSING)
		return;
	q->rx_zc = 0;
	if (post_recv_direct(q))
		return;
	if (q->rx_head == q->rx_tail) {
		q->rx_head = q->rx_tail = 0;
	} else if (q->rx_head > 0 && FQ_TGT_RXBUF - q->rx_tail < 4096) {
		memmove(q->rxbuf, q->rxbuf + q->rx_head, q->rx_tail - q->rx_head);
		q->rx_tail -= q->rx_head;
		q->rx_head = 0;
	}
	space = FQ_TGT_RXBUF - q->rx_tail;
	if (!space)
		return;
	fq_engine_recv(&q->r->eng, &q->rx_uop, q->fd, q->rxbuf + q->rx_tail, space);
	q->rx_posted = true;
	q->ops++;
}

static void on_recv(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_queue *q = container_of(op, struct fq_queue, rx_uop);

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
	if (q->rx_zc) {
		uint32_t direct = (uint32_t)res < q->rx_zc ? (uint32_t)res : q->rx_zc;

		res -= (int)direct;
		q->rx_zc = 0;
		rx_data_took(q, data_dst(q), direct);
	}
	q->rx_tail += (uint32_t)res;
	q->last_activity_ns = q->r->now_ns;
	process_rx(q); /* the op reference keeps q alive through callbacks */
	q->ops--;
	if (q->state == FQ_CONN_CLOSING) {
		fq_queue_maybe_destroy(q);
		return;
	}
	post_recv(q);
}

/* Both sides agree on digests and limits: reply with ICResp (§3.6.2.3). */
static void handle_icreq(struct fq_queue *q)
{
	const struct fq_tcp_icreq *req = (const void *)q->hdr;
	struct fq_tcp_err err;

	if (fq_tcp_check_icreq(req, &err)) {
		fq_queue_fatal(q, &err);
		return;
	}
	q->hdgst = req->dgst & FQ_TCP_DGST_HDR;
	q->ddgst = req->dgst & FQ_TCP_DGST_DATA;
	memset(&q->icresp, 0, sizeof(q->icresp));
	q->icresp.ch.type = FQ_TCP_ICRESP;
	q->icresp.ch.hlen = sizeof(q->icresp);
	q->icresp.ch.plen = sizeof(q->icresp);
	q->icresp.pfv = 0;
	q->icresp.cpda = 0;
	q->icresp.dgst = req->dgst; /* echoed exactly (B1) */
	q->icresp.maxh2cdata = q->r->tgt->conf->max_h2c_data;
	q->ctl_tx.iov[0].iov_base = &q->icresp;
	q->ctl_tx.iov[0].iov_len = sizeof(q->icresp);
	q->ctl_tx.iovcnt = 1;
	q->ctl_tx.done = tx_done_nop;
	tx_queue(q, &q->ctl_tx);
	q->rxctx.ic_done = true;
	q->rxctx.hdgst = q->hdgst;
	q->rxctx.ddgst = q->ddgst;
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

static void start_data(struct fq_queue *q, struct fq_req *req, uint8_t *dst, uint32_t len)
{
	q->rx_req = req;
	q->rx_left = len;
	q->rx_crc = FQ_CRC32C_SEED;
	(void)dst;
	q->rx_state = FQ_RX_DATA;
}

/* A command without in-capsule data: fetch write data or execute now. */
static void cmd_start(struct fq_req *req)
{
	if (req->data_in && req->xfer_len) {
		if (fq_req_get_buf(req, req->xfer_len)) {
			fq_req_need_buf(req);
			return;
		}
		send_r2t(req);
		return;
	}
	fq_req_set_state(req, FQ_REQ_EXEC);
	fq_exec(req);
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
static bool borrow_incapsule(struct fq_queue *q, struct fq_req *req)
{
	uint32_t need = q->fr.data_len + (q->fr.has_ddgst ? FQ_TCP_DIGEST_LEN : 0);
	const struct fq_tgt_ns *ns;

	if (q->qid == 0 || req->cmd.opcode != FQ_IO_WRITE || !q->ctrl ||
	    q->rx_tail - q->rx_head < need || q->fr.data_len != req->xfer_len)
		return false;
	ns = fq_subsys_find_ns(q->ctrl->subsys, req->cmd.nsid);
	if (!ns || !ns->bdev->sync_submit)
		return false;
	req->buf = q->rxbuf + q->rx_head;
	req->buf_borrowed = true;
	return true;
}

static void handle_capsule(struct fq_queue *q)
{
	const struct fq_tcp_cmd *pdu = (const void *)q->hdr;
	struct fq_req *req;
	uint16_t st;

	if (q->state != FQ_CONN_LIVE)
		return;
	req = req_alloc(q);
	if (!req) {
		struct fq_tcp_err err = {FQ_TCP_FES_PDU_SEQUENCE, 0,
					 "more commands outstanding than the queue size"};
		fq_queue_fatal(q, &err);
		return;
	}
	fq_req_set_state(req, FQ_REQ_EXEC);
	req->cmd = pdu->sqe;
	if (!q->sqflow_disabled && q->sqsize)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->sqsize);
	st = check_sgl(q, req, q->fr.data_len);
	if (q->fr.data_len) {
		if (st) {
			/* Swallow the data, then fail the command. */
			req->cqe.status = st;
			q->rx_req = req;
			q->rx_left = q->fr.data_len;
			q->rx_state = FQ_RX_DISCARD;
			return;
		}
		if (!borrow_incapsule(q, req) && fq_req_get_buf(req, req->xfer_len)) {
			/*
			 * No buffer for the in-capsule data. Waiting here would stop
			 * this socket, and the buffers may be held by this very
			 * connection's R2T'd writes whose H2CData sits behind us: a
			 * deadlock. Swallow the data and fail the command with
			 * Command Interrupted, which tells the host to retry.
			 */
			req->cqe.status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_INTERRUPTED);
			q->rx_req = req;
			q->rx_left = q->fr.data_len;
			q->rx_state = FQ_RX_DISCARD;
			return;
		}
		fq_req_set_state(req, FQ_REQ_RX_DATA);
		start_data(q, req, req->buf, q->fr.data_len);
		return;
	}
	if (st) {
		fq_req_complete(req, st);
		return;
	}
	cmd_start(req);
}

static void handle_h2c(struct fq_queue *q)
{
	const struct fq_tcp_data *d = (const void *)q->hdr;
	struct fq_tcp_err err;
	struct fq_req *req;

	if (d->ttag >= q->nreqs || q->reqs[d->ttag].state != FQ_REQ_R2T) {
		err = (struct fq_tcp_err){FQ_TCP_FES_INVALID_HEADER, 10,
					  "H2CData with an unknown transfer tag"};
		fq_queue_fatal(q, &err);
		return;
	}
	req = &q->reqs[d->ttag];
	if (req->cmd.cid != d->cccid) {
		err = (struct fq_tcp_err){FQ_TCP_FES_INVALID_HEADER, 8,
					  "H2CData CCCID does not match the transfer tag"};
		fq_queue_fatal(q, &err);
		return;
	}
	if (fq_tcp_check_data_range(d, req->rcvd, req->xfer_len, &err)) {
		fq_queue_fatal(q, &err);
		return;
	}
	start_data(q, req, req->buf + d->datao, d->datal);
}

/* A whole header is in q->hdr: act on it. */
static void handle_header(struct fq_queue *q)
{
	switch (q->fr.type) {
	case FQ_TCP_ICREQ:
		handle_icreq(q);
		break;
	case FQ_TCP_CAPSULE_CMD:
		handle_capsule(q);
		break;
	case FQ_TCP_H2C_DATA:
		handle_h2c(q);
		break;
	case FQ_TCP_H2C_TERM: {
		const struct fq_tcp_term *t = (const void *)q->hdr;

		fq_warn("host %s terminated the connection: FES 0x%x (%s) FEI %u", q->peer, t->fes,
			fq_tcp_fes_name(t->fes), fq_tcp_term_fei(t));
		fq_queue_close(q, "H2CTermReq received");
		break;
	}
	default:
		break; /* the decoder admits nothing else */
	}
}

/* All data of the current PDU (and its digest) arrived. */
static void data_done(struct fq_queue *q, bool digest_ok)
{
	struct fq_req *req = q->rx_req;

	q->rx_state = FQ_RX_CH;
	q->rx_req = NULL;
	if (!req)
		return;
	if (!digest_ok) {
		/*
		 * A data digest error fails the command with Transient Transport
		 * Error and keeps the connection (NVMe/TCP 1.0 §3.6.1.1).
		 */
		fq_warn("data digest error from %s (qid %u, cid %u)", q->peer, q->qid,
			req->cmd.cid);
		req->ddgst_error = true;
	}
	if (q->fr.type == FQ_TCP_H2C_DATA) {
		const struct fq_tcp_data *d = (const void *)q->hdr;

		req->rcvd += d->datal;
		if (req->rcvd < req->xfer_len)
			return;
	} else {
		req->rcvd = req->xfer_len;
	}
	if (req->ddgst_error) {
		fq_req_complete(req, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_TRANSIENT_TRANSPORT));
		return;
	}
	fq_req_set_state(req, FQ_REQ_EXEC);
	fq_exec(req);
}

static uint8_t *data_dst(struct fq_queue *q)
{
	struct fq_req *req = q->rx_req;
	uint32_t off;

	if (q->fr.type == FQ_TCP_H2C_DATA) {
		const struct fq_tcp_data *d = (const void *)q->hdr;

		off = d->datao + (d->datal - q->rx_left);
	} else {
		off = q->fr.data_len - q->rx_left;
	}
	return req->buf + off;
}

/* @n more data bytes of the current PDU are in place (a copy of @p). */
static bool rx_data_took(struct fq_queue *q, const uint8_t *p, uint32_t n)
{
	if (q->fr.has_ddgst)
		q->rx_crc = fq_crc32c_update(q->rx_crc, p, n);
	q->rx_left -= n;
	if (q->rx_left)
		return false;
	if (q->fr.has_ddgst)
		q->rx_state = FQ_RX_DDGST;
	else
		data_done(q, true);
	return true;
}

static bool rx_step(struct fq_queue *q)
{
	uint32_t avail = q->rx_tail - q->rx_head;
	uint8_t *p = q->rxbuf + q->rx_head;
	struct fq_tcp_err err;
	uint32_t n;

	switch (q->rx_state) {
	case FQ_RX_CH:
		if (avail < sizeof(struct fq_tcp_ch))
			return false;
		memcpy(q->hdr, p, sizeof(struct fq_tcp_ch));
		q->fr.hlen = 0;
		if (fq_tcp_decode_ch((const void *)q->hdr, &q->rxctx, &q->fr, &err)) {
			/*
			 * Only the common header of this PDU has arrived: the
			 * TermReq must echo those 8 bytes, not the rest of
			 * q->hdr, which still holds an earlier PDU's header.
			 */
			q->fr.hlen = 0;
			fq_queue_fatal(q, &err);
			return false;
		}
		q->rx_state = FQ_RX_HDR;
		return true;
	case FQ_RX_HDR:
		if (avail < q->fr.hdr_len)
			return false;
		memcpy(q->hdr, p, q->fr.hdr_len);
		q->rx_head += q->fr.hdr_len;
		if (q->fr.has_hdgst && fq_tcp_check_hdgst(q->hdr, q->fr.hlen, &err)) {
			fq_queue_fatal(q, &err);
			return false;
		}
		q->rx_state = FQ_RX_CH;
		q->rx_req = NULL;
		handle_header(q);
		if (q->state == FQ_CONN_CLOSING)
			return false;
		if (q->rx_state == FQ_RX_CH && q->fr.data_len) {
			/* Header handled without taking data (TermReq): skip it. */
			q->rx_left = q->fr.data_len + (q->fr.has_ddgst ? FQ_TCP_DIGEST_LEN : 0);
			q->rx_state = FQ_RX_DISCARD;
		}
		return true;
	case FQ_RX_DATA:
		if (!avail)
			return false;
		n = avail < q->rx_left ? avail : q->rx_left;
		if (data_dst(q) != p) /* equal when the command borrowed the rxbuf */
			memcpy(data_dst(q), p, n);
		q->rx_head += n;
		return rx_data_took(q, p, n);
	case FQ_RX_DDGST: {
		uint32_t got;

		if (avail < FQ_TCP_DIGEST_LEN)
			return false;
		memcpy(&got, p, sizeof(got));
		q->rx_head += FQ_TCP_DIGEST_LEN;
		data_done(q, got == fq_crc32c_final(q->rx_crc));
		return true;
	}
	case FQ_RX_DISCARD:
		n = avail < q->rx_left ? avail : q->rx_left;
		q->rx_head += n;
		q->rx_left -= n;
		if (q->rx_left)
			return false;
		if (q->fr.has_ddgst && q->rx_req) {
			q->rx_left = FQ_TCP_DIGEST_LEN;
			q->fr.has_ddgst = false;
			return true;
		}
		q->rx_state = FQ_RX_CH;
		if (q->rx_req) {
			struct fq_req *req = q->rx_req;

			q->rx_req = NULL;
			fq_req_complete(req, req->cqe.status);
		}
		return true;
	default:
		return false;
	}
}

/* Parse every PDU the receive buffer holds before going back to the ring. */
static void process_rx(struct fq_queue *q)
{
	while (q->state != FQ_CONN_CLOSING && rx_step(q))
		;
	if (q->rx_head == q->rx_tail)
		q->rx_head = q->rx_tail = 0;
}
