/* SPDX-License-Identifier: MIT */
/*
 * Pools of thin and thick volumes with snapshots and clones, on any bdev.
 * docs/volumes.md describes the on-disk format, the journal and the ordering
 * guarantees.
 *
 * One thread owns a pool: its I/O (fq_vol_submit, asynchronous over the
 * caller's engine) and its management calls (synchronous: they run the
 * pool's engine, the one given to fq_pool_open, until their journal entry is
 * durable). Functions return 0 or -errno.
 */
#ifndef FQ_VOLUME_VOLUME_H
#define FQ_VOLUME_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bdev/bdev.h"

#define FQ_VOL_NAME_MAX 80 /* with the terminating NUL: "NAME" or "NAME@SNAP" */
#define FQ_POOL_NAME_MAX 64
/* A thin volume may be at most this many times the pool's size. */
#define FQ_VOL_OVERCOMMIT 64

struct fq_pool;
struct fq_vol;

struct fq_pool_opts {
	const char *name;      /* stored in the superblock */
	uint32_t cluster_size; /* power of two, 4 KiB .. 1 MiB; 0 = 1 MiB */
	uint64_t journal_size; /* bytes, multiple of 4 KiB; 0 = 8 MiB */
	uint32_t max_volumes;  /* volumes, snapshots and clones; 0 = 4096 */
};

/* Write a new, empty pool over @bdev (destroys what is there). */
int fq_pool_create(struct fq_bdev *bdev, struct fq_engine *eng, const struct fq_pool_opts *opts);

/*
 * Open the pool on @bdev: newest superblock, its checkpoint, then the journal
 * replayed. @eng is the engine management calls run (NULL for bdevs that
 * complete inside submit). The bdev stays the caller's.
 */
int fq_pool_open(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool **out);
/* Write a checkpoint (so the next open replays nothing) and free the pool. */
int fq_pool_close(struct fq_pool *pool);
/* Free the pool without writing anything (what a crash leaves). */
void fq_pool_abandon(struct fq_pool *pool);

struct fq_pool_info {
	char name[FQ_POOL_NAME_MAX];
	uint32_t cluster_size;
	uint64_t capacity;	   /* bytes of data clusters */
	uint64_t allocated;	   /* bytes of data clusters owned by volumes */
	uint32_t volumes;	   /* volumes, snapshots and clones */
	uint64_t journal_replayed; /* entries replayed by the open */
};
int fq_pool_info(struct fq_pool *pool, struct fq_pool_info *info);

struct fq_pool_check_report {
	uint64_t clusters_owned;
	uint64_t clusters_shared; /* map entries beyond the first on a shared cluster */
	uint64_t errors;	  /* 0 = clean */
	char first_error[160];
};
/*
 * Offline check of the pool on @bdev (nobody else may have it open): every
 * checksum, every cluster owned by at most one volume (several entries of
 * one map may share it: a Copy) and within the data area, the
 * stored bitmap equal to the maps (no leak), parent references sound.
 * Returns 0 when it could read the pool (the verdict is in @rep), or -errno.
 */
int fq_pool_check(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool_check_report *rep);

/* Volumes. @name is "NAME" for volumes, "NAME@SNAP" for snapshots. */
int fq_vol_create(struct fq_pool *pool, const char *name, uint64_t size, bool thick);
int fq_vol_delete(struct fq_pool *pool, const char *name);
/* Grow; shrink only with @allow_shrink (-EINVAL otherwise). */
int fq_vol_resize(struct fq_pool *pool, const char *name, uint64_t size, bool allow_shrink);
int fq_vol_rename(struct fq_pool *pool, const char *name, const char *new_name);
/* @snap is "NAME@SNAP". */
int fq_vol_snapshot(struct fq_pool *pool, const char *snap);
int fq_vol_clone(struct fq_pool *pool, const char *snap, const char *new_name);
int fq_vol_rollback(struct fq_pool *pool, const char *snap);
int fq_vol_flatten(struct fq_pool *pool, const char *name);

/*
 * Rate limits of a volume (docs/volumes.md "QoS and control"): token
 * buckets in front of its I/O on the pool's thread; an I/O over a limit
 * waits in the volume's queue and a 1 ms reactor timer releases it once it
 * conforms. 0 = no limit. Reads count against read_*; writes, write zeroes
 * and deallocates against write_* (write zeroes and deallocate as
 * operations only, they move no data); flushes are not limited. Stored in
 * the pool (journal record, checkpoint), so they hold across a restart.
 */
#define FQ_VOL_QOS_DEFAULT_BURST_MS 100u
#define FQ_VOL_QOS_MAX_BURST_MS 10000u
#define FQ_VOL_QOS_MAX_IOPS UINT32_MAX
/* I/Os a suspended volume holds; more fail with Namespace Not Ready (retryable). */
#define FQ_VOL_SUSPEND_MAX_HELD 1024u

struct fq_vol_qos {
	uint64_t read_iops, write_iops; /* operations per second, at most FQ_VOL_QOS_MAX_IOPS */
	uint64_t read_bps, write_bps;	/* bytes per second */
	uint32_t burst_ms; /* what may pass at once after an idle spell; 0 = the default */
};

/* Set all of @vol's limits (durable on return). -EINVAL for a value out of range. */
int fq_vol_set_qos(struct fq_pool *pool, const char *name, const struct fq_vol_qos *qos);

/*
 * Suspend: new I/O to the volume is held (up to FQ_VOL_SUSPEND_MAX_HELD)
 * until fq_vol_resume, which lets it go on through the limits (NORMAL),
 * fails it with an I/O error (ERROR), or completes it successfully without
 * doing it, reads returning zeroes (DISCARD). Held only in memory: a
 * restart finds the volume online. -EALREADY when already suspended (or,
 * for resume, not suspended). On the thread that serves the pool's I/O.
 */
enum fq_vol_resume_mode {
	FQ_VOL_RESUME_NORMAL,
	FQ_VOL_RESUME_ERROR,
	FQ_VOL_RESUME_DISCARD,
};
int fq_vol_suspend(struct fq_pool *pool, const char *name);
int fq_vol_resume(struct fq_pool *pool, const char *name, enum fq_vol_resume_mode mode);

/* NULL if there is none. */
struct fq_vol *fq_vol_find(struct fq_pool *pool, const char *name);

struct fq_vol_info {
	char name[FQ_VOL_NAME_MAX];
	char parent[FQ_VOL_NAME_MAX]; /* "" without a parent snapshot */
	uint8_t uuid[16];
	uint64_t size;
	uint64_t allocated_bytes; /* clusters this volume owns */
	uint64_t write_gen;
	bool snapshot; /* read-only */
	bool thick;
	uint32_t snapshots;    /* snapshots of this volume */
	uint32_t dependants;   /* volumes whose parent this is */
	struct fq_vol_qos qos; /* burst_ms as in effect (the default when unset) */
	bool suspended;
	uint32_t held;	  /* I/Os held by the suspension now */
	uint32_t waiting; /* I/Os waiting for a limit now */
	uint64_t delayed; /* I/Os that have waited for a limit */
};
int fq_vol_info(struct fq_vol *vol, struct fq_vol_info *info);

/* Call @fn for each volume (creation order) until it returns nonzero. */
int fq_vol_list(struct fq_pool *pool, int (*fn)(struct fq_vol *vol, void *arg), void *arg);

/*
 * I/O on a volume, in the block layer's request (offset, length, iov, cb;
 * byte ranges in multiples of the pool's block size, inside the volume).
 * Completes through io->cb, possibly before returning. Writes to a snapshot
 * fail with -EROFS and io->nvme_status Namespace Is Write Protected.
 */
int fq_vol_submit(struct fq_vol *vol, struct fq_engine *eng, struct fq_bdev_io *io);
/*
 * Copy inside a volume (the block layer's fq_bdev_copy request: io->offset
 * the destination, io->copy_ranges / copy_nr the sources, io->length their
 * sum, io->cb). Whole aligned clusters the volume's own map holds are
 * shared with the destination instead of copied (docs/volumes.md "Shared
 * clusters"); the rest is read and written. -EOPNOTSUPP when nothing could
 * be shared (a snapshot, a pool without room for shared references): the
 * caller copies by reading and writing instead.
 */
int fq_vol_copy(struct fq_vol *vol, struct fq_engine *eng, struct fq_bdev_io *io);
uint64_t fq_vol_size(const struct fq_vol *vol);
uint32_t fq_vol_block_size(const struct fq_vol *vol);

/*
 * Open pools by name, for the vol bdev module: a namespace "vol:POOL/NAME"
 * (struct fq_bdev_opts kind FQ_BDEV_VOL, path "POOL/NAME") opens volume NAME
 * of the pool registered as POOL. The registry does not own the pool.
 * fq_pool_register: -EEXIST for a name taken, -ENOSPC when full.
 * fq_pool_unregister: -EBUSY while a vol bdev is open on it, -ENOENT.
 */
#define FQ_POOL_REGISTRY_MAX 64
int fq_pool_register(const char *name, struct fq_pool *pool);
int fq_pool_unregister(const char *name);
struct fq_pool *fq_pool_lookup(const char *name);

/*
 * Management calls on a pool whose volumes a target serves (the server's
 * pool and volume methods): fq_pool_io_hold(pool, true) from any thread
 * makes the vol bdevs queue new I/O; on the thread that serves the I/O,
 * fq_pool_io_idle tells when nothing of it is in flight any more (the
 * metadata change may then run there), and fq_pool_io_release starts what
 * was queued. fq_vol_bdev_detach (same thread) makes the vol bdevs of
 * @vol (NULL: of every volume of @pool) fail their I/O with -ENXIO and stop
 * counting as users of the pool, before the volume or the pool goes.
 */
int fq_pool_io_hold(struct fq_pool *pool, bool hold);
bool fq_pool_io_idle(struct fq_pool *pool);
void fq_pool_io_release(struct fq_pool *pool);
void fq_vol_bdev_detach(struct fq_pool *pool, struct fq_vol *vol);
/* After a resize of @vol (same thread): its vol bdevs take the new size. */
void fq_vol_bdev_resized(struct fq_pool *pool, struct fq_vol *vol);
/*
 * The engines (of loops, one per reactor of a target) that serve pools:
 * each registered pool has one of them as its home, the one with the
 * fewest pools (the lowest index on a tie), chosen when the pool is
 * registered or, for pools registered before, by this call in registration
 * order. A pool's vol bdevs bind to its home; I/O submitted on other
 * loops' engines is carried there and back; management calls on the pool
 * must run there. n = 0: each vol bdev binds to the first engine that
 * submits to it. At most FQ_VOL_MAX_HOMES engines.
 */
#define FQ_VOL_MAX_HOMES 256
int fq_vol_set_homes(struct fq_engine *const *engs, int n);
/* @pool's home: an index into fq_vol_set_homes' engines (0 when none), or -ENOENT. */
int fq_pool_home(struct fq_pool *pool);
/* How many engines fq_vol_set_homes was given (0: none yet). */
int fq_vol_homes(void);
/*
 * Pin registered @pool to home @idx (-1: back to the spread), before any
 * vol bdev of it opens (-EBUSY after). Kept over fq_vol_set_homes, where
 * pinned pools are placed first; -ERANGE when @idx is not below the
 * engines set (a pin set before any is used once they are, if in range).
 */
int fq_pool_pin_home(struct fq_pool *pool, int idx);

/*
 * [pool "NAME"] sections of the configuration file (pool_conf.c): the
 * reader calls fq_pool_conf_reset before a file, fq_pool_conf_begin at each
 * section and fq_pool_conf_key for each of its keys (-ENOENT: unknown key;
 * message in @err). fq_pool_conf_open_all opens, creates if asked, and
 * registers every pool not open yet, with its volumes; fq_pool_conf_close_all
 * closes what it opened.
 */
void fq_pool_conf_reset(void);
/* How many [pool] sections were read since the last reset. */
int fq_pool_conf_count(void);
/* Whether a [pool "NAME"] section was read since the last reset. */
bool fq_pool_conf_defined(const char *name);
int fq_pool_conf_begin(const char *name, char *err, size_t errlen);
int fq_pool_conf_key(const char *key, const char *val, char *err, size_t errlen);
/* Where the next key comes from ("FILE:LINE"), for fq_pool_conf_check_reactors' message. */
void fq_pool_conf_at(const char *path, int line);
/*
 * A [pool] section's reactor = N names a reactor the target has (0 ..
 * @nreactors - 1); -ERANGE with FILE:LINE, the key and the count in @err.
 */
int fq_pool_conf_check_reactors(int nreactors, char *err, size_t errlen);
int fq_pool_conf_open_all(char *err, size_t errlen);
void fq_pool_conf_close_all(void);
/* The name of the @i-th [pool] section read (0 .. fq_pool_conf_count() - 1), or NULL. */
const char *fq_pool_conf_name(int i);
/* Whether section @name's volume lines name limits (read_iops=...). */
bool fq_pool_conf_has_qos(const char *name);
/*
 * Set the limits section @name's volume lines name on its open pool's
 * volumes (fq_pool_conf_open_all does it for the pools it opens). On the
 * pool's home thread with its I/O drained, as a management call.
 */
int fq_pool_conf_apply_qos(const char *name, char *err, size_t errlen);

/*
 * Pools created and deleted at run time (the management socket), kept with
 * those of the configuration so fq_pool_conf_close_all closes them too.
 * fq_pool_conf_create formats the file or device @path (created with @size
 * bytes when @size > 0; 0 for an existing one) as pool @name and registers
 * it; it refuses a path that holds a pool already (-EEXIST). @reactor pins
 * its home (-1: the reactor with the fewest pools; -ERANGE, before anything
 * is formatted, when the target has no such reactor) and is kept in what
 * fq_pool_conf_emit writes. fq_pool_conf_delete closes and unregisters it (-EBUSY while a vol bdev is
 * open on it); the file stays. fq_pool_conf_bdev: the "file:PATH" or
 * "ram:SIZE" a pool is on, or NULL.
 */
int fq_pool_conf_create(const char *name, const char *path, uint64_t size, uint32_t cluster_size,
			int reactor, char *err, size_t errlen);
int fq_pool_conf_delete(const char *name, char *err, size_t errlen);
const char *fq_pool_conf_bdev(const char *name);

/*
 * Print the open pools as [pool "NAME"] sections that the configuration
 * reader accepts (and fq_pool_conf_open_all opens again). 0 or -errno.
 */
int fq_pool_conf_emit(FILE *f);

#endif
