/* SPDX-License-Identifier: MIT */
/*
 * CRC32C over whole blocks with two kinds of x86 hardware at once: carry-less
 * multiplication (PCLMULQDQ) folds the first half of a block while the CRC32
 * instruction runs four streams over the second half. The two execute on
 * different ports, so a block takes about as long as either half alone.
 */
#ifndef FQ_PROTO_CRC32C_FOLD_H
#define FQ_PROTO_CRC32C_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this CPU runs the folded path (x86-64 with SSE4.2 and PCLMULQDQ). */
bool fq_crc32c_fold_supported(void);

/*
 * Continue the raw CRC register *@crc over the longest prefix of @buf made of
 * whole blocks (4096 or 1024 bytes); returns that prefix's length, 0 when the
 * CPU lacks the instructions or @len is shorter than a block.
 */
size_t fq_crc32c_fold(uint32_t *crc, const void *buf, size_t len);

#endif
