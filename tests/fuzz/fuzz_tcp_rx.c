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
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/tcp_rx.h"

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
	}
	return 0;
}
