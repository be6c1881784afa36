/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP Transport Specification 1.0 PDU formats (§3.6, Fig. 14-28).
 * Only types, constants and trivial accessors live here; the decoder is in
 * tcp_decode.c, the receive framer in tcp_rx.c and the builders in tcp_build.c.
 */
#ifndef FQ_PROTO_TCP_H
#define FQ_PROTO_TCP_H

#include "nvme.h"

#define FQ_TCP_PORT 4420
#define FQ_TCP_DISC_PORT 8009
#define FQ_TCP_DIGEST_LEN 4
#define FQ_TCP_MIN_MAXH2CDATA 4096
#define FQ_TCP_ADMIN_CCSZ 8192 /* in-capsule data every controller accepts for Fabrics cmds */
#define FQ_TCP_TERM_MAX_DATA 128

/* PDU types, NVMe/TCP 1.0 §3.6.1 Fig. 14. */
enum fq_tcp_pdu_type {
	FQ_TCP_ICREQ = 0x00,
	FQ_TCP_ICRESP = 0x01,
	FQ_TCP_H2C_TERM = 0x02,
	FQ_TCP_C2H_TERM = 0x03,
	FQ_TCP_CAPSULE_CMD = 0x04,
	FQ_TCP_CAPSULE_RESP = 0x05,
	FQ_TCP_H2C_DATA = 0x06,
	FQ_TCP_C2H_DATA = 0x07,
	FQ_TCP_R2T = 0x09,
	FQ_TCP_PDU_TYPE_MAX = 0x0a,
};

/* Common header flags, NVMe/TCP 1.0 §3.6.1 Fig. 15. */
#define FQ_TCP_F_HDGST 0x01
#define FQ_TCP_F_DDGST 0x02
#define FQ_TCP_F_DATA_LAST 0x04
#define FQ_TCP_F_DATA_SUCCESS 0x08

/* ICReq/ICResp DGST field. */
#define FQ_TCP_DGST_HDR 0x01
#define FQ_TCP_DGST_DATA 0x02

/* Fatal error status for TermReq, NVMe/TCP 1.0 §3.6.2.3 Fig. 22. */
enum fq_tcp_fes {
	FQ_TCP_FES_NONE = 0x00,
	FQ_TCP_FES_INVALID_HEADER = 0x01,
	FQ_TCP_FES_PDU_SEQUENCE = 0x02,
	FQ_TCP_FES_HDR_DIGEST = 0x03,
	FQ_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	FQ_TCP_FES_DATA_LIMIT = 0x05,
	FQ_TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

/* PDU common header, NVMe/TCP 1.0 §3.6.1 Fig. 15. */
struct fq_tcp_ch {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;  /* header length, excluding HDGST */
	uint8_t pdo;   /* offset of the data from the start of the PDU, 0 if none */
	uint32_t plen; /* total PDU length including digests */
};
static_assert(sizeof(struct fq_tcp_ch) == 8, "CH is 8 bytes");
static_assert(offsetof(struct fq_tcp_ch, plen) == 4, "PLEN at 4");

/* ICReq, NVMe/TCP 1.0 §3.6.2.2 Fig. 20. */
struct fq_tcp_icreq {
	struct fq_tcp_ch ch;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t dgst;
	uint32_t maxr2t; /* 0's based */
	uint8_t rsvd16[112];
};
static_assert(sizeof(struct fq_tcp_icreq) == 128, "ICReq is 128 bytes");
static_assert(offsetof(struct fq_tcp_icreq, pfv) == 8, "PFV at 8");
static_assert(offsetof(struct fq_tcp_icreq, hpda) == 10, "HPDA at 10");
static_assert(offsetof(struct fq_tcp_icreq, maxr2t) == 12, "MAXR2T at 12");

/* ICResp, NVMe/TCP 1.0 §3.6.2.3 Fig. 21. */
struct fq_tcp_icresp {
	struct fq_tcp_ch ch;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t dgst;
	uint32_t maxh2cdata;
	uint8_t rsvd16[112];
};
static_assert(sizeof(struct fq_tcp_icresp) == 128, "ICResp is 128 bytes");
static_assert(offsetof(struct fq_tcp_icresp, cpda) == 10, "CPDA at 10");
static_assert(offsetof(struct fq_tcp_icresp, maxh2cdata) == 12, "MAXH2CDATA at 12");

/*
 * H2CTermReq / C2HTermReq header, NVMe/TCP 1.0 Fig. 22/23. FEI sits at byte
 * 10, which is not 4-byte aligned, so it is a byte array with accessors.
 */
struct fq_tcp_term {
	struct fq_tcp_ch ch;
	uint16_t fes;
	uint8_t fei[4];
	uint8_t rsvd14[10];
};
static_assert(sizeof(struct fq_tcp_term) == 24, "TermReq header is 24 bytes");
static_assert(offsetof(struct fq_tcp_term, fes) == 8, "FES at 8");
static_assert(offsetof(struct fq_tcp_term, fei) == 10, "FEI at 10");

static inline uint32_t fq_tcp_term_fei(const struct fq_tcp_term *t)
{
	return (uint32_t)t->fei[0] | ((uint32_t)t->fei[1] << 8) | ((uint32_t)t->fei[2] << 16) |
	       ((uint32_t)t->fei[3] << 24);
}
static inline void fq_tcp_term_set_fei(struct fq_tcp_term *t, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		t->fei[i] = (uint8_t)(v >> (8 * i));
}

/* CapsuleCmd, NVMe/TCP 1.0 §3.6.2.4 Fig. 24. */
struct fq_tcp_cmd {
	struct fq_tcp_ch ch;
	struct fq_sqe sqe;
};
static_assert(sizeof(struct fq_tcp_cmd) == 72, "CapsuleCmd header is 72 bytes");
static_assert(offsetof(struct fq_tcp_cmd, sqe) == 8, "SQE at 8");

/* CapsuleResp, NVMe/TCP 1.0 §3.6.2.5 Fig. 25. */
struct fq_tcp_rsp {
	struct fq_tcp_ch ch;
	struct fq_cqe cqe;
};
static_assert(sizeof(struct fq_tcp_rsp) == 24, "CapsuleResp is 24 bytes");
static_assert(offsetof(struct fq_tcp_rsp, cqe) == 8, "CQE at 8");

/* H2CData / C2HData, NVMe/TCP 1.0 §3.6.2.6-7 Fig. 26/27. */
struct fq_tcp_data {
	struct fq_tcp_ch ch;
	uint16_t cccid;
	uint16_t ttag; /* H2C: transfer tag from R2T; C2H: reserved */
	uint32_t datao;
	uint32_t datal;
	uint8_t rsvd20[4];
};
static_assert(sizeof(struct fq_tcp_data) == 24, "data PDU header is 24 bytes");
static_assert(offsetof(struct fq_tcp_data, cccid) == 8, "CCCID at 8");
static_assert(offsetof(struct fq_tcp_data, ttag) == 10, "TTAG at 10");
static_assert(offsetof(struct fq_tcp_data, datao) == 12, "DATAO at 12");
static_assert(offsetof(struct fq_tcp_data, datal) == 16, "DATAL at 16");

/* R2T, NVMe/TCP 1.0 §3.6.2.8 Fig. 28. */
struct fq_tcp_r2t {
	struct fq_tcp_ch ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint8_t rsvd20[4];
};
static_assert(sizeof(struct fq_tcp_r2t) == 24, "R2T is 24 bytes");
static_assert(offsetof(struct fq_tcp_r2t, r2to) == 12, "R2TO at 12");
static_assert(offsetof(struct fq_tcp_r2t, r2tl) == 16, "R2TL at 16");

/* Largest fixed header of any PDU type plus its header digest. */
#define FQ_TCP_MAX_HDR (sizeof(struct fq_tcp_icreq))

#endif
