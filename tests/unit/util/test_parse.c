/* SPDX-License-Identifier: MIT */
/* The shared value parsers (src/util/parse.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/parse.h"

static void u64_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"0", 0},
		{"4096", 4096},
		{"010", 10}, /* decimal, never octal */
		{"0x10", 16},
		{"0XfF", 255},
		{"18446744073709551615", UINT64_MAX},
		{"0xFFFFFFFFFFFFFFFF", UINT64_MAX},
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (fq_parse_u64(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("'%s' -> %llu", good[i].s, (unsigned long long)v);
	}
}

static void u64_bad(void **state)
{
	static const char *const bad[] = {"",	   " 1", "1 ",	"+1",  "-1",  "0x",
					  "0x0x1", "1k", "12a", "0xg", "1.0", "x10"};
	uint64_t v = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fq_parse_u64(bad[i], &v) != -EINVAL || v != 7)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(fq_parse_u64(NULL, &v), -EINVAL);
	/* Too large is told apart, so a message can say so. */
	assert_int_equal(fq_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(fq_parse_u64("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(v, 7);
}

static void size_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"0", 0},
		{"4096", 4096},
		{"4k", 4096},
		{"4K", 4096},
		{"4KB", 4096},
		{"4KiB", 4096},
		{"512B", 512},
		{"64M", 64ull << 20},
		{"64MiB", 64ull << 20},
		{"1g", 1ull << 30},
		{"1G", 1ull << 30},
		{"2T", 2ull << 40},
		{"16777215T", 16777215ull << 40},
		{"18446744073709551615", UINT64_MAX},
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (fq_parse_size(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("'%s' -> %llu", good[i].s, (unsigned long long)v);
	}
}

static void size_bad(void **state)
{
	static const char *const bad[] = {
		"",    "-1",  " 1",    "1 ",   "+1", "1.5G", "12Q",   "k",   "M1",
		"1iB", "1Mb", "1MiBB", "0x10", "1P", "4kk",  "1GiBx", "1BB",
	};
	static const char *const huge[] = {
		"16777216T",
		"18446744073709551616",
		"99999999999999999999999G",
		"17179869184G",
	};
	uint64_t v = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fq_parse_size(bad[i], &v) != -EINVAL || v != 7)
			fail_msg("'%s' was accepted", bad[i]);
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
		if (fq_parse_size(huge[i], &v) != -ERANGE || v != 7)
			fail_msg("'%s' did not overflow", huge[i]);
	assert_int_equal(fq_parse_size(NULL, &v), -EINVAL);
}

static void bools(void **state)
{
	static const char *const yes[] = {"1", "yes", "YES", "true", "True", "on", "ON"};
	static const char *const no[] = {"0", "no", "No", "false", "FALSE", "off", "Off"};
	static const char *const bad[] = {"", "2", "y", "n", "yess", " on", "enable"};
	bool b;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(fq_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(fq_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		if (fq_parse_bool(bad[i], &b) != -EINVAL || !b)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(fq_parse_bool(NULL, &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_good), cmocka_unit_test(u64_bad), cmocka_unit_test(size_good),
		cmocka_unit_test(size_bad), cmocka_unit_test(bools),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
