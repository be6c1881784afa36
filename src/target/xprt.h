/* SPDX-License-Identifier: MIT */
/*
 * The cut between the target core and a transport.
 *
 * The core (req.c, fabrics.c, admin.c, io.c, ctrl.c, discovery.c) owns a
 * request from allocation to release: its state, its buffer, the CQE and the
 * command handlers. A transport owns the wire: how a command arrives, how a
 * response, read data and the request for write data leave, and when they
 * are out. The core calls the transport only through the ops of the queue
 * (fq_queue.xprt); a transport calls the core through req.c.
 *
 * NVMe/TCP (conn.c) is the first transport: send_rsp is a CapsuleResp,
 * send_data a C2HData (with the CapsuleResp after it unless SQ flow control
 * is disabled), fetch_data an R2T. Unit tests plug in a fake transport.
 *
 * Rules for a transport:
 * - send_rsp and send_data take over the request: once what they send is
 *   out (or dropped with the connection) they call fq_req_done(), which
 *   releases it. They may do so before returning (a transport that sends
 *   inline); the core never runs another command from inside it.
 * - fetch_data asks the host for req->xfer_len bytes into req->buf; once
 *   they are all there the transport calls fq_req_data_ready().
 * - close stops the queue (no new commands) and release is called whenever
 *   a request was freed or a backend answered on a closing queue, so the
 *   transport can free the queue once nothing refers to it.
 * - tick is the transport's share of the reactor's periodic work, for a
 *   queue that is not live: still in the transport's own handshake
 *   (FQ_CONN_IC_WAIT) or closing. Its deadlines (a handshake that never
 *   came, a termination the peer never reads) are the transport's; it may
 *   close the queue, which may free it.
 *
 * The reactor (tgt.c) reaches a transport through the same table, without
 * a queue: accept starts a connection the acceptor took on a port, and poll
 * runs once per loop turn for the transport's per-reactor work (batched
 * sends, receives held back by the budget). fq_tgt_xprts lists the
 * transports the target serves.
 */
#ifndef FQ_TARGET_XPRT_H
#define FQ_TARGET_XPRT_H

struct fq_req;
struct fq_queue;
struct fq_reactor;
struct fq_port;

struct fq_xprt_ops {
	const char *name;
	/* Send the completion in req->cqe (already filled). */
	void (*send_rsp)(struct fq_req *req);
	/* Send req->data_iov to the host, then the completion in req->cqe. */
	void (*send_data)(struct fq_req *req);
	/* Fetch req->xfer_len bytes of host data into req->buf (NEED_DATA; R2T on TCP). */
	void (*fetch_data)(struct fq_req *req);
	/* Stop the queue: no more commands; it goes once nothing refers to it. */
	void (*close)(struct fq_queue *q, const char *why);
	/* A reference to a closing queue went away: free it if it was the last. */
	void (*release)(struct fq_queue *q);
	/* From the reactor's tick, for a queue not live (handshake or closing). */
	void (*tick)(struct fq_queue *q);
	/* Take over @fd, accepted on @port, as a new queue of reactor @r. */
	void (*accept)(struct fq_reactor *r, int fd, struct fq_port *port);
	/*
	 * Once per turn of @r's loop, before it goes to the ring. Returns
	 * non-zero while received bytes still wait, so the loop does not sleep.
	 */
	int (*poll)(struct fq_reactor *r);
};

/* The transports of the target (xprt.c), NULL-terminated; ports use the first. */
extern const struct fq_xprt_ops *const fq_tgt_xprts[];

#endif
