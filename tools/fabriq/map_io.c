/* SPDX-License-Identifier: MIT */
/*
 * The I/O half of `fabriq map-serve` (map_io.h): each command is queued on
 * one of the controller's qpairs and the loop's thread goes on; its
 * completion comes back in a later turn of the loop, which is also what
 * moves the sockets. No thread ever waits for one command.
 *
 * A command that finds no connection (the target restarted, the network
 * is gone) or completes with a path error is tried again every 100 ms for
 * up to io_timeout seconds before it fails with EIO, the way a kernel host
 * holds I/O for ctrl-loss-tmo; nothing written is reported done before the
 * target answered it. A qpair that is full keeps what it refused on a
 * waiting list until the next turn.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "map_io.h"

#define RETRY_NS 100000000ull
#define REPLACE_NS 1000000000ull /* a failed qpair is replaced at most once a second */
#define MAX_QP 16

static struct {
	struct fq_loop *loop;
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	uint64_t timeout_ns;
	uint32_t nqp, next;
	struct fq_qpair *qp[MAX_QP];
	uint64_t replaced_ns;
	uint32_t inflight;
	struct map_cmd *wait_head, *wait_tail; /* refused by a full qpair */
	bool stopping;
} IO;

static const char *op_name(enum map_op op)
{
	return op == MAP_READ	 ? "read"
	       : op == MAP_WRITE ? "write"
	       : op == MAP_FLUSH ? "flush"
				 : "deallocate";
}

/* Worth trying again: the connection, not the command, was the problem. */
static bool transient(int rc, const struct fq_cpl *cpl)
{
	if (rc == -ENXIO || rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT ||
	    rc == -ESHUTDOWN || rc == -ENOTCONN)
		return true;
	/* Path errors (SCT 3) and Namespace Not Ready are retryable by definition. */
	return rc == -EIO && cpl && !(cpl->status & 0x8000) /* DNR */ &&
	       (fq_cpl_sct(cpl) == FQ_CPL_SCT_PATH ||
		(fq_cpl_sct(cpl) == FQ_CPL_SCT_GENERIC && fq_cpl_sc(cpl) == 0x82));
}

static void finish(struct map_cmd *c, int rc)
{
	IO.inflight--;
	c->done(c, rc);
}

static void start(struct map_cmd *c);

static void on_retry(struct fq_loop *l, struct fq_timer *t)
{
	(void)l;
	start((struct map_cmd *)((char *)t - offsetof(struct map_cmd, retry)));
}

static void fail_or_retry(struct map_cmd *c, int rc, const struct fq_cpl *cpl)
{
	char msg[96];

	if (!IO.stopping && transient(rc, cpl) && fq_loop_now_ns() < c->deadline_ns &&
	    !fq_timer_arm(IO.loop, &c->retry, RETRY_NS))
		return;
	fprintf(stderr, "map-serve: %s at LBA %llu: %s\n", op_name(c->op),
		(unsigned long long)c->lba,
		rc == -EIO && cpl ? fq_cpl_str(cpl, msg, sizeof(msg)) : strerror(-rc));
	finish(c, -EIO);
}

static void on_cpl(void *arg, const struct fq_cpl *cpl)
{
	struct map_cmd *c = arg;

	if (fq_cpl_is_error(cpl))
		fail_or_retry(c, -EIO, cpl);
	else
		finish(c, 0);
}

/* The next live qpair, round robin: NULL while none is connected. */
static struct fq_qpair *pick(void)
{
	for (uint32_t i = 0; i < IO.nqp; i++) {
		struct fq_qpair *qp = IO.qp[IO.next++ % IO.nqp];

		if (qp && fq_qpair_get_state(qp) == FQ_QPAIR_LIVE)
			return qp;
	}
	return NULL;
}

static void start(struct map_cmd *c)
{
	struct fq_qpair *qp = pick();
	int rc;

	if (!qp)
		rc = -ENXIO;
	else if (c->op == MAP_READ)
		rc = fq_ns_read(IO.ns, qp, c->buf, c->lba, c->nlb, on_cpl, c, 0);
	else if (c->op == MAP_WRITE)
		rc = fq_ns_write(IO.ns, qp, c->buf, c->lba, c->nlb, on_cpl, c, 0);
	else if (c->op == MAP_FLUSH)
		rc = fq_ns_flush(IO.ns, qp, on_cpl, c);
	else
		rc = fq_ns_deallocate(IO.ns, qp, c->lba, c->nlb, on_cpl, c);
	if (!rc)
		return;
	if (rc == -EAGAIN && !IO.stopping) {
		c->next = NULL;
		if (IO.wait_tail)
			IO.wait_tail->next = c;
		else
			IO.wait_head = c;
		IO.wait_tail = c;
		return;
	}
	fail_or_retry(c, rc, NULL);
}

void map_io_submit(struct map_cmd *c)
{
	memset(&c->retry, 0, sizeof(c->retry));
	c->retry.fn = on_retry;
	c->deadline_ns = fq_loop_now_ns() + IO.timeout_ns;
	IO.inflight++;
	start(c);
}

uint32_t map_io_inflight(void)
{
	return IO.inflight;
}

static void replace_failed(void)
{
	uint64_t now = fq_loop_now_ns();

	if (now - IO.replaced_ns < REPLACE_NS)
		return;
	for (uint32_t i = 0; i < IO.nqp; i++) {
		if (IO.qp[i] && fq_qpair_get_state(IO.qp[i]) != FQ_QPAIR_FAILED)
			continue;
		IO.replaced_ns = now;
		if (IO.qp[i])
			fq_qpair_free(IO.qp[i]); /* its commands come back with a path error */
		IO.qp[i] = NULL;
		if (fq_ctrlr_get_state(IO.ctrlr) == FQ_CTRLR_LIVE &&
		    fq_ctrlr_alloc_io_qpair(IO.ctrlr, NULL, &IO.qp[i]))
			IO.qp[i] = NULL;
	}
}

static void restart_waiting(void)
{
	struct map_cmd *c = IO.wait_head;

	IO.wait_head = IO.wait_tail = NULL;
	while (c) {
		struct map_cmd *next = c->next;

		start(c);
		c = next;
	}
}

void map_io_service(void)
{
	if (IO.wait_head)
		restart_waiting();
	replace_failed();
}

int map_io_init(struct fq_loop *loop, struct fq_ctrlr *ctrlr, struct fq_ns *ns, uint32_t nqp,
		uint32_t io_timeout_s)
{
	int rc = -ENXIO, live = 0;

	IO.loop = loop;
	IO.ctrlr = ctrlr;
	IO.ns = ns;
	IO.timeout_ns = (uint64_t)io_timeout_s * 1000000000ull;
	IO.nqp = nqp > MAX_QP ? MAX_QP : nqp;
	for (uint32_t i = 0; i < IO.nqp; i++) {
		int r = fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &IO.qp[i]);

		if (r) {
			IO.qp[i] = NULL;
			rc = r;
		} else {
			live++;
		}
	}
	return live ? 0 : rc;
}

void map_io_fini(void)
{
	IO.stopping = true;
	for (uint32_t i = 0; i < IO.nqp; i++) {
		if (IO.qp[i])
			fq_qpair_free(IO.qp[i]);
		IO.qp[i] = NULL;
	}
	/* What waited for room fails now. */
	restart_waiting();
}
