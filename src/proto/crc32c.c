/* SPDX-License-Identifier: MIT */
#include "crc32c.h"

#include <isa-l/crc.h>

/*
 * ISA-L's crc32_iscsi takes and returns the raw register (no final XOR), so
 * chaining calls is plain: pass the previous return value as the seed.
 */
/*
 * crc32_iscsi runs three interleaved streams over thirds of the buffer, and
 * each stream's loads wait on the one before. On a block that is not in the
 * cache (a read served from a RAM namespace) that serialises the misses.
 * Asking for every line first lets them overlap: one 4 KiB block of a 1 GiB
 * memory took 690-920 ns without and 610-650 ns with the prefetch on the
 * bench/ machine. On a block that is in the cache the prefetches are pure
 * cost (171 -> 189 ns, bench/crc_speed), so only callers that expect cold
 * data ask for them. Longer buffers are streamed well enough by the
 * hardware prefetcher.
 */
#define PREFETCH_MIN 1024u
#define PREFETCH_MAX 16384u
#define CACHE_LINE 64u

uint32_t fq_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

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

uint32_t fq_crc32c_uncached(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (len >= PREFETCH_MIN && len <= PREFETCH_MAX)
		for (size_t off = 0; off < len; off += CACHE_LINE)
			__builtin_prefetch(p + off, 0, 3);
	return fq_crc32c(buf, len);
}

uint32_t fq_crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = FQ_CRC32C_SEED;

	for (int i = 0; i < iovcnt; i++)
		crc = fq_crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return fq_crc32c_final(crc);
}
