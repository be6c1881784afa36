/* SPDX-License-Identifier: MIT */
/*
 * The public target API (include/fabriq/target.h): a configuration built
 * with the calls of target/config.h, then the target core of tgt.c run over
 * it. fabriqd is a command line over this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabriq/target.h"
#include "target/config.h"
#include "target/tgt.h"
#include "util/log.h"

enum target_state {
	TARGET_NEW,	/* being configured */
	TARGET_RUNNING, /* started */
	TARGET_STOPPED, /* stopped, or a start that failed */
};

struct fq_target {
	struct fq_target_opts opts;
	struct fq_target_conf conf;
	/* Ports added with port 0: fq_conf_validate() defaults them, start undoes it. */
	bool ephemeral[FQ_CONF_MAX_PORTS];
	char *config_path;
	struct fq_tgt *tgt;
	enum target_state state;
	char err[512];
};

static int fail(struct fq_target *t, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fq_target *t, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Configuration calls are for a target that has not started. */
static int check_new(struct fq_target *t)
{
	t->err[0] = '\0';
	if (t->state != TARGET_NEW)
		return fail(t, -EBUSY, "the target was started already");
	return 0;
}

void fq_target_opts_init(struct fq_target_opts *o, size_t opts_size)
{
	struct fq_target_opts d;

	memset(&d, 0, sizeof(d));
	d.opts_size = sizeof(d);
	d.reactors = 0;
	d.busy_poll_us = -1;
	d.log_level = -1;
	/* Copy only what the caller's version of the struct has room for. */
	if (opts_size > sizeof(d))
		opts_size = sizeof(d);
	memcpy(o, &d, opts_size);
	if (opts_size >= sizeof(size_t))
		o->opts_size = opts_size;
}

int fq_target_create(const struct fq_target_opts *opts, struct fq_target **out)
{
	struct fq_target *t;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	fq_target_opts_init(&t->opts, sizeof(t->opts));
	if (opts) {
		size_t n = opts->opts_size < sizeof(t->opts) ? opts->opts_size : sizeof(t->opts);

		memcpy(&t->opts, opts, n);
		t->opts.opts_size = sizeof(t->opts);
	}
	if (t->opts.reactors < 0 || t->opts.reactors > 1024 || t->opts.busy_poll_us < -1 ||
	    t->opts.busy_poll_us > 10000000 || t->opts.log_level < -1 ||
	    t->opts.log_level > FQ_LOG_DEBUG) {
		free(t);
		return -EINVAL;
	}
	fq_conf_init(&t->conf);
	*out = t;
	return 0;
}

const char *fq_target_last_error(const struct fq_target *t)
{
	return t->err;
}

int fq_target_load_config(struct fq_target *t, const char *path)
{
	int rc = check_new(t);

	if (rc)
		return rc;
	if (t->config_path)
		return fail(t, -EINVAL, "a configuration file was loaded already");
	rc = fq_conf_load_file(&t->conf, path, t->err, sizeof(t->err));
	if (rc)
		return rc;
	t->config_path = strdup(path);
	return t->config_path ? 0 : -ENOMEM;
}

int fq_target_add_port(struct fq_target *t, const char *name, const char *listen,
		       bool discovery_only)
{
	struct fq_port_conf *p;
	char addr[64], spec[128];
	bool ephemeral;
	uint16_t port;
	size_t len;
	int rc = check_new(t);

	if (rc)
		return rc;
	if (t->conf.nports == FQ_CONF_MAX_PORTS)
		return fail(t, -EINVAL, "too many ports (the maximum is %d)", FQ_CONF_MAX_PORTS);
	if (strlen(name) >= sizeof(p->name))
		return fail(t, -EINVAL, "port name '%s' is too long", name);
	/*
	 * Port 0 (the kernel picks one at start) is the API's own: the
	 * configuration syntax has no such port, so parse the address with a
	 * stand-in port and clear it.
	 */
	len = strlen(listen);
	ephemeral = len > 2 && !strcmp(listen + len - 2, ":0");
	snprintf(spec, sizeof(spec), "%.*s%s", (int)(ephemeral ? len - 2 : len), listen,
		 ephemeral ? ":1" : "");
	if (len >= sizeof(spec) || fq_conf_parse_listen(spec, addr, sizeof(addr), &port))
		return fail(t, -EINVAL, "port %s: bad address '%s' (expected ADDR:PORT)", name,
			    listen);
	if (ephemeral)
		port = 0;
	t->ephemeral[t->conf.nports] = ephemeral;
	p = &t->conf.ports[t->conf.nports++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->port = port;
	p->discovery_only = discovery_only;
	return 0;
}

static struct fq_subsys_conf *find_subsys(struct fq_target *t, const char *nqn)
{
	for (int i = 0; i < t->conf.nsubsys; i++)
		if (!strcmp(t->conf.subsys[i].nqn, nqn))
			return &t->conf.subsys[i];
	return NULL;
}

int fq_target_add_subsystem(struct fq_target *t, const char *nqn)
{
	int rc = check_new(t);

	if (rc)
		return rc;
	if (find_subsys(t, nqn))
		return fail(t, -EEXIST, "subsystem %s is defined twice", nqn);
	if (!fq_conf_add_subsys(&t->conf, nqn))
		return fail(t, strlen(nqn) > FQ_TARGET_NQN_LEN ? -EINVAL : -ENOMEM,
			    "cannot add subsystem %s: %s", nqn,
			    strlen(nqn) > FQ_TARGET_NQN_LEN ? "the NQN is too long"
							    : "limit reached or out of memory");
	return 0;
}

/* Both add-* calls: the target must still be new and the subsystem must exist. */
static int add_to_subsys(struct fq_target *t, const char *subnqn, const char *what,
			 int (*add)(struct fq_subsys_conf *, const char *, char *, size_t))
{
	struct fq_subsys_conf *s;
	int rc = check_new(t);

	if (rc)
		return rc;
	s = find_subsys(t, subnqn);
	if (!s)
		return fail(t, -ENOENT, "no subsystem %s", subnqn);
	return add(s, what, t->err, sizeof(t->err));
}

int fq_target_add_host(struct fq_target *t, const char *subnqn, const char *hostnqn)
{
	return add_to_subsys(t, subnqn, hostnqn, fq_conf_add_host);
}

int fq_target_add_ns(struct fq_target *t, const char *subnqn, const char *spec)
{
	return add_to_subsys(t, subnqn, spec, fq_conf_add_ns);
}

int fq_target_start(struct fq_target *t)
{
	int rc = check_new(t);

	if (rc)
		return rc;
	if (t->opts.reactors > 0)
		t->conf.reactors = t->opts.reactors;
	if (t->opts.busy_poll_us >= 0)
		t->conf.busy_poll_us = (uint32_t)t->opts.busy_poll_us;
	if (t->opts.log_level >= 0)
		t->conf.log_level = t->opts.log_level;
	/* A failed start is final: the namespaces it made are gone again. */
	t->state = TARGET_STOPPED;
	rc = fq_conf_validate(&t->conf, t->err, sizeof(t->err));
	if (rc)
		return rc;
	for (int i = 0; i < t->conf.nports; i++)
		if (t->ephemeral[i])
			t->conf.ports[i].port = 0; /* bind picks one */
	fq_log_set_level(t->conf.log_level);
	rc = fq_tgt_create(&t->conf, &t->tgt, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_tgt_run(t->tgt);
	if (rc) {
		if (!t->err[0])
			fail(t, rc, "%s", strerror(-rc));
		if (t->tgt) {
			fq_tgt_stop(t->tgt);
			fq_tgt_destroy(t->tgt);
			t->tgt = NULL;
		}
		return rc;
	}
	t->state = TARGET_RUNNING;
	return 0;
}

int fq_target_reload_config(struct fq_target *t)
{
	struct fq_target_conf *nc;
	int rc;

	t->err[0] = '\0';
	if (!t->config_path)
		return fail(t, -ENOENT, "nothing to reload: no configuration file");
	if (t->state != TARGET_RUNNING)
		return fail(t, -EINVAL, "the target is not running");
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	fq_conf_init(nc);
	rc = fq_conf_load_file(nc, t->config_path, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_conf_validate(nc, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_tgt_reload(t->tgt, nc, t->err, sizeof(t->err));
	/* Namespaces keep their own copy of what they were made from. */
	fq_conf_free(nc);
	free(nc);
	return rc;
}

void fq_target_stop(struct fq_target *t)
{
	if (t->state != TARGET_RUNNING)
		return;
	fq_tgt_stop(t->tgt);
	fq_tgt_destroy(t->tgt);
	t->tgt = NULL;
	t->state = TARGET_STOPPED;
}

void fq_target_destroy(struct fq_target *t)
{
	if (!t)
		return;
	fq_target_stop(t);
	fq_conf_free(&t->conf);
	free(t->config_path);
	free(t);
}

int fq_target_get_num_reactors(const struct fq_target *t)
{
	return t->tgt ? t->tgt->nreactors : 0;
}

int fq_target_get_port(const struct fq_target *t, int idx, struct fq_target_port_info *info)
{
	const struct fq_port_conf *p;

	if (!t->tgt)
		return -EINVAL;
	if (idx < 0 || idx >= t->tgt->nports)
		return -ENOENT;
	p = &t->tgt->ports[idx].conf;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->name);
	snprintf(info->addr, sizeof(info->addr), "%s", p->addr);
	info->port = p->port;
	info->discovery_only = p->discovery_only;
	return 0;
}

int fq_target_get_subsystem(const struct fq_target *t, int idx, struct fq_target_subsys_info *info)
{
	const struct fq_subsys *s;

	if (!t->tgt)
		return -EINVAL;
	if (idx < 0 || idx >= t->tgt->nsubsys)
		return -ENOENT;
	s = t->tgt->subsys[idx];
	memset(info, 0, sizeof(*info));
	snprintf(info->nqn, sizeof(info->nqn), "%s", s->nqn);
	info->allow_any_host = s->allow_any_host;
	info->num_ns = fq_subsys_ns(s)->n;
	return 0;
}

int fq_target_get_ns(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
		     struct fq_target_ns_info *info)
{
	const struct fq_tgt_ns_table *tab;
	const struct fq_tgt_ns *ns;

	if (!t->tgt)
		return -EINVAL;
	if (subsys_idx < 0 || subsys_idx >= t->tgt->nsubsys)
		return -ENOENT;
	tab = fq_subsys_ns(t->tgt->subsys[subsys_idx]);
	if (ns_idx >= tab->n)
		return -ENOENT;
	ns = tab->ns[ns_idx];
	memset(info, 0, sizeof(*info));
	info->nsid = ns->nsid;
	snprintf(info->name, sizeof(info->name), "%s", ns->bdev->name);
	info->num_blocks = ns->bdev->num_blocks;
	info->block_size = ns->bdev->block_size;
	return 0;
}
