/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the NVMe/TCP header validator (src/proto/tcp_decode.c).
 *
 * The input is a byte stream as a peer would send it. It is cut into PDUs
 * the way the connection does: read the 8-byte common header, validate it,
 * then read the rest of the header (plus HDGST) and check the typed views.
 * Every header is copied into a buffer of exactly the size the decoder said
 * to read, so AddressSanitizer catches any read past what was validated.
 * Beyond "no crash", the harness checks invariants the connection relies on
 * and aborts when one breaks:
 *   - a rejected header always carries a known FES and a reason;
 *   - an accepted frame accounts for exactly PLEN bytes and respects the
 *     negotiated limits;
 *   - a data PDU that also passes fq_tcp_check_data_range has DATAL equal to
 *     the data length the frame reads, and lies inside the transfer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/status.h"
#include "proto/tcp_decode.h"

#define MAX_PDUS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_err(const struct fq_tcp_err *err)
{
	check(err->fes >= FQ_TCP_FES_INVALID_HEADER && err->fes <= FQ_TCP_FES_UNSUPPORTED_PARAM);
	check(err->reason != NULL && err->reason[0] != '\0');
	check(strcmp(fq_tcp_fes_name(err->fes), "unknown") != 0);
}

static void check_frame(const struct fq_tcp_ch *ch, const struct fq_tcp_frame *fr,
			const struct fq_tcp_rx_ctx *ctx)
{
	uint32_t dg = fr->has_ddgst ? FQ_TCP_DIGEST_LEN : 0;

	check(fr->type == ch->type && fr->plen == ch->plen && fr->hlen == ch->hlen);
	check(fr->hdr_len >= sizeof(struct fq_tcp_ch) && fr->hdr_len <= FQ_TCP_MAX_HDR + 4);
	check((uint64_t)fr->hdr_len + fr->pad_len + fr->data_len + dg == ch->plen);
	check(!fr->has_ddgst || fr->data_len > 0);
	/* Negotiated data digests cover every data section but TermReq's. */
	if (ctx->ddgst && fr->data_len > 0 && ch->type != FQ_TCP_H2C_TERM &&
	    ch->type != FQ_TCP_C2H_TERM)
		check(fr->has_ddgst);
	check(fr->has_hdgst == ctx->hdgst || ch->type <= FQ_TCP_C2H_TERM);
	if (ch->type == FQ_TCP_CAPSULE_CMD)
		check(fr->data_len <= ctx->max_icdata);
	else if (ch->type == FQ_TCP_H2C_TERM || ch->type == FQ_TCP_C2H_TERM)
		check(fr->data_len <= FQ_TCP_TERM_MAX_DATA);
	else
		check(fr->data_len <= ctx->max_data);
	/* Data starts at PDO; no data means no PDO (TermReq data has no PDO). */
	if (ch->type != FQ_TCP_H2C_TERM && ch->type != FQ_TCP_C2H_TERM)
		check(fr->data_len == 0 ? ch->pdo == 0 : ch->pdo == fr->hdr_len + fr->pad_len);
}

/* Data placement against a few transfer windows, as target and host do. */
static void check_data_pdu(const struct fq_tcp_data *d, const struct fq_tcp_frame *fr,
			   const uint8_t *payload)
{
	const uint32_t windows[][2] = {
		{0, 4096},
		{0, 0xffffffffu},
		{d->datao, d->datao + 8192u},
		{d->datao, 0xffffffffu},
		{4096, 8192},
	};
	struct fq_tcp_err err;

	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		if (fq_tcp_check_data_range(d, windows[i][0], windows[i][1], &err)) {
			check_err(&err);
			continue;
		}
		check(d->datal == fr->data_len && d->datal > 0);
		check(d->datao == windows[i][0]);
		check((uint64_t)d->datao + d->datal <= windows[i][1]);
	}
	/* The data digest covers exactly the framed data section. */
	if (fr->has_ddgst)
		(void)fq_crc32c(payload + fr->hdr_len + fr->pad_len, fr->data_len);
}

/* The typed checks a receiver runs once the whole header is in. */
static void check_typed(const uint8_t *hdr, const struct fq_tcp_frame *fr,
			const struct fq_tcp_rx_ctx *ctx, const uint8_t *payload)
{
	struct fq_tcp_err err;
	char buf[96];
	int rc = 0;

	switch (fr->type) {
	case FQ_TCP_ICREQ:
		rc = fq_tcp_check_icreq((const struct fq_tcp_icreq *)hdr, &err);
		break;
	case FQ_TCP_ICRESP:
		rc = fq_tcp_check_icresp((const struct fq_tcp_icresp *)hdr,
					 (ctx->hdgst ? FQ_TCP_DGST_HDR : 0) |
						 (ctx->ddgst ? FQ_TCP_DGST_DATA : 0),
					 &err);
		break;
	case FQ_TCP_H2C_DATA:
	case FQ_TCP_C2H_DATA:
		check_data_pdu((const struct fq_tcp_data *)hdr, fr, payload);
		break;
	case FQ_TCP_CAPSULE_RESP:
		fq_status_str(((const struct fq_tcp_rsp *)hdr)->cqe.status, buf, sizeof(buf));
		check(strlen(buf) < sizeof(buf));
		break;
	case FQ_TCP_H2C_TERM:
	case FQ_TCP_C2H_TERM:
		(void)fq_tcp_fes_name(((const struct fq_tcp_term *)hdr)->fes);
		(void)fq_tcp_term_fei((const struct fq_tcp_term *)hdr);
		break;
	default:
		break;
	}
	if (rc) {
		check(rc == -EPROTO);
		check_err(&err);
	}
}

/* Walk the stream as one receiver would; returns when the stream ends or fails. */
static void run_stream(const uint8_t *data, size_t size, struct fq_tcp_rx_ctx ctx)
{
	size_t off = 0;

	for (int n = 0; n < MAX_PDUS && size - off >= sizeof(struct fq_tcp_ch); n++) {
		struct fq_tcp_ch ch;
		struct fq_tcp_frame fr;
		struct fq_tcp_err err;
		uint8_t *hdr;
		int rc;

		memcpy(&ch, data + off, sizeof(ch));
		(void)fq_tcp_pdu_name(ch.type);
		rc = fq_tcp_decode_ch(&ch, &ctx, &fr, &err);
		if (rc) {
			check(rc == -EPROTO);
			check_err(&err);
			return; /* the connection would send a TermReq and close */
		}
		check_frame(&ch, &fr, &ctx);
		if (size - off < fr.plen)
			return; /* partial PDU: the connection waits for more bytes */

		/* Exactly the validated header length, so ASan sees overreads. */
		hdr = malloc(fr.hdr_len);
		check(hdr != NULL);
		memcpy(hdr, data + off, fr.hdr_len);
		rc = 0;
		if (fr.has_hdgst) {
			rc = fq_tcp_check_hdgst(hdr, fr.hlen, &err);
			if (rc) {
				check(rc == -EPROTO && err.fes == FQ_TCP_FES_HDR_DIGEST);
				check_err(&err);
			}
		}
		if (rc == 0)
			check_typed(hdr, &fr, &ctx, data + off);
		free(hdr);
		if (rc)
			return;
		if (fr.type == FQ_TCP_ICREQ || fr.type == FQ_TCP_ICRESP)
			ctx.ic_done = true;
		if (fr.type == FQ_TCP_H2C_TERM || fr.type == FQ_TCP_C2H_TERM)
			return; /* nothing follows a TermReq */
		off += fr.plen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Both sides, before and after IC, with and without digests, two limits. */
	for (unsigned v = 0; v < 32; v++) {
		struct fq_tcp_rx_ctx ctx = {
			.is_target = v & 1,
			.ic_done = v & 2,
			.hdgst = v & 4,
			.ddgst = v & 8,
			.max_data = v & 16 ? 4096 : 65536,
			.max_icdata = v & 16 ? 0 : 8192,
		};

		run_stream(data, size, ctx);
	}
	return 0;
}
