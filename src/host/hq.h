/* SPDX-License-Identifier: MIT */
/*
 * The host side of one NVMe/TCP connection (one queue pair): request slots,
 * connection bring-up, timers, and the host role on the connection object
 * (xport/tcp_conn.h), which does the framing, the digests and the socket
 * I/O. The queue sees commands, responses, controller data and R2Ts.
 *
 * Without an engine the connection runs in manual mode: hq_rx_feed()
 * hands it bytes and hq_tx_gather()/hq_tx_advance() take what it sends, so
 * unit tests drive the queue with a fake transport.
 *
 * A struct hq is used by one thread at a time: the qpair owner, or the
 * controller's service thread (with hq->lock held) for the admin queue.
 */
#ifndef FQ_HOST_HQ_H
#define FQ_HOST_HQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fabriq/host.h"
#include "proto/nvme.h"
#include "proto/nvmf.h"
#include "xport/engine.h"
#include "xport/tcp_conn.h"

#define HQ_MAX_DEPTH 1024 /* request slots; CID = generation << 10 | index */
#define HQ_IDX_BITS 10
#define HQ_PDU_IOVS (FQ_MAX_IOVS + 2) /* header, data segments, data digest */
#define HQ_SEND_IOVS 256	      /* iovecs a fake transport takes at once */
#define HQ_EAGER_SEND 8	    /* units queued before they leave without waiting for the turn's end */
#define HQ_EAGER_BACKLOG 16 /* commands at the target from which sends wait for the turn's end */
#define HQ_RXBUF_SIZE (128 * 1024)
#define HQ_SCRATCH 64 /* small per-request payload (DSM ranges, ...) */
#define HQ_ERRMSG 1024

/* Connection states, in bring-up order. */
enum hq_state {
	HQ_CLOSED = 0,	   /* no socket */
	HQ_TCP_CONNECT,	   /* TCP connect in flight */
	HQ_IC,		   /* ICReq sent, waiting for ICResp */
	HQ_FABRIC_CONNECT, /* Fabrics Connect sent */
	HQ_LIVE,	   /* commands flow */
	HQ_CLOSING,	   /* failed or closing; waiting for engine ops to finish */
	HQ_NUM_STATES,
};
const char *hq_state_name(enum hq_state s);

struct hq;
struct hreq;

enum hreq_dir {
	HREQ_NONE = 0,
	HREQ_H2C, /* host to controller (write-like) */
	HREQ_C2H, /* controller to host (read-like) */
};

struct hreq {
	struct hq *q;
	uint16_t idx;
	uint16_t gen;
	bool in_use;
	bool is_parent;	  /* groups children, never on the wire */
	bool tx_queued;	  /* a unit of ours is on the connection's send queue */
	bool rsp_done;	  /* response (or failure) recorded in cpl */
	bool inline_data; /* data travels in the capsule */
	bool r2t_active;
	bool abort_sent;
	bool force_inline; /* Connect: data always in-capsule */
	bool rx_direct;	   /* a posted receive writes into this command's buffers */
	enum hreq_dir dir;
	struct fq_sqe sqe;
	int iovcnt;
	uint32_t len;	   /* data bytes */
	uint32_t c2h_off;  /* next C2HData offset expected */
	uint32_t h2c_off;  /* next H2CData offset to send */
	uint32_t h2c_end;  /* end of the current R2T */
	uint32_t h2c_done; /* highest byte offset sent */
	uint16_t ttag;
	uint16_t local_status; /* host-detected error (e.g. data digest) */
	struct fq_cpl cpl;
	fq_cmd_cb cb;
	void *cb_arg;
	uint32_t timeout_ms;
	uint64_t deadline_ns; /* 0: none */
	/* Split and fused commands. */
	struct hreq *parent;
	uint32_t children;  /* parent: children not yet completed */
	uint32_t child_no;  /* child: position, lowest failing one wins */
	uint32_t err_child; /* parent: position of the recorded error */
	struct hreq *next_free;
	void *heap; /* freed at completion (large DSM range lists) */
	/*
	 * Everything above from in_use on is zeroed for each new command;
	 * the arrays below (1.2 KiB) are written before they are read, and
	 * clearing them cost 3-4% of the host's CPU at 4 KiB QD128.
	 */
	struct iovec iov[FQ_MAX_IOVS]; /* iovcnt valid entries */
	struct fq_tcp_unit unit;       /* the CapsuleCmd or the current H2CData */
	struct iovec unit_iov[HQ_PDU_IOVS];
	uint8_t scratch[HQ_SCRATCH];
};

/* Hooks the owner of a connection provides. */
struct hq_ops {
	/* The connection became LIVE, or reached CLOSED. */
	void (*state_change)(struct hq *q, enum hq_state old);
	/* A command passed its deadline once; return true if it was handled. */
	bool (*timeout)(struct hq *q, struct hreq *r);
};

/* What the Fabrics Connect of this queue carries (NVMe-oF 1.1 §3.3). */
/* deadline_ns value of a command whose timer the next scan starts. */
#define HQ_DEADLINE_ARM UINT64_MAX

struct hq_params {
	uint16_t qid;
	uint16_t sqsize; /* 0's based */
	uint16_t cntlid; /* 0xFFFF on the admin queue */
	uint32_t kato_ms;
	bool disable_sqflow; /* Connect CATTR bit 2 */
	bool hdgst;
	bool ddgst;
	uint32_t connect_timeout_ms;
	uint32_t cmd_timeout_ms; /* default per-command timeout, 0 = none */
	uint32_t inline_max;	 /* in-capsule data limit once live */
	char subnqn[FQ_NQN_LEN + 1];
	char hostnqn[FQ_NQN_LEN + 1];
	uint8_t hostid[16];
	char peer[FQ_TRADDR_LEN + FQ_TRSVCID_LEN + 4]; /* "addr:port" for messages */
};

struct hq {
	enum hq_state state;
	const struct hq_ops *ops;
	void *owner;
	pthread_mutex_t *lock; /* taken by engine callbacks if set */
	struct hq_params p;

	/* Engine and socket (the TCP connect; then the connection's stream). */
	struct fq_engine *eng;
	int fd;
	struct fq_uop conn_op;
	bool conn_busy;
	struct sockaddr_storage addr;
	socklen_t addrlen;

	/* The NVMe/TCP connection: framing, digests, sends and receives. */
	struct fq_tcp_conn conn;
	uint16_t cntlid; /* from the Connect response */

	struct fq_connect_data connect_data;

	/* Requests. */
	struct hreq *reqs;
	uint32_t depth;	      /* slots */
	uint32_t wire_max;    /* commands allowed on the wire at once */
	uint32_t wire_count;  /* commands on the wire */
	uint32_t outstanding; /* slots in use */
	struct hreq *free_list;
	struct hreq *connect_req;

	/* Timers. */
	uint64_t step_deadline_ns; /* connect steps and closing */
	uint64_t next_scan_ns;

	/* Failure. */
	bool err_dnr; /* the target said do not retry (Connect rejected with DNR) */
	int err;
	char errmsg[HQ_ERRMSG];
	uint64_t completions; /* callbacks run, for process_completions counts */
};

/* Lifetime. @depth request slots, @wire_max <= @depth commands on the wire. */
int hq_init(struct hq *q, uint32_t depth, uint32_t wire_max, const struct hq_ops *ops, void *owner);
void hq_fini(struct hq *q);

/* Requests (hq_req.c). */
struct hreq *hq_req_get(struct hq *q);
void hq_req_put(struct hreq *r);
int hq_req_set_data(struct hreq *r, const struct iovec *iov, int iovcnt, enum hreq_dir dir);
int hq_submit(struct hreq *r);
void hq_req_finish(struct hreq *r, const struct fq_cpl *cpl);
void hq_req_try_release(struct hreq *r);
struct hreq *hq_req_lookup(struct hq *q, uint16_t cid);
void hq_set_status(struct fq_cpl *cpl, uint16_t cid, unsigned sct, unsigned sc, bool dnr);
void hq_fail_all(struct hq *q, unsigned sct, unsigned sc);
/* Fill @cmd's data into @r (opcode decides direction). */
int hq_req_from_raw(struct hreq *r, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len);

/* The host role on the connection (hq_rx.c): what it is told. */
extern const struct fq_tcp_conn_ops hq_conn_ops;
/* Manual mode: bytes from the controller. Returns 0, or -EPROTO once the queue failed. */
int hq_rx_feed(struct hq *q, const uint8_t *buf, size_t len);

/* Transmit side (hq_tx.c). */
void hq_tx_cmd(struct hq *q, struct hreq *r);
void hq_tx_next_h2c(struct hreq *r);
/* Manual mode: up to @max iovecs of what is queued; returns the count. */
int hq_tx_gather(struct hq *q, struct iovec *iov, int max);
/* Manual mode: @n bytes of the gathered data went out. */
void hq_tx_advance(struct hq *q, size_t n);

/* Connection control (hq_conn.c). */
int hq_start(struct hq *q, struct fq_engine *eng, const struct sockaddr *sa, socklen_t salen);
void hq_fail(struct hq *q, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The connection failed (the role's failed callback). */
void hq_conn_failed(struct hq *q, const struct fq_tcp_fail *f);
/* ICResp accepted: go on with Fabrics Connect. */
void hq_on_icresp(struct hq *q);
void hq_check_timers(struct hq *q, uint64_t now_ns);
void hq_set_state(struct hq *q, enum hq_state s);
/* Maybe finish CLOSING -> CLOSED once no engine op is in flight. */
void hq_maybe_closed(struct hq *q);

/*
 * Socket glue (hq_sock.c): the TCP connect, then the connection on a
 * socket stream. With no engine (q->eng == NULL) the connection runs in
 * manual mode (a fake transport).
 */
void hq_sock_connect(struct hq *q);
/* Send what the connection queued, unless a send is in flight. */
void hq_sock_kick(struct hq *q);
void hq_sock_shutdown(struct hq *q);

uint64_t hq_now_ns(void);

#endif
