/* SPDX-License-Identifier: MIT */
/*
 * Delay module: a layer that makes reads, and writes (with write-zeroes and
 * deallocate), take at least a set number of microseconds. The I/O goes to
 * the base at once; when the base answers early, the rest of the time is
 * waited out with an io_uring timeout on the submitting reactor's engine, in
 * the I/O's own uring op. Flushes pass through. The delays are atomics, so
 * fq_bdev_delay_set may change them while I/O runs.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "util/parse.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Longest delay accepted: 100 s. */
#define DELAY_MAX_US 100000000u

struct delay_params {
	uint32_t read_us;
	uint32_t write_us;
};

struct delay_bdev {
	_Atomic uint32_t read_us;
	_Atomic uint32_t write_us;
};

/* Frame scratch: [0] the deadline (CLOCK_MONOTONIC ns), [1..2] the timespec. */
enum { SCR_DEADLINE, SCR_TS };

_Static_assert(sizeof(struct delay_params) <= FQ_BDEV_PARAMS_SIZE, "delay params");

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void delay_timer_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_bdev_io *io = container_of(op, struct fq_bdev_io, uop);

	(void)res; /* -ETIME: the timeout expired, as intended */
	(void)cqe_flags;
	io->pending--;
	fq_bdev_complete_up(io, io->error);
}

/* The base answered; wait out what is left of the delay. */
static void delay_base_done(struct fq_bdev_io *io, int result)
{
	struct fq_bdev_frame *f = fq_bdev_frame_top(io);
	uint64_t now = now_ns(), deadline = f->scratch[SCR_DEADLINE];
	struct __kernel_timespec *ts = (struct __kernel_timespec *)&f->scratch[SCR_TS];
	uint64_t left;

	if (now >= deadline) {
		fq_bdev_complete_up(io, result);
		return;
	}
	left = deadline - now;
	ts->tv_sec = (long long)(left / 1000000000u);
	ts->tv_nsec = (long long)(left % 1000000000u);
	io->error = result;
	io->pending++;
	io->uop.done = delay_timer_done;
	io_uring_prep_timeout(fq_engine_sqe(io->eng, &io->uop), ts, 0, 0);
}

static int delay_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct delay_bdev *d = bdev->priv;
	struct fq_bdev_frame *f;
	uint32_t us;

	switch (io->type) {
	case FQ_BDEV_IO_READ:
		us = atomic_load_explicit(&d->read_us, memory_order_relaxed);
		break;
	case FQ_BDEV_IO_WRITE:
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		us = atomic_load_explicit(&d->write_us, memory_order_relaxed);
		break;
	default:
		us = 0;
		break;
	}
	if (us && !eng)
		return -EINVAL; /* the wait needs a ring */
	f = fq_bdev_push(bdev, io, delay_base_done);
	if (!f)
		return -E2BIG;
	f->scratch[SCR_DEADLINE] = us ? now_ns() + (uint64_t)us * 1000u : 0;
	return fq_bdev_submit_down(bdev, io);
}

static const struct fq_bdev_ops delay_ops = {
	.name = "delay",
	.submit = delay_submit,
	.map_read = NULL, /* every read must pass through the delay */
	.sync = fq_bdev_sync_base,
	.destroy = NULL,
};

static int delay_parse(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
		       size_t errlen)
{
	struct delay_params *p = (struct delay_params *)opts->params;
	uint64_t v;

	if (strcmp(key, "read_us") && strcmp(key, "write_us"))
		return -ENOENT;
	if (fq_parse_u64(val, &v) || v > DELAY_MAX_US) {
		fq_bdev_errf(err, errlen, "bad %s '%s' (0..%u microseconds)", key, val,
			     DELAY_MAX_US);
		return -EINVAL;
	}
	if (key[0] == 'r')
		p->read_us = (uint32_t)v;
	else
		p->write_us = (uint32_t)v;
	return 0;
}

static int delay_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		      size_t errlen)
{
	const struct delay_params *p = (const struct delay_params *)opts->params;
	struct delay_bdev *d = bdev->priv;

	if (p->read_us > DELAY_MAX_US || p->write_us > DELAY_MAX_US) {
		fq_bdev_errf(err, errlen, "delay: a delay is above %u microseconds", DELAY_MAX_US);
		return -EINVAL;
	}
	atomic_init(&d->read_us, p->read_us);
	atomic_init(&d->write_us, p->write_us);
	bdev->ops = &delay_ops;
	bdev->sync_submit = false;
	return 0;
}

int fq_bdev_delay_set(struct fq_bdev *bdev, uint32_t read_us, uint32_t write_us)
{
	struct delay_bdev *d;

	if (!bdev || bdev->ops != &delay_ops || read_us > DELAY_MAX_US || write_us > DELAY_MAX_US)
		return -EINVAL;
	d = bdev->priv;
	atomic_store_explicit(&d->read_us, read_us, memory_order_relaxed);
	atomic_store_explicit(&d->write_us, write_us, memory_order_relaxed);
	return 0;
}

static int delay_get_params(struct fq_bdev *bdev, struct fq_bdev_opts *opts)
{
	struct delay_params *p = (struct delay_params *)opts->params;
	struct delay_bdev *d = bdev->priv;

	p->read_us = atomic_load_explicit(&d->read_us, memory_order_relaxed);
	p->write_us = atomic_load_explicit(&d->write_us, memory_order_relaxed);
	return 0;
}

static int delay_set_params(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
			    size_t errlen)
{
	const struct delay_params *p = (const struct delay_params *)opts->params;
	int rc = fq_bdev_delay_set(bdev, p->read_us, p->write_us);

	if (rc)
		fq_bdev_errf(err, errlen, "delay: a delay is above %u microseconds", DELAY_MAX_US);
	return rc;
}

static int delay_format_params(const struct fq_bdev_opts *opts, char *buf, size_t len)
{
	const struct delay_params *p = (const struct delay_params *)opts->params;
	int n = snprintf(buf, len, "read_us=%u,write_us=%u", p->read_us, p->write_us);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

const struct fq_bdev_module fq_bdev_delay_module = {
	.name = "delay",
	.kind = FQ_BDEV_DELAY,
	.ctx_size = sizeof(struct delay_bdev),
	.stacks = true,
	.parse = delay_parse,
	.keys = "read_us, write_us",
	.init = delay_init,
	.get_params = delay_get_params,
	.set_params = delay_set_params,
	.format_params = delay_format_params,
};
