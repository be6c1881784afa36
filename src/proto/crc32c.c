/* SPDX-License-Identifier: MIT */
#include "crc32c.h"

#include <isa-l/crc.h>

/*
 * ISA-L's crc32_iscsi takes and returns the raw register (no final XOR), so
 * chaining calls is plain: pass the previous return value as the seed.
 */
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

uint32_t fq_crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = FQ_CRC32C_SEED;

	for (int i = 0; i < iovcnt; i++)
		crc = fq_crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return fq_crc32c_final(crc);
}
