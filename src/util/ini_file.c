/* SPDX-License-Identifier: MIT */
#include "util/ini_file.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct ini_reader {
	FILE *f;
	size_t max_line;
	fq_ini_line_fn on_line;
	void *user;
	char *line; /* the physical line being handed to inih */
	size_t cap, len, off;
	int lineno;
	int rc; /* why reading stopped early, 0 while all is well */
};

/*
 * inih asks for at most @num - 1 bytes at a time; a line longer than its
 * buffer is handed over in pieces (inih grows the buffer and asks again), so
 * the count of lines stays the count of physical lines.
 */
static char *ini_read(char *str, int num, void *stream)
{
	struct ini_reader *rd = stream;
	size_t n;

	if (rd->rc || num < 2)
		return NULL;
	if (rd->off == rd->len) {
		ssize_t r = getline(&rd->line, &rd->cap, rd->f);

		if (r <= 0)
			return NULL;
		rd->len = (size_t)r;
		rd->off = 0;
		rd->lineno++;
		if (rd->len > rd->max_line)
			rd->rc = -E2BIG;
		else if (memchr(rd->line, '\0', rd->len))
			rd->rc = -EILSEQ;
		else if (rd->on_line && rd->on_line(rd->user, rd->line, rd->len, rd->lineno))
			rd->rc = -ECANCELED;
		if (rd->rc)
			return NULL;
	}
	n = rd->len - rd->off;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, rd->line + rd->off, n);
	str[n] = '\0';
	rd->off += n;
	return str;
}

int fq_ini_parse(FILE *f, size_t max_line, fq_ini_line_fn on_line, fq_ini_pair_fn on_pair,
		 void *user, int *lineno)
{
	struct ini_reader rd = {.f = f, .max_line = max_line, .on_line = on_line, .user = user};
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	bool stop = ini_stop_on_first_error;
	int max = ini_max_line, r;

	/* A heap buffer that grows to the longest line allowed, + "\r\n\0". */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = (int)max_line + 3;
	ini_stop_on_first_error = true;
	r = ini_parse_stream(ini_read, &rd, on_pair, user);
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max;
	ini_stop_on_first_error = stop;
	free(rd.line);
	if (lineno)
		*lineno = rd.lineno;
	if (rd.rc)
		return rd.rc;
	if (r == -2)
		return -ENOMEM;
	if (ferror(f))
		return -EIO;
	return r < 0 ? -EIO : r;
}
