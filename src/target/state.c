/* SPDX-License-Identifier: MIT */
/*
 * The running configuration as INI text, and fabriqd's state file
 * (docs/management.md): what the management API changed, written after
 * each change so that it survives a restart, and merged into the
 * configuration file's at the next start.
 *
 * The text is the configuration file's own syntax (docs/configuration.md),
 * so a dump is a file `fabriqd -c` takes. Two values exist only because the
 * API can make them: `ports = -` (a subsystem on no port) and
 * `allow_host = -` (no host yet, and not any host either).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/config_int.h"
#include "target/state.h"
#include "util/errf.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/*
 * A namespace spec with the NSID it got: a spec that named none (or one
 * the API overrode) must come back with the same NSID, which hosts know
 * it by. The option goes last, where the bottom spec's options are.
 */
static void put_spec(FILE *f, const char *spec, uint32_t nsid)
{
	const char *p = spec;
	bool first = true;

	fputs("namespace = ", f);
	while (*p) {
		size_t n = strcspn(p, ",");

		if (strncmp(p, "nsid=", 5)) {
			fprintf(f, "%s%.*s", first ? "" : ",", (int)n, p);
			first = false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	fprintf(f, ",nsid=%u\n", nsid);
}

static void put_port(FILE *f, const struct fq_port_conf *p)
{
	fprintf(f, "\n[port \"%s\"]\naddress = %s\nport = %u\n", p->name, p->addr, p->port);
	if (p->discovery_only)
		fputs("discovery_only = yes\n", f);
	if (p->adv_port)
		fprintf(f,
			strchr(p->adv_addr, ':') ? "advertise = [%s]:%u\n" : "advertise = %s:%u\n",
			p->adv_addr, p->adv_port);
}

static void put_subsys(FILE *f, struct fq_tgt *t, const struct fq_subsys *s)
{
	const struct fq_tgt_ns_table *tab = fq_subsys_ns(s);
	bool any_port = false;

	fprintf(f, "\n[subsystem \"%s\"]\nserial = %s\nmodel = %s\n", s->nqn, s->serial, s->model);
	fprintf(f, "allow_any_host = %s\n", s->allow_any_host ? "yes" : "no");
	for (int h = 0; h < s->nhosts; h++)
		fprintf(f, "allow_host = %s\n", s->hosts[h]);
	if (!s->nhosts && !s->allow_any_host)
		fputs("allow_host = -\n", f);
	fputs("ports =", f);
	for (int p = 0; p < t->nports && p < 32; p++) {
		if (s->port_mask & (1u << p)) {
			fprintf(f, " %s", t->ports[p].conf.name);
			any_port = true;
		}
	}
	fputs(any_port ? "\n" : " -\n", f);
	for (uint32_t i = 0; i < tab->n; i++) {
		const struct fq_tgt_ns *ns = tab->ns[i];

		/* Every namespace is parsed from a spec; a missing one is a bug, not data. */
		if (ns->conf.spec)
			put_spec(f, ns->conf.spec, ns->nsid);
	}
}

/*
 * Referrals, when there are any or when there were (then "referral = -",
 * so that a state file's empty list still replaces the configuration's).
 */
static void put_referrals(FILE *f, const struct fq_target_conf *c)
{
	if (!c->nreferrals && !c->has_referrals)
		return;
	fputs("\n[discovery]\n", f);
	if (!c->nreferrals)
		fputs("referral = -\n", f);
	for (int i = 0; i < c->nreferrals; i++) {
		const struct fq_referral_conf *r = &c->referrals[i];

		fprintf(f,
			strchr(r->addr, ':') ? "referral = [%s]:%u %s\n" : "referral = %s:%u %s\n",
			r->addr, r->port, r->nqn);
	}
}

/* Named bdevs, before the namespaces that use them ("bdev:NAME"); cfg_lock is held. */
static void put_bdevs(FILE *f, struct fq_tgt *t)
{
	for (int i = 0; t->bdevs && i < FQ_TGT_BDEV_SLOTS; i++) {
		const struct fq_tgt_bdev *b = &t->bdevs[i];

		if (b->name[0] && !b->deleted && b->conf.spec)
			fprintf(f, "\n[bdev \"%s\"]\nspec = %s\n", b->name, b->conf.spec);
	}
}

int fq_tgt_dump(struct fq_tgt *t, FILE *f, bool settings)
{
	pthread_mutex_lock(&t->cfg_lock);
	if (settings) {
		fputs("[target]\n", f);
		for (int i = 0; i < FQ_CONF_NTARGET_KEYS; i++)
			fprintf(f, "%s = %lld\n", fq_conf_target_keys[i].name,
				(long long)fq_conf_num_get(t->conf, &fq_conf_target_keys[i]));
		if (t->conf->log_level >= 0 && t->conf->log_level <= 3)
			fprintf(f, "log_level = %s\n", level_names[t->conf->log_level]);
	}
	/* Ports are never removed, and their conf does not change once listed. */
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->nports; i++)
		put_port(f, &t->ports[i].conf);
	put_bdevs(f, t);
	for (int i = 0; i < t->nsubsys; i++)
		if (!t->subsys[i]->discovery)
			put_subsys(f, t, t->subsys[i]);
	put_referrals(f, t->conf);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->cfg_lock);
	return ferror(f) ? -EIO : 0;
}

/* ---- merging a state file into the configuration ------------------------- */

static int find_port(const struct fq_target_conf *c, const struct fq_port_conf *p)
{
	for (int i = 0; i < c->nports; i++)
		if (!strcmp(c->ports[i].name, p->name))
			return i;
	for (int i = 0; i < c->nports; i++)
		if (!strcmp(c->ports[i].addr, p->addr) && c->ports[i].port == p->port)
			return i;
	return -1;
}

static void drop_subsys(struct fq_target_conf *c, int i)
{
	struct fq_subsys_conf *s = &c->subsys[i];

	for (int j = 0; j < s->nns; j++)
		fq_conf_ns_free(&s->ns[j]);
	free(s->ns);
	memmove(s, s + 1, (size_t)(c->nsubsys - i - 1) * sizeof(*s));
	c->nsubsys--;
}

static int subsys_index(const struct fq_target_conf *c, const char *nqn)
{
	for (int i = 0; i < c->nsubsys; i++)
		if (!strcmp(c->subsys[i].nqn, nqn))
			return i;
	return -1;
}

static void drop_bdev(struct fq_target_conf *c, int i)
{
	fq_conf_ns_free(&c->bdevs[i].ns);
	memmove(&c->bdevs[i], &c->bdevs[i + 1], (size_t)(c->nbdevs - i - 1) * sizeof(c->bdevs[0]));
	c->nbdevs--;
}

/* Named bdevs: deleted ones dropped, the state's replace the file's of the same name. */
static int merge_bdevs(struct fq_target_conf *c, struct fq_target_conf *st, char *err,
		       size_t errlen)
{
	for (int r = 0; r < st->nremoved_bdevs; r++) {
		int i = fq_conf_find_bdev(c, st->removed_bdevs[r]);

		if (i >= 0)
			drop_bdev(c, i);
	}
	for (int i = 0; i < st->nbdevs; i++) {
		int k = fq_conf_find_bdev(c, st->bdevs[i].name);

		if (k >= 0)
			drop_bdev(c, k);
		if (!c->bdevs) {
			c->bdevs = calloc(FQ_CONF_MAX_BDEVS, sizeof(*c->bdevs));
			if (!c->bdevs) {
				fq_errf(err, errlen, "state: out of memory");
				return -ENOMEM;
			}
		}
		if (c->nbdevs >= FQ_CONF_MAX_BDEVS) {
			fq_errf(err, errlen, "state: too many named bdevs (the maximum is %d)",
				FQ_CONF_MAX_BDEVS);
			return -EINVAL;
		}
		/* The spec (and its path) moves over. */
		c->bdevs[c->nbdevs++] = st->bdevs[i];
		memset(&st->bdevs[i].ns, 0, sizeof(st->bdevs[i].ns));
	}
	return 0;
}

int fq_conf_merge_state(struct fq_target_conf *c, struct fq_target_conf *st, char *err,
			size_t errlen)
{
	int map[FQ_CONF_MAX_PORTS];

	for (int r = 0; r < st->nremoved; r++) {
		int i = subsys_index(c, st->removed[r]);

		if (i >= 0)
			drop_subsys(c, i);
	}
	if (merge_bdevs(c, st, err, errlen))
		return -EINVAL;
	/* The state's referral list is the whole list: the API may have removed some. */
	if (st->has_referrals) {
		c->has_referrals = true;
		c->nreferrals = st->nreferrals;
		memcpy(c->referrals, st->referrals, sizeof(c->referrals));
	}
	for (int i = 0; i < st->nports; i++) {
		map[i] = find_port(c, &st->ports[i]);
		if (map[i] >= 0)
			continue;
		if (c->nports >= FQ_CONF_MAX_PORTS) {
			fq_errf(err, errlen, "state: too many ports (the maximum is %d)",
				FQ_CONF_MAX_PORTS);
			return -EINVAL;
		}
		map[i] = c->nports;
		c->ports[c->nports++] = st->ports[i];
	}
	for (int i = 0; i < st->nsubsys; i++) {
		struct fq_subsys_conf *from = &st->subsys[i], *to;
		int k = subsys_index(c, from->nqn);

		if (k >= 0) {
			drop_subsys(c, k);
		}
		to = fq_conf_add_subsys(c, from->nqn);
		if (!to) {
			fq_errf(err, errlen,
				"state: subsystem %s: too many subsystems or no memory", from->nqn);
			return -EINVAL;
		}
		*to = *from;
		for (int p = 0; p < to->nports; p++)
			to->ports[p] = map[from->ports[p]];
		/* The namespaces (and their paths) move over. */
		from->ns = NULL;
		from->nns = from->ns_cap = 0;
	}
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

static int sync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

int fq_state_write_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fq_errf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		fq_errf(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	/* The data must be on disk before the name points at it. */
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		fq_errf(err, errlen, "%s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* ... and the rename itself must survive a power loss. */
	rc = sync_dir(path);
	if (rc)
		fq_errf(err, errlen, "%s: syncing its directory: %s", path, strerror(-rc));
	return rc;
}

int fq_state_check_complete(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(FQ_STATE_END);
	char tail[64];
	off_t size;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fq_errf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < (off_t)n || pread(fd, tail, n, size - (off_t)n) != (ssize_t)n ||
	    memcmp(tail, FQ_STATE_END, n)) {
		fq_errf(err, errlen,
			"%s: incomplete state file (it does not end with '%.*s'); "
			"fabriqd does not start on part of a state: restore it or remove it",
			path, (int)n - 1, FQ_STATE_END);
		rc = -EINVAL;
	}
	close(fd);
	return rc;
}
