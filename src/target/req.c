/* SPDX-License-Identifier: MIT */
/*
 * The request lifecycle of the target core, the same on every transport:
 * allocation and release, the one state setter, the reactor's buffer pool
 * and the requests waiting for a buffer, the CQE (NVMe Base 2.0 §4.6) and
 * the start of a command (fetch its data, or dispatch it). Everything that
 * leaves for the host goes through the queue's transport ops (xprt.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

static const char *const req_state_name[] = {
	[FQ_REQ_FREE] = "free",
	[FQ_REQ_RX_DATA] = "rx-data",
	[FQ_REQ_NEED_BUF] = "need-buf",
	[FQ_REQ_NEED_DATA] = "need-data",
	[FQ_REQ_EXEC] = "exec",
	[FQ_REQ_AER] = "aer",
	[FQ_REQ_TX] = "tx",
};
static_assert(sizeof(req_state_name) / sizeof(req_state_name[0]) == FQ_REQ_NUM_STATES,
	      "a name per request state");

/* The one place request states change; debug builds trace every move. */
void fq_req_set_state(struct fq_req *req, enum fq_req_state s)
{
	fq_dbg("q%u req %u: %s -> %s", req->q->qid, req->ttag, req_state_name[req->state],
	       req_state_name[s]);
	if (req->state == FQ_REQ_FREE && s != FQ_REQ_FREE)
		req->q->busy++;
	else if (req->state != FQ_REQ_FREE && s == FQ_REQ_FREE)
		req->q->busy--;
	req->state = s;
}

/* Ask the transport for the host's write data (all of it at once). */
static void fetch_data(struct fq_req *req)
{
	fq_req_set_state(req, FQ_REQ_NEED_DATA);
	req->q->xprt->fetch_data(req);
}

/* ---- buffers ---------------------------------------------------------- */

int fq_bufpool_init(struct fq_bufpool *p, uint32_t small, uint32_t nsmall, uint32_t large,
		    uint32_t nlarge)
{
	uint32_t sizes[2] = {small, large}, counts[2] = {nsmall, nlarge};

	memset(p, 0, sizeof(*p));
	for (int c = 0; c < 2; c++) {
		/* Page-aligned so O_DIRECT file backends can use them as is. */
		if (posix_memalign((void **)&p->mem[c], 4096, (size_t)sizes[c] * counts[c]))
			return -ENOMEM;
		p->free[c] = calloc(counts[c], sizeof(uint8_t *));
		if (!p->free[c])
			return -ENOMEM;
		for (uint32_t i = 0; i < counts[c]; i++)
			p->free[c][i] = p->mem[c] + (size_t)i * sizes[c];
		p->nfree[c] = p->count[c] = counts[c];
		p->size[c] = sizes[c];
	}
	return 0;
}

void fq_bufpool_fini(struct fq_bufpool *p)
{
	for (int c = 0; c < 2; c++) {
		free(p->mem[c]);
		free(p->free[c]);
	}
	memset(p, 0, sizeof(*p));
}

uint8_t *fq_buf_get(struct fq_bufpool *p, uint32_t len, int *cls)
{
	for (int c = 0; c < 2; c++) {
		if (len > p->size[c])
			continue;
		if (!p->nfree[c])
			continue; /* a small request may borrow a large buffer */
		*cls = c;
		return p->free[c][--p->nfree[c]];
	}
	return NULL;
}

void fq_buf_put(struct fq_bufpool *p, uint8_t *buf, int cls)
{
	p->free[cls][p->nfree[cls]++] = buf;
}

int fq_req_get_buf(struct fq_req *req, uint32_t len)
{
	if (req->buf)
		return 0;
	req->buf = fq_buf_get(&req->q->r->pool, len ? len : 1, &req->buf_class);
	return req->buf ? 0 : -ENOMEM;
}

/*
 * Hand freed buffers to waiting requests, oldest first. Runs from the
 * reactor's per-turn poller only (fq_req_wake_waiters), never from a
 * completion: fq_req_free just marks the reactor.
 */
static void wake_waiters(struct fq_reactor *r)
{
	while (r->wait_head) {
		struct fq_req *req = r->wait_head;

		if (fq_req_get_buf(req, req->xfer_len))
			return;
		r->wait_head = req->next_wait;
		if (!r->wait_head)
			r->wait_tail = NULL;
		req->next_wait = NULL;
		if (req->data_in && req->xfer_len && req->rcvd < req->xfer_len) {
			/* A write parked before its data was asked for: ask now. */
			fetch_data(req);
		} else {
			fq_req_set_state(req, FQ_REQ_EXEC);
			fq_exec(req);
		}
	}
}

void fq_req_wake_waiters(struct fq_reactor *r)
{
	if (!r->wake_pending)
		return;
	r->wake_pending = false;
	wake_waiters(r);
}

void fq_req_need_buf(struct fq_req *req)
{
	struct fq_reactor *r = req->q->r;

	fq_req_set_state(req, FQ_REQ_NEED_BUF);
	req->next_wait = NULL;
	if (r->wait_tail)
		r->wait_tail->next_wait = req;
	else
		r->wait_head = req;
	r->wait_tail = req;
}

static void unlink_waiters(struct fq_queue *q)
{
	struct fq_reactor *r = q->r;
	struct fq_req **pp = &r->wait_head, *last = NULL;

	while (*pp) {
		if ((*pp)->q == q) {
			*pp = (*pp)->next_wait;
			continue;
		}
		last = *pp;
		pp = &(*pp)->next_wait;
	}
	r->wait_tail = last;
}

/* ---- requests --------------------------------------------------------- */

struct fq_req *fq_req_alloc(struct fq_queue *q)
{
	struct fq_req *req = q->free_reqs;

	if (!req)
		return NULL;
	q->free_reqs = req->next_wait;
	req->next_wait = NULL;
	req->buf = NULL;
	req->buf_borrowed = false;
	req->xfer_len = req->rcvd = 0;
	req->data_in = req->incapsule = req->ddgst_error = req->close_after = false;
	req->data_iov.iov_base = NULL;
	req->data_iov.iov_len = 0;
	req->ns = NULL;
	req->start_ns = q->r->now_ns;
	req->cmp_buf = NULL;
	req->step = 0;
	memset(&req->cqe, 0, sizeof(req->cqe));
	return req;
}

/*
 * Reads and writes into their namespace's latency histogram, at the
 * reactor's clock of this turn: no clock read per command, so commands
 * served within one turn (RAM, null) count as under a microsecond.
 */
static void lat_record(const struct fq_req *req)
{
	uint64_t us = (req->q->r->now_ns - req->start_ns) / 1000;
	int d, b = us ? 64 - __builtin_clzll(us) : 0;

	if (req->cmd.opcode == FQ_IO_READ)
		d = 0;
	else if (req->cmd.opcode == FQ_IO_WRITE)
		d = 1;
	else
		return;
	if (b >= FQ_TGT_LAT_BUCKETS)
		b = FQ_TGT_LAT_BUCKETS - 1;
	fq_stat_add(req->ns->lat[d][b], 1);
	fq_stat_add(req->ns->lat_sum_ns[d], req->q->r->now_ns - req->start_ns);
}

void fq_req_free(struct fq_req *req)
{
	struct fq_queue *q = req->q;

	if (req->ns)
		lat_record(req);
	if (req->buf_borrowed) {
		req->buf = NULL;
		req->buf_borrowed = false;
	} else if (req->buf) {
		fq_buf_put(&q->r->pool, req->buf, req->buf_class);
		req->buf = NULL;
		/*
		 * Waiters get the buffer at the reactor's next flush, not here:
		 * a completion must not re-enter dispatch (the waiter's command
		 * would run inside this one's send completion).
		 */
		if (q->r->wait_head)
			q->r->wake_pending = true;
	}
	fq_req_set_state(req, FQ_REQ_FREE);
	req->next_wait = q->free_reqs;
	q->free_reqs = req;
	if (q->state == FQ_CONN_CLOSING)
		q->xprt->release(q);
}

/* Fill the CQE; NVMe Base 2.0 §4.6: SQHD and SQID always, CID echoed. */
static void fill_cqe(struct fq_req *req, uint16_t status)
{
	struct fq_queue *q = req->q;

	req->cqe.cid = req->cmd.cid;
	req->cqe.sq_id = q->qid;
	req->cqe.sq_head = q->sqflow_disabled ? 0xffff : q->sqhd;
	req->cqe.status = status;
}

/* Allocate the request array once the queue size is known (Connect). */
int fq_queue_alloc_reqs(struct fq_queue *q, uint32_t n)
{
	q->reqs = calloc(n, sizeof(*q->reqs));
	if (!q->reqs)
		return -ENOMEM;
	q->nreqs = n;
	for (uint32_t i = n; i-- > 0;) {
		q->reqs[i].q = q;
		q->reqs[i].ttag = (uint16_t)i;
		q->reqs[i].next_wait = q->free_reqs;
		q->free_reqs = &q->reqs[i];
	}
	return 0;
}

/*
 * Parked requests of a queue that closes are released: held AERs, requests
 * waiting for host data or for a buffer. Requests at a backend finish on
 * their own and are dropped by fq_req_complete.
 */
void fq_queue_drop_parked(struct fq_queue *q)
{
	unlink_waiters(q);
	q->in_drain = true; /* no destroy while parked requests are released */
	for (uint32_t i = 0; i < q->nreqs; i++) {
		struct fq_req *req = &q->reqs[i];

		if (req->state == FQ_REQ_AER || req->state == FQ_REQ_NEED_DATA ||
		    req->state == FQ_REQ_NEED_BUF || req->state == FQ_REQ_RX_DATA)
			fq_req_free(req);
	}
	q->in_drain = false;
	if (q->ctrl && q->qid == 0)
		q->ctrl->naer = 0;
}

/* ---- completion -------------------------------------------------------- */

void fq_req_complete(struct fq_req *req, uint16_t status)
{
	struct fq_queue *q = req->q;

	if (status && req->ns) {
		unsigned sct =
			(status >> 9) & 7; /* status without the phase bit: SC 1..8, SCT 9..11 */

		fq_stat_add(req->ns->errors, 1);
		fq_stat_add(req->ns->errors_sct[sct < 3 ? sct : 3], 1);
	}

	if (q->state == FQ_CONN_CLOSING) {
		fq_req_free(req);
		return;
	}
	fill_cqe(req, status);
	fq_req_set_state(req, FQ_REQ_TX);
	q->xprt->send_rsp(req);
}

/* Read data in req->data_iov goes to the host, then the (successful) completion. */
void fq_req_send_data(struct fq_req *req)
{
	struct fq_queue *q = req->q;

	if (q->state == FQ_CONN_CLOSING) {
		fq_req_free(req);
		return;
	}
	fill_cqe(req, 0);
	fq_req_set_state(req, FQ_REQ_TX);
	q->xprt->send_data(req);
}

/* The transport sent the response (or dropped it with the connection). */
void fq_req_done(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	bool close_after = req->close_after;

	req->close_after = false;
	fq_req_free(req);
	if (close_after)
		q->xprt->close(q, "Disconnect command");
}

/* ---- dispatch ---------------------------------------------------------- */

/* A new command (data pointer checked): fetch its write data or run it. */
void fq_req_start(struct fq_req *req)
{
	if (req->data_in && req->xfer_len) {
		if (fq_req_get_buf(req, req->xfer_len)) {
			fq_req_need_buf(req);
			return;
		}
		fetch_data(req);
		return;
	}
	fq_req_set_state(req, FQ_REQ_EXEC);
	fq_exec(req);
}

/* All host data of @req arrived: run it. */
void fq_req_data_ready(struct fq_req *req)
{
	fq_req_set_state(req, FQ_REQ_EXEC);
	fq_exec(req);
}

/*
 * Route a command to the fabrics, admin or I/O handlers. exec_depth counts
 * nested dispatches on the reactor: completions never start another
 * command, so it is 1 inside any handler (tests/unit/target/test_core.c
 * checks it).
 */
void fq_exec(struct fq_req *req)
{
	struct fq_queue *q = req->q;
	struct fq_reactor *r = q->r;

	r->exec_depth++;
	if (req->cmd.opcode == FQ_ADM_FABRICS) {
		fq_exec_fabrics(req);
	} else if (!q->ctrl) {
		/* Only Fabrics commands are allowed before Connect. */
		fq_req_complete(req, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
	} else if (atomic_load(&q->ctrl->dead)) {
		fq_req_free(req);
		q->xprt->close(q, "controller was torn down");
	} else if (q->qid == 0) {
		fq_exec_admin(req);
	} else {
		fq_exec_io(req);
	}
	r->exec_depth--;
}
