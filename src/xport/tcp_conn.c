/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/TCP connection for either role: see tcp_conn.h. The receive
 * side feeds the framer and turns PDUs into the role's callbacks; the
 * transmit side keeps the units the role queued and sends them as one
 * vectored send (NVMe/TCP 1.0 §3.3 connection set-up, §3.6 PDUs).
 */
#include "xport/tcp_conn.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))

static void post_recv(struct fq_tcp_conn *c);
static void settle(struct fq_tcp_conn *c);

static void lock(struct fq_tcp_conn *c)
{
	if (c->o.lock)
		pthread_mutex_lock(c->o.lock);
}

static void unlock(pthread_mutex_t *m)
{
	if (m)
		pthread_mutex_unlock(m);
}

/* The role may free the connection in io_done: nothing touches it afterwards. */
static void io_end(struct fq_tcp_conn *c)
{
	pthread_mutex_t *m = c->o.lock;

	c->in_io--;
	settle(c);
	if (c->o.ops->io_done)
		c->o.ops->io_done(c->o.arg);
	unlock(m);
}

static bool stopped(const struct fq_tcp_conn *c)
{
	return c->failed || c->closing || c->shut;
}

static struct fq_tcp_dgst dgst(const struct fq_tcp_conn *c)
{
	return (struct fq_tcp_dgst){.hdgst = c->params.hdgst, .ddgst = c->params.ddgst};
}

/* ---- units and the transmit queue --------------------------------------- */

void fq_tcp_unit_init(struct fq_tcp_unit *u, struct iovec *iov, int cap,
		      void (*done)(struct fq_tcp_unit *u))
{
	u->next = NULL;
	u->done = done;
	u->iov = iov ? iov : u->iov_own;
	u->iovcap = iov ? cap : FQ_TCP_UNIT_IOV;
	u->iovcnt = 0;
	u->len = 0;
	u->sent = false;
}

static bool conn_unit(const struct fq_tcp_conn *c, const struct fq_tcp_unit *u)
{
	return u == &c->ic_unit || u == &c->term_unit;
}

static void queue_unit(struct fq_tcp_conn *c, struct fq_tcp_unit *u)
{
	u->next = NULL;
	u->sent = false;
	if (c->tx_tail)
		c->tx_tail->next = u;
	else
		c->tx_head = u;
	c->tx_tail = u;
	if (c->o.batch && c->has_stream && !c->tx_dirty) {
		c->tx_dirty = true;
		c->next_flush = c->o.batch->flush;
		c->o.batch->flush = c;
	}
	/* Queued on a dead connection: handed back with the rest. */
	if (c->shut) {
		settle(c);
		return;
	}
	/*
	 * Units queued from completion callbacks would otherwise all leave at
	 * the end of the turn, in one send: the peer idles while this side
	 * works through a whole batch, then this side idles while the peer
	 * does (lock-step, each half idle). Sending every eager_units keeps
	 * both busy.
	 */
	c->tx_unposted++;
	if (c->o.eager_units && c->tx_unposted >= c->o.eager_units && !c->eager_hold &&
	    c->has_stream && !c->tx_posted) {
		fq_tcp_conn_flush(c);
		fq_stream_push(&c->stream);
	}
}

int fq_tcp_conn_gather(struct fq_tcp_conn *c, struct iovec *iov, int max)
{
	size_t skip = c->tx_off;
	int n = 0;

	for (struct fq_tcp_unit *u = c->tx_head; u && n < max; u = u->next) {
		for (int i = 0; i < u->iovcnt && n < max; i++) {
			struct iovec v = u->iov[i];

			if (skip >= v.iov_len) {
				skip -= v.iov_len;
				continue;
			}
			v.iov_base = (char *)v.iov_base + skip;
			v.iov_len -= skip;
			skip = 0;
			iov[n++] = v;
		}
		c->tx_last = u;
	}
	return n;
}

void fq_tcp_conn_advance(struct fq_tcp_conn *c, size_t n)
{
	while (c->tx_head) {
		struct fq_tcp_unit *u = c->tx_head;
		size_t left = u->len - c->tx_off;

		if (n < left) {
			c->tx_off += n;
			return;
		}
		n -= left;
		c->tx_off = 0;
		c->tx_head = u->next;
		if (!c->tx_head)
			c->tx_tail = NULL;
		if (c->tx_last == u)
			c->tx_last = NULL;
		u->sent = true;
		if (u->done)
			u->done(u);
	}
}

static void on_send(struct fq_uop *op, int res, uint32_t flags);

void fq_tcp_conn_flush(struct fq_tcp_conn *c)
{
	int n;

	if (!c->has_stream || c->tx_posted || !c->tx_head || c->shut)
		return;
	n = fq_tcp_conn_gather(c, c->tx_iov, FQ_TCP_CONN_TX_IOV);
	memset(&c->tx_msg, 0, sizeof(c->tx_msg));
	c->tx_msg.msg_iov = c->tx_iov;
	c->tx_msg.msg_iovlen = (size_t)n;
	c->tx_posted = true;
	c->tx_unposted = 0;
	fq_stream_send(&c->stream, &c->tx_uop, &c->tx_msg);
}

/* Hand back every queued unit (the stream is gone); the caller's own stay in manual mode. */
static void drop_all(struct fq_tcp_conn *c)
{
	struct fq_tcp_unit *u = c->tx_head, *keep = NULL, *keep_tail = NULL;

	c->tx_head = c->tx_tail = c->tx_last = NULL;
	c->tx_off = 0;
	c->draining++;
	while (u) {
		struct fq_tcp_unit *next = u->next;

		if (!c->has_stream && conn_unit(c, u)) {
			/* Over a fake stream the caller still reads a TermReq. */
			u->next = NULL;
			if (keep_tail)
				keep_tail->next = u;
			else
				keep = u;
			keep_tail = u;
		} else if (u->done) {
			u->done(u);
		}
		u = next;
	}
	c->draining--;
	if (keep) {
		keep_tail->next = c->tx_head;
		c->tx_head = keep;
		if (!c->tx_tail)
			c->tx_tail = keep_tail;
	}
}

void fq_tcp_conn_drop_unstarted(struct fq_tcp_conn *c)
{
	struct fq_tcp_unit **pp = &c->tx_head, *u, *prev = NULL;
	bool in_flight = c->tx_posted && c->tx_last;

	/* Units the posted send covers (up to tx_last) have started. */
	if (in_flight || c->tx_off) {
		struct fq_tcp_unit *stop = in_flight ? c->tx_last : c->tx_head;

		while (*pp && prev != stop) {
			prev = *pp;
			pp = &(*pp)->next;
		}
	}
	c->draining++;
	while ((u = *pp)) {
		if (u == &c->term_unit) {
			prev = u;
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		if (u->done)
			u->done(u);
	}
	c->tx_tail = prev;
	c->draining--;
}

static void unlink_batch(struct fq_tcp_conn *c)
{
	struct fq_tcp_batch *b = c->o.batch;
	struct fq_tcp_conn **pp;

	if (!b)
		return;
	if (c->tx_dirty) {
		for (pp = &b->flush; *pp && *pp != c; pp = &(*pp)->next_flush)
			;
		if (*pp)
			*pp = c->next_flush;
		c->tx_dirty = false;
	}
	if (c->rx_held) {
		for (pp = &b->resume; *pp && *pp != c; pp = &(*pp)->next_resume)
			;
		if (*pp)
			*pp = c->next_resume;
		c->rx_held = false;
	}
}

/* Once the stream is shut and nothing is in flight, hand everything back. */
static void settle(struct fq_tcp_conn *c)
{
	if (c->in_io || !c->shut || c->rx_posted || c->tx_posted)
		return;
	unlink_batch(c);
	if (c->tx_head)
		drop_all(c);
}

bool fq_tcp_conn_busy(const struct fq_tcp_conn *c)
{
	if (!c->started)
		return false;
	return !c->shut || c->rx_posted || c->tx_posted || c->rx_held || c->tx_dirty ||
	       c->draining || c->in_io || (c->has_stream && c->tx_head);
}

/* ---- failure ------------------------------------------------------------ */

static void fail(struct fq_tcp_conn *c, const struct fq_tcp_fail *f)
{
	if (c->failed)
		return;
	c->failed = true;
	c->o.ops->failed(c->o.arg, f);
}

static void term_done(struct fq_tcp_unit *u)
{
	struct fq_tcp_conn *c = container_of(u, struct fq_tcp_conn, term_unit);

	c->term_queued = false;
	/* Nothing follows a TermReq but the end of the stream (§3.6.2.3). */
	fq_tcp_conn_shutdown(c);
}

/*
 * A fatal protocol error: queue a TermReq with FES/FEI and the offending
 * header behind what is already queued (responses the peer is owed still
 * go out first), then tell the role.
 */
static void fatal(struct fq_tcp_conn *c, const struct fq_tcp_err *err, const void *hdr,
		  uint32_t hlen)
{
	struct fq_tcp_unit *u = &c->term_unit;
	struct fq_tcp_fail f = {
		.kind = FQ_TCP_FAIL_PROTO,
		.err = -EPROTO,
		.why = err->reason,
		.fes = err->fes,
		.fei = err->fei,
		.fes_name = fq_tcp_fes_name(err->fes),
	};

	if (c->failed || c->shut)
		return;
	if (hlen > sizeof(c->term_data))
		hlen = sizeof(c->term_data);
	memcpy(c->term_data, hdr, hlen);
	fq_tcp_unit_init(u, NULL, 0, term_done);
	u->iov[0].iov_base = u->h.small.b;
	u->iov[0].iov_len =
		fq_tcp_build_term(&u->h.small, c->o.is_target, err->fes, err->fei, hlen);
	u->iov[1].iov_base = c->term_data;
	u->iov[1].iov_len = hlen;
	u->iovcnt = hlen ? 2 : 1;
	u->len = fq_tcp_hdr_plen(u->h.small.b);
	c->term_queued = true;
	queue_unit(c, u);
	fail(c, &f);
	fq_tcp_conn_flush(c);
}

int fq_tcp_conn_reject(struct fq_tcp_conn *c, enum fq_tcp_fault f, const char *why)
{
	struct fq_tcp_err e = {.fes = FQ_TCP_FES_INVALID_HEADER, .fei = 0, .reason = why};

	switch (f) {
	case FQ_TCP_FAULT_SEQUENCE:
		e.fes = FQ_TCP_FES_PDU_SEQUENCE;
		break;
	case FQ_TCP_FAULT_CID:
		e.fei = fq_tcp_rx_kind(&c->rx) == FQ_TCP_KIND_RSP ? FQ_TCP_FEI_RSP_CID
								  : FQ_TCP_FEI_CCCID;
		break;
	case FQ_TCP_FAULT_TTAG:
		e.fei = FQ_TCP_FEI_TTAG;
		break;
	case FQ_TCP_FAULT_FLAGS:
		e.fei = FQ_TCP_FEI_FLAGS;
		break;
	case FQ_TCP_FAULT_R2TL:
		e.fei = FQ_TCP_FEI_R2TL;
		break;
	case FQ_TCP_FAULT_R2TO:
		e.fes = FQ_TCP_FES_DATA_OUT_OF_RANGE;
		e.fei = FQ_TCP_FEI_R2TO;
		break;
	}
	fatal(c, &e, fq_tcp_rx_hdr(&c->rx), fq_tcp_rx_hdr_len(&c->rx));
	return -EPROTO;
}

static void peer_term(struct fq_tcp_conn *c)
{
	struct fq_tcp_fail f = {.kind = FQ_TCP_FAIL_PEER_TERM, .err = -ECONNRESET};

	fq_tcp_rx_term(&c->rx, &f.fes, &f.fei);
	f.fes_name = fq_tcp_fes_name(f.fes);
	f.why = "the peer sent a TermReq";
	fail(c, &f);
}

/* ---- connection set-up (§3.3, §3.6.2.2/3) -------------------------------- */

static void set_negotiated(struct fq_tcp_conn *c, struct fq_tcp_dgst dg)
{
	c->params.hdgst = dg.hdgst;
	c->params.ddgst = dg.ddgst;
	c->rx.ctx.ic_done = true;
	c->rx.ctx.hdgst = dg.hdgst;
	c->rx.ctx.ddgst = dg.ddgst;
	c->ic_done = true;
}

/* Target: both sides agree on digests and limits; answer with ICResp. */
static int on_icreq(struct fq_tcp_conn *c)
{
	struct fq_tcp_unit *u = &c->ic_unit;
	struct fq_tcp_err err;
	struct fq_tcp_dgst dg;

	if (fq_tcp_rx_check_icreq(&c->rx, &dg, &err)) {
		fatal(c, &err, fq_tcp_rx_hdr(&c->rx), fq_tcp_rx_hdr_len(&c->rx));
		return -EPROTO;
	}
	fq_tcp_unit_init(u, NULL, 0, NULL);
	/* The digest bits are echoed exactly. */
	u->iov[0].iov_base = c->ic_hdr.b;
	u->iov[0].iov_len = fq_tcp_build_icresp(&c->ic_hdr, dg, 0, c->o.max_h2c_data);
	u->iovcnt = 1;
	u->len = (uint32_t)u->iov[0].iov_len;
	queue_unit(c, u);
	set_negotiated(c, dg);
	return c->o.ops->ready ? c->o.ops->ready(c->o.arg) : 0;
}

/* Host: the controller's answer must grant what was asked. */
static int on_icresp(struct fq_tcp_conn *c)
{
	struct fq_tcp_dgst want = {.hdgst = c->o.want_hdgst, .ddgst = c->o.want_ddgst};
	struct fq_tcp_err e;
	uint32_t maxh2c;

	if (fq_tcp_rx_check_icresp(&c->rx, want, &maxh2c, &e)) {
		struct fq_tcp_fail f = {
			.kind = FQ_TCP_FAIL_IC, .err = -EPROTO, .why = e.reason, .fei = e.fei};

		fail(c, &f);
		return -EPROTO;
	}
	c->params.maxh2cdata = maxh2c;
	set_negotiated(c, want);
	return c->o.ops->ready ? c->o.ops->ready(c->o.arg) : 0;
}

static void send_icreq(struct fq_tcp_conn *c)
{
	struct fq_tcp_unit *u = &c->ic_unit;

	/* PFV 0, HPDA 0 (data right after the header), MAXR2T 0 (one R2T at a time). */
	fq_tcp_unit_init(u, NULL, 0, NULL);
	u->iov[0].iov_base = c->ic_hdr.b;
	u->iov[0].iov_len = fq_tcp_build_icreq(&c->ic_hdr, c->o.want_hdgst, c->o.want_ddgst, 0, 0);
	u->iovcnt = 1;
	u->len = (uint32_t)u->iov[0].iov_len;
	queue_unit(c, u);
}

/* ---- receive: PDUs to role callbacks -------------------------------------- */

static int verdict(const struct fq_tcp_conn *c, int rc)
{
	return rc ? rc : stopped(c) ? -ECONNRESET : 0;
}

static void place(struct fq_tcp_conn *c, const struct fq_tcp_place *pl,
		  const struct fq_tcp_data_info *d)
{
	c->rx_info = *d;
	c->rx_ctx = pl->ctx;
	c->rx_has_ctx = true;
	if (pl->iov)
		fq_tcp_rx_set_dst(&c->rx, pl->iov, pl->iovcnt, pl->off);
	else if (pl->buf)
		fq_tcp_rx_set_buf(&c->rx, pl->buf);
}

static int on_capsule(struct fq_tcp_conn *c, const uint8_t *rest, size_t rest_len)
{
	const struct fq_tcp_frame *fr = fq_tcp_rx_frame(&c->rx);
	size_t need = (size_t)fr->pad_len + fr->data_len + (fr->has_ddgst ? FQ_TCP_DIGEST_LEN : 0);
	const uint8_t *inplace = fr->data_len && rest_len >= need ? rest + fr->pad_len : NULL;
	struct fq_tcp_place pl = {0};
	int rc;

	rc = c->o.ops->command(c->o.arg, fq_tcp_rx_sqe(&c->rx), fr->data_len, inplace, &pl);
	if (rc || stopped(c))
		return verdict(c, rc);
	/* The receive budget: the rest of the buffer waits for the next turn. */
	if (c->o.rx_budget && ++c->rx_cmds >= c->o.rx_budget)
		fq_tcp_rx_pause(&c->rx);
	if (fr->data_len) {
		struct fq_tcp_data_info d = {
			.cid = fq_tcp_rx_sqe(&c->rx)->cid, .len = fr->data_len, .incapsule = true};

		place(c, &pl, &d);
	}
	return 0;
}

static int on_data(struct fq_tcp_conn *c)
{
	struct fq_tcp_data_hdr h;
	struct fq_tcp_place pl = {0};
	struct fq_tcp_data_info d;
	struct fq_tcp_err e;
	int rc;

	fq_tcp_rx_data_hdr(&c->rx, &h);
	d = (struct fq_tcp_data_info){.cid = h.cccid,
				      .ttag = h.ttag,
				      .off = h.datao,
				      .len = h.datal,
				      .last = h.last,
				      .success = h.success};
	rc = c->o.ops->data(c->o.arg, &d, &pl);
	if (rc || stopped(c))
		return verdict(c, rc);
	/* In order, inside the command's data (§3.6.2.6, §3.6.2.7). */
	if ((pl.iov || pl.buf) &&
	    fq_tcp_rx_check_data_range(&c->rx, pl.expect_off, pl.xfer_len, &e)) {
		fatal(c, &e, fq_tcp_rx_hdr(&c->rx), fq_tcp_rx_hdr_len(&c->rx));
		return -EPROTO;
	}
	place(c, &pl, &d);
	return 0;
}

static int rx_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct fq_tcp_conn *c = arg;
	int rc = 0;

	c->rx_has_ctx = false;
	c->rx_ctx = NULL;
	if (stopped(c))
		return -ECONNRESET;
	switch (fq_tcp_rx_kind(rx)) {
	case FQ_TCP_KIND_IC:
		rc = c->o.is_target ? on_icreq(c) : on_icresp(c);
		break;
	case FQ_TCP_KIND_CMD:
		rc = on_capsule(c, rest, rest_len);
		break;
	case FQ_TCP_KIND_RSP:
		rc = c->o.ops->response(c->o.arg, fq_tcp_rx_cqe(rx));
		break;
	case FQ_TCP_KIND_DATA:
		rc = on_data(c);
		break;
	case FQ_TCP_KIND_R2T: {
		struct fq_tcp_r2t_hdr t;

		fq_tcp_rx_r2t_hdr(rx, &t);
		rc = c->o.ops->r2t(c->o.arg, t.cccid, t.ttag, t.r2to, t.r2tl);
		break;
	}
	case FQ_TCP_KIND_TERM:
		/* The offending header follows as data; act once it is in. */
		if (!fq_tcp_rx_frame(rx)->data_len)
			peer_term(c);
		break;
	default:
		rc = fq_tcp_conn_reject(c, FQ_TCP_FAULT_SEQUENCE, "unexpected PDU type");
		break;
	}
	return verdict(c, rc);
}

static int rx_data_done(void *arg, struct fq_tcp_rx *rx, bool digest_ok)
{
	struct fq_tcp_conn *c = arg;
	int rc = 0;

	if (fq_tcp_rx_kind(rx) == FQ_TCP_KIND_TERM) {
		peer_term(c);
		return -ECONNRESET;
	}
	if (c->rx_has_ctx) {
		c->rx_has_ctx = false;
		rc = c->o.ops->data_done(c->o.arg, c->rx_ctx, &c->rx_info, digest_ok);
	}
	return verdict(c, rc);
}

static void rx_error(void *arg, const struct fq_tcp_err *err, const void *hdr, uint32_t hdr_len)
{
	fatal(arg, err, hdr, hdr_len);
}

static const struct fq_tcp_rx_ops rx_ops = {
	.header = rx_header,
	.data_done = rx_data_done,
	.error = rx_error,
};

int fq_tcp_conn_feed(struct fq_tcp_conn *c, const uint8_t *buf, size_t len)
{
	if (stopped(c))
		return -EPROTO;
	return fq_tcp_rx_feed(&c->rx, buf, len) ? -EPROTO : 0;
}

/*
 * Feed what is left of the last receive, up to the receive budget. Returns
 * true when bytes wait for the next turn (the connection is then on the
 * batch's resume list and the next receive is not posted yet: the rest of
 * rxbuf must not be overwritten, in-place data may point into it).
 */
static bool feed_rxbuf(struct fq_tcp_conn *c)
{
	size_t used = 0;
	int rc;

	c->rx_cmds = 0;
	rc = fq_tcp_rx_feed_some(&c->rx, c->rxbuf + c->rx_off, c->rx_len - c->rx_off, &used);
	c->rx_off += (uint32_t)used;
	if (!rc && c->rx_off < c->rx_len && !stopped(c) && c->o.batch) {
		c->rx_held = true;
		c->next_resume = c->o.batch->resume;
		c->o.batch->resume = c;
		return true;
	}
	return false;
}

void fq_tcp_batch_resume(struct fq_tcp_batch *b)
{
	struct fq_tcp_conn *list = b->resume;

	b->resume = NULL; /* what pauses again waits for the next turn */
	while (list) {
		struct fq_tcp_conn *c = list;

		list = c->next_resume;
		c->next_resume = NULL;
		lock(c);
		c->in_io++;
		c->rx_held = false;
		if (stopped(c) || !feed_rxbuf(c))
			post_recv(c);
		io_end(c);
	}
}

void fq_tcp_batch_flush(struct fq_tcp_batch *b)
{
	while (b->flush) {
		struct fq_tcp_conn *c = b->flush;

		b->flush = c->next_flush;
		c->tx_dirty = false;
		fq_tcp_conn_flush(c);
	}
}

/*
 * Post the next receive. When the rest of a large data PDU is still on the
 * wire it goes straight into the role's buffers (no copy out of rxbuf), and
 * whatever follows it into rxbuf: every byte received so far has been fed,
 * so nothing is parsed out of order.
 */
static void on_recv(struct fq_uop *op, int res, uint32_t flags);

static void post_recv(struct fq_tcp_conn *c)
{
	uint32_t left;
	int n = 0;

	if (!c->has_stream || c->rx_posted || c->rx_held || stopped(c))
		return;
	c->rx_direct = 0;
	left = fq_tcp_rx_data_left(&c->rx);
	if (c->rx_has_ctx && left >= FQ_TCP_DIRECT_MIN)
		n = fq_tcp_rx_dst_iov(&c->rx, c->rx_iov, FQ_TCP_CONN_RX_IOV - 1);
	if (n > 0) {
		c->rx_direct = left;
		c->rx_direct_ctx = c->rx_ctx;
		if (c->o.ops->rx_hold)
			c->o.ops->rx_hold(c->o.arg, c->rx_ctx, true);
	}
	c->rx_iov[n].iov_base = c->rxbuf;
	c->rx_iov[n].iov_len = c->o.rxbuf_size;
	memset(&c->rx_msg, 0, sizeof(c->rx_msg));
	c->rx_msg.msg_iov = c->rx_iov;
	c->rx_msg.msg_iovlen = (size_t)n + 1;
	c->rx_posted = true;
	fq_stream_recv(&c->stream, &c->rx_uop, &c->rx_msg);
}

static void on_recv(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_tcp_conn *c = container_of(op, struct fq_tcp_conn, rx_uop);
	uint32_t direct = c->rx_direct;
	void *ctx = c->rx_direct_ctx;

	(void)flags;
	lock(c);
	c->in_io++;
	c->rx_posted = false;
	c->rx_direct = 0;
	c->rx_direct_ctx = NULL;
	if (direct && c->o.ops->rx_hold)
		c->o.ops->rx_hold(c->o.arg, ctx, false);
	if (stopped(c)) {
		/* A TermReq the peer no longer reads cannot wait for it. */
		if (res <= 0 && res != -EAGAIN && res != -EINTR && c->term_queued)
			fq_tcp_conn_shutdown(c);
	} else if (res == -EAGAIN || res == -EINTR || res == -ENOBUFS) {
		post_recv(c);
	} else if (res <= 0) {
		struct fq_tcp_fail f = {.kind = res ? FQ_TCP_FAIL_IO : FQ_TCP_FAIL_CLOSED,
					.err = res ? res : -ECONNRESET,
					.why = res ? strerror(-res)
						   : "the peer closed the connection"};

		fail(c, &f);
	} else {
		uint32_t n = (uint32_t)res < direct ? (uint32_t)res : direct;
		int rc = n ? fq_tcp_rx_direct_done(&c->rx, n) : 0;

		c->rx_off = 0;
		c->rx_len = (uint32_t)res - n;
		if (rc || !c->rx_len || !feed_rxbuf(c))
			post_recv(c);
	}
	io_end(c);
}

static void on_send(struct fq_uop *op, int res, uint32_t flags)
{
	struct fq_tcp_conn *c = container_of(op, struct fq_tcp_conn, tx_uop);

	(void)flags;
	lock(c);
	c->in_io++;
	c->tx_posted = false;
	c->tx_last = NULL;
	if (res > 0)
		fq_tcp_conn_advance(c, (size_t)res);
	if (res < 0 && res != -EAGAIN && res != -EINTR) {
		struct fq_tcp_fail f = {.kind = FQ_TCP_FAIL_IO, .err = res, .why = strerror(-res)};

		fail(c, &f);
		fq_tcp_conn_shutdown(c);
	}
	fq_tcp_conn_flush(c);
	io_end(c);
}

/* ---- sending ------------------------------------------------------------ */

void fq_tcp_conn_send_rsp(struct fq_tcp_conn *c, struct fq_tcp_unit *u, const struct fq_cqe *cqe)
{
	u->iov[0].iov_base = u->h.small.b;
	u->iov[0].iov_len = fq_tcp_build_rsp(&u->h.small, cqe, dgst(c));
	u->iovcnt = 1;
	u->len = (uint32_t)u->iov[0].iov_len;
	queue_unit(c, u);
}

void fq_tcp_conn_send_c2h(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid,
			  const struct iovec *data, int cnt, uint32_t len, bool success, bool cold)
{
	uint32_t hb = fq_tcp_build_c2h(&u->h.small, cid, 0, len, true, success, dgst(c));

	assert(cnt + 2 <= u->iovcap);
	u->iovcnt = fq_tcp_tx_iov(u->iov, u->h.small.b, hb, data, cnt, 0, len,
				  c->params.ddgst ? &u->ddgst : NULL, cold);
	u->len = fq_tcp_hdr_plen(u->h.small.b);
	queue_unit(c, u);
}

void fq_tcp_conn_send_r2t(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid, uint16_t ttag,
			  uint32_t off, uint32_t len)
{
	u->iov[0].iov_base = u->h.small.b;
	u->iov[0].iov_len = fq_tcp_build_r2t(&u->h.small, cid, ttag, off, len, dgst(c));
	u->iovcnt = 1;
	u->len = (uint32_t)u->iov[0].iov_len;
	queue_unit(c, u);
}

void fq_tcp_conn_send_cmd(struct fq_tcp_conn *c, struct fq_tcp_unit *u, const struct fq_sqe *sqe,
			  const struct iovec *data, int cnt, uint32_t icdata)
{
	uint32_t hb = fq_tcp_build_cmd(&u->h.cmd, sqe, dgst(c), icdata);

	assert(cnt + 2 <= u->iovcap);
	u->iovcnt = fq_tcp_tx_iov(u->iov, u->h.cmd.b, hb, data, cnt, 0, icdata,
				  c->params.ddgst ? &u->ddgst : NULL, false);
	u->len = fq_tcp_hdr_plen(u->h.cmd.b);
	queue_unit(c, u);
}

void fq_tcp_conn_send_h2c(struct fq_tcp_conn *c, struct fq_tcp_unit *u, uint16_t cid, uint16_t ttag,
			  const struct iovec *data, int cnt, uint32_t off, uint32_t len, bool last)
{
	uint32_t hb = fq_tcp_build_h2c(&u->h.small, cid, ttag, off, len, last, dgst(c));

	assert(cnt + 2 <= u->iovcap);
	u->iovcnt = fq_tcp_tx_iov(u->iov, u->h.small.b, hb, data, cnt, off, len,
				  c->params.ddgst ? &u->ddgst : NULL, false);
	u->len = fq_tcp_hdr_plen(u->h.small.b);
	queue_unit(c, u);
}

/* ---- life cycle ---------------------------------------------------------- */

int fq_tcp_conn_init(struct fq_tcp_conn *c, const struct fq_tcp_conn_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->o = *o;
	if (!c->o.rxbuf_size)
		c->o.rxbuf_size = 128 * 1024;
	c->rxbuf = malloc(c->o.rxbuf_size);
	if (!c->rxbuf)
		return -ENOMEM;
	c->stream.fd = -1;
	return 0;
}

void fq_tcp_conn_release(struct fq_tcp_conn *c)
{
	if (c->has_stream)
		fq_stream_close(&c->stream);
	c->has_stream = false;
	c->started = false; /* the next start is a new connection */
}

void fq_tcp_conn_fini(struct fq_tcp_conn *c)
{
	fq_tcp_conn_release(c);
	free(c->rxbuf);
	c->rxbuf = NULL;
}

void fq_tcp_conn_start(struct fq_tcp_conn *c, const struct fq_stream *stream)
{
	struct fq_tcp_rx_ctx ctx = {
		.is_target = c->o.is_target,
		/* Host: C2HData is bounded by its command, checked per PDU. */
		.max_data = c->o.is_target ? c->o.max_h2c_data : UINT32_MAX,
		.max_icdata = c->o.max_icdata,
	};

	c->has_stream = stream != NULL;
	if (stream)
		c->stream = *stream;
	c->started = true;
	c->ic_done = c->failed = c->term_queued = c->closing = c->shut = false;
	c->params = (struct fq_tcp_params){0};
	c->rx_posted = c->rx_held = c->rx_has_ctx = false;
	c->rx_direct = 0;
	c->rx_off = c->rx_len = 0;
	c->tx_head = c->tx_tail = c->tx_last = NULL;
	c->tx_off = 0;
	c->tx_posted = c->tx_dirty = false;
	c->rx_uop.done = on_recv;
	c->tx_uop.done = on_send;
	fq_tcp_rx_init(&c->rx, &ctx, &rx_ops, c);
	if (!c->o.is_target) {
		send_icreq(c);
		fq_tcp_conn_flush(c);
	}
	post_recv(c);
}

void fq_tcp_conn_shutdown(struct fq_tcp_conn *c)
{
	if (c->shut || !c->started)
		return;
	c->shut = true;
	if (c->has_stream)
		fq_stream_shutdown(&c->stream);
	settle(c);
}

void fq_tcp_conn_close(struct fq_tcp_conn *c)
{
	if (c->closing || !c->started)
		return;
	c->closing = true;
	/* A TermReq of ours leaves first, with what was queued before it. */
	if (c->term_queued && c->has_stream && !c->shut) {
		fq_tcp_conn_flush(c);
		return;
	}
	fq_tcp_conn_shutdown(c);
}
