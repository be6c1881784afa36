/* SPDX-License-Identifier: MIT */
/*
 * Builders for every NVMe/TCP PDU either side sends (NVMe/TCP 1.0 §3.6.2):
 * each fills a header in caller storage, appends the header digest when one
 * was negotiated and returns the bytes to send for the header. Data is never
 * copied: fq_tcp_tx_iov() lays a PDU out as iovecs over the caller's data,
 * with the data digest in caller storage. No I/O, no allocation.
 */
#ifndef FQ_PROTO_TCP_BUILD_H
#define FQ_PROTO_TCP_BUILD_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tcp.h"

/* Room for a header and its digest: response, data, R2T and TermReq PDUs. */
#define FQ_TCP_HDR_ROOM_SMALL (sizeof(struct fq_tcp_rsp) + FQ_TCP_DIGEST_LEN)
/* ... a CapsuleCmd header and its digest. */
#define FQ_TCP_HDR_ROOM_CMD (sizeof(struct fq_tcp_cmd) + FQ_TCP_DIGEST_LEN)
/* ... an ICReq or ICResp (never digested). */
#define FQ_TCP_HDR_ROOM_IC (sizeof(struct fq_tcp_icreq))

/* Header storage callers embed; aligned for the typed views. */
struct fq_tcp_hbuf_small {
	alignas(8) uint8_t b[FQ_TCP_HDR_ROOM_SMALL];
};
struct fq_tcp_hbuf_cmd {
	alignas(8) uint8_t b[FQ_TCP_HDR_ROOM_CMD];
};
struct fq_tcp_hbuf_ic {
	alignas(8) uint8_t b[FQ_TCP_HDR_ROOM_IC];
};

/* What was negotiated at ICReq/ICResp; every builder needs it. */
struct fq_tcp_dgst {
	bool hdgst;
	bool ddgst;
};

/* The digest bits (ICReq/ICResp DGST field) for the digests wanted. */
uint8_t fq_tcp_dgst_bits(bool hdgst, bool ddgst);

/* ICReq, §3.6.2.2: PFV 0, @hpda, @maxr2t (0's based), digests asked for. */
uint32_t fq_tcp_build_icreq(struct fq_tcp_hbuf_ic *h, bool hdgst, bool ddgst, uint8_t hpda,
			    uint32_t maxr2t);

/* ICResp, §3.6.2.3: @dg, the digests the ICReq asked for, echoed. */
uint32_t fq_tcp_build_icresp(struct fq_tcp_hbuf_ic *h, struct fq_tcp_dgst dg, uint8_t cpda,
			     uint32_t maxh2cdata);

/* CapsuleCmd, §3.6.2.4: the SQE and @dlen bytes of in-capsule data. */
uint32_t fq_tcp_build_cmd(struct fq_tcp_hbuf_cmd *h, const struct fq_sqe *sqe,
			  struct fq_tcp_dgst dg, uint32_t dlen);

/* CapsuleResp, §3.6.2.5. */
uint32_t fq_tcp_build_rsp(struct fq_tcp_hbuf_small *h, const struct fq_cqe *cqe,
			  struct fq_tcp_dgst dg);

/* H2CData, §3.6.2.6: @datal bytes at @datao for the R2T that named @ttag. */
uint32_t fq_tcp_build_h2c(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint16_t ttag,
			  uint32_t datao, uint32_t datal, bool last, struct fq_tcp_dgst dg);

/*
 * C2HData, §3.6.2.7. @success (only with @last) completes the command
 * without a CapsuleResp when SQ flow control is disabled.
 */
uint32_t fq_tcp_build_c2h(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint32_t datao,
			  uint32_t datal, bool last, bool success, struct fq_tcp_dgst dg);

/* R2T, §3.6.2.8. */
uint32_t fq_tcp_build_r2t(struct fq_tcp_hbuf_small *h, uint16_t cccid, uint16_t ttag, uint32_t r2to,
			  uint32_t r2tl, struct fq_tcp_dgst dg);

/*
 * H2CTermReq (@to_host false) or C2HTermReq, §3.6.2.3 Fig. 22/23: FES, FEI
 * and @dlen bytes of the offending header as data (sent from its own iovec).
 */
uint32_t fq_tcp_build_term(struct fq_tcp_hbuf_small *h, bool to_host, uint16_t fes, uint32_t fei,
			   uint32_t dlen);

/* Total PDU length (PLEN) of a built header. */
uint32_t fq_tcp_hdr_plen(const void *hdr);

/*
 * Lay one PDU out for a vectored send: @out[0] is the header (@hdr_bytes
 * from the builder), then bytes [@off, @off + @len) of @data, then the data
 * digest, computed into *@ddgst, when @ddgst is not NULL and @len > 0.
 * @cold: the data is probably not in the CPU cache (fq_crc32c_uncached).
 * @out must have room for @datacnt + 2 entries. Returns the entry count.
 */
int fq_tcp_tx_iov(struct iovec *out, const void *hdr, uint32_t hdr_bytes, const struct iovec *data,
		  int datacnt, uint32_t off, uint32_t len, uint32_t *ddgst, bool cold);

#endif
