/* SPDX-License-Identifier: MIT */
/*
 * Target internals shared by the files of src/target/.
 *
 * Threading: each reactor is one fq_loop (its own thread's, or the caller's
 * with fq_target_opts.loop) and owns the loop's engine (io_uring), its
 * connections (queues), their requests and a buffer pool. A queue is touched
 * only by its reactor. Controllers are shared between the reactor of their
 * admin queue and the reactors of their I/O queues; everything a non-owner
 * reads is either immutable after Connect or atomic (csts, dead). The
 * registry of controllers and subsystems changes only under tgt->lock, which
 * is taken at Connect and teardown, never per I/O.
 */
#ifndef FQ_TARGET_TGT_H
#define FQ_TARGET_TGT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bdev/bdev.h"
#include "proto/copy.h"
#include "proto/nvmf.h"
#include "target/config.h"
#include "target/xprt.h"
#include "xport/engine.h"
#include "xport/loop.h"
#include "xport/tcp_conn.h"

#define FQ_TGT_MAX_AER 4
#define FQ_TGT_KAS_MS 100 /* KAS granularity advertised in Identify (100 ms units) */
#define FQ_TGT_ADMIN_QSIZE 128
#define FQ_TGT_RXBUF (128 * 1024)
#define FQ_TGT_SMALL_BUF 8192
/*
 * Commands one connection may start per reactor turn: a burst from one
 * host (up to 128 KiB of capsules, ~1,800 reads) is cut into turns, so the
 * other connections on the reactor are served in between.
 */
#define FQ_TGT_RX_BUDGET 64
#define FQ_TGT_CHANGED_NS_MAX 1024
#define FQ_TGT_MAX_QID 1024
/* Subsystems created at run time (one per exported volume) may go this far. */
#define FQ_TGT_MAX_LIVE_SUBSYS 65536
/* Latency buckets: i holds commands under 2^i us (from 2^(i-1)); the last, the rest. */
#define FQ_TGT_LAT_BUCKETS 24

struct fq_tgt;
struct fq_reactor;
struct fq_queue;
struct fq_ctrl;

/*
 * Per-command statistics of a namespace (the counters and latency
 * histograms below): one relaxed atomic add each. A build configured with
 * -Dio_stats=false compiles them out, to measure what they cost
 * (bench/stats_cost.sh); the SMART log, iostat and /metrics then report
 * zeros. Not for production builds.
 */
#ifdef FQ_NO_IO_STATS
#define fq_stat_add(var, n) ((void)sizeof(var), (void)(n))
#else
#define fq_stat_add(var, n) atomic_fetch_add_explicit(&(var), (n), memory_order_relaxed)
#endif

struct fq_tgt_ns {
	uint32_t nsid;
	struct fq_bdev *bdev;
	uint8_t nguid[16];
	uint8_t uuid[16];
	uint8_t lbads;		/* log2(block size) */
	struct fq_ns_conf conf; /* what it was made from, to compare on reload */
	struct fq_tgt_ns *next_removed;
	/* A named bdev's borrower: the bdev belongs to the registry, never closed here. */
	struct fq_tgt_bdev *lender;
	/* Statistics for the SMART log; relaxed atomics, no locks. */
	atomic_uint_fast64_t reads, writes, bytes_read, bytes_written;
	atomic_uint_fast64_t errors; /* I/O commands completed with an error status */
	/*
	 * Latency of reads [0] and writes [1], arrival to response sent, in
	 * log2 buckets of microseconds (fq_tgt_lat_bucket); relaxed atomics
	 * like the counters above.
	 */
	atomic_uint_fast64_t lat[2][FQ_TGT_LAT_BUCKETS];
	atomic_uint_fast64_t lat_sum_ns[2];
	/* Errors by status: [0] generic, [1] command specific, [2] media, [3] other types. */
	atomic_uint_fast64_t errors_sct[4];
};

/*
 * A named bdev at run time (live_bdev.c): a stack opened on its own
 * ([bdev] sections, bdev_create) and lent to at most one namespace at a
 * time ("bdev:NAME"). Slots never move (namespaces point at them); changed
 * under cfg_lock.
 */
#define FQ_TGT_BDEV_SLOTS (2 * FQ_CONF_MAX_BDEVS)
struct fq_tgt_bdev {
	char name[FQ_CONF_BDEV_NAME_MAX + 1]; /* "" = a free slot */
	struct fq_ns_conf conf;		      /* its spec */
	struct fq_bdev *bdev;
	struct fq_tgt_ns *user; /* the namespace using it, or NULL */
	char user_nqn[FQ_CONF_NQN_LEN];
	/* A namespace used it: a removed one's commands may still be at the bdev. */
	bool lent;
	bool deleted; /* deleted after it was lent: hidden, closed at exit */
};

struct fq_subsys {
	char nqn[FQ_CONF_NQN_LEN];
	char serial[21];
	char model[41];
	bool discovery;
	bool allow_any_host;
	int nhosts;
	char (*hosts)[FQ_CONF_NQN_LEN];
	/*
	 * Active namespaces. Readers (any reactor) load the table once per
	 * command; a reload publishes a new table and retires the old one,
	 * which stays allocated until exit so readers never see freed memory.
	 */
	_Atomic(struct fq_tgt_ns_table *) nstab;
	struct fq_tgt_ns_table *retired;
	struct fq_tgt_ns *removed; /* namespaces taken out by a reload, freed at exit */
	uint32_t port_mask;	   /* bit i: exported on port i */
	/*
	 * Deleted at run time (live.c): out of tgt->subsys, kept allocated
	 * until exit because controllers and queues may still point at it.
	 */
	bool deleted;
	struct fq_subsys *next_dead;
};

/* An immutable, sorted snapshot of a subsystem's namespaces. */
struct fq_tgt_ns_table {
	uint32_t n;
	uint32_t max_nsid;
	struct fq_tgt_ns_table *next_retired;
	struct fq_tgt_ns *ns[];
};

/* Highest NSID a controller reports (NN); namespaces may be added up to it. */
#define FQ_TGT_NN 1024

static inline struct fq_tgt_ns_table *fq_subsys_ns(const struct fq_subsys *s)
{
	return atomic_load_explicit(&((struct fq_subsys *)s)->nstab, memory_order_acquire);
}

struct fq_port {
	int idx;
	struct fq_port_conf conf;
	int fd;
	int family;
	const struct fq_xprt_ops *xprt; /* the transport its connections use */
	struct fq_uop accept_uop;
	bool accept_armed;
	struct fq_reactor *reactor; /* the acceptor */
};

/* Controller, NVMe-oF 1.1 dynamic model: one per admin queue. */
struct fq_ctrl {
	uint16_t cntlid;
	struct fq_subsys *subsys;
	struct fq_port *port;
	char hostnqn[FQ_CONF_NQN_LEN];
	uint8_t hostid[16];
	struct fq_queue *admin; /* owned by admin->r */
	atomic_uint csts;
	uint32_t cc;
	uint32_t kato_ms;
	uint64_t ka_deadline_ns;
	uint32_t aec;	       /* Async Event Configuration */
	uint32_t nr_io_queues; /* granted I/O queues (0 until Set Features) */
	bool vwc;
	atomic_bool dead;
	atomic_int refs; /* admin + I/O queues + registry */
	/* Admin-reactor-only state. */
	uint16_t aer_cids[FQ_TGT_MAX_AER];
	struct fq_req *aer_reqs[FQ_TGT_MAX_AER];
	int naer;
	uint32_t pending_events; /* bitmask of FQ_EV_* not yet reported */
	/* Namespace changes posted by a reload, taken by the admin reactor. */
	atomic_bool ns_change_posted;
	uint32_t posted_ns[64];
	int nposted; /* under tgt->lock; > 64 means "list overflowed" */
	uint32_t changed_ns[FQ_TGT_CHANGED_NS_MAX];
	int nchanged;
	bool changed_overflow;
	uint64_t err_count;
	uint64_t ioq_map[FQ_TGT_MAX_QID / 64 + 1]; /* connected I/O qids, under tgt->lock */
	atomic_uint io_qdepth;			   /* entries of the last I/O queue connected */
	atomic_bool disconnect_req;		   /* asked to go by management (live.c) */
	struct fq_ctrl *next;			   /* registry list */
};

#define FQ_EV_NS_CHANGED (1u << 0)
#define FQ_EV_DISC_CHANGED (1u << 1)

/* Request states (one enum, one setter: fq_req_set_state in req.c). */
enum fq_req_state {
	FQ_REQ_FREE,
	FQ_REQ_RX_DATA,	  /* in-capsule data arriving */
	FQ_REQ_NEED_BUF,  /* waiting for a data buffer */
	FQ_REQ_NEED_DATA, /* host data asked for (R2T on TCP), arriving */
	FQ_REQ_EXEC,	  /* at the backend or being handled */
	FQ_REQ_AER,	  /* held Async Event Request */
	FQ_REQ_TX,	  /* response (and data) queued or being sent */
	FQ_REQ_NUM_STATES,
};

struct fq_req {
	struct fq_queue *q;
	uint16_t ttag; /* index in q->reqs */
	enum fq_req_state state;
	struct fq_sqe cmd;
	struct fq_cqe cqe;
	/* Data. */
	uint8_t *buf;	   /* pooled buffer, or NULL */
	int buf_class;	   /* pool class of buf */
	bool buf_borrowed; /* buf points into the receive buffer, not the pool */
	uint32_t xfer_len; /* bytes the command transfers */
	uint32_t rcvd;	   /* H2C / in-capsule bytes received so far */
	bool data_in;	   /* host-to-controller data */
	bool incapsule;
	bool ddgst_error;
	bool close_after;      /* Disconnect: close the queue once the response is out */
	struct iovec data_iov; /* data to send to the host */
	struct fq_bdev_io bio;
	struct fq_tgt_ns *ns;
	uint64_t start_ns;		 /* the reactor's clock when the command arrived */
	uint8_t *cmp_buf;		 /* Compare: data read back from the backend */
	struct fq_bdev_copy_range *copy; /* Copy: the decoded source ranges */
	uint32_t step;			 /* multi-step commands (DSM ranges, flush-all, FUA) */
	/* Transmission: headers live in the units, so sending needs no allocation. */
	struct fq_tcp_unit tx;	/* response, or read data */
	struct fq_tcp_unit tx2; /* R2T, or the response after read data */
	struct fq_req *next_wait;
};

enum fq_conn_state {
	FQ_CONN_IC_WAIT, /* waiting for ICReq */
	FQ_CONN_LIVE,
	FQ_CONN_CLOSING, /* TermReq queued or peer gone: no new commands */
	FQ_CONN_NUM_STATES,
};

/*
 * One NVMe queue (admin or I/O). The core uses the queue part and reaches
 * the host through xprt; the rest is the NVMe/TCP connection (conn.c).
 */
struct fq_queue {
	uint64_t id;
	const struct fq_xprt_ops *xprt; /* its transport */
	struct fq_reactor *r;
	struct fq_port *port;
	char peer[64];
	char local[64]; /* our address as the host reached it */
	enum fq_conn_state state;
	bool sqflow_disabled;
	/*
	 * The NVMe/TCP connection (xport/tcp_conn.h): receives (budgeted per
	 * reactor turn, large data straight into request buffers), the send
	 * queue batched per turn, digests, ICReq and TermReq.
	 */
	struct fq_tcp_conn conn;
	bool rx_discard; /* the current in-capsule data is skipped: its command failed */
	/* Queue. */
	uint16_t qid;
	uint16_t sqsize; /* entries (1's based) */
	uint16_t sqhd;
	struct fq_ctrl *ctrl;
	struct fq_req *reqs;
	uint32_t nreqs;
	struct fq_req *free_reqs; /* via next_wait */
	uint32_t busy;		  /* requests not FREE */
	uint32_t ops;		  /* backend operations in flight referencing this queue */
	bool shut; /* closed: the connection is shutting down; waiting for references to drop */
	bool in_drain;
	struct fq_queue *next; /* reactor list */
	struct fq_queue *prev;
	uint64_t last_activity_ns;
};

/* Per-reactor pool of data buffers in two size classes. */
struct fq_bufpool {
	uint8_t *mem[2];
	uint8_t **free[2];
	uint32_t nfree[2];
	uint32_t count[2];
	uint32_t size[2];
};

/*
 * A reactor: one fq_loop (src/xport/loop.h) and what the target keeps on it.
 * Its engine is the loop's, its periodic work a loop timer, and other
 * threads reach it through loop messages. Threaded reactors own their loop
 * and a thread turning it; a target started on a caller's loop
 * (fq_target_opts.loop) has one reactor on that loop and no thread.
 */
struct fq_reactor {
	int idx;
	struct fq_tgt *tgt;
	pthread_t thread;     /* the reactor's, or the one that started it on a caller's loop */
	struct fq_loop *loop; /* &own_loop, or the caller's */
	struct fq_loop own_loop;
	bool own; /* own_loop was set up (threaded reactor) */
	struct fq_bufpool pool;
	struct fq_queue *queues;
	atomic_int nqueues;
	/* Connections with sends queued this turn, or received bytes held back (budget). */
	struct fq_tcp_batch batch;
	struct fq_req *wait_head, *wait_tail; /* NEED_BUF requests */
	bool wake_pending; /* buffers came back: hand them to waiters at the next flush */
	int exec_depth;	   /* nested fq_exec calls: 1 at most (completions never dispatch) */
	/* Runs on every turn of the loop: sends, resumed receives, buffer waiters. */
	struct fq_poller poller;
	/* Periodic work (keep-alive expiry, idle handshakes, dead controllers). */
	struct fq_timer tick;
	/*
	 * Other threads reach the reactor through messages on its loop: an
	 * accepted socket handed over by the acceptor (one allocated message
	 * each), a fq_target_run_on_reactor call (on the caller's stack), and
	 * kick_msg, "look again": namespace changes posted to controllers,
	 * ports to accept on, the stop. kick_posted keeps kick_msg on the
	 * inbox at most once.
	 */
	struct fq_msg kick_msg;
	atomic_bool kick_posted;
	uint64_t now_ns;   /* the loop's clock at the start of the current turn */
	uint64_t start_ns; /* when the reactor started (busy = elapsed - idle) */
	bool acceptor;
	bool stopped;
	bool drained; /* its connections are closed (set before it waits for the others) */
	bool started;
};

struct fq_tgt {
	struct fq_target_conf *conf;
	int nsubsys;
	int subsys_cap; /* slots of subsys; live.c grows it under lock */
	struct fq_subsys **subsys;
	struct fq_subsys disc;
	int nports;
	struct fq_port *ports;
	int nreactors;
	struct fq_reactor *reactors;
	struct fq_loop *loop; /* the caller's loop (fq_target_opts.loop), or NULL */
	/*
	 * lock guards the registry: controllers, the subsystem and port arrays,
	 * hosts and port masks (read at Connect and for the discovery log).
	 * cfg_lock serializes whole configuration changes (reload, live.c) so
	 * one can open backends without holding lock.
	 */
	pthread_mutex_t lock;
	pthread_mutex_t cfg_lock;
	struct fq_subsys *dead_subsys; /* deleted at run time, freed at exit */
	struct fq_ctrl *ctrls;
	uint16_t next_cntlid;
	uint64_t genctr;
	atomic_bool stopping;
	/* Ports are bound but connections wait in the backlog (fq_tgt_hold_accept). */
	atomic_bool hold_accept;
	/* Start failed: destroy removes the namespace files this start created. */
	bool start_failed;
	atomic_int nconns;
	atomic_uint_fast64_t next_queue_id;
	struct fq_tgt_bdev *bdevs; /* FQ_TGT_BDEV_SLOTS slots */
	uint32_t mdts;		   /* MDTS exponent (units of 4 KiB) */
};

/* tgt.c */
uint64_t fq_now_ns(void);
/* Run @fn(@arg) on reactor @idx between two of its turns and return its value. */
int fq_tgt_run_on_reactor(struct fq_tgt *t, int idx, int (*fn)(void *arg), void *arg);
struct fq_subsys *fq_tgt_find_subsys(struct fq_tgt *t, const char *nqn);
bool fq_subsys_host_allowed(const struct fq_subsys *s, const char *hostnqn);
struct fq_tgt_ns *fq_subsys_find_ns(const struct fq_subsys *s, uint32_t nsid);
bool fq_subsys_on_port(const struct fq_subsys *s, const struct fq_port *p);

/* ctrl.c */
int fq_ctrl_create(struct fq_tgt *t, struct fq_subsys *s, struct fq_queue *admin,
		   const struct fq_connect_data *d, uint32_t kato_ms, struct fq_ctrl **out);
struct fq_ctrl *fq_ctrl_lookup(struct fq_tgt *t, uint16_t cntlid, const char *subnqn,
			       const char *hostnqn);
void fq_ctrl_put(struct fq_ctrl *c);
void fq_ctrl_kill(struct fq_ctrl *c, const char *why);
void fq_ctrl_keep_alive(struct fq_ctrl *c, uint64_t now);
void fq_ctrl_check_kato(struct fq_ctrl *c, uint64_t now);
void fq_ctrl_notify_ns_change(struct fq_ctrl *c, uint32_t nsid);
void fq_ctrl_deliver_events(struct fq_ctrl *c);
void fq_ctrl_post_ns_change(struct fq_ctrl *c, uint32_t nsid);
void fq_ctrl_take_posted(struct fq_ctrl *c, struct fq_tgt *t);
int fq_ctrl_add_ioq(struct fq_ctrl *c, uint16_t qid);
void fq_ctrl_del_ioq(struct fq_ctrl *c, struct fq_tgt *t, uint16_t qid);
void fq_ctrl_check_disconnect(struct fq_ctrl *c);

/* conn.c: the NVMe/TCP transport; the core and the reactor use its ops (xprt.h). */
extern const struct fq_xprt_ops fq_tgt_xprt_tcp;

/* req.c: the request lifecycle, transport-neutral */
int fq_queue_alloc_reqs(struct fq_queue *q, uint32_t n);
/* Release a closing queue's parked requests (AER, waiting for data or a buffer). */
void fq_queue_drop_parked(struct fq_queue *q);
struct fq_req *fq_req_alloc(struct fq_queue *q);
void fq_req_set_state(struct fq_req *req, enum fq_req_state s);
/* Start a new command: fetch its write data (waiting for a buffer) or run it. */
void fq_req_start(struct fq_req *req);
/* The transport has all host data of @req: run it. */
void fq_req_data_ready(struct fq_req *req);
void fq_req_complete(struct fq_req *req, uint16_t status);
void fq_req_send_data(struct fq_req *req);
/* The transport is done with @req's response: release it (Disconnect closes). */
void fq_req_done(struct fq_req *req);
void fq_req_free(struct fq_req *req);
int fq_req_get_buf(struct fq_req *req, uint32_t len);
void fq_req_need_buf(struct fq_req *req);
/* From the reactor's poller: hand buffers freed since the last turn to waiters. */
void fq_req_wake_waiters(struct fq_reactor *r);

/* bufpool (req.c) */
int fq_bufpool_init(struct fq_bufpool *p, uint32_t small, uint32_t nsmall, uint32_t large,
		    uint32_t nlarge);
void fq_bufpool_fini(struct fq_bufpool *p);
uint8_t *fq_buf_get(struct fq_bufpool *p, uint32_t len, int *cls);
void fq_buf_put(struct fq_bufpool *p, uint8_t *buf, int cls);

/* exec: fabrics.c, admin.c, io.c, discovery.c */
void fq_exec_fabrics(struct fq_req *req);
void fq_exec_admin(struct fq_req *req);
void fq_exec_io(struct fq_req *req);
/* The Copy limits a namespace reports in Identify Namespace and enforces. */
void fq_tgt_copy_limits(const struct fq_tgt_ns *ns, struct fq_copy_limits *lim);
/* req.c: route @req to the fabrics, admin or I/O handlers. */
void fq_exec(struct fq_req *req);
void fq_discovery_log(struct fq_tgt *t, struct fq_ctrl *c, uint8_t *buf, uint64_t off,
		      uint32_t len);
uint64_t fq_discovery_log_size(struct fq_tgt *t, struct fq_ctrl *c);

/* Decoded command validation shared by executors. */
int fq_cmd_data_len(const struct fq_sqe *cmd, uint32_t *len);
uint16_t fq_errno_to_status(int err);

/* tgt.c lifecycle */
int fq_tgt_create(struct fq_target_conf *conf, struct fq_tgt **out, char *err, size_t errlen);
/*
 * The same on a caller's loop (@loop non-NULL): one reactor, no thread;
 * fq_tgt_run, fq_tgt_stop and fq_tgt_destroy are then called on the
 * loop's thread.
 */
int fq_tgt_create_on(struct fq_target_conf *conf, struct fq_loop *loop, struct fq_tgt **out,
		     char *err, size_t errlen);
int fq_tgt_run(struct fq_tgt *t);
/*
 * Keep connections in the listen backlog (before fq_tgt_run) until
 * fq_tgt_release_accept(): subsystems made right after the start then exist
 * before the first host can ask for them.
 */
void fq_tgt_hold_accept(struct fq_tgt *t);
void fq_tgt_release_accept(struct fq_tgt *t);
/* Reactors when the config leaves it to fabriqd (reactors = 0). */
int fq_tgt_default_reactors(void);
/* Apply namespace additions/removals of @conf (SIGHUP). Returns 0 or -errno. */
int fq_tgt_reload(struct fq_tgt *t, struct fq_target_conf *conf, char *err, size_t errlen);
/* @nqn: the subsystem it is for (a named bdev records its borrower). */
struct fq_tgt_ns *fq_tgt_ns_create(struct fq_tgt *t, const char *nqn, const struct fq_ns_conf *nc,
				   char *err, size_t errlen);
/* Open the stack @nc describes (its layers over its bottom bdev). */
int fq_tgt_open_stack(const struct fq_ns_conf *nc, struct fq_bdev **out, char *err, size_t errlen);
/* @ns leaves its subsystem: a named bdev it borrowed may be lent again. */
void fq_tgt_ns_release(struct fq_tgt_ns *ns);
/* live_bdev.c: open the configuration's named bdevs (start), close them all (exit). */
int fq_tgt_bdevs_open(struct fq_tgt *t, char *err, size_t errlen);
void fq_tgt_bdevs_close(struct fq_tgt *t);
/* Named bdev @name (not deleted), or NULL. */
struct fq_tgt_bdev *fq_tgt_bdev_find(struct fq_tgt *t, const char *name);
void fq_tgt_ns_destroy(struct fq_tgt_ns *ns);
int fq_tgt_ns_table_set(struct fq_subsys *s, struct fq_tgt_ns **ns, uint32_t n);
/* A subsystem made from @sc, not yet in tgt->subsys. */
struct fq_subsys *fq_subsys_new(struct fq_tgt *t, const struct fq_subsys_conf *sc, char *err,
				size_t errlen);
void fq_subsys_free(struct fq_subsys *s, bool discard);
int fq_port_listen(struct fq_port *p, char *err, size_t errlen);
/* reload.c: tell the controllers of @s that @nsid changed (caller kicks reactors). */
void fq_tgt_post_ns_change(struct fq_tgt *t, struct fq_subsys *s, uint32_t nsid);
void fq_reactor_kick(struct fq_reactor *r);
void fq_tgt_stop(struct fq_tgt *t);
void fq_tgt_destroy(struct fq_tgt *t);

#endif
