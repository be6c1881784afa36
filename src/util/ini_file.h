/* SPDX-License-Identifier: MIT */
/*
 * INI files through inih, one physical line at a time. inih neither reports
 * line numbers to its handler (in the Debian build) nor keeps section names
 * longer than 50 bytes, so every loader in the tree reads lines itself,
 * counts them and looks at each before inih does: this is that reader.
 */
#ifndef FQ_UTIL_INI_FILE_H
#define FQ_UTIL_INI_FILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Sees each physical line (@len bytes, with its '\n' when it has one) and
 * its number, counted from 1, before inih parses it: the place to track
 * section headers and to reject shapes inih would take differently. Return
 * 0 to go on, anything else to stop the parse.
 */
typedef int (*fq_ini_line_fn)(void *user, const char *line, size_t len, int lineno);

/* inih's handler: nonzero to go on, 0 to stop (the parse stops there). */
typedef int (*fq_ini_pair_fn)(void *user, const char *section, const char *key, const char *value);

/*
 * Parse @f, lines of at most @max_line bytes. Returns 0; the number of the
 * first line inih could not parse or whose pair @on_pair refused (> 0);
 * -E2BIG for a line longer than @max_line, -EILSEQ for a line with a NUL
 * byte (neither reaches @on_line); -ECANCELED when @on_line stopped;
 * -ENOMEM; -EIO on a read error. *@lineno is the last line read.
 * Start-up only: inih's line-length settings are global and changed for the
 * duration of the call (not thread-safe).
 */
int fq_ini_parse(FILE *f, size_t max_line, fq_ini_line_fn on_line, fq_ini_pair_fn on_pair,
		 void *user, int *lineno);

#endif
