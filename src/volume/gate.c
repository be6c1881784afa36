/* SPDX-License-Identifier: MIT */
/*
 * The gate in front of a volume's I/O: its rate limits (token buckets,
 * util/tbucket.h) and its suspension. Pure queueing: the caller passes the
 * time, and the vol bdev (vol_bdev.c) starts what the gate lets go, arms
 * the timer that calls gate_next, and completes what it refuses.
 *
 * Each direction has its own FIFO, so a write waiting for the write limit
 * never holds a read back. An I/O is charged to the buckets only when it
 * leaves the gate, not when it arrives: a limit changed while I/O waits
 * applies to that I/O at the next release (what "live" means here), and a
 * waiting I/O holds no reservation that a lowered limit would honour.
 * Within a direction the order is kept: once one I/O waits, later ones
 * queue behind it even if a bucket would let them pass.
 */
#include "volume/vol_internal.h"

#include <errno.h>
#include <string.h>

enum { SCR_LINK, SCR_OWNER };

static void gate_frame_done(struct fq_bdev_io *io, int result)
{
	/* Not reached: gated I/O leaves through gate_pop or fq_bdev_complete_up. */
	fq_bdev_complete_up(io, result);
}

struct fq_bdev_frame *gate_push(struct fq_bdev *bdev, struct fq_bdev_io *io, void *owner)
{
	struct fq_bdev_frame *f = fq_bdev_push(bdev, io, gate_frame_done);

	if (f) {
		f->scratch[SCR_LINK] = 0;
		f->scratch[SCR_OWNER] = (uint64_t)(uintptr_t)owner;
	}
	return f;
}

void *gate_owner(struct fq_bdev_io *io)
{
	return (void *)(uintptr_t)fq_bdev_frame_top(io)->scratch[SCR_OWNER];
}

void gate_pop(struct fq_bdev_io *io)
{
	struct fq_bdev_frame *f = fq_bdev_frame_top(io);

	io->cb = f->cb;
	io->cb_arg = f->cb_arg;
	io->depth--;
}

struct fq_bdev_io *gate_link_next(struct fq_bdev_io *io)
{
	return (struct fq_bdev_io *)(uintptr_t)fq_bdev_frame_top(io)->scratch[SCR_LINK];
}

static void q_push(struct gate_q *q, struct fq_bdev_io *io)
{
	fq_bdev_frame_top(io)->scratch[SCR_LINK] = 0;
	if (q->tail)
		fq_bdev_frame_top(q->tail)->scratch[SCR_LINK] = (uint64_t)(uintptr_t)io;
	else
		q->head = io;
	q->tail = io;
	q->n++;
}

static struct fq_bdev_io *q_pop(struct gate_q *q)
{
	struct fq_bdev_io *io = q->head;

	if (!io)
		return NULL;
	q->head = gate_link_next(io);
	if (!q->head)
		q->tail = NULL;
	q->n--;
	return io;
}

/* Append @b's list to @a's. */
static void q_join(struct gate_q *a, struct gate_q *b)
{
	if (!b->head)
		return;
	if (a->tail)
		fq_bdev_frame_top(a->tail)->scratch[SCR_LINK] = (uint64_t)(uintptr_t)b->head;
	else
		a->head = b->head;
	a->tail = b->tail;
	a->n += b->n;
	memset(b, 0, sizeof(*b));
}

static uint64_t burst_ns_of(const struct fq_vol_qos *q)
{
	return (uint64_t)(q->burst_ms ? q->burst_ms : FQ_VOL_QOS_DEFAULT_BURST_MS) * 1000000ull;
}

void gate_init(struct vol_gate *g, const struct fq_vol_qos *q)
{
	memset(g, 0, sizeof(*g));
	fq_tbucket_init(&g->b[GB_READ_IOPS], q->read_iops);
	fq_tbucket_init(&g->b[GB_WRITE_IOPS], q->write_iops);
	fq_tbucket_init(&g->b[GB_READ_BPS], q->read_bps);
	fq_tbucket_init(&g->b[GB_WRITE_BPS], q->write_bps);
	g->burst_ns = burst_ns_of(q);
}

void gate_set(struct vol_gate *g, const struct fq_vol_qos *q)
{
	fq_tbucket_set_rate(&g->b[GB_READ_IOPS], q->read_iops);
	fq_tbucket_set_rate(&g->b[GB_WRITE_IOPS], q->write_iops);
	fq_tbucket_set_rate(&g->b[GB_READ_BPS], q->read_bps);
	fq_tbucket_set_rate(&g->b[GB_WRITE_BPS], q->write_bps);
	g->burst_ns = burst_ns_of(q);
}

/* The direction @io is limited in, or -1 (flushes). */
static int dir_of(const struct fq_bdev_io *io)
{
	switch (io->type) {
	case FQ_BDEV_IO_READ:
		return GATE_READ;
	case FQ_BDEV_IO_WRITE:
	case FQ_BDEV_IO_WRITE_ZEROES:
	case FQ_BDEV_IO_DEALLOCATE:
		return GATE_WRITE;
	default:
		return -1;
	}
}

/* Bytes @io costs: write zeroes and deallocate move none (they count as operations). */
static uint64_t bytes_of(const struct fq_bdev_io *io)
{
	return io->type == FQ_BDEV_IO_READ || io->type == FQ_BDEV_IO_WRITE ? io->length : 0;
}

static uint64_t wait_of(const struct vol_gate *g, int dir, uint64_t now)
{
	uint64_t w1 = fq_tbucket_wait(&g->b[dir == GATE_READ ? GB_READ_IOPS : GB_WRITE_IOPS], now,
				      g->burst_ns);
	uint64_t w2 = fq_tbucket_wait(&g->b[dir == GATE_READ ? GB_READ_BPS : GB_WRITE_BPS], now,
				      g->burst_ns);

	return w1 > w2 ? w1 : w2;
}

static void charge(struct vol_gate *g, int dir, const struct fq_bdev_io *io, uint64_t now)
{
	fq_tbucket_take(&g->b[dir == GATE_READ ? GB_READ_IOPS : GB_WRITE_IOPS], 1, now,
			g->burst_ns);
	fq_tbucket_take(&g->b[dir == GATE_READ ? GB_READ_BPS : GB_WRITE_BPS], bytes_of(io), now,
			g->burst_ns);
}

enum gate_verdict gate_admit(struct vol_gate *g, struct fq_bdev_io *io, uint64_t now)
{
	int dir;

	if (g->suspended) {
		if (g->held.n >= FQ_VOL_SUSPEND_MAX_HELD)
			return GATE_FULL;
		q_push(&g->held, io);
		return GATE_HELD;
	}
	dir = dir_of(io);
	if (dir < 0)
		return GATE_GO;
	if (!g->wait[dir].n && !wait_of(g, dir, now)) {
		charge(g, dir, io, now);
		return GATE_GO;
	}
	q_push(&g->wait[dir], io);
	g->delayed++;
	return GATE_QUEUED;
}

struct fq_bdev_io *gate_next(struct vol_gate *g, uint64_t now, uint64_t *wait_ns)
{
	uint64_t min = UINT64_MAX;

	for (int dir = 0; dir < GATE_NDIR; dir++) {
		uint64_t w;

		if (!g->wait[dir].n)
			continue;
		w = wait_of(g, dir, now);
		if (!w) {
			struct fq_bdev_io *io = q_pop(&g->wait[dir]);

			charge(g, dir, io, now);
			return io;
		}
		if (w < min)
			min = w;
	}
	*wait_ns = min;
	return NULL;
}

uint64_t gate_head_wait(const struct vol_gate *g, uint64_t now)
{
	uint64_t min = UINT64_MAX;

	for (int dir = 0; dir < GATE_NDIR; dir++) {
		uint64_t w = g->wait[dir].n ? wait_of(g, dir, now) : UINT64_MAX;

		if (w < min)
			min = w;
	}
	return min;
}

int gate_suspend(struct vol_gate *g)
{
	if (g->suspended)
		return -EALREADY;
	g->suspended = true;
	return 0;
}

struct fq_bdev_io *gate_resume(struct vol_gate *g)
{
	struct fq_bdev_io *io = g->held.head;

	g->suspended = false;
	memset(&g->held, 0, sizeof(g->held));
	return io;
}

struct fq_bdev_io *gate_take_all(struct vol_gate *g)
{
	struct gate_q all = {0};

	for (int dir = 0; dir < GATE_NDIR; dir++)
		q_join(&all, &g->wait[dir]);
	q_join(&all, &g->held);
	return all.head;
}

uint32_t gate_waiting(const struct vol_gate *g)
{
	return g->wait[GATE_READ].n + g->wait[GATE_WRITE].n;
}
