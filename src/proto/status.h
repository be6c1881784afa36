/* SPDX-License-Identifier: MIT */
/* Readable names for NVMe completion status values (SCT/SC). */
#ifndef FQ_PROTO_STATUS_H
#define FQ_PROTO_STATUS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Describe the 16-bit status field of a CQE (phase bit ignored) as text,
 * e.g. "Invalid Field in Command (sct 0x0 sc 0x02, DNR)". Returns @buf.
 */
const char *fq_status_str(uint16_t status, char *buf, size_t len);

/* The bare name of an SCT/SC pair, e.g. "LBA Out of Range"; "Unknown" if none. */
const char *fq_status_name(unsigned sct, unsigned sc);

#endif
