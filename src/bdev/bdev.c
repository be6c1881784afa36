/* SPDX-License-Identifier: MIT */
/*
 * Module-independent part of the block layer: the module table, opening and
 * closing stacks, request checks and the frames of stacked I/O.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "util/parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t fq_bdev_zeroes[FQ_BDEV_ZERO_LEN] __attribute__((aligned(4096)));

void fq_bdev_iov_zero(struct fq_bdev_io *io, uint64_t from)
{
	uint64_t left = io->length - from;
	int i;

	for (i = 0; i < io->iovcnt && left; i++) {
		size_t len = io->iov[i].iov_len;
		size_t n;

		if (from >= len) {
			from -= len;
			continue;
		}
		n = len - from < left ? len - from : left;
		memset((uint8_t *)io->iov[i].iov_base + from, 0, n);
		left -= n;
		from = 0;
	}
}

/* The module table: every module the layer knows, by kind. */
static const struct fq_bdev_module *const modules[FQ_BDEV_NUM_KINDS] = {
	[FQ_BDEV_RAM] = &fq_bdev_ram_module,	 [FQ_BDEV_NULL] = &fq_bdev_null_module,
	[FQ_BDEV_FILE] = &fq_bdev_file_module,	 [FQ_BDEV_DELAY] = &fq_bdev_delay_module,
	[FQ_BDEV_ERROR] = &fq_bdev_error_module, [FQ_BDEV_QOS] = &fq_bdev_qos_module,
	[FQ_BDEV_VOL] = &fq_bdev_vol_module,
};

const struct fq_bdev_module *fq_bdev_module_get(enum fq_bdev_kind kind)
{
	if ((unsigned)kind >= FQ_BDEV_NUM_KINDS)
		return NULL;
	return modules[kind];
}

const struct fq_bdev_module *fq_bdev_module_find(const char *name)
{
	for (int i = 0; name && i < FQ_BDEV_NUM_KINDS; i++)
		if (modules[i] && !strcmp(modules[i]->name, name))
			return modules[i];
	return NULL;
}

int fq_bdev_opts_init(struct fq_bdev_opts *opts, enum fq_bdev_kind kind)
{
	const struct fq_bdev_module *m = fq_bdev_module_get(kind);

	if (!opts || !m)
		return -EINVAL;
	memset(opts, 0, sizeof(*opts));
	opts->kind = kind;
	opts->block_size = 512;
	if (m->defaults)
		m->defaults(opts);
	return 0;
}

/* The prefix of error messages: the module name, and the path of a file. */
static void err_prefix(const struct fq_bdev_opts *opts, char *buf, size_t len)
{
	const struct fq_bdev_module *m = fq_bdev_module_get(opts->kind);

	if (m && (opts->kind == FQ_BDEV_FILE || opts->kind == FQ_BDEV_VOL))
		snprintf(buf, len, "%s %s", m->name, opts->path ? opts->path : "(no path)");
	else
		snprintf(buf, len, "%s", m ? m->name : "bdev");
}

static int check_opts(const struct fq_bdev_opts *opts, uint32_t bs, char *err, size_t errlen)
{
	char who[128];

	err_prefix(opts, who, sizeof(who));
	if (bs != 512 && bs != 4096) {
		fq_bdev_errf(err, errlen, "%s: block size %u is not 512 or 4096", who, bs);
		return -EINVAL;
	}
	if (opts->kind == FQ_BDEV_FILE && (!opts->path || !opts->path[0])) {
		fq_bdev_errf(err, errlen, "file: no path given");
		return -EINVAL;
	}
	/* A file may take its size from the file, a volume from the volume. */
	if (opts->kind != FQ_BDEV_FILE && opts->kind != FQ_BDEV_VOL && opts->size == 0) {
		fq_bdev_errf(err, errlen, "%s: a size is required", who);
		return -EINVAL;
	}
	if (opts->size % bs) {
		fq_bdev_errf(err, errlen, "%s: size %llu is not a multiple of the block size %u",
			     who, (unsigned long long)opts->size, bs);
		return -EINVAL;
	}
	return 0;
}

static int open_at(const struct fq_bdev_opts *opts, int depth, struct fq_bdev **out, char *err,
		   size_t errlen)
{
	const struct fq_bdev_module *m = fq_bdev_module_get(opts->kind);
	struct fq_bdev *bdev, *base = NULL;
	uint32_t bs;
	int rc;

	if (!m) {
		fq_bdev_errf(err, errlen, "bdev: unknown backend kind %d", (int)opts->kind);
		return -EINVAL;
	}
	if (m->stacks) {
		if (!opts->base) {
			fq_bdev_errf(err, errlen, "%s: needs a base bdev to sit on", m->name);
			return -EINVAL;
		}
		if (depth >= FQ_BDEV_MAX_STACK) {
			fq_bdev_errf(err, errlen, "%s: more than %d layers stacked", m->name,
				     FQ_BDEV_MAX_STACK);
			return -EINVAL;
		}
		rc = open_at(opts->base, depth + 1, &base, err, errlen);
		if (rc)
			return rc;
		bs = base->block_size;
	} else {
		bs = opts->block_size ? opts->block_size : 512;
		rc = check_opts(opts, bs, err, errlen);
		if (rc)
			return rc;
	}
	bdev = calloc(1, sizeof(*bdev) + m->ctx_size);
	if (!bdev) {
		fq_bdev_errf(err, errlen, "bdev: out of memory");
		fq_bdev_close(base);
		return -ENOMEM;
	}
	bdev->module = m;
	bdev->block_size = bs;
	bdev->priv = m->ctx_size ? bdev->ctx : NULL;
	err_prefix(opts, bdev->name, sizeof(bdev->name));
	if (base) {
		bdev->base = base;
		bdev->num_blocks = base->num_blocks;
		bdev->volatile_cache = base->volatile_cache;
		bdev->read_zeroes_after_dealloc = base->read_zeroes_after_dealloc;
		bdev->supports_dealloc = base->supports_dealloc;
		bdev->write_protected = base->write_protected;
		/* "delay+ram"; a long stack is cut short, which is fine for a name. */
		if (snprintf(bdev->name, sizeof(bdev->name), "%s+%.40s", m->name, base->name) < 0)
			bdev->name[0] = '\0';
	}
	rc = m->init(bdev, opts, err, errlen);
	if (rc) {
		free(bdev);
		fq_bdev_close(base);
		return rc;
	}
	*out = bdev;
	return 0;
}

int fq_bdev_open(const struct fq_bdev_opts *opts, struct fq_bdev **out, char *err, size_t errlen)
{
	fq_bdev_errf(err, errlen, "%s", "");
	if (!opts || !out) {
		fq_bdev_errf(err, errlen, "bdev: no options given");
		return -EINVAL;
	}
	*out = NULL;
	return open_at(opts, 0, out, err, errlen);
}

void fq_bdev_close(struct fq_bdev *bdev)
{
	struct fq_bdev *base;

	if (!bdev)
		return;
	base = bdev->base;
	if (bdev->ops && bdev->ops->destroy)
		bdev->ops->destroy(bdev);
	free(bdev);
	fq_bdev_close(base);
}

void fq_bdev_close_discard(struct fq_bdev *bdev)
{
	struct fq_bdev *base;

	if (!bdev)
		return;
	base = bdev->base;
	bdev->base = NULL;
	if (bdev->module && bdev->module->kind == FQ_BDEV_FILE)
		fq_bdev_file_discard(bdev);
	fq_bdev_close(bdev);
	fq_bdev_close_discard(base);
}

int fq_bdev_sync(struct fq_bdev *bdev)
{
	if (!bdev || !bdev->ops || !bdev->ops->sync)
		return 0;
	return bdev->ops->sync(bdev);
}

struct fq_bdev *fq_bdev_bottom(struct fq_bdev *bdev)
{
	while (bdev && bdev->base)
		bdev = bdev->base;
	return bdev;
}

uint64_t fq_bdev_used_blocks(struct fq_bdev *bdev)
{
	struct fq_bdev *b = fq_bdev_bottom(bdev);
	uint64_t n;

	if (!b || !b->ops || !b->ops->used_blocks)
		return bdev ? bdev->num_blocks : 0;
	n = b->ops->used_blocks(b);
	return n < bdev->num_blocks ? n : bdev->num_blocks;
}

int fq_bdev_sync_base(struct fq_bdev *bdev)
{
	return fq_bdev_sync(bdev->base);
}

struct fq_bdev_frame *fq_bdev_push(struct fq_bdev *bdev, struct fq_bdev_io *io, fq_bdev_cb done)
{
	struct fq_bdev_frame *f;

	if (io->depth >= FQ_BDEV_MAX_STACK)
		return NULL;
	f = &io->frame[io->depth++];
	f->cb = io->cb;
	f->cb_arg = io->cb_arg;
	f->bdev = bdev;
	io->cb = done;
	return f;
}

static void pop(struct fq_bdev_io *io)
{
	struct fq_bdev_frame *f = &io->frame[--io->depth];

	io->cb = f->cb;
	io->cb_arg = f->cb_arg;
	io->bdev = f->bdev;
}

int fq_bdev_submit_down(struct fq_bdev *bdev, struct fq_bdev_io *io)
{
	struct fq_bdev *base = bdev->base;
	int rc;

	io->bdev = base;
	io->done_bytes = 0;
	io->pending = 0;
	io->error = 0;
	io->state = 0;
	rc = base->ops->submit(base, io->eng, io);
	if (rc)
		pop(io);
	return rc;
}

void fq_bdev_complete_up(struct fq_bdev_io *io, int result)
{
	pop(io);
	io->cb(io, result);
}

int fq_bdev_abort_held(struct fq_bdev *bdev, struct fq_engine *eng)
{
	int n = 0;

	for (struct fq_bdev *b = bdev; b; b = b->base)
		if (b->ops->abort_held)
			n += b->ops->abort_held(b, eng);
	return n;
}

/* The iovecs must hold at least io->length bytes. */
static int check_iov(const struct fq_bdev_io *io)
{
	uint64_t sum = 0;
	int i;

	if (!io->iov || io->iovcnt <= 0 || io->iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < io->iovcnt && sum < io->length; i++) {
		if (io->iov[i].iov_len && !io->iov[i].iov_base)
			return -EINVAL;
		sum += io->iov[i].iov_len;
	}
	return sum >= io->length ? 0 : -EINVAL;
}

static int check_io(const struct fq_bdev *bdev, const struct fq_bdev_io *io)
{
	uint64_t cap = bdev->num_blocks * bdev->block_size;
	uint64_t mask = bdev->block_size - 1;

	if (!io->cb)
		return -EINVAL;
	switch (io->type) {
	case FQ_BDEV_IO_FLUSH:
		return 0;
	case FQ_BDEV_IO_READ:
	case FQ_BDEV_IO_WRITE:
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		break;
	default:
		return -EINVAL;
	}
	if (!io->length || (io->offset & mask) || (io->length & mask))
		return -EINVAL;
	/* Written so that offset + length cannot wrap. */
	if (io->offset > cap || io->length > cap - io->offset)
		return -EINVAL;
	if (io->type == FQ_BDEV_IO_READ || io->type == FQ_BDEV_IO_WRITE)
		return check_iov(io);
	return 0;
}

int fq_bdev_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	int rc;

	if (!bdev || !bdev->ops || !bdev->ops->submit || !io)
		return -EINVAL;
	rc = check_io(bdev, io);
	if (rc)
		return rc;
	io->bdev = bdev;
	io->eng = eng;
	io->done_bytes = 0;
	io->pending = 0;
	io->error = 0;
	io->state = 0;
	io->nvme_status = 0;
	io->depth = 0;
	return bdev->ops->submit(bdev, eng, io);
}

int fq_bdev_parse_common(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
			 size_t errlen)
{
	bool file = opts->kind == FQ_BDEV_FILE;
	uint64_t v;

	if (!strcmp(key, "size")) {
		if (fq_parse_size(val, &opts->size) || !opts->size)
			goto bad;
	} else if (!strcmp(key, "bs")) {
		if (fq_parse_u64(val, &v) || (v != 512 && v != 4096))
			goto bad;
		opts->block_size = (uint32_t)v;
	} else if (file && !strcmp(key, "direct")) {
		if (fq_parse_bool(val, &opts->direct))
			goto bad;
	} else if (file && !strcmp(key, "create")) {
		if (fq_parse_bool(val, &opts->create))
			goto bad;
	} else {
		return -ENOENT;
	}
	return 0;
bad:
	fq_bdev_errf(err, errlen, "bad %s '%s'", key, val);
	return -EINVAL;
}
