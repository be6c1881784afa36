/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the NVMe/TCP receive framer (src/proto/tcp_rx.c),
 * from both roles.
 *
 * The input is the byte stream a peer sends. For each role, before and after
 * the IC exchange, with every digest choice and PDU data alignment 0 or 8
 * bytes, the stream is fed once whole and then again in pieces (sizes taken
 * from the stream itself, with the direct-receive path used for part of the
 * data). Data goes, by PDU number, to a buffer of exactly its size (so
 * AddressSanitizer sees any write past it), in place in the fed buffer, or
 * nowhere. The harness aborts when the two runs disagree on any event, on
 * the data delivered or on the outcome, or when an event breaks the framing
 * invariants: data_done only after a header announcing data, errors with a
 * known FES, nothing after a failure.
 *
 * The same stream then goes to the connection object (src/xport/tcp_conn.c)
 * in manual mode, as a target and as a host, whole and in pieces: the
 * roles place data into per-tag buffers of exactly the transfer size,
 * reject some commands, answer R2Ts with host data and commands with
 * responses, and the queued sends are drained in pieces. The two runs must
 * report the same commands, responses, data (by hash), R2Ts and failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/tcp_rx.h"
#include "xport/tcp_conn.h"

#define MAX_EV 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

struct ev {
	char kind;
	uint8_t type;
	bool ok;
	uint16_t fes;
	uint32_t fei, len, hash;
};

struct run {
	struct fq_tcp_rx rx;
	bool hd, dd;
	struct ev ev[MAX_EV];
	int nev;
	int pdus;
	bool want_data; /* a header announced data that has not completed */
	bool failed;
	uint8_t *buf; /* malloc'd destination of the current PDU */
	const uint8_t *dst;
	uint32_t dst_len;
};

static struct ev *add(struct run *r, char kind)
{
	struct ev *e;

	check(!r->failed);
	if (r->nev == MAX_EV)
		return NULL;
	e = &r->ev[r->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

/* The typed views read only the validated header (ASan checks). */
static void touch_views(const struct fq_tcp_rx *rx)
{
	struct fq_tcp_data_hdr d;
	struct fq_tcp_r2t_hdr t;
	struct fq_tcp_dgst dg;
	struct fq_tcp_err err;
	uint32_t u32;
	uint16_t u16;

	switch (fq_tcp_rx_kind(rx)) {
	case FQ_TCP_KIND_IC:
		if (rx->ctx.is_target)
			(void)fq_tcp_rx_check_icreq(rx, &dg, &err);
		else
			(void)fq_tcp_rx_check_icresp(rx, (struct fq_tcp_dgst){rx->ctx.hdgst, false},
						     &u32, &err);
		break;
	case FQ_TCP_KIND_CMD:
		check(fq_tcp_rx_sqe(rx) != NULL);
		(void)fq_crc32c(fq_tcp_rx_sqe(rx), sizeof(struct fq_sqe));
		break;
	case FQ_TCP_KIND_RSP:
		(void)fq_crc32c(fq_tcp_rx_cqe(rx), sizeof(struct fq_cqe));
		break;
	case FQ_TCP_KIND_DATA:
		fq_tcp_rx_data_hdr(rx, &d);
		if (fq_tcp_rx_check_data_range(rx, d.datao, 0xffffffffu, &err) == 0)
			check(d.datal == fq_tcp_rx_frame(rx)->data_len);
		break;
	case FQ_TCP_KIND_R2T:
		fq_tcp_rx_r2t_hdr(rx, &t);
		break;
	case FQ_TCP_KIND_TERM:
		fq_tcp_rx_term(rx, &u16, &u32);
		break;
	default:
		abort(); /* the decoder admits nothing else */
	}
}

static int on_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct run *r = arg;
	const struct fq_tcp_frame *fr = fq_tcp_rx_frame(rx);
	struct ev *e;

	check(!r->want_data);
	e = add(r, 'h');
	if (!e)
		return -E2BIG;
	e->type = fr->type;
	e->len = fr->data_len;
	check(fr->hdr_len + fr->pad_len + fr->data_len + (fr->has_ddgst ? 4u : 0u) == fr->plen);
	check(fq_tcp_rx_hdr_len(rx) == fr->hlen);
	if (fr->type == 0x00 || fr->type == 0x01) {
		rx->ctx.ic_done = true;
		rx->ctx.hdgst = r->hd;
		rx->ctx.ddgst = r->dd;
	}
	touch_views(rx);
	r->dst = NULL;
	r->dst_len = fr->data_len;
	if (fr->data_len) {
		r->want_data = true;
		switch (r->pdus % 3) {
		case 0:
			r->buf = malloc(fr->data_len);
			check(r->buf != NULL);
			fq_tcp_rx_set_buf(rx, r->buf);
			r->dst = r->buf;
			break;
		case 1:
			if (rest_len >= (size_t)fr->pad_len + fr->data_len) {
				r->dst = rest + fr->pad_len;
				fq_tcp_rx_set_buf(rx, (void *)r->dst);
			} else {
				r->buf = malloc(fr->data_len);
				check(r->buf != NULL);
				fq_tcp_rx_set_buf(rx, r->buf);
				r->dst = r->buf;
			}
			break;
		default:
			break; /* discarded */
		}
	}
	r->pdus++;
	return 0;
}

static int on_data(void *arg, struct fq_tcp_rx *rx, bool ok)
{
	struct run *r = arg;
	struct ev *e;

	check(r->want_data);
	r->want_data = false;
	e = add(r, 'd');
	if (!e)
		return -E2BIG;
	e->type = fq_tcp_rx_type(rx);
	e->ok = ok;
	check(ok || r->dst); /* discarded data is never reported bad */
	if (r->dst)
		e->hash = fq_crc32c(r->dst, r->dst_len);
	free(r->buf);
	r->buf = NULL;
	r->dst = NULL;
	return 0;
}

static void on_error(void *arg, const struct fq_tcp_err *err, const void *hdr, uint32_t hdr_len)
{
	struct run *r = arg;
	struct ev *e = add(r, 'e');

	check(err->fes >= FQ_TCP_FES_INVALID_HEADER && err->fes <= FQ_TCP_FES_UNSUPPORTED_PARAM);
	check(err->reason && err->reason[0]);
	check(hdr_len >= 8 && hdr_len <= FQ_TCP_MAX_HDR);
	(void)fq_crc32c(hdr, hdr_len); /* ASan: the echoed bytes are readable */
	r->failed = true;
	if (e) {
		e->fes = err->fes;
		e->fei = err->fei;
		e->len = hdr_len;
	}
}

static const struct fq_tcp_rx_ops ops = {on_header, on_data, on_error};

static void run_init(struct run *r, const struct fq_tcp_rx_ctx *ctx)
{
	memset(r, 0, sizeof(*r));
	r->hd = ctx->hdgst;
	r->dd = ctx->ddgst;
	fq_tcp_rx_init(&r->rx, ctx, &ops, r);
}

static void run_fini(struct run *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Feed in pieces; part of the data goes by the direct-receive path. */
static int feed_pieces(struct run *r, const uint8_t *data, size_t size)
{
	size_t off = 0;
	unsigned k = 0;

	while (off < size) {
		size_t n = (size_t)(data[k++ % size] % 97) + 1;
		uint32_t left = fq_tcp_rx_data_left(&r->rx);
		int rc;

		if (n > size - off)
			n = size - off;
		if (left && (k & 1)) {
			struct iovec v[4];
			int cnt = fq_tcp_rx_dst_iov(&r->rx, v, 4);
			uint32_t m = n < left ? (uint32_t)n : left;

			check(cnt > 0);
			fq_tcp_iov_store(v, cnt, 0, data + off, m);
			rc = fq_tcp_rx_direct_done(&r->rx, m);
			n = m;
		} else {
			rc = fq_tcp_rx_feed(&r->rx, data + off, n);
		}
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

/* ---- the connection object, both roles ------------------------------------ */

#define TAGS 4
#define XFER 16384u

struct crun {
	struct fq_tcp_conn c;
	struct ev ev[MAX_EV];
	int nev;
	bool failed;
	uint8_t *buf[TAGS];
	struct iovec iov[TAGS][3];
	struct fq_tcp_unit h2c[TAGS];
	struct iovec h2c_iov[TAGS][5]; /* header, three segments, digest */
	bool h2c_busy[TAGS];
	struct fq_tcp_unit rsp[TAGS];
	bool rsp_busy[TAGS];
	uint8_t *ic; /* in-capsule data of the current command */
	const uint8_t *drain;
	size_t drain_len;
	unsigned drain_k;
};

static struct ev *cadd(struct crun *r, char kind)
{
	struct ev *e;

	if (r->nev == MAX_EV)
		return NULL;
	e = &r->ev[r->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static int c_ready(void *arg)
{
	struct crun *r = arg;

	check(!r->failed);
	cadd(r, 'y');
	return 0;
}

static void rsp_done(struct fq_tcp_unit *u)
{
	(void)u;
}

static int c_command(void *arg, const struct fq_sqe *sqe, uint32_t icdata, const uint8_t *inplace,
		     struct fq_tcp_place *pl)
{
	struct crun *r = arg;
	struct ev *e = cadd(r, 'c');
	unsigned t = sqe->cid % TAGS;

	check(!r->failed);
	if (e) {
		e->fei = sqe->cid;
		e->len = icdata;
	}
	if (sqe->cid % 5 == 4)
		return fq_tcp_conn_reject(&r->c, FQ_TCP_FAULT_SEQUENCE, "refused");
	if (!r->rsp_busy[t]) {
		struct fq_cqe cqe = {.cid = sqe->cid};

		r->rsp_busy[t] = true;
		fq_tcp_unit_init(&r->rsp[t], NULL, 0, rsp_done);
		fq_tcp_conn_send_rsp(&r->c, &r->rsp[t], &cqe);
	}
	if (icdata) {
		check(r->ic == NULL);
		if (inplace && (sqe->cid & 1)) {
			pl->buf = (void *)inplace;
		} else {
			r->ic = malloc(icdata);
			check(r->ic != NULL);
			pl->buf = r->ic;
		}
		pl->ctx = pl->buf;
	}
	return 0;
}

static int c_response(void *arg, const struct fq_cqe *cqe)
{
	struct crun *r = arg;
	struct ev *e = cadd(r, 'r');

	check(!r->failed);
	if (e)
		e->fei = cqe->cid;
	if (cqe->cid % 7 == 6)
		return fq_tcp_conn_reject(&r->c, FQ_TCP_FAULT_CID, "unknown cid");
	return 0;
}

static int c_data(void *arg, const struct fq_tcp_data_info *d, struct fq_tcp_place *pl)
{
	struct crun *r = arg;
	unsigned t = r->c.o.is_target ? d->ttag : d->cid;
	struct ev *e = cadd(r, 'D');

	check(!r->failed);
	if (e) {
		e->fei = d->off;
		e->len = d->len;
	}
	if (t >= TAGS)
		return fq_tcp_conn_reject(&r->c,
					  r->c.o.is_target ? FQ_TCP_FAULT_TTAG : FQ_TCP_FAULT_CID,
					  "unknown tag");
	if (r->c.o.is_target) {
		pl->buf = r->buf[t] + d->off; /* the range is checked before placing */
	} else {
		pl->iov = r->iov[t];
		pl->iovcnt = 3;
		pl->off = d->off;
	}
	pl->ctx = &r->buf[t];
	pl->expect_off = d->off & 1 ? d->off : 0;
	pl->xfer_len = XFER;
	return 0;
}

static int c_data_done(void *arg, void *ctx, const struct fq_tcp_data_info *d, bool ok)
{
	struct crun *r = arg;
	struct ev *e = cadd(r, 'd');
	uint32_t h;

	check(!r->failed);
	if (d->incapsule) {
		h = fq_crc32c(ctx, d->len);
		if (ctx == r->ic) {
			free(r->ic);
			r->ic = NULL;
		}
	} else {
		uint8_t **b = ctx;

		check(d->off + d->len <= XFER);
		h = fq_crc32c(*b + d->off, d->len);
	}
	if (e) {
		e->ok = ok;
		e->hash = ok ? h : 0;
		e->len = d->len;
	}
	return 0;
}

static void h2c_done(struct fq_tcp_unit *u)
{
	(void)u;
}

static int c_r2t(void *arg, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len)
{
	struct crun *r = arg;
	struct ev *e = cadd(r, 't');

	check(!r->failed);
	if (e) {
		e->fei = off;
		e->len = len;
	}
	if (cid >= TAGS)
		return fq_tcp_conn_reject(&r->c, FQ_TCP_FAULT_CID, "unknown cid");
	if (len == 0 || len > XFER || off > XFER - len)
		return fq_tcp_conn_reject(&r->c, FQ_TCP_FAULT_R2TO, "outside the data");
	if (!r->h2c_busy[cid]) {
		r->h2c_busy[cid] = true;
		fq_tcp_unit_init(&r->h2c[cid], r->h2c_iov[cid], 5, h2c_done);
		fq_tcp_conn_send_h2c(&r->c, &r->h2c[cid], cid, ttag, r->iov[cid], 3, off, len,
				     true);
	}
	return 0;
}

static void c_failed(void *arg, const struct fq_tcp_fail *f)
{
	struct crun *r = arg;
	struct ev *e = cadd(r, 'f');

	check(!r->failed);
	check(f->why && f->why[0]);
	r->failed = true;
	if (e) {
		e->type = (uint8_t)f->kind;
		e->fes = f->fes;
	}
	fq_tcp_conn_close(&r->c);
}

static const struct fq_tcp_conn_ops conn_ops = {
	.ready = c_ready,
	.command = c_command,
	.response = c_response,
	.data = c_data,
	.data_done = c_data_done,
	.r2t = c_r2t,
	.failed = c_failed,
};

/* Take some of what the connection queued, as a short send would. */
static void drain(struct crun *r)
{
	struct iovec v[16];
	int n = fq_tcp_conn_gather(&r->c, v, 16);
	size_t total = 0, take;

	for (int i = 0; i < n; i++) {
		(void)fq_crc32c(v[i].iov_base, v[i].iov_len); /* ASan: every byte readable */
		total += v[i].iov_len;
	}
	take = r->drain_len ? r->drain[r->drain_k++ % r->drain_len] * 7u : total;
	fq_tcp_conn_advance(&r->c, take < total ? take : total);
}

static void crun_init(struct crun *r, bool target, unsigned v, const uint8_t *data, size_t size)
{
	struct fq_tcp_conn_opts o = {
		.is_target = target,
		.ops = &conn_ops,
		.arg = r,
		.rxbuf_size = 4096,
		.max_h2c_data = 65536,
		.max_icdata = 8192,
		.want_hdgst = v & 4,
		.want_ddgst = v & 8,
	};

	memset(r, 0, sizeof(*r));
	check(fq_tcp_conn_init(&r->c, &o) == 0);
	for (int t = 0; t < TAGS; t++) {
		r->buf[t] = malloc(XFER);
		check(r->buf[t] != NULL);
		memset(r->buf[t], t, XFER);
		r->iov[t][0] = (struct iovec){r->buf[t], 1000};
		r->iov[t][1] = (struct iovec){r->buf[t] + 1000, 4000};
		r->iov[t][2] = (struct iovec){r->buf[t] + 5000, XFER - 5000};
	}
	r->drain = data;
	r->drain_len = size;
	fq_tcp_conn_start(&r->c, NULL);
	if (v & 2) {
		/* Past the IC exchange already: commands and data from the first byte. */
		r->c.ic_done = true;
		r->c.params.hdgst = r->c.rx.ctx.hdgst = v & 4;
		r->c.params.ddgst = r->c.rx.ctx.ddgst = v & 8;
		r->c.params.maxh2cdata = 4096;
		r->c.rx.ctx.ic_done = true;
	}
}

static void crun_fini(struct crun *r)
{
	fq_tcp_conn_close(&r->c);
	check(!fq_tcp_conn_busy(&r->c));
	fq_tcp_conn_fini(&r->c);
	for (int t = 0; t < TAGS; t++)
		free(r->buf[t]);
	free(r->ic);
}

static void conn_case(const uint8_t *data, size_t size, bool target, unsigned v)
{
	static struct crun whole, pieces;
	size_t off = 0;
	unsigned k = 0;
	int rc1, rc2 = 0;

	crun_init(&whole, target, v, NULL, 0);
	crun_init(&pieces, target, v, data, size);
	rc1 = fq_tcp_conn_feed(&whole.c, data, size);
	drain(&whole);
	while (off < size && !rc2) {
		size_t n = (size_t)(data[k++ % size] % 61) + 1;

		if (n > size - off)
			n = size - off;
		rc2 = fq_tcp_conn_feed(&pieces.c, data + off, n);
		drain(&pieces);
		off += n;
	}
	check(rc1 == 0 || rc1 == -EPROTO);
	check(rc1 == rc2);
	check(whole.failed == pieces.failed);
	if (whole.nev < MAX_EV && pieces.nev < MAX_EV) {
		check(whole.nev == pieces.nev);
		check(memcmp(whole.ev, pieces.ev, sizeof(whole.ev[0]) * whole.nev) == 0);
	}
	crun_fini(&whole);
	crun_fini(&pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, pieces;

	if (size > 1 << 16)
		return 0;
	for (unsigned v = 0; v < 32; v++) {
		struct fq_tcp_rx_ctx ctx = {
			.is_target = v & 1,
			.ic_done = v & 2,
			.hdgst = v & 4,
			.ddgst = v & 8,
			.pda = v & 16 ? 1 : 0,
			.max_data = 65536,
			.max_icdata = 8192,
		};
		int rc1, rc2;

		run_init(&whole, &ctx);
		run_init(&pieces, &ctx);
		rc1 = fq_tcp_rx_feed(&whole.rx, data, size);
		rc2 = feed_pieces(&pieces, data, size);
		check(rc1 == 0 || rc1 == -EPROTO || rc1 == -E2BIG);
		if (rc1 != -E2BIG && rc2 != -E2BIG) {
			check(rc1 == rc2);
			check(whole.nev == pieces.nev);
			check(memcmp(whole.ev, pieces.ev, sizeof(whole.ev[0]) * whole.nev) == 0);
			check(whole.rx.state == pieces.rx.state);
		}
		if (rc1 == -EPROTO)
			check(fq_tcp_rx_feed(&whole.rx, data, size ? 1 : 0) ==
			      (size ? -EPROTO : 0));
		run_fini(&whole);
		run_fini(&pieces);
		if (!(v & 16))
			conn_case(data, size, v & 1, v);
	}
	return 0;
}
