/* SPDX-License-Identifier: MIT */
/*
 * The request life cycle (src/storage/req.c) over a scripted backend: the
 * test decides when and how every backend I/O completes, so ordering,
 * read-modify-write, retries and fail-fast are checked exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/storage_int.h"

#define DISK (1u << 20)
#define MAXP 64

static struct fake {
	uint8_t disk[DISK];
	struct sto_bio *pending[MAXP];
	unsigned npending;
	unsigned slots; /* submissions accepted before -EAGAIN */
	int ready_rc;
	unsigned submits;
} fk;

static int f_ready(void *ctx)
{
	(void)ctx;
	return fk.ready_rc;
}

static int f_submit(void *ctx, struct sto_bio *bio)
{
	(void)ctx;
	if (fk.npending >= fk.slots)
		return -EAGAIN;
	fk.pending[fk.npending++] = bio;
	fk.submits++;
	return 0;
}

static int f_nop(void *ctx)
{
	(void)ctx;
	return 0;
}

static int f_poll(void *ctx, int64_t wait_ns)
{
	(void)ctx;
	(void)wait_ns;
	return 0;
}

static int f_health(void *ctx, struct fq_storage_health *h)
{
	(void)ctx;
	h->state = FQ_STORAGE_UP;
	return 0;
}

static uint32_t f_capacity(void *ctx)
{
	(void)ctx;
	return 16;
}

static void f_close(void *ctx)
{
	(void)ctx;
}

static const struct sto_backend_ops fake_ops = {
	.name = "fake",
	.close = f_close,
	.ready = f_ready,
	.submit = f_submit,
	.kick = f_nop,
	.poll = f_poll,
	.health = f_health,
	.capacity = f_capacity,
};

/* Carry out pending bio @i's data transfer (as the device would). */
static void apply(struct sto_bio *b)
{
	uint64_t off = b->lba << b->ns->bs_shift;

	for (int i = 0; i < b->iovcnt; i++) {
		if (b->op == FQ_STORAGE_WRITE)
			memcpy(fk.disk + off, b->iov[i].iov_base, b->iov[i].iov_len);
		else if (b->op == FQ_STORAGE_READ)
			memcpy(b->iov[i].iov_base, fk.disk + off, b->iov[i].iov_len);
		off += b->iov[i].iov_len;
	}
}

/* Complete pending bio @i: @exec says whether it took effect. */
static void complete(unsigned i, bool exec, int err, unsigned flags)
{
	struct sto_bio *b;

	assert_true(i < fk.npending);
	b = fk.pending[i];
	memmove(&fk.pending[i], &fk.pending[i + 1], (fk.npending - i - 1) * sizeof(b));
	fk.npending--;
	if (exec)
		apply(b);
	b->done(b, err, flags);
}

static struct fq_storage *make(uint32_t retries)
{
	struct fq_storage *st = calloc(1, sizeof(*st));

	sto_config_defaults(&st->cfg);
	st->cfg.retry_count = retries;
	st->cfg.adaptive_batching = false;
	st->be = &fake_ops;
	st->be_ctx = &fk;
	st->nns = 1;
	st->ns[0] = (struct sto_ns){.nsid = 1, .bs = 512, .bs_shift = 9, .nblocks = DISK / 512};
	assert_int_equal(sto_pool_init(&st->pool, 64 << 10, 4096), 0);
	assert_int_equal(sto_reqs_init(st, 16), 0);
	sto_poller_init(&st->poller, &st->cfg);
	sto_stats_reset(&st->stats);
	memset(&fk, 0, sizeof(fk));
	fk.slots = MAXP;
	for (unsigned i = 0; i < DISK; i++)
		fk.disk[i] = (uint8_t)(i * 7);
	return st;
}

struct res {
	int calls;
	int result;
};

static void cb(void *arg, int result)
{
	struct res *r = arg;

	r->calls++;
	r->result = result;
}

static void unaligned_write_reads_edges_first(void **state)
{
	struct fq_storage *st = make(0);
	uint8_t data[1000], expect[2048];
	struct res r = {0};

	(void)state;
	memset(data, 0xab, sizeof(data));
	memcpy(expect, fk.disk, sizeof(expect));
	memcpy(expect + 300, data, sizeof(data));
	/* Bytes 300..1299: block 0 from 300, block 2 up to 1299. */
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 300, data, 1000, cb, &r), 0);
	assert_int_equal(fk.npending, 2);
	assert_int_equal(fk.pending[0]->op, FQ_STORAGE_READ);
	assert_int_equal(fk.pending[0]->lba, 0);
	assert_int_equal(fk.pending[1]->lba, 2);
	complete(1, true, 0, 0);
	/* The write waits for both reads. */
	assert_int_equal(fk.npending, 1);
	assert_int_equal(fk.pending[0]->op, FQ_STORAGE_READ);
	complete(0, true, 0, 0);
	assert_int_equal(fk.npending, 1);
	assert_int_equal(fk.pending[0]->op, FQ_STORAGE_WRITE);
	assert_int_equal(fk.pending[0]->lba, 0);
	assert_int_equal(fk.pending[0]->nlb, 3);
	complete(0, true, 0, 0);
	assert_int_equal(fq_storage_poll(st), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.result, 0);
	assert_memory_equal(fk.disk, expect, sizeof(expect));
	fq_storage_close(st);
}

static void overlapping_writes_are_serialised(void **state)
{
	struct fq_storage *st = make(0);
	uint8_t a[1024], b[1024], c[512];
	struct res ra = {0}, rb = {0}, rc = {0};

	(void)state;
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	memset(c, 3, sizeof(c));
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 0, a, 1024, cb, &ra), 0);
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 512, b, 1024, cb, &rb), 0);
	/* A disjoint write is not held up. */
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 8192, c, 512, cb, &rc), 0);
	assert_int_equal(fk.npending, 2);
	assert_int_equal(fk.pending[1]->lba, 16);
	complete(0, true, 0, 0);
	assert_int_equal(fq_storage_poll(st), 1);
	assert_int_equal(fk.npending, 2);
	assert_int_equal(fk.pending[1]->lba, 1); /* b goes out only now */
	complete(1, true, 0, 0);
	complete(0, true, 0, 0);
	fq_storage_poll(st);
	assert_int_equal(ra.calls + rb.calls + rc.calls, 3);
	assert_int_equal(fk.disk[0], 1);
	assert_int_equal(fk.disk[600], 2);
	assert_int_equal(fk.disk[1500], 2);
	fq_storage_close(st);
}

/*
 * The retry rule: write A fails ambiguously (it reached the media, the
 * answer was lost). Write B to the same blocks is submitted meanwhile. A is
 * resent before B is issued, so B's data ends on the media and an
 * acknowledged B is never overwritten by a late retry of A.
 */
static void retry_never_undoes_a_later_write(void **state)
{
	struct fq_storage *st = make(2);
	uint8_t a[512], b[512];
	struct res ra = {0}, rb = {0};
	struct fq_storage_stats s;

	(void)state;
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 0, a, 512, cb, &ra), 0);
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 0, b, 512, cb, &rb), 0);
	assert_int_equal(fk.npending, 1);
	complete(0, true, -ENOTCONN, STO_BIO_TRANSIENT);
	assert_int_equal(fq_storage_poll(st), 0); /* resend, no callback */
	assert_int_equal(fk.npending, 1);
	assert_int_equal(((uint8_t *)fk.pending[0]->iov[0].iov_base)[0], 0xaa);
	complete(0, true, 0, 0);
	assert_int_equal(fq_storage_poll(st), 1);
	assert_int_equal(ra.calls, 1);
	assert_int_equal(ra.result, 0);
	assert_int_equal(fk.npending, 1); /* now B */
	assert_int_equal(((uint8_t *)fk.pending[0]->iov[0].iov_base)[0], 0xbb);
	complete(0, true, 0, 0);
	fq_storage_poll(st);
	assert_int_equal(rb.result, 0);
	assert_int_equal(fk.disk[0], 0xbb);
	fq_storage_get_stats(st, &s);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].ops, 2);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].retries, 1);
	assert_int_equal(s.op[FQ_STORAGE_WRITE].errors, 0);
	fq_storage_close(st);
}

static void retries_are_bounded(void **state)
{
	struct fq_storage *st = make(2);
	uint8_t buf[512];
	struct res r = {0};
	struct fq_storage_stats s;

	(void)state;
	assert_int_equal(fq_storage_read_async(st, "nsid:1", 0, buf, 512, cb, &r), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fk.npending, 1);
		complete(0, false, -EIO, STO_BIO_TRANSIENT);
		fq_storage_poll(st);
	}
	assert_int_equal(fk.npending, 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.result, -EIO);
	fq_storage_get_stats(st, &s);
	assert_int_equal(s.op[FQ_STORAGE_READ].retries, 2);
	assert_int_equal(s.op[FQ_STORAGE_READ].errors, 1);
	/* A permanent error is not retried at all. */
	assert_int_equal(fq_storage_read_async(st, "nsid:1", 0, buf, 512, cb, &r), 0);
	complete(0, false, -ERANGE, 0);
	fq_storage_poll(st);
	assert_int_equal(r.result, -ERANGE);
	assert_int_equal(fk.submits, 4);
	fq_storage_close(st);
}

static void fails_fast_while_not_ready(void **state)
{
	struct fq_storage *st = make(3);
	uint8_t buf[512];
	struct res r = {0};

	(void)state;
	assert_int_equal(fq_storage_write_async(st, "nsid:1", 0, buf, 512, cb, &r), 0);
	fk.ready_rc = -ENOTCONN;
	assert_int_equal(fq_storage_read_async(st, "nsid:1", 0, buf, 512, cb, &r), -ENOTCONN);
	assert_int_equal(fq_storage_read_sync(st, "nsid:1", 0, buf, 512), -ENOTCONN);
	/* The in-flight write fails transiently: no resend while not ready. */
	complete(0, false, -ENOTCONN, STO_BIO_TRANSIENT);
	fq_storage_poll(st);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.result, -ENOTCONN);
	assert_int_equal(fk.submits, 1);
	fq_storage_close(st);
}

static void full_backend_is_not_a_retry(void **state)
{
	struct fq_storage *st = make(0);
	uint8_t buf[4][512];
	struct res r = {0};
	struct fq_storage_stats s;

	(void)state;
	fk.slots = 2;
	for (int i = 0; i < 4; i++)
		assert_int_equal(fq_storage_read_async(st, "nsid:1", (uint64_t)i * 4096, buf[i],
						       512, cb, &r),
				 0);
	assert_int_equal(fk.npending, 2);
	complete(0, true, 0, 0);
	complete(0, true, 0, 0);
	fq_storage_poll(st); /* resends the two that found no slot */
	assert_int_equal(fk.npending, 2);
	complete(0, true, 0, 0);
	complete(0, true, 0, 0);
	fq_storage_poll(st);
	assert_int_equal(r.calls, 4);
	assert_int_equal(r.result, 0);
	assert_memory_equal(buf[3], fk.disk + 3 * 4096, 512);
	fq_storage_get_stats(st, &s);
	assert_int_equal(s.op[FQ_STORAGE_READ].retries, 0);
	assert_int_equal(s.op[FQ_STORAGE_READ].ops, 4);
	fq_storage_close(st);
}

static void unaligned_read_bounces_edges(void **state)
{
	struct fq_storage *st = make(0);
	uint8_t buf[1500];
	struct res r = {0};

	(void)state;
	assert_int_equal(fq_storage_read_async(st, "nsid:1", 100, buf, 1500, cb, &r), 0);
	assert_int_equal(fk.npending, 1); /* one read of the 4-block cover */
	assert_int_equal(fk.pending[0]->nlb, 4);
	assert_int_equal(fk.pending[0]->iovcnt, 3);
	complete(0, true, 0, 0);
	fq_storage_poll(st);
	assert_int_equal(r.result, 0);
	assert_memory_equal(buf, fk.disk + 100, sizeof(buf));
	fq_storage_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unaligned_write_reads_edges_first),
		cmocka_unit_test(unaligned_read_bounces_edges),
		cmocka_unit_test(overlapping_writes_are_serialised),
		cmocka_unit_test(retry_never_undoes_a_later_write),
		cmocka_unit_test(retries_are_bounded),
		cmocka_unit_test(fails_fast_while_not_ready),
		cmocka_unit_test(full_backend_is_not_a_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
