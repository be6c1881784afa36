/* SPDX-License-Identifier: MIT */
/*
 * A byte stream under an NVMe/TCP connection: receive, send, shut down,
 * close, as operations on the I/O engine. The connection (tcp_conn.c)
 * speaks only to this table, so a stream that is not a plain socket (TLS,
 * NVMe/TCP 1.0 §3.6.1.6 and TP 8011, or a fake one in tests) plugs in here
 * without the host or the target knowing.
 *
 * Completions come back through the fq_uop the caller passes: op->done(op,
 * res, 0) with the byte count, 0 at the end of the stream, or -errno. A
 * stream has at most one receive and one send in flight; the caller keeps
 * the message and its iovecs alive until the completion.
 */
#ifndef FQ_XPORT_STREAM_H
#define FQ_XPORT_STREAM_H

#include <sys/socket.h>

#include "xport/engine.h"

struct fq_stream;

struct fq_stream_ops {
	/* Receive into @msg's iovecs (short receives are normal). */
	void (*recv)(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg);
	/* Send @msg's iovecs (short sends are normal). */
	void (*send)(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg);
	/* No more traffic either way: operations in flight complete soon. */
	void (*shutdown)(struct fq_stream *s);
	/*
	 * Optional: hand what was posted to the kernel now rather than at the
	 * end of the loop turn (a socket stream on io_uring: submit).
	 */
	void (*push)(struct fq_stream *s);
	/* Release the stream; nothing may be in flight. */
	void (*close)(struct fq_stream *s);
};

struct fq_stream {
	const struct fq_stream_ops *ops;
	struct fq_engine *eng; /* where a socket stream's operations go */
	int fd;
	void *priv; /* an implementation's own state */
};

/* A plain TCP socket on @eng; the stream owns @fd from now on. */
void fq_stream_socket(struct fq_stream *s, struct fq_engine *eng, int fd);

static inline void fq_stream_recv(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	s->ops->recv(s, op, msg);
}

static inline void fq_stream_send(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	s->ops->send(s, op, msg);
}

static inline void fq_stream_push(struct fq_stream *s)
{
	if (s->ops->push)
		s->ops->push(s);
}

static inline void fq_stream_shutdown(struct fq_stream *s)
{
	s->ops->shutdown(s);
}

static inline void fq_stream_close(struct fq_stream *s)
{
	s->ops->close(s);
}

#endif
