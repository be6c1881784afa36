/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration: the INI loader. Every rejection names its file,
 * line and key, with the nearest known name when a key or section is
 * misspelt. docs/configuration.md describes the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/nvmf.h"
#include "target/config_int.h"
#include "util/ini_file.h"
#include "util/parse.h"
#include "volume/volume.h"

/* Longest INI line accepted: a PATH_MAX file path plus its options fits. */
#define MAX_LINE 8192

static const char *const log_levels[] = {"error", "warn", "info", "debug"};

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
 * The loader. inih reads lines through fq_ini_parse, which counts them and
 * shows each to scan_line first; section headers are parsed here: inih cuts
 * section names at 50 bytes (an NQN is up to 223).
 */

enum sect {
	SECT_NONE,
	SECT_TARGET,
	SECT_PORT,
	SECT_SUBSYS,
	SECT_POOL,
	SECT_RPC,
	SECT_STATE,
	SECT_DISCOVERY,
	SECT_BDEV,
	SECT_SKIP
};

struct pending_ports {
	int subsys;
	int line;
	char *names;
};

struct loader {
	struct fq_target_conf *c;
	const char *path;
	int lineno;
	int rc; /* first error, 0 while all is well */
	char *err;
	size_t errlen;
	enum sect sect;
	int cur;      /* index of the current port or subsystem */
	int seen[16]; /* line each single-valued key of this section was set on */
	bool any_explicit;
	bool state; /* fabriqd's state file: [state] is allowed */
	int target_line;
	int port_line[FQ_CONF_MAX_PORTS];
	int subsys_line[FQ_CONF_MAX_SUBSYS];
	struct pending_ports *pend;
	int npend;
	/* [bdev "NAME"]: its name until its spec is read, and the header's line. */
	char bdev[FQ_CONF_BDEV_NAME_MAX + 1];
	int bdev_line;
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
		fq_errf(ld->err, ld->errlen, "%s:%d: key '%s': %s", ld->path, ld->lineno, key, msg);
	else
		fq_errf(ld->err, ld->errlen, "%s:%d: %s", ld->path, ld->lineno, msg);
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
	const char *names[FQ_CONF_NTARGET_KEYS + 1];
	const struct fq_conf_num_key *k;
	char msg[128];
	uint64_t v;
	int i, r;

	for (i = 0; i < FQ_CONF_NTARGET_KEYS; i++)
		names[i] = fq_conf_target_keys[i].name;
	names[FQ_CONF_NTARGET_KEYS] = "log_level";
	i = key_index(key, names, FQ_CONF_NTARGET_KEYS + 1);
	if (i < 0)
		return ld_unknown_key(ld, key, names, FQ_CONF_NTARGET_KEYS + 1);
	if (!ld_once(ld, i, key))
		return;
	if (i == FQ_CONF_NTARGET_KEYS) {
		r = key_index(val, log_levels, 4);
		if (r < 0)
			return ld_fail(ld, key, "'%s' is not one of error, warn, info, debug", val);
		ld->c->log_level = r;
		return;
	}
	k = &fq_conf_target_keys[i];
	r = (k->flags & FQ_CONF_NUM_SIZE) ? fq_conf_parse_size(val, &v) : fq_parse_u64(val, &v);
	if (r == -ERANGE || (r == 0 && v > INT64_MAX))
		return ld_fail(ld, key, "'%s' is too large", val);
	if (r < 0)
		return ld_fail(ld, key, "'%s' is not a valid %s", val,
			       (k->flags & FQ_CONF_NUM_SIZE) ? "size" : "number");
	if (fq_conf_num_check(k, (int64_t)v, msg, sizeof(msg)) < 0)
		return ld_fail(ld, key, "%s", msg);
	fq_conf_num_set(ld->c, k, (int64_t)v);
}

/* "192.0.2.1:4420" or "[2001:db8::1]:4420". */
static int parse_advertise(const char *val, struct fq_port_conf *p)
{
	char addr[64];
	const char *colon;
	size_t n;

	if (val[0] == '[') {
		const char *rb = strchr(val, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		n = (size_t)(rb - val - 1);
		val++;
		colon = rb + 1;
	} else {
		colon = strrchr(val, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - val);
	}
	if (!n || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, val, n);
	addr[n] = 0;
	if (fq_conf_check_addr(addr, false, p->adv_addr, sizeof(p->adv_addr)) < 0 ||
	    fq_conf_parse_port(colon + 1, &p->adv_port) < 0) {
		p->adv_port = 0;
		return -EINVAL;
	}
	return 0;
}

static void port_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"address", "port", "discovery_only", "advertise"};
	struct fq_port_conf *p = &ld->c->ports[ld->cur];
	int i = key_index(key, names, 4);

	if (i < 0)
		return ld_unknown_key(ld, key, names, 4);
	if (!ld_once(ld, i, key))
		return;
	if (i == 3) {
		if (parse_advertise(val, p) < 0)
			ld_fail(ld, key,
				"'%s' is not ADDR:PORT (a numeric IPv4 address, or [IPv6]:PORT)",
				val);
		return;
	}
	if (i == 0 && val[0] == '[')
		ld_fail(ld, key, "'%s': write IPv6 addresses without brackets", val);
	else if (i == 0 && fq_conf_check_addr(val, false, p->addr, sizeof(p->addr)) < 0)
		ld_fail(ld, key, "'%s' is not a numeric IPv4 or IPv6 address", val);
	else if (i == 1 && fq_conf_parse_port(val, &p->port) < 0)
		ld_fail(ld, key, "'%s' is not a TCP port (1..65535)", val);
	else if (i == 2 && fq_parse_bool(val, &p->discovery_only) < 0)
		ld_fail(ld, key, "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", val);
}

static void subsys_ports_key(struct loader *ld, const char *val)
{
	struct pending_ports *pend;

	/* "-": no port at all, what the management API can leave a subsystem with. */
	if (!strcmp(val, "-")) {
		ld->c->subsys[ld->cur].no_ports = true;
		return;
	}
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
		if (fq_conf_check_ascii(val, i == 0 ? 20 : 40, msg, sizeof(msg)) < 0)
			return ld_fail(ld, key, "%s", msg);
		strcpy(i == 0 ? s->serial : s->model, val);
		return;
	case 2:
		if (fq_parse_bool(val, &s->allow_any_host) < 0)
			return ld_fail(ld, key,
				       "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)",
				       val);
		ld->any_explicit = true;
		return;
	case 3:
		/* "-": no host yet on purpose (a closed subsystem, hosts added live). */
		if (!strcmp(val, "-")) {
			s->closed = true;
			if (!ld->any_explicit)
				s->allow_any_host = false;
			return;
		}
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

/* [rpc]: fabriqd's management socket and state directory (docs/management.md). */
static void rpc_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"socket", "state_dir"};
	int i = key_index(key, names, 2);

	if (i < 0)
		return ld_unknown_key(ld, key, names, 2);
	if (!ld_once(ld, i, key))
		return;
	if (i == 1) {
		if (!val[0] || strlen(val) >= sizeof(ld->c->state_dir))
			return ld_fail(ld, key, "a directory path is 1..%zu bytes",
				       sizeof(ld->c->state_dir) - 1);
		strcpy(ld->c->state_dir, val);
		return;
	}
	if (!val[0] || strlen(val) >= sizeof(ld->c->rpc_socket))
		return ld_fail(ld, key, "a socket path is 1..%zu bytes",
			       sizeof(ld->c->rpc_socket) - 1);
	strcpy(ld->c->rpc_socket, val);
}

/* [state] (state files only): configuration-file subsystems deleted at run time. */
static void state_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"removed", "removed_bdev"};
	struct fq_target_conf *c = ld->c;
	int k = key_index(key, names, 2);

	if (k < 0)
		return ld_unknown_key(ld, key, names, 2);
	if (k == 1) {
		if (!fq_conf_bdev_name_ok(val))
			return ld_fail(ld, key, "'%s' is not a bdev name", val);
		if (!c->removed_bdevs)
			c->removed_bdevs = calloc(FQ_CONF_MAX_BDEVS, sizeof(*c->removed_bdevs));
		if (!c->removed_bdevs) {
			ld->rc = -ENOMEM;
			return ld_fail(ld, key, "out of memory");
		}
		if (c->nremoved_bdevs >= FQ_CONF_MAX_BDEVS)
			return ld_fail(ld, key, "more than %d entries", FQ_CONF_MAX_BDEVS);
		strcpy(c->removed_bdevs[c->nremoved_bdevs++], val);
		return;
	}
	if (strlen(val) >= FQ_CONF_NQN_LEN)
		return ld_fail(ld, key, "NQN too long");
	if (c->nremoved >= FQ_CONF_MAX_SUBSYS)
		return ld_fail(ld, key, "more than %d entries", FQ_CONF_MAX_SUBSYS);
	strcpy(c->removed[c->nremoved++], val);
}

/*
 * [discovery]: referral = ADDR:PORT [NQN], once per referral; "referral = -"
 * says there is none (a state file whose referrals were all removed).
 */
static void discovery_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"referral"};
	struct fq_target_conf *c = ld->c;
	struct fq_referral_conf r;
	char msg[512];

	if (key_index(key, names, 1) < 0)
		return ld_unknown_key(ld, key, names, 1);
	c->has_referrals = true;
	if (!strcmp(val, "-"))
		return;
	if (fq_conf_parse_referral(val, &r, msg, sizeof(msg)) < 0)
		return ld_fail(ld, key, "%s", msg);
	if (fq_conf_find_referral(c, r.addr, r.port) >= 0)
		return ld_fail(ld, key, "'%s' is listed twice", val);
	if (c->nreferrals >= FQ_CONF_MAX_REFERRALS)
		return ld_fail(ld, key, "more than %d referrals", FQ_CONF_MAX_REFERRALS);
	c->referrals[c->nreferrals++] = r;
}

/* [bdev "NAME"]: spec = a namespace spec without nsid, uuid or nguid. */
static void bdev_key(struct loader *ld, const char *key, const char *val)
{
	static const char *const names[] = {"spec"};
	char msg[512];

	if (key_index(key, names, 1) < 0)
		return ld_unknown_key(ld, key, names, 1);
	if (!ld_once(ld, 0, key))
		return;
	if (fq_conf_add_bdev(ld->c, ld->bdev, val, msg, sizeof(msg)) < 0)
		return ld_fail(ld, key, "%s", msg);
	ld->bdev[0] = '\0';
}

/* A [bdev] section that ended without its spec. */
static void check_bdev_done(struct loader *ld)
{
	if (ld->bdev[0] && !ld->rc) {
		ld->lineno = ld->bdev_line;
		ld_fail(ld, NULL, "section '[bdev \"%s\"]' needs spec = SPEC", ld->bdev);
	}
	ld->bdev[0] = '\0';
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

		fq_pool_conf_at(ld->path, ld->lineno);
		if (fq_pool_conf_key(name, value, msg, sizeof(msg)))
			ld_fail(ld, name, "%s", msg);
		break;
	}
	case SECT_RPC:
		rpc_key(ld, name, value);
		break;
	case SECT_STATE:
		state_key(ld, name, value);
		break;
	case SECT_DISCOVERY:
		discovery_key(ld, name, value);
		break;
	case SECT_BDEV:
		bdev_key(ld, name, value);
		break;
	case SECT_SKIP:
		break;
	}
	return !ld->rc;
}

static void begin_port(struct loader *ld, const char *hdr, const char *name)
{
	struct fq_target_conf *c = ld->c;

	if (!fq_conf_port_name_ok(name))
		return ld_fail(
			ld, NULL,
			"section '[%s]': a port name is 1..%d letters, digits, '-', '_' or '.'",
			hdr, FQ_CONF_PORT_NAME_MAX);
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
	static const char *const kinds[] = {"target", "port",	   "subsystem", "pool",
					    "rpc",    "discovery", "bdev"};
	const char *close = strchr(s, ']'), *rest, *hint;
	char hdr[512], work[512], *name;
	size_t len;

	check_bdev_done(ld);
	if (ld->rc)
		return;
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
	if (ld->state && !strcmp(work, "state")) {
		if (*name)
			return ld_fail(ld, NULL, "section '[%s]': [state] takes no name", hdr);
		ld->sect = SECT_STATE;
		return;
	}
	if (!strcmp(work, "bdev")) {
		/*
		 * The state file names every named bdev, those of the configuration
		 * file too (already added when it was read): the state's spec wins.
		 */
		int i = fq_conf_find_bdev(ld->c, name);

		if (!fq_conf_bdev_name_ok(name))
			return ld_fail(ld, NULL,
				       "section '[%s]': a bdev name is 1..%d letters, digits, '-', "
				       "'_' or '.'",
				       hdr, FQ_CONF_BDEV_NAME_MAX);
		if (i >= 0 && !ld->state)
			return ld_fail(ld, NULL, "section '[%s]': bdev '%s' is defined twice", hdr,
				       name);
		snprintf(ld->bdev, sizeof(ld->bdev), "%s", name);
		ld->bdev_line = ld->lineno;
		ld->sect = SECT_BDEV;
		return;
	}
	if (!strcmp(work, "discovery")) {
		if (*name)
			return ld_fail(ld, NULL, "section '[%s]': [discovery] takes no name", hdr);
		ld->sect = SECT_DISCOVERY;
		return;
	}
	if (!strcmp(work, "rpc")) {
		if (*name)
			return ld_fail(ld, NULL, "section '[%s]': [rpc] takes no name", hdr);
		ld->sect = SECT_RPC;
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

		/*
		 * The state file names every open pool, those of the configuration
		 * file too: there the configuration file's section wins.
		 */
		if (ld->state && fq_pool_conf_defined(name)) {
			ld->sect = SECT_SKIP;
			return;
		}
		if (fq_pool_conf_begin(name, msg, sizeof(msg)))
			return ld_fail(ld, NULL, "section '[%s]': %s", hdr, msg);
		ld->sect = SECT_POOL;
		return;
	}
	hint = closest(work, kinds, 7);
	if (hint)
		return ld_fail(ld, NULL, "unknown section '[%s]'; did you mean '%s'?", hdr, hint);
	ld_fail(ld, NULL,
		"unknown section '[%s]' (expected target, port, subsystem, pool, bdev, rpc or "
		"discovery)",
		hdr);
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

/* Look at a new physical line before inih does: catch headers. */
static int scan_line(void *user, const char *s, size_t len, int lineno)
{
	struct loader *ld = user;

	(void)len;
	ld->lineno = lineno;
	if (ld->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	if (*s == '[')
		section_begin(ld, s + 1);
	/* inih would take an indented '[' as a continuation of the previous value. */
	else if (s[strspn(s, " \t")] == '[')
		ld_fail(ld, NULL, "a section header must start in the first column");
	return ld->rc;
}

static int load_file(struct fq_target_conf *c, const char *path, bool state, char *err,
		     size_t errlen)
{
	struct loader ld = {.c = c, .path = path, .err = err, .errlen = errlen, .state = state};
	FILE *f;
	int r;

	if (!state)
		fq_pool_conf_reset();
	f = fopen(path, "r");
	if (!f) {
		r = -errno;
		fq_errf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = fq_ini_parse(f, MAX_LINE, scan_line, on_pair, &ld, &ld.lineno);
	fclose(f);
	if (!ld.rc && r == 0)
		check_bdev_done(&ld);
	if (!ld.rc && r == -E2BIG) {
		ld_fail(&ld, NULL, "line is longer than %d bytes", MAX_LINE);
	} else if (!ld.rc && r == -EILSEQ) {
		ld_fail(&ld, NULL, "line contains a NUL byte");
	} else if (!ld.rc && r == -ENOMEM) {
		fq_errf(err, errlen, "%s: out of memory", path);
		ld.rc = -ENOMEM;
	} else if (!ld.rc && r == -EIO) {
		fq_errf(err, errlen, "%s:%d: read error", path, ld.lineno);
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
	return ld.rc;
}

int fq_conf_load_file(struct fq_target_conf *c, const char *path, char *err, size_t errlen)
{
	return load_file(c, path, false, err, errlen);
}

int fq_conf_load_state_file(struct fq_target_conf *c, const char *path, char *err, size_t errlen)
{
	return load_file(c, path, true, err, errlen);
}
