/* SPDX-License-Identifier: MIT */
/*
 * QoS module: a layer that holds I/O to rate limits (reads and writes, in
 * operations and in bytes per second) and can suspend all I/O and resume it.
 *
 * Limits are token buckets (util/tbucket.h: a "theoretical arrival time"
 * per bucket, the generic cell rate algorithm), advanced by each I/O's cost
 * with a compare-and-swap, so the reactors that share the bdev never lock
 * and no thread sleeps. An I/O may
 * start once the bucket's time is no more than the burst ahead of now; one
 * that would start later reserves its place at once and waits for it with
 * an io_uring timeout on its own reactor's engine, in the I/O's uring op,
 * before going down to the base. The burst (burst_ms of the rate, 100 ms by
 * default) is what may pass at once after an idle spell.
 *
 * Suspend holds every new I/O (up to max_held of them; beyond that an I/O
 * fails with Namespace Not Ready, a retryable status) by re-checking every
 * millisecond on its engine, so a resume from any thread needs no message
 * to the reactors. Resume releases what is held in one of three ways:
 * normal (it goes on, through the limits), error (it fails with Internal
 * Error) or discard (it completes successfully without reaching the base;
 * reads return zeros).
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "proto/nvme.h"
#include "util/tbucket.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define NS_PER_S 1000000000ull
#define HOLD_POLL_NS 1000000ull /* a held I/O looks at the suspend state every 1 ms */
#define QOS_MAX_BURST_MS 10000u
#define QOS_DEFAULT_BURST_MS 100u
#define QOS_DEFAULT_MAX_HELD 4096u

enum { B_READ_IOPS, B_WRITE_IOPS, B_READ_BPS, B_WRITE_BPS, B_NUM };

struct qos_bdev {
	struct fq_tbucket b[B_NUM]; /* CLOCK_MONOTONIC ns */
	_Atomic uint64_t burst_ns;
	_Atomic bool suspended;
	_Atomic uint32_t epoch; /* suspensions so far */
	_Atomic int resume_mode;
	_Atomic uint32_t held;
	uint32_t max_held;
	_Atomic uint64_t delayed; /* I/Os that waited for a limit */
};

struct qos_params {
	uint64_t rate[B_NUM];
	uint32_t burst_ms;
	uint32_t max_held;
};

_Static_assert(sizeof(struct qos_params) <= FQ_BDEV_PARAMS_SIZE, "qos params");

/*
 * Frame scratch: [0] the suspension epoch the I/O is held in (or
 * NOT_HELD), [1..2] the timespec of its timer.
 */
enum { SCR_EPOCH, SCR_TS };
#define NOT_HELD UINT64_MAX

static const char *const key_names[B_NUM] = {"read_iops", "write_iops", "read_bps", "write_bps"};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t limits_wait(struct qos_bdev *q, const struct fq_bdev_io *io)
{
	uint64_t now = now_ns(), burst = atomic_load_explicit(&q->burst_ns, memory_order_relaxed);
	uint64_t w1, w2, bytes = 0;
	int ops_b, bps_b;

	switch (io->type) {
	case FQ_BDEV_IO_READ:
		ops_b = B_READ_IOPS, bps_b = B_READ_BPS, bytes = io->length;
		break;
	case FQ_BDEV_IO_WRITE:
		ops_b = B_WRITE_IOPS, bps_b = B_WRITE_BPS, bytes = io->length;
		break;
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		/* Operations, not data moved: they count against write IOPS only. */
		ops_b = B_WRITE_IOPS, bps_b = B_WRITE_BPS;
		break;
	default:
		return 0; /* flushes are not limited */
	}
	w1 = fq_tbucket_take(&q->b[ops_b], 1, now, burst);
	w2 = fq_tbucket_take(&q->b[bps_b], bytes, now, burst);
	return w1 > w2 ? w1 : w2;
}

static void qos_base_done(struct fq_bdev_io *io, int result)
{
	fq_bdev_complete_up(io, result);
}

/* Down to the base; a refusal completes the I/O here (submit already returned 0). */
static void go_down(struct fq_bdev_io *io)
{
	int rc = fq_bdev_submit_down(io->frame[io->depth - 1].bdev, io);

	if (rc)
		io->cb(io, rc); /* the frame is gone: this is the caller's callback */
}

static void arm_timer(struct fq_bdev_io *io, uint64_t wait_ns, fq_uop_fn done)
{
	struct fq_bdev_frame *f = fq_bdev_frame_top(io);
	struct __kernel_timespec *ts = (struct __kernel_timespec *)&f->scratch[SCR_TS];

	ts->tv_sec = (long long)(wait_ns / NS_PER_S);
	ts->tv_nsec = (long long)(wait_ns % NS_PER_S);
	io->pending++;
	io->uop.done = done;
	io_uring_prep_timeout(fq_engine_sqe(io->eng, &io->uop), ts, 0, 0);
}

static void limit_timer_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_bdev_io *io = container_of(op, struct fq_bdev_io, uop);

	(void)res; /* -ETIME: waited as intended */
	(void)cqe_flags;
	io->pending--;
	go_down(io);
}

/* Through the limits: now, or after the wait they ask for. */
static void pass_limits(struct qos_bdev *q, struct fq_bdev_io *io)
{
	uint64_t wait = limits_wait(q, io);

	if (!wait) {
		go_down(io);
		return;
	}
	atomic_fetch_add_explicit(&q->delayed, 1, memory_order_relaxed);
	arm_timer(io, wait, limit_timer_done);
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

static void hold_timer_done(struct fq_uop *op, int res, uint32_t cqe_flags)
{
	struct fq_bdev_io *io = container_of(op, struct fq_bdev_io, uop);
	struct fq_bdev_frame *f = fq_bdev_frame_top(io);
	struct qos_bdev *q = f->bdev->priv;

	(void)res;
	(void)cqe_flags;
	io->pending--;
	if (atomic_load_explicit(&q->suspended, memory_order_acquire) &&
	    atomic_load_explicit(&q->epoch, memory_order_relaxed) == f->scratch[SCR_EPOCH]) {
		arm_timer(io, HOLD_POLL_NS, hold_timer_done);
		return;
	}
	atomic_fetch_sub_explicit(&q->held, 1, memory_order_relaxed);
	switch (atomic_load_explicit(&q->resume_mode, memory_order_relaxed)) {
	case FQ_BDEV_QOS_RESUME_ERROR:
		io->nvme_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INTERNAL);
		fq_bdev_complete_up(io, -EIO);
		break;
	case FQ_BDEV_QOS_RESUME_DISCARD:
		if (io->type == FQ_BDEV_IO_READ)
			zero_iov(io);
		fq_bdev_complete_up(io, 0);
		break;
	default:
		pass_limits(q, io);
		break;
	}
}

static int qos_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io)
{
	struct qos_bdev *q = bdev->priv;
	struct fq_bdev_frame *f;
	uint64_t wait;

	if (atomic_load_explicit(&q->suspended, memory_order_acquire)) {
		if (!eng)
			return -EINVAL; /* holding needs a ring */
		if (atomic_fetch_add_explicit(&q->held, 1, memory_order_relaxed) >= q->max_held) {
			atomic_fetch_sub_explicit(&q->held, 1, memory_order_relaxed);
			io->nvme_status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_NS_NOT_READY);
			io->cb(io, -EAGAIN);
			return 0;
		}
		f = fq_bdev_push(bdev, io, qos_base_done);
		if (!f) {
			atomic_fetch_sub_explicit(&q->held, 1, memory_order_relaxed);
			return -E2BIG;
		}
		f->scratch[SCR_EPOCH] = atomic_load_explicit(&q->epoch, memory_order_relaxed);
		arm_timer(io, HOLD_POLL_NS, hold_timer_done);
		return 0;
	}
	wait = limits_wait(q, io);
	if (wait && !eng)
		return -EINVAL; /* the wait needs a ring */
	f = fq_bdev_push(bdev, io, qos_base_done);
	if (!f)
		return -E2BIG;
	f->scratch[SCR_EPOCH] = NOT_HELD;
	if (!wait)
		return fq_bdev_submit_down(bdev, io);
	atomic_fetch_add_explicit(&q->delayed, 1, memory_order_relaxed);
	arm_timer(io, wait, limit_timer_done);
	return 0;
}

static const struct fq_bdev_ops qos_ops = {
	.name = "qos",
	.submit = qos_submit,
	.map_read = NULL, /* every read must pass the limits */
	.sync = fq_bdev_sync_base,
	.destroy = NULL,
};

static void qos_defaults(struct fq_bdev_opts *opts)
{
	struct qos_params *p = (struct qos_params *)opts->params;

	p->burst_ms = QOS_DEFAULT_BURST_MS;
	p->max_held = QOS_DEFAULT_MAX_HELD;
}

static int qos_parse(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
		     size_t errlen)
{
	struct qos_params *p = (struct qos_params *)opts->params;
	uint64_t v;
	int i;

	for (i = 0; i < B_NUM; i++)
		if (!strcmp(key, key_names[i]))
			break;
	if (i < B_NUM) {
		if (fq_bdev_parse_u64(val, &v)) {
			fq_bdev_errf(err, errlen, "bad %s '%s' (a rate per second, 0 = no limit)",
				     key, val);
			return -EINVAL;
		}
		p->rate[i] = v;
		return 0;
	}
	if (!strcmp(key, "burst_ms")) {
		if (fq_bdev_parse_u64(val, &v) || !v || v > QOS_MAX_BURST_MS) {
			fq_bdev_errf(err, errlen, "bad burst_ms '%s' (1..%u milliseconds)", val,
				     QOS_MAX_BURST_MS);
			return -EINVAL;
		}
		p->burst_ms = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "max_held")) {
		if (fq_bdev_parse_u64(val, &v) || !v || v > UINT32_MAX) {
			fq_bdev_errf(err, errlen, "bad max_held '%s' (1..4294967295 I/Os)", val);
			return -EINVAL;
		}
		p->max_held = (uint32_t)v;
		return 0;
	}
	return -ENOENT;
}

static int qos_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err, size_t errlen)
{
	const struct qos_params *p = (const struct qos_params *)opts->params;
	struct qos_bdev *q = bdev->priv;

	if (!p->burst_ms || p->burst_ms > QOS_MAX_BURST_MS || !p->max_held) {
		fq_bdev_errf(err, errlen, "qos: burst_ms must be 1..%u and max_held at least 1",
			     QOS_MAX_BURST_MS);
		return -EINVAL;
	}
	for (int i = 0; i < B_NUM; i++) {
		fq_tbucket_init(&q->b[i], p->rate[i]);
	}
	atomic_init(&q->burst_ns, (uint64_t)p->burst_ms * 1000000ull);
	atomic_init(&q->suspended, false);
	atomic_init(&q->epoch, 0);
	atomic_init(&q->resume_mode, FQ_BDEV_QOS_RESUME_NORMAL);
	atomic_init(&q->held, 0);
	atomic_init(&q->delayed, 0);
	q->max_held = p->max_held;
	bdev->ops = &qos_ops;
	bdev->sync_submit = false;
	return 0;
}

static struct qos_bdev *qos_of(struct fq_bdev *bdev)
{
	return bdev && bdev->ops == &qos_ops ? bdev->priv : NULL;
}

int fq_bdev_qos_set(struct fq_bdev *bdev, const struct fq_bdev_qos_limits *lim)
{
	struct qos_bdev *q = qos_of(bdev);
	const uint64_t *r;

	if (!q || !lim || (lim->burst_ms && lim->burst_ms > QOS_MAX_BURST_MS))
		return -EINVAL;
	r = (const uint64_t[B_NUM]){lim->read_iops, lim->write_iops, lim->read_bps, lim->write_bps};
	for (int i = 0; i < B_NUM; i++) {
		if (r[i] == FQ_BDEV_QOS_KEEP)
			continue;
		fq_tbucket_set_rate(&q->b[i], r[i]);
	}
	if (lim->burst_ms)
		atomic_store_explicit(&q->burst_ns, (uint64_t)lim->burst_ms * 1000000ull,
				      memory_order_relaxed);
	return 0;
}

int fq_bdev_qos_get(struct fq_bdev *bdev, struct fq_bdev_qos_limits *lim,
		    struct fq_bdev_qos_stats *st)
{
	struct qos_bdev *q = qos_of(bdev);

	if (!q)
		return -EINVAL;
	if (lim) {
		lim->read_iops = fq_tbucket_rate(&q->b[B_READ_IOPS]);
		lim->write_iops = fq_tbucket_rate(&q->b[B_WRITE_IOPS]);
		lim->read_bps = fq_tbucket_rate(&q->b[B_READ_BPS]);
		lim->write_bps = fq_tbucket_rate(&q->b[B_WRITE_BPS]);
		lim->burst_ms = (uint32_t)(atomic_load(&q->burst_ns) / 1000000ull);
	}
	if (st) {
		st->suspended = atomic_load(&q->suspended);
		st->held = atomic_load(&q->held);
		st->delayed = atomic_load(&q->delayed);
	}
	return 0;
}

int fq_bdev_qos_suspend(struct fq_bdev *bdev)
{
	struct qos_bdev *q = qos_of(bdev);

	if (!q)
		return -EINVAL;
	if (atomic_load(&q->suspended))
		return -EALREADY;
	atomic_fetch_add_explicit(&q->epoch, 1, memory_order_relaxed);
	atomic_store_explicit(&q->suspended, true, memory_order_release);
	return 0;
}

int fq_bdev_qos_resume(struct fq_bdev *bdev, enum fq_bdev_qos_resume mode)
{
	struct qos_bdev *q = qos_of(bdev);

	if (!q || (unsigned)mode > FQ_BDEV_QOS_RESUME_DISCARD)
		return -EINVAL;
	if (!atomic_load(&q->suspended))
		return -EALREADY;
	atomic_store_explicit(&q->resume_mode, (int)mode, memory_order_relaxed);
	atomic_store_explicit(&q->suspended, false, memory_order_release);
	return 0;
}

static int qos_get_params(struct fq_bdev *bdev, struct fq_bdev_opts *opts)
{
	struct qos_params *p = (struct qos_params *)opts->params;
	struct qos_bdev *q = bdev->priv;

	for (int i = 0; i < B_NUM; i++)
		p->rate[i] = atomic_load_explicit(&q->b[i].rate, memory_order_relaxed);
	p->burst_ms = (uint32_t)(atomic_load(&q->burst_ns) / 1000000ull);
	p->max_held = q->max_held;
	return 0;
}

/* Only the limits that changed start afresh (fq_bdev_qos_set). */
static int qos_set_params(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
			  size_t errlen)
{
	const struct qos_params *p = (const struct qos_params *)opts->params;
	struct qos_bdev *q = bdev->priv;
	struct fq_bdev_qos_limits lim = {0};
	uint64_t *r[B_NUM] = {&lim.read_iops, &lim.write_iops, &lim.read_bps, &lim.write_bps};

	/* The hold limit sizes what the reactors count against without a lock. */
	if (p->max_held != q->max_held) {
		fq_bdev_errf(err, errlen, "qos: max_held cannot change at run time");
		return -EINVAL;
	}
	for (int i = 0; i < B_NUM; i++)
		*r[i] = p->rate[i] == atomic_load(&q->b[i].rate) ? FQ_BDEV_QOS_KEEP : p->rate[i];
	lim.burst_ms = p->burst_ms;
	return fq_bdev_qos_set(bdev, &lim);
}

static int qos_format_params(const struct fq_bdev_opts *opts, char *buf, size_t len)
{
	const struct qos_params *p = (const struct qos_params *)opts->params;
	size_t off = 0;
	int n;

	for (int i = 0; i < B_NUM; i++) {
		n = snprintf(buf + off, len - off, "%s=%llu,", key_names[i],
			     (unsigned long long)p->rate[i]);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	n = snprintf(buf + off, len - off, "burst_ms=%u,max_held=%u", p->burst_ms, p->max_held);
	return n < 0 || (size_t)n >= len - off ? -ENOSPC : 0;
}

const struct fq_bdev_module fq_bdev_qos_module = {
	.name = "qos",
	.kind = FQ_BDEV_QOS,
	.ctx_size = sizeof(struct qos_bdev),
	.stacks = true,
	.defaults = qos_defaults,
	.parse = qos_parse,
	.keys = "read_iops, write_iops, read_bps, write_bps, burst_ms, max_held",
	.init = qos_init,
	.get_params = qos_get_params,
	.set_params = qos_set_params,
	.format_params = qos_format_params,
};
