/* SPDX-License-Identifier: MIT */
/*
 * Internals of the storage interface: the handle, its requests, the backend
 * ops table and the pieces the source files share.
 *
 * One application operation is one struct sto_req. The core turns it into
 * block-aligned backend I/Os (struct sto_bio): unaligned edges go through
 * bounce blocks, a write with partial edge blocks first reads them. A write
 * holds a lock on its block range from start to final completion, so
 * overlapping writes run one after the other and a retry can never be
 * reordered with a later write (docs/storage-api.md, "Retries").
 */
#ifndef FQ_STORAGE_INT_H
#define FQ_STORAGE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fabriq/storage.h"
#include "config.h"
#include "names.h"

#define STO_MAX_NS 64
#define STO_MAX_IO (16u << 20) /* largest single operation, bytes */
#define STO_BIO_IOVS 3	       /* head bounce, application buffer, tail bounce */

/* One namespace as the core sees it. */
struct sto_ns {
	uint32_t nsid;
	uint32_t bs;
	uint32_t bs_shift;
	uint64_t nblocks;
	bool has_nguid;
	bool has_uuid;
	uint8_t nguid[16];
	uint8_t uuid[16];
	void *be; /* backend handle (struct fq_ns *, or the file) */
};

/* Errors a backend reports with a completion. */
#define STO_BIO_TRANSIENT (1u << 0) /* may succeed if sent again */

struct sto_bio;
typedef void (*sto_bio_fn)(struct sto_bio *bio, int err, unsigned flags);

/* One block-aligned backend I/O. */
struct sto_bio {
	enum fq_storage_op op;
	struct sto_ns *ns;
	uint64_t lba;
	uint32_t nlb;
	struct iovec iov[STO_BIO_IOVS];
	int iovcnt;
	sto_bio_fn done;
	struct sto_req *req;
	/* Backend scratch: progress of a bio sent in several pieces. */
	uint32_t be_done;
	void *be_qp;
};

struct sto_backend_ops {
	const char *name;
	/* Connect / open files and fill st->ns[]. */
	int (*open)(struct fq_storage *st, void **ctx);
	void (*close)(void *ctx);
	/* 0 if I/O can be sent now; -ENOTCONN while reconnecting; -ENODEV if gone. */
	int (*ready)(void *ctx);
	/* Queue @bio. 0; -EAGAIN no free slot; -ENOTCONN not connected; -errno. */
	int (*submit)(void *ctx, struct sto_bio *bio);
	/* Hand queued submissions to the kernel. */
	int (*kick)(void *ctx);
	/* Run completions; wait up to @wait_ns for one (0: do not wait). */
	int (*poll)(void *ctx, int64_t wait_ns);
	/* Fill the connection part of @h; return as fq_storage_health_check(). */
	int (*health)(void *ctx, struct fq_storage_health *h);
	/* Request slots the backend can hold (sizes the request pool). */
	uint32_t (*capacity)(void *ctx);
};

extern const struct sto_backend_ops sto_file_ops;
extern const struct sto_backend_ops sto_nvmeof_ops;

enum sto_req_state {
	REQ_FREE = 0,
	REQ_WAITING, /* for an overlapping write or for bounce blocks */
	REQ_RMW,     /* reading partial edge blocks of a write */
	REQ_IO,	     /* main I/O in flight */
	REQ_RETRY,   /* failed transiently; resent at the next turn */
	REQ_DONE,    /* result known; callback pending */
};

struct sto_req {
	struct fq_storage *st;
	struct sto_req *next;		   /* free, wait, retry or done list */
	struct sto_req *lk_prev, *lk_next; /* range-lock list (writes) */
	enum sto_req_state state;
	enum fq_storage_op op;
	struct sto_ns *ns;
	uint64_t offset;
	size_t len;
	uint8_t *buf;
	fq_storage_cb cb;
	void *cb_arg;
	int *result_out;
	/* Block cover of [offset, offset + len). */
	uint64_t lba;
	uint32_t nlb;
	uint32_t head_off; /* offset within the first block */
	bool head_part;	   /* first block only partly covered */
	bool tail_part;	   /* last block only partly covered (and not the first) */
	uint8_t *blk[2];   /* bounce blocks: head, tail */
	/* Read-modify-write edge reads; bit 0 head, bit 1 tail. */
	uint8_t rmw_need;
	uint8_t rmw_sent;
	uint8_t rmw_inflight;
	bool rmw_stalled; /* a read found no slot; resend when the other completes */
	bool rmw_transient;
	int rmw_err;
	int result;
	uint32_t retries;
	uint64_t t_start;
	struct sto_bio bio[2]; /* main I/O uses [0]; RMW reads use both */
};

/* Fixed-size bounce blocks (mem_pool_size / mem_block_size of them). */
struct sto_pool {
	uint8_t *mem;
	void **free;
	uint32_t nfree;
	uint32_t total;
	uint32_t block;
};

#define STO_LAT_BUCKETS (64 * 16)

struct sto_op_acc {
	uint64_t ops, bytes, errors, retries;
	uint64_t lat_sum, lat_min, lat_max;
	uint32_t hist[STO_LAT_BUCKETS];
};

struct sto_stats {
	struct sto_op_acc op[FQ_STORAGE_NUM_OPS];
	uint64_t rmw_reads;
	uint64_t bounce_bytes;
	uint64_t t_reset;
	uint32_t outstanding_max;
	uint64_t occ_sum, occ_samples;
	uint64_t waits_spun, waits_slept;
};

/* The waiting strategy and the submission batcher (poller.c). */
struct sto_poller {
	enum sto_poll_mode mode;
	uint32_t spin_us;     /* current busy-poll window (adaptive) */
	uint32_t spin_max_us; /* its ceiling */
	uint32_t pause_us;    /* busy mode: pause between polls */
	uint64_t lat_ewma_ns; /* completion latency, smoothed */
	uint32_t misses;      /* adaptive waits that ended asleep, of the last window */
	uint32_t window;      /* waits counted in this window */
	uint32_t cooldown;    /* waits left with spinning switched off */
	/* batcher */
	bool adaptive_batch;
	uint32_t batch; /* current submissions per kernel entry */
	uint32_t batch_max;
	uint32_t unkicked;  /* submissions not yet handed to the kernel */
	uint64_t rate_t0;   /* start of the current rate window */
	uint32_t rate_n;    /* submissions in it */
	uint64_t rate_ewma; /* submissions per second */
	bool holding;	    /* inside fq_storage_batch(): kick at batch_max only */
};

struct fq_storage {
	struct sto_config cfg;
	const struct sto_backend_ops *be;
	void *be_ctx;
	struct sto_ns ns[STO_MAX_NS];
	unsigned nns;
	int name_ns[STO_MAX_NAMES]; /* cfg.names[i] -> index in ns[] */
	struct sto_req *reqs;
	uint32_t nreqs;
	struct sto_req *free_reqs;
	struct sto_req *wait_head, *wait_tail;	 /* FIFO: blocked requests */
	struct sto_req *retry_head, *retry_tail; /* resend at the next turn */
	struct sto_req *done_head, *done_tail;	 /* callbacks to run */
	struct sto_req *locked;			 /* writes holding a block range */
	struct sto_pool pool;
	struct sto_stats stats;
	struct sto_poller poller;
	uint32_t outstanding;
	uint64_t last_completion_ns;
	int last_errno;
	char last_error[256];
	bool in_poll; /* inside a backend poll/kick: no nested kicks */
};

/* storage.c */
uint64_t sto_now_ns(void);
__attribute__((format(printf, 3, 4))) void sto_set_error(struct fq_storage *st, int err,
							 const char *fmt, ...);

/* names.c */
int sto_resolve(struct fq_storage *st, const char *name, struct sto_ns **out);
int sto_resolve_config_names(struct fq_storage *st, char *err, size_t errlen);

/* req.c: the request life cycle. */
int sto_reqs_init(struct fq_storage *st, uint32_t n);
void sto_reqs_fini(struct fq_storage *st);
struct sto_req *sto_req_get(struct fq_storage *st);
int sto_req_start(struct fq_storage *st, struct sto_req *r);
/* Resend retries and unblock waiters; then run callbacks. Returns callbacks run. */
int sto_req_turn(struct fq_storage *st);

/* pool.c */
int sto_pool_init(struct sto_pool *p, uint64_t bytes, uint32_t block);
void sto_pool_fini(struct sto_pool *p);
void *sto_pool_get(struct sto_pool *p);
void sto_pool_put(struct sto_pool *p, void *blk);

/* stats.c */
void sto_stats_reset(struct sto_stats *s);
void sto_stats_complete(struct sto_stats *s, const struct sto_req *r, uint64_t now);
void sto_stats_submit(struct sto_stats *s, uint32_t outstanding);
void sto_stats_export(const struct fq_storage *st, struct fq_storage_stats *out);
unsigned sto_lat_bucket(uint64_t ns);
uint64_t sto_lat_bucket_value(unsigned b);

/* poller.c */
void sto_poller_init(struct sto_poller *p, const struct sto_config *c);
/* Note a completion's latency (adapts the busy-poll window). */
void sto_poller_note_latency(struct sto_poller *p, uint64_t lat_ns);
/* Note one submission; returns true when the batch is due for a kick. */
bool sto_poller_note_submit(struct sto_poller *p, uint64_t now);
/* Kick the backend if anything is queued. */
int sto_kick(struct fq_storage *st);
/* One turn: kick, poll the backend without sleeping, run callbacks. */
int sto_turn(struct fq_storage *st);
/* Wait per polling_mode until a callback ran or @deadline_ns (0: none). */
int sto_wait_until(struct fq_storage *st, uint64_t deadline_ns);
/* The window a waiter would busy-poll now, in microseconds. */
uint32_t sto_poller_spin_us(const struct sto_poller *p);

#endif
