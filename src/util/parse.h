/* SPDX-License-Identifier: MIT */
/*
 * Numbers, sizes and booleans as configuration files and command lines
 * write them. One set of rules for every parser in the tree, so "64M" means
 * the same bytes in a namespace spec, a bdev option and a storage key.
 */
#ifndef FQ_UTIL_PARSE_H
#define FQ_UTIL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Unsigned decimal, or hex after "0x"/"0X". Nothing else may stand in the
 * string: no blanks, sign, second "0x" or trailing text (strtoull alone
 * would take the first three). A leading 0 is decimal, never octal.
 * Returns 0, -ERANGE when the value does not fit in 64 bits, or -EINVAL.
 */
int fq_parse_u64(const char *s, uint64_t *out);

/*
 * A byte count: decimal digits, then optionally a unit K, M, G or T (any
 * case; powers of 1024), then optionally "B" ("4KB", "512B") or, after a
 * unit, "iB" ("64MiB"). Returns 0, -ERANGE when the bytes do not fit in 64
 * bits, or -EINVAL for anything else (hex, a sign, blanks, "1.5G", "1Mb").
 * @out is written only on success.
 */
int fq_parse_size(const char *s, uint64_t *out);

/* yes/true/on/1 or no/false/off/0, any case. Returns 0 or -EINVAL. */
int fq_parse_bool(const char *s, bool *out);

#endif
