/* SPDX-License-Identifier: MIT */
/*
 * Socket glue of a host queue: the TCP connect on the engine, then the
 * NVMe/TCP connection object on a socket stream, which does the receives
 * and the vectored sends (xport/tcp_conn.c).
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

/* The socket is connected: the connection takes it over and sends the ICReq. */
static void start_conn(struct hq *q)
{
	struct fq_stream st;

	hq_set_state(q, HQ_IC);
	if (!q->eng) {
		fq_tcp_conn_start(&q->conn, NULL);
		return;
	}
	fq_stream_socket(&st, q->eng, q->fd);
	q->fd = -1;
	fq_tcp_conn_start(&q->conn, &st);
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
		start_conn(q);
	}
	unlock(q);
}

void hq_sock_connect(struct hq *q)
{
	struct io_uring_sqe *sqe;
	int one = 1;

	q->conn_op.done = conn_done;
	if (!q->eng) {
		start_conn(q);
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

void hq_sock_kick(struct hq *q)
{
	if (q->state != HQ_IC && q->state != HQ_FABRIC_CONNECT && q->state != HQ_LIVE &&
	    q->state != HQ_CLOSING)
		return;
	fq_tcp_conn_flush(&q->conn);
}

void hq_sock_shutdown(struct hq *q)
{
	fq_tcp_conn_shutdown(&q->conn);
	/* Before the connection took the socket: a connect in flight. */
	if (q->fd >= 0)
		shutdown(q->fd, SHUT_RDWR);
	/* A connect in flight is not ended by shutdown(); cancel it. */
	if (q->eng && q->conn_busy) {
		struct io_uring_sqe *sqe = fq_engine_sqe_noop(q->eng);

		io_uring_prep_cancel(sqe, &q->conn_op, 0);
	}
}
