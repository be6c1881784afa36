/* SPDX-License-Identifier: MIT */
/*
 * io_uring glue of a host queue: one receive and at most one vectored send
 * in flight per connection. Receives land in a per-queue buffer and are
 * parsed there (one copy into the caller's read buffers); sends point at the
 * caller's write buffers (no copy).
 */
#include "hq.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static void lock(struct hq *q)
{
	if (q->lock)
		pthread_mutex_lock(q->lock);
}

static void unlock(struct hq *q)
{
	if (q->lock)
		pthread_mutex_unlock(q->lock);
}

static bool open_state(const struct hq *q)
{
	return q->state == HQ_IC || q->state == HQ_FABRIC_CONNECT || q->state == HQ_LIVE;
}

static void recv_done(struct fq_uop *op, int res, uint32_t flags)
{
	struct hq *q = container_of(op, struct hq, recv_op);
	struct hreq *direct;

	(void)flags;
	lock(q);
	direct = q->rx_direct;
	q->recv_busy = false;
	q->rx_direct = NULL;
	if (direct)
		direct->rx_direct = false;
	if (res > 0 && open_state(q)) {
		uint32_t n = 0; /* bytes that went straight to the caller's buffers */

		if (direct)
			n = (uint32_t)res < q->rx_direct_len ? (uint32_t)res : q->rx_direct_len;
		if (n)
			hq_rx_direct(q, n);
		if ((uint32_t)res > n && open_state(q))
			hq_rx_feed(q, q->rxbuf, (size_t)res - n);
	} else if (res == 0)
		hq_fail(q, -ECONNRESET, "connection closed by %s", q->p.peer);
	else if (res < 0)
		hq_fail(q, res, "receive from %s failed: %s", q->p.peer, strerror(-res));
	/* Completion of that command may have waited for this receive. */
	if (direct)
		hq_req_try_release(direct);
	if (open_state(q))
		hq_sock_recv(q);
	hq_sock_kick(q);
	hq_maybe_closed(q);
	unlock(q);
}

static void send_done(struct fq_uop *op, int res, uint32_t flags)
{
	struct hq *q = container_of(op, struct hq, send_op);

	(void)flags;
	lock(q);
	q->send_busy = false;
	if (res > 0)
		hq_tx_advance(q, (size_t)res);
	else if (res < 0 && res != -EAGAIN && res != -EINTR)
		hq_fail(q, res, "send to %s failed: %s", q->p.peer, strerror(-res));
	if (q->state == HQ_CLOSING) {
		if (res < 0)
			hq_tx_abandon(q);
		hq_tx_drop_unstarted(q);
		if (!q->tx_head)
			hq_sock_shutdown(q);
	}
	hq_sock_kick(q);
	hq_maybe_closed(q);
	unlock(q);
}

/*
 * A connect to a local port with no listener can pick that same port as its
 * source and connect to itself (TCP simultaneous open, RFC 793 3.4): the
 * "connection" then holds the port the target needs to listen on again, so
 * a host retrying while its target restarts would keep the target from
 * coming back. Such a socket is a refused connect.
 */
static bool self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);

	if (getsockname(fd, (struct sockaddr *)&a, &al) ||
	    getpeername(fd, (struct sockaddr *)&b, &bl))
		return false;
	return al == bl && !memcmp(&a, &b, al);
}

static void conn_done(struct fq_uop *op, int res, uint32_t flags)
{
	struct hq *q = container_of(op, struct hq, conn_op);

	(void)flags;
	lock(q);
	q->conn_busy = false;
	if (q->state != HQ_TCP_CONNECT) {
		hq_maybe_closed(q);
	} else if (res < 0) {
		hq_fail(q, res, "TCP connect to %s failed: %s", q->p.peer, strerror(-res));
	} else if (self_connected(q->fd)) {
		hq_fail(q, -ECONNREFUSED, "TCP connect to %s failed: %s", q->p.peer,
			strerror(ECONNREFUSED));
	} else {
		hq_set_state(q, HQ_IC);
		hq_tx_icreq(q);
		hq_sock_recv(q);
		hq_sock_kick(q);
	}
	unlock(q);
}

void hq_sock_connect(struct hq *q)
{
	struct io_uring_sqe *sqe;
	int one = 1;

	q->recv_op.done = recv_done;
	q->send_op.done = send_done;
	q->conn_op.done = conn_done;
	if (!q->eng) {
		hq_set_state(q, HQ_IC);
		hq_tx_icreq(q);
		return;
	}
	q->fd = socket(q->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		hq_fail(q, -errno, "socket() for %s failed: %s", q->p.peer, strerror(errno));
		return;
	}
	/* Small PDUs (responses, R2Ts' answers) must not wait for Nagle. */
	setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sqe = fq_engine_sqe(q->eng, &q->conn_op);
	io_uring_prep_connect(sqe, q->fd, (struct sockaddr *)&q->addr, q->addrlen);
	q->conn_busy = true;
}

void hq_sock_recv(struct hq *q)
{
	if (!q->eng || q->recv_busy || q->fd < 0 || q->shut)
		return;
	q->recv_busy = true;
	/*
	 * The rest of a large read payload is still on the wire: receive it
	 * straight into the caller's buffers (no copy out of rxbuf), and what
	 * follows it into rxbuf. The command cannot complete to the caller
	 * while this receive may still write (hq_req_try_release waits).
	 */
	if (q->rx_req && fq_tcp_rx_data_left(&q->rx) >= HQ_RX_DIRECT_MIN) {
		struct hreq *r = q->rx_req;
		int n = fq_tcp_rx_dst_iov(&q->rx, q->rx_iov, FQ_MAX_IOVS);

		q->rx_iov[n].iov_base = q->rxbuf;
		q->rx_iov[n].iov_len = q->rxcap;
		memset(&q->rx_msg, 0, sizeof(q->rx_msg));
		q->rx_msg.msg_iov = q->rx_iov;
		q->rx_msg.msg_iovlen = (size_t)n + 1;
		q->rx_direct = r;
		q->rx_direct_len = fq_tcp_rx_data_left(&q->rx);
		r->rx_direct = true;
		fq_engine_recvmsg(q->eng, &q->recv_op, q->fd, &q->rx_msg);
		return;
	}
	fq_engine_recv(q->eng, &q->recv_op, q->fd, q->rxbuf, q->rxcap);
}

void hq_sock_kick(struct hq *q)
{
	int n;

	if (!q->eng || q->send_busy || !q->tx_head || q->fd < 0 || q->shut)
		return;
	if (q->state != HQ_IC && q->state != HQ_FABRIC_CONNECT && q->state != HQ_LIVE &&
	    q->state != HQ_CLOSING)
		return;
	n = hq_tx_gather(q, q->send_iov, HQ_SEND_IOVS);
	memset(&q->send_msg, 0, sizeof(q->send_msg));
	q->send_msg.msg_iov = q->send_iov;
	q->send_msg.msg_iovlen = (size_t)n;
	q->send_busy = true;
	fq_engine_sendmsg(q->eng, &q->send_op, q->fd, &q->send_msg, MSG_NOSIGNAL);
}

void hq_sock_shutdown(struct hq *q)
{
	if (q->shut)
		return;
	q->shut = true;
	if (q->fd >= 0)
		shutdown(q->fd, SHUT_RDWR);
	/* A connect in flight is not ended by shutdown(); cancel it. */
	if (q->eng && q->conn_busy) {
		struct io_uring_sqe *sqe = fq_engine_sqe_noop(q->eng);

		io_uring_prep_cancel(sqe, &q->conn_op, 0);
	}
}
