/* SPDX-License-Identifier: MIT */
/* Error messages into caller-supplied buffers, the "char *err, size_t errlen" pairs. */
#ifndef FQ_UTIL_ERRF_H
#define FQ_UTIL_ERRF_H

#include <stddef.h>

/* printf into @err (NULL or @errlen 0: nothing; always terminated). */
void fq_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
