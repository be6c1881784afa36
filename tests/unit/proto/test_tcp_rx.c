/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP receive framer and the PDU builders (src/proto/tcp_rx.c,
 * tcp_build.c). Streams of several PDUs built with the builders, in both
 * roles, with and without digests, are fed in every two-piece split, one
 * byte at a time and whole; each way must produce the same events and put
 * the same data in the same place. Corrupt digests and bad lengths must
 * produce the FES/FEI a TermReq carries (NVMe/TCP 1.0 §3.6.2.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "proto/crc32c.h"
#include "proto/tcp_build.h"
#include "proto/tcp_rx.h"

#define STREAM_MAX 16384
#define OUT_MAX 8192
#define EV_MAX 32

/* What the role saw, in order. */
struct ev {
	char kind; /* 'h' header, 'd' data done, 'e' error */
	uint8_t type;
	bool ok;
	uint16_t fes;
	uint32_t fei;
	uint32_t data_len;
	uint32_t echo_len;
};

struct role {
	struct fq_tcp_rx rx;
	struct ev ev[EV_MAX];
	int nev;
	uint8_t out[OUT_MAX]; /* data lands here, PDU after PDU */
	uint32_t out_used;
	struct iovec out_iov[3]; /* out split in three to exercise iovec walks */
	bool negotiate_hdgst, negotiate_ddgst;
	bool discard;	 /* leave data without destination */
	bool in_place;	 /* use the data where it is fed when it is all there */
	int stop_on;	 /* header type whose callback stops the feed, -1 none */
	bool pause_each; /* ask for a pause in every header callback */
	int in_place_hits;
};

static struct ev *add_ev(struct role *r, char kind)
{
	assert_true(r->nev < EV_MAX);
	memset(&r->ev[r->nev], 0, sizeof(r->ev[0]));
	r->ev[r->nev].kind = kind;
	return &r->ev[r->nev++];
}

static int on_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct role *r = arg;
	const struct fq_tcp_frame *fr = fq_tcp_rx_frame(rx);
	struct ev *e = add_ev(r, 'h');

	e->type = fr->type;
	e->data_len = fr->data_len;
	if (fr->type == FQ_TCP_ICREQ || fr->type == FQ_TCP_ICRESP) {
		rx->ctx.ic_done = true;
		rx->ctx.hdgst = r->negotiate_hdgst;
		rx->ctx.ddgst = r->negotiate_ddgst;
	}
	if (fr->type == r->stop_on)
		return -ECONNRESET;
	if (r->pause_each)
		fq_tcp_rx_pause(rx);
	if (fr->data_len && !r->discard) {
		assert_true(r->out_used + fr->data_len <= OUT_MAX);
		if (r->in_place && rest_len >= fr->pad_len + fr->data_len) {
			/* Data used where it is: the framer must not copy it. */
			memcpy(r->out + r->out_used, rest + fr->pad_len, fr->data_len);
			fq_tcp_rx_set_buf(rx, (void *)(rest + fr->pad_len));
			r->in_place_hits++;
		} else {
			fq_tcp_rx_set_dst(rx, r->out_iov, 3, r->out_used);
		}
		r->out_used += fr->data_len;
	}
	return 0;
}

static int on_data(void *arg, struct fq_tcp_rx *rx, bool ok)
{
	struct role *r = arg;
	struct ev *e = add_ev(r, 'd');

	e->type = fq_tcp_rx_type(rx);
	e->ok = ok;
	return 0;
}

static void on_error(void *arg, const struct fq_tcp_err *err, const void *hdr, uint32_t hdr_len)
{
	struct role *r = arg;
	struct ev *e = add_ev(r, 'e');

	(void)hdr;
	e->fes = err->fes;
	e->fei = err->fei;
	e->echo_len = hdr_len;
	assert_non_null(err->reason);
}

static const struct fq_tcp_rx_ops ops = {
	.header = on_header,
	.data_done = on_data,
	.error = on_error,
};

static void role_init(struct role *r, bool target, bool hd, bool dd)
{
	struct fq_tcp_rx_ctx ctx = {
		.is_target = target,
		.max_data = 8192,
		.max_icdata = 8192,
	};

	memset(r, 0, sizeof(*r));
	r->negotiate_hdgst = hd;
	r->negotiate_ddgst = dd;
	r->stop_on = -1;
	r->out_iov[0] = (struct iovec){r->out, 100};
	r->out_iov[1] = (struct iovec){r->out + 100, 3000};
	r->out_iov[2] = (struct iovec){r->out + 3100, OUT_MAX - 3100};
	fq_tcp_rx_init(&r->rx, &ctx, &ops, r);
}

/* ---- stream construction -------------------------------------------- */

struct stream {
	uint8_t b[STREAM_MAX];
	uint32_t len;
	uint8_t data[OUT_MAX]; /* every data section, in order */
	uint32_t data_len;
};

static void put(struct stream *s, const void *p, uint32_t n)
{
	assert_true(s->len + n <= STREAM_MAX);
	memcpy(s->b + s->len, p, n);
	s->len += n;
}

/* A PDU from a builder: header, then @dlen bytes of a pattern and DDGST. */
static void put_pdu(struct stream *s, const void *hdr, uint32_t hbytes, uint32_t dlen, bool dd)
{
	uint8_t buf[4096];
	struct iovec data = {buf, dlen}, iov[3];
	uint32_t dg;
	int n;

	assert_true(dlen <= sizeof(buf));
	for (uint32_t i = 0; i < dlen; i++)
		buf[i] = (uint8_t)(s->len * 7 + i * 13 + 1);
	n = fq_tcp_tx_iov(iov, hdr, hbytes, &data, 1, 0, dlen, dd ? &dg : NULL, false);
	assert_int_equal(n, dlen ? (dd ? 3 : 2) : 1);
	for (int i = 0; i < n; i++)
		put(s, iov[i].iov_base, (uint32_t)iov[i].iov_len);
	memcpy(s->data + s->data_len, buf, dlen);
	s->data_len += dlen;
	assert_int_equal(fq_tcp_hdr_plen(hdr), hbytes + dlen + (dlen && dd ? 4 : 0));
}

/* Host to controller: what a target receives. */
static void host_stream(struct stream *s, bool hd, bool dd)
{
	struct fq_tcp_dgst dg = {hd, dd};
	struct fq_tcp_hbuf_ic ic;
	struct fq_tcp_hbuf_cmd cmd;
	struct fq_tcp_hbuf_small sm;
	struct fq_sqe sqe = {.opcode = 0x01, .cid = 7, .nsid = 1};
	uint8_t echo[24] = {0x06, 0, 24, 0};
	uint32_t n;

	memset(s, 0, sizeof(*s));
	n = fq_tcp_build_icreq(&ic, hd, dd, 0, 0);
	put_pdu(s, ic.b, n, 0, false);
	n = fq_tcp_build_cmd(&cmd, &sqe, dg, 0);
	put_pdu(s, cmd.b, n, 0, dd);
	n = fq_tcp_build_cmd(&cmd, &sqe, dg, 512);
	put_pdu(s, cmd.b, n, 512, dd);
	n = fq_tcp_build_h2c(&sm, 7, 3, 0, 1000, false, dg);
	put_pdu(s, sm.b, n, 1000, dd);
	n = fq_tcp_build_h2c(&sm, 7, 3, 1000, 37, true, dg);
	put_pdu(s, sm.b, n, 37, dd);
	n = fq_tcp_build_term(&sm, false, FQ_TCP_FES_INVALID_HEADER, 2, sizeof(echo));
	put(s, sm.b, n);
	put(s, echo, sizeof(echo));
	memcpy(s->data + s->data_len, echo, sizeof(echo));
	s->data_len += sizeof(echo);
}

/* Controller to host: what a host receives. */
static void ctrl_stream(struct stream *s, bool hd, bool dd)
{
	struct fq_tcp_dgst dg = {hd, dd};
	struct fq_tcp_hbuf_ic ic;
	struct fq_tcp_hbuf_small sm;
	struct fq_cqe cqe = {.cid = 7, .sq_id = 1, .status = 0};
	uint32_t n;

	memset(s, 0, sizeof(*s));
	n = fq_tcp_build_icresp(&ic, dg, 0, 8192);
	put_pdu(s, ic.b, n, 0, false);
	n = fq_tcp_build_r2t(&sm, 7, 3, 0, 4096, dg);
	put_pdu(s, sm.b, n, 0, dd);
	n = fq_tcp_build_c2h(&sm, 9, 0, 4096, false, false, dg);
	put_pdu(s, sm.b, n, 4096, dd);
	n = fq_tcp_build_c2h(&sm, 9, 4096, 5, true, true, dg);
	put_pdu(s, sm.b, n, 5, dd);
	n = fq_tcp_build_rsp(&sm, &cqe, dg);
	put_pdu(s, sm.b, n, 0, dd);
	n = fq_tcp_build_term(&sm, true, FQ_TCP_FES_HDR_DIGEST, 0, 0);
	put_pdu(s, sm.b, n, 0, false);
}

static const uint8_t host_types[] = {FQ_TCP_ICREQ,    FQ_TCP_CAPSULE_CMD, FQ_TCP_CAPSULE_CMD,
				     FQ_TCP_H2C_DATA, FQ_TCP_H2C_DATA,	  FQ_TCP_H2C_TERM};
static const uint32_t host_dlen[] = {0, 0, 512, 1000, 37, 24};
static const uint8_t ctrl_types[] = {FQ_TCP_ICRESP,   FQ_TCP_R2T,	   FQ_TCP_C2H_DATA,
				     FQ_TCP_C2H_DATA, FQ_TCP_CAPSULE_RESP, FQ_TCP_C2H_TERM};
static const uint32_t ctrl_dlen[] = {0, 0, 4096, 5, 0, 0};

/* The events a whole stream must produce: a header, and data done if data. */
static void expect_events(const struct role *r, const uint8_t *types, const uint32_t *dlen,
			  int npdu)
{
	int i = 0;

	for (int p = 0; p < npdu; p++) {
		assert_true(i < r->nev);
		assert_int_equal(r->ev[i].kind, 'h');
		assert_int_equal(r->ev[i].type, types[p]);
		assert_int_equal(r->ev[i].data_len, dlen[p]);
		i++;
		if (!dlen[p])
			continue;
		assert_true(i < r->nev);
		assert_int_equal(r->ev[i].kind, 'd');
		assert_int_equal(r->ev[i].type, types[p]);
		assert_true(r->ev[i].ok);
		i++;
	}
	assert_int_equal(r->nev, i);
}

static void check_run(const struct stream *s, struct role *r, const uint8_t *types,
		      const uint32_t *dlen, int npdu)
{
	expect_events(r, types, dlen, npdu);
	assert_int_equal(r->out_used, s->data_len);
	assert_memory_equal(r->out, s->data, s->data_len);
	assert_int_equal(r->rx.state, FQ_TCP_RX_CH);
}

/* Every two-piece split, one byte at a time, and whole, for one stream. */
static void all_splits(bool target, bool hd, bool dd, bool in_place)
{
	static struct stream s;
	static struct role r;
	const uint8_t *types = target ? host_types : ctrl_types;
	const uint32_t *dlen = target ? host_dlen : ctrl_dlen;
	int npdu = 6;

	if (target)
		host_stream(&s, hd, dd);
	else
		ctrl_stream(&s, hd, dd);
	for (uint32_t cut = 0; cut <= s.len; cut++) {
		role_init(&r, target, hd, dd);
		r.in_place = in_place;
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, cut), 0);
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b + cut, s.len - cut), 0);
		check_run(&s, &r, types, dlen, npdu);
	}
	role_init(&r, target, hd, dd);
	for (uint32_t i = 0; i < s.len; i++)
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b + i, 1), 0);
	check_run(&s, &r, types, dlen, npdu);
	assert_int_equal(r.in_place_hits, 0);
	/* Three-piece splits at a coarser stride. */
	for (uint32_t a = 0; a <= s.len; a += 37)
		for (uint32_t b = a; b <= s.len; b += 53) {
			role_init(&r, target, hd, dd);
			r.in_place = in_place;
			assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, a), 0);
			assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b + a, b - a), 0);
			assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b + b, s.len - b), 0);
			check_run(&s, &r, types, dlen, npdu);
		}
}

static void splits_target(void **state)
{
	(void)state;
	for (int v = 0; v < 4; v++)
		all_splits(true, v & 1, v & 2, false);
}

static void splits_host(void **state)
{
	(void)state;
	for (int v = 0; v < 4; v++)
		all_splits(false, v & 1, v & 2, false);
}

/* Data already whole in the fed buffer is used there: no copy, digest checked. */
static void in_place(void **state)
{
	static struct stream s;
	static struct role r;

	(void)state;
	host_stream(&s, true, true);
	role_init(&r, true, true, true);
	r.in_place = true;
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), 0);
	check_run(&s, &r, host_types, host_dlen, 6);
	assert_int_equal(r.in_place_hits, 4); /* capsule data, two H2CData, TermReq */
	all_splits(true, true, true, true);
	all_splits(false, false, true, true);
}

/* Data of a PDU the role gives no destination is skipped, digest unchecked. */
static uint32_t find_pdu(const struct stream *s, int idx);

static void discard(void **state)
{
	static struct stream s;
	static struct role r;

	(void)state;
	ctrl_stream(&s, true, true);
	/* A corrupt digest on discarded data is not reported. */
	s.b[find_pdu(&s, 3) + 28 + 5] ^= 0xff;
	role_init(&r, false, true, true);
	r.discard = true;
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), 0);
	expect_events(&r, ctrl_types, ctrl_dlen, 6);
	assert_int_equal(r.out_used, 0);
}

static uint32_t find_pdu(const struct stream *s, int idx)
{
	uint32_t off = 0;

	for (int i = 0; i < idx; i++) {
		struct fq_tcp_ch ch;

		memcpy(&ch, s->b + off, sizeof(ch));
		off += ch.plen;
	}
	return off;
}

/* A data digest error fails that PDU only; the stream goes on. */
static void bad_ddgst(void **state)
{
	static struct stream s;
	static struct role r;
	struct fq_tcp_ch ch;
	uint32_t off;

	(void)state;
	ctrl_stream(&s, true, true);
	off = find_pdu(&s, 2); /* the 4096-byte C2HData */
	memcpy(&ch, s.b + off, sizeof(ch));
	s.b[off + ch.plen - 1] ^= 0x01; /* last digest byte */
	for (uint32_t cut = 0; cut <= s.len; cut += 61) {
		role_init(&r, false, true, true);
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, cut), 0);
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b + cut, s.len - cut), 0);
		assert_int_equal(r.nev, 8);
		assert_int_equal(r.ev[3].kind, 'd');
		assert_int_equal(r.ev[3].type, FQ_TCP_C2H_DATA);
		assert_false(r.ev[3].ok);
		assert_true(r.ev[5].ok); /* the next data PDU is fine */
		assert_int_equal(r.ev[7].type, FQ_TCP_C2H_TERM);
	}
	/* A data byte flipped: the same. */
	ctrl_stream(&s, true, true);
	s.b[off + 28 + 100] ^= 0x80;
	role_init(&r, false, true, true);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), 0);
	assert_false(r.ev[3].ok);
}

/* A header digest error is fatal: FES 3, the header echoed, no more input. */
static void bad_hdgst(void **state)
{
	static struct stream s;
	static struct role r;
	uint32_t off;

	(void)state;
	host_stream(&s, true, false);
	off = find_pdu(&s, 2); /* CapsuleCmd with data */
	s.b[off + 72] ^= 0x01; /* first HDGST byte */
	for (uint32_t cut = 0; cut <= s.len; cut += 29) {
		role_init(&r, true, true, false);
		(void)fq_tcp_rx_feed(&r.rx, s.b, cut);
		(void)fq_tcp_rx_feed(&r.rx, s.b + cut, s.len - cut);
		assert_int_equal(r.nev, 3);
		assert_int_equal(r.ev[2].kind, 'e');
		assert_int_equal(r.ev[2].fes, FQ_TCP_FES_HDR_DIGEST);
		assert_int_equal(r.ev[2].echo_len, 72);
		assert_int_equal(r.rx.state, FQ_TCP_RX_FAILED);
	}
	/* Whole: the feed reports the failure and refuses more. */
	role_init(&r, true, true, false);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), -EPROTO);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, 1), -EPROTO);
	assert_int_equal(r.nev, 3);
	/* A reset makes it usable again. */
	fq_tcp_rx_reset(&r.rx);
	r.rx.ctx.ic_done = false;
	r.rx.ctx.hdgst = false;
	host_stream(&s, true, false);
	r.nev = 0;
	r.out_used = 0;
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), 0);
	check_run(&s, &r, host_types, host_dlen, 6);
}

/* Feed one bad common header after an ICReq; expect FES/FEI and an 8-byte echo. */
static void expect_ch_error(struct fq_tcp_ch ch, uint32_t max_icdata, uint16_t fes, uint32_t fei)
{
	static struct role r;
	struct fq_tcp_hbuf_ic ic;
	uint32_t n;

	role_init(&r, true, false, false);
	r.rx.ctx.max_icdata = max_icdata;
	n = fq_tcp_build_icreq(&ic, false, false, 0, 0);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, ic.b, n), 0);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, (const uint8_t *)&ch, 7), 0);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, (const uint8_t *)&ch + 7, 1), -EPROTO);
	assert_int_equal(r.nev, 2);
	assert_int_equal(r.ev[1].kind, 'e');
	assert_int_equal(r.ev[1].fes, fes);
	assert_int_equal(r.ev[1].fei, fei);
	assert_int_equal(r.ev[1].echo_len, sizeof(struct fq_tcp_ch));
}

static void bad_lengths(void **state)
{
	(void)state;
	/* PLEN shorter than the header. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_CAPSULE_CMD, 0, 72, 0, 71}, 8192,
			FQ_TCP_FES_INVALID_HEADER, 4);
	/* HLEN not the type's. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_CAPSULE_CMD, 0, 24, 0, 72}, 8192,
			FQ_TCP_FES_INVALID_HEADER, 2);
	/* In-capsule data above the limit. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + 4097}, 4096,
			FQ_TCP_FES_DATA_LIMIT, 4);
	/* H2CData above MAXH2CDATA (8192 in role_init). */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_H2C_DATA, 0, 24, 24, 24 + 8193}, 8192,
			FQ_TCP_FES_DATA_LIMIT, 4);
	/* PDO that is not right after the header. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_H2C_DATA, 0, 24, 28, 24 + 64}, 8192,
			FQ_TCP_FES_INVALID_HEADER, 3);
	/* A host-bound PDU at the target. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_C2H_DATA, 0, 24, 24, 24 + 64}, 8192,
			FQ_TCP_FES_INVALID_HEADER, 0);
	/* Unknown type. */
	expect_ch_error((struct fq_tcp_ch){0x08, 0, 24, 0, 24}, 8192, FQ_TCP_FES_INVALID_HEADER, 0);
	/* A second ICReq. */
	expect_ch_error((struct fq_tcp_ch){FQ_TCP_ICREQ, 0, 128, 0, 128}, 8192,
			FQ_TCP_FES_PDU_SEQUENCE, 0);
}

/*
 * PDO padding: with a PDU data alignment of 8 bytes asked for, a 24-byte
 * header plus HDGST (28) is followed by 4 pad bytes; the data starts at 32.
 */
static void padding(void **state)
{
	static struct role r;
	static uint8_t s[2 * (32 + 64 + 4)];
	struct fq_tcp_hbuf_small sm;
	struct fq_tcp_ch ch;
	uint8_t data[64];
	uint32_t crc, len = 0;

	(void)state;
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < 64; i++)
			data[i] = (uint8_t)(p * 64 + i);
		(void)fq_tcp_build_c2h(&sm, 1, (uint32_t)p * 64, 64, p == 1, false,
				       (struct fq_tcp_dgst){true, true});
		memcpy(&ch, sm.b, sizeof(ch));
		ch.pdo = 32;
		ch.plen = 32 + 64 + 4;
		memcpy(sm.b, &ch, sizeof(ch));
		crc = fq_crc32c(sm.b, 24);
		memcpy(sm.b + 24, &crc, 4);
		memcpy(s + len, sm.b, 28);
		memset(s + len + 28, 0xee, 4); /* pad */
		memcpy(s + len + 32, data, 64);
		crc = fq_crc32c(data, 64);
		memcpy(s + len + 96, &crc, 4);
		len += 100;
	}
	for (uint32_t cut = 0; cut <= len; cut++) {
		role_init(&r, false, true, true);
		r.rx.ctx.ic_done = true;
		r.rx.ctx.hdgst = r.rx.ctx.ddgst = true;
		r.rx.ctx.pda = 1;
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s, cut), 0);
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s + cut, len - cut), 0);
		assert_int_equal(r.nev, 4);
		assert_true(r.ev[1].ok && r.ev[3].ok);
		assert_int_equal(r.out_used, 128);
		for (int i = 0; i < 128; i++)
			assert_int_equal(r.out[i], i);
	}
	/* The same stream with PDA 0 is a framing error at PDO. */
	role_init(&r, false, true, true);
	r.rx.ctx.ic_done = true;
	r.rx.ctx.hdgst = r.rx.ctx.ddgst = true;
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s, len), -EPROTO);
	assert_int_equal(r.ev[0].fes, FQ_TCP_FES_INVALID_HEADER);
	assert_int_equal(r.ev[0].fei, 3);
}

/* Direct receive: the caller reads the rest of the data straight into place. */
static void direct(void **state)
{
	static struct stream s;
	static struct role r;
	struct iovec v[4];
	uint32_t off, left;
	int n;

	(void)state;
	for (int bad = 0; bad < 2; bad++) {
		ctrl_stream(&s, true, true);
		off = find_pdu(&s, 2); /* 4096-byte C2HData */
		if (bad)
			s.b[off + 28 + 4000] ^= 1;
		role_init(&r, false, true, true);
		/* The header and 100 data bytes arrive by feed. */
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, off + 28 + 100), 0);
		left = fq_tcp_rx_data_left(&r.rx);
		assert_int_equal(left, 3996);
		n = fq_tcp_rx_dst_iov(&r.rx, v, 4);
		assert_int_equal(n, 2); /* out_iov[1] rest, then out_iov[2] */
		assert_ptr_equal(v[0].iov_base, r.out + 100);
		assert_int_equal(v[0].iov_len + v[1].iov_len, 3996);
		/* The "socket" writes in two receives. */
		fq_tcp_iov_store(v, n, 0, s.b + off + 28 + 100, 3996);
		assert_int_equal(fq_tcp_rx_direct_done(&r.rx, 1000), 0);
		assert_int_equal(fq_tcp_rx_data_left(&r.rx), 2996);
		assert_int_equal(fq_tcp_rx_direct_done(&r.rx, 2996), 0);
		assert_int_equal(fq_tcp_rx_data_left(&r.rx), 0);
		assert_int_equal(r.rx.state, FQ_TCP_RX_DDGST);
		assert_int_equal(fq_tcp_rx_direct_done(&r.rx, 1), -EINVAL);
		assert_int_equal(
			fq_tcp_rx_feed(&r.rx, s.b + off + 28 + 4096, s.len - off - 28 - 4096), 0);
		assert_int_equal(r.nev, 8);
		assert_int_equal(r.ev[3].ok, !bad);
		if (!bad)
			assert_memory_equal(r.out, s.data, s.data_len);
	}
}

/* A header callback that fails the connection stops the feed at that PDU. */
static void role_stops(void **state)
{
	static struct stream s;
	static struct role r;

	(void)state;
	host_stream(&s, false, false);
	role_init(&r, true, false, false);
	r.stop_on = FQ_TCP_H2C_DATA;
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), -ECONNRESET);
	assert_int_equal(r.nev, 5); /* ICReq, cmd, cmd + data, H2CData header */
	assert_int_equal(r.rx.state, FQ_TCP_RX_FAILED);
	assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, 1), -EPROTO);
}

/*
 * A role that pauses in every header gets one PDU per fq_tcp_rx_feed_some()
 * call, cut exactly at PDU ends (after the data digest), and in the end the
 * same events and data as one plain feed; fq_tcp_rx_feed() ignores pauses.
 */
static void pause_at_boundaries(void **state)
{
	static struct stream s;
	static struct role r;

	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		bool hd = dg & 1, dd = dg & 2;
		uint32_t off = 0;

		host_stream(&s, hd, dd);
		role_init(&r, true, hd, dd);
		r.pause_each = true;
		for (int p = 0; p < 6; p++) {
			size_t used = 0;

			assert_int_equal(fq_tcp_rx_feed_some(&r.rx, s.b + off, s.len - off, &used),
					 0);
			assert_int_equal(off + used, find_pdu(&s, p + 1));
			assert_false(r.rx.pause); /* cleared on return */
			off += (uint32_t)used;
		}
		assert_int_equal(off, s.len);
		check_run(&s, &r, host_types, host_dlen, 6);

		/* Split in two inside a PDU: the pause still waits for its end. */
		role_init(&r, true, hd, dd);
		r.pause_each = true;
		{
			uint32_t mid = find_pdu(&s, 2) + 10, at;
			size_t used;

			assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, mid), 0);
			r.rx.pause = true; /* as if the header callback just asked */
			assert_int_equal(fq_tcp_rx_feed_some(&r.rx, s.b + mid, s.len - mid, &used),
					 0);
			at = mid + (uint32_t)used;
			assert_int_equal(at, find_pdu(&s, 3));
			while (at < s.len) {
				assert_int_equal(
					fq_tcp_rx_feed_some(&r.rx, s.b + at, s.len - at, &used), 0);
				assert_true(used > 0);
				at += (uint32_t)used;
			}
			check_run(&s, &r, host_types, host_dlen, 6);
		}

		role_init(&r, true, hd, dd);
		r.pause_each = true;
		assert_int_equal(fq_tcp_rx_feed(&r.rx, s.b, s.len), 0);
		check_run(&s, &r, host_types, host_dlen, 6);
	}
}

/* Every builder's header passes the decoder in the receiving role. */
static void builders_decode(void **state)
{
	struct fq_tcp_rx_ctx tgt = {
		.is_target = true, .ic_done = true, .max_data = 1u << 20, .max_icdata = 1u << 20};
	struct fq_tcp_rx_ctx host = tgt;
	struct fq_tcp_hbuf_small sm;
	struct fq_tcp_hbuf_cmd cmd;
	struct fq_tcp_hbuf_ic ic;
	struct fq_tcp_frame fr;
	struct fq_tcp_err err;
	struct fq_sqe sqe = {.cid = 5};
	struct fq_cqe cqe = {.cid = 5};
	const struct fq_tcp_data *d = (const void *)sm.b;
	const struct fq_tcp_r2t *r2t = (const void *)sm.b;
	const struct fq_tcp_term *t = (const void *)sm.b;

	(void)state;
	host.is_target = false;
	for (int v = 0; v < 4; v++) {
		struct fq_tcp_dgst dg = {v & 1, v & 2};
		uint32_t hb = dg.hdgst ? 4 : 0, db = dg.ddgst ? 4 : 0;

		tgt.hdgst = host.hdgst = dg.hdgst;
		tgt.ddgst = host.ddgst = dg.ddgst;
		assert_int_equal(fq_tcp_build_cmd(&cmd, &sqe, dg, 100), 72 + hb);
		assert_int_equal(fq_tcp_decode_ch((const void *)cmd.b, &tgt, &fr, &err), 0);
		assert_int_equal(fr.data_len, 100);
		assert_int_equal(fq_tcp_hdr_plen(cmd.b), 72 + hb + 100 + db);
		if (dg.hdgst)
			assert_int_equal(fq_tcp_check_hdgst(cmd.b, 72, &err), 0);

		assert_int_equal(fq_tcp_build_h2c(&sm, 5, 9, 4096, 512, true, dg), 24 + hb);
		assert_int_equal(fq_tcp_decode_ch(&d->ch, &tgt, &fr, &err), 0);
		assert_int_equal(fq_tcp_check_data_range(d, 4096, 8192, &err), 0);
		assert_int_equal(d->ttag, 9);
		assert_true(d->ch.flags & FQ_TCP_F_DATA_LAST);

		assert_int_equal(fq_tcp_build_c2h(&sm, 5, 0, 512, true, true, dg), 24 + hb);
		assert_int_equal(fq_tcp_decode_ch(&d->ch, &host, &fr, &err), 0);
		assert_int_equal(fq_tcp_check_data_range(d, 0, 512, &err), 0);
		assert_true(d->ch.flags & FQ_TCP_F_DATA_SUCCESS);

		assert_int_equal(fq_tcp_build_r2t(&sm, 5, 9, 0, 8192, dg), 24 + hb);
		assert_int_equal(fq_tcp_decode_ch(&r2t->ch, &host, &fr, &err), 0);
		assert_int_equal(r2t->r2tl, 8192);
		assert_int_equal(fr.data_len, 0);

		assert_int_equal(fq_tcp_build_rsp(&sm, &cqe, dg), 24 + hb);
		assert_int_equal(fq_tcp_decode_ch((const void *)sm.b, &host, &fr, &err), 0);
		if (dg.hdgst)
			assert_int_equal(fq_tcp_check_hdgst(sm.b, 24, &err), 0);
	}
	assert_int_equal(fq_tcp_build_term(&sm, true, FQ_TCP_FES_DATA_LIMIT, 4, 500), 24);
	assert_int_equal(t->ch.plen, 24 + FQ_TCP_TERM_MAX_DATA);
	assert_int_equal(fq_tcp_term_fei(t), 4);
	assert_int_equal(fq_tcp_decode_ch(&t->ch, &host, &fr, &err), 0);

	tgt.ic_done = host.ic_done = false;
	assert_int_equal(fq_tcp_build_icreq(&ic, true, false, 0, 0), 128);
	assert_int_equal(fq_tcp_decode_ch((const void *)ic.b, &tgt, &fr, &err), 0);
	assert_int_equal(fq_tcp_check_icreq((const void *)ic.b, &err), 0);
	assert_int_equal(fq_tcp_build_icresp(&ic, (struct fq_tcp_dgst){true, false}, 0, 8192), 128);
	assert_int_equal(fq_tcp_decode_ch((const void *)ic.b, &host, &fr, &err), 0);
	assert_int_equal(fq_tcp_check_icresp((const void *)ic.b, FQ_TCP_DGST_HDR, &err), 0);
	assert_int_equal(fq_tcp_dgst_bits(true, true), FQ_TCP_DGST_HDR | FQ_TCP_DGST_DATA);
}

/* fq_tcp_tx_iov over several segments: the digest covers exactly the slice. */
static void tx_iov(void **state)
{
	uint8_t a[100], b[200], hdr[28] = {0};
	struct iovec data[2] = {{a, sizeof(a)}, {b, sizeof(b)}}, out[4];
	uint8_t flat[150];
	uint32_t dg;
	int n;

	(void)state;
	for (int i = 0; i < 100; i++)
		a[i] = (uint8_t)i;
	for (int i = 0; i < 200; i++)
		b[i] = (uint8_t)(100 + i);
	n = fq_tcp_tx_iov(out, hdr, 28, data, 2, 50, 150, &dg, false);
	assert_int_equal(n, 4);
	assert_ptr_equal(out[1].iov_base, a + 50);
	assert_int_equal(out[1].iov_len, 50);
	assert_ptr_equal(out[2].iov_base, b);
	assert_int_equal(out[2].iov_len, 100);
	assert_ptr_equal(out[3].iov_base, &dg);
	for (int i = 0; i < 150; i++)
		flat[i] = (uint8_t)(50 + i);
	assert_int_equal(dg, fq_crc32c(flat, sizeof(flat)));
	n = fq_tcp_tx_iov(out, hdr, 28, data, 2, 0, 100, &dg, true);
	assert_int_equal(n, 3);
	assert_int_equal(dg, fq_crc32c(a, 100));
	assert_int_equal(fq_tcp_tx_iov(out, hdr, 28, data, 2, 0, 0, &dg, false), 1);
}

/* The role-neutral views of the current header, for each PDU a role receives. */
struct views {
	int n;
	enum fq_tcp_pdu_kind kind[8];
	struct fq_tcp_data_hdr d;
	struct fq_tcp_r2t_hdr r2t;
	struct fq_sqe sqe;
	struct fq_cqe cqe;
	uint16_t fes;
	uint32_t fei;
	struct fq_tcp_dgst dg;
	uint32_t maxh2c;
	int range_rc;
};

static int views_header(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len)
{
	struct views *v = arg;
	struct fq_tcp_err err;
	enum fq_tcp_pdu_kind k = fq_tcp_rx_kind(rx);

	(void)rest;
	(void)rest_len;
	v->kind[v->n++] = k;
	switch (k) {
	case FQ_TCP_KIND_IC:
		if (rx->ctx.is_target)
			assert_int_equal(fq_tcp_rx_check_icreq(rx, &v->dg, &err), 0);
		else
			assert_int_equal(fq_tcp_rx_check_icresp(rx,
								(struct fq_tcp_dgst){true, false},
								&v->maxh2c, &err),
					 0);
		rx->ctx.ic_done = true;
		break;
	case FQ_TCP_KIND_CMD:
		v->sqe = *fq_tcp_rx_sqe(rx);
		break;
	case FQ_TCP_KIND_RSP:
		v->cqe = *fq_tcp_rx_cqe(rx);
		break;
	case FQ_TCP_KIND_DATA:
		fq_tcp_rx_data_hdr(rx, &v->d);
		v->range_rc = fq_tcp_rx_check_data_range(rx, 4096, 4096 + 64, &err);
		break;
	case FQ_TCP_KIND_R2T:
		fq_tcp_rx_r2t_hdr(rx, &v->r2t);
		break;
	case FQ_TCP_KIND_TERM:
		fq_tcp_rx_term(rx, &v->fes, &v->fei);
		break;
	default:
		fail();
	}
	return 0;
}

static void views(void **state)
{
	static const struct fq_tcp_rx_ops vops = {.header = views_header};
	struct fq_tcp_rx_ctx tctx = {.is_target = true, .max_data = 8192, .max_icdata = 8192};
	struct fq_tcp_rx_ctx hctx = {.is_target = false, .max_data = 8192};
	struct fq_tcp_dgst none = {false, false};
	struct fq_sqe sqe = {.opcode = 0x02, .cid = 0x1234, .nsid = 9};
	struct fq_cqe cqe = {.cid = 0x4321, .status = 0x0004};
	struct fq_tcp_hbuf_ic ic;
	struct fq_tcp_hbuf_cmd cmd;
	struct fq_tcp_hbuf_small sm;
	struct fq_tcp_rx rx;
	struct views v = {0};
	uint8_t zero[64] = {0};
	uint32_t n;

	(void)state;
	/* Target: ICReq asking for header digests only, CapsuleCmd, H2CData, TermReq. */
	fq_tcp_rx_init(&rx, &tctx, &vops, &v);
	n = fq_tcp_build_icreq(&ic, true, false, 0, 0);
	assert_int_equal(fq_tcp_rx_feed(&rx, ic.b, n), 0);
	assert_true(v.dg.hdgst);
	assert_false(v.dg.ddgst);
	n = fq_tcp_build_cmd(&cmd, &sqe, none, 0);
	assert_int_equal(fq_tcp_rx_feed(&rx, cmd.b, n), 0);
	assert_int_equal(v.sqe.cid, 0x1234);
	assert_int_equal(v.sqe.nsid, 9);
	n = fq_tcp_build_h2c(&sm, 0x1234, 77, 4096, 64, true, none);
	assert_int_equal(fq_tcp_rx_feed(&rx, sm.b, n), 0);
	assert_int_equal(fq_tcp_rx_feed(&rx, zero, sizeof(zero)), 0);
	assert_int_equal(v.d.cccid, 0x1234);
	assert_int_equal(v.d.ttag, 77);
	assert_int_equal(v.d.datao, 4096);
	assert_int_equal(v.d.datal, 64);
	assert_true(v.d.last);
	assert_false(v.d.success);
	assert_int_equal(v.range_rc, 0);
	n = fq_tcp_build_term(&sm, false, FQ_TCP_FES_DATA_LIMIT, 0x01020304, 0);
	assert_int_equal(fq_tcp_rx_feed(&rx, sm.b, n), 0);
	assert_int_equal(v.fes, FQ_TCP_FES_DATA_LIMIT);
	assert_int_equal(v.fei, 0x01020304);
	assert_int_equal(v.n, 4);
	assert_int_equal(v.kind[0], FQ_TCP_KIND_IC);
	assert_int_equal(v.kind[1], FQ_TCP_KIND_CMD);
	assert_int_equal(v.kind[2], FQ_TCP_KIND_DATA);
	assert_int_equal(v.kind[3], FQ_TCP_KIND_TERM);

	/* Host: ICResp, R2T, C2HData with SUCCESS out of range, CapsuleResp. */
	memset(&v, 0, sizeof(v));
	fq_tcp_rx_init(&rx, &hctx, &vops, &v);
	n = fq_tcp_build_icresp(&ic, (struct fq_tcp_dgst){true, false}, 0, 65536);
	assert_int_equal(fq_tcp_rx_feed(&rx, ic.b, n), 0);
	assert_int_equal(v.maxh2c, 65536);
	/* The same ICResp against a request for no digests is refused (B1). */
	assert_int_equal(fq_tcp_rx_check_icresp(&rx, none, &v.maxh2c, &(struct fq_tcp_err){0}),
			 -EPROTO);
	n = fq_tcp_build_r2t(&sm, 5, 6, 8192, 4096, none);
	assert_int_equal(fq_tcp_rx_feed(&rx, sm.b, n), 0);
	assert_int_equal(v.r2t.cccid, 5);
	assert_int_equal(v.r2t.ttag, 6);
	assert_int_equal(v.r2t.r2to, 8192);
	assert_int_equal(v.r2t.r2tl, 4096);
	n = fq_tcp_build_c2h(&sm, 5, 0, 64, true, true, none);
	assert_int_equal(fq_tcp_rx_feed(&rx, sm.b, n), 0);
	assert_int_equal(fq_tcp_rx_feed(&rx, zero, sizeof(zero)), 0);
	assert_true(v.d.success);
	assert_int_equal(v.range_rc, -EPROTO); /* DATAO 0, 4096 expected */
	n = fq_tcp_build_rsp(&sm, &cqe, none);
	assert_int_equal(fq_tcp_rx_feed(&rx, sm.b, n), 0);
	assert_int_equal(v.cqe.cid, 0x4321);
	assert_int_equal(v.cqe.status, 0x0004);
	assert_int_equal(v.kind[1], FQ_TCP_KIND_R2T);
	assert_int_equal(v.kind[3], FQ_TCP_KIND_RSP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(splits_target),   cmocka_unit_test(splits_host),
		cmocka_unit_test(in_place),	   cmocka_unit_test(discard),
		cmocka_unit_test(bad_ddgst),	   cmocka_unit_test(bad_hdgst),
		cmocka_unit_test(bad_lengths),	   cmocka_unit_test(padding),
		cmocka_unit_test(direct),	   cmocka_unit_test(role_stops),
		cmocka_unit_test(builders_decode), cmocka_unit_test(tx_iov),
		cmocka_unit_test(views),	   cmocka_unit_test(pause_at_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
