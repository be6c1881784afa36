/* SPDX-License-Identifier: MIT */
/*
 * The vol bdev module: a volume of a registered pool as a block device, so a
 * namespace can be "vol:POOL/NAME". It is a bottom module (it stores
 * through the pool, not through a base of its own) and can have delay or
 * error layers stacked over it like any other.
 *
 * The engine serves a pool from one thread (docs/volumes.md), so a vol bdev
 * is bound to the first engine that submits to it; I/O from another engine
 * is refused with -EXDEV rather than raced. A namespace on a vol bdev thus
 * needs a daemon whose namespaces are served by one reactor until the
 * target routes each volume's I/O to its owning reactor.
 */
#include "volume/vol_internal.h"

#include "bdev/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct reg {
	char name[FQ_POOL_NAME_MAX];
	struct fq_pool *pool;
	unsigned users; /* vol bdevs open on it */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg regs[FQ_POOL_REGISTRY_MAX];

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
			if (regs[i].pool)
				continue;
			snprintf(regs[i].name, sizeof(regs[i].name), "%s", name);
			regs[i].pool = pool;
			regs[i].users = 0;
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
	struct fq_vol *vol;
	struct reg *reg;
	_Atomic(struct fq_engine *) owner;
	bool bound;
	atomic_bool bound_flag;
};

static int vol_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct vol_bdev *vb = bdev->priv;
	struct fq_engine *want = NULL;

	/* Bind to the first engine; another thread would race the pool's state. */
	if (!atomic_load_explicit(&vb->bound_flag, memory_order_acquire)) {
		if (atomic_compare_exchange_strong(&vb->owner, &want, eng))
			atomic_store_explicit(&vb->bound_flag, true, memory_order_release);
	}
	if (atomic_load_explicit(&vb->owner, memory_order_relaxed) != eng)
		return -EXDEV;
	return fq_vol_submit(vb->vol, eng, io);
}

static int vol_sync(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	/* Acknowledged writes have their journal entries written: syncing the pool's bdev suffices. */
	return fq_bdev_sync(vb->vol->pool->bdev);
}

static void vol_destroy(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	pthread_mutex_lock(&reg_lock);
	if (vb->reg && vb->reg->users)
		vb->reg->users--;
	pthread_mutex_unlock(&reg_lock);
}

static uint64_t vol_used_blocks(struct fq_bdev *bdev)
{
	struct vol_bdev *vb = bdev->priv;

	/* Read without the pool's thread: a count a moment old is what NUSE may be. */
	return (vb->vol->owned << vb->vol->pool->cshift) / bdev->block_size;
}

static const struct fq_bdev_ops vol_ops = {
	.name = "vol",
	.submit = vol_submit,
	.map_read = NULL, /* reads resolve through the cluster map */
	.sync = vol_sync,
	.destroy = vol_destroy,
	.used_blocks = vol_used_blocks,
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
	if (v)
		r->users++;
	pthread_mutex_unlock(&reg_lock);
	if (!p) {
		fq_bdev_errf(err, errlen, "vol: no open pool '%s'", pool);
		return -ENOENT;
	}
	if (!v) {
		fq_bdev_errf(err, errlen, "vol: pool '%s' has no volume '%s'", pool, slash + 1);
		return -ENOENT;
	}
	vb->vol = v;
	vb->reg = r;
	atomic_init(&vb->owner, NULL);
	atomic_init(&vb->bound_flag, false);
	bdev->ops = &vol_ops;
	bdev->block_size = p->bdev->block_size;
	bdev->num_blocks = v->size / bdev->block_size;
	bdev->volatile_cache = p->bdev->volatile_cache;
	bdev->read_zeroes_after_dealloc = true;
	bdev->supports_dealloc = true;
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
