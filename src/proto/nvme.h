/* SPDX-License-Identifier: MIT */
/*
 * NVMe Base Specification 2.0 wire formats: submission and completion queue
 * entries, status codes, opcodes, Identify data structures and log pages.
 *
 * Multi-byte fields are little-endian on the wire. Fabriq supports only
 * little-endian hosts (checked below), so fields are plain integers read and
 * written directly; every struct has its size and the offset of every
 * multi-byte field asserted against the spec figure.
 */
#ifndef FQ_PROTO_NVME_H
#define FQ_PROTO_NVME_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* Identify data and log pages: the public layouts. */
#include "fabriq/nvme_spec.h"

/* NVMe Base 2.0 §4.1.3 SGL descriptor (16 bytes). */
struct fq_sgl {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type; /* bits 7:4 descriptor type, bits 3:0 subtype */
};
static_assert(sizeof(struct fq_sgl) == 16, "SGL descriptor is 16 bytes");
static_assert(offsetof(struct fq_sgl, length) == 8, "SGL length at 8");
static_assert(offsetof(struct fq_sgl, type) == 15, "SGL type at 15");

#define FQ_SGL_TYPE_DATA_BLOCK 0x0
#define FQ_SGL_TYPE_TRANSPORT_DATA_BLOCK 0x5
#define FQ_SGL_SUBTYPE_ADDRESS 0x0
#define FQ_SGL_SUBTYPE_OFFSET 0x1
#define FQ_SGL_SUBTYPE_TRANSPORT 0xA
/* Descriptor byte as the Linux host and nvmet use it (B3). */
#define FQ_SGL_INCAPSULE ((FQ_SGL_TYPE_DATA_BLOCK << 4) | FQ_SGL_SUBTYPE_OFFSET) /* 0x01 */
#define FQ_SGL_TRANSPORT                                                                           \
	((FQ_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4) | FQ_SGL_SUBTYPE_TRANSPORT) /* 0x5A */

/* NVMe Base 2.0 §4.2 Submission Queue Entry (64 bytes). */
struct fq_sqe {
	uint8_t opcode;
	uint8_t flags; /* bits 1:0 FUSE, bits 7:6 PSDT */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	struct fq_sgl sgl; /* DPTR when PSDT selects SGLs (always on fabrics) */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
static_assert(sizeof(struct fq_sqe) == 64, "SQE is 64 bytes");
static_assert(offsetof(struct fq_sqe, cid) == 2, "CID at 2");
static_assert(offsetof(struct fq_sqe, nsid) == 4, "NSID at 4");
static_assert(offsetof(struct fq_sqe, mptr) == 16, "MPTR at 16");
static_assert(offsetof(struct fq_sqe, sgl) == 24, "DPTR at 24");
static_assert(offsetof(struct fq_sqe, cdw10) == 40, "CDW10 at 40");
static_assert(offsetof(struct fq_sqe, cdw15) == 60, "CDW15 at 60");

#define FQ_SQE_FUSE_MASK 0x03
#define FQ_SQE_FUSE_FIRST 0x01
#define FQ_SQE_FUSE_SECOND 0x02
#define FQ_SQE_PSDT_SGL 0x40 /* PSDT = 01b: SGL for data, MPTR contiguous */

/* NVMe Base 2.0 §4.6 Completion Queue Entry (16 bytes). */
struct fq_cqe {
	uint32_t dw0;
	uint32_t dw1;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status; /* bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR */
};
static_assert(sizeof(struct fq_cqe) == 16, "CQE is 16 bytes");
static_assert(offsetof(struct fq_cqe, sq_head) == 8, "SQHD at 8");
static_assert(offsetof(struct fq_cqe, cid) == 12, "CID at 12");
static_assert(offsetof(struct fq_cqe, status) == 14, "status at 14");

/* Status field helpers (the phase bit is always 0 on fabrics). */
#define FQ_STATUS(sct, sc) ((uint16_t)((((sct)&0x7) << 9) | (((sc)&0xff) << 1)))
#define FQ_STATUS_DNR 0x8000
#define FQ_STATUS_MORE 0x4000
static inline unsigned fq_status_sc(uint16_t st)
{
	return (st >> 1) & 0xff;
}
static inline unsigned fq_status_sct(uint16_t st)
{
	return (st >> 9) & 0x7;
}
static inline int fq_status_dnr(uint16_t st)
{
	return !!(st & FQ_STATUS_DNR);
}
static inline int fq_status_ok(uint16_t st)
{
	return (st & 0x7fe) == 0;
}

/* Status code types, NVMe Base 2.0 §4.6.1.2. */
enum {
	FQ_SCT_GENERIC = 0,
	FQ_SCT_CMD_SPECIFIC = 1,
	FQ_SCT_MEDIA = 2,
	FQ_SCT_PATH = 3,
	FQ_SCT_VENDOR = 7,
};

/* Generic command status (SCT 0), NVMe Base 2.0 Fig. 100/101. */
enum {
	FQ_SC_SUCCESS = 0x00,
	FQ_SC_INVALID_OPCODE = 0x01,
	FQ_SC_INVALID_FIELD = 0x02,
	FQ_SC_CID_CONFLICT = 0x03,
	FQ_SC_DATA_XFER_ERROR = 0x04,
	FQ_SC_POWER_LOSS = 0x05,
	FQ_SC_INTERNAL = 0x06,
	FQ_SC_ABORT_REQ = 0x07,
	FQ_SC_ABORT_SQ_DEL = 0x08,
	FQ_SC_FUSED_FAIL = 0x09,
	FQ_SC_FUSED_MISSING = 0x0a,
	FQ_SC_INVALID_NS = 0x0b,
	FQ_SC_CMD_SEQ_ERROR = 0x0c,
	FQ_SC_SGL_INVALID_LAST = 0x0d,
	FQ_SC_SGL_INVALID_COUNT = 0x0e,
	FQ_SC_SGL_INVALID_DATA = 0x0f,
	FQ_SC_SGL_INVALID_TYPE = 0x11,
	FQ_SC_SGL_INVALID_OFFSET = 0x16,
	FQ_SC_SGL_INVALID_SUBTYPE = 0x17,
	FQ_SC_CMD_INTERRUPTED = 0x21,
	FQ_SC_TRANSIENT_TRANSPORT = 0x22,
	FQ_SC_LBA_RANGE = 0x80,
	FQ_SC_CAP_EXCEEDED = 0x81,
	FQ_SC_NS_NOT_READY = 0x82,
};

/* Command specific status (SCT 1), incl. NVMe-oF 1.1 Fig. 20 (Connect). */
enum {
	FQ_SC_INVALID_QID = 0x01,
	FQ_SC_MAX_QSIZE_EXCEEDED = 0x02,
	FQ_SC_ABORT_LIMIT = 0x03,
	FQ_SC_ASYNC_LIMIT = 0x05,
	FQ_SC_INVALID_LOG_PAGE = 0x09,
	FQ_SC_FEATURE_NOT_SAVEABLE = 0x0d,
	FQ_SC_FEATURE_NOT_CHANGEABLE = 0x0e,
	FQ_SC_CONNECT_INCOMPAT_FMT = 0x80,
	FQ_SC_CONNECT_CTRL_BUSY = 0x81,
	FQ_SC_CONNECT_INVALID_PARAM = 0x82,
	FQ_SC_CONNECT_RESTART_DISC = 0x83,
	FQ_SC_CONNECT_INVALID_HOST = 0x84,
};

/* Media and data integrity errors (SCT 2). */
enum {
	FQ_SC_WRITE_FAULT = 0x80,
	FQ_SC_READ_ERROR = 0x81,
	FQ_SC_COMPARE_FAILED = 0x85,
	FQ_SC_ACCESS_DENIED = 0x86,
};

/* Path related status (SCT 3). */
enum {
	FQ_SC_INTERNAL_PATH_ERROR = 0x00,
	FQ_SC_HOST_PATH_ERROR = 0x70,
	FQ_SC_ABORTED_BY_HOST = 0x71,
};

/* Admin opcodes, NVMe Base 2.0 Fig. 138. */
enum {
	FQ_ADM_DELETE_SQ = 0x00,
	FQ_ADM_CREATE_SQ = 0x01,
	FQ_ADM_GET_LOG_PAGE = 0x02,
	FQ_ADM_DELETE_CQ = 0x04,
	FQ_ADM_CREATE_CQ = 0x05,
	FQ_ADM_IDENTIFY = 0x06,
	FQ_ADM_ABORT = 0x08,
	FQ_ADM_SET_FEATURES = 0x09,
	FQ_ADM_GET_FEATURES = 0x0a,
	FQ_ADM_ASYNC_EVENT = 0x0c,
	FQ_ADM_KEEP_ALIVE = 0x18,
	FQ_ADM_FABRICS = 0x7f,
};

/* NVM command set I/O opcodes, NVM Command Set 1.0 Fig. 17. */
enum {
	FQ_IO_FLUSH = 0x00,
	FQ_IO_WRITE = 0x01,
	FQ_IO_READ = 0x02,
	FQ_IO_WRITE_UNCOR = 0x04,
	FQ_IO_COMPARE = 0x05,
	FQ_IO_WRITE_ZEROES = 0x08,
	FQ_IO_DSM = 0x09,
	FQ_IO_COPY = 0x19, /* NVM Command Set 2.0 §3.2.2 */
};

/* Opcode bits 1:0 give the data direction (NVMe Base 2.0 §5 Fig. 138 note). */
static inline int fq_opc_is_write(uint8_t opc)
{
	return (opc & 3) == 1;
}
static inline int fq_opc_is_read(uint8_t opc)
{
	return (opc & 3) == 2;
}

/* Identify CNS values, NVMe Base 2.0 Fig. 273. */
enum {
	FQ_CNS_NS = 0x00,
	FQ_CNS_CTRL = 0x01,
	FQ_CNS_ACTIVE_NS_LIST = 0x02,
	FQ_CNS_NS_DESC_LIST = 0x03,
	FQ_CNS_CSI_NS = 0x05,
	FQ_CNS_CSI_CTRL = 0x06,
	FQ_CNS_CSI_ACTIVE_NS_LIST = 0x07,
	FQ_CNS_CSI_INDEP_NS = 0x08,
};

/* Feature identifiers, NVMe Base 2.0 Fig. 323. */
enum {
	FQ_FEAT_ARBITRATION = 0x01,
	FQ_FEAT_POWER_MGMT = 0x02,
	FQ_FEAT_TEMP_THRESH = 0x04,
	FQ_FEAT_ERR_RECOVERY = 0x05,
	FQ_FEAT_VOLATILE_WC = 0x06,
	FQ_FEAT_NUM_QUEUES = 0x07,
	FQ_FEAT_IRQ_COALESCE = 0x08,
	FQ_FEAT_WRITE_ATOMIC = 0x0a,
	FQ_FEAT_ASYNC_EVENT = 0x0b,
	FQ_FEAT_TIMESTAMP = 0x0e,
	FQ_FEAT_KATO = 0x0f,
	FQ_FEAT_HOST_ID = 0x81,
};

/* Asynchronous event completion dword 0, NVMe Base 2.0 Fig. 147. */
#define FQ_AER_TYPE_NOTICE 0x2
#define FQ_AER_NOTICE_NS_CHANGED 0x00
#define FQ_AER_NOTICE_DISC_CHANGED 0xf0
static inline uint32_t fq_aer_result(uint8_t type, uint8_t info, uint8_t log)
{
	return (uint32_t)type | ((uint32_t)info << 8) | ((uint32_t)log << 16);
}
/* OAES / Async Event Configuration bits. */
#define FQ_AEN_CFG_NS_ATTR (1u << 8)
#define FQ_AEN_CFG_DISC_CHANGE (1u << 31)

/* Dataset Management range (16 bytes), NVM Command Set 1.0 Fig. 39. */
struct fq_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};
static_assert(sizeof(struct fq_dsm_range) == 16, "DSM range is 16 bytes");
static_assert(offsetof(struct fq_dsm_range, slba) == 8, "SLBA at 8");
#define FQ_DSM_ATTR_DEALLOCATE (1u << 2) /* CDW11 AD */

/* 128-bit little-endian counters in log pages. */
static inline void fq_put_u128(uint8_t dst[16], uint64_t v)
{
	for (int i = 0; i < 16; i++)
		dst[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}

#endif
