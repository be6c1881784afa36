/* SPDX-License-Identifier: MIT */
/*
 * Copy command decoding (NVM Command Set 2.0 §3.2.2). Pure: no I/O, no
 * allocation; every field the host controls is checked here before the
 * target reads or writes a block.
 */
#include "copy.h"

#include <string.h>

#define ST(sct, sc) (FQ_STATUS(sct, sc) | FQ_STATUS_DNR)

static int range_fits(uint64_t slba, uint64_t nlb, uint64_t nblocks)
{
	return slba < nblocks && nlb <= nblocks - slba;
}

uint16_t fq_copy_decode(uint32_t cdw10, uint32_t cdw11, uint32_t cdw12, const void *buf,
			uint32_t len, const struct fq_copy_limits *lim, struct fq_copy_range *out,
			uint32_t *nr, uint64_t *total)
{
	uint64_t sdlba = cdw10 | ((uint64_t)cdw11 << 32);
	uint32_t n = (cdw12 & FQ_COPY_NR_MASK) + 1;
	uint32_t fmt = (cdw12 >> FQ_COPY_DESFMT_SHIFT) & FQ_COPY_DESFMT_MASK;
	const uint8_t *p = buf;
	uint64_t sum = 0;

	if (fmt != FQ_COPY_DESFMT_0)
		return ST(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD);
	if (n > (uint32_t)lim->msrc + 1)
		return ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
	if (!buf || len < n * sizeof(struct fq_copy_desc0))
		return ST(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA);
	for (uint32_t i = 0; i < n; i++) {
		struct fq_copy_desc0 d;

		/* The buffer may be a receive buffer: no alignment is assumed. */
		memcpy(&d, p + (size_t)i * sizeof(d), sizeof(d));
		out[i].slba = d.slba;
		out[i].nlb = (uint32_t)d.nlb + 1;
		if (lim->mssrl && out[i].nlb > lim->mssrl)
			return ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
		sum += out[i].nlb;
	}
	if (lim->mcl && sum > lim->mcl)
		return ST(FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
	for (uint32_t i = 0; i < n; i++)
		if (!range_fits(out[i].slba, out[i].nlb, lim->nblocks))
			return ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	if (!range_fits(sdlba, sum, lim->nblocks))
		return ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	*nr = n;
	*total = sum;
	return 0;
}
