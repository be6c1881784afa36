/* SPDX-License-Identifier: MIT */
/*
 * Every accept and reject path of the NVMe/TCP header validator. Each reject
 * asserts the exact FES and FEI a TermReq would carry (NVMe/TCP 1.0 §3.6.2.3
 * Fig. 22: FEI is the byte offset of the offending header field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "proto/crc32c.h"
#include "proto/tcp_decode.h"

#define MAX_DATA 8192u
#define MAX_ICDATA 4096u

/* Offsets of CH fields: the FEI values the decoder must report. */
#define FEI_TYPE 0
#define FEI_FLAGS 1
#define FEI_HLEN 2
#define FEI_PDO 3
#define FEI_PLEN 4

static struct fq_tcp_rx_ctx target_ctx(void)
{
	return (struct fq_tcp_rx_ctx){
		.is_target = true,
		.ic_done = true,
		.max_data = MAX_DATA,
		.max_icdata = MAX_ICDATA,
	};
}

static struct fq_tcp_rx_ctx host_ctx(void)
{
	return (struct fq_tcp_rx_ctx){
		.is_target = false,
		.ic_done = true,
		.max_data = MAX_DATA,
		.max_icdata = 0,
	};
}

static struct fq_tcp_ch mk_ch(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen)
{
	return (struct fq_tcp_ch){
		.type = type, .flags = flags, .hlen = hlen, .pdo = pdo, .plen = plen};
}

static void expect_reject(struct fq_tcp_ch ch, struct fq_tcp_rx_ctx ctx, uint16_t fes, uint32_t fei)
{
	struct fq_tcp_frame fr;
	struct fq_tcp_err err = {.fes = 0xdead, .fei = 0xdeadbeef};

	assert_int_equal(fq_tcp_decode_ch(&ch, &ctx, &fr, &err), -EPROTO);
	assert_int_equal(err.fes, fes);
	assert_int_equal(err.fei, fei);
	assert_non_null(err.reason);
}

static struct fq_tcp_frame expect_accept(struct fq_tcp_ch ch, struct fq_tcp_rx_ctx ctx)
{
	struct fq_tcp_frame fr;
	struct fq_tcp_err err = {0};

	assert_int_equal(fq_tcp_decode_ch(&ch, &ctx, &fr, &err), 0);
	assert_int_equal(fr.type, ch.type);
	assert_int_equal(fr.flags, ch.flags);
	assert_int_equal(fr.hlen, ch.hlen);
	assert_int_equal(fr.plen, ch.plen);
	assert_int_equal(fr.pad_len, 0);
	/* The frame must account for every byte PLEN announces. */
	assert_int_equal(fr.hdr_len + fr.pad_len + fr.data_len +
				 (fr.has_ddgst ? FQ_TCP_DIGEST_LEN : 0),
			 ch.plen);
	return fr;
}

/* ---- accept paths ---- */

static void accept_target_pdus(void **state)
{
	struct fq_tcp_rx_ctx pre = target_ctx(), live = target_ctx();
	struct fq_tcp_frame fr;

	(void)state;
	pre.ic_done = false;
	fr = expect_accept(mk_ch(FQ_TCP_ICREQ, 0, 128, 0, 128), pre);
	assert_int_equal(fr.hdr_len, 128);
	assert_int_equal(fr.data_len, 0);

	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72), live);
	assert_int_equal(fr.hdr_len, 72);
	assert_int_equal(fr.data_len, 0);
	assert_false(fr.has_hdgst);
	assert_false(fr.has_ddgst);

	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + 512), live);
	assert_int_equal(fr.data_len, 512);

	fr = expect_accept(mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_DATA_LAST, 24, 24, 24 + 4096), live);
	assert_int_equal(fr.hdr_len, 24);
	assert_int_equal(fr.data_len, 4096);

	fr = expect_accept(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 24), live);
	assert_int_equal(fr.data_len, 0);
}

static void accept_host_pdus(void **state)
{
	struct fq_tcp_rx_ctx pre = host_ctx(), live = host_ctx();
	struct fq_tcp_frame fr;

	(void)state;
	pre.ic_done = false;
	fr = expect_accept(mk_ch(FQ_TCP_ICRESP, 0, 128, 0, 128), pre);
	assert_int_equal(fr.hdr_len, 128);

	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 0, 24), live);
	assert_int_equal(fr.data_len, 0);
	fr = expect_accept(mk_ch(FQ_TCP_R2T, 0, 24, 0, 24), live);
	assert_int_equal(fr.data_len, 0);
	fr = expect_accept(mk_ch(FQ_TCP_C2H_DATA, FQ_TCP_F_DATA_LAST | FQ_TCP_F_DATA_SUCCESS, 24,
				 24, 24 + 100),
			   live);
	assert_int_equal(fr.data_len, 100);
	fr = expect_accept(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 24 + 24), live);
	assert_int_equal(fr.data_len, 24);
}

static void accept_with_digests(void **state)
{
	struct fq_tcp_rx_ctx ctx = target_ctx();
	struct fq_tcp_frame fr;

	(void)state;
	ctx.hdgst = true;
	ctx.ddgst = true;
	/* 72 header + 4 HDGST, then data, then 4 DDGST (§3.6.1 Fig. 16). */
	fr = expect_accept(
		mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_HDGST | FQ_TCP_F_DDGST, 72, 76, 76 + 1000 + 4),
		ctx);
	assert_true(fr.has_hdgst);
	assert_true(fr.has_ddgst);
	assert_int_equal(fr.hdr_len, 76);
	assert_int_equal(fr.data_len, 1000);

	/* A command without data carries HDGST only. */
	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_HDGST, 72, 0, 76), ctx);
	assert_int_equal(fr.data_len, 0);
	assert_false(fr.has_ddgst);

	fr = expect_accept(
		mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_HDGST | FQ_TCP_F_DDGST, 24, 28, 28 + 4096 + 4),
		ctx);
	assert_int_equal(fr.hdr_len, 28);
	assert_int_equal(fr.data_len, 4096);

	/* TermReq never carries digests, even when they were negotiated. */
	fr = expect_accept(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 24 + 8), ctx);
	assert_false(fr.has_hdgst);
	assert_int_equal(fr.data_len, 8);
}

static void accept_term_before_ic(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	/* A peer may give up during connection setup (§3.6.2.3). */
	t.ic_done = false;
	h.ic_done = false;
	expect_accept(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 24), t);
	expect_accept(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 24 + 24), h);
}

/* ---- type, direction and sequence ---- */

static void reject_unknown_type(void **state)
{
	static const uint8_t bad[] = {0x08, 0x0a, 0x0b, 0x7f, 0x80, 0xff};

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		expect_reject(mk_ch(bad[i], 0, 24, 0, 24), target_ctx(), FQ_TCP_FES_INVALID_HEADER,
			      FEI_TYPE);
		expect_reject(mk_ch(bad[i], 0, 24, 0, 24), host_ctx(), FQ_TCP_FES_INVALID_HEADER,
			      FEI_TYPE);
	}
}

static void reject_wrong_direction(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	/* Controller-to-host types arriving at the target. */
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 128, 0, 128), t, FQ_TCP_FES_INVALID_HEADER, FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 24), t, FQ_TCP_FES_INVALID_HEADER, FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 0, 24), t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 32), t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_R2T, 0, 24, 0, 24), t, FQ_TCP_FES_INVALID_HEADER, FEI_TYPE);
	/* Host-to-controller types arriving at the host. */
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 128, 0, 128), h, FQ_TCP_FES_INVALID_HEADER, FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 24), h, FQ_TCP_FES_INVALID_HEADER, FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_TYPE);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 32), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_TYPE);
}

static void reject_pdu_before_ic(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	t.ic_done = false;
	h.ic_done = false;
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72), t, FQ_TCP_FES_PDU_SEQUENCE, 0);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 32), t, FQ_TCP_FES_PDU_SEQUENCE, 0);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 0, 24), h, FQ_TCP_FES_PDU_SEQUENCE, 0);
	expect_reject(mk_ch(FQ_TCP_R2T, 0, 24, 0, 24), h, FQ_TCP_FES_PDU_SEQUENCE, 0);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 32), h, FQ_TCP_FES_PDU_SEQUENCE, 0);
}

static void reject_second_ic(void **state)
{
	(void)state;
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 128, 0, 128), target_ctx(), FQ_TCP_FES_PDU_SEQUENCE,
		      0);
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 128, 0, 128), host_ctx(), FQ_TCP_FES_PDU_SEQUENCE, 0);
}

/* ---- HLEN ---- */

static void reject_hlen_mismatch(void **state)
{
	struct fq_tcp_rx_ctx pre_t = target_ctx(), pre_h = host_ctx();

	(void)state;
	pre_t.ic_done = false;
	pre_h.ic_done = false;
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 127, 0, 128), pre_t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 24, 0, 128), pre_h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 24, 0, 72), target_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 76, 0, 76), target_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 28, 28, 40), target_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, 0, 0, 0, 24), target_ctx(), FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
	/* An oversized hlen must never reach the digest check (kernel CVE class). */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 255, 0, 255), host_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_R2T, 0, 72, 0, 72), host_ctx(), FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 8, 8, 16), host_ctx(), FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
	expect_reject(mk_ch(FQ_TCP_C2H_TERM, 0, 128, 0, 128), host_ctx(), FQ_TCP_FES_INVALID_HEADER,
		      FEI_HLEN);
}

/* ---- digest flags ---- */

static void reject_hdgst_flag_mismatch(void **state)
{
	struct fq_tcp_rx_ctx on = target_ctx(), off = target_ctx(), pre = target_ctx();

	(void)state;
	on.hdgst = true;
	pre.ic_done = false;
	/* Negotiated but missing. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72), on, FQ_TCP_FES_INVALID_HEADER,
		      FEI_FLAGS);
	/* Present but not negotiated. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_HDGST, 72, 0, 76), off,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
	/* ICReq and TermReq never carry HDGST (§3.6.2.2, §3.6.2.3). */
	expect_reject(mk_ch(FQ_TCP_ICREQ, FQ_TCP_F_HDGST, 128, 0, 128), pre,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, FQ_TCP_F_HDGST, 24, 0, 28), on,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
}

static void reject_ddgst_flag_mismatch(void **state)
{
	struct fq_tcp_rx_ctx off = target_ctx(), on = target_ctx(), h = host_ctx();

	(void)state;
	on.ddgst = true;
	h.ddgst = true;
	/* DDGST set although data digests were not negotiated. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_DDGST, 72, 72, 72 + 16 + 4), off,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
	/* DDGST on a PDU type that never carries data. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, FQ_TCP_F_DDGST, 24, 0, 24), h,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
	expect_reject(mk_ch(FQ_TCP_R2T, FQ_TCP_F_DDGST, 24, 0, 28), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_FLAGS);
	/* DDGST on a TermReq. */
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, FQ_TCP_F_DDGST, 24, 0, 32), on,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
	/* DDGST on a PDU whose PLEN leaves no room for data. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_DDGST, 72, 0, 72), on,
		      FQ_TCP_FES_INVALID_HEADER, FEI_FLAGS);
}

/* Regression: with DDGST negotiated, data without the DDGST flag was accepted. */
static void reject_data_without_ddgst_flag(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	t.ddgst = true;
	h.ddgst = true;
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + 512), t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_FLAGS);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 24 + 512), t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_FLAGS);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 24 + 512), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_FLAGS);
	/* Without data the flag stays clear, and TermReq data has no digest. */
	expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72), t);
	expect_accept(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 0, 24), h);
	expect_accept(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 48), h);
}

/* ---- PDO and PLEN ---- */

static void reject_pdo_wrong(void **state)
{
	struct fq_tcp_rx_ctx ctx = target_ctx(), dg = target_ctx();

	(void)state;
	dg.hdgst = true;
	/* Data present but PDO 0. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 72 + 64), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PDO);
	/* Padding between header and data: we advertised HPDA/CPDA 0. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 80, 80 + 64), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PDO);
	/* PDO inside the header. */
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 8, 24 + 64), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PDO);
	/* With HDGST, PDO must skip the digest too. */
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_HDGST, 24, 24, 28 + 64), dg,
		      FQ_TCP_FES_INVALID_HEADER, FEI_PDO);
	/* PDO set on a PDU without data. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PDO);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 24, 24), host_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_PDO);
}

static void reject_plen_too_short(void **state)
{
	struct fq_tcp_rx_ctx ctx = target_ctx(), hd = target_ctx(), dd = target_ctx();

	(void)state;
	hd.hdgst = true;
	dd.ddgst = true;
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 71), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 0, 0), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 0, 8), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 23), ctx, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	/* With HDGST the header is 4 bytes longer. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_HDGST, 72, 0, 75), hd,
		      FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	/* With DDGST, PLEN must leave room for at least one data byte and the digest. */
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_DDGST, 24, 24, 24 + 4), dd,
		      FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_DDGST, 24, 24, 24 + 3), dd,
		      FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_accept(mk_ch(FQ_TCP_H2C_DATA, FQ_TCP_F_DDGST, 24, 24, 24 + 5), dd);
}

static void reject_plen_too_long(void **state)
{
	struct fq_tcp_rx_ctx h = host_ctx();

	(void)state;
	/* Dataless PDU types with a PLEN that claims data. */
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 0, 28), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_RESP, 0, 24, 24, 25), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_R2T, 0, 24, 0, 0xffffffffu), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
}

static void reject_ic_plen(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	t.ic_done = false;
	h.ic_done = false;
	/* ICReq and ICResp are exactly 128 bytes (§3.6.2.2-3). */
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 128, 0, 127), t, FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 128, 0, 132), t, FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_ICREQ, 0, 128, 128, 256), t, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 128, 0, 0), h, FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 128, 0, 129), h, FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	/* PDO set on an IC PDU of the right length. */
	expect_reject(mk_ch(FQ_TCP_ICRESP, 0, 128, 128, 128), h, FQ_TCP_FES_INVALID_HEADER,
		      FEI_PDO);
}

static void reject_term_too_long(void **state)
{
	struct fq_tcp_frame fr;

	(void)state;
	/* TermReq data is at most 128 bytes of the offending header: PLEN <= 152. */
	fr = expect_accept(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 152), target_ctx());
	assert_int_equal(fr.data_len, FQ_TCP_TERM_MAX_DATA);
	fr = expect_accept(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 152), host_ctx());
	assert_int_equal(fr.data_len, FQ_TCP_TERM_MAX_DATA);
	expect_reject(mk_ch(FQ_TCP_H2C_TERM, 0, 24, 0, 153), target_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 153), host_ctx(), FQ_TCP_FES_INVALID_HEADER,
		      FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_C2H_TERM, 0, 24, 0, 0x80000000u), host_ctx(),
		      FQ_TCP_FES_INVALID_HEADER, FEI_PLEN);
}

/* ---- data limits ---- */

static void reject_incapsule_above_limit(void **state)
{
	struct fq_tcp_rx_ctx ctx = target_ctx(), dd = target_ctx();
	struct fq_tcp_frame fr;

	(void)state;
	dd.ddgst = true;
	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + MAX_ICDATA), ctx);
	assert_int_equal(fr.data_len, MAX_ICDATA);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + MAX_ICDATA + 1), ctx,
		      FQ_TCP_FES_DATA_LIMIT, FEI_PLEN);
	/* The digest does not count as data. */
	fr = expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_DDGST, 72, 72, 72 + MAX_ICDATA + 4),
			   dd);
	assert_int_equal(fr.data_len, MAX_ICDATA);
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, FQ_TCP_F_DDGST, 72, 72, 72 + MAX_ICDATA + 5), dd,
		      FQ_TCP_FES_DATA_LIMIT, FEI_PLEN);
	/* The in-capsule limit applies to commands, not to H2CData. */
	ctx.max_icdata = 0;
	expect_reject(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 73), ctx, FQ_TCP_FES_DATA_LIMIT,
		      FEI_PLEN);
	expect_accept(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 24 + 512), ctx);
}

static void reject_data_pdu_above_limit(void **state)
{
	struct fq_tcp_rx_ctx t = target_ctx(), h = host_ctx();

	(void)state;
	expect_accept(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 24 + MAX_DATA), t);
	expect_reject(mk_ch(FQ_TCP_H2C_DATA, 0, 24, 24, 24 + MAX_DATA + 1), t,
		      FQ_TCP_FES_DATA_LIMIT, FEI_PLEN);
	expect_accept(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 24 + MAX_DATA), h);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 24 + MAX_DATA + 1), h,
		      FQ_TCP_FES_DATA_LIMIT, FEI_PLEN);
	expect_reject(mk_ch(FQ_TCP_C2H_DATA, 0, 24, 24, 0xffffffffu), h, FQ_TCP_FES_DATA_LIMIT,
		      FEI_PLEN);
	/* The MAXH2CDATA limit does not apply to in-capsule data. */
	t.max_data = 0;
	t.max_icdata = 8192;
	expect_accept(mk_ch(FQ_TCP_CAPSULE_CMD, 0, 72, 72, 72 + 8192), t);
}

/* ---- header digest ---- */

static void hdgst_good_and_bad(void **state)
{
	uint8_t pdu[72 + 4];
	struct fq_tcp_err err = {0};
	uint32_t crc;

	(void)state;
	for (size_t i = 0; i < sizeof(pdu); i++)
		pdu[i] = (uint8_t)(i * 7 + 1);
	crc = fq_crc32c(pdu, 72);
	/* The digest goes on the wire least significant byte first. */
	for (int i = 0; i < 4; i++)
		pdu[72 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(fq_tcp_check_hdgst(pdu, 72, &err), 0);

	pdu[5] ^= 0x10; /* one header bit */
	assert_int_equal(fq_tcp_check_hdgst(pdu, 72, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_HDR_DIGEST);
	assert_int_equal(err.fei, 0);
	pdu[5] ^= 0x10;

	err.fes = 0;
	pdu[75] ^= 0x80; /* one digest bit */
	assert_int_equal(fq_tcp_check_hdgst(pdu, 72, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_HDR_DIGEST);
}

static void hdgst_wire_byte_order(void **state)
{
	/* RFC 3720 B.4: 32 zero bytes give CRC32C 0x8A9136AA, sent as AA 36 91 8A. */
	uint8_t hdr[32 + 4] = {0};
	struct fq_tcp_err err = {0};

	(void)state;
	hdr[32] = 0xaa;
	hdr[33] = 0x36;
	hdr[34] = 0x91;
	hdr[35] = 0x8a;
	assert_int_equal(fq_tcp_check_hdgst(hdr, 32, &err), 0);
	hdr[32] = 0x8a;
	hdr[35] = 0xaa;
	assert_int_equal(fq_tcp_check_hdgst(hdr, 32, &err), -EPROTO);
}

/* ---- ICReq / ICResp ---- */

static struct fq_tcp_icreq good_icreq(void)
{
	struct fq_tcp_icreq r;

	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_ICREQ, sizeof(r), false, false, 0);
	return r;
}

static void icreq_checks(void **state)
{
	struct fq_tcp_icreq r;
	struct fq_tcp_err err = {0};

	(void)state;
	for (uint8_t dg = 0; dg <= 3; dg++) {
		r = good_icreq();
		r.dgst = dg;
		r.maxr2t = 7;
		assert_int_equal(fq_tcp_check_icreq(&r, &err), 0);
	}
	r = good_icreq();
	r.pfv = 1;
	assert_int_equal(fq_tcp_check_icreq(&r, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_UNSUPPORTED_PARAM);
	assert_int_equal(err.fei, offsetof(struct fq_tcp_icreq, pfv));

	r = good_icreq();
	r.hpda = 1;
	assert_int_equal(fq_tcp_check_icreq(&r, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_UNSUPPORTED_PARAM);
	assert_int_equal(err.fei, 10);

	r = good_icreq();
	r.dgst = 0x04;
	assert_int_equal(fq_tcp_check_icreq(&r, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_INVALID_HEADER);
	assert_int_equal(err.fei, 11);
	r.dgst = 0x83;
	assert_int_equal(fq_tcp_check_icreq(&r, &err), -EPROTO);
	assert_int_equal(err.fei, 11);
}

static struct fq_tcp_icresp good_icresp(uint8_t dgst)
{
	struct fq_tcp_icresp r;

	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_ICRESP, sizeof(r), false, false, 0);
	r.dgst = dgst;
	r.maxh2cdata = 0x400000;
	return r;
}

static void expect_icresp_reject(const struct fq_tcp_icresp *r, uint8_t asked, uint32_t fei,
				 const char *field)
{
	struct fq_tcp_err err = {0};

	assert_int_equal(fq_tcp_check_icresp(r, asked, &err), -EPROTO);
	assert_int_equal(err.fes, FQ_TCP_FES_UNSUPPORTED_PARAM);
	assert_int_equal(err.fei, fei);
	/* The reason names the field, so logs say what the controller got wrong. */
	assert_non_null(strstr(err.reason, field));
}

static void icresp_checks(void **state)
{
	struct fq_tcp_icresp r;
	struct fq_tcp_err err = {0};

	(void)state;
	for (uint8_t dg = 0; dg <= 3; dg++) {
		r = good_icresp(dg);
		assert_int_equal(fq_tcp_check_icresp(&r, dg, &err), 0);
	}
	r = good_icresp(0);
	r.maxh2cdata = FQ_TCP_MIN_MAXH2CDATA;
	assert_int_equal(fq_tcp_check_icresp(&r, 0, &err), 0);

	r = good_icresp(0);
	r.pfv = 1;
	expect_icresp_reject(&r, 0, 8, "PFV");

	/* Digest bits must equal the request exactly, in either direction (B1). */
	r = good_icresp(FQ_TCP_DGST_HDR);
	expect_icresp_reject(&r, 0, 11, "digest");
	r = good_icresp(0);
	expect_icresp_reject(&r, FQ_TCP_DGST_HDR | FQ_TCP_DGST_DATA, 11, "digest");
	r = good_icresp(FQ_TCP_DGST_DATA);
	expect_icresp_reject(&r, FQ_TCP_DGST_HDR, 11, "digest");

	r = good_icresp(0);
	r.cpda = 1;
	expect_icresp_reject(&r, 0, 10, "CPDA");

	r = good_icresp(0);
	r.maxh2cdata = FQ_TCP_MIN_MAXH2CDATA - 4;
	expect_icresp_reject(&r, 0, 12, "MAXH2CDATA");
	r.maxh2cdata = 0;
	expect_icresp_reject(&r, 0, 12, "MAXH2CDATA");
	r.maxh2cdata = FQ_TCP_MIN_MAXH2CDATA + 2;
	expect_icresp_reject(&r, 0, 12, "MAXH2CDATA");
}

/* ---- data placement ---- */

static struct fq_tcp_data mk_data(uint8_t type, bool hdgst, bool ddgst, uint32_t datao,
				  uint32_t datal)
{
	struct fq_tcp_data d;

	memset(&d, 0, sizeof(d));
	fq_tcp_ch_init(&d.ch, type, sizeof(d), hdgst, ddgst, datal);
	d.cccid = 3;
	d.datao = datao;
	d.datal = datal;
	return d;
}

static void expect_range_reject(const struct fq_tcp_data *d, uint32_t off, uint32_t end,
				uint16_t fes, uint32_t fei)
{
	struct fq_tcp_err err = {0};

	assert_int_equal(fq_tcp_check_data_range(d, off, end, &err), -EPROTO);
	assert_int_equal(err.fes, fes);
	assert_int_equal(err.fei, fei);
}

static void data_range_accept(void **state)
{
	struct fq_tcp_err err = {0};
	struct fq_tcp_data d;

	(void)state;
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 0, 4096);
	assert_int_equal(fq_tcp_check_data_range(&d, 0, 8192, &err), 0);
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 4096, 4096);
	assert_int_equal(fq_tcp_check_data_range(&d, 4096, 8192, &err), 0);
	d = mk_data(FQ_TCP_C2H_DATA, true, true, 100, 28);
	assert_int_equal(fq_tcp_check_data_range(&d, 100, 128, &err), 0);
	d = mk_data(FQ_TCP_C2H_DATA, true, false, 0, 1);
	assert_int_equal(fq_tcp_check_data_range(&d, 0, 1, &err), 0);
}

static void data_range_reject(void **state)
{
	struct fq_tcp_data d;

	(void)state;
	/* DATAO must be the next byte the receiver expects (in-order data). */
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 4096, 4096);
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_DATA_OUT_OF_RANGE, 12);
	expect_range_reject(&d, 8192, 16384, FQ_TCP_FES_DATA_OUT_OF_RANGE, 12);

	/* Beyond the transfer: by one byte, and by offset wrap-around. */
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 4096, 4097);
	expect_range_reject(&d, 4096, 8192, FQ_TCP_FES_DATA_OUT_OF_RANGE, 16);
	d = mk_data(FQ_TCP_C2H_DATA, false, false, 0, 8192);
	expect_range_reject(&d, 0, 4096, FQ_TCP_FES_DATA_OUT_OF_RANGE, 16);
	d = mk_data(FQ_TCP_C2H_DATA, false, false, 0xfffff000u, 0x2000);
	expect_range_reject(&d, 0xfffff000u, 0xffffffffu, FQ_TCP_FES_DATA_OUT_OF_RANGE, 16);

	/* DATAL 0 is never valid. */
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 0, 0);
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);

	/* DATAL must equal the data PLEN frames. */
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 0, 512);
	d.datal = 511;
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);
	d.datal = 513;
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);
	/* ... counting both digests. */
	d = mk_data(FQ_TCP_C2H_DATA, true, true, 0, 512);
	d.datal = 516;
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);
	d.datal = 520;
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);
}

/*
 * Regression: a data PDU framed without data (PDO 0, PLEN == HLEN) whose
 * DATAL equalled PLEN passed the DATAL check, so the receiver would treat
 * the next PDU's bytes as data.
 */
static void data_range_no_data_section(void **state)
{
	struct fq_tcp_data d;

	(void)state;
	d = mk_data(FQ_TCP_H2C_DATA, false, false, 0, 0);
	d.datal = sizeof(d);
	expect_range_reject(&d, 0, 8192, FQ_TCP_FES_INVALID_HEADER, 16);
	/* PDO beyond PLEN must not wrap into a huge data length. */
	d = mk_data(FQ_TCP_H2C_DATA, true, false, 0, 0);
	d.ch.pdo = 28;
	d.ch.plen = 26;
	d.datal = 0xfffffffeu;
	expect_range_reject(&d, 0, 0xffffffffu, FQ_TCP_FES_INVALID_HEADER, 16);
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(fq_tcp_pdu_name(FQ_TCP_ICREQ), "ICReq");
	assert_string_equal(fq_tcp_pdu_name(FQ_TCP_R2T), "R2T");
	assert_string_equal(fq_tcp_pdu_name(0x08), "unknown");
	assert_string_equal(fq_tcp_pdu_name(0xff), "unknown");
	assert_string_equal(fq_tcp_fes_name(FQ_TCP_FES_DATA_LIMIT), "data transfer limit exceeded");
	assert_string_equal(fq_tcp_fes_name(0x77), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accept_target_pdus),
		cmocka_unit_test(accept_host_pdus),
		cmocka_unit_test(accept_with_digests),
		cmocka_unit_test(accept_term_before_ic),
		cmocka_unit_test(reject_unknown_type),
		cmocka_unit_test(reject_wrong_direction),
		cmocka_unit_test(reject_pdu_before_ic),
		cmocka_unit_test(reject_second_ic),
		cmocka_unit_test(reject_hlen_mismatch),
		cmocka_unit_test(reject_hdgst_flag_mismatch),
		cmocka_unit_test(reject_ddgst_flag_mismatch),
		cmocka_unit_test(reject_data_without_ddgst_flag),
		cmocka_unit_test(reject_pdo_wrong),
		cmocka_unit_test(reject_plen_too_short),
		cmocka_unit_test(reject_plen_too_long),
		cmocka_unit_test(reject_ic_plen),
		cmocka_unit_test(reject_term_too_long),
		cmocka_unit_test(reject_incapsule_above_limit),
		cmocka_unit_test(reject_data_pdu_above_limit),
		cmocka_unit_test(hdgst_good_and_bad),
		cmocka_unit_test(hdgst_wire_byte_order),
		cmocka_unit_test(icreq_checks),
		cmocka_unit_test(icresp_checks),
		cmocka_unit_test(data_range_accept),
		cmocka_unit_test(data_range_reject),
		cmocka_unit_test(data_range_no_data_section),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
