/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP transport of the target: the target role on the connection
 * object (xport/tcp_conn.h, which frames, checks digests, batches sends and
 * receives into request buffers) and the transport ops the core sends
 * through (xprt.h). The role sees command capsules and host data and sends
 * responses, read data and R2Ts. The request lifecycle is the core's
 * (req.c). NVMe/TCP 1.0 §3.3 (connection), §3.5 (transfers).
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

/* A handshake (ICReq) within 10 s; a TermReq of ours read within 5 s. */
#define IC_TIMEOUT_NS 10000000000ull
#define TERM_TIMEOUT_NS 5000000000ull

static const struct fq_tcp_conn_ops tgt_conn_ops;
static void queue_destroy(struct fq_queue *q);
static void queue_maybe_destroy(struct fq_queue *q);
static void queue_close(struct fq_queue *q, const char *why);

/* ---- transmit ---------------------------------------------------------- */

/*
 * Every turn of the reactor's loop (xprt poll): receives held back by the
 * budget resume, buffers returned during the turn go to waiting requests,
 * and the units queued on each connection leave in one vectored send.
 * Non-zero while received bytes still wait (the receive budget), so the
 * loop does not sleep on them.
 */
static int tcp_poll(struct fq_reactor *r)
{
	fq_tcp_batch_resume(&r->batch);
	fq_req_wake_waiters(r);
	fq_tcp_batch_flush(&r->batch);
	return fq_tcp_batch_rx_waiting(&r->batch);
}

static void tx_done_final(struct fq_tcp_unit *tx)
{
	fq_req_done(container_of(tx, struct fq_req, tx));
}

static void tx2_done_final(struct fq_tcp_unit *tx)
{
	fq_req_free(container_of(tx, struct fq_req, tx2));
}

/* CapsuleResp (NVMe/TCP 1.0 §3.6.2.5); the request is released once it is sent. */
static void tcp_send_rsp(struct fq_req *req)
{
	fq_tcp_unit_init(&req->tx, NULL, 0, tx_done_final);
	fq_tcp_conn_send_rsp(&req->q->conn, &req->tx, &req->cqe);
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

	/*
	 * Without a pooled buffer the data is the namespace's own memory
	 * (RAM), which a random read finds cold; a pooled buffer was just
	 * filled.
	 */
	fq_tcp_unit_init(&req->tx, NULL, 0, q->sqflow_disabled ? tx_done_final : NULL);
	fq_tcp_conn_send_c2h(&q->conn, &req->tx, req->cmd.cid, &req->data_iov, 1, len,
			     q->sqflow_disabled, !req->buf);
	if (q->sqflow_disabled)
		return;
	fq_tcp_unit_init(&req->tx2, NULL, 0, tx2_done_final);
	fq_tcp_conn_send_rsp(&q->conn, &req->tx2, &req->cqe);
}

/* Ask for all write data at once: we advertise MAXR2T 0 handling (one R2T). */
static void send_r2t(struct fq_req *req)
{
	fq_tcp_unit_init(&req->tx2, NULL, 0, NULL);
	fq_tcp_conn_send_r2t(&req->q->conn, &req->tx2, req->cmd.cid, req->ttag, 0, req->xfer_len);
}

static void tcp_tick(struct fq_queue *q);
static void tcp_accept(struct fq_reactor *r, int fd, struct fq_port *port);

/* The core's and the reactor's way out to NVMe/TCP (xprt.h). */
const struct fq_xprt_ops fq_tgt_xprt_tcp = {
	.name = "tcp",
	.send_rsp = tcp_send_rsp,
	.send_data = tcp_send_data,
	.fetch_data = send_r2t,
	.close = queue_close,
	.release = queue_maybe_destroy,
	.tick = tcp_tick,
	.accept = tcp_accept,
	.poll = tcp_poll,
};

/* ---- connection lifecycle ---------------------------------------------- */

static int conn_init(struct fq_queue *q, const struct fq_target_conf *conf)
{
	struct fq_tcp_conn_opts o = {
		.is_target = true,
		.ops = &tgt_conn_ops,
		.arg = q,
		.rxbuf_size = FQ_TGT_RXBUF,
		.max_h2c_data = conf->max_h2c_data,
		/* Fabrics commands may always carry 8 KiB in the capsule (B3). */
		.max_icdata = conf->in_capsule_size > FQ_TCP_ADMIN_CCSZ ? conf->in_capsule_size
									: FQ_TCP_ADMIN_CCSZ,
		.rx_budget = FQ_TGT_RX_BUDGET,
		.batch = &q->r->batch,
		.peer = q->peer,
	};

	return fq_tcp_conn_init(&q->conn, &o);
}

/*
 * A connection the acceptor took (xprt accept), on its reactor: it waits
 * for the host's ICReq (NVMe/TCP 1.0 §3.3).
 */
static void tcp_accept(struct fq_reactor *r, int fd, struct fq_port *port)
{
	struct fq_target_conf *conf = r->tgt->conf;
	struct fq_queue *q = calloc(1, sizeof(*q));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct fq_stream st;
	int one = 1;

	if (q)
		q->r = r;
	if (!q || conn_init(q, conf)) {
		fq_err("out of memory accepting a connection");
		free(q);
		close(fd);
		atomic_fetch_sub(&r->tgt->nconns, 1);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	q->id = atomic_fetch_add(&r->tgt->next_queue_id, 1);
	q->xprt = &fq_tgt_xprt_tcp;
	q->port = port;
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
	q->last_activity_ns = r->now_ns;
	q->next = r->queues;
	if (r->queues)
		r->queues->prev = q;
	r->queues = q;
	atomic_fetch_add(&r->nqueues, 1);
	fq_dbg("connection from %s on port %u (reactor %d)", q->peer, port->conf.port, r->idx);
	fq_stream_socket(&st, &r->loop->eng, fd);
	fq_tcp_conn_start(&q->conn, &st);
}

static void queue_destroy(struct fq_queue *q)
{
	struct fq_reactor *r = q->r;

	fq_tcp_conn_fini(&q->conn); /* closes the socket */
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
	free(q);
}

/*
 * Free the queue once it is shut and nothing refers to it: no engine
 * operation in flight and no unit on the connection's queue (those are
 * handed back, releasing their requests, once the socket is shut), and no
 * request at a backend.
 */
static void queue_maybe_destroy(struct fq_queue *q)
{
	if (q->state != FQ_CONN_CLOSING || !q->shut || q->ops || q->in_drain ||
	    fq_tcp_conn_busy(&q->conn))
		return;
	if (q->busy == 0)
		queue_destroy(q);
}

/*
 * Stop the connection: no more commands are taken; requests at a backend
 * finish and are dropped; the socket is shut down so pending receive and
 * send operations complete; the queue is freed when nothing refers to it.
 */
static void queue_close(struct fq_queue *q, const char *why)
{
	if (q->shut)
		return;
	q->state = FQ_CONN_CLOSING;
	q->shut = true;
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
	/* A TermReq of ours goes out first, with the responses queued before it. */
	fq_tcp_conn_close(&q->conn);
	queue_maybe_destroy(q);
}

/*
 * The reactor's tick for a queue not live (xprt tick): a host that sends
 * no ICReq within 10 s is dropped (the Connect that must follow has its
 * own deadline in the core), and a peer that never reads must not hold a
 * TermReq'd queue: after 5 s the socket is shut without it.
 */
static void tcp_tick(struct fq_queue *q)
{
	uint64_t idle = q->r->now_ns - q->last_activity_ns;

	if (q->state == FQ_CONN_CLOSING) {
		if (fq_tcp_conn_terminating(&q->conn) && idle > TERM_TIMEOUT_NS) {
			fq_warn("C2HTermReq to %s not delivered within 5 s", q->peer);
			fq_tcp_conn_shutdown(&q->conn);
		}
	} else if (q->state == FQ_CONN_IC_WAIT && idle > IC_TIMEOUT_NS) {
		fq_warn("connection from %s sent no ICReq within 10 s", q->peer);
		queue_close(q, "initialization timeout");
	}
}

/* ---- receive: what the connection reports ------------------------------ */

/*
 * ICReq accepted and ICResp queued: the queue takes commands. The queue
 * kind is known only at Connect; size the request array for the largest
 * queue. Twice the queue size, because a request is released only when its
 * response send completes, which the host may already have seen and
 * answered with a new command.
 */
static int on_ready(void *arg)
{
	struct fq_queue *q = arg;

	q->state = FQ_CONN_LIVE;
	q->last_activity_ns = q->r->now_ns;
	if (!q->reqs) {
		uint32_t n = q->r->tgt->conf->max_queue_size;

		if (n < FQ_TGT_ADMIN_QSIZE)
			n = FQ_TGT_ADMIN_QSIZE;
		if (fq_queue_alloc_reqs(q, 2 * n))
			queue_close(q, "out of memory");
	}
	return q->state == FQ_CONN_CLOSING ? -ECONNRESET : 0;
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
static bool borrow_incapsule(struct fq_queue *q, struct fq_req *req, const uint8_t *inplace,
			     uint32_t icdata)
{
	const struct fq_tgt_ns *ns;

	if (q->qid == 0 || req->cmd.opcode != FQ_IO_WRITE || !q->ctrl || !inplace ||
	    icdata != req->xfer_len)
		return false;
	ns = fq_subsys_find_ns(q->ctrl->subsys, req->cmd.nsid);
	if (!ns || !ns->bdev->sync_submit)
		return false;
	req->buf = (uint8_t *)inplace;
	req->buf_borrowed = true;
	return true;
}

static int closing(const struct fq_queue *q)
{
	return q->state == FQ_CONN_CLOSING ? -ECONNRESET : 0;
}

/* A command capsule; in-capsule data, if any, goes where @pl says. */
static int on_command(void *arg, const struct fq_sqe *sqe, uint32_t icdata, const uint8_t *inplace,
		      struct fq_tcp_place *pl)
{
	struct fq_queue *q = arg;
	struct fq_req *req;
	uint16_t st;

	q->rx_discard = false;
	if (q->state != FQ_CONN_LIVE)
		return closing(q);
	req = fq_req_alloc(q);
	if (!req)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_SEQUENCE,
					  "more commands outstanding than the queue size");
	q->last_activity_ns = q->r->now_ns;
	fq_req_set_state(req, FQ_REQ_EXEC);
	req->cmd = *sqe;
	if (!q->sqflow_disabled && q->sqsize)
		q->sqhd = (uint16_t)((q->sqhd + 1) % q->sqsize);
	st = check_sgl(q, req, icdata);
	if (icdata) {
		pl->ctx = req;
		if (st) {
			/* Swallow the data, then fail the command. */
			req->cqe.status = st;
			q->rx_discard = true;
			return 0;
		}
		if (!borrow_incapsule(q, req, inplace, icdata) &&
		    fq_req_get_buf(req, req->xfer_len)) {
			/*
			 * No buffer for the in-capsule data. Waiting here would stop
			 * this socket, and the buffers may be held by this very
			 * connection's R2T'd writes whose H2CData sits behind us: a
			 * deadlock. Swallow the data and fail the command with
			 * Command Interrupted, which tells the host to retry.
			 */
			req->cqe.status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_INTERRUPTED);
			q->rx_discard = true;
			return 0;
		}
		fq_req_set_state(req, FQ_REQ_RX_DATA);
		pl->buf = req->buf;
		return 0;
	}
	if (st)
		fq_req_complete(req, st);
	else
		fq_req_start(req);
	return closing(q);
}

/* Host data for the R2T that named @d->ttag: into the request's buffer. */
static int on_host_data(void *arg, const struct fq_tcp_data_info *d, struct fq_tcp_place *pl)
{
	struct fq_queue *q = arg;
	struct fq_req *req;

	q->rx_discard = false;
	if (d->ttag >= q->nreqs || q->reqs[d->ttag].state != FQ_REQ_NEED_DATA)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_TTAG,
					  "H2CData with an unknown transfer tag");
	req = &q->reqs[d->ttag];
	if (req->cmd.cid != d->cid)
		return fq_tcp_conn_reject(&q->conn, FQ_TCP_FAULT_CID,
					  "H2CData CCCID does not match the transfer tag");
	/* The connection checks the range against these before placing. */
	pl->expect_off = req->rcvd;
	pl->xfer_len = req->xfer_len;
	pl->buf = req->buf + d->off;
	pl->ctx = req;
	return 0;
}

/* All data of the current PDU (and its digest) arrived. */
static int on_data_done(void *arg, void *ctx, const struct fq_tcp_data_info *d, bool digest_ok)
{
	struct fq_queue *q = arg;
	struct fq_req *req = ctx;

	if (q->rx_discard) {
		fq_req_complete(req, req->cqe.status);
		return closing(q);
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
	if (!d->incapsule) {
		req->rcvd += d->len;
		if (req->rcvd < req->xfer_len)
			return closing(q);
	} else {
		req->rcvd = req->xfer_len;
	}
	if (req->ddgst_error) {
		fq_req_complete(req, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_TRANSIENT_TRANSPORT));
		return closing(q);
	}
	fq_req_data_ready(req);
	return closing(q);
}

/* The connection cannot go on: close the queue (a TermReq of ours leaves first). */
static void on_failed(void *arg, const struct fq_tcp_fail *f)
{
	struct fq_queue *q = arg;

	switch (f->kind) {
	case FQ_TCP_FAIL_PROTO:
		fq_warn("protocol error from %s (qid %u): %s; sending C2HTermReq FES 0x%x (%s) "
			"FEI %u",
			q->peer, q->qid, f->why, f->fes, f->fes_name, f->fei);
		/* The tick closes the socket if the TermReq sticks. */
		q->last_activity_ns = q->r->now_ns;
		queue_close(q, "fatal transport error");
		break;
	case FQ_TCP_FAIL_PEER_TERM:
		fq_warn("host %s terminated the connection: FES 0x%x (%s) FEI %u", q->peer, f->fes,
			f->fes_name, f->fei);
		queue_close(q, "H2CTermReq received");
		break;
	case FQ_TCP_FAIL_CLOSED:
		queue_close(q, "peer closed the connection");
		break;
	default:
		queue_close(q, f->why);
		break;
	}
}

/* After each engine completion: a closed queue may be freed now. */
static void on_io_done(void *arg)
{
	queue_maybe_destroy(arg);
}

static const struct fq_tcp_conn_ops tgt_conn_ops = {
	.ready = on_ready,
	.command = on_command,
	.data = on_host_data,
	.data_done = on_data_done,
	.failed = on_failed,
	.io_done = on_io_done,
};
