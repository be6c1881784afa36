/* SPDX-License-Identifier: MIT */
/* The Copy command decoder (NVM Command Set 2.0 §3.2.2) against a namespace's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/copy.h"

#define NBLOCKS 10000u

static const struct fq_copy_limits lim = {.msrc = 3, .mssrl = 64, .mcl = 128, .nblocks = NBLOCKS};

struct cmd {
	uint32_t cdw10, cdw11, cdw12;
	uint8_t buf[FQ_COPY_MAX_RANGES * sizeof(struct fq_copy_desc0) + 1];
	uint32_t nr;
};

/* Descriptors written as bytes at their spec offsets, not through the struct. */
static void add(struct cmd *c, uint64_t slba, uint32_t nlb)
{
	uint8_t *d = c->buf + (size_t)c->nr * 32;
	uint16_t n0 = (uint16_t)(nlb - 1);

	memset(d, 0xee, 8); /* reserved bytes 0-7 are ignored */
	for (int i = 0; i < 8; i++)
		d[8 + i] = (uint8_t)(slba >> (8 * i));
	d[16] = (uint8_t)n0;
	d[17] = (uint8_t)(n0 >> 8);
	c->nr++;
	c->cdw12 = (c->cdw12 & ~FQ_COPY_NR_MASK) | (c->nr - 1);
}

static uint16_t run(const struct cmd *c, struct fq_copy_range *out, uint32_t *nr, uint64_t *total)
{
	return fq_copy_decode(c->cdw10, c->cdw11, c->cdw12, c->buf, c->nr * 32, &lim, out, nr,
			      total);
}

static void expect(const struct cmd *c, unsigned sct, unsigned sc)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	uint32_t nr = 0;
	uint64_t total = 0;
	uint16_t st = run(c, out, &nr, &total);

	assert_int_equal(fq_status_sct(st), sct);
	assert_int_equal(fq_status_sc(st), sc);
	assert_true(st & FQ_STATUS_DNR);
}

static void decodes_ranges_in_order(void **state)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	struct cmd c = {.cdw10 = 500};
	uint32_t nr = 0;
	uint64_t total = 0;

	(void)state;
	add(&c, 0x1234, 64);
	add(&c, 7, 1);
	add(&c, NBLOCKS - 10, 10);
	assert_int_equal(run(&c, out, &nr, &total), 0);
	assert_int_equal(nr, 3);
	assert_int_equal(total, 75);
	assert_int_equal(out[0].slba, 0x1234);
	assert_int_equal(out[0].nlb, 64);
	assert_int_equal(out[1].slba, 7);
	assert_int_equal(out[1].nlb, 1);
	assert_int_equal(out[2].slba, NBLOCKS - 10);
}

static void unknown_format_is_invalid_field(void **state)
{
	struct cmd c = {0};

	(void)state;
	add(&c, 0, 1);
	c.cdw12 |= 1u << FQ_COPY_DESFMT_SHIFT;
	expect(&c, FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD);
	c.cdw12 = (c.cdw12 & ~(0xfu << FQ_COPY_DESFMT_SHIFT)) | (0xfu << FQ_COPY_DESFMT_SHIFT);
	expect(&c, FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD);
}

static void more_ranges_than_msrc(void **state)
{
	struct cmd c = {0};

	(void)state;
	for (int i = 0; i < 4; i++)
		add(&c, (uint64_t)i, 1);
	{
		struct fq_copy_range out[FQ_COPY_MAX_RANGES];
		uint32_t nr;
		uint64_t total;

		assert_int_equal(run(&c, out, &nr, &total), 0); /* MSRC 3: four ranges */
	}
	add(&c, 9, 1);
	expect(&c, FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
}

static void range_over_mssrl(void **state)
{
	struct cmd c = {0};

	(void)state;
	add(&c, 0, 65);
	expect(&c, FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
}

static void total_over_mcl(void **state)
{
	struct cmd c = {0};

	(void)state;
	add(&c, 0, 64);
	add(&c, 100, 64);
	add(&c, 200, 1);
	expect(&c, FQ_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT);
}

static void lba_out_of_range(void **state)
{
	struct cmd src = {0}, dst = {.cdw10 = NBLOCKS - 1}, wrap = {0}, high = {.cdw11 = 1};

	(void)state;
	add(&src, NBLOCKS - 1, 2);
	expect(&src, FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	add(&dst, 0, 2);
	expect(&dst, FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	add(&wrap, UINT64_MAX, 2); /* slba + nlb wraps */
	expect(&wrap, FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	add(&high, 0, 1); /* SDLBA's upper dword in CDW11 */
	expect(&high, FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
}

static void short_data_is_rejected(void **state)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	struct cmd c = {0};
	uint32_t nr;
	uint64_t total;
	uint16_t st;

	(void)state;
	add(&c, 0, 1);
	add(&c, 1, 1);
	st = fq_copy_decode(c.cdw10, c.cdw11, c.cdw12, c.buf, 63, &lim, out, &nr, &total);
	assert_int_equal(fq_status_sc(st), FQ_SC_SGL_INVALID_DATA);
	st = fq_copy_decode(c.cdw10, c.cdw11, c.cdw12, NULL, 0, &lim, out, &nr, &total);
	assert_int_equal(fq_status_sc(st), FQ_SC_SGL_INVALID_DATA);
}

/* The spec lets source ranges overlap each other and the destination. */
static void overlapping_ranges_are_allowed(void **state)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	struct cmd c = {.cdw10 = 10};
	uint32_t nr;
	uint64_t total;

	(void)state;
	add(&c, 0, 32);
	add(&c, 16, 32);
	add(&c, 16, 32);
	assert_int_equal(run(&c, out, &nr, &total), 0);
	assert_int_equal(total, 96);
}

/* The descriptor may sit at any address (an in-capsule receive buffer). */
static void unaligned_buffer(void **state)
{
	struct fq_copy_range out[FQ_COPY_MAX_RANGES];
	struct cmd c = {0};
	uint32_t nr;
	uint64_t total;

	(void)state;
	add(&c, 77, 5);
	memmove(c.buf + 1, c.buf, 32);
	assert_int_equal(fq_copy_decode(0, 0, c.cdw12, c.buf + 1, 32, &lim, out, &nr, &total), 0);
	assert_int_equal(out[0].slba, 77);
	assert_int_equal(out[0].nlb, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_ranges_in_order),
		cmocka_unit_test(unknown_format_is_invalid_field),
		cmocka_unit_test(more_ranges_than_msrc),
		cmocka_unit_test(range_over_mssrl),
		cmocka_unit_test(total_over_mcl),
		cmocka_unit_test(lba_out_of_range),
		cmocka_unit_test(short_data_is_rejected),
		cmocka_unit_test(overlapping_ranges_are_allowed),
		cmocka_unit_test(unaligned_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
