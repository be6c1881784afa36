/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration: the value parsers shared by the INI file and the
 * command line (sizes, listen addresses, namespace specs, NQNs), the INI
 * loader (inih) and the cross-field checks. docs/configuration.md is the
 * user-facing description of everything accepted here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "proto/nvmf.h"
#include "target/config.h"
#include "volume/volume.h"

/* Longest INI line accepted: a PATH_MAX file path plus its options fits. */
#define MAX_LINE 8192
#define NQN_UUID_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"
#define DEFAULT_MODEL "Fabriq NVMe/TCP target"
#define MAX_NSID 0xFFFFFFFEu
#define PORT_NAME_MAX 31

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Scalars: numbers, sizes, booleans, hex identifiers.
 */

/*
 * Unsigned decimal, or hex with 0x. strtoull alone would take leading
 * blanks, a sign and (after our 0x) a second 0x, so the first digits are
 * checked here. Returns -ERANGE on overflow so the message can say "too large".
 */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)s[0]) || s[1] == 'x' || s[1] == 'X')
			return -EINVAL;
	} else if (!isdigit((unsigned char)s[0])) {
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

int fq_conf_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	unsigned long long v;
	uint64_t mult = 1;
	const char *u;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -EINVAL;
	if (*end && (u = strchr(units, tolower((unsigned char)*end)))) {
		for (int i = 0; i <= u - units; i++)
			mult *= 1024;
		end++;
	}
	/* "512MiB" and "4KB" both mean powers of 1024; "iB" needs a unit. */
	if (end[0] == 'B')
		end++;
	else if (mult > 1 && end[0] == 'i' && end[1] == 'B')
		end += 2;
	if (*end || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
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

/*
 * Read @nbytes bytes of hex digits from @s into @out (may be NULL). A '-'
 * must stand at each character offset listed in @dashes (ascending), and
 * nothing may follow the last digit.
 */
static int parse_hex(const char *s, const int *dashes, int ndashes, uint8_t *out, int nbytes)
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

/* RFC 9562 §4 text form, 8-4-4-4-12; bytes in the order they are written. */
static int parse_uuid(const char *s, uint8_t *out)
{
	static const int dash_at[] = {8, 13, 18, 23};

	return parse_hex(s, dash_at, 4, out, 16);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
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
		seterr(err, errlen, "empty NQN");
		return -EINVAL;
	}
	if (len > FQ_NQN_MAX) {
		seterr(err, errlen, "NQN '%.48s...' is %zu bytes long, the maximum is %d", nqn, len,
		       FQ_NQN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)nqn[i] < 0x20 || nqn[i] == 0x7f) {
			seterr(err, errlen, "NQN '%s' contains a control character", nqn);
			return -EINVAL;
		}
	}
	if (!strncmp(nqn, NQN_UUID_PREFIX, plen)) {
		if (parse_uuid(nqn + plen, NULL) < 0) {
			seterr(err, errlen,
			       "NQN '%s': expected a UUID (8-4-4-4-12 hex) after ':uuid:'", nqn);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(nqn, "nqn.", 4) || len < 12 || !nqn_date_ok(nqn + 4)) {
		seterr(err, errlen, "NQN '%s' does not start with 'nqn.yyyy-mm.'", nqn);
		return -EINVAL;
	}
	end = nqn_domain_end(nqn + 12);
	if (!end) {
		seterr(err, errlen, "NQN '%s': expected a reverse domain name after the date", nqn);
		return -EINVAL;
	}
	if (*end == ':' && !end[1]) {
		seterr(err, errlen, "NQN '%s': nothing after the ':'", nqn);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Listen addresses.
 */

/* Numeric IPv4/IPv6 (or "localhost", written as 127.0.0.1) into @out. */
static int check_addr(const char *host, bool v6_only, char *out, size_t outlen)
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

static int parse_port_number(const char *s, uint16_t *port)
{
	uint64_t v;

	if (!s[0] || s[strspn(s, "0123456789")] || parse_u64(s, &v) < 0 || v < 1 || v > 65535)
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
	if (parse_port_number(sep + 1, port) < 0)
		return -EINVAL;
	return check_addr(host, v6, addr, addrlen);
}

/* ---------------------------------------------------------------------------
 * Namespace specs: KIND:ARGS[,opt=val...]
 */

static void ns_err(char *err, size_t errlen, const char *spec, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ns_err(char *err, size_t errlen, const char *spec, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	seterr(err, errlen, "namespace '%s': %s", spec, what);
}

enum ns_opt { OPT_BS, OPT_DIRECT, OPT_NSID, OPT_UUID, OPT_NGUID, OPT_CREATE, OPT_NUM };
static const char *const ns_opt_names[OPT_NUM] = {"bs",	  "direct", "nsid",
						  "uuid", "nguid",  "create"};
/* What a good value looks like, for the error message. */
static const char *const ns_opt_hint[OPT_NUM] = {
	"512 or 4096",
	"0 or 1",
	"1..4294967294",
	"8-4-4-4-12 hex digits, not all zero",
	"32 hex digits, not all zero",
	"0 or 1",
};

/* One "key=value" option. @seen guards against repeats; create is reported via @create. */
static int ns_option(struct fq_ns_conf *ns, char *opt, unsigned *seen, int *create,
		     const char *spec, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');
	uint64_t v;
	bool b;
	int k;

	if (!val) {
		ns_err(err, errlen, spec, "option '%s' needs a value (name=value)", opt);
		return -EINVAL;
	}
	*val++ = '\0';
	for (k = 0; k < OPT_NUM && strcmp(opt, ns_opt_names[k]); k++)
		;
	if (k == OPT_NUM) {
		ns_err(err, errlen, spec,
		       "unknown option '%s' (expected bs, direct, nsid, uuid, nguid or create)",
		       opt);
		return -EINVAL;
	}
	if (*seen & (1u << k)) {
		ns_err(err, errlen, spec, "option '%s' given twice", opt);
		return -EINVAL;
	}
	*seen |= 1u << k;
	if ((k == OPT_DIRECT || k == OPT_CREATE) && ns->bdev.kind != FQ_BDEV_FILE) {
		ns_err(err, errlen, spec, "option '%s' applies only to file namespaces", opt);
		return -EINVAL;
	}
	switch (k) {
	case OPT_BS:
		if (parse_u64(val, &v) < 0 || (v != 512 && v != 4096))
			break;
		ns->bdev.block_size = (uint32_t)v;
		return 0;
	case OPT_DIRECT:
	case OPT_CREATE:
		if (parse_bool(val, &b) < 0)
			break;
		if (k == OPT_DIRECT)
			ns->bdev.direct = b;
		else
			*create = b;
		return 0;
	case OPT_NSID:
		if (parse_u64(val, &v) < 0 || v < 1 || v > MAX_NSID)
			break;
		ns->nsid = (uint32_t)v;
		return 0;
	case OPT_UUID:
		if (parse_uuid(val, ns->uuid) < 0 || all_zero(ns->uuid, 16))
			break;
		ns->has_uuid = true;
		return 0;
	case OPT_NGUID:
		if (parse_hex(val, NULL, 0, ns->nguid, 16) < 0 || all_zero(ns->nguid, 16))
			break;
		ns->has_nguid = true;
		return 0;
	}
	ns_err(err, errlen, spec, "bad %s '%s' (%s)", opt, val, ns_opt_hint[k]);
	return -EINVAL;
}

/* "ram:SIZE", "null:SIZE", "file:PATH[:SIZE]": fills kind, path and size. */
static int ns_head(struct fq_ns_conf *ns, char *head, const char *spec, char *err, size_t errlen)
{
	char *size = NULL;

	if (!strncmp(head, "ram:", 4) || !strncmp(head, "null:", 5)) {
		ns->bdev.kind = head[0] == 'r' ? FQ_BDEV_RAM : FQ_BDEV_NULL;
		size = strchr(head, ':') + 1;
	} else if (!strncmp(head, "file:", 5)) {
		char *path = head + 5;

		ns->bdev.kind = FQ_BDEV_FILE;
		size = strchr(path, ':');
		if (size)
			*size++ = '\0';
		if (!*path) {
			ns_err(err, errlen, spec, "missing file path");
			return -EINVAL;
		}
		if (strlen(path) >= sizeof(ns->path)) {
			ns_err(err, errlen, spec, "path is too long");
			return -EINVAL;
		}
		strcpy(ns->path, path);
		ns->bdev.path = ns->path;
	} else if (!strncmp(head, "vol:", 4) && strlen(head + 4) < sizeof(ns->path)) {
		/* A volume of a pool from a [pool] section (src/volume/pool_conf.c). */
		ns->bdev.kind = FQ_BDEV_VOL;
		strcpy(ns->path, head + 4);
		ns->bdev.path = ns->path;
	} else {
		ns_err(err, errlen, spec,
		       "'%s': expected ram:SIZE, null:SIZE or file:PATH[:SIZE] (or vol:POOL/NAME "
		       "over a [pool] section), optionally with stacked modules in front "
		       "(delay:...+ or error:...+)",
		       head);
		return -EINVAL;
	}
	if (size && (fq_conf_parse_size(size, &ns->bdev.size) < 0 || !ns->bdev.size)) {
		ns_err(err, errlen, spec, "bad size '%s'", size);
		return -EINVAL;
	}
	return 0;
}

/* Options of one stacked module, "KEY=VAL[,KEY=VAL...]" (NULL: none), into @o. */
static int layer_options(const struct fq_bdev_module *m, struct fq_bdev_opts *o, char *next,
			 const char *spec, char *err, size_t errlen)
{
	const char *seen[16];
	char what[200], *opt, *val;
	int nseen = 0, rc;

	while ((opt = next)) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		val = strchr(opt, '=');
		if (!val) {
			ns_err(err, errlen, spec, "%s: option '%s' needs a value (name=value)",
			       m->name, opt);
			return -EINVAL;
		}
		*val++ = '\0';
		for (int i = 0; i < nseen; i++) {
			if (!strcmp(seen[i], opt)) {
				ns_err(err, errlen, spec, "%s: option '%s' given twice", m->name,
				       opt);
				return -EINVAL;
			}
		}
		if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[nseen++] = opt;
		rc = m->parse(o, opt, val, what, sizeof(what));
		if (rc == -ENOENT) {
			ns_err(err, errlen, spec, "%s: unknown option '%s' (expected %s)", m->name,
			       opt, m->keys);
			return -EINVAL;
		}
		if (rc) {
			ns_err(err, errlen, spec, "%s: %s", m->name, what);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The stacked modules in front of the bottom spec, each "MODULE[:OPTIONS]+",
 * into ns->layers (the top first). *head moves past them. A word that is not
 * a stacking module starts the bottom spec, which is taken whole: its path
 * may contain '+'.
 */
static int ns_layers(struct fq_ns_conf *ns, char **head, const char *spec, char *err, size_t errlen)
{
	char *p = *head;

	for (;;) {
		size_t n = strcspn(p, ":,+");
		const struct fq_bdev_module *m;
		struct fq_bdev_opts *o;
		char name[32], *end;

		if (n >= sizeof(name))
			break;
		memcpy(name, p, n);
		name[n] = '\0';
		m = fq_bdev_module_find(name);
		if (!m || !m->stacks)
			break;
		end = strchr(p, '+');
		if (!end) {
			ns_err(err, errlen, spec,
			       "module '%s' needs a bdev under it: %s[:OPTIONS]+ram:SIZE (or "
			       "null:SIZE, file:PATH)",
			       name, name);
			return -EINVAL;
		}
		if (ns->nlayers >= FQ_CONF_MAX_LAYERS) {
			ns_err(err, errlen, spec, "more than %d modules stacked at '%s'",
			       FQ_CONF_MAX_LAYERS, name);
			return -EINVAL;
		}
		*end = '\0';
		o = &ns->layers[ns->nlayers++];
		fq_bdev_opts_init(o, m->kind);
		if (layer_options(m, o, p[n] ? p + n + 1 : NULL, spec, err, errlen) < 0)
			return -EINVAL;
		p = end + 1;
	}
	*head = p;
	return 0;
}

int fq_conf_parse_ns(const char *spec, struct fq_ns_conf *ns, char *err, size_t errlen)
{
	char buf[PATH_MAX + 256];
	char *head, *opt, *next;
	unsigned seen = 0;
	int create = -1;

	memset(ns, 0, sizeof(*ns));
	ns->bdev.block_size = 512;
	if (strlen(spec) >= sizeof(buf)) {
		ns_err(err, errlen, spec, "too long");
		return -EINVAL;
	}
	strcpy(buf, spec);
	head = buf;
	if (ns_layers(ns, &head, spec, err, errlen) < 0)
		return -EINVAL;
	next = strchr(head, ',');
	if (next)
		*next++ = '\0';
	if (ns_head(ns, head, spec, err, errlen) < 0)
		return -EINVAL;
	while ((opt = next)) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (ns_option(ns, opt, &seen, &create, spec, err, errlen) < 0)
			return -EINVAL;
	}
	if (ns->bdev.kind == FQ_BDEV_FILE) {
		if (create == 1 && !ns->bdev.size) {
			ns_err(err, errlen, spec, "create=1 needs a size (file:PATH:SIZE)");
			return -EINVAL;
		}
		ns->bdev.create = create < 0 ? ns->bdev.size > 0 : create == 1;
	}
	if (ns->bdev.size % ns->bdev.block_size) {
		ns_err(err, errlen, spec, "size %llu is not a multiple of the block size %u",
		       (unsigned long long)ns->bdev.size, ns->bdev.block_size);
		return -EINVAL;
	}
	return 0;
}

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

static void default_serial(const char *nqn, char serial[21])
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
	free(c->subsys);
	c->subsys = NULL;
	c->nsubsys = 0;
	c->subsys_cap = 0;
}

/* bdev.path points into the entry itself, so it must follow every move. */
static void fix_paths(struct fq_subsys_conf *s)
{
	for (int i = 0; i < s->nns && i < FQ_CONF_MAX_NS; i++)
		s->ns[i].bdev.path =
			s->ns[i].bdev.kind == FQ_BDEV_FILE || s->ns[i].bdev.kind == FQ_BDEV_VOL
				? s->ns[i].path
				: NULL;
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
		for (int i = 0; i < c->nsubsys; i++)
			fix_paths(&c->subsys[i]);
	}
	s = &c->subsys[c->nsubsys++];
	memset(s, 0, sizeof(*s));
	strcpy(s->nqn, nqn);
	default_serial(nqn, s->serial);
	strcpy(s->model, DEFAULT_MODEL);
	s->allow_any_host = true;
	return s;
}

int fq_conf_add_host(struct fq_subsys_conf *s, const char *hostnqn, char *err, size_t errlen)
{
	if (fq_conf_check_nqn(hostnqn, err, errlen) < 0)
		return -EINVAL;
	for (int i = 0; i < s->nhosts; i++) {
		if (!strcmp(s->hosts[i], hostnqn)) {
			seterr(err, errlen, "host '%s' is listed twice", hostnqn);
			return -EINVAL;
		}
	}
	if (s->nhosts >= FQ_CONF_MAX_HOSTS) {
		seterr(err, errlen, "too many hosts (the maximum is %d)", FQ_CONF_MAX_HOSTS);
		return -EINVAL;
	}
	strcpy(s->hosts[s->nhosts++], hostnqn);
	s->allow_any_host = false;
	return 0;
}

int fq_conf_add_ns(struct fq_subsys_conf *s, const char *spec, char *err, size_t errlen)
{
	if (s->nns >= FQ_CONF_MAX_NS) {
		seterr(err, errlen, "too many namespaces (the maximum is %d)", FQ_CONF_MAX_NS);
		return -EINVAL;
	}
	if (fq_conf_parse_ns(spec, &s->ns[s->nns], err, errlen) < 0)
		return -EINVAL;
	s->nns++;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Limits of [target], shared by the loader and by validate().
 */

enum { NUM_SIZE = 1, NUM_POW2 = 2, NUM_INT = 4 };

struct num_key {
	const char *name;
	size_t off;
	uint32_t min, max, mult;
	unsigned flags;
};

#define TKEY(n, f, lo, hi, m, fl)                                                                  \
	{                                                                                          \
		n, offsetof(struct fq_target_conf, f), lo, hi, m, fl                               \
	}
static const struct num_key target_keys[] = {
	TKEY("reactors", reactors, 0, 1024, 1, NUM_INT),
	TKEY("busy_poll_us", busy_poll_us, 0, 1000000, 1, 0),
	TKEY("max_connections", max_connections, 1, 65536, 1, 0),
	TKEY("max_queue_size", max_queue_size, 16, 4096, 1, 0),
	TKEY("max_io_queues", max_io_queues, 1, 1024, 1, 0),
	TKEY("in_capsule_data", in_capsule_size, 0, 131072, 16, NUM_SIZE),
	TKEY("max_h2c_data", max_h2c_data, 4096, 4194304, 4, NUM_SIZE),
	TKEY("max_transfer", max_transfer, 4096, 4194304, 1, NUM_SIZE | NUM_POW2),
	TKEY("buffers_per_reactor", buffers_per_reactor, 8, 65536, 1, 0),
	TKEY("kato_min_ms", kato_min_ms, 0, 3600000, 1, 0),
};
#define NTARGET_KEYS (int)(sizeof(target_keys) / sizeof(target_keys[0]))

static const char *const log_levels[] = {"error", "warn", "info", "debug"};

static int64_t num_get(const struct fq_target_conf *c, const struct num_key *k)
{
	const char *p = (const char *)c + k->off;

	if (k->flags & NUM_INT)
		return *(const int *)p;
	return *(const uint32_t *)p;
}

static void num_set(struct fq_target_conf *c, const struct num_key *k, int64_t v)
{
	char *p = (char *)c + k->off;

	if (k->flags & NUM_INT)
		*(int *)p = (int)v;
	else
		*(uint32_t *)p = (uint32_t)v;
}

/* Range and shape of one value; the reason goes to @msg. */
static int num_check(const struct num_key *k, int64_t v, char *msg, size_t len)
{
	if (v < 0)
		seterr(msg, len, "%lld is negative", (long long)v);
	else if (v < k->min)
		seterr(msg, len, "%lld is below the minimum %u", (long long)v, k->min);
	else if (v > k->max)
		seterr(msg, len, "%lld is above the maximum %u", (long long)v, k->max);
	else if (v % k->mult)
		seterr(msg, len, "%lld is not a multiple of %u", (long long)v, k->mult);
	else if ((k->flags & NUM_POW2) && (v & (v - 1)))
		seterr(msg, len, "%lld is not a power of two", (long long)v);
	else
		return 0;
	return -EINVAL;
}

/* ---------------------------------------------------------------------------
 * "Did you mean": the nearest known name within two edits.
 */

static int edit_distance(const char *a, const char *b)
{
	int prev[64], cur[64];
	size_t la = strlen(a), lb = strlen(b);

	if (la >= 64 || lb >= 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

static const char *closest(const char *word, const char *const *names, int n)
{
	const char *best = NULL;
	int bestd = 3;

	for (int i = 0; i < n; i++) {
		int d = edit_distance(word, names[i]);

		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

/* ---------------------------------------------------------------------------
 * The INI loader. inih reads lines through our reader, which counts them
 * and parses section headers itself: inih cuts section names at 50 bytes
 * (an NQN is up to 223) and does not report line numbers to the handler.
 */

enum sect { SECT_NONE, SECT_TARGET, SECT_PORT, SECT_SUBSYS, SECT_POOL };

struct pending_ports {
	int subsys;
	int line;
	char *names;
};

struct loader {
	struct fq_target_conf *c;
	const char *path;
	FILE *f;
	char *line; /* the physical line being handed to inih */
	size_t cap, len, off;
	int lineno;
	int rc; /* first error, 0 while all is well */
	char *err;
	size_t errlen;
	enum sect sect;
	int cur;      /* index of the current port or subsystem */
	int seen[16]; /* line each single-valued key of this section was set on */
	bool any_explicit;
	int target_line;
	int port_line[FQ_CONF_MAX_PORTS];
	int subsys_line[FQ_CONF_MAX_SUBSYS];
	struct pending_ports *pend;
	int npend;
};

static void ld_fail(struct loader *ld, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ld_fail(struct loader *ld, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ld->rc)
		return;
	ld->rc = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		seterr(ld->err, ld->errlen, "%s:%d: key '%s': %s", ld->path, ld->lineno, key, msg);
	else
		seterr(ld->err, ld->errlen, "%s:%d: %s", ld->path, ld->lineno, msg);
}

static void ld_unknown_key(struct loader *ld, const char *key, const char *const *names, int n)
{
	const char *hint = closest(key, names, n);

	if (hint)
		ld_fail(ld, key, "unknown key; did you mean '%s'?", hint);
	else
		ld_fail(ld, key, "unknown key in this section");
}

/* Single-valued keys: a second assignment is a mistake, not an override. */
static bool ld_once(struct loader *ld, int idx, const char *key)
{
	if (ld->seen[idx]) {
		ld_fail(ld, key, "given twice in this section (first on line %d)", ld->seen[idx]);
		return false;
	}
	ld->seen[idx] = ld->lineno;
	return true;
}

static int key_index(const char *key, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(key, names[i]))
			return i;
	return -1;
}

static void target_key(struct loader *ld, const char *key, const char *val)
{
	const char *names[NTARGET_KEYS + 1];
	const struct num_key *k;
	char msg[128];
	uint64_t v;
	int i, r;

	for (i = 0; i < NTARGET_KEYS; i++)
		names[i] = target_keys[i].name;
	names[NTARGET_KEYS] = "log_level";
	i = key_index(key, names, NTARGET_KEYS + 1);
	if (i < 0)
		return ld_unknown_key(ld, key, names, NTARGET_KEYS + 1);
	if (!ld_once(ld, i, key))
		return;
	if (i == NTARGET_KEYS) {
		r = key_index(val, log_levels, 4);
		if (r < 0)
			return ld_fail(ld, key, "'%s' is not one of error, warn, info, debug", val);
		ld->c->log_level = r;
		return;
	}
	k = &target_keys[i];
	r = (k->flags & NUM_SIZE) ? fq_conf_parse_size(val, &v) : parse_u64(val, &v);
	if (r == -ERANGE || (r == 0 && v > INT64_MAX))
		return ld_fail(ld, key, "'%s' is too large", val);
	if (r < 0)
		return ld_fail(ld, key, "'%s' is not a valid %s", val,
			       (k->flags & NUM_SIZE) ? "size" : "number");
	if (num_check(k, (int64_t)v, msg, sizeof(msg)) < 0)
		return ld_fail(ld, key, "%s", msg);
	num_set(ld->c, k, (int64_t)v);
}

static void port_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"address", "port", "discovery_only"};
	struct fq_port_conf *p = &ld->c->ports[ld->cur];
	int i = key_index(key, names, 3);

	if (i < 0)
		return ld_unknown_key(ld, key, names, 3);
	if (!ld_once(ld, i, key))
		return;
	if (i == 0 && val[0] == '[')
		ld_fail(ld, key, "'%s': write IPv6 addresses without brackets", val);
	else if (i == 0 && check_addr(val, false, p->addr, sizeof(p->addr)) < 0)
		ld_fail(ld, key, "'%s' is not a numeric IPv4 or IPv6 address", val);
	else if (i == 1 && parse_port_number(val, &p->port) < 0)
		ld_fail(ld, key, "'%s' is not a TCP port (1..65535)", val);
	else if (i == 2 && parse_bool(val, &p->discovery_only) < 0)
		ld_fail(ld, key, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", val);
}

/* Serial and model number: printable ASCII (NVMe Base 2.0 §5.17.2.1, SN and MN). */
static int check_ascii(const char *s, size_t max, char *msg, size_t len)
{
	size_t n = strlen(s);

	if (!n) {
		seterr(msg, len, "empty value");
		return -EINVAL;
	}
	if (n > max) {
		seterr(msg, len, "'%s' is %zu characters, the maximum is %zu", s, n, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			seterr(msg, len, "'%s' is not printable ASCII", s);
			return -EINVAL;
		}
	}
	return 0;
}

static void subsys_ports_key(struct loader *ld, const char *val)
{
	struct pending_ports *pend;

	pend = realloc(ld->pend, (size_t)(ld->npend + 1) * sizeof(*pend));
	if (!pend) {
		ld_fail(ld, "ports", "out of memory");
		ld->rc = -ENOMEM;
		return;
	}
	ld->pend = pend;
	pend = &ld->pend[ld->npend];
	pend->names = strdup(val);
	if (!pend->names) {
		ld_fail(ld, "ports", "out of memory");
		ld->rc = -ENOMEM;
		return;
	}
	pend->subsys = ld->cur;
	pend->line = ld->lineno;
	ld->npend++;
}

static void subsys_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"serial",	  "model", "allow_any_host",
					    "allow_host", "ports", "namespace"};
	struct fq_subsys_conf *s = &ld->c->subsys[ld->cur];
	char msg[512];
	bool any;
	int i = key_index(key, names, 6);

	if (i < 0)
		return ld_unknown_key(ld, key, names, 6);
	if (i != 3 && i != 5 && !ld_once(ld, i, key))
		return;
	switch (i) {
	case 0:
	case 1:
		if (check_ascii(val, i == 0 ? 20 : 40, msg, sizeof(msg)) < 0)
			return ld_fail(ld, key, "%s", msg);
		strcpy(i == 0 ? s->serial : s->model, val);
		return;
	case 2:
		if (parse_bool(val, &s->allow_any_host) < 0)
			return ld_fail(ld, key,
				       "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
				       val);
		ld->any_explicit = true;
		return;
	case 3:
		/* allow_host turns "any host" off unless the section says otherwise. */
		any = s->allow_any_host;
		if (fq_conf_add_host(s, val, msg, sizeof(msg)) < 0)
			return ld_fail(ld, key, "%s", msg);
		if (ld->any_explicit)
			s->allow_any_host = any;
		return;
	case 4:
		return subsys_ports_key(ld, val);
	case 5:
		if (fq_conf_add_ns(s, val, msg, sizeof(msg)) < 0)
			return ld_fail(ld, key, "%s", msg);
		return;
	}
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	(void)section; /* truncated by inih; the reader tracks sections itself */
	if (ld->rc)
		return 0;
	if (!value)
		value = "";
	switch (ld->sect) {
	case SECT_NONE:
		ld_fail(ld, name,
			"keys must follow a section header "
			"([target], [port \"NAME\"] or [subsystem \"NQN\"])");
		break;
	case SECT_TARGET:
		target_key(ld, name, value);
		break;
	case SECT_PORT:
		port_key(ld, name, value);
		break;
	case SECT_SUBSYS:
		subsys_key(ld, name, value);
		break;
	case SECT_POOL: {
		char msg[512];

		if (fq_pool_conf_key(name, value, msg, sizeof(msg)))
			ld_fail(ld, name, "%s", msg);
		break;
	}
	}
	return !ld->rc;
}

static bool port_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > PORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("-_.", n[i]))
			return false;
	return true;
}

static void begin_port(struct loader *ld, const char *hdr, const char *name)
{
	struct fq_target_conf *c = ld->c;

	if (!port_name_ok(name))
		return ld_fail(
			ld, NULL,
			"section '[%s]': a port name is 1..%d letters, digits, '-', '_' or '.'",
			hdr, PORT_NAME_MAX);
	for (int i = 0; i < c->nports; i++) {
		if (strcmp(c->ports[i].name, name))
			continue;
		if (ld->port_line[i])
			return ld_fail(
				ld, NULL,
				"section '[%s]': port '%s' is defined twice (first on line %d)",
				hdr, name, ld->port_line[i]);
		return ld_fail(ld, NULL, "section '[%s]': port '%s' is defined twice", hdr, name);
	}
	if (c->nports >= FQ_CONF_MAX_PORTS)
		return ld_fail(ld, NULL, "section '[%s]': too many ports (the maximum is %d)", hdr,
			       FQ_CONF_MAX_PORTS);
	ld->cur = c->nports++;
	memset(&c->ports[ld->cur], 0, sizeof(c->ports[0]));
	strcpy(c->ports[ld->cur].name, name);
	ld->port_line[ld->cur] = ld->lineno;
	ld->sect = SECT_PORT;
}

static void begin_subsys(struct loader *ld, const char *hdr, const char *nqn)
{
	struct fq_target_conf *c = ld->c;
	char msg[512];

	if (fq_conf_check_nqn(nqn, msg, sizeof(msg)) < 0)
		return ld_fail(ld, NULL, "section '[%s]': %s", hdr, msg);
	if (!strcmp(nqn, FQ_DISCOVERY_NQN))
		return ld_fail(ld, NULL, "section '[%s]': the discovery NQN is reserved", hdr);
	for (int i = 0; i < c->nsubsys; i++) {
		if (strcmp(c->subsys[i].nqn, nqn))
			continue;
		if (i < FQ_CONF_MAX_SUBSYS && ld->subsys_line[i])
			return ld_fail(ld, NULL,
				       "section '[%s]': subsystem defined twice (first on line %d)",
				       hdr, ld->subsys_line[i]);
		return ld_fail(ld, NULL, "section '[%s]': subsystem defined twice", hdr);
	}
	if (c->nsubsys >= FQ_CONF_MAX_SUBSYS)
		return ld_fail(ld, NULL, "section '[%s]': too many subsystems (the maximum is %d)",
			       hdr, FQ_CONF_MAX_SUBSYS);
	if (!fq_conf_add_subsys(c, nqn)) {
		ld_fail(ld, NULL, "section '[%s]': out of memory", hdr);
		ld->rc = -ENOMEM;
		return;
	}
	ld->cur = c->nsubsys - 1;
	ld->subsys_line[ld->cur] = ld->lineno;
	ld->sect = SECT_SUBSYS;
}

/*
 * Split "KIND", "KIND \"NAME\"" or "KIND:NAME" (in place). Returns the name,
 * "" when there is none, or NULL when the form is wrong.
 */
static char *split_header(char *hdr)
{
	char *p = hdr + strcspn(hdr, " \t:\""), *name;
	size_t len;

	if (*p == ':') {
		*p = '\0';
		name = p + 1 + strspn(p + 1, " \t");
		return name;
	}
	name = p + strspn(p, " \t");
	*p = '\0';
	if (!*name)
		return name;
	len = strlen(name);
	if (name[0] != '"' || len < 2 || name[len - 1] != '"')
		return NULL;
	name[len - 1] = '\0';
	name++;
	return strchr(name, '"') ? NULL : name;
}

/* @s is the text after '[' of a header line. */
static void section_begin(struct loader *ld, const char *s)
{
	static const char *const kinds[] = {"target", "port", "subsystem", "pool"};
	const char *close = strchr(s, ']'), *rest, *hint;
	char hdr[512], work[512], *name;
	size_t len;

	ld->sect = SECT_NONE;
	memset(ld->seen, 0, sizeof(ld->seen));
	ld->any_explicit = false;
	if (!close)
		return ld_fail(ld, NULL, "section header without a closing ']'");
	rest = close + 1 + strspn(close + 1, " \t\r\n");
	if (*rest && *rest != ';' && *rest != '#')
		return ld_fail(ld, NULL, "unexpected text after ']'");
	s += strspn(s, " \t");
	len = (size_t)(close - s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= sizeof(hdr))
		return ld_fail(ld, NULL, "section header is too long");
	memcpy(hdr, s, len);
	hdr[len] = '\0';
	strcpy(work, hdr);
	name = split_header(work);
	if (!name)
		return ld_fail(ld, NULL,
			       "section '[%s]': expected [KIND], [KIND \"NAME\"] or [KIND:NAME]",
			       hdr);
	if (!strcmp(work, "target")) {
		if (*name)
			return ld_fail(ld, NULL, "section '[%s]': [target] takes no name", hdr);
		if (ld->target_line)
			return ld_fail(ld, NULL,
				       "section '[target]' given twice (first on line %d)",
				       ld->target_line);
		ld->target_line = ld->lineno;
		ld->sect = SECT_TARGET;
		return;
	}
	if (!strcmp(work, "port") || !strcmp(work, "subsystem")) {
		if (!*name)
			return ld_fail(ld, NULL, "section '[%s]' needs a name: [%s \"%s\"]", hdr,
				       work, work[0] == 'p' ? "NAME" : "NQN");
		return work[0] == 'p' ? begin_port(ld, hdr, name) : begin_subsys(ld, hdr, name);
	}
	if (!strcmp(work, "pool")) {
		char msg[256];

		if (fq_pool_conf_begin(name, msg, sizeof(msg)))
			return ld_fail(ld, NULL, "section '[%s]': %s", hdr, msg);
		ld->sect = SECT_POOL;
		return;
	}
	hint = closest(work, kinds, 4);
	if (hint)
		return ld_fail(ld, NULL, "unknown section '[%s]'; did you mean '%s'?", hdr, hint);
	ld_fail(ld, NULL, "unknown section '[%s]' (expected target, port or subsystem)", hdr);
}

/* Look at a new physical line before inih does: count it, catch headers. */
static void scan_line(struct loader *ld)
{
	const char *s = ld->line;

	ld->lineno++;
	if (ld->len > MAX_LINE)
		return ld_fail(ld, NULL, "line is longer than %d bytes", MAX_LINE);
	if (memchr(ld->line, '\0', ld->len))
		return ld_fail(ld, NULL, "line contains a NUL byte");
	if (ld->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	if (*s == '[')
		return section_begin(ld, s + 1);
	/* inih would take an indented '[' as a continuation of the previous value. */
	if (s[strspn(s, " \t")] == '[')
		ld_fail(ld, NULL, "a section header must start in the first column");
}

static char *ld_reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	size_t n;

	if (ld->rc || num < 2)
		return NULL;
	if (ld->off == ld->len) {
		ssize_t r = getline(&ld->line, &ld->cap, ld->f);

		if (r <= 0)
			return NULL;
		ld->len = (size_t)r;
		ld->off = 0;
		scan_line(ld);
		if (ld->rc)
			return NULL;
	}
	n = ld->len - ld->off;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, ld->line + ld->off, n);
	str[n] = '\0';
	ld->off += n;
	return str;
}

/* Name lists of `ports` keys, checked once every [port] section is known. */
static void resolve_ports(struct loader *ld, struct pending_ports *pp)
{
	struct fq_target_conf *c = ld->c;
	struct fq_subsys_conf *s = &c->subsys[pp->subsys];
	const char *names[FQ_CONF_MAX_PORTS], *hint;
	char *tok, *save = NULL;
	int i;

	ld->lineno = pp->line;
	for (i = 0; i < c->nports; i++)
		names[i] = c->ports[i].name;
	s->nports = 0;
	for (tok = strtok_r(pp->names, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		i = key_index(tok, names, c->nports);
		if (i < 0 && (hint = closest(tok, names, c->nports)))
			return ld_fail(ld, "ports", "no port named '%s'; did you mean '%s'?", tok,
				       hint);
		if (i < 0)
			return ld_fail(ld, "ports", "no port named '%s'", tok);
		if (c->ports[i].discovery_only)
			return ld_fail(ld, "ports", "port '%s' is discovery_only", tok);
		for (int j = 0; j < s->nports; j++)
			if (s->ports[j] == i)
				return ld_fail(ld, "ports", "port '%s' is listed twice", tok);
		s->ports[s->nports++] = i;
	}
	if (!s->nports)
		ld_fail(ld, "ports", "empty list (leave the key out to use every port)");
}

/* Set inih's run-time knobs for long lines and restore them afterwards. */
static int run_inih(struct loader *ld)
{
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	bool stop = ini_stop_on_first_error;
	int max_line = ini_max_line, r;

	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = MAX_LINE + 3; /* + "\r\n\0" */
	ini_stop_on_first_error = true;
	r = ini_parse_stream(ld_reader, ld, on_pair, ld);
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max_line;
	ini_stop_on_first_error = stop;
	return r;
}

int fq_conf_load_file(struct fq_target_conf *c, const char *path, char *err, size_t errlen)
{
	struct loader ld = {.c = c, .path = path, .err = err, .errlen = errlen};
	int r;

	fq_pool_conf_reset();
	ld.f = fopen(path, "r");
	if (!ld.f) {
		r = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = run_inih(&ld);
	if (!ld.rc && r == -2) {
		seterr(err, errlen, "%s: out of memory", path);
		ld.rc = -ENOMEM;
	} else if (!ld.rc && ferror(ld.f)) {
		seterr(err, errlen, "%s:%d: read error", path, ld.lineno);
		ld.rc = -EIO;
	} else if (!ld.rc && r > 0) {
		ld.lineno = r;
		ld_fail(&ld, NULL,
			"syntax error: expected 'key = value', a comment or a section header");
	}
	for (int i = 0; i < ld.npend; i++) {
		if (!ld.rc)
			resolve_ports(&ld, &ld.pend[i]);
		free(ld.pend[i].names);
	}
	free(ld.pend);
	free(ld.line);
	fclose(ld.f);
	return ld.rc;
}

/* ---------------------------------------------------------------------------
 * fq_conf_validate: rules that need the whole structure.
 */

static int validate_target(const struct fq_target_conf *c, char *err, size_t errlen)
{
	char msg[128];

	for (int i = 0; i < NTARGET_KEYS; i++) {
		if (num_check(&target_keys[i], num_get(c, &target_keys[i]), msg, sizeof(msg)) < 0) {
			seterr(err, errlen, "[target] key '%s': %s", target_keys[i].name, msg);
			return -EINVAL;
		}
	}
	if (c->log_level < 0 || c->log_level > 3) {
		seterr(err, errlen, "[target] key 'log_level': %d is not 0..3", c->log_level);
		return -EINVAL;
	}
	/* A transfer is staged in one buffer of max_transfer bytes. */
	if (c->in_capsule_size > c->max_transfer || c->max_h2c_data > c->max_transfer) {
		seterr(err, errlen, "[target] %s (%u) is larger than max_transfer (%u)",
		       c->in_capsule_size > c->max_transfer ? "in_capsule_data" : "max_h2c_data",
		       c->in_capsule_size > c->max_transfer ? c->in_capsule_size : c->max_h2c_data,
		       c->max_transfer);
		return -EINVAL;
	}
	/* The volume engine serves a pool from one thread (docs/volumes.md). */
	for (int i = 0; i < c->nsubsys && c->reactors != 1; i++)
		for (int n = 0; n < c->subsys[i].nns; n++)
			if (c->subsys[i].ns[n].bdev.kind == FQ_BDEV_VOL) {
				seterr(err, errlen,
				       "subsystem '%s': namespace vol:%s needs [target] reactors = "
				       "1 "
				       "(--reactors 1) for now",
				       c->subsys[i].nqn, c->subsys[i].ns[n].path);
				return -EINVAL;
			}
	return 0;
}

/* Address bytes, so that "::1" and "0::1" are seen as the same. */
static size_t addr_bytes(const char *addr, unsigned char *out)
{
	if (inet_pton(AF_INET, addr, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, addr, out) == 1)
		return 16;
	return 0;
}

static int validate_ports(struct fq_target_conf *c, char *err, size_t errlen)
{
	unsigned char a[16], b[16];

	if (c->nports < 1 || c->nports > FQ_CONF_MAX_PORTS) {
		seterr(err, errlen, "no [port] defined: the target needs at least one");
		return -EINVAL;
	}
	for (int i = 0; i < c->nports; i++) {
		struct fq_port_conf *p = &c->ports[i];
		size_t la;

		if (!port_name_ok(p->name)) {
			seterr(err, errlen, "port '%s': bad name", p->name);
			return -EINVAL;
		}
		la = addr_bytes(p->addr, a);
		if (!la) {
			seterr(err, errlen, "port '%s': %s", p->name,
			       p->addr[0] ? "address is not numeric IPv4 or IPv6" : "no address");
			return -EINVAL;
		}
		if (!p->port)
			p->port = p->discovery_only ? 8009 : 4420;
		for (int j = 0; j < i; j++) {
			const struct fq_port_conf *q = &c->ports[j];

			if (!strcmp(p->name, q->name)) {
				seterr(err, errlen, "port '%s' is defined twice", p->name);
				return -EINVAL;
			}
			if (q->port == p->port && addr_bytes(q->addr, b) == la &&
			    !memcmp(a, b, la)) {
				seterr(err, errlen, "ports '%s' and '%s' both listen on %s port %u",
				       q->name, p->name, p->addr, p->port);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int validate_access(struct fq_subsys_conf *s, char *err, size_t errlen)
{
	char msg[512];

	if (s->nhosts < 0 || s->nhosts > FQ_CONF_MAX_HOSTS) {
		seterr(err, errlen, "subsystem '%s': bad host count %d", s->nqn, s->nhosts);
		return -EINVAL;
	}
	for (int i = 0; i < s->nhosts; i++) {
		if (fq_conf_check_nqn(s->hosts[i], msg, sizeof(msg)) < 0) {
			seterr(err, errlen, "subsystem '%s': allow_host: %s", s->nqn, msg);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(s->hosts[i], s->hosts[j])) {
				seterr(err, errlen, "subsystem '%s': host '%s' is listed twice",
				       s->nqn, s->hosts[i]);
				return -EINVAL;
			}
		}
	}
	if (!s->allow_any_host && !s->nhosts) {
		seterr(err, errlen,
		       "subsystem '%s': allow_any_host is off and no allow_host is given: "
		       "no host could connect",
		       s->nqn);
		return -EINVAL;
	}
	return 0;
}

/* An empty port list means every port that is not discovery_only. */
static int validate_subsys_ports(const struct fq_target_conf *c, struct fq_subsys_conf *s,
				 char *err, size_t errlen)
{
	if (s->nports < 0 || s->nports > FQ_CONF_MAX_PORTS) {
		seterr(err, errlen, "subsystem '%s': bad port count %d", s->nqn, s->nports);
		return -EINVAL;
	}
	if (!s->nports) {
		for (int i = 0; i < c->nports; i++)
			if (!c->ports[i].discovery_only)
				s->ports[s->nports++] = i;
		if (!s->nports) {
			seterr(err, errlen, "subsystem '%s': every port is discovery_only", s->nqn);
			return -EINVAL;
		}
	}
	for (int i = 0; i < s->nports; i++) {
		int p = s->ports[i];

		if (p < 0 || p >= c->nports || c->ports[p].discovery_only) {
			seterr(err, errlen, "subsystem '%s': port index %d is %s", s->nqn, p,
			       p < 0 || p >= c->nports ? "not defined" : "discovery_only");
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			if (s->ports[j] == p) {
				seterr(err, errlen, "subsystem '%s': port '%s' is listed twice",
				       s->nqn, c->ports[p].name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_ns(const struct fq_subsys_conf *s, const struct fq_ns_conf *ns, char *err,
		    size_t errlen)
{
	const struct fq_bdev_opts *b = &ns->bdev;
	const char *why = NULL;

	if (b->kind != FQ_BDEV_RAM && b->kind != FQ_BDEV_NULL && b->kind != FQ_BDEV_FILE &&
	    b->kind != FQ_BDEV_VOL)
		why = "unknown backend kind";
	else if (b->block_size != 512 && b->block_size != 4096)
		why = "block size must be 512 or 4096";
	else if (b->kind == FQ_BDEV_VOL && !ns->path[0])
		why = "vol namespace without POOL/NAME";
	else if (b->kind != FQ_BDEV_FILE && b->kind != FQ_BDEV_VOL && !b->size)
		why = "ram and null namespaces need a size";
	else if (b->size % b->block_size)
		why = "size is not a multiple of the block size";
	else if (b->kind == FQ_BDEV_FILE && !ns->path[0])
		why = "file namespace without a path";
	else if (b->kind == FQ_BDEV_FILE && b->create && !b->size)
		why = "create needs a size";
	else if (ns->nsid > MAX_NSID)
		why = "nsid is above 4294967294";
	if (why) {
		seterr(err, errlen, "subsystem '%s': namespace %u: %s", s->nqn, ns->nsid, why);
		return -EINVAL;
	}
	return 0;
}

static bool nsid_used(const struct fq_subsys_conf *s, uint32_t nsid)
{
	for (int i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return true;
	return false;
}

/* Explicit nsids must be unique; the others take the next free one from 1, in order. */
static int assign_nsids(struct fq_subsys_conf *s, char *err, size_t errlen)
{
	uint32_t next = 1;

	for (int i = 0; i < s->nns; i++) {
		for (int j = 0; j < i && s->ns[i].nsid; j++) {
			if (s->ns[j].nsid == s->ns[i].nsid) {
				seterr(err, errlen, "subsystem '%s': nsid %u is used twice", s->nqn,
				       s->ns[i].nsid);
				return -EINVAL;
			}
		}
	}
	for (int i = 0; i < s->nns; i++) {
		if (s->ns[i].nsid)
			continue;
		while (nsid_used(s, next))
			next++;
		s->ns[i].nsid = next++;
	}
	return 0;
}

/* NVMe Base 2.0 §4.7.1: NGUID and UUID must be unique; derive missing ones. */
static int fill_ids(struct fq_subsys_conf *s, char *err, size_t errlen)
{
	for (int i = 0; i < s->nns; i++) {
		struct fq_ns_conf *ns = &s->ns[i];

		if (!ns->has_nguid)
			fq_conf_derive_id(s->nqn, ns->nsid, 0, ns->nguid);
		if (!ns->has_uuid)
			fq_conf_derive_id(s->nqn, ns->nsid, 1, ns->uuid);
		ns->has_nguid = ns->has_uuid = true;
	}
	for (int i = 0; i < s->nns; i++) {
		for (int j = 0; j < i; j++) {
			bool g = !memcmp(s->ns[i].nguid, s->ns[j].nguid, 16);

			if (g || !memcmp(s->ns[i].uuid, s->ns[j].uuid, 16)) {
				seterr(err, errlen,
				       "subsystem '%s': namespaces %u and %u have the same %s",
				       s->nqn, s->ns[j].nsid, s->ns[i].nsid, g ? "nguid" : "uuid");
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int validate_subsys(struct fq_target_conf *c, int idx, char *err, size_t errlen)
{
	struct fq_subsys_conf *s = &c->subsys[idx];
	char msg[512];

	s->nqn[FQ_CONF_NQN_LEN - 1] = '\0';
	if (fq_conf_check_nqn(s->nqn, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "subsystem: %s", msg);
		return -EINVAL;
	}
	if (!strcmp(s->nqn, FQ_DISCOVERY_NQN)) {
		seterr(err, errlen, "subsystem '%s': the discovery NQN is reserved", s->nqn);
		return -EINVAL;
	}
	for (int j = 0; j < idx; j++) {
		if (!strcmp(c->subsys[j].nqn, s->nqn)) {
			seterr(err, errlen, "subsystem '%s' is defined twice", s->nqn);
			return -EINVAL;
		}
	}
	if (!s->serial[0])
		default_serial(s->nqn, s->serial);
	if (!s->model[0])
		strcpy(s->model, DEFAULT_MODEL);
	s->serial[20] = s->model[40] = '\0';
	if (check_ascii(s->serial, 20, msg, sizeof(msg)) < 0 ||
	    check_ascii(s->model, 40, msg, sizeof(msg)) < 0) {
		seterr(err, errlen, "subsystem '%s': serial/model: %s", s->nqn, msg);
		return -EINVAL;
	}
	if (validate_access(s, err, errlen) < 0 || validate_subsys_ports(c, s, err, errlen) < 0)
		return -EINVAL;
	if (s->nns < 0 || s->nns > FQ_CONF_MAX_NS) {
		seterr(err, errlen, "subsystem '%s': bad namespace count %d", s->nqn, s->nns);
		return -EINVAL;
	}
	fix_paths(s);
	for (int i = 0; i < s->nns; i++)
		if (check_ns(s, &s->ns[i], err, errlen) < 0)
			return -EINVAL;
	if (assign_nsids(s, err, errlen) < 0)
		return -EINVAL;
	return fill_ids(s, err, errlen);
}

int fq_conf_validate(struct fq_target_conf *c, char *err, size_t errlen)
{
	if (validate_target(c, err, errlen) < 0 || validate_ports(c, err, errlen) < 0)
		return -EINVAL;
	if (c->nsubsys < 1 || !c->subsys) {
		seterr(err, errlen, "no [subsystem] defined: the target needs at least one");
		return -EINVAL;
	}
	if (c->nsubsys > FQ_CONF_MAX_SUBSYS) {
		seterr(err, errlen, "too many subsystems (the maximum is %d)", FQ_CONF_MAX_SUBSYS);
		return -EINVAL;
	}
	for (int i = 0; i < c->nsubsys; i++)
		if (validate_subsys(c, i, err, errlen) < 0)
			return -EINVAL;
	return 0;
}
