/* SPDX-License-Identifier: MIT */
/*
 * The vol bdev module: a volume of a registered pool as a block device, so a
 * namespace can be "vol:POOL/NAME". It is a bottom module (it stores
 * through the pool, not through a base of its own) and can have delay or
 * error layers stacked over it like any other.
 *
 * The engine serves a pool from one thread (docs/volumes.md): a vol bdev
 * is bound to its pool's home engine (fq_vol_set_homes: one of the target's
 * reactors, each pool on the one with the fewest pools, where the management
 * socket runs that pool's operations), or else to the first engine that
 * submits to it. I/O submitted on another engine
 * travels to the owner's loop as a message and its completion comes back
 * the same way (struct hop), so connections on any reactor may use any
 * volume; an engine without a loop gets -EXDEV rather than a race.
 *
 * Each I/O passes the volume's gate first (gate.c: rate limits and
 * suspension). What waits for a limit is released by one timer per pool,
 * armed on the serving reactor only while something waits, for the time
 * until the next I/O conforms but never more than GATE_TICK_NS ahead (the
 * same 1 ms timeslice SPDK's bdev QoS poller uses), so a volume with a slow
 * limit never delays the release of a faster neighbour by more than that.
 */
#include "volume/vol_internal.h"

#include "bdev/backend.h"
#include "proto/nvme.h"
#include "xport/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define GATE_TICK_NS 1000000ull

struct held_io {
	struct fq_bdev *bdev;
	struct fq_engine *eng;
	struct fq_bdev_io *io;
};

struct vol_bdev;

struct reg {
	char name[FQ_POOL_NAME_MAX];
	struct fq_pool *pool;
	unsigned users; /* vol bdevs open on it */
	/*
	 * A management call is waiting for the pool's I/O to drain
	 * (fq_pool_io_hold): new I/O is queued in @held until it has run.
	 * @inflight and @held belong to the thread that serves the I/O.
	 */
	atomic_bool hold;
	uint64_t inflight;
	struct held_io *held;
	size_t nheld, held_cap;
	struct vol_bdev *bdevs; /* open vol bdevs on this pool, under reg_lock */
	/*
	 * The release timer of the volumes' gates, on the serving thread:
	 * @waiting counts the I/O that waits in them for a limit. @armed stays
	 * set while a timeout is in the ring, and such a slot is not reused by
	 * another pool until it came back (its uop is in the ring).
	 */
	uint64_t waiting;
	atomic_bool armed;
	struct fq_uop tuop;
	struct __kernel_timespec ts;
	struct fq_engine *teng;
	int home; /* index into homes[], -1: none yet (under reg_lock) */
	int pin;  /* the home asked for (fq_pool_pin_home), -1: the spread's */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg regs[FQ_POOL_REGISTRY_MAX];
/* The engines pools may be served by (fq_vol_set_homes), under reg_lock. */
static struct fq_engine *homes[FQ_VOL_MAX_HOMES];
static int nhomes;

/*
 * Under reg_lock: give @r the home serving the fewest pools, so pools
 * spread over the reactors (each pool's I/O and metadata stay on one),
 * or the one it is pinned to.
 */
static void home_pick(struct reg *r)
{
	unsigned count[FQ_VOL_MAX_HOMES] = {0};
	int best = 0;

	r->home = -1;
	if (!nhomes)
		return;
	if (r->pin >= 0 && r->pin < nhomes) {
		r->home = r->pin;
		return;
	}
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (regs[i].pool && regs[i].home >= 0 && regs[i].home < nhomes)
			count[regs[i].home]++;
	for (int i = 1; i < nhomes; i++)
		if (count[i] < count[best])
			best = i;
	r->home = best;
}

int fq_vol_set_homes(struct fq_engine *const *engs, int n)
{
	if (n < 0 || n > FQ_VOL_MAX_HOMES || (n && !engs))
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < n; i++)
		homes[i] = engs[i];
	nhomes = n;
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		regs[i].home = -1;
	/* Pinned pools first, so the others spread around them. */
	for (int pinned = 1; pinned >= 0; pinned--)
		for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
			if (regs[i].pool && (regs[i].pin >= 0 && regs[i].pin < n) == pinned)
				home_pick(&regs[i]);
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

int fq_vol_homes(void)
{
	int n;

	pthread_mutex_lock(&reg_lock);
	n = nhomes;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

int fq_pool_pin_home(struct fq_pool *pool, int idx)
{
	int rc = -ENOENT;

	if (idx < -1 || idx >= FQ_VOL_MAX_HOMES)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++) {
		struct reg *r = &regs[i];

		if (!pool || r->pool != pool)
			continue;
		if (nhomes && idx >= nhomes) {
			rc = -ERANGE;
		} else if (r->bdevs) {
			rc = -EBUSY; /* its vol bdevs are bound to the home they found */
		} else {
			r->pin = idx;
			home_pick(r);
			rc = 0;
		}
		break;
	}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int fq_pool_home(struct fq_pool *pool)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (pool && regs[i].pool == pool)
			rc = regs[i].home >= 0 ? regs[i].home : 0;
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

/* The engine @r's vol bdevs bind to, NULL for none (the first submitter). */
static struct fq_engine *home_engine(struct reg *r)
{
	struct fq_engine *e = NULL;

	pthread_mutex_lock(&reg_lock);
	if (r && r->home >= 0 && r->home < nhomes)
		e = homes[r->home];
	pthread_mutex_unlock(&reg_lock);
	return e;
}

static struct reg *reg_find(const char *name)
{
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (regs[i].pool && !strcmp(regs[i].name, name))
			return &regs[i];
	return NULL;
}

int fq_pool_register(const char *name, struct fq_pool *pool)
{
	int rc = -ENOSPC;

	if (!name || !name[0] || strlen(name) >= FQ_POOL_NAME_MAX || strchr(name, '/') || !pool)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	if (reg_find(name)) {
		rc = -EEXIST;
	} else {
		for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++) {
			if (regs[i].pool || atomic_load(&regs[i].armed))
				continue;
			free(regs[i].held);
			memset(&regs[i], 0, sizeof(regs[i]));
			snprintf(regs[i].name, sizeof(regs[i].name), "%s", name);
			regs[i].pool = pool;
			regs[i].pin = -1;
			home_pick(&regs[i]);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int fq_pool_unregister(const char *name)
{
	struct reg *r;
	int rc = -ENOENT;

	pthread_mutex_lock(&reg_lock);
	r = name ? reg_find(name) : NULL;
	if (r && r->users) {
		rc = -EBUSY;
	} else if (r) {
		r->pool = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

struct fq_pool *fq_pool_lookup(const char *name)
{
	struct fq_pool *p;
	struct reg *r;

	pthread_mutex_lock(&reg_lock);
	r = name ? reg_find(name) : NULL;
	p = r ? r->pool : NULL;
	pthread_mutex_unlock(&reg_lock);
	return p;
}

struct vol_bdev {
	struct fq_vol *vol; /* NULL once the volume was deleted (fq_vol_bdev_detach) */
	struct reg *reg;
	_Atomic(struct fq_engine *) owner;
	bool bound;
	atomic_bool bound_flag;
	struct vol_bdev *next; /* reg->bdevs */
	struct fq_bdev *bdev;
};

static void vol_io_done(struct fq_bdev_io *io, int result)
{
	struct reg *r = (struct reg *)(uintptr_t)fq_bdev_frame_top(io)->scratch[0];

	r->inflight--;
	fq_bdev_complete_up(io, result);
}

/* Start @io on the volume, counted in the pool's in-flight I/O. */
static int vol_start(struct vol_bdev *vb, struct fq_bdev *bdev, struct fq_engine *eng,
		     struct fq_bdev_io *io)
{
	struct fq_bdev_frame *f = fq_bdev_push(bdev, io, vol_io_done);
	struct reg *r = vb->reg;
	int rc;

	if (!f)
		return -EBUSY;
	f->scratch[0] = (uint64_t)(uintptr_t)r;
	r->inflight++;
	rc = fq_vol_submit(vb->vol, eng, io);
	if (rc) {
		/* Not started: the caller's callback must not run. */
		r->inflight--;
		io->depth--;
		io->cb = f->cb;
		io->cb_arg = f->cb_arg;
	}
	return rc;
}

/* Past the gate: start @io now, or queue it behind a metadata change. */
static int vol_go(struct vol_bdev *vb, struct fq_bdev *bdev, struct fq_engine *eng,
		  struct fq_bdev_io *io)
{
	struct reg *r = vb->reg;

	if (!vb->vol)
		return -ENXIO; /* the volume went while the I/O waited */
	if (atomic_load_explicit(&r->hold, memory_order_acquire)) {
		/* A metadata change waits for the pool to be quiet: start this after it. */
		if (r->nheld == r->held_cap) {
			size_t cap = r->held_cap ? r->held_cap * 2 : 64;
			struct held_io *n = realloc(r->held, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			r->held = n;
			r->held_cap = cap;
		}
		r->held[r->nheld++] = (struct held_io){bdev, eng, io};
		return 0;
	}
	return vol_start(vb, bdev, eng, io);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* An I/O the gate let go (its submit returned 0 long ago: a refusal is a completion). */
static void gate_release(struct fq_bdev_io *io)
{
	struct vol_bdev *vb = gate_owner(io);
	struct fq_engine *eng = atomic_load_explicit(&vb->owner, memory_order_relaxed);
	int rc;

	gate_pop(io);
	rc = vol_go(vb, vb->bdev, eng, io);
	if (rc)
		io->cb(io, rc);
}

static void gate_timer_done(struct fq_uop *op, int res, uint32_t cqe_flags);

static void gate_timer_arm(struct reg *r, struct fq_engine *eng, uint64_t wait_ns)
{
	if (atomic_load_explicit(&r->armed, memory_order_relaxed) || !eng)
		return;
	if (wait_ns > GATE_TICK_NS)
		wait_ns = GATE_TICK_NS;
	r->ts.tv_sec = 0;
	r->ts.tv_nsec = (long long)wait_ns;
	r->tuop.done = gate_timer_done;
	r->teng = eng;
	atomic_store_explicit(&r->armed, true, memory_order_relaxed);
	io_uring_prep_timeout(fq_engine_sqe(eng, &r->tuop), &r->ts, 0, 0);
}

/* Release every waiting I/O of @r's volumes that conforms now; re-arm for the rest. */
static void gate_drain(struct reg *r, struct fq_engine *eng)
{
	uint64_t now = now_ns(), min = UINT64_MAX;

	if (!r->waiting || !r->pool)
		return; /* nothing waits: the pool may be going (its gates were emptied) */
	for (struct fq_vol *v = r->pool->vols; v; v = v->next) {
		struct fq_bdev_io *io;
		uint64_t w;

		if (!gate_waiting(&v->gate))
			continue;
		while ((io = gate_next(&v->gate, now, &w)))
			gate_release(io);
		if (w < min)
			min = w;
	}
	/* Counted again rather than tracked: a release may have queued new I/O. */
	r->waiting = 0;
	for (struct fq_vol *v = r->pool->vols; v; v = v->next)
		r->waiting += gate_waiting(&v->gate);
	if (r->waiting)
		gate_timer_arm(r, eng, min);
}

static void gate_timer_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct reg *r = container_of(op, struct reg, tuop);

	(void)res; /* -ETIME: the time passed, as asked */
	(void)cqe_flags;
	atomic_store_explicit(&r->armed, false, memory_order_relaxed);
	gate_drain(r, r->teng);
}

/* @io (its gate frame pushed) through @vb's volume gate; 0 or -errno as submit returns. */
static int gate_enter(struct vol_bdev *vb, struct fq_bdev *bdev, struct fq_engine *eng,
		      struct fq_bdev_io *io)
{
	struct vol_gate *g = &vb->vol->gate;

	switch (gate_admit(g, io, now_ns())) {
	case GATE_GO:
		gate_pop(io);
		return vol_go(vb, bdev, eng, io);
	case GATE_QUEUED:
		vb->reg->waiting++;
		gate_timer_arm(vb->reg, eng, gate_head_wait(g, now_ns()));
		return 0;
	case GATE_HELD:
		return 0;
	case GATE_FULL:
	default:
		/*
		 * Namespace Not Ready (SCT 0h, SC 82h) with DNR clear: the
		 * namespace cannot be accessed for now and the host may retry
		 * later (NVMe Base 2.0 §4.6.1.2.1, Generic Command Status).
		 */
		io->nvme_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_NS_NOT_READY);
		fq_bdev_complete_up(io, -EAGAIN);
		return 0;
	}
}

static bool gate_open(const struct vol_gate *g)
{
	return !g->suspended && !fq_tbucket_rate(&g->b[GB_READ_IOPS]) &&
	       !fq_tbucket_rate(&g->b[GB_WRITE_IOPS]) && !fq_tbucket_rate(&g->b[GB_READ_BPS]) &&
	       !fq_tbucket_rate(&g->b[GB_WRITE_BPS]);
}

/*
 * An I/O on its way to the owner's thread and back. It rides in a frame of
 * its own, pushed on the submitting thread, so the layers under it complete
 * into hop_done on the owner's thread, and the caller's callback runs on
 * the submitting thread again (hop_back).
 */
struct hop {
	struct fq_msg msg;
	struct fq_bdev *bdev;
	struct fq_bdev_io *io;
	struct fq_engine *owner;
	struct fq_loop *home; /* the submitter's loop */
	int rc;
};

static int vol_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io);

static void hop_back(struct fq_loop *l, struct fq_msg *m)
{
	struct hop *h = (struct hop *)m;
	struct fq_bdev_io *io = h->io;
	int rc = h->rc;

	(void)l;
	free(h);
	fq_bdev_complete_up(io, rc);
}

/* On the owner's thread: the I/O is over; send it home. */
static void hop_done(struct fq_bdev_io *io, int rc)
{
	struct hop *h = (struct hop *)(uintptr_t)fq_bdev_frame_top(io)->scratch[0];

	h->rc = rc;
	h->msg.fn = hop_back;
	fq_loop_post(h->home, &h->msg);
}

static void hop_run(struct fq_loop *l, struct fq_msg *m)
{
	struct hop *h = (struct hop *)m;
	int rc;

	(void)l;
	rc = vol_submit(h->bdev, h->owner, h->io);
	if (rc)
		hop_done(h->io, rc);
}

static int hop_start(struct fq_bdev *bdev, struct fq_engine *owner, struct fq_engine *eng,
		     struct fq_bdev_io *io)
{
	struct fq_bdev_frame *f;
	struct hop *h;

	if (!owner->loop || !eng->loop)
		return -EXDEV; /* no loop to carry it: refuse rather than race */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	f = fq_bdev_push(bdev, io, hop_done);
	if (!f) {
		free(h);
		return -EBUSY;
	}
	f->scratch[0] = (uint64_t)(uintptr_t)h;
	h->bdev = bdev;
	h->io = io;
	h->owner = owner;
	h->home = eng->loop;
	h->msg.fn = hop_run;
	fq_loop_post(owner->loop, &h->msg);
	return 0;
}

static int vol_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct vol_bdev *vb = bdev->priv;
	struct fq_engine *want = NULL, *owner;

	if (!vb->vol)
		return -ENXIO; /* the volume is gone */

	/* Bind to the pool's home engine, or the first one: one thread owns the pool's state. */
	if (!atomic_load_explicit(&vb->bound_flag, memory_order_acquire)) {
		struct fq_engine *home = home_engine(vb->reg);

		if (atomic_compare_exchange_strong(&vb->owner, &want, home ? home : eng))
			atomic_store_explicit(&vb->bound_flag, true, memory_order_release);
	}
	owner = atomic_load_explicit(&vb->owner, memory_order_relaxed);
	if (owner != eng)
		return hop_start(bdev, owner, eng, io);
	vol_map_prefetch(vb->vol, io->offset); /* the map belongs to this thread */
	/* No limit and no suspension: nothing to look at. */
	if (gate_open(&vb->vol->gate))
		return vol_go(vb, bdev, eng, io);
	if (!gate_push(bdev, io, vb))
		return -EBUSY;
	return gate_enter(vb, bdev, eng, io);
}

static void zero_iov(struct fq_bdev_io *io)
{
	uint64_t left = io->length;

	for (int i = 0; i < io->iovcnt && left; i++) {
		size_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : (size_t)left;

		memset(io->iov[i].iov_base, 0, n);
		left -= n;
	}
}

/* What a resume does with one held I/O. */
static void resume_one(struct fq_bdev_io *io, enum fq_vol_resume_mode mode)
{
	struct vol_bdev *vb = gate_owner(io);

	switch (mode) {
	case FQ_VOL_RESUME_ERROR:
		/*
		 * Internal Error (SCT 0h, SC 06h) with DNR set: the command was
		 * failed on purpose and a retry is not what was asked for.
		 */
		io->nvme_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INTERNAL) | FQ_STATUS_DNR;
		fq_bdev_complete_up(io, -EIO);
		break;
	case FQ_VOL_RESUME_DISCARD:
		if (io->type == FQ_BDEV_IO_READ)
			zero_iov(io);
		fq_bdev_complete_up(io, 0);
		break;
	default:
		if (!vb->vol) {
			fq_bdev_complete_up(io, -ENXIO);
			break;
		}
		gate_enter(vb, vb->bdev, atomic_load_explicit(&vb->owner, memory_order_relaxed),
			   io);
		break;
	}
}

int fq_vol_suspend(struct fq_pool *pool, const char *name)
{
	struct fq_vol *v = fq_vol_find(pool, name);

	return v ? gate_suspend(&v->gate) : -ENOENT;
}

int fq_vol_resume(struct fq_pool *pool, const char *name, enum fq_vol_resume_mode mode)
{
	struct fq_vol *v = fq_vol_find(pool, name);
	struct fq_bdev_io *io, *next;

	if (!v)
		return -ENOENT;
	if ((unsigned)mode > FQ_VOL_RESUME_DISCARD)
		return -EINVAL;
	if (!v->gate.suspended)
		return -EALREADY;
	for (io = gate_resume(&v->gate); io; io = next) {
		next = gate_link_next(io);
		resume_one(io, mode);
	}
	return 0;
}

/* Complete with @rc what @v's gate holds or keeps waiting (on the serving thread). */
static int gate_fail(struct fq_vol *v, struct reg *r, int rc)
{
	uint32_t waiting = gate_waiting(&v->gate);
	struct fq_bdev_io *io, *next;
	int n = 0;

	io = gate_take_all(&v->gate);
	if (r)
		r->waiting -= waiting < r->waiting ? waiting : r->waiting;
	for (; io; io = next, n++) {
		next = gate_link_next(io);
		fq_bdev_complete_up(io, rc);
	}
	return n;
}

void vol_gate_fail_all(struct fq_vol *v, int rc)
{
	struct reg *r = NULL;

	if (!v->gate.held.n && !gate_waiting(&v->gate))
		return;
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (regs[i].pool == v->pool)
			r = &regs[i];
	gate_fail(v, r, rc);
}

/*
 * Copy inside the volume (fq_vol_copy shares whole clusters). While a
 * management call holds the pool, the block layer's copy takes over: its
 * reads and writes queue like any other I/O.
 */
static int vol_copy(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct vol_bdev *vb = bdev->priv;
	struct reg *r = vb->reg;
	struct fq_bdev_frame *f;
	int rc;

	/*
	 * Unbound, gone, held, throttled or suspended: the block layer's reads
	 * and writes go through vol_submit, which knows what to do with each.
	 */
	if (!vb->vol || atomic_load_explicit(&vb->owner, memory_order_relaxed) != eng ||
	    atomic_load_explicit(&r->hold, memory_order_acquire) || !gate_open(&vb->vol->gate))
		return -EOPNOTSUPP;
	f = fq_bdev_push(bdev, io, vol_io_done);
	if (!f)
		return -EBUSY;
	f->scratch[0] = (uint64_t)(uintptr_t)r;
	r->inflight++;
	rc = fq_vol_copy(vb->vol, eng, io);
	if (rc) {
		r->inflight--;
		io->depth--;
		io->cb = f->cb;
		io->cb_arg = f->cb_arg;
	}
	return rc;
}

int fq_pool_io_hold(struct fq_pool *pool, bool hold)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (regs[i].pool == pool) {
			atomic_store_explicit(&regs[i].hold, hold, memory_order_release);
			rc = 0;
		}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

static struct reg *reg_of(struct fq_pool *pool)
{
	for (int i = 0; i < FQ_POOL_REGISTRY_MAX; i++)
		if (regs[i].pool == pool)
			return &regs[i];
	return NULL;
}

bool fq_pool_io_idle(struct fq_pool *pool)
{
	struct reg *r;
	bool idle;

	pthread_mutex_lock(&reg_lock);
	r = reg_of(pool);
	idle = !r || r->inflight == 0;
	pthread_mutex_unlock(&reg_lock);
	/* Nothing of the I/O path left in the journal or waiting on an allocation. */
	return idle && !pool->jbusy && !pool->pend_nrec && !pool->inflight && !pool->ckpt_w &&
	       !pool->ckpt_wanted;
}

void fq_pool_io_release(struct fq_pool *pool)
{
	struct held_io *h = NULL;
	struct reg *r;
	size_t n = 0;

	pthread_mutex_lock(&reg_lock);
	r = reg_of(pool);
	if (r) {
		atomic_store_explicit(&r->hold, false, memory_order_release);
		h = r->held;
		n = r->nheld;
		r->held = NULL;
		r->nheld = r->held_cap = 0;
	}
	pthread_mutex_unlock(&reg_lock);
	for (size_t i = 0; i < n; i++) {
		struct vol_bdev *vb = h[i].bdev->priv;
		struct fq_bdev_io *io = h[i].io;
		int rc = vb->vol ? vol_start(vb, h[i].bdev, h[i].eng, io) : -ENXIO;

		/* Its submit returned 0 long ago: a refusal now is a completion. */
		if (rc)
			io->cb(io, rc);
	}
	free(h);
}

void fq_vol_bdev_resized(struct fq_pool *pool, struct fq_vol *vol)
{
	struct reg *r;

	pthread_mutex_lock(&reg_lock);
	r = reg_of(pool);
	for (struct vol_bdev *vb = r ? r->bdevs : NULL; vb; vb = vb->next)
		if (vb->vol == vol)
			vb->bdev->num_blocks = vol->size / vb->bdev->block_size;
	pthread_mutex_unlock(&reg_lock);
}

void fq_vol_bdev_detach(struct fq_pool *pool, struct fq_vol *vol)
{
	struct reg *r;

	pthread_mutex_lock(&reg_lock);
	r = reg_of(pool);
	for (struct vol_bdev **pp = r ? &r->bdevs : NULL; pp && *pp;) {
		struct vol_bdev *vb = *pp;

		if (vol && vb->vol != vol) {
			pp = &vb->next;
			continue;
		}
		/* Its namespace may outlive the volume (kept until exit): it fails I/O from now on. */
		vb->vol = NULL;
		vb->reg = NULL;
		r->users--;
		*pp = vb->next;
	}
	pthread_mutex_unlock(&reg_lock);
	/* The pool goes: what waits in its gates fails here, on its thread. */
	for (struct fq_vol *v = vol ? NULL : pool->vols; v; v = v->next)
		gate_fail(v, r, -ENXIO);
}

static int vol_sync(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	if (!vb->vol)
		return 0;
	/* Acknowledged writes have their journal entries written: syncing the pool's bdev suffices. */
	return fq_bdev_sync(vb->vol->pool->bdev);
}

static void vol_destroy(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	pthread_mutex_lock(&reg_lock);
	if (vb->reg && vb->reg->users)
		vb->reg->users--;
	for (struct vol_bdev **pp = vb->reg ? &vb->reg->bdevs : NULL; pp && *pp; pp = &(*pp)->next)
		if (*pp == vb) {
			*pp = vb->next;
			break;
		}
	vb->reg = NULL;
	pthread_mutex_unlock(&reg_lock);
}

static uint64_t vol_used_blocks(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	if (!vb->vol)
		return 0;
	/* Read without the pool's thread: a count a moment old is what NUSE may be. */
	return (vb->vol->owned << vb->vol->pool->cshift) / bdev->block_size;
}

/*
 * Shutdown while a management call held the pool (it could not finish):
 * what is queued for @eng fails, so its connections can close.
 */
static int vol_abort_held(struct fq_bdev *bdev, struct fq_engine *eng)
{
	struct vol_bdev *vb = bdev->priv;
	struct reg *r = vb->reg;
	struct fq_bdev_io *done[64];
	int n = 0, total = 0;

	if (!r)
		return 0;
	if (vb->vol && atomic_load_explicit(&vb->owner, memory_order_relaxed) == eng)
		total += gate_fail(vb->vol, r, -ECANCELED);
	do {
		n = 0;
		pthread_mutex_lock(&reg_lock);
		for (size_t i = 0; i < r->nheld && n < 64;) {
			if (r->held[i].bdev == bdev && r->held[i].eng == eng) {
				done[n++] = r->held[i].io;
				r->held[i] = r->held[--r->nheld];
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&reg_lock);
		for (int i = 0; i < n; i++)
			done[i]->cb(done[i], -ECANCELED);
		total += n;
	} while (n == 64);
	return total;
}

static const struct fq_bdev_ops vol_ops = {
	.name = "vol",
	.submit = vol_submit,
	.map_read = NULL, /* reads resolve through the cluster map */
	.sync = vol_sync,
	.destroy = vol_destroy,
	.used_blocks = vol_used_blocks,
	.abort_held = vol_abort_held,
	.copy = vol_copy,
};

static int vol_parse(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
		     size_t errlen)
{
	(void)opts;
	(void)key;
	(void)val;
	(void)err;
	(void)errlen;
	return -ENOENT; /* "vol:POOL/NAME" has no options */
}

static int vol_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err, size_t errlen)
{
	struct vol_bdev *vb = bdev->priv;
	char pool[FQ_POOL_NAME_MAX];
	const char *slash = opts->path ? strchr(opts->path, '/') : NULL;
	struct fq_pool *p;
	struct fq_vol *v;
	struct reg *r;

	if (!slash || slash == opts->path || !slash[1] ||
	    (size_t)(slash - opts->path) >= sizeof(pool)) {
		fq_bdev_errf(err, errlen, "vol: expected vol:POOL/NAME, got '%s'",
			     opts->path ? opts->path : "");
		return -EINVAL;
	}
	memcpy(pool, opts->path, (size_t)(slash - opts->path));
	pool[slash - opts->path] = '\0';
	pthread_mutex_lock(&reg_lock);
	r = reg_find(pool);
	p = r ? r->pool : NULL;
	v = p ? fq_vol_find(p, slash + 1) : NULL;
	vb->bdev = bdev;
	if (v) {
		r->users++;
		vb->next = r->bdevs;
		r->bdevs = vb;
	}
	vb->vol = v;
	vb->reg = r;
	pthread_mutex_unlock(&reg_lock);
	if (!p) {
		fq_bdev_errf(err, errlen, "vol: no open pool '%s'", pool);
		return -ENOENT;
	}
	if (!v) {
		fq_bdev_errf(err, errlen, "vol: pool '%s' has no volume '%s'", pool, slash + 1);
		return -ENOENT;
	}
	atomic_init(&vb->owner, NULL);
	atomic_init(&vb->bound_flag, false);
	bdev->ops = &vol_ops;
	bdev->block_size = p->bdev->block_size;
	bdev->num_blocks = v->size / bdev->block_size;
	bdev->volatile_cache = p->bdev->volatile_cache;
	bdev->read_zeroes_after_dealloc = true;
	bdev->supports_dealloc = true;
	/* A snapshot stays one for as long as this bdev is attached to it. */
	bdev->write_protected = (v->flags & VOLF_SNAPSHOT) != 0;
	bdev->sync_submit = p->bdev->sync_submit;
	snprintf(bdev->name, sizeof(bdev->name), "vol:%.58s", opts->path);
	return 0;
}

const struct fq_bdev_module fq_bdev_vol_module = {
	.name = "vol",
	.kind = FQ_BDEV_VOL,
	.ctx_size = sizeof(struct vol_bdev),
	.parse = vol_parse,
	.keys = "(none)",
	.init = vol_init,
};
