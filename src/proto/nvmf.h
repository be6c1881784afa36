/* SPDX-License-Identifier: MIT */
/*
 * NVMe over Fabrics 1.1 wire formats: Fabrics commands (Connect, Property
 * Get/Set, Disconnect), the Connect data and controller properties.
 */
#ifndef FQ_PROTO_NVMF_H
#define FQ_PROTO_NVMF_H

#include "nvme.h"

#define FQ_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define FQ_NQN_MAX 223	 /* NVMe Base 2.0 §4.5: NQN is at most 223 bytes */
#define FQ_NQN_FIELD 256 /* NQN fields on the wire are 256 bytes, NUL padded */

/* Fabrics command types, NVMe-oF 1.1 Fig. 10. */
enum {
	FQ_FCTYPE_PROP_SET = 0x00,
	FQ_FCTYPE_CONNECT = 0x01,
	FQ_FCTYPE_PROP_GET = 0x04,
	FQ_FCTYPE_AUTH_SEND = 0x05,
	FQ_FCTYPE_AUTH_RECV = 0x06,
	FQ_FCTYPE_DISCONNECT = 0x08,
};

/* Common Fabrics command layout, NVMe-oF 1.1 Fig. 9 (64 bytes). */
struct fq_fabrics_cmd {
	uint8_t opcode; /* 0x7f */
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd5[19];
	struct fq_sgl sgl;
	uint8_t spec[24];
};
static_assert(sizeof(struct fq_fabrics_cmd) == 64, "fabrics command is 64 bytes");
static_assert(offsetof(struct fq_fabrics_cmd, fctype) == 4, "FCTYPE at 4");
static_assert(offsetof(struct fq_fabrics_cmd, sgl) == 24, "SGL1 at 24");
static_assert(offsetof(struct fq_fabrics_cmd, spec) == 40, "specific at 40");

/* Connect command, NVMe-oF 1.1 Fig. 19. */
struct fq_connect_cmd {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd5[19];
	struct fq_sgl sgl;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize; /* 0's based */
	uint8_t cattr;
	uint8_t rsvd47;
	uint32_t kato; /* milliseconds */
	uint8_t rsvd52[12];
};
static_assert(sizeof(struct fq_connect_cmd) == 64, "Connect is 64 bytes");
static_assert(offsetof(struct fq_connect_cmd, recfmt) == 40, "RECFMT at 40");
static_assert(offsetof(struct fq_connect_cmd, qid) == 42, "QID at 42");
static_assert(offsetof(struct fq_connect_cmd, sqsize) == 44, "SQSIZE at 44");
static_assert(offsetof(struct fq_connect_cmd, cattr) == 46, "CATTR at 46");
static_assert(offsetof(struct fq_connect_cmd, kato) == 48, "KATO at 48");
#define FQ_CONNECT_CATTR_DISABLE_SQFLOW (1u << 2)

/* Connect command data, NVMe-oF 1.1 Fig. 20 (1024 bytes). */
struct fq_connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;
	uint8_t rsvd18[238];
	char subnqn[FQ_NQN_FIELD];
	char hostnqn[FQ_NQN_FIELD];
	uint8_t rsvd768[256];
};
static_assert(sizeof(struct fq_connect_data) == 1024, "Connect data is 1 KiB");
static_assert(offsetof(struct fq_connect_data, cntlid) == 16, "CNTLID at 16");
static_assert(offsetof(struct fq_connect_data, subnqn) == 256, "SUBNQN at 256");
static_assert(offsetof(struct fq_connect_data, hostnqn) == 512, "HOSTNQN at 512");
#define FQ_CNTLID_DYNAMIC 0xffff

/*
 * Invalid-parameter details for a rejected Connect, NVMe-oF 1.1 Fig. 21:
 * dword 0 of the completion holds IPO (bits 15:0, byte offset of the bad
 * field) and IATTR (bits 23:16, 0 = in the command, 1 = in the data).
 */
static inline uint32_t fq_connect_ipo(int in_data, uint16_t offset)
{
	return (uint32_t)offset | ((in_data ? 1u : 0u) << 16);
}

/* Property Set/Get, NVMe-oF 1.1 Fig. 22/23. */
struct fq_prop_cmd {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd5[35];
	uint8_t attrib; /* bits 2:0: 0 = 4 bytes, 1 = 8 bytes */
	uint8_t rsvd41[3];
	uint32_t offset;
	uint64_t value; /* Set only */
	uint8_t rsvd56[8];
};
static_assert(sizeof(struct fq_prop_cmd) == 64, "property command is 64 bytes");
static_assert(offsetof(struct fq_prop_cmd, attrib) == 40, "ATTRIB at 40");
static_assert(offsetof(struct fq_prop_cmd, offset) == 44, "OFST at 44");
static_assert(offsetof(struct fq_prop_cmd, value) == 48, "VALUE at 48");

/* Controller properties, NVMe Base 2.0 §3.1.3 Fig. 35. */
enum {
	FQ_PROP_CAP = 0x00,
	FQ_PROP_VS = 0x08,
	FQ_PROP_INTMS = 0x0c,
	FQ_PROP_INTMC = 0x10,
	FQ_PROP_CC = 0x14,
	FQ_PROP_CSTS = 0x1c,
	FQ_PROP_NSSR = 0x20,
};

/* CAP fields. */
#define FQ_CAP_MQES(v) ((uint64_t)(v)&0xffff)
#define FQ_CAP_CQR (1ull << 16)
#define FQ_CAP_TO(v) (((uint64_t)(v)&0xff) << 24)
#define FQ_CAP_CSS_NVM (1ull << 37)
#define FQ_CAP_GET_MQES(cap) ((unsigned)((cap)&0xffff))
#define FQ_CAP_GET_TO(cap) ((unsigned)(((cap) >> 24) & 0xff))

/* CC fields. */
#define FQ_CC_EN (1u << 0)
#define FQ_CC_CSS(cc) (((cc) >> 4) & 0x7)
#define FQ_CC_MPS(cc) (((cc) >> 7) & 0xf)
#define FQ_CC_AMS(cc) (((cc) >> 11) & 0x7)
#define FQ_CC_SHN(cc) (((cc) >> 14) & 0x3)
#define FQ_CC_IOSQES(cc) (((cc) >> 16) & 0xf)
#define FQ_CC_IOCQES(cc) (((cc) >> 20) & 0xf)
#define FQ_CC_SHN_MASK (3u << 14)
#define FQ_CC_SHN_NORMAL (1u << 14)
#define FQ_CC_IOSQES_64 (6u << 16)
#define FQ_CC_IOCQES_16 (4u << 20)

/* CSTS fields. */
#define FQ_CSTS_RDY (1u << 0)
#define FQ_CSTS_CFS (1u << 1)
#define FQ_CSTS_SHST_MASK (3u << 2)
#define FQ_CSTS_SHST_CMPLT (2u << 2)

#define FQ_VS(mjr, mnr, ter) (((uint32_t)(mjr) << 16) | ((uint32_t)(mnr) << 8) | (uint32_t)(ter))

/* The discovery log page (struct fq_disc_log_hdr, fq_disc_log_entry) is in
 * fabriq/nvme_spec.h, with the other pages a host reads. */
#define FQ_TCP_SECTYPE_NONE 0x0

#endif
