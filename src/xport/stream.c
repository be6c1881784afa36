/* SPDX-License-Identifier: MIT */
/*
 * The plain-socket stream: receives and sends are io_uring operations on
 * the engine (or the engine's inline attempts when it busy-polls).
 */
#include "xport/stream.h"

#include <sys/socket.h>
#include <unistd.h>

static void sock_recv(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	/* One buffer: a plain receive, which the busy-polling engine retries inline. */
	if (msg->msg_iovlen == 1)
		fq_engine_recv(s->eng, op, s->fd, msg->msg_iov[0].iov_base,
			       (uint32_t)msg->msg_iov[0].iov_len);
	else
		fq_engine_recvmsg(s->eng, op, s->fd, msg);
}

static void sock_send(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	/* A peer that went away must fail the send, not kill the process. */
	fq_engine_sendmsg(s->eng, op, s->fd, msg, MSG_NOSIGNAL);
}

static void sock_push(struct fq_stream *s)
{
	/* Errors of the submit come back as the send's completion or the next turn's. */
	(void)fq_engine_flush_sends(s->eng);
}

static void sock_shutdown(struct fq_stream *s)
{
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
}

static void sock_close(struct fq_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static const struct fq_stream_ops sock_ops = {
	.recv = sock_recv,
	.send = sock_send,
	.shutdown = sock_shutdown,
	.push = sock_push,
	.close = sock_close,
};

void fq_stream_socket(struct fq_stream *s, struct fq_engine *eng, int fd)
{
	s->ops = &sock_ops;
	s->eng = eng;
	s->fd = fd;
	s->priv = NULL;
}
