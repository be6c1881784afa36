/* SPDX-License-Identifier: MIT */
/* Internal state of controllers, namespaces, qpairs and poll groups. */
#ifndef FQ_HOST_INT_H
#define FQ_HOST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabriq/host.h"
#include "host/hq.h"
#include "proto/nvme.h"
#include "proto/nvmf.h"
#include "xport/engine.h"
#include "xport/loop.h"

#define ADMIN_INLINE_MAX (FQ_TCP_ADMIN_CCSZ - 64) /* admin capsule minus the SQE */
#define SVC_TICK_NS 50000000ull			  /* service thread timer granularity */

struct fq_ns {
	struct fq_ctrlr *ctrlr;
	uint32_t nsid;
	bool active;
	uint32_t sector_size;
	uint64_t nsze;
	bool has_nguid, has_eui64, has_uuid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint8_t uuid[16];
	struct fq_id_ns id;
};

struct fq_ctrlr {
	struct fq_trid trid;
	struct fq_ctrlr_opts opts;
	bool discovery;
	struct sockaddr_storage sa;
	socklen_t salen;
	char peer[FQ_TRADDR_LEN + FQ_TRSVCID_LEN + 4];

	/*
	 * The service thread owns the admin queue and own_eng. An embedded
	 * controller (opts.loop) has no thread: svc_timer runs the service
	 * turn on the caller's loop, whose engine eng points to.
	 */
	pthread_mutex_t lock; /* recursive: admin callbacks may submit */
	pthread_cond_t cond;
	pthread_t svc;
	bool svc_started;
	bool stop;
	struct fq_loop *loop; /* NULL: threaded */
	struct fq_timer svc_timer;
	bool in_svc; /* svc_timer's turn is running (embedded) */
	struct fq_engine own_eng;
	struct fq_engine *eng;
	int evfd;
	struct fq_uop ev_op;
	uint64_t ev_val;
	bool ev_busy;
	struct hq admin;
	bool admin_connect_req;
	bool reset_req;
	char reset_reason[128];

	/* Controller state (atomics: read lock-free by qpair threads). */
	_Atomic int state;	    /* enum fq_ctrlr_state */
	_Atomic uint32_t reset_gen; /* bumped when a reset starts */
	uint16_t cntlid;
	uint64_t cap;
	uint32_t vs;
	struct fq_id_ctrl id;
	uint32_t num_io_queues;
	uint32_t max_xfer;
	uint32_t io_inline_max;
	uint32_t io_queue_max; /* largest I/O queue size allowed */
	uint32_t kato_ms;

	/* Keep-alive and async events (service thread). */
	bool ka_on;
	bool ka_busy;
	uint64_t ka_next_ns;
	bool aer_on;
	uint8_t changed_ns_log[4096];
	bool ns_changed;

	/* Reconnect policy: a thread, or reset_timer on an embedded controller. */
	struct fq_timer reset_timer;
	pthread_t reset_thr;
	bool reset_thr_running;
	bool reset_thr_done;
	uint64_t loss_deadline_ns;
	atomic_uint reconnects; /* read by other threads (health checks) */

	/* I/O queue IDs handed out (index = qid). */
	uint8_t *qid_used;
	uint32_t nr_qpairs;
	uint32_t last_qid; /* rotate: the target may still be releasing a freed QID */

	/* Namespaces: pointers stay valid until disconnect. */
	struct fq_ns **ns;
	uint32_t ns_num;
	uint32_t ns_cap;
};

struct fq_poll_group {
	struct fq_loop *loop; /* set: eng is that loop's engine */
	struct fq_engine own_eng;
	struct fq_engine *eng;
	struct fq_qpair *qps;
	uint32_t nr;
};

struct fq_qpair {
	struct fq_ctrlr *ctrlr;
	struct hq q;
	struct fq_engine own_eng;
	struct fq_engine *eng;
	struct fq_poll_group *pg;
	struct fq_qpair *pg_next;
	struct fq_loop *loop;	 /* the loop that services it, or NULL */
	struct fq_poller poller; /* on @loop: timers, resets, reconnects */
	uint16_t qid;
	uint32_t qsize;
	uint32_t reset_gen;
	bool freeing;
	bool initial; /* first connect: a failure fails the call, not the controller */
};

/* admin.c: the service thread and admin submission. */
int ctrlr_svc_start(struct fq_ctrlr *c);
void ctrlr_svc_stop(struct fq_ctrlr *c);
void ctrlr_wake(struct fq_ctrlr *c);
/*
 * Wait @ms: sleep on a threaded controller; on an embedded one, turn its
 * loop meanwhile, so what else runs there (a target, other queues) goes on.
 */
void ctrlr_sleep(struct fq_ctrlr *c, uint32_t ms);
int ctrlr_admin_submit(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		       uint32_t timeout_ms, fq_cmd_cb cb, void *arg);
int ctrlr_admin_sync(struct fq_ctrlr *c, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		     uint32_t timeout_ms, struct fq_cpl *cpl);
int ctrlr_admin_connect(struct fq_ctrlr *c);
void ctrlr_request_reset(struct fq_ctrlr *c, const char *why);
void ctrlr_start_aer(struct fq_ctrlr *c);
void ctrlr_set_state(struct fq_ctrlr *c, enum fq_ctrlr_state s);
/* Change the state only if it is @from; returns whether it did. */
bool ctrlr_set_state_if(struct fq_ctrlr *c, enum fq_ctrlr_state from, enum fq_ctrlr_state to);

/* ctrlr.c */
int ctrlr_bringup(struct fq_ctrlr *c, bool first);
void ctrlr_on_admin_closed(struct fq_ctrlr *c);
int ctrlr_prop_get(struct fq_ctrlr *c, uint32_t ofst, bool wide, uint64_t *val);
int ctrlr_prop_set(struct fq_ctrlr *c, uint32_t ofst, uint32_t val);

/* reset.c */
void *ctrlr_reset_main(void *arg);
void ctrlr_reset_timer_fn(struct fq_loop *l, struct fq_timer *t);

/* ns.c */
int ctrlr_scan_ns(struct fq_ctrlr *c);
void ctrlr_free_ns(struct fq_ctrlr *c);

/* qpair.c */
int qpair_service(struct fq_qpair *qp, uint64_t now);
uint32_t qpair_max_blocks(const struct fq_qpair *qp, const struct fq_ns *ns);

/* poll_group.c */
void pg_add(struct fq_poll_group *pg, struct fq_qpair *qp);
void pg_remove(struct fq_poll_group *pg, struct fq_qpair *qp);

/* error.c */
void host_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void host_clear_error(void);

/* opts.c */
int host_default_identity(char *hostnqn, size_t len, uint8_t hostid[16]);
int host_resolve(const struct fq_trid *t, struct sockaddr_storage *sa, socklen_t *salen);

/*
 * Blocking wait shared by qpairs and poll groups: call @turn(@ctx, wait_ns)
 * in slices of at most SVC_TICK_NS until it reports completions (returns
 * them), fails (returns -errno) or @timeout_ms passes (returns 0; -1 waits
 * forever). The slices keep keep-alive and timeouts serviced while asleep.
 */
int hq_wait_loop(int timeout_ms, int (*turn)(void *ctx, int64_t wait_ns), void *ctx);

#endif
