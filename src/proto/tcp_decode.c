/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDU header validation (NVMe/TCP 1.0 §3.6). Every field a peer
 * controls is checked here before any connection state changes; every reject
 * path names the FES and the byte offset of the offending field (FEI).
 */
#include "tcp_decode.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"

/* Per-type facts, NVMe/TCP 1.0 §3.6.2: fixed header length and direction. */
struct pdu_desc {
	uint8_t hlen;
	uint8_t dir; /* DIR_H2C, DIR_C2H */
	bool data;   /* may carry a data section */
};
#define DIR_H2C 1
#define DIR_C2H 2

static const struct pdu_desc pdu_table[FQ_TCP_PDU_TYPE_MAX] = {
	[FQ_TCP_ICREQ] = {128, DIR_H2C, false},	    [FQ_TCP_ICRESP] = {128, DIR_C2H, false},
	[FQ_TCP_H2C_TERM] = {24, DIR_H2C, true},    [FQ_TCP_C2H_TERM] = {24, DIR_C2H, true},
	[FQ_TCP_CAPSULE_CMD] = {72, DIR_H2C, true}, [FQ_TCP_CAPSULE_RESP] = {24, DIR_C2H, false},
	[FQ_TCP_H2C_DATA] = {24, DIR_H2C, true},    [FQ_TCP_C2H_DATA] = {24, DIR_C2H, true},
	[FQ_TCP_R2T] = {24, DIR_C2H, false},
};

static int fail(struct fq_tcp_err *err, uint16_t fes, uint32_t fei, const char *why)
{
	err->fes = fes;
	err->fei = fei;
	err->reason = why;
	return -EPROTO;
}

static bool is_term(uint8_t type)
{
	return type == FQ_TCP_H2C_TERM || type == FQ_TCP_C2H_TERM;
}

/* Which types may arrive in the current phase (sequence rules, §3.3). */
static int check_phase(uint8_t type, const struct fq_tcp_rx_ctx *ctx, struct fq_tcp_err *err)
{
	uint8_t ic = ctx->is_target ? FQ_TCP_ICREQ : FQ_TCP_ICRESP;

	if (is_term(type))
		return 0;
	if (!ctx->ic_done && type != ic)
		return fail(err, FQ_TCP_FES_PDU_SEQUENCE, 0,
			    "PDU before connection initialization");
	if (ctx->ic_done && type == ic)
		return fail(err, FQ_TCP_FES_PDU_SEQUENCE, 0, "second initialize connection PDU");
	return 0;
}

/* Digest flags must match what was negotiated (§3.6.1: HDGSTF/DDGSTF). */
static int check_digest_flags(const struct fq_tcp_ch *ch, const struct pdu_desc *d,
			      const struct fq_tcp_rx_ctx *ctx, struct fq_tcp_err *err)
{
	bool want_h, got_h = ch->flags & FQ_TCP_F_HDGST;
	bool got_d = ch->flags & FQ_TCP_F_DDGST;

	/* IC and TermReq PDUs never carry digests (§3.6.2.2, §3.6.2.3). */
	want_h = ctx->hdgst && ch->type != FQ_TCP_ICREQ && ch->type != FQ_TCP_ICRESP &&
		 !is_term(ch->type);
	if (got_h != want_h)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 1, "header digest flag mismatch");
	if (got_d && (!ctx->ddgst || !d->data || is_term(ch->type)))
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 1, "unexpected data digest flag");
	return 0;
}

/* PDO and PLEN describe header, padding, data and digests consistently. */
static int check_layout(const struct fq_tcp_ch *ch, const struct fq_tcp_rx_ctx *ctx,
			struct fq_tcp_frame *fr, struct fq_tcp_err *err)
{
	uint32_t hdr = fr->hdr_len, data, align;

	if (ch->plen < hdr)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 4, "PLEN shorter than header");
	if (ch->plen == hdr) {
		if (ch->pdo != 0)
			return fail(err, FQ_TCP_FES_INVALID_HEADER, 3, "PDO set without data");
		if (fr->has_ddgst)
			return fail(err, FQ_TCP_FES_INVALID_HEADER, 1, "data digest without data");
		return 0;
	}
	if (is_term(ch->type)) {
		/* TermReq data is the offending header, no PDO (§3.6.2.3). */
		fr->data_len = ch->plen - hdr;
		if (fr->data_len > FQ_TCP_TERM_MAX_DATA)
			return fail(err, FQ_TCP_FES_INVALID_HEADER, 4, "TermReq too long");
		return 0;
	}
	if (!pdu_table[ch->type].data)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 4,
			    "PLEN includes data on a dataless PDU");
	/*
	 * Data starts at the first multiple of the alignment we asked for at
	 * or after the header; with PDA 0 that is right after it (B2).
	 */
	align = ((uint32_t)ctx->pda + 1) * 4;
	if (ch->pdo != (hdr + align - 1) / align * align)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 3, "PDO does not follow the header");
	if (ch->plen <= ch->pdo)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 4, "PLEN ends before the data");
	fr->pad_len = ch->pdo - hdr;
	hdr = ch->pdo;
	/*
	 * NVMe/TCP 1.0 §3.6.1: with data digests negotiated, every PDU that
	 * carries data sets DDGSTF (the Linux host checks this too, B2).
	 */
	if (ctx->ddgst && !fr->has_ddgst)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 1, "data digest flag missing");
	if (ch->plen - hdr < (fr->has_ddgst ? FQ_TCP_DIGEST_LEN + 1u : 1u))
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 4, "PLEN too short for data digest");
	data = ch->plen - hdr - (fr->has_ddgst ? FQ_TCP_DIGEST_LEN : 0);
	if (ch->type == FQ_TCP_CAPSULE_CMD && data > ctx->max_icdata)
		return fail(err, FQ_TCP_FES_DATA_LIMIT, 4, "in-capsule data above IOCCSZ");
	if (ch->type != FQ_TCP_CAPSULE_CMD && data > ctx->max_data)
		return fail(err, FQ_TCP_FES_DATA_LIMIT, 4, "data PDU above MAXH2CDATA");
	fr->data_len = data;
	return 0;
}

int fq_tcp_decode_ch(const struct fq_tcp_ch *ch, const struct fq_tcp_rx_ctx *ctx,
		     struct fq_tcp_frame *fr, struct fq_tcp_err *err)
{
	const struct pdu_desc *d;
	int rc;

	memset(fr, 0, sizeof(*fr));
	if (ch->type >= FQ_TCP_PDU_TYPE_MAX || pdu_table[ch->type].hlen == 0)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 0, "unknown PDU type");
	d = &pdu_table[ch->type];
	if (d->dir != (ctx->is_target ? DIR_H2C : DIR_C2H))
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 0,
			    "PDU type sent in the wrong direction");
	rc = check_phase(ch->type, ctx, err);
	if (rc)
		return rc;
	if (ch->hlen != d->hlen)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 2, "HLEN does not match PDU type");
	rc = check_digest_flags(ch, d, ctx, err);
	if (rc)
		return rc;
	fr->type = ch->type;
	fr->flags = ch->flags;
	fr->hlen = ch->hlen;
	fr->has_hdgst = ch->flags & FQ_TCP_F_HDGST;
	fr->has_ddgst = ch->flags & FQ_TCP_F_DDGST;
	fr->hdr_len = ch->hlen + (fr->has_hdgst ? FQ_TCP_DIGEST_LEN : 0);
	fr->plen = ch->plen;
	if ((ch->type == FQ_TCP_ICREQ || ch->type == FQ_TCP_ICRESP) && ch->plen != 128)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 4, "IC PDU length is not 128");
	return check_layout(ch, ctx, fr, err);
}

int fq_tcp_check_hdgst(const void *hdr, uint8_t hlen, struct fq_tcp_err *err)
{
	uint32_t want, got;

	memcpy(&got, (const uint8_t *)hdr + hlen, sizeof(got));
	want = fq_crc32c(hdr, hlen);
	if (want != got)
		return fail(err, FQ_TCP_FES_HDR_DIGEST, 0, "header digest mismatch");
	return 0;
}

int fq_tcp_check_icreq(const struct fq_tcp_icreq *req, struct fq_tcp_err *err)
{
	if (req->pfv != 0)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 8, "unsupported PDU format version");
	/* We place C2H data right after the header; honour only HPDA 0 (B1). */
	if (req->hpda != 0)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 10, "unsupported HPDA");
	if (req->dgst & ~(FQ_TCP_DGST_HDR | FQ_TCP_DGST_DATA))
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 11, "reserved digest bits set");
	return 0;
}

int fq_tcp_check_icresp(const struct fq_tcp_icresp *rsp, uint8_t dgst_requested,
			struct fq_tcp_err *err)
{
	if (rsp->pfv != 0)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 8, "ICResp PFV is not 0");
	if (rsp->dgst != dgst_requested)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 11,
			    "ICResp digest bits differ from the request");
	if (rsp->cpda != 0)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 10, "ICResp CPDA is not 0");
	if (rsp->maxh2cdata < FQ_TCP_MIN_MAXH2CDATA || rsp->maxh2cdata % 4)
		return fail(err, FQ_TCP_FES_UNSUPPORTED_PARAM, 12,
			    "ICResp MAXH2CDATA below 4096 or not a multiple of 4");
	return 0;
}

/*
 * Bytes of data the common header frames: PLEN less PDO and the data digest.
 * A PDO of 0 means the PDU has no data section at all (§3.6.1), whatever
 * PLEN says, so DATAL can never match it.
 */
static uint32_t framed_data_len(const struct fq_tcp_ch *ch)
{
	uint32_t dg = ch->flags & FQ_TCP_F_DDGST ? FQ_TCP_DIGEST_LEN : 0;

	if (ch->pdo == 0 || ch->pdo > ch->plen || ch->plen - ch->pdo < dg)
		return 0;
	return ch->plen - ch->pdo - dg;
}

int fq_tcp_check_data_range(const struct fq_tcp_data *d, uint32_t expected_off, uint32_t xfer_end,
			    struct fq_tcp_err *err)
{
	if (d->datal == 0)
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 16, "data PDU with DATAL 0");
	if (d->datao != expected_off)
		return fail(err, FQ_TCP_FES_DATA_OUT_OF_RANGE, 12, "DATAO is not the next offset");
	if (d->datal > xfer_end || d->datao > xfer_end - d->datal)
		return fail(err, FQ_TCP_FES_DATA_OUT_OF_RANGE, 16, "data beyond the transfer");
	if (d->datal != framed_data_len(&d->ch))
		return fail(err, FQ_TCP_FES_INVALID_HEADER, 16, "DATAL does not match PLEN");
	return 0;
}

const char *fq_tcp_pdu_name(uint8_t type)
{
	static const char *const names[FQ_TCP_PDU_TYPE_MAX] = {
		"ICReq",       "ICResp",  "H2CTermReq", "C2HTermReq", "CapsuleCmd",
		"CapsuleResp", "H2CData", "C2HData",	NULL,	      "R2T",
	};

	if (type < FQ_TCP_PDU_TYPE_MAX && names[type])
		return names[type];
	return "unknown";
}

const char *fq_tcp_fes_name(uint16_t fes)
{
	switch (fes) {
	case FQ_TCP_FES_INVALID_HEADER:
		return "invalid PDU header field";
	case FQ_TCP_FES_PDU_SEQUENCE:
		return "PDU sequence error";
	case FQ_TCP_FES_HDR_DIGEST:
		return "header digest error";
	case FQ_TCP_FES_DATA_OUT_OF_RANGE:
		return "data transfer out of range";
	case FQ_TCP_FES_DATA_LIMIT:
		return "data transfer limit exceeded";
	case FQ_TCP_FES_UNSUPPORTED_PARAM:
		return "unsupported parameter";
	default:
		return "unknown";
	}
}

void fq_tcp_ch_init(struct fq_tcp_ch *ch, uint8_t type, uint8_t hlen, bool hdgst, bool ddgst,
		    uint32_t data_len)
{
	uint32_t hdr = hlen + (hdgst ? FQ_TCP_DIGEST_LEN : 0);

	ch->type = type;
	ch->flags = (hdgst ? FQ_TCP_F_HDGST : 0) | (ddgst && data_len ? FQ_TCP_F_DDGST : 0);
	ch->hlen = hlen;
	ch->pdo = data_len ? (uint8_t)hdr : 0;
	ch->plen = hdr + data_len + (ddgst && data_len ? FQ_TCP_DIGEST_LEN : 0);
}

void fq_tcp_term_init(struct fq_tcp_term *t, bool to_host, uint16_t fes, uint32_t fei,
		      uint32_t data_len)
{
	memset(t, 0, sizeof(*t));
	t->ch.type = to_host ? FQ_TCP_C2H_TERM : FQ_TCP_H2C_TERM;
	t->ch.hlen = sizeof(*t);
	t->ch.plen = sizeof(*t) + data_len;
	t->fes = fes;
	fq_tcp_term_set_fei(t, fei);
}
