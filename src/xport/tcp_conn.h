/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/TCP connection, for either role (NVMe/TCP 1.0 §3.3, §3.6).
 *
 * It owns what is the same at the host and at the target: the byte stream
 * (stream.h), the receive buffer and the framer (proto/tcp_rx.c), receive
 * posting with direct placement of large data into the role's buffers, the
 * ICReq/ICResp exchange and what it negotiates (digests, MAXH2CDATA), the
 * transmit queue with its batching into one vectored send, partial sends,
 * and the TermReq either side may send. The role above sees NVMe commands,
 * not PDUs: a target is told of command capsules and host data and sends
 * responses, read data and R2Ts; a host is told of responses, controller
 * data and R2Ts and sends commands and host data.
 *
 * Threading: a connection is used by one thread at a time. When @lock is
 * set, the engine completions take it around everything they do (the
 * host's admin queue is shared with its controller's service thread).
 *
 * Lifetime: the role frees a connection only once fq_tcp_conn_busy() is
 * false after fq_tcp_conn_close() or fq_tcp_conn_shutdown(); ops->io_done
 * runs after every completion, as its last use of the connection, so the
 * role can check there.
 */
#ifndef FQ_XPORT_TCP_CONN_H
#define FQ_XPORT_TCP_CONN_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "proto/nvme.h"
#include "proto/tcp_build.h"
#include "proto/tcp_rx.h"
#include "xport/engine.h"
#include "xport/stream.h"

#define FQ_TCP_CONN_TX_IOV 512 /* iovecs one vectored send carries (~170 read responses) */
#define FQ_TCP_CONN_RX_IOV 33  /* direct receive: data segments, then the receive buffer */
#define FQ_TCP_UNIT_IOV 3      /* header, one data segment, data digest */
/* Data still to come above which a receive goes straight to the role's buffers. */
#define FQ_TCP_DIRECT_MIN (16u * 1024)

struct fq_tcp_conn;
struct fq_tcp_batch;

/*
 * A unit of transmission: one PDU (header, data, digest) sent in order,
 * then done(). It lives in the role's object (a request), which keeps it
 * and the data it points at alive until done() runs: after the last byte
 * left, or when the connection dropped it unsent (fq_tcp_unit_sent() tells).
 */
struct fq_tcp_unit {
	/* What the sender walks, first: it stays in one cache line. */
	struct fq_tcp_unit *next;
	struct iovec *iov; /* iov_own, or the role's array (fq_tcp_unit_init) */
	int iovcnt;
	uint32_t len;
	void (*done)(struct fq_tcp_unit *u);
	bool sent;
	uint8_t iovcap;
	uint32_t ddgst;
	struct iovec iov_own[FQ_TCP_UNIT_IOV];
	/* A CapsuleCmd header at most (ICReq/ICResp use the connection's own room). */
	union {
		struct fq_tcp_hbuf_small small;
		struct fq_tcp_hbuf_cmd cmd;
	} h;
};

/*
 * Set a unit up once: @iov/@cap is room for the PDU's iovecs (the data
 * segments plus two), or NULL for the unit's own three.
 */
void fq_tcp_unit_init(struct fq_tcp_unit *u, struct iovec *iov, int cap,
		      void (*done)(struct fq_tcp_unit *u));

static inline bool fq_tcp_unit_sent(const struct fq_tcp_unit *u)
{
	return u->sent;
}

/* A data PDU as the role sees it: H2CData at the target, C2HData at the host. */
struct fq_tcp_data_info {
	uint16_t cid;
	uint16_t ttag;
	uint32_t off;
	uint32_t len;
	bool last;
	bool success;	/* C2HData SUCCESS: completes the command (§3.6.2.7) */
	bool incapsule; /* in-capsule data of a command (target) */
};

/* Where the role wants data to go; all zero discards it. */
struct fq_tcp_place {
	const struct iovec *iov; /* byte @off on of these @iovcnt segments, */
	int iovcnt;
	uint32_t off;
	void *buf;	     /* ... or this flat buffer */
	void *ctx;	     /* given back to data_done and rx_hold */
	uint32_t expect_off; /* data PDUs: the offset the next one must start at */
	uint32_t xfer_len;   /* data PDUs: the command's transfer length */
};

/* What the role names when it rejects a header (it picks FES and FEI). */
enum fq_tcp_fault {
	FQ_TCP_FAULT_SEQUENCE, /* PDU Sequence Error: a PDU at the wrong time */
	FQ_TCP_FAULT_CID,      /* unknown command identifier */
	FQ_TCP_FAULT_TTAG,     /* unknown transfer tag */
	FQ_TCP_FAULT_FLAGS,    /* flags that do not fit the command */
	FQ_TCP_FAULT_R2TL,     /* R2T length */
	FQ_TCP_FAULT_R2TO,     /* R2T range outside the command's data */
};

/* Why a connection ended (ops->failed). */
enum fq_tcp_fail_kind {
	FQ_TCP_FAIL_PROTO,     /* a protocol rule broke: a TermReq of ours goes out first */
	FQ_TCP_FAIL_PEER_TERM, /* the peer sent a TermReq */
	FQ_TCP_FAIL_IC,	       /* host: the ICResp was not acceptable */
	FQ_TCP_FAIL_CLOSED,    /* the peer closed the stream */
	FQ_TCP_FAIL_IO,	       /* a receive or send failed */
};

struct fq_tcp_fail {
	enum fq_tcp_fail_kind kind;
	int err;	 /* -EPROTO, -ECONNRESET or the stream's -errno */
	const char *why; /* one sentence */
	uint16_t fes;	 /* PROTO, PEER_TERM: fatal error status and field */
	uint32_t fei;
	const char *fes_name;
};

/* Negotiated at ICReq/ICResp. */
struct fq_tcp_params {
	bool hdgst, ddgst;
	uint32_t maxh2cdata; /* host: the controller's limit on one H2CData */
};

/*
 * What the role provides. Callbacks that return int return 0 to go on; a
 * role that failed the connection (fq_tcp_conn_reject, or its own close)
 * returns non-zero, and the receive stops there.
 */
struct fq_tcp_conn_ops {
	/* ICReq (target) or ICResp (host) accepted: fq_tcp_conn_params() holds the result. */
	int (*ready)(void *arg);
	/*
	 * Target: a command capsule. @icdata bytes of in-capsule data follow;
	 * @inplace points at all of them (and their digest) when they are
	 * already in the receive buffer, for a role that consumes them before
	 * returning to the loop (set @pl->buf = @inplace). Fill @pl for them.
	 */
	int (*command)(void *arg, const struct fq_sqe *sqe, uint32_t icdata, const uint8_t *inplace,
		       struct fq_tcp_place *pl);
	/* Host: a response capsule. */
	int (*response)(void *arg, const struct fq_cqe *cqe);
	/* A data PDU's header: fill @pl, or reject. */
	int (*data)(void *arg, const struct fq_tcp_data_info *d, struct fq_tcp_place *pl);
	/* The data of a placed PDU (or a command's in-capsule data) is in. */
	int (*data_done)(void *arg, void *ctx, const struct fq_tcp_data_info *d, bool digest_ok);
	/* Host: ready to transfer @len bytes at @off of command @cid, tag @ttag. */
	int (*r2t)(void *arg, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len);
	/*
	 * Optional: a receive that writes straight into @ctx's buffers was
	 * posted (@held) or has completed; the role keeps them until then.
	 */
	void (*rx_hold)(void *arg, void *ctx, bool held);
	/* The connection cannot go on; called once. The role then closes it. */
	void (*failed)(void *arg, const struct fq_tcp_fail *f);
	/* Optional: an engine completion was handled; the last use of the connection. */
	void (*io_done)(void *arg);
};

struct fq_tcp_conn_opts {
	bool is_target;
	const struct fq_tcp_conn_ops *ops;
	void *arg;
	uint32_t rxbuf_size;
	pthread_mutex_t *lock; /* taken by engine completions, or NULL */
	/* Target: limits the ICResp and the framer enforce. */
	uint32_t max_h2c_data;
	uint32_t max_icdata;
	/* Target: commands one receive starts per loop turn (0: no limit). */
	uint32_t rx_budget;
	/* Host: the digests the ICReq asks for. */
	bool want_hdgst, want_ddgst;
	/*
	 * Units queued since the last send that make the connection send at
	 * once instead of at the role's flush (0: only at the flush). Only
	 * where the stream's engine belongs to the thread that queues.
	 */
	uint32_t eager_units;
	/* Where sends are batched (target), or NULL: the role calls fq_tcp_conn_flush. */
	struct fq_tcp_batch *batch;
	const char *peer; /* "addr:port" for messages */
};

/*
 * Connections of one thread that queued sends this turn, and those whose
 * received bytes wait for the next turn (the receive budget).
 */
struct fq_tcp_batch {
	struct fq_tcp_conn *flush;
	struct fq_tcp_conn *resume;
};

struct fq_tcp_conn {
	struct fq_tcp_conn_opts o;
	struct fq_stream stream;
	bool has_stream; /* false: manual mode, the caller moves the bytes */
	bool started;
	bool ic_done;
	bool failed;	   /* ops->failed was called */
	bool term_queued;  /* a TermReq of ours is queued: keep sending until it is out */
	bool closing;	   /* fq_tcp_conn_close(): shut down once the TermReq is out */
	bool shut;	   /* the stream was shut down */
	uint32_t draining; /* units are being handed back */
	uint32_t in_io;	   /* inside an engine completion or a resume */
	struct fq_tcp_params params;
	/* Receive. */
	struct fq_tcp_rx rx;
	uint8_t *rxbuf;
	struct fq_uop rx_uop;
	bool rx_posted;
	struct msghdr rx_msg;
	struct iovec rx_iov[FQ_TCP_CONN_RX_IOV];
	uint32_t rx_direct;  /* bytes of the posted receive that go to the role's buffers */
	void *rx_direct_ctx; /* ... whose place ctx that is */
	void *rx_ctx;	     /* place ctx of the current PDU's data */
	bool rx_has_ctx;     /* data_done is due for the current PDU */
	struct fq_tcp_data_info rx_info;
	uint32_t rx_off, rx_len; /* bytes of rxbuf not yet fed (budget) */
	uint32_t rx_cmds;
	bool rx_held; /* waiting on the batch's resume list */
	struct fq_tcp_conn *next_resume;
	/* Transmit. */
	struct fq_tcp_unit *tx_head, *tx_tail;
	size_t tx_off;		     /* bytes of tx_head already sent */
	struct fq_tcp_unit *tx_last; /* the last unit the posted send covers */
	struct fq_uop tx_uop;
	bool tx_posted;
	uint32_t tx_unposted; /* units queued since the last send was posted */
	bool eager_hold;      /* the role: the peer has work enough, leave sends to the flush */
	bool tx_dirty;	      /* on the batch's flush list */
	struct fq_tcp_conn *next_flush;
	struct msghdr tx_msg;
	struct iovec tx_iov[FQ_TCP_CONN_TX_IOV];
	/* ICReq/ICResp and TermReq: separate units, a TermReq may follow a queued ICResp. */
	struct fq_tcp_unit ic_unit;
	struct fq_tcp_hbuf_ic ic_hdr;
	struct fq_tcp_unit term_unit;
	uint8_t term_data[FQ_TCP_TERM_MAX_DATA];
	char why[160];
};

/* Set @c up (no stream yet). Returns 0 or -ENOMEM. */
int fq_tcp_conn_init(struct fq_tcp_conn *c, const struct fq_tcp_conn_opts *o);
/* Free what init allocated (and close the stream); fq_tcp_conn_busy() must be false. */
void fq_tcp_conn_fini(struct fq_tcp_conn *c);
/* Close the stream (its socket) once fq_tcp_conn_busy() is false; init state stays. */
void fq_tcp_conn_release(struct fq_tcp_conn *c);

/*
 * Start on @stream (copied), or in manual mode with NULL: the caller then
 * moves bytes with fq_tcp_conn_feed() and fq_tcp_conn_gather()/_advance().
 * A host sends its ICReq; both roles post the first receive.
 */
void fq_tcp_conn_start(struct fq_tcp_conn *c, const struct fq_stream *stream);

/*
 * Stop: no more input is acted on, units nobody started to send are
 * dropped, and the stream is shut down at once, or once a TermReq of ours
 * has left. Idempotent.
 */
void fq_tcp_conn_close(struct fq_tcp_conn *c);
/* Shut the stream down now, whatever is queued (a peer that never reads). */
void fq_tcp_conn_shutdown(struct fq_tcp_conn *c);
/* Operations in flight or units not yet handed back: not ready to be freed. */
bool fq_tcp_conn_busy(const struct fq_tcp_conn *c);
/* A TermReq of ours waits to go out. */
static inline bool fq_tcp_conn_terminating(const struct fq_tcp_conn *c)
{
	return c->term_queued;
}

static inline const struct fq_tcp_params *fq_tcp_conn_params(const struct fq_tcp_conn *c)
{
	return &c->params;
}

/*
 * From a receive callback: the current PDU breaks a rule of the role. The
 * connection fails (ops->failed) and sends a TermReq naming the field.
 * Returns -EPROTO for the callback to return.
 */
int fq_tcp_conn_reject(struct fq_tcp_conn *c, enum fq_tcp_fault f, const char *why);

/* Drop queued units nobody started to send (their done() runs). */
void fq_tcp_conn_drop_unstarted(struct fq_tcp_conn *c);

/* ---- sending: each queues @u (not queued already); sent at the next flush ---- */

/* Target: CapsuleResp (§3.6.2.5). */
void fq_tcp_conn_send_rsp(struct fq_tcp_conn *c, struct fq_tcp_unit *u, const struct fq_cqe *cqe);
/*
 * Target: read data in one C2HData with LAST (§3.6.2.7); @success completes
 * the command without a CapsuleResp (SQ flow control disabled). @cold: the
 * data is likely not in the CPU cache (for the data digest).
 */
void fq_tcp_conn_send_c2h(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid,
			  const struct iovec *data, int cnt, uint32_t len, bool success, bool cold);
/* Target: R2T for @len bytes at @off (§3.6.2.8). */
void fq_tcp_conn_send_r2t(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid, uint16_t ttag,
			  uint32_t off, uint32_t len);
/* Host: CapsuleCmd with @icdata bytes of @data in the capsule (§3.6.2.4). */
void fq_tcp_conn_send_cmd(struct fq_tcp_conn *c, struct fq_tcp_unit *u, const struct fq_sqe *sqe,
			  const struct iovec *data, int cnt, uint32_t icdata);
/* Host: H2CData, bytes [@off, @off + @len) of @data (§3.6.2.6). */
void fq_tcp_conn_send_h2c(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid, uint16_t ttag,
			  const struct iovec *data, int cnt, uint32_t off, uint32_t len, bool last);

/* Post one vectored send of everything queued, unless one is in flight. */
void fq_tcp_conn_flush(struct fq_tcp_conn *c);

/* Once per loop turn: connections whose received bytes waited go on. */
void fq_tcp_batch_resume(struct fq_tcp_batch *b);
/* ... then every connection that queued units posts its send. */
void fq_tcp_batch_flush(struct fq_tcp_batch *b);
static inline bool fq_tcp_batch_rx_waiting(const struct fq_tcp_batch *b)
{
	return b->resume != NULL;
}

/* ---- manual mode (no stream): the caller plays the socket ---- */

/* Bytes the peer sent. Returns 0, or non-zero once the connection failed. */
int fq_tcp_conn_feed(struct fq_tcp_conn *c, const uint8_t *buf, size_t len);
/* Up to @max iovecs of what is queued, from the first unsent byte. */
int fq_tcp_conn_gather(struct fq_tcp_conn *c, struct iovec *iov, int max);
/* @n gathered bytes went out. */
void fq_tcp_conn_advance(struct fq_tcp_conn *c, size_t n);

#endif
