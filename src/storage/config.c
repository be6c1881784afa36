/* SPDX-License-Identifier: MIT */
/*
 * The storage configuration loader. inih splits lines into sections and
 * key/value pairs; our reader hands it one physical line at a time and
 * counts them, so the handler always knows the line it is looking at (the
 * Debian build of inih does not pass line numbers). Every key lives in one
 * table with its type and range; docs/storage-api.md documents the same
 * table.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "util/ini_file.h"
#include "util/parse.h"

#define MAX_LINE 196 /* the limit inih's default 200-byte buffer set (with "\r\n\0") */

enum key_type {
	K_STR,
	K_U32,
	K_I32,
	K_SIZE, /* u64 with an optional K/M/G suffix (powers of 1024) */
	K_BOOL,
	K_BACKEND,
	K_TRANSPORT,
	K_POLL,
	K_FILE, /* repeatable file_path */
	K_RDMA, /* recognised, answered "not supported yet" */
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	size_t len; /* K_STR: buffer size */
	int64_t min;
	int64_t max;
};

#define F(field) offsetof(struct sto_config, field)
#define S(field) F(field), sizeof(((struct sto_config *)0)->field)

static const struct key keys[] = {
	{"backend", K_BACKEND, 0, 0, 0, 0},
	{"transport", K_TRANSPORT, 0, 0, 0, 0},
	{"target_addr", K_STR, S(target_addr), 0, 0},
	{"target_port", K_U32, F(target_port), 0, 1, 65535},
	{"target_nqn", K_STR, S(target_nqn), 0, 0},
	{"host_nqn", K_STR, S(host_nqn), 0, 0},
	{"io_queue_count", K_U32, F(io_queue_count), 0, 1, 64},
	/* The host keeps (depth - 1) * 2 slots per queue, at most 1024. */
	{"queue_depth", K_U32, F(queue_depth), 0, 2, 512},
	{"header_digest", K_BOOL, F(header_digest), 0, 0, 0},
	{"data_digest", K_BOOL, F(data_digest), 0, 0, 0},
	{"connect_timeout_ms", K_U32, F(connect_timeout_ms), 0, 100, 600000},
	{"io_timeout_ms", K_U32, F(io_timeout_ms), 0, 0, 3600000},
	{"keep_alive_interval", K_U32, F(keep_alive_interval), 0, 0, 3600},
	{"reconnect_delay_ms", K_U32, F(reconnect_delay_ms), 0, 0, 600000},
	{"ctrl_loss_timeout_ms", K_I32, F(ctrl_loss_timeout_ms), 0, -1, INT32_MAX},
	{"file_path", K_FILE, 0, 0, 0, 0},
	{"file_size", K_SIZE, F(file_size), 0, 0, INT64_MAX},
	{"file_block_size", K_U32, F(file_block_size), 0, 0, 65536},
	{"max_batch_size", K_U32, F(max_batch_size), 0, 1, 1024},
	{"adaptive_batching", K_BOOL, F(adaptive_batching), 0, 0, 0},
	{"polling_mode", K_POLL, 0, 0, 0, 0},
	{"poll_interval_us", K_U32, F(poll_interval_us), 0, 0, 1000000},
	{"poll_spin_max_us", K_U32, F(poll_spin_max_us), 0, 0, 1000000},
	{"mem_pool_size", K_SIZE, F(mem_pool_size), 0, 4096, 1ll << 30},
	{"mem_block_size", K_SIZE, F(mem_block_size), 0, 512, 65536},
	{"retry_count", K_U32, F(retry_count), 0, 0, 100},
	/* Seed 000's RDMA tuning keys. */
	{"max_inline_data", K_RDMA, 0, 0, 0, 0},
	{"max_send_wr", K_RDMA, 0, 0, 0, 0},
	{"max_recv_wr", K_RDMA, 0, 0, 0, 0},
	{"completion_vector", K_RDMA, 0, 0, 0, 0},
	{"dma_buffer_size", K_RDMA, 0, 0, 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct loader {
	struct sto_config *c;
	const char *src; /* for messages: the path or "config" */
	FILE *f;
	int lineno;
	int rc;
	char *err;
	size_t errlen;
	bool in_names;	 /* current section is [names] */
	int seen[NKEYS]; /* line of each key's first occurrence */
};

void sto_config_defaults(struct sto_config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = STO_BACKEND_NVMEOF;
	snprintf(c->target_port, sizeof(c->target_port), "4420");
	c->io_queue_count = 2;
	c->queue_depth = 128;
	c->connect_timeout_ms = 5000;
	c->io_timeout_ms = 30000;
	c->keep_alive_interval = 5;
	c->reconnect_delay_ms = 1000;
	c->ctrl_loss_timeout_ms = 600000;
	c->max_batch_size = 64;
	c->adaptive_batching = true;
	c->polling_mode = STO_POLL_ADAPTIVE;
	c->poll_interval_us = 0;
	c->poll_spin_max_us = 100;
	c->mem_pool_size = 1 << 20;
	c->mem_block_size = 4096;
	c->retry_count = 3;
}

const char *sto_backend_name(enum sto_backend_kind k)
{
	return k == STO_BACKEND_FILE ? "file" : "nvmeof";
}

const char *sto_poll_mode_name(enum sto_poll_mode m)
{
	static const char *const n[] = {"adaptive", "busy", "sleep"};

	return (unsigned)m < 3 ? n[m] : "?";
}

__attribute__((format(printf, 4, 5))) static int fail(struct loader *ld, int rc, const char *key,
						      const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ld->err && !ld->rc) {
		if (key)
			snprintf(ld->err, ld->errlen, "%s:%d: key '%s': %s", ld->src, ld->lineno,
				 key, msg);
		else
			snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->src, ld->lineno, msg);
	}
	if (!ld->rc)
		ld->rc = rc;
	return 0; /* tells inih to stop (ini_stop_on_first_error is not relied on) */
}

/* An integer (decimal, 0x hex, a sign), or for @size a byte count as fq_parse_size takes it. */
static int parse_int(const char *v, int64_t *out, bool size)
{
	char *end;
	long long n;

	if (size) {
		uint64_t u;
		int rc = fq_parse_size(v, &u);

		if (rc)
			return rc;
		if (u > INT64_MAX)
			return -ERANGE;
		*out = (int64_t)u;
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 0);
	if (errno || end == v || *end)
		return -EINVAL;
	*out = n;
	return 0;
}

static int set_number(struct loader *ld, const struct key *k, const char *v)
{
	char *base = (char *)ld->c + k->off;
	int64_t n;
	int rc = parse_int(v, &n, k->type == K_SIZE);

	if (rc)
		return fail(ld, -EINVAL, k->name, "'%s' is not %s", v,
			    k->type == K_SIZE ? "a size (digits with an optional K, M, G or T)"
					      : "an integer");
	if (n < k->min || n > k->max)
		return fail(ld, -EINVAL, k->name, "%lld is out of range [%lld, %lld]", (long long)n,
			    (long long)k->min, (long long)k->max);
	if (!strcmp(k->name, "target_port"))
		snprintf(ld->c->target_port, sizeof(ld->c->target_port), "%lld", (long long)n);
	else if (k->type == K_SIZE && k->off == F(mem_block_size))
		*(uint32_t *)(void *)base = (uint32_t)n;
	else if (k->type == K_SIZE)
		*(uint64_t *)(void *)base = (uint64_t)n;
	else if (k->type == K_I32)
		*(int32_t *)(void *)base = (int32_t)n;
	else
		*(uint32_t *)(void *)base = (uint32_t)n;
	return 1;
}

static int set_enum(struct loader *ld, const struct key *k, const char *v)
{
	struct sto_config *c = ld->c;
	bool b;

	switch (k->type) {
	case K_BACKEND:
		if (!strcmp(v, "nvmeof") || !strcmp(v, "file")) {
			c->backend = !strcmp(v, "file") ? STO_BACKEND_FILE : STO_BACKEND_NVMEOF;
			return 1;
		}
		return fail(ld, -EINVAL, k->name, "'%s': expected nvmeof or file", v);
	case K_TRANSPORT:
		if (!strcasecmp(v, "tcp"))
			return 1;
		if (!strcasecmp(v, "rdma"))
			return fail(ld, -EPROTONOSUPPORT, k->name,
				    "transport rdma is not supported yet (use tcp)");
		return fail(ld, -EINVAL, k->name,
			    "'%s': expected tcp (rdma: not supported yet); local storage is "
			    "'backend = file'",
			    v);
	case K_POLL:
		if (!strcmp(v, "adaptive"))
			c->polling_mode = STO_POLL_ADAPTIVE;
		else if (!strcmp(v, "busy"))
			c->polling_mode = STO_POLL_BUSY;
		else if (!strcmp(v, "sleep"))
			c->polling_mode = STO_POLL_SLEEP;
		else if (!fq_parse_bool(v, &b))
			c->polling_mode = b ? STO_POLL_BUSY : STO_POLL_SLEEP;
		else
			return fail(ld, -EINVAL, k->name,
				    "'%s': expected adaptive, busy, sleep, true or false", v);
		return 1;
	default:
		return fail(ld, -EINVAL, k->name, "internal: bad key type");
	}
}

/* file_path = PATH[,bs=N] */
static int add_file(struct loader *ld, const struct key *k, const char *v)
{
	struct sto_file *f = &ld->c->files[ld->c->nfiles];
	const char *opt = strstr(v, ",bs=");
	size_t n = opt ? (size_t)(opt - v) : strlen(v);
	int64_t bs = 0;

	if (ld->c->nfiles == STO_MAX_FILES)
		return fail(ld, -EINVAL, k->name, "more than %d files", STO_MAX_FILES);
	if (!n || n >= PATH_MAX)
		return fail(ld, -EINVAL, k->name, "bad path length");
	if (opt && (parse_int(opt + 4, &bs, false) || bs < 512 || bs > 65536 || (bs & (bs - 1))))
		return fail(ld, -EINVAL, k->name, "',bs=%s': expected a power of two 512..65536",
			    opt + 4);
	f->path = strndup(v, n);
	if (!f->path)
		return fail(ld, -ENOMEM, k->name, "out of memory");
	f->bs = (uint32_t)bs;
	f->line = ld->lineno;
	ld->c->nfiles++;
	return 1;
}

static int set_value(struct loader *ld, const struct key *k, const char *v)
{
	char *base = (char *)ld->c + k->off;
	bool b;

	switch (k->type) {
	case K_STR:
		if (!*v || strlen(v) >= k->len)
			return fail(ld, -EINVAL, k->name, "value must be 1 to %zu bytes long",
				    k->len - 1);
		memcpy(base, v, strlen(v) + 1);
		return 1;
	case K_BOOL:
		if (fq_parse_bool(v, &b))
			return fail(ld, -EINVAL, k->name, "'%s': expected true or false", v);
		*(bool *)base = b;
		return 1;
	case K_FILE:
		return add_file(ld, k, v);
	case K_RDMA:
		return fail(ld, -EPROTONOSUPPORT, k->name,
			    "an RDMA setting; transport rdma is not supported yet");
	case K_BACKEND:
	case K_TRANSPORT:
	case K_POLL:
		return set_enum(ld, k, v);
	default:
		return set_number(ld, k, v);
	}
}

static int add_name(struct loader *ld, const char *name, const char *v)
{
	struct sto_config *c = ld->c;
	struct sto_name *n;
	char why[128];

	if (!sto_name_is_valid(name))
		return fail(ld, -EINVAL, name,
			    "a name is 1 to 63 letters, digits, '_', '-' or '.', not a selector");
	if (sto_selector_check(v, why, sizeof(why)))
		return fail(ld, -EINVAL, name, "%s", why);
	for (unsigned i = 0; i < c->nnames; i++)
		if (!strcmp(c->names[i].name, name))
			return fail(ld, -EINVAL, name, "name defined twice (first on line %d)",
				    c->names[i].line);
	if (c->nnames == STO_MAX_NAMES)
		return fail(ld, -EINVAL, name, "more than %d names", STO_MAX_NAMES);
	n = &c->names[c->nnames++];
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->sel, sizeof(n->sel), "%s", v);
	n->line = ld->lineno;
	return 1;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	(void)section; /* the reader tracks sections itself */
	if (ld->rc)
		return 0;
	if (ld->in_names)
		return add_name(ld, name, value);
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name))
			continue;
		if (ld->seen[i] && keys[i].type != K_FILE)
			return fail(ld, -EINVAL, name, "given twice (first on line %d)",
				    ld->seen[i]);
		ld->seen[i] = ld->lineno;
		return set_value(ld, &keys[i], value);
	}
	return fail(ld, -EINVAL, name, "unknown key (see docs/storage-api.md)");
}

/* Section headers and line shapes inih would silently accept differently. */
static int scan_line(void *user, const char *s, size_t len, int lineno)
{
	struct loader *ld = user;
	const char *end;
	size_t n;

	(void)len;
	ld->lineno = lineno;
	if (s[0] == ' ' || s[0] == '\t') {
		s += strspn(s, " \t");
		/* inih would glue an indented line onto the previous value. */
		if (*s && *s != '\n' && *s != '\r' && *s != ';' && *s != '#')
			fail(ld, -EINVAL, NULL,
			     "indented line (continuation lines are not "
			     "supported)");
		return ld->rc;
	}
	if (*s != '[')
		return 0;
	end = strchr(s, ']');
	if (!end)
		return fail(ld, -EINVAL, NULL, "section header without ']'"), ld->rc;
	n = (size_t)(end - s - 1);
	if (n == 5 && !strncmp(s + 1, "names", 5))
		ld->in_names = true;
	else if ((n == 7 && !strncmp(s + 1, "storage", 7)) ||
		 (n == 6 && !strncmp(s + 1, "nvmeof", 6)))
		ld->in_names = false;
	else
		fail(ld, -EINVAL, NULL, "unknown section '[%.*s]' (expected [storage] or [names])",
		     (int)n, s + 1);
	return ld->rc;
}

static int check_required(struct loader *ld)
{
	struct sto_config *c = ld->c;

	ld->lineno = 0;
	if (c->backend == STO_BACKEND_NVMEOF && (!c->target_addr[0] || !c->target_nqn[0]))
		return fail(ld, -EINVAL, NULL, "backend nvmeof needs target_addr and target_nqn"),
		       ld->rc;
	if (c->backend == STO_BACKEND_FILE && !c->nfiles)
		return fail(ld, -EINVAL, NULL, "backend file needs at least one file_path"), ld->rc;
	if (c->mem_block_size & (c->mem_block_size - 1))
		return fail(ld, -EINVAL, "mem_block_size", "must be a power of two"), ld->rc;
	if (c->file_block_size & (c->file_block_size - 1) ||
	    (c->file_block_size && c->file_block_size < 512))
		return fail(ld, -EINVAL, "file_block_size", "must be 0 or a power of two >= 512"),
		       ld->rc;
	if (c->mem_pool_size < 2ull * c->mem_block_size)
		return fail(ld, -EINVAL, "mem_pool_size",
			    "must hold at least two mem_block_size "
			    "blocks"),
		       ld->rc;
	return 0;
}

int sto_config_parse(struct sto_config *c, const char *path, const char *text, char *err,
		     size_t errlen)
{
	struct loader ld = {.c = c, .src = path ? path : "config", .err = err, .errlen = errlen};
	int rc;

	if (err && errlen)
		err[0] = '\0';
	sto_config_defaults(c);
	ld.f = path ? fopen(path, "re") : fmemopen((void *)text, strlen(text), "r");
	if (!ld.f) {
		rc = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", ld.src, strerror(-rc));
		return rc;
	}
	rc = fq_ini_parse(ld.f, MAX_LINE, scan_line, on_pair, &ld, &ld.lineno);
	fclose(ld.f);
	if (!ld.rc && rc == -E2BIG)
		fail(&ld, -EINVAL, NULL, "line is longer than %d bytes", MAX_LINE);
	else if (!ld.rc && rc == -EILSEQ)
		fail(&ld, -EINVAL, NULL, "line contains a NUL byte");
	else if (!ld.rc && rc > 0) /* a syntax error inih found itself, on line rc */
		ld.lineno = rc, fail(&ld, -EINVAL, NULL, "syntax error (expected key = value)");
	else if (!ld.rc && rc < 0)
		fail(&ld, rc, NULL, "%s", strerror(-rc));
	if (!ld.rc)
		check_required(&ld);
	if (ld.rc)
		sto_config_free(c);
	return ld.rc;
}

void sto_config_free(struct sto_config *c)
{
	for (unsigned i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		c->files[i].path = NULL;
	}
	c->nfiles = 0;
}
