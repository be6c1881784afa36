/* SPDX-License-Identifier: MIT */
/*
 * The public target API (include/fabriq/target.h): a configuration built
 * with the calls of target/config.h, then the target core of tgt.c run over
 * it. fabriqd is a command line over this file.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fabriq/target.h"
#include "target/config.h"
#include "target/live.h"
#include "target/state.h"
#include "target/tgt.h"
#include "util/log.h"
#include "volume/volume.h"

/* How long a call that changes a pool's metadata waits for its I/O to drain. */
#define POOL_DRAIN_TIMEOUT_MS 10000

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
	/* Modules that add their own sections to dumps and the state file. */
	struct {
		int (*emit)(FILE *f, void *arg);
		void *arg;
	} emitters[FQ_TARGET_MAX_EMITTERS];
	int nemitters;
	/*
	 * The subsystems the configuration file (or the command line) defined,
	 * before a state file was merged: those deleted at run time are
	 * recorded in the state ([state] removed) so they stay deleted.
	 */
	char (*base)[FQ_CONF_NQN_LEN];
	int nbase;
	bool hold; /* fq_target_hold_connections() */
	/* The same for named bdevs ([state] removed_bdev). */
	char (*base_bdevs)[FQ_CONF_BDEV_NAME_MAX + 1];
	int nbase_bdevs;
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
	    t->opts.log_level > FQ_LOG_DEBUG || (t->opts.loop && t->opts.reactors > 1)) {
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
	if (t->opts.loop) {
		/* One loop turns one reactor; a file asking for more is a mistake to say. */
		if (t->conf.reactors > 1)
			return fail(t, -EINVAL,
				    "a target on the caller's loop has one reactor, but the "
				    "configuration asks for %d (reactors)",
				    t->conf.reactors);
		t->conf.reactors = 1;
	}
	rc = fq_conf_validate(&t->conf, t->err, sizeof(t->err));
	if (rc)
		return rc;
	for (int i = 0; i < t->conf.nports; i++)
		if (t->ephemeral[i])
			t->conf.ports[i].port = 0; /* bind picks one */
	fq_log_set_level(t->conf.log_level);
	rc = fq_tgt_create_on(&t->conf, t->opts.loop, &t->tgt, t->err, sizeof(t->err));
	if (!rc && t->hold)
		fq_tgt_hold_accept(t->tgt);
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

struct limits_call {
	const char *name;
	char *err;
	size_t errlen;
};

static int apply_limits(void *arg)
{
	struct limits_call *lc = arg;

	return fq_pool_conf_apply_qos(lc->name, lc->err, lc->errlen);
}

/*
 * The limits of the file's volume lines, on the pools open already: on each
 * pool's home with its I/O drained, as volume_throttle does it.
 */
static int reload_limits(struct fq_target *t)
{
	for (int i = 0; i < fq_pool_conf_count(); i++) {
		struct limits_call lc = {fq_pool_conf_name(i), t->err, sizeof(t->err)};
		struct fq_pool *p = fq_pool_lookup(lc.name);
		int rc;

		if (!p || !fq_pool_conf_has_qos(lc.name))
			continue;
		rc = fq_target_run_on_pool(t, p, true, apply_limits, &lc);
		if (rc) {
			if (!t->err[0])
				snprintf(t->err, sizeof(t->err), "pool '%s': limits: %s", lc.name,
					 strerror(-rc));
			return rc;
		}
	}
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
	/*
	 * Pools the file names now and that are not open yet are opened (and
	 * created, with their volumes) before the namespaces that may sit on
	 * them; open ones are left alone but for the limits their volume lines
	 * name, set live. A new pool gets a home reactor as it is registered
	 * (fq_vol_set_homes), the one its reactor key names if it has one.
	 */
	if (!rc)
		rc = fq_pool_conf_check_reactors(t->tgt->nreactors, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_pool_conf_open_all(t->err, sizeof(t->err));
	if (!rc)
		rc = reload_limits(t);
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
	free(t->base);
	free(t->base_bdevs);
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
	pthread_mutex_lock(&t->tgt->lock);
	if (idx < 0 || idx >= t->tgt->nports) {
		pthread_mutex_unlock(&t->tgt->lock);
		return -ENOENT;
	}
	pthread_mutex_unlock(&t->tgt->lock);
	/* Ports are never removed and their conf never changes once listed. */
	p = &t->tgt->ports[idx].conf;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->name);
	snprintf(info->addr, sizeof(info->addr), "%s", p->addr);
	info->port = p->port;
	info->discovery_only = p->discovery_only;
	return 0;
}

/*
 * Subsystem @idx with the registry lock held (the caller unlocks), so what
 * is copied out of it is one consistent snapshot.
 */
static int lock_subsys(const struct fq_target *t, int idx, const struct fq_subsys **out)
{
	if (!t->tgt)
		return -EINVAL;
	pthread_mutex_lock(&t->tgt->lock);
	if (idx < 0 || idx >= t->tgt->nsubsys) {
		pthread_mutex_unlock(&t->tgt->lock);
		return -ENOENT;
	}
	*out = t->tgt->subsys[idx];
	return 0;
}

/* Namespace @ns_idx of subsystem @subsys_idx's published table, or NULL. */
static struct fq_tgt_ns *ns_at(const struct fq_target *t, int subsys_idx, uint32_t ns_idx)
{
	const struct fq_tgt_ns_table *tab = NULL;

	pthread_mutex_lock(&t->tgt->lock);
	if (subsys_idx >= 0 && subsys_idx < t->tgt->nsubsys)
		tab = fq_subsys_ns(t->tgt->subsys[subsys_idx]);
	pthread_mutex_unlock(&t->tgt->lock);
	/* Tables and namespaces stay allocated until exit once published. */
	return tab && ns_idx < tab->n ? tab->ns[ns_idx] : NULL;
}

int fq_target_get_subsystem(const struct fq_target *t, int idx, struct fq_target_subsys_info *info)
{
	const struct fq_subsys *s;
	int rc = lock_subsys(t, idx, &s);

	if (rc)
		return rc;
	memset(info, 0, sizeof(*info));
	snprintf(info->nqn, sizeof(info->nqn), "%s", s->nqn);
	info->allow_any_host = s->allow_any_host;
	info->num_ns = fq_subsys_ns(s)->n;
	pthread_mutex_unlock(&t->tgt->lock);
	return 0;
}

int fq_target_get_ns(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
		     struct fq_target_ns_info *info)
{
	const struct fq_tgt_ns *ns;

	if (!t->tgt)
		return -EINVAL;
	ns = ns_at(t, subsys_idx, ns_idx);
	if (!ns)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->nsid = ns->nsid;
	snprintf(info->name, sizeof(info->name), "%s", ns->bdev->name);
	info->num_blocks = ns->bdev->num_blocks;
	info->block_size = ns->bdev->block_size;
	return 0;
}

/* ---- live changes (live.c does the work) ---------------------------------- */

static int check_running(struct fq_target *t)
{
	t->err[0] = '\0';
	if (t->state != TARGET_RUNNING)
		return fail(t, -EINVAL, "the target is not running");
	return 0;
}

/*
 * A configuration holding the running target's ports and one subsystem
 * @nqn, for fq_conf_validate to check and default what the INI path does.
 */
static struct fq_target_conf *scratch_conf(struct fq_target *t, const char *nqn,
					   struct fq_subsys_conf **out)
{
	struct fq_target_conf *c = calloc(1, sizeof(*c));
	struct fq_target_port_info pi;

	if (!c)
		return NULL;
	fq_conf_init(c);
	/* The running target's reactors: a vol namespace needs exactly one. */
	if (t->tgt)
		c->reactors = t->tgt->nreactors;
	/* Its named bdevs are the running target's: live.c looks bdev:NAME up there. */
	c->bdevs_elsewhere = true;
	for (int i = 0; fq_target_get_port(t, i, &pi) == 0 && i < FQ_CONF_MAX_PORTS; i++) {
		struct fq_port_conf *p = &c->ports[c->nports++];

		snprintf(p->name, sizeof(p->name), "%s", pi.name);
		snprintf(p->addr, sizeof(p->addr), "%s", pi.addr);
		p->port = pi.port;
		p->discovery_only = pi.discovery_only;
	}
	*out = strlen(nqn) > FQ_TARGET_NQN_LEN ? NULL : fq_conf_add_subsys(c, nqn);
	if (!*out) {
		fq_conf_free(c);
		free(c);
		return NULL;
	}
	return c;
}

static void scratch_free(struct fq_target_conf *c)
{
	fq_conf_free(c);
	free(c);
}

int fq_target_live_create_subsystem(struct fq_target *t, const char *nqn, const char *serial,
				    const char *model, bool allow_any_host)
{
	struct fq_subsys_conf *sc;
	struct fq_target_conf *c;
	int rc = check_running(t);

	if (rc)
		return rc;
	if (strlen(nqn) > FQ_TARGET_NQN_LEN)
		return fail(t, -EINVAL, "the NQN is longer than %d bytes", FQ_TARGET_NQN_LEN);
	if ((serial && strlen(serial) > 20) || (model && strlen(model) > 40))
		return fail(t, -EINVAL, "%s is too long (at most %d characters)",
			    serial && strlen(serial) > 20 ? "serial" : "model",
			    serial && strlen(serial) > 20 ? 20 : 40);
	c = scratch_conf(t, nqn, &sc);
	if (!c)
		return fail(t, -ENOMEM, "out of memory");
	if (serial)
		snprintf(sc->serial, sizeof(sc->serial), "%s", serial);
	if (model)
		snprintf(sc->model, sizeof(sc->model), "%s", model);
	/* Hosts come later (add_host): no allow-list is complete yet. */
	sc->allow_any_host = true;
	rc = fq_conf_validate(c, t->err, sizeof(t->err));
	/* No hosts yet: validation turned "any host" on; the caller's word counts. */
	sc->allow_any_host = allow_any_host;
	if (!rc)
		rc = fq_live_subsys_create(t->tgt, sc, t->err, sizeof(t->err));
	scratch_free(c);
	return rc;
}

int fq_target_live_delete_subsystem(struct fq_target *t, const char *nqn)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_subsys_delete(t->tgt, nqn, t->err, sizeof(t->err));
}

static int live_host(struct fq_target *t, const char *nqn, const char *hostnqn, bool add)
{
	int rc = check_running(t);

	if (rc)
		return rc;
	if (add && fq_conf_check_nqn(hostnqn, t->err, sizeof(t->err)))
		return -EINVAL;
	return fq_live_host(t->tgt, nqn, hostnqn, add, t->err, sizeof(t->err));
}

int fq_target_live_add_host(struct fq_target *t, const char *nqn, const char *hostnqn)
{
	return live_host(t, nqn, hostnqn, true);
}

int fq_target_live_remove_host(struct fq_target *t, const char *nqn, const char *hostnqn)
{
	return live_host(t, nqn, hostnqn, false);
}

int fq_target_live_allow_any_host(struct fq_target *t, const char *nqn, bool allow)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_allow_any(t->tgt, nqn, allow, t->err, sizeof(t->err));
}

int fq_target_live_add_ns(struct fq_target *t, const char *nqn, const char *spec, uint32_t nsid,
			  uint32_t *out_nsid)
{
	struct fq_subsys_conf *sc;
	struct fq_target_conf *c;
	struct fq_ns_conf *nc;
	int rc = check_running(t);

	if (rc)
		return rc;
	c = scratch_conf(t, nqn, &sc);
	if (!c)
		return fail(t, -ENOMEM, "out of memory");
	/* The INI path's checks and defaults (paths, sizes, ids) on a lone namespace. */
	rc = fq_conf_add_ns(sc, spec, t->err, sizeof(t->err));
	nc = &sc->ns[0];
	if (!rc && nsid && nc->nsid && nc->nsid != nsid)
		rc = fail(t, -EINVAL, "nsid %u differs from the spec's nsid=%u", nsid, nc->nsid);
	if (!rc && nsid)
		nc->nsid = nsid;
	if (!rc && !nc->nsid) {
		/* Leave it to live.c (lowest free); validation would pick 1. */
		nc->nsid = FQ_TGT_NN;
		rc = fq_conf_validate(c, t->err, sizeof(t->err));
		nc->nsid = 0;
		nc->has_nguid = nc->has_uuid = false;
	} else if (!rc) {
		rc = fq_conf_validate(c, t->err, sizeof(t->err));
	}
	if (!rc)
		rc = fq_live_ns_add(t->tgt, nqn, nc, out_nsid, t->err, sizeof(t->err));
	scratch_free(c);
	return rc;
}

int fq_target_live_remove_ns(struct fq_target *t, const char *nqn, uint32_t nsid)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_ns_remove(t->tgt, nqn, nsid, t->err, sizeof(t->err));
}

int fq_target_live_ns_changed(struct fq_target *t, const char *nqn, uint32_t nsid)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_ns_changed(t->tgt, nqn, nsid, t->err, sizeof(t->err));
}

static int live_listener(struct fq_target *t, const char *nqn, const char *listen, bool add)
{
	char addr[64];
	uint16_t port;
	int rc = check_running(t);

	if (rc)
		return rc;
	if (fq_conf_parse_listen(listen, addr, sizeof(addr), &port))
		return fail(t, -EINVAL, "bad address '%s' (expected ADDR:PORT)", listen);
	return fq_live_listener(t->tgt, nqn, addr, port, add, t->err, sizeof(t->err));
}

int fq_target_live_add_listener(struct fq_target *t, const char *nqn, const char *listen)
{
	return live_listener(t, nqn, listen, true);
}

int fq_target_live_remove_listener(struct fq_target *t, const char *nqn, const char *listen)
{
	return live_listener(t, nqn, listen, false);
}

int fq_target_live_add_referral(struct fq_target *t, const char *listen, const char *nqn)
{
	struct fq_referral_conf r;
	char spec[FQ_CONF_NQN_LEN + 96];
	int rc = check_running(t);

	if (rc)
		return rc;
	/* One parser for the INI key and this call: "ADDR:PORT [NQN]". */
	if (strchr(listen, ' ') || strchr(listen, '\t') ||
	    (size_t)snprintf(spec, sizeof(spec), "%s%s%s", listen, nqn ? " " : "",
			     nqn ? nqn : "") >= sizeof(spec))
		return fail(t, -EINVAL, "bad address '%s' (expected ADDR:PORT)", listen);
	rc = fq_conf_parse_referral(spec, &r, t->err, sizeof(t->err));
	if (rc)
		return rc;
	return fq_live_referral(t->tgt, &r, true, t->err, sizeof(t->err));
}

int fq_target_live_remove_referral(struct fq_target *t, const char *listen)
{
	struct fq_referral_conf r = {0};
	int rc = check_running(t);

	if (rc)
		return rc;
	if (fq_conf_parse_listen(listen, r.addr, sizeof(r.addr), &r.port))
		return fail(t, -EINVAL, "bad address '%s' (expected ADDR:PORT)", listen);
	return fq_live_referral(t->tgt, &r, false, t->err, sizeof(t->err));
}

int fq_target_get_referral(const struct fq_target *t, int idx, struct fq_target_referral_info *info)
{
	int rc = -ENOENT;

	/* Running, the list changes under the registry lock (live.c). */
	if (t->tgt)
		pthread_mutex_lock(&t->tgt->lock);
	if (idx >= 0 && idx < t->conf.nreferrals) {
		const struct fq_referral_conf *r = &t->conf.referrals[idx];

		snprintf(info->addr, sizeof(info->addr), "%s", r->addr);
		info->port = r->port;
		snprintf(info->nqn, sizeof(info->nqn), "%s", r->nqn);
		rc = 0;
	}
	if (t->tgt)
		pthread_mutex_unlock(&t->tgt->lock);
	return rc;
}

int fq_target_live_create_bdev(struct fq_target *t, const char *name, const char *spec)
{
	struct fq_target_conf *tmp;
	int rc = check_running(t);

	if (rc)
		return rc;
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return fail(t, -ENOMEM, "out of memory");
	fq_conf_init(tmp);
	/* The name's and the spec's rules, as for a [bdev] section. */
	rc = fq_conf_add_bdev(tmp, name, spec, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_live_bdev_create(t->tgt, name, &tmp->bdevs[0].ns, t->err, sizeof(t->err));
	fq_conf_free(tmp);
	free(tmp);
	return rc;
}

int fq_target_live_delete_bdev(struct fq_target *t, const char *name)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_bdev_delete(t->tgt, name, t->err, sizeof(t->err));
}

int fq_target_get_bdev(const struct fq_target *t, int idx, struct fq_target_bdev_info *info)
{
	struct fq_tgt_bdev_view *v;
	int rc;

	if (!t->tgt)
		return -EINVAL;
	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = fq_live_bdev_info(t->tgt, idx, v);
	if (!rc) {
		memset(info, 0, sizeof(*info));
		snprintf(info->name, sizeof(info->name), "%s", v->name);
		snprintf(info->nqn, sizeof(info->nqn), "%s", v->nqn);
		snprintf(info->spec, sizeof(info->spec), "%s", v->spec);
		info->nsid = v->nsid;
		info->num_blocks = v->num_blocks;
		info->block_size = v->block_size;
	}
	free(v);
	return rc;
}

int fq_target_live_set_bdev_params(struct fq_target *t, const char *nqn, uint32_t nsid,
				   const char *module, int index, const char *params)
{
	int rc = check_running(t);

	if (rc)
		return rc;
	if (index < 0)
		return fail(t, -EINVAL, "bad layer index %d", index);
	return fq_live_bdev_params(t->tgt, nqn, nsid, module, index, params, t->err,
				   sizeof(t->err));
}

static_assert((int)FQ_TARGET_QOS_RESUME_NORMAL == (int)FQ_BDEV_QOS_RESUME_NORMAL &&
		      (int)FQ_TARGET_QOS_RESUME_ERROR == (int)FQ_BDEV_QOS_RESUME_ERROR &&
		      (int)FQ_TARGET_QOS_RESUME_DISCARD == (int)FQ_BDEV_QOS_RESUME_DISCARD,
	      "the public resume modes are the qos module's");

int fq_target_live_qos_suspend(struct fq_target *t, const char *nqn, uint32_t nsid, int index)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_qos(t->tgt, nqn, nsid, index, -1, t->err, sizeof(t->err));
}

int fq_target_live_qos_resume(struct fq_target *t, const char *nqn, uint32_t nsid, int index,
			      enum fq_target_qos_resume mode)
{
	int rc = check_running(t);

	if (rc)
		return rc;
	if ((unsigned)mode > FQ_TARGET_QOS_RESUME_DISCARD)
		return fail(t, -EINVAL, "bad resume mode %d", (int)mode);
	return fq_live_qos(t->tgt, nqn, nsid, index, (int)mode, t->err, sizeof(t->err));
}

int fq_target_get_bdev_layer(const struct fq_target *t, int subsys_idx, uint32_t ns_idx, int layer,
			     struct fq_target_bdev_layer *info)
{
	const char *module, *name;
	struct fq_tgt_ns *ns;
	int rc;

	if (!t->tgt)
		return -EINVAL;
	ns = ns_at(t, subsys_idx, ns_idx);
	if (!ns || layer < 0)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	/* Against bdev_set_params: the error module's rule is not one atomic word. */
	pthread_mutex_lock(&t->tgt->cfg_lock);
	rc = fq_live_bdev_layer(ns, layer, &module, &name, info->params, sizeof(info->params));
	pthread_mutex_unlock(&t->tgt->cfg_lock);
	if (rc)
		return rc;
	snprintf(info->module, sizeof(info->module), "%s", module);
	snprintf(info->name, sizeof(info->name), "%s", name);
	return 0;
}

int fq_target_live_disconnect(struct fq_target *t, uint16_t cntlid)
{
	int rc = check_running(t);

	return rc ? rc : fq_live_ctrl_disconnect(t->tgt, cntlid, t->err, sizeof(t->err));
}

int fq_target_get_subsystem_detail(const struct fq_target *t, int idx,
				   struct fq_target_subsys_detail *d)
{
	const struct fq_subsys *s;
	int rc = lock_subsys(t, idx, &s);

	if (rc)
		return rc;
	memset(d, 0, sizeof(*d));
	snprintf(d->serial, sizeof(d->serial), "%s", s->serial);
	snprintf(d->model, sizeof(d->model), "%s", s->model);
	d->num_hosts = s->nhosts;
	d->ports = s->port_mask;
	pthread_mutex_unlock(&t->tgt->lock);
	return 0;
}

int fq_target_get_host(const struct fq_target *t, int subsys_idx, int host_idx, char *buf)
{
	int rc = -ENOENT;

	if (!t->tgt)
		return -EINVAL;
	pthread_mutex_lock(&t->tgt->lock);
	if (subsys_idx >= 0 && subsys_idx < t->tgt->nsubsys && host_idx >= 0 &&
	    host_idx < t->tgt->subsys[subsys_idx]->nhosts) {
		snprintf(buf, FQ_TARGET_NQN_LEN + 1, "%s",
			 t->tgt->subsys[subsys_idx]->hosts[host_idx]);
		rc = 0;
	}
	pthread_mutex_unlock(&t->tgt->lock);
	return rc;
}

int fq_target_get_ns_stats(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
			   struct fq_target_ns_stats *st)
{
	struct fq_tgt_ns *ns;

	if (!t->tgt)
		return -EINVAL;
	ns = ns_at(t, subsys_idx, ns_idx);
	if (!ns)
		return -ENOENT;
	st->reads = atomic_load_explicit(&ns->reads, memory_order_relaxed);
	st->writes = atomic_load_explicit(&ns->writes, memory_order_relaxed);
	st->bytes_read = atomic_load_explicit(&ns->bytes_read, memory_order_relaxed);
	st->bytes_written = atomic_load_explicit(&ns->bytes_written, memory_order_relaxed);
	st->errors = atomic_load_explicit(&ns->errors, memory_order_relaxed);
	return 0;
}

int fq_target_get_ns_latency(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
			     struct fq_target_ns_latency *lat)
{
	struct fq_tgt_ns *ns;

	if (!t->tgt)
		return -EINVAL;
	ns = ns_at(t, subsys_idx, ns_idx);
	if (!ns)
		return -ENOENT;
	_Static_assert(FQ_TARGET_LAT_BUCKETS == FQ_TGT_LAT_BUCKETS, "bucket counts differ");
	for (int b = 0; b < FQ_TARGET_LAT_BUCKETS; b++) {
		lat->read[b] = atomic_load_explicit(&ns->lat[0][b], memory_order_relaxed);
		lat->write[b] = atomic_load_explicit(&ns->lat[1][b], memory_order_relaxed);
	}
	lat->read_sum_ns = atomic_load_explicit(&ns->lat_sum_ns[0], memory_order_relaxed);
	lat->write_sum_ns = atomic_load_explicit(&ns->lat_sum_ns[1], memory_order_relaxed);
	for (int i = 0; i < 4; i++)
		lat->errors_by_type[i] =
			atomic_load_explicit(&ns->errors_sct[i], memory_order_relaxed);
	return 0;
}

int fq_target_get_reactor_stats(const struct fq_target *t, int idx,
				struct fq_target_reactor_stats *st)
{
	const struct fq_reactor *r;
	uint64_t now = fq_now_ns(), start;

	if (!t->tgt)
		return -EINVAL;
	if (idx < 0 || idx >= t->tgt->nreactors)
		return -ENOENT;
	r = &t->tgt->reactors[idx];
	/* start_ns is set once, before the reactor serves anything. */
	start = __atomic_load_n(&r->start_ns, __ATOMIC_RELAXED);
	st->idle_ns = fq_engine_idle_ns((struct fq_engine *)&r->loop->eng, now);
	st->busy_ns = start && now - start > st->idle_ns ? now - start - st->idle_ns : 0;
	return 0;
}

int fq_target_get_num_connections(const struct fq_target *t)
{
	return t->tgt ? atomic_load(&t->tgt->nconns) : 0;
}

int fq_target_get_controller(const struct fq_target *t, int idx, struct fq_target_ctrl_info *ci)
{
	const struct fq_ctrl *c;
	int i = 0;

	if (!t->tgt)
		return -EINVAL;
	pthread_mutex_lock(&t->tgt->lock);
	for (c = t->tgt->ctrls; c && i < idx; c = c->next)
		i++;
	if (!c || idx < 0) {
		pthread_mutex_unlock(&t->tgt->lock);
		return -ENOENT;
	}
	/* A listed controller's admin queue is alive: teardown unlists it first. */
	memset(ci, 0, sizeof(*ci));
	ci->cntlid = c->cntlid;
	snprintf(ci->subnqn, sizeof(ci->subnqn), "%s", c->subsys->nqn);
	snprintf(ci->hostnqn, sizeof(ci->hostnqn), "%s", c->hostnqn);
	snprintf(ci->addr, sizeof(ci->addr), "%s", c->admin->peer);
	snprintf(ci->port_name, sizeof(ci->port_name), "%s", c->port->conf.name);
	for (size_t w = 0; w < sizeof(c->ioq_map) / sizeof(c->ioq_map[0]); w++)
		ci->io_queues += (uint32_t)__builtin_popcountll(c->ioq_map[w]);
	ci->queue_depth = atomic_load(&((struct fq_ctrl *)c)->io_qdepth);
	ci->kato_ms = c->kato_ms;
	ci->hdgst = fq_tcp_conn_params(&c->admin->conn)->hdgst;
	ci->ddgst = fq_tcp_conn_params(&c->admin->conn)->ddgst;
	pthread_mutex_unlock(&t->tgt->lock);
	return 0;
}

const char *fq_target_get_rpc_socket(const struct fq_target *t)
{
	return t->conf.rpc_socket;
}

int fq_target_hold_connections(struct fq_target *t)
{
	int rc = check_new(t);

	if (!rc)
		t->hold = true;
	return rc;
}

int fq_target_accept_connections(struct fq_target *t)
{
	if (t->state != TARGET_RUNNING || !t->tgt)
		return -ESHUTDOWN;
	t->hold = false;
	fq_tgt_release_accept(t->tgt);
	return 0;
}

int fq_target_run_on_reactor(struct fq_target *t, int idx, int (*fn)(void *arg), void *arg)
{
	if (t->state != TARGET_RUNNING || !t->tgt)
		return -ESHUTDOWN;
	return fq_tgt_run_on_reactor(t->tgt, idx, fn, arg);
}

/* A call on a pool's home reactor, with the pool's I/O drained (fq_target_run_on_pool). */
struct pool_call {
	struct fq_pool *pool;
	int (*fn)(void *arg);
	void *arg;
	int rc;
	bool held;
};

static int pool_call_change(void *arg)
{
	struct pool_call *pc = arg;

	if (!fq_pool_io_idle(pc->pool))
		return -EAGAIN;
	pc->rc = pc->fn(pc->arg);
	fq_pool_io_release(pc->pool);
	pc->held = false;
	return 0;
}

static int pool_call_release(void *arg)
{
	fq_pool_io_release(((struct pool_call *)arg)->pool);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int fq_target_run_on_pool(struct fq_target *t, struct fq_pool *pool, bool change,
			  int (*fn)(void *arg), void *arg)
{
	struct pool_call pc = {.pool = pool, .fn = fn, .arg = arg};
	int home = fq_pool_home(pool);
	int rc;

	if (home < 0)
		return home;
	if (!change)
		return fq_target_run_on_reactor(t, home, fn, arg);
	/*
	 * New I/O queues in the vol bdevs; the call runs on the home once
	 * nothing is in flight there (polled, a turn of the reactor apart).
	 */
	fq_pool_io_hold(pool, true);
	pc.held = true;
	for (int waited = 0;; waited++) {
		rc = fq_target_run_on_reactor(t, home, pool_call_change, &pc);
		if (rc != -EAGAIN)
			break;
		if (waited >= POOL_DRAIN_TIMEOUT_MS) {
			rc = -ETIMEDOUT;
			break;
		}
		sleep_ms(1);
	}
	if (pc.held && fq_target_run_on_reactor(t, home, pool_call_release, &pc))
		fq_pool_io_hold(pool, false);
	return rc ? rc : pc.rc;
}

const char *fq_target_get_state_dir(const struct fq_target *t)
{
	return t->conf.state_dir;
}

int fq_target_add_conf_emitter(struct fq_target *t, int (*emit)(FILE *f, void *arg), void *arg)
{
	if (!emit)
		return fail(t, -EINVAL, "no emitter function");
	if (t->nemitters >= FQ_TARGET_MAX_EMITTERS)
		return fail(t, -ENOSPC, "too many configuration emitters (the maximum is %d)",
			    FQ_TARGET_MAX_EMITTERS);
	t->emitters[t->nemitters].emit = emit;
	t->emitters[t->nemitters].arg = arg;
	t->nemitters++;
	return 0;
}

static int run_emitters(struct fq_target *t, FILE *f)
{
	for (int i = 0; i < t->nemitters; i++) {
		int rc;

		fputc('\n', f);
		rc = t->emitters[i].emit(f, t->emitters[i].arg);
		if (rc)
			return fail(t, rc < 0 ? rc : -EIO, "a configuration emitter failed: %s",
				    strerror(rc < 0 ? -rc : EIO));
	}
	return 0;
}

int fq_target_dump_config(struct fq_target *t, FILE *f)
{
	int rc = check_running(t);

	if (rc)
		return rc;
	fputs("; the running configuration of fabriqd, as fabriqd -c takes it\n", f);
	rc = fq_tgt_dump(t->tgt, f, true);
	if (!rc)
		rc = run_emitters(t, f);
	if (!rc && ferror(f))
		rc = fail(t, -EIO, "writing the configuration failed");
	return rc;
}

int fq_target_load_state(struct fq_target *t, const char *path)
{
	struct fq_target_conf *st;
	int rc = check_new(t);

	if (rc)
		return rc;
	free(t->base);
	t->nbase = 0;
	t->base = calloc(FQ_CONF_MAX_SUBSYS, sizeof(*t->base));
	if (!t->base)
		return fail(t, -ENOMEM, "out of memory");
	for (int i = 0; i < t->conf.nsubsys && i < FQ_CONF_MAX_SUBSYS; i++)
		strcpy(t->base[t->nbase++], t->conf.subsys[i].nqn);
	free(t->base_bdevs);
	t->nbase_bdevs = 0;
	t->base_bdevs = calloc(FQ_CONF_MAX_BDEVS, sizeof(*t->base_bdevs));
	if (!t->base_bdevs)
		return fail(t, -ENOMEM, "out of memory");
	for (int i = 0; i < t->conf.nbdevs && i < FQ_CONF_MAX_BDEVS; i++)
		strcpy(t->base_bdevs[t->nbase_bdevs++], t->conf.bdevs[i].name);
	if (access(path, F_OK) && errno == ENOENT)
		return 0; /* nothing saved yet */
	rc = fq_state_check_complete(path, t->err, sizeof(t->err));
	if (rc)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(t, -ENOMEM, "out of memory");
	fq_conf_init(st);
	rc = fq_conf_load_state_file(st, path, t->err, sizeof(t->err));
	if (!rc)
		rc = fq_conf_merge_state(&t->conf, st, t->err, sizeof(t->err));
	fq_conf_free(st);
	free(st);
	return rc;
}

static bool bdev_exists(struct fq_target *t, const char *name)
{
	bool found;

	pthread_mutex_lock(&t->tgt->cfg_lock);
	found = fq_tgt_bdev_find(t->tgt, name) != NULL;
	pthread_mutex_unlock(&t->tgt->cfg_lock);
	return found;
}

int fq_target_save_state(struct fq_target *t, const char *path)
{
	struct fq_target_subsys_info info;
	char *text = NULL;
	size_t len = 0;
	bool header = false;
	FILE *f;
	int rc = check_running(t);

	if (rc)
		return rc;
	f = open_memstream(&text, &len);
	if (!f)
		return fail(t, -ENOMEM, "out of memory");
	fputs("; fabriqd state: what the management API changed (docs/management.md).\n"
	      "; Written by fabriqd after each change; edit only while it is stopped.\n",
	      f);
	for (int b = 0; b < t->nbase; b++) {
		bool found = false;

		for (int i = 0; !found && fq_target_get_subsystem(t, i, &info) == 0; i++)
			found = !strcmp(info.nqn, t->base[b]);
		if (found)
			continue;
		if (!header)
			fputs("\n[state]\n", f);
		header = true;
		fprintf(f, "removed = %s\n", t->base[b]);
	}
	for (int b = 0; b < t->nbase_bdevs; b++) {
		if (bdev_exists(t, t->base_bdevs[b]))
			continue;
		if (!header)
			fputs("\n[state]\n", f);
		header = true;
		fprintf(f, "removed_bdev = %s\n", t->base_bdevs[b]);
	}
	rc = fq_tgt_dump(t->tgt, f, false);
	if (!rc)
		rc = run_emitters(t, f);
	fputs("\n" FQ_STATE_END, f);
	if (fclose(f) && !rc)
		rc = fail(t, -EIO, "writing the state failed");
	if (!rc)
		rc = fq_state_write_atomic(path, text, len, t->err, sizeof(t->err));
	free(text);
	return rc;
}
