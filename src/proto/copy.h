/* SPDX-License-Identifier: MIT */
/*
 * The Copy command (NVM Command Set 2.0 §3.2.2, opcode 19h): its command
 * dwords, the Source Range Entry of descriptor format 0, and a pure decoder
 * that checks a command and its descriptor list against a namespace's
 * limits before anything is read or written.
 */
#ifndef FQ_PROTO_COPY_H
#define FQ_PROTO_COPY_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme.h"

/* CDW12 fields (NVM CS 2.0 Fig. 36). */
#define FQ_COPY_NR_MASK 0xffu  /* bits 7:0 Number of Ranges, 0's based */
#define FQ_COPY_DESFMT_SHIFT 8 /* bits 11:8 Descriptor Format */
#define FQ_COPY_DESFMT_MASK 0xfu
#define FQ_COPY_FUA (1u << 30)
#define FQ_COPY_LR (1u << 31)
#define FQ_COPY_DESFMT_0 0u /* Source Range Entries, format 0 (32 bytes each) */

/* Source Range Entry, Copy Descriptor Format 0h (NVM CS 2.0 Fig. 39). */
struct fq_copy_desc0 {
	uint64_t rsvd0;
	uint64_t slba; /* Starting LBA */
	uint16_t nlb;  /* Number of Logical Blocks, 0's based */
	uint16_t rsvd18;
	uint32_t rsvd20;
	uint32_t eilbrt; /* expected initial logical block reference tag (PI only) */
	uint16_t elbat;	 /* expected logical block application tag (PI only) */
	uint16_t elbatm; /* its mask */
};
static_assert(sizeof(struct fq_copy_desc0) == 32, "Source Range Entry is 32 bytes");
static_assert(offsetof(struct fq_copy_desc0, slba) == 8, "SLBA at 8");
static_assert(offsetof(struct fq_copy_desc0, nlb) == 16, "NLB at 16");
static_assert(offsetof(struct fq_copy_desc0, eilbrt) == 24, "EILBRT at 24");
static_assert(offsetof(struct fq_copy_desc0, elbat) == 28, "ELBAT at 28");
static_assert(offsetof(struct fq_copy_desc0, elbatm) == 30, "ELBATM at 30");

/* Ranges a Copy may carry at most: NR is 8 bits, 0's based. */
#define FQ_COPY_MAX_RANGES 256u

/* Command Size Limit Exceeded: command specific status 83h (NVM CS 2.0 Fig. 33). */
#define FQ_SC_CMD_SIZE_LIMIT 0x83

/*
 * What a namespace accepts, as Identify Namespace reports it: MSRC (0's
 * based), MSSRL and MCL in logical blocks (NVM CS 2.0 Fig. 97), and its
 * size in blocks.
 */
struct fq_copy_limits {
	uint8_t msrc;
	uint16_t mssrl;
	uint32_t mcl;
	uint64_t nblocks;
};

struct fq_copy_range {
	uint64_t slba;
	uint32_t nlb; /* 1-based */
};

/*
 * Check a Copy command (@cdw10..@cdw12 of its SQE) and its @len bytes of
 * descriptors in @buf against @lim, and decode the ranges into @out (room
 * for FQ_COPY_MAX_RANGES). Returns 0 with *@nr and *@total (blocks) set, or
 * the NVMe status (FQ_STATUS() | DNR) to complete the command with:
 * Invalid Field for an unknown descriptor format, Command Size Limit
 * Exceeded for more ranges than MSRC allows, a range over MSSRL or a total
 * over MCL, Data SGL Length Invalid when @len is short of the ranges, LBA
 * Out of Range for a source or destination beyond the namespace. Source
 * ranges may overlap each other and the destination (the spec allows it).
 */
uint16_t fq_copy_decode(uint32_t cdw10, uint32_t cdw11, uint32_t cdw12, const void *buf,
			uint32_t len, const struct fq_copy_limits *lim, struct fq_copy_range *out,
			uint32_t *nr, uint64_t *total);

#endif
