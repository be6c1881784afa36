/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr, one line per event, safe from any thread. */
#ifndef FQ_UTIL_LOG_H
#define FQ_UTIL_LOG_H

/* The levels, fq_log_set_level() and fq_log_get_level() are public. */
#include "fabriq/log.h"

/* Read directly by fq_dbg so a disabled debug line costs one compare. */
extern int fq_log_level;

void fq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fq_err(...) fq_log(FQ_LOG_ERROR, __VA_ARGS__)
#define fq_warn(...) fq_log(FQ_LOG_WARN, __VA_ARGS__)
#define fq_info(...) fq_log(FQ_LOG_INFO, __VA_ARGS__)
#define fq_dbg(...)                                                                                \
	do {                                                                                       \
		if (__builtin_expect(fq_log_level >= FQ_LOG_DEBUG, 0))                             \
			fq_log(FQ_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif
