/* SPDX-License-Identifier: MIT */
/* The INI reader over inih (src/util/ini_file.c): line numbers, limits, stops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ini.h>

#include "util/ini_file.h"

struct seen {
	int lines;	 /* on_line calls */
	int line_of[16]; /* line number of each on_line call */
	int npairs;
	char pairs[16][160];
	int cur_line; /* the line on_line saw last */
	int pair_line[16];
	int stop_line; /* on_line stops here (0: never) */
	int refuse;    /* on_pair refuses this pair number, from 1 (0: never) */
};

static int on_line(void *user, const char *line, size_t len, int lineno)
{
	struct seen *s = user;

	assert_true(len > 0);
	assert_non_null(line);
	if (s->lines < 16)
		s->line_of[s->lines] = lineno;
	s->lines++;
	s->cur_line = lineno;
	return lineno == s->stop_line;
}

static int on_pair(void *user, const char *section, const char *key, const char *value)
{
	struct seen *s = user;

	if (s->npairs < 16) {
		snprintf(s->pairs[s->npairs], sizeof(s->pairs[0]), "%s/%s=%s", section, key,
			 value ? value : "(null)");
		s->pair_line[s->npairs] = s->cur_line;
	}
	s->npairs++;
	return s->npairs != s->refuse;
}

static int run(const char *text, size_t max_line, struct seen *s, int *lineno)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	assert_non_null(f);
	r = fq_ini_parse(f, max_line, on_line, on_pair, s, lineno);
	fclose(f);
	return r;
}

static void counts_lines(void **state)
{
	struct seen s = {0};
	int lineno = -1;

	(void)state;
	assert_int_equal(run("; comment\n[a]\nx = 1\n\n[b]\r\ny=two words\n", 100, &s, &lineno), 0);
	assert_int_equal(lineno, 6);
	assert_int_equal(s.lines, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(s.line_of[i], i + 1);
	assert_int_equal(s.npairs, 2);
	assert_string_equal(s.pairs[0], "a/x=1");
	assert_int_equal(s.pair_line[0], 3);
	assert_string_equal(s.pairs[1], "b/y=two words");
	assert_int_equal(s.pair_line[1], 6);
}

/* A line longer than inih's first buffer arrives whole and counts once. */
static void long_lines(void **state)
{
	size_t n = 5000;
	char *text = malloc(n + 64), *p = text;
	struct seen s = {0};
	int lineno = 0;

	(void)state;
	p += sprintf(p, "[s]\nk = ");
	memset(p, 'v', n);
	p += n;
	strcpy(p, "\nz = 1\n");
	assert_int_equal(run(text, n + 16, &s, &lineno), 0);
	assert_int_equal(lineno, 3);
	assert_int_equal(s.npairs, 2);
	assert_int_equal(s.pair_line[1], 3);
	assert_string_equal(s.pairs[1], "s/z=1");

	/* The same line over the limit: -E2BIG on its line, never shown to on_line. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(run(text, n, &s, &lineno), -E2BIG);
	assert_int_equal(lineno, 2);
	assert_int_equal(s.lines, 1);
	assert_int_equal(s.npairs, 0);
	free(text);
}

static void nul_byte(void **state)
{
	static const char text[] = "[s]\na = 1\nb = x\0y\nc = 3\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct seen s = {0};
	int lineno = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fq_ini_parse(f, 100, on_line, on_pair, &s, &lineno), -EILSEQ);
	fclose(f);
	assert_int_equal(lineno, 3);
	assert_int_equal(s.npairs, 1);
}

static void stops(void **state)
{
	const char *text = "[s]\na = 1\nb = 2\nc = 3\n";
	struct seen s = {0};
	int lineno = 0;

	(void)state;
	/* on_line stops: nothing of that line or after reaches on_pair. */
	s.stop_line = 3;
	assert_int_equal(run(text, 100, &s, &lineno), -ECANCELED);
	assert_int_equal(lineno, 3);
	assert_int_equal(s.npairs, 1);

	/* on_pair refuses the second pair: the parse ends there, on its line. */
	memset(&s, 0, sizeof(s));
	s.refuse = 2;
	assert_int_equal(run(text, 100, &s, &lineno), 3);
	assert_int_equal(s.npairs, 2);
	assert_int_equal(s.lines, 3);

	/* inih's own syntax error: the first bad line, nothing after it. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(run("[s]\na = 1\nnot a pair\nb = 2\n", 100, &s, &lineno), 3);
	assert_int_equal(s.npairs, 1);
}

/* inih's settings are global: they are put back after every parse. */
static void settings_restored(void **state)
{
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	bool stop = ini_stop_on_first_error;
	int max_line = ini_max_line, lineno;
	struct seen s = {0};

	(void)state;
	assert_int_equal(run("[s]\na = 1\n", 8000, &s, &lineno), 0);
	assert_int_equal(ini_max_line, max_line);
	assert_int_equal(ini_use_stack, use_stack);
	assert_int_equal(ini_allow_realloc, allow_realloc);
	assert_int_equal(ini_stop_on_first_error, stop);
	memset(&s, 0, sizeof(s));
	assert_int_equal(run("[s]\na = 123456789\n", 10, &s, &lineno), -E2BIG);
	assert_int_equal(lineno, 2);
	assert_int_equal(ini_max_line, max_line);
	memset(&s, 0, sizeof(s));
	assert_int_equal(run("[s]\na = 1\n", 10, &s, &lineno), 0);
	assert_int_equal(s.npairs, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_lines),	     cmocka_unit_test(long_lines),
		cmocka_unit_test(nul_byte),	     cmocka_unit_test(stops),
		cmocka_unit_test(settings_restored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
