/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP connection object with a fake stream (no sockets, no ring):
 * a host and a target connection are wired to each other, and the test
 * decides how many bytes each receive and each send moves. Checked: the
 * ICReq/ICResp negotiation, a command/response round trip, read and write
 * data placed into the roles' buffers for any split of the stream (direct
 * receives included), digests on and off and a corrupted data digest,
 * several units leaving in one vectored send, partial sends completing
 * units in order, and a TermReq for a broken PDU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "xport/tcp_conn.h"

#define WIRE_MAX (1u << 20)
#define DATA_LEN (40u * 1024) /* above FQ_TCP_DIRECT_MIN: exercises direct receives */
#define MAXH2C 8192

/* ---- the fake stream: one direction's bytes wait in `wire` ---------------- */

struct fake {
	struct fq_stream s;
	struct fq_uop *rop, *sop;
	struct msghdr *rmsg, *smsg;
	uint8_t *wire; /* bytes sent to this side, not yet received */
	size_t wire_len;
	int sends;	 /* send operations posted */
	int pushes;	 /* fq_stream_push() calls */
	int last_iovlen; /* iovecs of the last posted send */
	bool shut;
	int corrupt_at; /* >= 0: flip this byte offset of the inbound stream */
	size_t in_total;
};

static void f_recv(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	struct fake *f = s->priv;

	assert_null(f->rop); /* one receive at a time */
	f->rop = op;
	f->rmsg = msg;
}

static void f_send(struct fq_stream *s, struct fq_uop *op, struct msghdr *msg)
{
	struct fake *f = s->priv;

	assert_null(f->sop); /* one send at a time */
	f->sop = op;
	f->smsg = msg;
	f->sends++;
	f->last_iovlen = (int)msg->msg_iovlen;
}

static void f_shutdown(struct fq_stream *s)
{
	((struct fake *)s->priv)->shut = true;
}

static void f_close(struct fq_stream *s)
{
	(void)s;
}

static void f_push(struct fq_stream *s)
{
	((struct fake *)s->priv)->pushes++;
}

static const struct fq_stream_ops fake_ops = {
	.recv = f_recv, .send = f_send, .shutdown = f_shutdown, .push = f_push, .close = f_close};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->wire = malloc(WIRE_MAX);
	assert_non_null(f->wire);
	f->s.ops = &fake_ops;
	f->s.priv = f;
	f->s.fd = -1;
	f->corrupt_at = -1;
}

/* Complete @from's posted send with at most @max bytes, onto @to's wire. */
static size_t move_send(struct fake *from, struct fake *to, size_t max)
{
	struct fq_uop *op = from->sop;
	size_t got = 0;

	if (!op)
		return 0;
	for (size_t i = 0; i < from->smsg->msg_iovlen && got < max; i++) {
		const struct iovec *v = &from->smsg->msg_iov[i];
		size_t l = v->iov_len < max - got ? v->iov_len : max - got;

		assert_true(to->wire_len + l <= WIRE_MAX);
		memcpy(to->wire + to->wire_len, v->iov_base, l);
		to->wire_len += l;
		got += l;
	}
	from->sop = NULL;
	op->done(op, (int)got, 0);
	return got;
}

/* Complete @f's posted receive with at most @max bytes of its wire. */
static size_t move_recv(struct fake *f, size_t max)
{
	struct fq_uop *op = f->rop;
	size_t got = 0;

	if (!op || !f->wire_len)
		return 0;
	if (max > f->wire_len)
		max = f->wire_len;
	for (size_t i = 0; i < f->rmsg->msg_iovlen && got < max; i++) {
		const struct iovec *v = &f->rmsg->msg_iov[i];
		size_t l = v->iov_len < max - got ? v->iov_len : max - got;

		memcpy(v->iov_base, f->wire + got, l);
		if (f->corrupt_at >= 0 && (size_t)f->corrupt_at >= f->in_total + got &&
		    (size_t)f->corrupt_at < f->in_total + got + l)
			((uint8_t *)v->iov_base)[(size_t)f->corrupt_at - f->in_total - got] ^= 0x5a;
		got += l;
	}
	memmove(f->wire, f->wire + got, f->wire_len - got);
	f->wire_len -= got;
	f->in_total += got;
	f->rop = NULL;
	op->done(op, (int)got, 0);
	return got;
}

/* ---- the two roles ---------------------------------------------------------- */

struct side {
	struct fq_tcp_conn c;
	struct fake f;
	struct fq_tcp_batch batch;
	int ready;
	int failed;
	struct fq_tcp_fail fail;
	/* Target: the last command; host: the last response. */
	int cmds, rsps;
	struct fq_sqe sqe;
	struct fq_cqe cqe;
	uint32_t icdata;
	/* Data placed for the current command and what arrived. */
	uint8_t *buf;
	struct iovec iov[3];
	uint32_t len, rcvd;
	int data_done, bad_digest, success;
	/* Host: R2Ts answered with H2CData (MAXH2CDATA each). */
	struct fq_tcp_unit h2c[8];
	int nh2c;
	int r2ts;
	int held, held_max;
};

static struct side *side_of(void *arg)
{
	return arg;
}

static int s_ready(void *arg)
{
	side_of(arg)->ready++;
	return 0;
}

static int s_command(void *arg, const struct fq_sqe *sqe, uint32_t icdata, const uint8_t *inplace,
		     struct fq_tcp_place *pl)
{
	struct side *s = arg;

	(void)inplace;
	s->cmds++;
	s->sqe = *sqe;
	s->icdata = icdata;
	if (icdata) {
		pl->buf = s->buf;
		pl->ctx = s;
	}
	return 0;
}

static int s_response(void *arg, const struct fq_cqe *cqe)
{
	struct side *s = arg;

	s->rsps++;
	s->cqe = *cqe;
	return 0;
}

static int s_data(void *arg, const struct fq_tcp_data_info *d, struct fq_tcp_place *pl)
{
	struct side *s = arg;

	if (d->cid != 7)
		return fq_tcp_conn_reject(&s->c, FQ_TCP_FAULT_CID, "unknown command");
	if (s->c.o.is_target) {
		pl->buf = s->buf + d->off;
	} else {
		pl->iov = s->iov;
		pl->iovcnt = 3;
		pl->off = d->off;
	}
	pl->ctx = s;
	pl->expect_off = s->rcvd;
	pl->xfer_len = s->len;
	return 0;
}

static int s_data_done(void *arg, void *ctx, const struct fq_tcp_data_info *d, bool ok)
{
	struct side *s = arg;

	assert_ptr_equal(ctx, s);
	s->data_done++;
	s->rcvd += d->len;
	s->bad_digest += !ok;
	s->success += d->success;
	return 0;
}

static int s_r2t(void *arg, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len)
{
	struct side *s = arg;
	uint32_t maxh2c = fq_tcp_conn_params(&s->c)->maxh2cdata;

	s->r2ts++;
	/* Answer with H2CData of at most MAXH2CDATA each, all queued at once. */
	for (uint32_t o = off; o < off + len; o += maxh2c) {
		uint32_t n = off + len - o < maxh2c ? off + len - o : maxh2c;
		struct fq_tcp_unit *u = &s->h2c[s->nh2c++];

		fq_tcp_unit_init(u, NULL, 0, NULL);
		fq_tcp_conn_send_h2c(&s->c, u, cid, ttag, s->iov, 1, o, n, o + n == off + len);
	}
	return 0;
}

static void s_hold(void *arg, void *ctx, bool held)
{
	(void)ctx;
	struct side *s = arg;

	s->held += held ? 1 : -1;
	if (s->held > s->held_max)
		s->held_max = s->held;
}

static void s_failed(void *arg, const struct fq_tcp_fail *f)
{
	struct side *s = arg;

	s->failed++;
	s->fail = *f;
	fq_tcp_conn_close(&s->c);
}

static const struct fq_tcp_conn_ops ops = {
	.ready = s_ready,
	.command = s_command,
	.response = s_response,
	.data = s_data,
	.data_done = s_data_done,
	.r2t = s_r2t,
	.rx_hold = s_hold,
	.failed = s_failed,
};

struct pair {
	struct side host, tgt;
};

static void side_init(struct side *s, bool target, bool hdgst, bool ddgst)
{
	struct fq_tcp_conn_opts o = {
		.is_target = target,
		.ops = &ops,
		.arg = s,
		.rxbuf_size = 64 * 1024,
		.max_h2c_data = MAXH2C,
		.max_icdata = 8192,
		.want_hdgst = hdgst,
		.want_ddgst = ddgst,
		.batch = target ? &s->batch : NULL,
		.peer = target ? "host" : "target",
	};

	fake_init(&s->f);
	assert_int_equal(fq_tcp_conn_init(&s->c, &o), 0);
	s->buf = calloc(1, DATA_LEN);
	assert_non_null(s->buf);
	/* The host's buffer in three uneven segments. */
	s->iov[0] = (struct iovec){s->buf, 1000};
	s->iov[1] = (struct iovec){s->buf + 1000, 5000};
	s->iov[2] = (struct iovec){s->buf + 6000, DATA_LEN - 6000};
}

/* Move bytes both ways, @chunk at a time, until nothing moves. */
static void pump(struct pair *p, size_t chunk)
{
	for (;;) {
		size_t moved = 0;

		fq_tcp_batch_resume(&p->tgt.batch);
		fq_tcp_batch_flush(&p->tgt.batch);
		fq_tcp_conn_flush(&p->host.c);
		moved += move_send(&p->host.f, &p->tgt.f, chunk);
		moved += move_send(&p->tgt.f, &p->host.f, chunk);
		moved += move_recv(&p->tgt.f, chunk);
		moved += move_recv(&p->host.f, chunk);
		if (!moved && !fq_tcp_batch_rx_waiting(&p->tgt.batch))
			return;
	}
}

static struct pair *pair_new(bool hdgst, bool ddgst, size_t chunk)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	side_init(&p->host, false, hdgst, ddgst);
	side_init(&p->tgt, true, false, false);
	fq_tcp_conn_start(&p->tgt.c, &p->tgt.f.s);
	fq_tcp_conn_start(&p->host.c, &p->host.f.s);
	pump(p, chunk);
	assert_int_equal(p->host.ready, 1);
	assert_int_equal(p->tgt.ready, 1);
	return p;
}

static void side_fini(struct side *s)
{
	fq_tcp_conn_close(&s->c);
	/* Complete what is still posted: the stream is shut. */
	if (s->f.rop) {
		struct fq_uop *op = s->f.rop;

		s->f.rop = NULL;
		op->done(op, 0, 0);
	}
	if (s->f.sop) {
		struct fq_uop *op = s->f.sop;

		s->f.sop = NULL;
		op->done(op, -EPIPE, 0);
	}
	fq_tcp_batch_resume(&s->batch);
	assert_false(fq_tcp_conn_busy(&s->c));
	fq_tcp_conn_fini(&s->c);
	free(s->f.wire);
	free(s->buf);
}

static void pair_free(struct pair *p)
{
	side_fini(&p->host);
	side_fini(&p->tgt);
	free(p);
}

static struct fq_sqe sqe_cid(uint16_t cid)
{
	struct fq_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = 0x02;
	s.cid = cid;
	return s;
}

static void fill(uint8_t *b, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* ---- tests ------------------------------------------------------------------ */

static void negotiates_digests_and_maxh2cdata(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		struct pair *p = pair_new(dg & 1, dg & 2, 3);

		assert_int_equal(fq_tcp_conn_params(&p->host.c)->hdgst, dg & 1);
		assert_int_equal(fq_tcp_conn_params(&p->host.c)->ddgst, !!(dg & 2));
		assert_int_equal(fq_tcp_conn_params(&p->tgt.c)->hdgst, dg & 1);
		assert_int_equal(fq_tcp_conn_params(&p->tgt.c)->ddgst, !!(dg & 2));
		assert_int_equal(fq_tcp_conn_params(&p->host.c)->maxh2cdata, MAXH2C);
		assert_int_equal(p->host.failed + p->tgt.failed, 0);
		pair_free(p);
	}
}

static void command_response_round_trip(void **state)
{
	struct pair *p = pair_new(true, true, 5);
	struct fq_tcp_unit cu, ru;
	struct fq_sqe s = sqe_cid(42);
	struct fq_cqe cqe = {.cid = 42, .status = 0x4, .dw0 = 0x1234};
	int done_units = 0;

	(void)state;
	(void)done_units;
	fq_tcp_unit_init(&cu, NULL, 0, NULL);
	fq_tcp_conn_send_cmd(&p->host.c, &cu, &s, NULL, 0, 0);
	pump(p, 7);
	assert_int_equal(p->tgt.cmds, 1);
	assert_int_equal(p->tgt.sqe.cid, 42);
	assert_int_equal(p->tgt.icdata, 0);
	assert_true(fq_tcp_unit_sent(&cu));
	fq_tcp_unit_init(&ru, NULL, 0, NULL);
	fq_tcp_conn_send_rsp(&p->tgt.c, &ru, &cqe);
	pump(p, 7);
	assert_int_equal(p->host.rsps, 1);
	assert_int_equal(p->host.cqe.cid, 42);
	assert_int_equal(p->host.cqe.status, 0x4);
	assert_int_equal(p->host.cqe.dw0, 0x1234);
	pair_free(p);
}

/*
 * eager_units: the connection sends once that many units are queued, without
 * waiting for the role's flush, and pushes the send to the kernel; while a
 * send is out, what follows waits for it. Without it nothing leaves before
 * the flush.
 */
static void eager_units_send_before_the_flush(void **state)
{
	struct fq_tcp_unit u[12];
	struct fq_sqe s;

	(void)state;
	for (int eager = 0; eager < 2; eager++) {
		struct pair *p = pair_new(false, false, 1u << 20);
		int sends = p->host.f.sends, i;

		p->host.c.o.eager_units = eager ? 4 : 0;
		for (i = 0; i < 3; i++) {
			s = sqe_cid((uint16_t)i);
			fq_tcp_unit_init(&u[i], NULL, 0, NULL);
			fq_tcp_conn_send_cmd(&p->host.c, &u[i], &s, NULL, 0, 0);
		}
		assert_int_equal(p->host.f.sends, sends);
		s = sqe_cid(3);
		fq_tcp_unit_init(&u[3], NULL, 0, NULL);
		fq_tcp_conn_send_cmd(&p->host.c, &u[3], &s, NULL, 0, 0);
		if (!eager) {
			assert_int_equal(p->host.f.sends, sends);
			assert_int_equal(p->host.f.pushes, 0);
			pair_free(p);
			continue;
		}
		/* The fourth unit sent all four, and the send was pushed. */
		assert_int_equal(p->host.f.sends, sends + 1);
		assert_int_equal(p->host.f.last_iovlen, 4);
		assert_int_equal(p->host.f.pushes, 1);
		/* Four more while that send is out: they wait for its completion. */
		for (i = 4; i < 8; i++) {
			s = sqe_cid((uint16_t)i);
			fq_tcp_unit_init(&u[i], NULL, 0, NULL);
			fq_tcp_conn_send_cmd(&p->host.c, &u[i], &s, NULL, 0, 0);
		}
		assert_int_equal(p->host.f.sends, sends + 1);
		move_send(&p->host.f, &p->tgt.f, 1u << 20);
		assert_int_equal(p->host.f.sends, sends + 2);
		assert_int_equal(p->host.f.last_iovlen, 4);
		/* The count starts again at the send: three more stay queued. */
		move_send(&p->host.f, &p->tgt.f, 1u << 20);
		for (i = 8; i < 11; i++) {
			s = sqe_cid((uint16_t)i);
			fq_tcp_unit_init(&u[i], NULL, 0, NULL);
			fq_tcp_conn_send_cmd(&p->host.c, &u[i], &s, NULL, 0, 0);
		}
		assert_int_equal(p->host.f.sends, sends + 2);
		pump(p, 1u << 20);
		assert_int_equal(p->tgt.cmds, 11);
		assert_int_equal(p->host.failed + p->tgt.failed, 0);
		pair_free(p);
	}
}

/*
 * eager_hold: while the role holds eager sends (the peer has work enough),
 * queued units wait for the flush however many there are; released, the
 * next unit sends them all.
 */
static void eager_hold_leaves_units_to_the_flush(void **state)
{
	struct pair *p = pair_new(false, false, 1u << 20);
	struct fq_tcp_unit u[10];
	struct fq_sqe s;
	int sends = p->host.f.sends;

	(void)state;
	p->host.c.o.eager_units = 4;
	p->host.c.eager_hold = true;
	for (int i = 0; i < 9; i++) {
		s = sqe_cid((uint16_t)i);
		fq_tcp_unit_init(&u[i], NULL, 0, NULL);
		fq_tcp_conn_send_cmd(&p->host.c, &u[i], &s, NULL, 0, 0);
	}
	assert_int_equal(p->host.f.sends, sends);
	assert_int_equal(p->host.f.pushes, 0);
	p->host.c.eager_hold = false;
	s = sqe_cid(9);
	fq_tcp_unit_init(&u[9], NULL, 0, NULL);
	fq_tcp_conn_send_cmd(&p->host.c, &u[9], &s, NULL, 0, 0);
	assert_int_equal(p->host.f.sends, sends + 1);
	assert_int_equal(p->host.f.last_iovlen, 10);
	assert_int_equal(p->host.f.pushes, 1);
	pump(p, 1u << 20);
	assert_int_equal(p->tgt.cmds, 10);
	assert_int_equal(p->host.failed + p->tgt.failed, 0);
	pair_free(p);
}

/* Read data lands in the host's segments for any split, digests on or off. */
static void read_data_placed_for_any_split(void **state)
{
	static const size_t chunks[] = {1, 13, 4096, 17000, 1u << 20};

	(void)state;
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		for (int dg = 0; dg < 2; dg++) {
			struct pair *p = pair_new(dg, dg, chunks[k]);
			struct fq_tcp_unit u;
			struct iovec v = {p->tgt.buf, DATA_LEN};

			fill(p->tgt.buf, DATA_LEN, (uint8_t)k);
			p->host.len = DATA_LEN;
			fq_tcp_unit_init(&u, NULL, 0, NULL);
			fq_tcp_conn_send_c2h(&p->tgt.c, &u, 7, &v, 1, DATA_LEN, true, false);
			pump(p, chunks[k]);
			assert_int_equal(p->host.data_done, 1);
			assert_int_equal(p->host.rcvd, DATA_LEN);
			assert_int_equal(p->host.success, 1);
			assert_int_equal(p->host.bad_digest, 0);
			assert_int_equal(p->host.held, 0);
			/* Split receives take the rest of the data straight into the buffer. */
			if (chunks[k] < DATA_LEN)
				assert_int_equal(p->host.held_max, 1);
			assert_memory_equal(p->host.buf, p->tgt.buf, DATA_LEN);
			assert_true(fq_tcp_unit_sent(&u));
			pair_free(p);
		}
	}
}

/* Write data: in the capsule, or after an R2T in MAXH2CDATA pieces. */
static void write_data_placed_for_any_split(void **state)
{
	static const size_t chunks[] = {1, 29, 8192, 1u << 20};

	(void)state;
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		for (int dg = 0; dg < 2; dg++) {
			struct pair *p = pair_new(dg, dg, chunks[k]);
			struct fq_tcp_unit cu, r2t;
			struct fq_sqe s = sqe_cid(7);
			struct iovec v = {p->host.buf, 4096};

			fill(p->host.buf, DATA_LEN, (uint8_t)(k + 100));
			/* 4 KiB in the capsule. */
			p->tgt.len = 4096;
			fq_tcp_unit_init(&cu, NULL, 0, NULL);
			fq_tcp_conn_send_cmd(&p->host.c, &cu, &s, &v, 1, 4096);
			pump(p, chunks[k]);
			assert_int_equal(p->tgt.icdata, 4096);
			assert_int_equal(p->tgt.data_done, 1);
			assert_memory_equal(p->tgt.buf, p->host.buf, 4096);
			/* 40 KiB solicited by one R2T: five H2CData PDUs. */
			memset(p->tgt.buf, 0, DATA_LEN);
			p->tgt.len = DATA_LEN;
			p->tgt.rcvd = 0;
			p->tgt.data_done = 0;
			p->host.iov[0] = (struct iovec){p->host.buf, DATA_LEN};
			fq_tcp_unit_init(&cu, NULL, 0, NULL);
			fq_tcp_conn_send_cmd(&p->host.c, &cu, &s, NULL, 0, 0);
			pump(p, chunks[k]);
			fq_tcp_unit_init(&r2t, NULL, 0, NULL);
			fq_tcp_conn_send_r2t(&p->tgt.c, &r2t, 7, 3, 0, DATA_LEN);
			pump(p, chunks[k]);
			assert_int_equal(p->host.r2ts, 1);
			assert_int_equal(p->tgt.data_done, DATA_LEN / MAXH2C);
			assert_int_equal(p->tgt.rcvd, DATA_LEN);
			assert_int_equal(p->tgt.bad_digest, 0);
			assert_memory_equal(p->tgt.buf, p->host.buf, DATA_LEN);
			assert_int_equal(p->host.failed + p->tgt.failed, 0);
			pair_free(p);
		}
	}
}

/* A corrupted data byte fails that data only; the stream goes on. */
static void bad_data_digest_is_reported_not_fatal(void **state)
{
	struct pair *p = pair_new(false, true, 4096);
	struct fq_tcp_unit u, ru;
	struct iovec v = {p->tgt.buf, 4096};
	struct fq_cqe cqe = {.cid = 9};

	(void)state;
	p->host.len = 4096;
	/* Byte 100 of the C2HData's data: after its 24-byte header. */
	p->host.f.corrupt_at = (int)(p->host.f.in_total + 24 + 100);
	fq_tcp_unit_init(&u, NULL, 0, NULL);
	fq_tcp_conn_send_c2h(&p->tgt.c, &u, 7, &v, 1, 4096, false, false);
	fq_tcp_unit_init(&ru, NULL, 0, NULL);
	fq_tcp_conn_send_rsp(&p->tgt.c, &ru, &cqe);
	pump(p, 4096);
	assert_int_equal(p->host.data_done, 1);
	assert_int_equal(p->host.bad_digest, 1);
	assert_int_equal(p->host.rsps, 1);
	assert_int_equal(p->host.cqe.cid, 9);
	assert_int_equal(p->host.failed, 0);
	pair_free(p);
}

struct counted {
	struct fq_tcp_unit u;
	int *order;
	int *n;
	int id;
};

static void counted_done(struct fq_tcp_unit *u)
{
	struct counted *c = (struct counted *)u;

	assert_true(fq_tcp_unit_sent(u));
	c->order[(*c->n)++] = c->id;
}

/* Units queued in one turn leave in one vectored send; short sends finish them in order. */
static void batched_and_partial_sends(void **state)
{
	struct pair *p = pair_new(true, false, 1u << 20);
	struct counted u[5];
	int order[5], n = 0, sends;
	size_t total = 0;

	(void)state;
	for (int i = 0; i < 5; i++) {
		struct fq_cqe cqe = {.cid = (uint16_t)(100 + i)};

		u[i] = (struct counted){.order = order, .n = &n, .id = i};
		fq_tcp_unit_init(&u[i].u, NULL, 0, counted_done);
		fq_tcp_conn_send_rsp(&p->tgt.c, &u[i].u, &cqe);
	}
	sends = p->tgt.f.sends;
	assert_null(p->tgt.f.sop); /* nothing leaves before the turn's flush */
	fq_tcp_batch_flush(&p->tgt.batch);
	assert_int_equal(p->tgt.f.sends, sends + 1);
	assert_int_equal(p->tgt.f.last_iovlen, 5);
	/* The peer takes 7 bytes at a time: each unit completes once, in order. */
	while (p->tgt.f.sop || p->tgt.c.tx_head) {
		size_t m = move_send(&p->tgt.f, &p->host.f, 7);

		assert_true(m > 0);
		total += m;
		assert_true(n <= (int)(total / 28));
	}
	assert_int_equal(total, 5 * 28); /* CapsuleResp 24 + HDGST 4 */
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(order[i], i);
	pump(p, 1u << 20);
	assert_int_equal(p->host.rsps, 5);
	assert_int_equal(p->host.cqe.cid, 104);
	pair_free(p);
}

/* A PDU type the target never takes: TermReq to the host, both sides fail. */
static void bad_pdu_gets_termreq(void **state)
{
	struct pair *p = pair_new(false, false, 64);
	uint8_t bad[24] = {0x0b, 0, 24, 0, 24, 0, 0, 0};

	(void)state;
	memcpy(p->tgt.f.wire + p->tgt.f.wire_len, bad, sizeof(bad));
	p->tgt.f.wire_len += sizeof(bad);
	pump(p, 64);
	assert_int_equal(p->tgt.failed, 1);
	assert_int_equal(p->tgt.fail.kind, FQ_TCP_FAIL_PROTO);
	assert_int_equal(p->host.failed, 1);
	assert_int_equal(p->host.fail.kind, FQ_TCP_FAIL_PEER_TERM);
	assert_int_equal(p->host.fail.fes, p->tgt.fail.fes);
	assert_true(p->tgt.f.shut); /* the stream ends after the TermReq */
	pair_free(p);
}

/* The receive budget: a burst of commands is cut into turns. */
static void receive_budget_spreads_commands(void **state)
{
	struct pair *p = pair_new(false, false, 1u << 20);
	struct fq_tcp_unit u[10];

	(void)state;
	p->tgt.c.o.rx_budget = 4;
	for (int i = 0; i < 10; i++) {
		struct fq_sqe s = sqe_cid((uint16_t)i);

		fq_tcp_unit_init(&u[i], NULL, 0, NULL);
		fq_tcp_conn_send_cmd(&p->host.c, &u[i], &s, NULL, 0, 0);
	}
	fq_tcp_conn_flush(&p->host.c);
	move_send(&p->host.f, &p->tgt.f, 1u << 20);
	move_recv(&p->tgt.f, 1u << 20);
	assert_int_equal(p->tgt.cmds, 4);
	assert_true(fq_tcp_batch_rx_waiting(&p->tgt.batch));
	assert_null(p->tgt.f.rop); /* rxbuf still holds commands: no new receive */
	fq_tcp_batch_resume(&p->tgt.batch);
	assert_int_equal(p->tgt.cmds, 8);
	fq_tcp_batch_resume(&p->tgt.batch);
	assert_int_equal(p->tgt.cmds, 10);
	assert_non_null(p->tgt.f.rop);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(negotiates_digests_and_maxh2cdata),
		cmocka_unit_test(command_response_round_trip),
		cmocka_unit_test(read_data_placed_for_any_split),
		cmocka_unit_test(write_data_placed_for_any_split),
		cmocka_unit_test(bad_data_digest_is_reported_not_fatal),
		cmocka_unit_test(batched_and_partial_sends),
		cmocka_unit_test(bad_pdu_gets_termreq),
		cmocka_unit_test(receive_budget_spreads_commands),
		cmocka_unit_test(eager_units_send_before_the_flush),
		cmocka_unit_test(eager_hold_leaves_units_to_the_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
