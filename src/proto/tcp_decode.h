/* SPDX-License-Identifier: MIT */
/*
 * Pure NVMe/TCP PDU header validation. No I/O, no allocation, no state: the
 * caller passes what was negotiated and which side it is, and gets back
 * either the framing of the PDU or the fatal error status (FES) and field
 * offset (FEI) to put in a TermReq (NVMe/TCP 1.0 §3.6.2.3, §3.6.3).
 */
#ifndef FQ_PROTO_TCP_DECODE_H
#define FQ_PROTO_TCP_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp.h"

/* What the receiver knows when a header arrives. */
struct fq_tcp_rx_ctx {
	bool is_target;	     /* true: we receive host-to-controller PDUs */
	bool ic_done;	     /* ICReq/ICResp exchange finished */
	bool hdgst;	     /* negotiated header digest */
	bool ddgst;	     /* negotiated data digest */
	uint32_t max_data;   /* largest data section accepted in one PDU */
	uint32_t max_icdata; /* target: in-capsule data limit for CapsuleCmd */
	/*
	 * PDU data alignment we asked the peer for (HPDA in the ICReq at the
	 * host, CPDA in the ICResp at the target), 0's based dwords: data
	 * starts at the first multiple of (pda + 1) * 4 bytes after the
	 * header, the gap is padding (§3.6.1, Fig. 15 PDO).
	 */
	uint8_t pda;
};

/* The framing of one PDU, derived from a validated common header. */
struct fq_tcp_frame {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;	   /* fixed header length (without HDGST) */
	uint32_t hdr_len;  /* hlen + HDGST when present: bytes to read first */
	uint32_t pad_len;  /* bytes between header (+digest) and data (PDO gap) */
	uint32_t data_len; /* data bytes, without DDGST */
	bool has_hdgst;
	bool has_ddgst;
	uint32_t plen;
};

/* A fatal protocol error: what went wrong, for the TermReq and the log. */
struct fq_tcp_err {
	uint16_t fes;
	uint32_t fei;
	const char *reason;
};

/*
 * Validate the 8-byte common header @ch against @ctx. On success fills @fr
 * and returns 0. On a violation fills @err and returns -EPROTO.
 */
int fq_tcp_decode_ch(const struct fq_tcp_ch *ch, const struct fq_tcp_rx_ctx *ctx,
		     struct fq_tcp_frame *fr, struct fq_tcp_err *err);

/*
 * Check the header digest of a complete header (hlen bytes followed by the
 * 4-byte HDGST). Returns 0 or -EPROTO with FES Header Digest Error.
 */
int fq_tcp_check_hdgst(const void *hdr, uint8_t hlen, struct fq_tcp_err *err);

/* Validate an ICReq (target side). Returns 0 or -EPROTO. */
int fq_tcp_check_icreq(const struct fq_tcp_icreq *req, struct fq_tcp_err *err);

/*
 * Validate an ICResp against what the host asked for (host side, B1).
 * Returns 0 or -EPROTO; @err->reason names the field.
 */
int fq_tcp_check_icresp(const struct fq_tcp_icresp *rsp, uint8_t dgst_requested,
			struct fq_tcp_err *err);

/*
 * Validate the placement of a data PDU (H2CData at the target, C2HData at
 * the host) against the transfer it belongs to: @expected_off is the next
 * byte the receiver expects, @xfer_end the end of the data the command (or
 * the R2T) allows. Returns 0 or -EPROTO (Data Transfer Out of Range).
 */
int fq_tcp_check_data_range(const struct fq_tcp_data *d, uint32_t expected_off, uint32_t xfer_end,
			    struct fq_tcp_err *err);

/* Human-readable names for logs. */
const char *fq_tcp_pdu_name(uint8_t type);
const char *fq_tcp_fes_name(uint16_t fes);

/* Encoders: fill a header for sending. They never fail. */
void fq_tcp_ch_init(struct fq_tcp_ch *ch, uint8_t type, uint8_t hlen, bool hdgst, bool ddgst,
		    uint32_t data_len);
void fq_tcp_term_init(struct fq_tcp_term *t, bool to_host, uint16_t fes, uint32_t fei,
		      uint32_t data_len);

#endif
