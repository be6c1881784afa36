/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli) for NVMe/TCP header and data digests, NVMe/TCP 1.0
 * §3.6.1.1. Backed by ISA-L's crc32_iscsi, which uses the SSE4.2/PCLMUL
 * instructions when the CPU has them.
 */
#ifndef FQ_PROTO_CRC32C_H
#define FQ_PROTO_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FQ_CRC32C_SEED 0xffffffffu

/* Continue a running CRC over @len bytes; start with FQ_CRC32C_SEED. */
uint32_t fq_crc32c_update(uint32_t crc, const void *buf, size_t len);

/* Finish a running CRC: the digest as it goes on the wire (little-endian). */
static inline uint32_t fq_crc32c_final(uint32_t crc)
{
	return crc ^ 0xffffffffu;
}

/* One-shot digest of a buffer. */
uint32_t fq_crc32c(const void *buf, size_t len);

/*
 * One-shot digest of data that is probably not in the CPU cache, such as a
 * read served from a large RAM namespace: every cache line of a 1-16 KiB
 * buffer is requested first so the misses overlap. On data that is in the
 * cache this costs about 10%, so it is for cold data only.
 */
uint32_t fq_crc32c_uncached(const void *buf, size_t len);

/* One-shot digest of an iovec array. */
uint32_t fq_crc32c_iov(const struct iovec *iov, int iovcnt);

#endif
