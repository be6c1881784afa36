/* SPDX-License-Identifier: MIT */
/*
 * Digest compute cost: CRC32C of one 4 KiB block with ISA-L's crc32_iscsi
 * alone and with the call Fabriq makes for such data. Once on a block in the
 * L1 cache (what the host digests right after its receive: fq_crc32c) and
 * once on a random block of a large memory (what the target digests when it
 * serves a read from a RAM namespace: fq_crc32c_uncached, which requests
 * every line first). The hot case also times fq_crc32c_uncached, to show
 * what the prefetch would cost on data that is already in the cache.
 * Prints one JSON line with the fastest and the median batch of each, in
 * nanoseconds per block: the machine's neighbours make single batches noisy.
 *
 *   crc_speed [--mem SIZE_MIB]
 */
#include <isa-l/crc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "proto/crc32c.h"

#define BLOCK 4096u
#define BATCH 2000
#define BATCHES 101

typedef uint32_t (*crc_fn)(uint32_t seed, const uint8_t *p, size_t len);

static uint32_t with_isal(uint32_t seed, const uint8_t *p, size_t len)
{
	return crc32_iscsi((unsigned char *)p, (int)len, seed);
}

/* The one-shot calls start from their own seed: vary the data instead. */
static uint32_t with_fabriq(uint32_t seed, const uint8_t *p, size_t len)
{
	return fq_crc32c(p, len) ^ seed;
}

static uint32_t with_fabriq_uncached(uint32_t seed, const uint8_t *p, size_t len)
{
	return fq_crc32c_uncached(p, len) ^ seed;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static volatile uint32_t sink;

/* ns per block over BATCHES batches: [0] fastest, [1] median. */
static void measure(crc_fn f, const uint8_t *base, size_t nblocks, const uint32_t *order,
		    double out[2])
{
	double t[BATCHES];

	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		uint32_t acc = 0;

		for (int i = 0; i < BATCH; i++) {
			size_t blk =
				nblocks > 1 ? order[(b * BATCH + i) % (BATCH * 8)] % nblocks : 0;

			acc ^= f((uint32_t)i, base + blk * BLOCK, BLOCK);
		}
		sink = acc;
		t[b] = (now_ns() - t0) / BATCH;
	}
	qsort(t, BATCHES, sizeof(t[0]), cmp_double);
	out[0] = t[0];
	out[1] = t[BATCHES / 2];
}

int main(int argc, char **argv)
{
	size_t mem_mib = 1024, nblocks;
	uint8_t *hot, *big;
	uint32_t *order, x = 2463534242u;
	double r[5][2];

	if (argc == 3 && !strcmp(argv[1], "--mem")) {
		char *end;

		mem_mib = strtoul(argv[2], &end, 10);
		if (*end || mem_mib == 0 || mem_mib > (1ul << 20)) {
			fprintf(stderr, "crc_speed: --mem takes MiB from 1 to 1048576\n");
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: crc_speed [--mem SIZE_MIB]\n");
		return 2;
	}
	nblocks = (mem_mib << 20) / BLOCK;
	hot = aligned_alloc(64, BLOCK);
	order = malloc(sizeof(*order) * BATCH * 8);
	big = mmap(NULL, nblocks * BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (!hot || !order || big == MAP_FAILED) {
		perror("crc_speed");
		return 1;
	}
	(void)madvise(big, nblocks * BLOCK, MADV_HUGEPAGE);
	for (size_t i = 0; i < nblocks * BLOCK; i += 8) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		memcpy(big + i, &x, 4);
		memcpy(big + i + 4, &x, 4);
	}
	memcpy(hot, big, BLOCK);
	for (int i = 0; i < BATCH * 8; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		order[i] = x;
	}
	/* Both paths must agree before their speed means anything. */
	if (fq_crc32c_final(with_isal(FQ_CRC32C_SEED, big, BLOCK)) != fq_crc32c(big, BLOCK) ||
	    fq_crc32c(big, BLOCK) != fq_crc32c_uncached(big, BLOCK)) {
		fprintf(stderr, "crc_speed: digests differ\n");
		return 1;
	}
	measure(with_isal, hot, 1, order, r[0]);
	measure(with_fabriq, hot, 1, order, r[1]);
	measure(with_fabriq_uncached, hot, 1, order, r[4]);
	measure(with_isal, big, nblocks, order, r[2]);
	measure(with_fabriq_uncached, big, nblocks, order, r[3]);
	printf("{\"kind\":\"crc\",\"block\":%u,\"mem_mib\":%zu,"
	       "\"hot_isal_ns\":[%.1f,%.1f],\"hot_fabriq_ns\":[%.1f,%.1f],"
	       "\"hot_uncached_ns\":[%.1f,%.1f],"
	       "\"cold_isal_ns\":[%.1f,%.1f],\"cold_fabriq_ns\":[%.1f,%.1f]}\n",
	       BLOCK, mem_mib, r[0][0], r[0][1], r[1][0], r[1][1], r[4][0], r[4][1], r[2][0],
	       r[2][1], r[3][0], r[3][1]);
	munmap(big, nblocks * BLOCK);
	free(order);
	free(hot);
	return 0;
}
