/* SPDX-License-Identifier: MIT */
/*
 * Folded CRC32C, see crc32c_fold.h. All arithmetic is on bit-reflected
 * polynomials over GF(2) modulo the Castagnoli polynomial P, as the CRC32
 * instruction uses them.
 *
 * A block of 128·n bytes is split in five: part A (the first 64·n bytes) and
 * four streams of 16·n bytes. Each loop turn folds A's four 16-byte lanes
 * forward by 64 bytes and feeds two 8-byte words to each stream's CRC32
 * chain; the chains' latency (3 cycles per word) and the folds' (7 per
 * multiply) overlap. At the end:
 * - A's lanes are folded into one 16-byte value R whose CRC equals A's
 *   (with the incoming register XORed into A's first bytes);
 * - each partial CRC is moved past the bytes that follow it by multiplying
 *   by x^(8·len) mod P, and the five are XORed together.
 *
 * The constants are powers of x modulo P, computed once at load time:
 * - folding 16 bytes forward by d bytes takes x^(8d+31) for its low half
 *   and x^(8d-33) for its high half;
 * - moving a CRC past len bytes is a carry-less multiply by x^(8·len-33),
 *   then the CRC32 instruction over the 64-bit product.
 * The offsets of 31 and -33 come from the reflected bit order and the 32-bit
 * shift the CRC32 instruction applies.
 */
#include "proto/crc32c_fold.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define POLY_NORMAL 0x1edc6f41u /* P without its x^32 term, normal bit order */
#define LANES_BYTES 64u		/* bytes of part A consumed per loop turn */
#define STREAM_STEP 16u		/* bytes per stream per loop turn */
#define NSTREAMS 4

/* Block sizes, largest first: 4096 is the common I/O size. */
static const unsigned block_turns[] = {32, 8};
#define NSIZES (sizeof(block_turns) / sizeof(block_turns[0]))

struct fold_consts {
	uint64_t shift[NSTREAMS]; /* past the rest of the block: A, then streams 0..2 */
};

static struct {
	bool ready;
	__m128i fold64, fold48, fold32, fold16;
	struct fold_consts size[NSIZES];
} k;

/* x^e mod P, bit-reflected into the low 32 bits. */
static uint32_t xpow_reflected(unsigned e)
{
	uint64_t r = 1;
	uint32_t out = 0;

	for (unsigned i = 0; i < e; i++) {
		r <<= 1;
		if (r & (1ull << 32))
			r ^= (1ull << 32) | POLY_NORMAL;
	}
	for (int i = 0; i < 32; i++)
		if (r & (1ull << i))
			out |= 1u << (31 - i);
	return out;
}

static __m128i fold_consts_for(unsigned d)
{
	return _mm_set_epi64x((long long)xpow_reflected(8 * d - 33),
			      (long long)xpow_reflected(8 * d + 31));
}

__attribute__((constructor)) static void fold_init(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("sse4.2") || !__builtin_cpu_supports("pclmul"))
		return;
	k.fold64 = fold_consts_for(64);
	k.fold48 = fold_consts_for(48);
	k.fold32 = fold_consts_for(32);
	k.fold16 = fold_consts_for(16);
	for (size_t s = 0; s < NSIZES; s++) {
		unsigned stream_len = STREAM_STEP * block_turns[s];

		for (int i = 0; i < NSTREAMS; i++)
			k.size[s].shift[i] = xpow_reflected(8 * stream_len * (NSTREAMS - i) - 33);
	}
	k.ready = true;
}

#define FOLD_TARGET __attribute__((target("sse4.2,pclmul")))

/* 16 bytes folded forward: a value with the same CRC contribution further on. */
FOLD_TARGET static inline __m128i fold(__m128i x, __m128i kk)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, kk, 0x00), _mm_clmulepi64_si128(x, kk, 0x11));
}

/* c·x^(8·len) mod P, with kk = x^(8·len-33): the CRC of c followed by len zeros. */
FOLD_TARGET static inline uint32_t crc_shift(uint32_t c, uint64_t kk)
{
	__m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c),
					 _mm_cvtsi64_si128((long long)kk), 0x00);

	return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(p));
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static inline __m128i load128(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

FOLD_TARGET static uint32_t fold_block(uint32_t crc, const uint8_t *p, unsigned turns,
				       const struct fold_consts *kc)
{
	const size_t slen = (size_t)STREAM_STEP * turns;
	const uint8_t *a = p, *s = p + (size_t)LANES_BYTES * turns;
	__m128i x0 = _mm_xor_si128(load128(a), _mm_cvtsi32_si128((int)crc));
	__m128i x1 = load128(a + 16), x2 = load128(a + 32), x3 = load128(a + 48);
	uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
	uint32_t ca;
	__m128i r;

	for (unsigned t = 0; t < turns; t++, s += STREAM_STEP) {
		if (t + 1 < turns) {
			a += LANES_BYTES;
			x0 = _mm_xor_si128(fold(x0, k.fold64), load128(a));
			x1 = _mm_xor_si128(fold(x1, k.fold64), load128(a + 16));
			x2 = _mm_xor_si128(fold(x2, k.fold64), load128(a + 32));
			x3 = _mm_xor_si128(fold(x3, k.fold64), load128(a + 48));
		}
		c0 = _mm_crc32_u64(c0, load64(s));
		c1 = _mm_crc32_u64(c1, load64(s + slen));
		c2 = _mm_crc32_u64(c2, load64(s + 2 * slen));
		c3 = _mm_crc32_u64(c3, load64(s + 3 * slen));
		c0 = _mm_crc32_u64(c0, load64(s + 8));
		c1 = _mm_crc32_u64(c1, load64(s + slen + 8));
		c2 = _mm_crc32_u64(c2, load64(s + 2 * slen + 8));
		c3 = _mm_crc32_u64(c3, load64(s + 3 * slen + 8));
	}
	/* The four lanes into one 16-byte value with the same CRC as part A. */
	r = _mm_xor_si128(_mm_xor_si128(fold(x0, k.fold48), fold(x1, k.fold32)),
			  _mm_xor_si128(fold(x2, k.fold16), x3));
	ca = (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(r));
	ca = (uint32_t)_mm_crc32_u64(ca, (uint64_t)_mm_extract_epi64(r, 1));
	return crc_shift(ca, kc->shift[0]) ^ crc_shift((uint32_t)c0, kc->shift[1]) ^
	       crc_shift((uint32_t)c1, kc->shift[2]) ^ crc_shift((uint32_t)c2, kc->shift[3]) ^
	       (uint32_t)c3;
}

bool fq_crc32c_fold_supported(void)
{
	return k.ready;
}

size_t fq_crc32c_fold(uint32_t *crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (!k.ready)
		return 0;
	for (size_t s = 0; s < NSIZES; s++) {
		size_t bsize = (size_t)block_turns[s] * (LANES_BYTES + NSTREAMS * STREAM_STEP);

		while (len - done >= bsize) {
			*crc = fold_block(*crc, p + done, block_turns[s], &k.size[s]);
			done += bsize;
		}
	}
	return done;
}

#else /* not x86-64: the caller's portable path does all the work */

bool fq_crc32c_fold_supported(void)
{
	return false;
}

size_t fq_crc32c_fold(uint32_t *crc, const void *buf, size_t len)
{
	(void)crc;
	(void)buf;
	(void)len;
	return 0;
}

#endif
