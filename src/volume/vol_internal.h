/* SPDX-License-Identifier: MIT */
/*
 * Internals of the volume engine shared by its files: the in-memory pool and
 * volume, the on-disk layouts (docs/volumes.md) and the journal records.
 */
#ifndef FQ_VOLUME_VOL_INTERNAL_H
#define FQ_VOLUME_VOL_INTERNAL_H

#include "volume/volume.h"
#include "util/tbucket.h"

#include <stdbool.h>
#include <stdint.h>

#define FQ_META_BLOCK 4096u
#define FQ_SB_MAGIC "FQPOOL\0\1"
#define FQ_CKPT_MAGIC "FQCKPT01"
#define FQ_JE_MAGIC 0x454a5146u /* "FQJE" */
#define FQ_POOL_VERSION 1u

/* Map values (docs/volumes.md "Checkpoint"). */
#define MAP_NONE 0u
#define MAP_ZERO 1u
#define MAP_UNWRITTEN 0x80000000u
#define map_owned(e) ((e) >= 2u)
#define map_pcl(e) ((e) & ~MAP_UNWRITTEN)

#define VOLF_SNAPSHOT 1u
#define VOLF_THICK 2u

struct fq_sb {
	char magic[8];
	uint32_t version;
	uint32_t crc;
	uint64_t seq;
	uint8_t uuid[16];
	uint32_t cluster_size;
	uint32_t block_size;
	uint64_t nclusters;
	uint64_t journal_off;
	uint64_t journal_len;
	uint64_t ckpt_off[2];
	uint64_t ckpt_len;
	uint32_t ckpt_slot;
	uint32_t max_volumes;
	uint64_t ckpt_seq;
	uint64_t ckpt_bytes;
	uint32_t ckpt_crc;
	uint32_t first_data;
	char name[FQ_POOL_NAME_MAX];
};
_Static_assert(sizeof(struct fq_sb) == 192, "superblock layout");

struct fq_ckpt_hdr {
	char magic[8];
	uint32_t crc;
	uint32_t next_id;
	uint64_t seq;
	uint32_t nvols;
	uint32_t pad;
	uint64_t npairs;
	uint64_t bytes;
	uint64_t bitmap_off;
	uint64_t pad2;
};
_Static_assert(sizeof(struct fq_ckpt_hdr) == 64, "checkpoint header layout");

struct fq_ckpt_vol {
	uint32_t id;
	uint32_t parent;
	uint64_t size;
	uint32_t flags;
	uint32_t parent_limit;
	uint64_t write_gen;
	uint32_t nent;
	uint32_t qos_burst_ms; /* 0 in pools written before QoS: no limits, default burst */
	uint8_t uuid[16];
	char name[FQ_VOL_NAME_MAX];
	/* Reserved (zero) before QoS; 0 = no limit. */
	uint64_t qos_read_bps;
	uint64_t qos_write_bps;
	uint32_t qos_read_iops;
	uint32_t qos_write_iops;
};
_Static_assert(sizeof(struct fq_ckpt_vol) == 160, "checkpoint volume layout");
_Static_assert(offsetof(struct fq_ckpt_vol, qos_burst_ms) == 36, "checkpoint volume layout");
_Static_assert(offsetof(struct fq_ckpt_vol, uuid) == 40, "checkpoint volume layout");
_Static_assert(offsetof(struct fq_ckpt_vol, qos_read_bps) == 136, "checkpoint volume layout");
_Static_assert(offsetof(struct fq_ckpt_vol, qos_write_iops) == 156, "checkpoint volume layout");

struct fq_je_hdr {
	uint32_t magic;
	uint32_t crc;
	uint64_t seq;
	uint64_t uuid_lo;
	uint32_t len;
	uint32_t nrec;
};
_Static_assert(sizeof(struct fq_je_hdr) == 32, "journal entry header layout");

enum fq_rec_type {
	REC_SET = 1,
	REC_CREATE,
	REC_DELETE,
	REC_RESIZE,
	REC_RENAME,
	REC_SNAPSHOT,
	REC_CLONE,
	REC_ROLLBACK,
	REC_SNAPDEL,
	REC_UNPARENT,
	REC_QOS,
	REC_SHARE,
};

struct fq_rec_hdr {
	uint16_t type;
	uint16_t len; /* payload bytes */
	uint32_t pad;
};

struct rec_set {
	uint32_t vol, idx, val, pad;
};
/* SHARE: entry idx of vol := val, the written cluster entry src holds. */
struct rec_share {
	uint32_t vol, idx, src, val;
};
/* CREATE, SNAPSHOT (id = the volume, new_id = the snapshot), CLONE (id = the snapshot). */
struct rec_vol {
	uint32_t id, new_id, flags, pad;
	uint64_t size;
	uint8_t uuid[16];
	char name[FQ_VOL_NAME_MAX];
};

/* QOS: the volume's rate limits as fq_vol_set_qos stores them (0 = no limit). */
struct rec_qos {
	uint32_t id, burst_ms, read_iops, write_iops;
	uint64_t read_bps, write_bps;
};
_Static_assert(sizeof(struct rec_qos) == 32, "QoS record layout");

/*
 * The throttle and suspension gate in front of a volume's I/O (gate.c),
 * on the pool's thread. I/O waiting in it is linked through the frame the
 * gate pushes (GATE_LINK); none of it is in flight in the pool yet.
 */
enum { GATE_READ, GATE_WRITE, GATE_NDIR };
enum { GB_READ_IOPS, GB_WRITE_IOPS, GB_READ_BPS, GB_WRITE_BPS, GB_NUM };

struct gate_q {
	struct fq_bdev_io *head, *tail;
	uint32_t n;
};

struct vol_gate {
	struct fq_tbucket b[GB_NUM];
	uint64_t burst_ns;
	struct gate_q wait[GATE_NDIR]; /* over a limit, per direction, in order */
	struct gate_q held;	       /* held by a suspension, in order */
	bool suspended;
	uint64_t delayed; /* I/Os that have waited for a limit */
};

enum gate_verdict {
	GATE_GO,     /* start it now (the limits were charged) */
	GATE_QUEUED, /* waits for a limit: gate_next gives it back */
	GATE_HELD,   /* held by the suspension: gate_resume gives it back */
	GATE_FULL,   /* suspended with FQ_VOL_SUSPEND_MAX_HELD held already */
};

struct fq_vol {
	struct fq_pool *pool;
	struct fq_vol *next;
	struct fq_vol *parent;
	uint32_t id;
	uint32_t flags;
	uint64_t size;
	uint32_t parent_limit; /* clusters of the parent visible through this map */
	uint64_t write_gen;
	uint8_t uuid[16];
	char name[FQ_VOL_NAME_MAX];
	uint32_t *map;
	uint32_t map_n; /* clusters covered by size */
	uint64_t owned;
	struct fq_vol_qos qos; /* as stored (burst_ms 0 = the default) */
	struct vol_gate gate;
};

/* A waiter on a journal commit (or a checkpoint). */
struct jwait {
	void (*fn)(struct jwait *w, int rc);
	struct jwait *next;
};

/* A cluster whose allocation (or deallocation) is in flight: I/O to it waits. */
struct inflight {
	struct fq_vol *vol;
	uint32_t idx;
	struct seg *waiters, *wtail;
	struct inflight *next;
};

/* A cluster with more than one reference: how many more (refs.c). */
struct refent {
	uint32_t c, extra;
};

struct fq_pool {
	struct fq_bdev *bdev;
	struct fq_engine *eng;
	/*
	 * The engine of the thread the engine was last entered on (an I/O
	 * submitted, a completion, a management call): journal writes go there,
	 * so they complete on a ring that thread runs.
	 */
	struct fq_engine *io_eng;
	struct fq_sb sb; /* as last written */
	uint32_t cs;
	uint32_t cshift;
	uint64_t nclusters;
	uint32_t first_data;
	uint64_t *bitmap;
	uint64_t cursor;
	uint64_t owned_total;
	bool check_mode; /* opened by fq_pool_check: nothing is written */
	int failed;	 /* a metadata write failed: -EIO from now on */
	uint64_t replayed;

	struct fq_vol *vols, *vtail;
	uint32_t nvols;
	uint32_t next_id;

	/* Clusters with direct I/O in flight (busy.c). */
	struct busy_ent *busy;
	uint32_t busy_cap, busy_n;

	/* Pieces of finished requests kept for the next ones (io.c). */
	struct seg *seg_cache;
	uint32_t seg_ncache;

	/* Freed clusters waiting for a Flush (docs/volumes.md rule 4). */
	uint32_t *quar;
	uint64_t nquar, quar_cap, quar_base;

	/* Journal. */
	uint64_t jseq; /* last entry committed */
	uint64_t jtail;
	uint8_t *pend; /* records not yet written, behind room for the header */
	uint64_t pend_len, pend_cap;
	uint32_t pend_nrec;
	struct jwait *pend_w, **pend_wtail;
	bool ckpt_wanted;
	struct jwait *ckpt_w;
	bool jbusy;
	uint8_t *ibuf; /* the entry being written */
	uint64_t ibuf_cap, ilen;
	uint32_t inrec;
	struct jwait *iw;
	struct jwait *icw;
	int jstate;
	uint64_t flush_mark;
	uint8_t *ckbuf;
	uint64_t ckbytes;
	uint8_t *sbbuf; /* one 4 KiB aligned block for superblock I/O */
	struct fq_bdev_io jio;
	struct iovec jiov;

	struct inflight *inflight;

	/* Shared clusters (refs.c). */
	struct refent *rt;
	uint64_t rt_cap, rt_n;
	uint64_t shared_extra;	/* references beyond the first, over all clusters */
	uint64_t share_cap;	/* how many the checkpoint has room for */
	uint64_t share_pending; /* SHARE records not committed yet */
};

struct busy_ent {
	uint32_t c; /* data cluster; 0: empty slot */
	uint32_t n; /* I/O in flight, and BUSY_ZOMBIE once freed */
};

/*
 * busy.c: clusters with I/O in flight straight to them. busy_get before
 * the I/O starts (0 or -ENOMEM), busy_put when it ends (releases a cluster
 * freed meanwhile); busy_defer: the quarantine leaves @c to the last put
 * (true) or may release it now (false).
 */
int busy_get(struct fq_pool *p, uint32_t c);
void busy_put(struct fq_pool *p, uint32_t c);
bool busy_defer(struct fq_pool *p, uint32_t c);
void busy_free(struct fq_pool *p);

/* meta.c: the in-memory state and the records applied to it. */
struct fq_vol *vol_by_id(struct fq_pool *p, uint32_t id);
struct fq_vol *vol_by_name(struct fq_pool *p, const char *name);
struct fq_vol *vol_new(struct fq_pool *p, uint32_t id, uint32_t flags, uint64_t size,
		       const uint8_t uuid[16], const char *name);
void vol_unlink_free(struct fq_pool *p, struct fq_vol *v);
int vol_set_size(struct fq_vol *v, uint64_t size);
void bit_set(struct fq_pool *p, uint64_t c);
void bit_clear(struct fq_pool *p, uint64_t c);
bool bit_test(const struct fq_pool *p, uint64_t c);
/* A free data cluster, marked used; 0 if none. */
uint32_t cluster_alloc(struct fq_pool *p);
/* Give back a cluster no metadata points at (a failed allocation). */
void cluster_unreserve(struct fq_pool *p, uint32_t c);
/* @c is free for the taking now (quarantine and busy.c are past). */
void cluster_release(struct fq_pool *p, uint32_t c);
void quar_release(struct fq_pool *p, uint64_t mark);
/* Apply the records of one journal entry (live: frees wait for a Flush). */
int apply_records(struct fq_pool *p, const uint8_t *buf, uint64_t len, uint32_t nrec, bool live);
/* What cluster @idx of @v reads from: a data cluster, or 0 for zeroes. */
uint32_t resolve(const struct fq_vol *v, uint64_t idx);
/* The same through @v's parent only (what a copy-on-write copies). */
uint32_t resolve_parent(const struct fq_vol *v, uint64_t idx);
uint32_t dependants(const struct fq_pool *p, const struct fq_vol *v);
/*
 * Start loading the map entry @offset falls in. On a 4 KiB random I/O the
 * entry is the one line of the volume's state that is rarely in cache (the
 * data the I/O moves evicts it), so the entry point asks for it before the
 * checks that come ahead of the lookup.
 */
static inline void vol_map_prefetch(const struct fq_vol *v, uint64_t offset)
{
	uint64_t idx = offset >> v->pool->cshift;

	if (idx < v->map_n)
		__builtin_prefetch(&v->map[idx]);
}
/* QoS limits: within the ranges fq_vol_set_qos accepts (0 or -EINVAL); applied to @v. */
int qos_check(const struct fq_vol_qos *q);
void vol_apply_qos(struct fq_vol *v, const struct fq_vol_qos *q);

/* gate.c: pure queueing over the token buckets; @now in CLOCK_MONOTONIC ns. */
void gate_init(struct vol_gate *g, const struct fq_vol_qos *q);
/* New limits: they apply from now on, to the I/O waiting too. */
void gate_set(struct vol_gate *g, const struct fq_vol_qos *q);
/* @io has a gate frame pushed (gate_push) before it is admitted. */
enum gate_verdict gate_admit(struct vol_gate *g, struct fq_bdev_io *io, uint64_t now);
/*
 * The next waiting I/O that may start at @now (charged to the limits), or
 * NULL with *@wait_ns set to the time until one may (UINT64_MAX: none waits).
 */
struct fq_bdev_io *gate_next(struct vol_gate *g, uint64_t now, uint64_t *wait_ns);
/* The time until the first waiting I/O conforms (0: now; UINT64_MAX: none waits). */
uint64_t gate_head_wait(const struct vol_gate *g, uint64_t now);
/* 0, or -EALREADY. */
int gate_suspend(struct vol_gate *g);
/* End the suspension; returns what it held, linked in order (gate_link_next). */
struct fq_bdev_io *gate_resume(struct vol_gate *g);
/* Everything waiting or held, linked in order, the gate emptied. */
struct fq_bdev_io *gate_take_all(struct vol_gate *g);
struct fq_bdev_io *gate_link_next(struct fq_bdev_io *io);
uint32_t gate_waiting(const struct vol_gate *g);
/* The frame the gate keeps its link in; @owner is given back by gate_owner. */
struct fq_bdev_frame *gate_push(struct fq_bdev *bdev, struct fq_bdev_io *io, void *owner);
void *gate_owner(struct fq_bdev_io *io);
/* Pop the gate frame: the caller's callback is back in io->cb. */
void gate_pop(struct fq_bdev_io *io);

/* vol_bdev.c: fail the I/O @v's gate holds (the volume goes). */
void vol_gate_fail_all(struct fq_vol *v, int rc);

/* refs.c: reference counts of shared clusters. */
uint32_t refs_extra(const struct fq_pool *p, uint32_t c);
int refs_inc(struct fq_pool *p, uint32_t c);
/* Drop one extra reference; false if @c had none (its last reference goes). */
bool refs_dec(struct fq_pool *p, uint32_t c);
void refs_free(struct fq_pool *p);
uint64_t refs_capacity(const struct fq_sb *sb);
/* Distinct data clusters @v's map holds (UINT64_MAX without memory). */
uint64_t vol_count_clusters(struct fq_pool *p, const struct fq_vol *v);

/* io.c: clusters whose map entry is changing; I/O that needs them waits. */
struct inflight *inflight_find(struct fq_pool *p, struct fq_vol *v, uint32_t idx);
struct inflight *inflight_add(struct fq_pool *p, struct fq_vol *v, uint32_t idx);
/* The change is over: restart the pieces that waited, free @i. */
void inflight_release(struct fq_pool *p, struct inflight *i);
/* Free the pieces io.c keeps for reuse (at pool close). */
void seg_cache_free(struct fq_pool *p);

/* journal.c: records, entries, checkpoints. */
int jrec_add(struct fq_pool *p, uint16_t type, const void *payload, uint16_t len, struct jwait *w);
void jkick(struct fq_pool *p);
/* Ask for a checkpoint; @w runs when it is durable. */
void jcheckpoint(struct fq_pool *p, struct jwait *w);
/* Serialize the state into p->ckbuf; returns its length. */
uint64_t ckpt_build(struct fq_pool *p, uint64_t seq);
uint64_t ckpt_slot_len(uint32_t max_volumes, uint64_t nclusters);
void sb_fill(struct fq_pool *p, uint8_t *block);

/* sync.c: waiting for I/O from management calls. */
int io_sync(struct fq_pool *p, enum fq_bdev_io_type type, uint64_t off, void *buf, uint64_t len);
int wait_done(struct fq_pool *p, const bool *done);
/* Ask for a checkpoint and wait until it is durable. */
int pool_checkpoint_sync(struct fq_pool *p);

#endif
