/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the Copy command decoder (src/proto/copy.c). The
 * input gives the command dwords, the namespace's limits and the
 * descriptor bytes; the descriptors are copied into a buffer of exactly
 * their length, so AddressSanitizer catches a read past it. On success the
 * harness checks what the target relies on and aborts if it breaks: no
 * more ranges than MSRC allows, each range inside the namespace and within
 * MSSRL, the total within MCL and the destination inside the namespace.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	struct fq_copy_limits lim;
	uint32_t cdw[3], nr = 0;
	uint64_t total = 0, sum = 0, sdlba;
	uint8_t *buf;
	uint16_t st;

	if (size < 12 + 15)
		return 0;
	memcpy(cdw, data, 12);
	lim.msrc = data[12];
	memcpy(&lim.mssrl, data + 13, 2);
	memcpy(&lim.mcl, data + 15, 4);
	memcpy(&lim.nblocks, data + 19, 8);
	data += 27;
	size -= 27;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	st = fq_copy_decode(cdw[0], cdw[1], cdw[2], size ? buf : NULL, (uint32_t)size, &lim, out,
			    &nr, &total);
	if (st == 0) {
		sdlba = cdw[0] | ((uint64_t)cdw[1] << 32);
		check(nr >= 1 && nr <= (uint32_t)lim.msrc + 1 && nr * 32 <= size);
		for (uint32_t i = 0; i < nr; i++) {
			check(out[i].nlb >= 1 && (!lim.mssrl || out[i].nlb <= lim.mssrl));
			check(out[i].slba < lim.nblocks && out[i].nlb <= lim.nblocks - out[i].slba);
			sum += out[i].nlb;
		}
		check(sum == total && (!lim.mcl || total <= lim.mcl));
		check(sdlba < lim.nblocks && total <= lim.nblocks - sdlba);
	} else {
		check(st & FQ_STATUS_DNR);
	}
	free(buf);
	return 0;
}
