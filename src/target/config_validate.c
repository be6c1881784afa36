/* SPDX-License-Identifier: MIT */
/*
 * fq_conf_validate: the rules that need the whole configuration, and the
 * defaults that can only be filled in once it is complete.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/nvmf.h"
#include "target/config_int.h"
#include "volume/volume.h"

/* ---------------------------------------------------------------------------
 * fq_conf_validate: rules that need the whole structure.
 */

static int validate_target(const struct fq_target_conf *c, char *err, size_t errlen)
{
	char msg[128];

	for (int i = 0; i < FQ_CONF_NTARGET_KEYS; i++) {
		if (fq_conf_num_check(&fq_conf_target_keys[i],
				      fq_conf_num_get(c, &fq_conf_target_keys[i]), msg,
				      sizeof(msg)) < 0) {
			fq_errf(err, errlen, "[target] key '%s': %s", fq_conf_target_keys[i].name,
				msg);
			return -EINVAL;
		}
	}
	if (c->log_level < 0 || c->log_level > 3) {
		fq_errf(err, errlen, "[target] key 'log_level': %d is not 0..3", c->log_level);
		return -EINVAL;
	}
	/* A transfer is staged in one buffer of max_transfer bytes. */
	if (c->in_capsule_size > c->max_transfer || c->max_h2c_data > c->max_transfer) {
		fq_errf(err, errlen, "[target] %s (%u) is larger than max_transfer (%u)",
			c->in_capsule_size > c->max_transfer ? "in_capsule_data" : "max_h2c_data",
			c->in_capsule_size > c->max_transfer ? c->in_capsule_size : c->max_h2c_data,
			c->max_transfer);
		return -EINVAL;
	}
	/*
	 * vol: namespaces work with any number of reactors: the first one
	 * serves every pool and the others send it their commands (vol_bdev.c).
	 */
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
		fq_errf(err, errlen, "no [port] defined: the target needs at least one");
		return -EINVAL;
	}
	for (int i = 0; i < c->nports; i++) {
		struct fq_port_conf *p = &c->ports[i];
		size_t la;

		if (!fq_conf_port_name_ok(p->name)) {
			fq_errf(err, errlen, "port '%s': bad name", p->name);
			return -EINVAL;
		}
		la = addr_bytes(p->addr, a);
		if (!la) {
			fq_errf(err, errlen, "port '%s': %s", p->name,
				p->addr[0] ? "address is not numeric IPv4 or IPv6" : "no address");
			return -EINVAL;
		}
		if (!p->port)
			p->port = p->discovery_only ? 8009 : 4420;
		for (int j = 0; j < i; j++) {
			const struct fq_port_conf *q = &c->ports[j];

			if (!strcmp(p->name, q->name)) {
				fq_errf(err, errlen, "port '%s' is defined twice", p->name);
				return -EINVAL;
			}
			if (q->port == p->port && addr_bytes(q->addr, b) == la &&
			    !memcmp(a, b, la)) {
				fq_errf(err, errlen,
					"ports '%s' and '%s' both listen on %s port %u", q->name,
					p->name, p->addr, p->port);
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
		fq_errf(err, errlen, "subsystem '%s': bad host count %d", s->nqn, s->nhosts);
		return -EINVAL;
	}
	for (int i = 0; i < s->nhosts; i++) {
		if (fq_conf_check_nqn(s->hosts[i], msg, sizeof(msg)) < 0) {
			fq_errf(err, errlen, "subsystem '%s': allow_host: %s", s->nqn, msg);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(s->hosts[i], s->hosts[j])) {
				fq_errf(err, errlen, "subsystem '%s': host '%s' is listed twice",
					s->nqn, s->hosts[i]);
				return -EINVAL;
			}
		}
	}
	if (!s->allow_any_host && !s->nhosts && !s->closed) {
		fq_errf(err, errlen,
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
		fq_errf(err, errlen, "subsystem '%s': bad port count %d", s->nqn, s->nports);
		return -EINVAL;
	}
	if (s->no_ports) {
		s->nports = 0;
		return 0;
	}
	if (!s->nports) {
		for (int i = 0; i < c->nports; i++)
			if (!c->ports[i].discovery_only)
				s->ports[s->nports++] = i;
		if (!s->nports) {
			fq_errf(err, errlen, "subsystem '%s': every port is discovery_only",
				s->nqn);
			return -EINVAL;
		}
	}
	for (int i = 0; i < s->nports; i++) {
		int p = s->ports[i];

		if (p < 0 || p >= c->nports || c->ports[p].discovery_only) {
			fq_errf(err, errlen, "subsystem '%s': port index %d is %s", s->nqn, p,
				p < 0 || p >= c->nports ? "not defined" : "discovery_only");
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			if (s->ports[j] == p) {
				fq_errf(err, errlen, "subsystem '%s': port '%s' is listed twice",
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

	if (ns->named) /* the named bdev's own spec was checked when it was added */
		why = ns->nsid > FQ_CONF_MAX_NSID ? "nsid is above 4294967294" : NULL;
	else if (b->kind != FQ_BDEV_RAM && b->kind != FQ_BDEV_NULL && b->kind != FQ_BDEV_FILE &&
		 b->kind != FQ_BDEV_VOL)
		why = "unknown backend kind";
	else if (b->block_size != 512 && b->block_size != 4096)
		why = "block size must be 512 or 4096";
	else if (b->kind == FQ_BDEV_VOL && (!ns->path || !ns->path[0]))
		why = "vol namespace without POOL/NAME";
	else if (b->kind != FQ_BDEV_FILE && b->kind != FQ_BDEV_VOL && !b->size)
		why = "ram and null namespaces need a size";
	else if (b->size % b->block_size)
		why = "size is not a multiple of the block size";
	else if (b->kind == FQ_BDEV_FILE && (!ns->path || !ns->path[0]))
		why = "file namespace without a path";
	else if (b->kind == FQ_BDEV_FILE && b->create && !b->size)
		why = "create needs a size";
	else if (ns->nsid > FQ_CONF_MAX_NSID)
		why = "nsid is above 4294967294";
	if (why) {
		fq_errf(err, errlen, "subsystem '%s': namespace %u: %s", s->nqn, ns->nsid, why);
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
				fq_errf(err, errlen, "subsystem '%s': nsid %u is used twice",
					s->nqn, s->ns[i].nsid);
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
				fq_errf(err, errlen,
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
		fq_errf(err, errlen, "subsystem: %s", msg);
		return -EINVAL;
	}
	if (!strcmp(s->nqn, FQ_DISCOVERY_NQN)) {
		fq_errf(err, errlen, "subsystem '%s': the discovery NQN is reserved", s->nqn);
		return -EINVAL;
	}
	for (int j = 0; j < idx; j++) {
		if (!strcmp(c->subsys[j].nqn, s->nqn)) {
			fq_errf(err, errlen, "subsystem '%s' is defined twice", s->nqn);
			return -EINVAL;
		}
	}
	if (!s->serial[0])
		fq_conf_default_serial(s->nqn, s->serial);
	if (!s->model[0])
		strcpy(s->model, FQ_CONF_DEFAULT_MODEL);
	s->serial[20] = s->model[40] = '\0';
	if (fq_conf_check_ascii(s->serial, 20, msg, sizeof(msg)) < 0 ||
	    fq_conf_check_ascii(s->model, 40, msg, sizeof(msg)) < 0) {
		fq_errf(err, errlen, "subsystem '%s': serial/model: %s", s->nqn, msg);
		return -EINVAL;
	}
	if (validate_access(s, err, errlen) < 0 || validate_subsys_ports(c, s, err, errlen) < 0)
		return -EINVAL;
	if (s->nns < 0 || s->nns > FQ_CONF_MAX_NS) {
		fq_errf(err, errlen, "subsystem '%s': bad namespace count %d", s->nqn, s->nns);
		return -EINVAL;
	}
	for (int i = 0; i < s->nns; i++)
		if (check_ns(s, &s->ns[i], err, errlen) < 0)
			return -EINVAL;
	if (assign_nsids(s, err, errlen) < 0)
		return -EINVAL;
	return fill_ids(s, err, errlen);
}

/* Every bdev:NAME names a [bdev] section, and no two namespaces the same one. */
static int validate_named(const struct fq_target_conf *c, char *err, size_t errlen)
{
	const char *user[FQ_CONF_MAX_BDEVS] = {0};
	uint32_t user_nsid[FQ_CONF_MAX_BDEVS] = {0};

	for (int i = 0; i < c->nsubsys; i++) {
		const struct fq_subsys_conf *s = &c->subsys[i];

		for (int n = 0; n < s->nns; n++) {
			const struct fq_ns_conf *ns = &s->ns[n];
			int b;

			if (!ns->named || c->bdevs_elsewhere)
				continue;
			b = fq_conf_find_bdev(c, ns->path);
			if (b < 0) {
				fq_errf(err, errlen,
					"subsystem '%s': namespace %u: no [bdev \"%s\"] defined",
					s->nqn, ns->nsid, ns->path);
				return -EINVAL;
			}
			if (user[b]) {
				fq_errf(err, errlen,
					"subsystem '%s': namespace %u: bdev '%s' is used by "
					"namespace "
					"%u of %s already",
					s->nqn, ns->nsid, ns->path, user_nsid[b], user[b]);
				return -EINVAL;
			}
			user[b] = s->nqn;
			user_nsid[b] = ns->nsid;
		}
	}
	return 0;
}

int fq_conf_validate(struct fq_target_conf *c, char *err, size_t errlen)
{
	if (validate_target(c, err, errlen) < 0 || validate_ports(c, err, errlen) < 0)
		return -EINVAL;
	/* A daemon may serve only volumes: each gets a subsystem at start. */
	if ((c->nsubsys < 1 || !c->subsys) && !fq_pool_conf_count()) {
		fq_errf(err, errlen,
			"no [subsystem] or [pool] defined: the target needs at least one");
		return -EINVAL;
	}
	if (c->nsubsys > FQ_CONF_MAX_SUBSYS) {
		fq_errf(err, errlen, "too many subsystems (the maximum is %d)", FQ_CONF_MAX_SUBSYS);
		return -EINVAL;
	}
	for (int i = 0; i < c->nsubsys; i++)
		if (validate_subsys(c, i, err, errlen) < 0)
			return -EINVAL;
	return validate_named(c, err, errlen);
}
