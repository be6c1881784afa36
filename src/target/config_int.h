/* SPDX-License-Identifier: MIT */
/*
 * What the configuration's files share among themselves: config_value.c
 * (scalars, NQNs, addresses, the [target] key table), config_ns.c
 * (namespace specs), config_build.c (defaults and building by calls: the
 * quick-start command line and target.h), config_ini.c (the INI loader) and
 * config_validate.c (cross-field rules). config.h is the interface.
 */
#ifndef FQ_TARGET_CONFIG_INT_H
#define FQ_TARGET_CONFIG_INT_H

#include "target/config.h"
#include "util/errf.h"

#define FQ_CONF_DEFAULT_MODEL "Fabriq NVMe/TCP target"
#define FQ_CONF_MAX_NSID 0xFFFFFFFEu
#define FQ_CONF_PORT_NAME_MAX 31

/*
 * Read @nbytes bytes of hex digits from @s into @out (may be NULL). A '-'
 * must stand at each character offset listed in @dashes (ascending), and
 * nothing may follow the last digit.
 */
int fq_conf_parse_hex(const char *s, const int *dashes, int ndashes, uint8_t *out, int nbytes);
/* RFC 9562 §4 text form, 8-4-4-4-12; bytes in the order they are written. */
int fq_conf_parse_uuid(const char *s, uint8_t *out);

/* Numeric IPv4/IPv6 (or "localhost", written as 127.0.0.1) into @out. */
int fq_conf_check_addr(const char *host, bool v6_only, char *out, size_t outlen);
/* A TCP port, 1..65535, decimal. */
int fq_conf_parse_port(const char *s, uint16_t *port);
/* Serial and model number: printable ASCII (NVMe Base 2.0 §5.17.2.1, SN and MN). */
int fq_conf_check_ascii(const char *s, size_t max, char *msg, size_t len);
/* 1..FQ_CONF_PORT_NAME_MAX letters, digits, '-', '_' or '.'. */
bool fq_conf_port_name_ok(const char *n);

/* The serial a subsystem gets when the configuration gives none. */
void fq_conf_default_serial(const char *nqn, char serial[21]);

/* ---------------------------------------------------------------------------
 * The numeric keys of [target], shared by the loader and by validate().
 */

enum { FQ_CONF_NUM_SIZE = 1, FQ_CONF_NUM_POW2 = 2, FQ_CONF_NUM_INT = 4 };

struct fq_conf_num_key {
	const char *name;
	size_t off;
	uint32_t min, max, mult;
	unsigned flags;
};

#define FQ_CONF_NTARGET_KEYS 10
extern const struct fq_conf_num_key fq_conf_target_keys[FQ_CONF_NTARGET_KEYS];

int64_t fq_conf_num_get(const struct fq_target_conf *c, const struct fq_conf_num_key *k);
void fq_conf_num_set(struct fq_target_conf *c, const struct fq_conf_num_key *k, int64_t v);
/* Range and shape of one value; the reason goes to @msg. */
int fq_conf_num_check(const struct fq_conf_num_key *k, int64_t v, char *msg, size_t len);

#endif
