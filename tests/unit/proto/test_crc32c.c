/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli) digests against published vectors: RFC 3720 (iSCSI)
 * appendix B.4, which NVMe/TCP 1.0 §3.6.1.1 adopts for HDGST and DDGST, and
 * the common "123456789" check value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/crc32c.h"

static void rfc3720_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	memset(buf, 0x00, sizeof(buf));
	assert_int_equal(fq_crc32c(buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(fq_crc32c(buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(fq_crc32c(buf, sizeof(buf)), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(fq_crc32c(buf, sizeof(buf)), 0x113fdb5cu);
}

static void check_value(void **state)
{
	(void)state;
	assert_int_equal(fq_crc32c("123456789", 9), 0xe3069283u);
	/* Empty input: the seed inverted back gives 0. */
	assert_int_equal(fq_crc32c("", 0), 0);
	assert_int_equal(fq_crc32c_final(FQ_CRC32C_SEED), 0);
}

static void fill(uint8_t *buf, size_t len)
{
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

static void chained_equals_one_shot(void **state)
{
	uint8_t buf[1031];
	uint32_t whole, crc;

	(void)state;
	fill(buf, sizeof(buf));
	whole = fq_crc32c(buf, sizeof(buf));
	/* Every split point, including empty first and last pieces. */
	for (size_t cut = 0; cut <= sizeof(buf); cut++) {
		crc = fq_crc32c_update(FQ_CRC32C_SEED, buf, cut);
		crc = fq_crc32c_update(crc, buf + cut, sizeof(buf) - cut);
		assert_int_equal(fq_crc32c_final(crc), whole);
	}
	/* Many odd-sized pieces. */
	crc = FQ_CRC32C_SEED;
	for (size_t off = 0, step = 1; off < sizeof(buf); off += step, step = step * 2 + 1) {
		size_t n = step < sizeof(buf) - off ? step : sizeof(buf) - off;

		crc = fq_crc32c_update(crc, buf + off, n);
	}
	assert_int_equal(fq_crc32c_final(crc), whole);
	/* A changed byte changes the digest. */
	buf[517] ^= 1;
	assert_int_not_equal(fq_crc32c(buf, sizeof(buf)), whole);
}

static void iov_equals_contiguous(void **state)
{
	uint8_t buf[4096 + 13];
	struct iovec iov[6];
	uint32_t whole;

	(void)state;
	fill(buf, sizeof(buf));
	whole = fq_crc32c(buf, sizeof(buf));
	iov[0] = (struct iovec){buf, 7};
	iov[1] = (struct iovec){buf + 7, 0};
	iov[2] = (struct iovec){buf + 7, 4000};
	iov[3] = (struct iovec){buf + 4007, 1};
	iov[4] = (struct iovec){buf + 4008, 0};
	iov[5] = (struct iovec){buf + 4008, sizeof(buf) - 4008};
	assert_int_equal(fq_crc32c_iov(iov, 6), whole);
	iov[0] = (struct iovec){buf, sizeof(buf)};
	assert_int_equal(fq_crc32c_iov(iov, 1), whole);
	assert_int_equal(fq_crc32c_iov(iov, 0), 0);
	/* Order matters: swapped pieces give another digest. */
	iov[0] = (struct iovec){buf + 7, 4000};
	iov[1] = (struct iovec){buf, 7};
	iov[2] = (struct iovec){buf + 4007, sizeof(buf) - 4007};
	assert_int_not_equal(fq_crc32c_iov(iov, 3), whole);
}

/* Bit at a time, straight from the definition: independent of ISA-L. */
static uint32_t ref_update(uint32_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

/*
 * Lengths on both sides of the prefetch window (1 KiB to 16 KiB) and of
 * common I/O sizes, odd offsets and arbitrary running registers, against
 * the reference.
 */
static void matches_reference(void **state)
{
	static uint8_t buf[16384 + 1024 + 64];
	static const size_t lens[] = {0,    1,	  15,	1023, 1024,  1025,  2047,  4095,
				      4096, 4097, 8192, 9216, 16383, 16384, 16385, 16384 + 1024};
	uint32_t x = 0x9e3779b9;

	(void)state;
	fill(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t off = 0; off < 64; off += 7) {
			uint32_t seed = x = x * 1664525u + 1013904223u;
			uint32_t want = ref_update(seed, buf + off, lens[i]);

			assert_int_equal(fq_crc32c_update(seed, buf + off, lens[i]), want);
		}
	}
	/* Random lengths and offsets. */
	for (int t = 0; t < 300; t++) {
		size_t off, len;
		uint32_t seed;

		x = x * 1664525u + 1013904223u;
		off = x % 64;
		x = x * 1664525u + 1013904223u;
		len = x % (sizeof(buf) - 64);
		seed = x * 2654435761u;
		assert_int_equal(fq_crc32c_update(seed, buf + off, len),
				 ref_update(seed, buf + off, len));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc3720_vectors),	   cmocka_unit_test(check_value),
		cmocka_unit_test(chained_equals_one_shot), cmocka_unit_test(iov_equals_contiguous),
		cmocka_unit_test(matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
