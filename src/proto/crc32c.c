/* SPDX-License-Identifier: MIT */
#include "crc32c.h"
#include "crc32c_fold.h"

#include <isa-l/crc.h>

/*
 * ISA-L's crc32_iscsi takes and returns the raw register (no final XOR), so
 * chaining calls is plain: pass the previous return value as the seed.
 */
/*
 * Whole 4096- and 1024-byte blocks go through the folded path
 * (crc32c_fold.c), which is about 1.5 times as fast as crc32_iscsi on a
 * 4 KiB block in the cache (bench/crc_speed: 119 against 171 ns on the
 * bench/ machine when its neighbours are quiet); the rest, and everything on
 * a CPU without PCLMULQDQ, goes to ISA-L.
 *
 * crc32_iscsi runs three interleaved streams over thirds of the buffer, and
 * each stream's loads wait on the one before. On a block that is not in the
 * cache (a read served from a RAM namespace) that serialises the misses: a
 * cold 4 KiB block took 690-920 ns against 190-210 ns hot. Asking for every
 * line first lets the misses overlap (610-650 ns cold, no change hot).
 * Longer buffers are streamed well enough by the hardware prefetcher. The
 * folded path reads five streams at once and needs no such help.
 */
#define PREFETCH_MIN 1024u
#define PREFETCH_MAX 16384u
#define CACHE_LINE 64u

static void prefetch_all(const unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += CACHE_LINE)
		__builtin_prefetch(p + off, 0, 3);
}

uint32_t fq_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	size_t folded = fq_crc32c_fold(&crc, p, len);

	p += folded;
	len -= folded;
	if (!folded && len >= PREFETCH_MIN && len <= PREFETCH_MAX)
		prefetch_all(p, len);

	/* crc32_iscsi takes an int length: feed very large buffers in pieces. */
	while (len > 0x40000000u) {
		crc = crc32_iscsi((unsigned char *)p, 0x40000000, crc);
		p += 0x40000000u;
		len -= 0x40000000u;
	}
	return crc32_iscsi((unsigned char *)p, (int)len, crc);
}

uint32_t fq_crc32c(const void *buf, size_t len)
{
	return fq_crc32c_final(fq_crc32c_update(FQ_CRC32C_SEED, buf, len));
}

uint32_t fq_crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = FQ_CRC32C_SEED;

	for (int i = 0; i < iovcnt; i++)
		crc = fq_crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return fq_crc32c_final(crc);
}
