/* SPDX-License-Identifier: MIT */
/*
 * Transport ID strings: "key:value" pairs separated by white space, in the
 * style of SPDK's spdk_nvme_transport_id_parse(). Values are checked for
 * length against the discovery log entry fields (NVMe-oF 1.1 Fig. 32).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fabriq/host.h"

static int set_str(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (vlen == 0 || vlen >= cap)
		return -EINVAL;
	memcpy(dst, v, vlen);
	dst[vlen] = 0;
	return 0;
}

static int set_traddr(struct fq_trid *t, const char *v, size_t vlen)
{
	/* Accept bracketed IPv6 literals ("[::1]") and store them bare. */
	if (vlen >= 2 && v[0] == '[' && v[vlen - 1] == ']') {
		v++;
		vlen -= 2;
	}
	return set_str(t->traddr, sizeof(t->traddr), v, vlen);
}

static int set_port(struct fq_trid *t, const char *v, size_t vlen)
{
	unsigned long port = 0;

	if (vlen == 0 || vlen > 5)
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -EINVAL;
		port = port * 10 + (unsigned long)(v[i] - '0');
	}
	if (port == 0 || port > 65535)
		return -EINVAL;
	return set_str(t->trsvcid, sizeof(t->trsvcid), v, vlen);
}

static int set_pair(struct fq_trid *t, const char *k, size_t klen, const char *v, size_t vlen,
		    bool *adrfam_set)
{
	if (klen == 6 && !strncasecmp(k, "trtype", klen)) {
		if (vlen == 3 && !strncasecmp(v, "tcp", 3)) {
			t->trtype = FQ_TRANSPORT_TCP;
			return 0;
		}
		return -EINVAL;
	}
	if (klen == 6 && !strncasecmp(k, "adrfam", klen)) {
		*adrfam_set = true;
		if (vlen == 4 && !strncasecmp(v, "ipv4", 4))
			t->adrfam = FQ_AF_IPV4;
		else if (vlen == 4 && !strncasecmp(v, "ipv6", 4))
			t->adrfam = FQ_AF_IPV6;
		else
			return -EINVAL;
		return 0;
	}
	if (klen == 6 && !strncasecmp(k, "traddr", klen))
		return set_traddr(t, v, vlen);
	if (klen == 7 && !strncasecmp(k, "trsvcid", klen))
		return set_port(t, v, vlen);
	if (klen == 6 && !strncasecmp(k, "subnqn", klen))
		return set_str(t->subnqn, sizeof(t->subnqn), v, vlen);
	if (klen == 7 && !strncasecmp(k, "hostnqn", klen))
		return set_str(t->hostnqn, sizeof(t->hostnqn), v, vlen);
	return -EINVAL;
}

int fq_trid_parse(struct fq_trid *trid, const char *str)
{
	struct fq_trid t;
	bool adrfam_set = false;
	const char *p = str;

	if (!trid || !str)
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	t.trtype = FQ_TRANSPORT_TCP;
	t.adrfam = FQ_AF_IPV4;
	while (*p) {
		const char *k, *colon, *end;
		int rc;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		k = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		end = p;
		colon = memchr(k, ':', (size_t)(end - k));
		if (!colon)
			return -EINVAL;
		rc = set_pair(&t, k, (size_t)(colon - k), colon + 1, (size_t)(end - colon - 1),
			      &adrfam_set);
		if (rc)
			return rc;
	}
	if (!t.traddr[0])
		return -EINVAL;
	if (!adrfam_set && strchr(t.traddr, ':'))
		t.adrfam = FQ_AF_IPV6;
	*trid = t;
	return 0;
}

int fq_trid_format(const struct fq_trid *t, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "trtype:TCP adrfam:%s traddr:%s",
		     t->adrfam == FQ_AF_IPV6 ? "IPv6" : "IPv4", t->traddr);
	if (n >= 0 && t->trsvcid[0])
		n += snprintf(buf + ((size_t)n < len ? (size_t)n : len),
			      (size_t)n < len ? len - (size_t)n : 0, " trsvcid:%s", t->trsvcid);
	if (n >= 0 && t->subnqn[0])
		n += snprintf(buf + ((size_t)n < len ? (size_t)n : len),
			      (size_t)n < len ? len - (size_t)n : 0, " subnqn:%s", t->subnqn);
	if (n >= 0 && t->hostnqn[0])
		n += snprintf(buf + ((size_t)n < len ? (size_t)n : len),
			      (size_t)n < len ? len - (size_t)n : 0, " hostnqn:%s", t->hostnqn);
	if (n < 0)
		return -EINVAL;
	return (size_t)n < len ? n : -ENOSPC;
}
