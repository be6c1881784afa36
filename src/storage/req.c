/* SPDX-License-Identifier: MIT */
/*
 * The life of one application operation:
 *
 *   start -> [WAITING] -> [RMW] -> IO -> [RETRY -> IO ...] -> DONE -> callback
 *
 * WAITING: a write waits while an overlapping write holds its block range
 * (or an earlier waiting write overlaps it); any request waits while the
 * bounce pool is empty. RMW: a write whose first or last block is only
 * partly covered reads those blocks first. RETRY: a transient failure is
 * sent again at the next turn, up to retry_count times.
 *
 * Invariant behind retries: a write holds its range lock from start to
 * DONE, so between a write's first send and its retry no other write to an
 * overlapping block has been issued. Re-sending the same bytes to the same
 * blocks is then idempotent: whether the first attempt executed or not, the
 * blocks end with this write's data, and no acknowledged later write can be
 * overwritten by it. The same lock makes concurrent read-modify-writes of a
 * shared edge block safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

int sto_reqs_init(struct fq_storage *st, uint32_t n)
{
	st->reqs = calloc(n, sizeof(*st->reqs));
	if (!st->reqs)
		return -ENOMEM;
	st->nreqs = n;
	for (uint32_t i = n; i-- > 0;) {
		st->reqs[i].next = st->free_reqs;
		st->free_reqs = &st->reqs[i];
	}
	return 0;
}

void sto_reqs_fini(struct fq_storage *st)
{
	free(st->reqs);
	st->reqs = NULL;
	st->free_reqs = NULL;
}

struct sto_req *sto_req_get(struct fq_storage *st)
{
	struct sto_req *r = st->free_reqs;

	if (!r)
		return NULL;
	st->free_reqs = r->next;
	memset(r, 0, sizeof(*r));
	r->st = st;
	return r;
}

static void req_put(struct fq_storage *st, struct sto_req *r)
{
	r->state = REQ_FREE;
	r->next = st->free_reqs;
	st->free_reqs = r;
}

static void list_append(struct sto_req **head, struct sto_req **tail, struct sto_req *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

static bool overlaps(const struct sto_req *a, const struct sto_req *b)
{
	return a->ns == b->ns && a->lba < b->lba + b->nlb && b->lba < a->lba + a->nlb;
}

/* Is write @r blocked by a locked write or by a waiting write before @upto? */
static bool write_blocked(struct fq_storage *st, const struct sto_req *r,
			  const struct sto_req *upto)
{
	for (const struct sto_req *l = st->locked; l; l = l->lk_next)
		if (overlaps(l, r))
			return true;
	for (const struct sto_req *w = st->wait_head; w && w != upto; w = w->next)
		if (w->op == FQ_STORAGE_WRITE && overlaps(w, r))
			return true;
	return false;
}

static void lock_range(struct fq_storage *st, struct sto_req *r)
{
	r->lk_prev = NULL;
	r->lk_next = st->locked;
	if (st->locked)
		st->locked->lk_prev = r;
	st->locked = r;
}

static void unlock_range(struct fq_storage *st, struct sto_req *r)
{
	if (r->lk_prev)
		r->lk_prev->lk_next = r->lk_next;
	else
		st->locked = r->lk_next;
	if (r->lk_next)
		r->lk_next->lk_prev = r->lk_prev;
}

static bool get_bounce(struct fq_storage *st, struct sto_req *r)
{
	unsigned need = (unsigned)r->head_part + (unsigned)r->tail_part;

	if (st->pool.nfree < need)
		return false;
	if (r->head_part)
		r->blk[0] = sto_pool_get(&st->pool);
	if (r->tail_part)
		r->blk[1] = sto_pool_get(&st->pool);
	return true;
}

static uint32_t tail_len(const struct sto_req *r)
{
	return (uint32_t)((r->offset + r->len) & (r->ns->bs - 1));
}

static uint32_t head_len(const struct sto_req *r)
{
	uint32_t n = r->ns->bs - r->head_off;

	return r->len < n ? (uint32_t)r->len : n;
}

static void finish(struct fq_storage *st, struct sto_req *r, int err)
{
	uint64_t now = sto_now_ns();

	r->result = err;
	sto_pool_put(&st->pool, r->blk[0]);
	sto_pool_put(&st->pool, r->blk[1]);
	r->blk[0] = r->blk[1] = NULL;
	if (r->op == FQ_STORAGE_WRITE && r->state != REQ_WAITING)
		unlock_range(st, r);
	r->state = REQ_DONE;
	sto_stats_complete(&st->stats, r, now);
	if (!err) {
		st->last_completion_ns = now;
		sto_poller_note_latency(&st->poller, now - r->t_start);
	}
	list_append(&st->done_head, &st->done_tail, r);
}

static void main_done(struct sto_bio *bio, int err, unsigned flags);
static void rmw_done(struct sto_bio *bio, int err, unsigned flags);

static void queue_retry(struct fq_storage *st, struct sto_req *r)
{
	list_append(&st->retry_head, &st->retry_tail, r);
}

/* Build the main I/O: [head bounce] [application bytes] [tail bounce]. */
static void build_main(struct sto_req *r)
{
	struct sto_bio *b = &r->bio[0];
	uint32_t bs = r->ns->bs, hl = r->head_part ? head_len(r) : 0;
	uint32_t tl = r->tail_part ? tail_len(r) : 0;
	size_t mid = r->len - hl - tl;

	memset(b, 0, sizeof(*b));
	b->op = r->op;
	b->ns = r->ns;
	b->lba = r->lba;
	b->nlb = r->nlb;
	b->done = main_done;
	b->req = r;
	if (r->op == FQ_STORAGE_FLUSH)
		return;
	if (r->head_part)
		b->iov[b->iovcnt++] = (struct iovec){r->blk[0], bs};
	if (mid)
		b->iov[b->iovcnt++] = (struct iovec){r->buf + hl, mid};
	if (r->tail_part)
		b->iov[b->iovcnt++] = (struct iovec){r->blk[1], bs};
}

static void issue_main(struct fq_storage *st, struct sto_req *r)
{
	int rc;

	build_main(r);
	r->state = REQ_IO;
	rc = st->be->submit(st->be_ctx, &r->bio[0]);
	if (rc == -EAGAIN) {
		r->state = REQ_RETRY; /* no slot: resend later, not a retry */
		queue_retry(st, r);
	} else if (rc) {
		finish(st, r, rc);
	} else if (sto_poller_note_submit(&st->poller, sto_now_ns())) {
		sto_kick(st);
	}
}

/* Both edge reads are back (or failed): patch the blocks and write. */
static void rmw_settle(struct fq_storage *st, struct sto_req *r)
{
	int err = r->rmw_err;

	if (err) {
		bool again = r->rmw_transient && r->retries < st->cfg.retry_count;

		r->rmw_err = 0;
		r->rmw_transient = false;
		if (!again)
			return finish(st, r, err);
		r->retries++;
		r->rmw_sent = 0;
		r->state = REQ_RETRY;
		return queue_retry(st, r);
	}
	if (r->head_part)
		memcpy(r->blk[0] + r->head_off, r->buf, head_len(r));
	if (r->tail_part)
		memcpy(r->blk[1], r->buf + r->len - tail_len(r), tail_len(r));
	issue_main(st, r);
}

/* Read the partial edge blocks of a write; bio[0] is the head, bio[1] the tail. */
static void issue_rmw(struct fq_storage *st, struct sto_req *r)
{
	bool kick = false;

	r->state = REQ_RMW;
	for (unsigned i = 0; i < 2; i++) {
		struct sto_bio *b = &r->bio[i];
		int rc;

		if (!(r->rmw_need & (1u << i)) || (r->rmw_sent & (1u << i)))
			continue;
		memset(b, 0, sizeof(*b));
		b->op = FQ_STORAGE_READ;
		b->ns = r->ns;
		b->lba = i == 0 ? r->lba : r->lba + r->nlb - 1;
		b->nlb = 1;
		b->iov[0] = (struct iovec){r->blk[i], r->ns->bs};
		b->iovcnt = 1;
		b->done = rmw_done;
		b->req = r;
		rc = st->be->submit(st->be_ctx, b);
		if (rc == -EAGAIN) {
			if (r->rmw_inflight)
				r->rmw_stalled = true;
			else
				queue_retry(st, r);
			break;
		}
		if (rc) {
			r->rmw_err = rc;
			if (!r->rmw_inflight)
				return rmw_settle(st, r);
			break;
		}
		r->rmw_sent |= (uint8_t)(1u << i);
		r->rmw_inflight |= (uint8_t)(1u << i);
		st->stats.rmw_reads++;
		st->stats.bounce_bytes += r->ns->bs;
		kick |= sto_poller_note_submit(&st->poller, sto_now_ns());
	}
	/* Only now: a kick runs completions, which may finish this request. */
	if (kick)
		sto_kick(st);
}

static void rmw_done(struct sto_bio *bio, int err, unsigned flags)
{
	struct sto_req *r = bio->req;
	struct fq_storage *st = r->st;

	r->rmw_inflight &= (uint8_t) ~(bio == &r->bio[0] ? 1u : 2u);
	if (err && !r->rmw_err) {
		r->rmw_err = err;
		r->rmw_transient = flags & STO_BIO_TRANSIENT;
	}
	if (r->rmw_inflight)
		return;
	if (r->rmw_stalled && !r->rmw_err) {
		r->rmw_stalled = false;
		return queue_retry(st, r);
	}
	r->rmw_stalled = false;
	rmw_settle(st, r);
}

static void main_done(struct sto_bio *bio, int err, unsigned flags)
{
	struct sto_req *r = bio->req;
	struct fq_storage *st = r->st;

	if (err) {
		/*
		 * Reads and flushes are idempotent; a write still holds its
		 * range lock (see the top of this file), so resending it
		 * cannot undo a later acknowledged write.
		 */
		if ((flags & STO_BIO_TRANSIENT) && r->retries < st->cfg.retry_count) {
			r->retries++;
			r->state = REQ_RETRY;
			return queue_retry(st, r);
		}
		return finish(st, r, err);
	}
	if (r->op == FQ_STORAGE_READ) {
		if (r->head_part)
			memcpy(r->buf, r->blk[0] + r->head_off, head_len(r));
		if (r->tail_part)
			memcpy(r->buf + r->len - tail_len(r), r->blk[1], tail_len(r));
		st->stats.bounce_bytes += ((unsigned)r->head_part + r->tail_part) * r->ns->bs;
	}
	finish(st, r, 0);
}

/* Try to move @r past WAITING. @upto: waiters before it in the FIFO. */
static bool try_start(struct fq_storage *st, struct sto_req *r, const struct sto_req *upto)
{
	if (r->op == FQ_STORAGE_WRITE && write_blocked(st, r, upto))
		return false;
	if ((r->head_part || r->tail_part) && !get_bounce(st, r))
		return false;
	if (r->op == FQ_STORAGE_WRITE) {
		lock_range(st, r);
		r->rmw_need = (uint8_t)((r->head_part ? 1u : 0u) | (r->tail_part ? 2u : 0u));
		if (r->rmw_need)
			return issue_rmw(st, r), true;
	}
	issue_main(st, r);
	return true;
}

/* The block cover of the byte range. */
static void cover(struct sto_req *r)
{
	uint32_t bs = r->ns->bs, sh = r->ns->bs_shift;
	uint64_t first, last;

	if (r->op == FQ_STORAGE_FLUSH)
		return;
	first = r->offset >> sh;
	last = (r->offset + r->len - 1) >> sh;
	r->lba = first;
	r->nlb = (uint32_t)(last - first + 1);
	r->head_off = (uint32_t)(r->offset & (bs - 1));
	r->head_part = r->head_off != 0 || (r->nlb == 1 && r->len < bs);
	r->tail_part = r->nlb > 1 && ((r->offset + r->len) & (bs - 1)) != 0;
}

int sto_req_start(struct fq_storage *st, struct sto_req *r)
{
	cover(r);
	r->t_start = sto_now_ns();
	st->outstanding++;
	sto_stats_submit(&st->stats, st->outstanding);
	r->state = REQ_WAITING;
	if (!try_start(st, r, NULL))
		list_append(&st->wait_head, &st->wait_tail, r);
	return 0;
}

static void resend(struct fq_storage *st, struct sto_req *r)
{
	int rc = st->be->ready(st->be_ctx);

	if (rc) /* fail fast while the target is away; st->last_error says why */
		return finish(st, r, rc);
	if (r->op == FQ_STORAGE_WRITE && r->rmw_need && r->rmw_sent != r->rmw_need)
		issue_rmw(st, r);
	else
		issue_main(st, r);
}

static void run_retries(struct fq_storage *st)
{
	struct sto_req *r = st->retry_head;

	st->retry_head = st->retry_tail = NULL;
	while (r) {
		struct sto_req *next = r->next;

		resend(st, r);
		r = next;
	}
}

static void run_waiters(struct fq_storage *st)
{
	struct sto_req *prev = NULL, *r = st->wait_head;

	while (r) {
		struct sto_req *next = r->next;

		if (try_start(st, r, r)) {
			if (prev)
				prev->next = next;
			else
				st->wait_head = next;
			if (st->wait_tail == r)
				st->wait_tail = prev;
		} else {
			prev = r;
		}
		r = next;
	}
}

static int run_callbacks(struct fq_storage *st)
{
	struct sto_req *r = st->done_head;
	int n = 0;

	st->done_head = st->done_tail = NULL;
	while (r) {
		struct sto_req *next = r->next;
		fq_storage_cb cb = r->cb;
		void *arg = r->cb_arg;
		int result = r->result;

		if (r->result_out)
			*r->result_out = result;
		req_put(st, r);
		st->outstanding--;
		if (cb)
			cb(arg, result);
		n++;
		r = next;
	}
	return n;
}

int sto_req_turn(struct fq_storage *st)
{
	if (st->retry_head)
		run_retries(st);
	if (st->wait_head)
		run_waiters(st);
	return st->done_head ? run_callbacks(st) : 0;
}
