/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration, the values shared by the INI file and the command
 * line: sizes, hex identifiers, NQNs, listen addresses, serial and model
 * strings, port names and the numeric keys of [target].
 * docs/configuration.md is the user-facing description.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/nvmf.h"
#include "target/config_int.h"
#include "util/errf.h"
#include "util/parse.h"

#define NQN_UUID_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"

/* ---------------------------------------------------------------------------
 * Scalars: sizes and hex identifiers.
 */

/* The shared size syntax; any error, overflow included, is -EINVAL here. */
int fq_conf_parse_size(const char *s, uint64_t *out)
{
	return fq_parse_size(s, out) ? -EINVAL : 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int fq_conf_parse_hex(const char *s, const int *dashes, int ndashes, uint8_t *out, int nbytes)
{
	int pos = 0, d = 0;

	for (int i = 0; i < nbytes; i++) {
		int hi, lo;

		if (d < ndashes && pos == dashes[d]) {
			if (s[pos] != '-')
				return -EINVAL;
			pos++;
			d++;
		}
		hi = hexval(s[pos]);
		lo = hi < 0 ? -1 : hexval(s[pos + 1]);
		if (lo < 0)
			return -EINVAL;
		if (out)
			out[i] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	return s[pos] ? -EINVAL : 0;
}

int fq_conf_parse_uuid(const char *s, uint8_t *out)
{
	static const int dash_at[] = {8, 13, 18, 23};

	return fq_conf_parse_hex(s, dash_at, 4, out, 16);
}

/* ---------------------------------------------------------------------------
 * NQNs (NVMe Base 2.0 §4.5).
 */

/* "yyyy-mm." right after "nqn.": the date the naming authority owned the domain. */
static bool nqn_date_ok(const char *p)
{
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	if (p[4] != '-' || !isdigit((unsigned char)p[5]) || !isdigit((unsigned char)p[6]) ||
	    p[7] != '.')
		return false;
	return (p[5] - '0') * 10 + (p[6] - '0') >= 1 && (p[5] - '0') * 10 + (p[6] - '0') <= 12;
}

/* Reverse domain: labels of letters, digits and '-', joined by single dots. */
static const char *nqn_domain_end(const char *p)
{
	size_t label = 0;

	for (; *p && *p != ':'; p++) {
		if (*p == '.') {
			if (!label)
				return NULL;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-') {
			label++;
		} else {
			return NULL;
		}
	}
	return label ? p : NULL;
}

int fq_conf_check_nqn(const char *nqn, char *err, size_t errlen)
{
	size_t len = strlen(nqn), plen = strlen(NQN_UUID_PREFIX);
	const char *end;

	if (!len) {
		fq_errf(err, errlen, "empty NQN");
		return -EINVAL;
	}
	if (len > FQ_NQN_MAX) {
		fq_errf(err, errlen, "NQN '%.48s...' is %zu bytes long, the maximum is %d", nqn,
			len, FQ_NQN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)nqn[i] < 0x20 || nqn[i] == 0x7f) {
			fq_errf(err, errlen, "NQN '%s' contains a control character", nqn);
			return -EINVAL;
		}
	}
	if (!strncmp(nqn, NQN_UUID_PREFIX, plen)) {
		if (fq_conf_parse_uuid(nqn + plen, NULL) < 0) {
			fq_errf(err, errlen,
				"NQN '%s': expected a UUID (8-4-4-4-12 hex) after ':uuid:'", nqn);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(nqn, "nqn.", 4) || len < 12 || !nqn_date_ok(nqn + 4)) {
		fq_errf(err, errlen, "NQN '%s' does not start with 'nqn.yyyy-mm.'", nqn);
		return -EINVAL;
	}
	end = nqn_domain_end(nqn + 12);
	if (!end) {
		fq_errf(err, errlen, "NQN '%s': expected a reverse domain name after the date",
			nqn);
		return -EINVAL;
	}
	if (*end == ':' && !end[1]) {
		fq_errf(err, errlen, "NQN '%s': nothing after the ':'", nqn);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Listen addresses.
 */

int fq_conf_check_addr(const char *host, bool v6_only, char *out, size_t outlen)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (!strcmp(host, "localhost") && !v6_only)
		host = "127.0.0.1";
	if ((v6_only || inet_pton(AF_INET, host, bin) != 1) && inet_pton(AF_INET6, host, bin) != 1)
		return -EINVAL;
	if (strlen(host) >= outlen)
		return -EINVAL;
	strcpy(out, host);
	return 0;
}

int fq_conf_parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (!s[0] || s[strspn(s, "0123456789")] || fq_parse_u64(s, &v) < 0 || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int fq_conf_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *sep;
	bool v6 = false;
	size_t hlen;

	if (s[0] == '[') {
		h = s + 1;
		sep = strchr(h, ']');
		if (!sep || sep[1] != ':')
			return -EINVAL;
		hlen = (size_t)(sep - h);
		sep++;
		v6 = true;
	} else {
		sep = strrchr(s, ':');
		if (!sep)
			return -EINVAL;
		hlen = (size_t)(sep - s);
		/* A bare IPv6 address is ambiguous with the port: it needs brackets. */
		if (memchr(s, ':', hlen))
			return -EINVAL;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (fq_conf_parse_port(sep + 1, port) < 0)
		return -EINVAL;
	return fq_conf_check_addr(host, v6, addr, addrlen);
}

int fq_conf_parse_referral(const char *s, struct fq_referral_conf *r, char *err, size_t errlen)
{
	char listen[INET6_ADDRSTRLEN + 16], msg[256];
	size_t n = strcspn(s, " \t");
	const char *nqn = s + n + strspn(s + n, " \t");

	memset(r, 0, sizeof(*r));
	if (n < sizeof(listen)) {
		memcpy(listen, s, n);
		listen[n] = '\0';
	}
	if (n >= sizeof(listen) ||
	    fq_conf_parse_listen(listen, r->addr, sizeof(r->addr), &r->port)) {
		fq_errf(err, errlen,
			"'%.*s' is not ADDR:PORT (a numeric IPv4 address, or [IPv6]:PORT)",
			(int)(n < 80 ? n : 80), s);
		return -EINVAL;
	}
	if (!strcmp(r->addr, "0.0.0.0") || !strcmp(r->addr, "::")) {
		fq_errf(err, errlen,
			"'%s' is a wildcard address: a referral names one hosts can reach",
			r->addr);
		return -EINVAL;
	}
	if (!*nqn)
		nqn = FQ_DISCOVERY_NQN;
	if (fq_conf_check_nqn(nqn, msg, sizeof(msg)) < 0) {
		fq_errf(err, errlen, "referral NQN: %s", msg);
		return -EINVAL;
	}
	snprintf(r->nqn, sizeof(r->nqn), "%s", nqn);
	return 0;
}

int fq_conf_find_referral(const struct fq_target_conf *c, const char *addr, uint16_t port)
{
	for (int i = 0; i < c->nreferrals; i++)
		if (c->referrals[i].port == port && !strcmp(c->referrals[i].addr, addr))
			return i;
	return -1;
}

/* ---------------------------------------------------------------------------
 * Limits of [target], shared by the loader and by validate().
 */

#define TKEY(n, f, lo, hi, m, fl)                                                                  \
	{                                                                                          \
		n, offsetof(struct fq_target_conf, f), lo, hi, m, fl                               \
	}
const struct fq_conf_num_key fq_conf_target_keys[FQ_CONF_NTARGET_KEYS] = {
	TKEY("reactors", reactors, 0, 1024, 1, FQ_CONF_NUM_INT),
	TKEY("busy_poll_us", busy_poll_us, 0, 1000000, 1, 0),
	TKEY("max_connections", max_connections, 1, 65536, 1, 0),
	TKEY("max_queue_size", max_queue_size, 16, 4096, 1, 0),
	TKEY("max_io_queues", max_io_queues, 1, 1024, 1, 0),
	TKEY("in_capsule_data", in_capsule_size, 0, 131072, 16, FQ_CONF_NUM_SIZE),
	TKEY("max_h2c_data", max_h2c_data, 4096, 4194304, 4, FQ_CONF_NUM_SIZE),
	TKEY("max_transfer", max_transfer, 4096, 4194304, 1, FQ_CONF_NUM_SIZE | FQ_CONF_NUM_POW2),
	TKEY("buffers_per_reactor", buffers_per_reactor, 8, 65536, 1, 0),
	TKEY("kato_min_ms", kato_min_ms, 0, 3600000, 1, 0),
};
_Static_assert(sizeof(fq_conf_target_keys) / sizeof(fq_conf_target_keys[0]) == FQ_CONF_NTARGET_KEYS,
	       "FQ_CONF_NTARGET_KEYS counts the table");

int64_t fq_conf_num_get(const struct fq_target_conf *c, const struct fq_conf_num_key *k)
{
	const char *p = (const char *)c + k->off;

	if (k->flags & FQ_CONF_NUM_INT)
		return *(const int *)p;
	return *(const uint32_t *)p;
}

void fq_conf_num_set(struct fq_target_conf *c, const struct fq_conf_num_key *k, int64_t v)
{
	char *p = (char *)c + k->off;

	if (k->flags & FQ_CONF_NUM_INT)
		*(int *)p = (int)v;
	else
		*(uint32_t *)p = (uint32_t)v;
}

int fq_conf_num_check(const struct fq_conf_num_key *k, int64_t v, char *msg, size_t len)
{
	if (v < 0)
		fq_errf(msg, len, "%lld is negative", (long long)v);
	else if (v < k->min)
		fq_errf(msg, len, "%lld is below the minimum %u", (long long)v, k->min);
	else if (v > k->max)
		fq_errf(msg, len, "%lld is above the maximum %u", (long long)v, k->max);
	else if (v % k->mult)
		fq_errf(msg, len, "%lld is not a multiple of %u", (long long)v, k->mult);
	else if ((k->flags & FQ_CONF_NUM_POW2) && (v & (v - 1)))
		fq_errf(msg, len, "%lld is not a power of two", (long long)v);
	else
		return 0;
	return -EINVAL;
}

int fq_conf_check_ascii(const char *s, size_t max, char *msg, size_t len)
{
	size_t n = strlen(s);

	if (!n) {
		fq_errf(msg, len, "empty value");
		return -EINVAL;
	}
	if (n > max) {
		fq_errf(msg, len, "'%s' is %zu characters, the maximum is %zu", s, n, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			fq_errf(msg, len, "'%s' is not printable ASCII", s);
			return -EINVAL;
		}
	}
	return 0;
}

bool fq_conf_port_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > FQ_CONF_PORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("-_.", n[i]))
			return false;
	return true;
}
