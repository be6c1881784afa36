/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP receive framer, one for both roles (NVMe/TCP 1.0 §3.6).
 *
 * It is fed the byte stream in pieces of any size (one byte at a time or
 * many PDUs at once) and cuts it into PDUs: common header, PDU-specific
 * header (+HDGST), padding up to PDO, data (+DDGST). The common header is
 * checked by fq_tcp_decode_ch() against the role and what was negotiated
 * (struct fq_tcp_rx_ctx), the header digest by fq_tcp_check_hdgst(). The
 * role gets each whole header through a callback and says where the data
 * goes: into its own buffers (no intermediate copy), nowhere (discard), or
 * in place when the data already sits in the buffer being fed. No I/O and no
 * allocation happen here, so it is tested and fuzzed without sockets.
 */
#ifndef FQ_PROTO_TCP_RX_H
#define FQ_PROTO_TCP_RX_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tcp_build.h"
#include "tcp_decode.h"

struct fq_tcp_rx;

/* What the framer reports; a role implements these. */
struct fq_tcp_rx_ops {
	/*
	 * A whole header whose digest checked out: fq_tcp_rx_hdr() and
	 * fq_tcp_rx_frame() describe it. @rest/@rest_len are the bytes that
	 * follow it in the buffer being fed (the data, if it is all there).
	 * If the PDU carries data the role calls fq_tcp_rx_set_dst() or
	 * fq_tcp_rx_set_buf() here; otherwise the data is discarded.
	 * Return 0 to go on, anything else to stop the feed (the role failed
	 * the connection; the value is what fq_tcp_rx_feed() returns).
	 */
	int (*header)(void *arg, struct fq_tcp_rx *rx, const uint8_t *rest, size_t rest_len);
	/*
	 * The data section (and DDGST) of the current PDU is complete.
	 * @digest_ok is false when the data digest did not match (the
	 * command fails, the stream goes on, §3.6.1.1); discarded data is
	 * not checked. Same return convention as @header.
	 */
	int (*data_done)(void *arg, struct fq_tcp_rx *rx, bool digest_ok);
	/*
	 * The stream broke a framing rule (bad common header, header digest):
	 * @err names FES/FEI, @hdr/@hdr_len are the header bytes to echo in
	 * the TermReq. The framer stays failed until fq_tcp_rx_reset().
	 */
	void (*error)(void *arg, const struct fq_tcp_err *err, const void *hdr, uint32_t hdr_len);
};

enum fq_tcp_rx_state {
	FQ_TCP_RX_CH = 0, /* collecting the 8-byte common header */
	FQ_TCP_RX_HDR,	  /* rest of the header (+HDGST) */
	FQ_TCP_RX_PAD,	  /* bytes between the header and PDO */
	FQ_TCP_RX_DATA,	  /* data section */
	FQ_TCP_RX_DDGST,  /* data digest */
	FQ_TCP_RX_FAILED, /* a framing error or a role stopped: no more input */
};

struct fq_tcp_rx {
	struct fq_tcp_rx_ctx ctx; /* role, phase, digests, limits: the role updates it */
	const struct fq_tcp_rx_ops *ops;
	void *arg;
	enum fq_tcp_rx_state state;
	uint32_t have; /* header or digest bytes collected */
	uint32_t left; /* pad or data bytes still to come */
	uint32_t crc;
	bool discard;		 /* data goes nowhere */
	bool pause;		 /* fq_tcp_rx_pause(): stop at the next PDU boundary */
	const struct iovec *dst; /* where the data goes */
	int dst_cnt;
	uint32_t dst_off; /* byte position in dst of the next data byte */
	struct iovec flat;
	struct fq_tcp_frame fr;
	uint8_t ddgst[FQ_TCP_DIGEST_LEN];
	alignas(8) uint8_t hdr[FQ_TCP_MAX_HDR + FQ_TCP_DIGEST_LEN];
};

/* Set up for a new stream. @ctx gives the role and the limits. */
void fq_tcp_rx_init(struct fq_tcp_rx *rx, const struct fq_tcp_rx_ctx *ctx,
		    const struct fq_tcp_rx_ops *ops, void *arg);

/* Start over at a PDU boundary (a new connection on the same object). */
void fq_tcp_rx_reset(struct fq_tcp_rx *rx);

/*
 * Consume @len bytes. Returns 0 when all were consumed, the nonzero value a
 * callback returned, or -EPROTO after a framing error (reported through
 * ops->error first). A failed framer refuses input with -EPROTO.
 */
int fq_tcp_rx_feed(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len);

/*
 * As fq_tcp_rx_feed(), but once the role has called fq_tcp_rx_pause() (from
 * a callback) the feed stops at the end of that PDU, ready for the next one:
 * a receive budget, so one connection's burst of commands does not hold up
 * the others on its thread. *@used gets the bytes consumed; feed the rest
 * later. The pause is cleared when the call returns.
 */
int fq_tcp_rx_feed_some(struct fq_tcp_rx *rx, const uint8_t *buf, size_t len, size_t *used);

static inline void fq_tcp_rx_pause(struct fq_tcp_rx *rx)
{
	rx->pause = true;
}

/* The current header (valid from the header callback to the next PDU). */
static inline const void *fq_tcp_rx_hdr(const struct fq_tcp_rx *rx)
{
	return rx->hdr;
}
static inline const struct fq_tcp_frame *fq_tcp_rx_frame(const struct fq_tcp_rx *rx)
{
	return &rx->fr;
}
static inline uint8_t fq_tcp_rx_type(const struct fq_tcp_rx *rx)
{
	return rx->fr.type;
}

/*
 * What the current PDU is, whatever the direction: the decoder admits only
 * the types the role may receive, so a kind names one type per role.
 */
enum fq_tcp_pdu_kind {
	FQ_TCP_KIND_IC,	  /* ICReq at the target, ICResp at the host */
	FQ_TCP_KIND_TERM, /* H2CTermReq at the target, C2HTermReq at the host */
	FQ_TCP_KIND_CMD,  /* CapsuleCmd (target) */
	FQ_TCP_KIND_RSP,  /* CapsuleResp (host) */
	FQ_TCP_KIND_DATA, /* H2CData at the target, C2HData at the host */
	FQ_TCP_KIND_R2T,  /* R2T (host) */
	FQ_TCP_KIND_OTHER,
};
enum fq_tcp_pdu_kind fq_tcp_rx_kind(const struct fq_tcp_rx *rx);

/* Field offsets a role names in FEI when it rejects a header (§3.6.2.3). */
#define FQ_TCP_FEI_FLAGS 1u
#define FQ_TCP_FEI_CCCID 8u /* CCCID of data PDUs and R2T */
#define FQ_TCP_FEI_TTAG 10u
#define FQ_TCP_FEI_R2TO 12u
#define FQ_TCP_FEI_R2TL 16u
#define FQ_TCP_FEI_RSP_CID 20u /* CID in the CQE of a CapsuleResp */

/* Typed views of the current header, for the roles. */
const struct fq_sqe *fq_tcp_rx_sqe(const struct fq_tcp_rx *rx); /* CapsuleCmd */
const struct fq_cqe *fq_tcp_rx_cqe(const struct fq_tcp_rx *rx); /* CapsuleResp */

/* H2CData or C2HData header fields. */
struct fq_tcp_data_hdr {
	uint16_t cccid;
	uint16_t ttag;
	uint32_t datao;
	uint32_t datal;
	bool last;
	bool success;
};
void fq_tcp_rx_data_hdr(const struct fq_tcp_rx *rx, struct fq_tcp_data_hdr *d);

/* R2T header fields. */
struct fq_tcp_r2t_hdr {
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
};
void fq_tcp_rx_r2t_hdr(const struct fq_tcp_rx *rx, struct fq_tcp_r2t_hdr *r);

/* TermReq: the fatal error status and field the peer reports. */
void fq_tcp_rx_term(const struct fq_tcp_rx *rx, uint16_t *fes, uint32_t *fei);

/* fq_tcp_check_data_range() on the current data PDU. */
int fq_tcp_rx_check_data_range(const struct fq_tcp_rx *rx, uint32_t expected_off, uint32_t xfer_end,
			       struct fq_tcp_err *err);

/* fq_tcp_check_icreq() on the current ICReq; @dg: the digests it asks for. */
int fq_tcp_rx_check_icreq(const struct fq_tcp_rx *rx, struct fq_tcp_dgst *dg,
			  struct fq_tcp_err *err);

/*
 * fq_tcp_check_icresp() on the current ICResp against the digests asked
 * for; @maxh2cdata: the controller's limit.
 */
int fq_tcp_rx_check_icresp(const struct fq_tcp_rx *rx, struct fq_tcp_dgst want,
			   uint32_t *maxh2cdata, struct fq_tcp_err *err);

/* Header bytes a TermReq echoes for the current PDU (§3.6.2.3). */
static inline uint32_t fq_tcp_rx_hdr_len(const struct fq_tcp_rx *rx)
{
	return rx->fr.hlen ? rx->fr.hlen : sizeof(struct fq_tcp_ch);
}

/*
 * From the header callback: the data of this PDU goes to byte @off on of
 * @iov (which must hold it and stay valid until data_done). Data bytes whose
 * destination is the very byte being fed are not copied (in place).
 */
void fq_tcp_rx_set_dst(struct fq_tcp_rx *rx, const struct iovec *iov, int iovcnt, uint32_t off);
/* The same for one flat buffer. */
void fq_tcp_rx_set_buf(struct fq_tcp_rx *rx, void *buf);

/* Data bytes of the current PDU still to come (0 outside the data section). */
static inline uint32_t fq_tcp_rx_data_left(const struct fq_tcp_rx *rx)
{
	return rx->state == FQ_TCP_RX_DATA && !rx->discard ? rx->left : 0;
}

/*
 * Direct receive: describe where the rest of the current data goes, so the
 * caller can receive straight into it. Fills at most @max entries of @out
 * and returns the count (0 when no data with a destination is pending).
 */
int fq_tcp_rx_dst_iov(const struct fq_tcp_rx *rx, struct iovec *out, int max);

/*
 * @n bytes (<= fq_tcp_rx_data_left()) were received directly into the
 * places fq_tcp_rx_dst_iov() named. Same return as fq_tcp_rx_feed().
 */
int fq_tcp_rx_direct_done(struct fq_tcp_rx *rx, uint32_t n);

/* Copy @len bytes to byte @off of an iovec array (bounds by the array). */
void fq_tcp_iov_store(const struct iovec *iov, int cnt, uint32_t off, const uint8_t *src,
		      size_t len);

/* Describe bytes [off, off + len) of @src in at most @max entries of @dst. */
int fq_tcp_iov_slice(const struct iovec *src, int cnt, uint32_t off, uint32_t len,
		     struct iovec *dst, int max);

#endif
