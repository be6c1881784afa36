/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration: the defaults, and building a configuration call by
 * call (the INI loader, the quick-start command line and target.h all add
 * subsystems, hosts and namespaces through here), with the identifiers
 * derived for what the configuration leaves out.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/config_int.h"
#include "util/errf.h"

/* ---------------------------------------------------------------------------
 * Building the structure.
 */

/* FNV-1a 64 (offset basis given by the caller so it can be chained). */
static uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* MurmurHash3's 64-bit finalizer: spreads every input bit over the output. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * Two chained FNV-1a passes over "NQN|NSID|SALT", each finalized, written
 * big-endian: the bytes depend only on the text, never on the host.
 */
void fq_conf_derive_id(const char *subnqn, uint32_t nsid, int salt, uint8_t out[16])
{
	char tail[32];
	int n = snprintf(tail, sizeof(tail), "|%u|%d", nsid, salt);
	uint64_t h1, h2;

	h1 = fnv1a64(0xcbf29ce484222325ULL, subnqn, strlen(subnqn));
	h1 = fnv1a64(h1, tail, (size_t)n);
	h2 = fnv1a64(h1 ^ 0x9e3779b97f4a7c15ULL, subnqn, strlen(subnqn));
	h2 = fnv1a64(h2, tail, (size_t)n);
	put_be64(out, mix64(h1));
	put_be64(out + 8, mix64(h2));
	if (salt == 1) {
		/* RFC 9562 §5.8: version 8 (custom) in octet 6, variant 10 in octet 8. */
		out[6] = (uint8_t)((out[6] & 0x0f) | 0x80);
		out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
	}
}

void fq_conf_default_serial(const char *nqn, char serial[21])
{
	uint64_t h = mix64(fnv1a64(0xcbf29ce484222325ULL, nqn, strlen(nqn)));

	snprintf(serial, 21, "FQ%016llX", (unsigned long long)h);
}

void fq_conf_init(struct fq_target_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->reactors = 0;
	c->busy_poll_us = 0;
	c->max_connections = 1024;
	c->max_queue_size = 128;
	c->max_io_queues = 64;
	c->in_capsule_size = 8192;
	c->max_h2c_data = 131072;
	c->max_transfer = 131072;
	c->buffers_per_reactor = 256;
	c->kato_min_ms = 1000;
	c->log_level = 2;
}

void fq_conf_free(struct fq_target_conf *c)
{
	for (int i = 0; i < c->nsubsys; i++) {
		struct fq_subsys_conf *s = &c->subsys[i];

		for (int j = 0; j < s->nns; j++)
			fq_conf_ns_free(&s->ns[j]);
		free(s->ns);
	}
	free(c->subsys);
	c->subsys = NULL;
	c->nsubsys = 0;
	c->subsys_cap = 0;
	for (int i = 0; i < c->nbdevs; i++)
		fq_conf_ns_free(&c->bdevs[i].ns);
	free(c->bdevs);
	c->bdevs = NULL;
	c->nbdevs = 0;
	free(c->removed_bdevs);
	c->removed_bdevs = NULL;
	c->nremoved_bdevs = 0;
}

bool fq_conf_bdev_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > FQ_CONF_BDEV_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("-_.", n[i]))
			return false;
	return true;
}

int fq_conf_find_bdev(const struct fq_target_conf *c, const char *name)
{
	for (int i = 0; i < c->nbdevs; i++)
		if (!strcmp(c->bdevs[i].name, name))
			return i;
	return -1;
}

int fq_conf_add_bdev(struct fq_target_conf *c, const char *name, const char *spec, char *err,
		     size_t errlen)
{
	struct fq_ns_conf ns;
	int rc;

	if (!fq_conf_bdev_name_ok(name)) {
		fq_errf(err, errlen, "bdev name '%s': 1..%d letters, digits, '-', '_' or '.'", name,
			FQ_CONF_BDEV_NAME_MAX);
		return -EINVAL;
	}
	if (fq_conf_find_bdev(c, name) >= 0) {
		fq_errf(err, errlen, "a bdev named '%s' exists already", name);
		return -EINVAL;
	}
	if (c->nbdevs >= FQ_CONF_MAX_BDEVS) {
		fq_errf(err, errlen, "too many named bdevs (the maximum is %d)", FQ_CONF_MAX_BDEVS);
		return -EINVAL;
	}
	if (!c->bdevs) {
		c->bdevs = calloc(FQ_CONF_MAX_BDEVS, sizeof(*c->bdevs));
		if (!c->bdevs)
			return -ENOMEM;
	}
	rc = fq_conf_parse_ns(spec, &ns, err, errlen);
	if (rc)
		return rc;
	/* The namespace that uses it has the identity; it cannot name another bdev. */
	if (ns.nsid || ns.has_uuid || ns.has_nguid || ns.named) {
		fq_errf(err, errlen,
			"bdev '%s': a named bdev takes no nsid, uuid, nguid or bdev:NAME (give "
			"those to the namespace that uses it)",
			name);
		fq_conf_ns_free(&ns);
		return -EINVAL;
	}
	/* A volume has its own subsystem and belongs to one reactor (docs/volumes.md). */
	if (ns.bdev.kind == FQ_BDEV_VOL) {
		fq_errf(err, errlen, "bdev '%s': a volume cannot be a named bdev", name);
		fq_conf_ns_free(&ns);
		return -EINVAL;
	}
	snprintf(c->bdevs[c->nbdevs].name, sizeof(c->bdevs[0].name), "%s", name);
	c->bdevs[c->nbdevs++].ns = ns;
	return 0;
}

struct fq_subsys_conf *fq_conf_add_subsys(struct fq_target_conf *c, const char *nqn)
{
	struct fq_subsys_conf *s;

	if (c->nsubsys >= FQ_CONF_MAX_SUBSYS || strlen(nqn) >= FQ_CONF_NQN_LEN)
		return NULL;
	if (c->nsubsys >= c->subsys_cap) {
		int cap = c->subsys_cap ? c->subsys_cap * 2 : 2;

		if (cap > FQ_CONF_MAX_SUBSYS)
			cap = FQ_CONF_MAX_SUBSYS;
		s = realloc(c->subsys, (size_t)cap * sizeof(*s));
		if (!s)
			return NULL;
		c->subsys = s;
		c->subsys_cap = cap;
	}
	s = &c->subsys[c->nsubsys++];
	memset(s, 0, sizeof(*s));
	strcpy(s->nqn, nqn);
	fq_conf_default_serial(nqn, s->serial);
	strcpy(s->model, FQ_CONF_DEFAULT_MODEL);
	s->allow_any_host = true;
	return s;
}

int fq_conf_add_host(struct fq_subsys_conf *s, const char *hostnqn, char *err, size_t errlen)
{
	if (fq_conf_check_nqn(hostnqn, err, errlen) < 0)
		return -EINVAL;
	for (int i = 0; i < s->nhosts; i++) {
		if (!strcmp(s->hosts[i], hostnqn)) {
			fq_errf(err, errlen, "host '%s' is listed twice", hostnqn);
			return -EINVAL;
		}
	}
	if (s->nhosts >= FQ_CONF_MAX_HOSTS) {
		fq_errf(err, errlen, "too many hosts (the maximum is %d)", FQ_CONF_MAX_HOSTS);
		return -EINVAL;
	}
	strcpy(s->hosts[s->nhosts++], hostnqn);
	s->allow_any_host = false;
	return 0;
}

int fq_conf_add_ns(struct fq_subsys_conf *s, const char *spec, char *err, size_t errlen)
{
	int rc;

	if (s->nns >= FQ_CONF_MAX_NS) {
		fq_errf(err, errlen, "too many namespaces (the maximum is %d)", FQ_CONF_MAX_NS);
		return -EINVAL;
	}
	if (s->nns >= s->ns_cap) {
		int cap = s->ns_cap ? s->ns_cap * 2 : 4;
		struct fq_ns_conf *ns;

		if (cap > FQ_CONF_MAX_NS)
			cap = FQ_CONF_MAX_NS;
		ns = realloc(s->ns, (size_t)cap * sizeof(*ns));
		if (!ns) {
			fq_errf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		s->ns = ns;
		s->ns_cap = cap;
	}
	rc = fq_conf_parse_ns(spec, &s->ns[s->nns], err, errlen);
	if (rc < 0)
		return rc;
	s->nns++;
	return 0;
}
