/* SPDX-License-Identifier: MIT */
/*
 * Live configuration changes of a running target (the management API of
 * docs/rpc.md): subsystems, hosts, namespaces, listeners, discovery
 * referrals, controllers.
 *
 * These run on a management thread, never on a reactor. Slow work (opening
 * a backend, binding a port) happens before tgt->lock is taken; the lock
 * then covers only the pointer and mask updates that Connect and the
 * discovery log read under it. Namespace tables are published the way a
 * reload publishes them (reload.c): a new immutable table per change, the
 * old one retired, removed namespaces kept until exit, and the change
 * posted to every controller of the subsystem for the Namespace Attribute
 * Changed event (NVMe Base 2.0 §5.2, §5.16.1.5). cfg_lock keeps two
 * changes (or a change and a SIGHUP reload) from interleaving.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/live.h"
#include "util/log.h"

static void kick_all(struct fq_tgt *t)
{
	for (int i = 0; i < t->nreactors; i++)
		fq_reactor_kick(&t->reactors[i]);
}

static struct fq_subsys *find(struct fq_tgt *t, const char *nqn, char *err, size_t errlen)
{
	struct fq_subsys *s;

	pthread_mutex_lock(&t->lock);
	s = fq_tgt_find_subsys(t, nqn);
	pthread_mutex_unlock(&t->lock);
	if (s && s->discovery)
		s = NULL;
	if (!s)
		snprintf(err, errlen, "no subsystem %s", nqn);
	return s;
}

int fq_live_subsys_create(struct fq_tgt *t, const struct fq_subsys_conf *sc, char *err,
			  size_t errlen)
{
	struct fq_subsys *s;
	int rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	pthread_mutex_lock(&t->lock);
	if (fq_tgt_find_subsys(t, sc->nqn)) {
		snprintf(err, errlen, "subsystem %s exists already", sc->nqn);
		rc = -EEXIST;
	} else if (t->nsubsys >= FQ_TGT_MAX_LIVE_SUBSYS) {
		snprintf(err, errlen, "too many subsystems (the maximum is %d)",
			 FQ_TGT_MAX_LIVE_SUBSYS);
		rc = -ENOSPC;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		goto out;
	err[0] = '\0';
	s = fq_subsys_new(t, sc, err, errlen);
	if (!s) {
		rc = err[0] ? -EINVAL : -ENOMEM;
		goto out;
	}
	/* Not the INI rule (no hosts: any host): hosts may be added next. */
	s->allow_any_host = sc->allow_any_host;
	pthread_mutex_lock(&t->lock);
	if (t->nsubsys + 1 >= t->subsys_cap) {
		/*
		 * One subsystem per volume: the array grows (every reader of it
		 * holds tgt->lock, so moving it here is safe).
		 */
		int cap = t->subsys_cap * 2;
		struct fq_subsys **n = realloc(t->subsys, (size_t)cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&t->lock);
			fq_subsys_free(s, false);
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		memset(n + t->subsys_cap, 0, (size_t)(cap - t->subsys_cap) * sizeof(*n));
		t->subsys = n;
		t->subsys_cap = cap;
	}
	t->subsys[t->nsubsys++] = s;
	t->genctr++;
	pthread_mutex_unlock(&t->lock);
	fq_info("subsystem %s created", s->nqn);
out:
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}

int fq_live_subsys_delete(struct fq_tgt *t, const char *nqn, char *err, size_t errlen)
{
	struct fq_subsys *s = NULL;
	int n = 0;

	pthread_mutex_lock(&t->cfg_lock);
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->nsubsys; i++) {
		if (strcmp(t->subsys[i]->nqn, nqn))
			continue;
		s = t->subsys[i];
		memmove(&t->subsys[i], &t->subsys[i + 1],
			(size_t)(t->nsubsys - i - 1) * sizeof(t->subsys[0]));
		t->nsubsys--;
		break;
	}
	if (s) {
		/* Connect may have found it just before: ctrl.c checks this flag. */
		s->deleted = true;
		/* Its named bdevs may be lent again (cfg_lock is held). */
		for (uint32_t i = 0; i < fq_subsys_ns(s)->n; i++)
			fq_tgt_ns_release(fq_subsys_ns(s)->ns[i]);
		s->next_dead = t->dead_subsys;
		t->dead_subsys = s;
		t->genctr++;
		for (struct fq_ctrl *c = t->ctrls; c; c = c->next)
			if (c->subsys == s) {
				atomic_store(&c->disconnect_req, true);
				n++;
			}
	}
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->cfg_lock);
	if (!s) {
		snprintf(err, errlen, "no subsystem %s", nqn);
		return -ENOENT;
	}
	kick_all(t);
	fq_info("subsystem %s deleted (%d controller(s) disconnected)", nqn, n);
	return 0;
}

int fq_live_host(struct fq_tgt *t, const char *nqn, const char *hostnqn, bool add, char *err,
		 size_t errlen)
{
	struct fq_subsys *s;
	int rc = 0, i;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (!s) {
		pthread_mutex_unlock(&t->cfg_lock);
		return -ENOENT;
	}
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < s->nhosts; i++)
		if (!strcmp(s->hosts[i], hostnqn))
			break;
	if (add && i < s->nhosts) {
		snprintf(err, errlen, "host %s is already allowed on %s", hostnqn, nqn);
		rc = -EEXIST;
	} else if (add && s->nhosts >= FQ_CONF_MAX_HOSTS) {
		snprintf(err, errlen, "too many hosts (the maximum is %d)", FQ_CONF_MAX_HOSTS);
		rc = -ENOSPC;
	} else if (add) {
		snprintf(s->hosts[s->nhosts++], sizeof(s->hosts[0]), "%s", hostnqn);
		t->genctr++;
	} else if (i == s->nhosts) {
		snprintf(err, errlen, "host %s is not on the list of %s", hostnqn, nqn);
		rc = -ENOENT;
	} else {
		memmove(&s->hosts[i], &s->hosts[i + 1],
			(size_t)(s->nhosts - i - 1) * sizeof(s->hosts[0]));
		s->nhosts--;
		t->genctr++;
	}
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->cfg_lock);
	/* Connected controllers stay: access control applies at Connect. */
	if (!rc)
		fq_info("subsystem %s: host %s %s", nqn, hostnqn, add ? "allowed" : "removed");
	return rc;
}

int fq_live_allow_any(struct fq_tgt *t, const char *nqn, bool allow, char *err, size_t errlen)
{
	struct fq_subsys *s;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (s) {
		pthread_mutex_lock(&t->lock);
		s->allow_any_host = allow;
		t->genctr++;
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&t->cfg_lock);
	return s ? 0 : -ENOENT;
}

/* The lowest NSID not in @tab, or 0 if none is left up to FQ_TGT_NN. */
static uint32_t free_nsid(const struct fq_tgt_ns_table *tab)
{
	uint32_t want = 1;

	/* The table is sorted by NSID. */
	for (uint32_t i = 0; i < tab->n && tab->ns[i]->nsid == want; i++)
		want++;
	return want <= FQ_TGT_NN ? want : 0;
}

int fq_live_ns_add(struct fq_tgt *t, const char *nqn, struct fq_ns_conf *nc, uint32_t *nsid,
		   char *err, size_t errlen)
{
	struct fq_tgt_ns *list[FQ_CONF_MAX_NS + 1], *ns;
	struct fq_tgt_ns_table *tab;
	struct fq_subsys *s;
	int rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (!s) {
		rc = -ENOENT;
		goto out;
	}
	tab = fq_subsys_ns(s);
	if (tab->n >= FQ_CONF_MAX_NS) {
		snprintf(err, errlen, "subsystem %s has the most namespaces allowed (%d)", nqn,
			 FQ_CONF_MAX_NS);
		rc = -ENOSPC;
		goto out;
	}
	if (!nc->nsid)
		nc->nsid = free_nsid(tab);
	if (!nc->nsid || nc->nsid > FQ_TGT_NN) {
		snprintf(err, errlen, "nsid must be 1..%d", FQ_TGT_NN);
		rc = -EINVAL;
		goto out;
	}
	if (fq_subsys_find_ns(s, nc->nsid)) {
		snprintf(err, errlen, "subsystem %s has a namespace %u already", nqn, nc->nsid);
		rc = -EEXIST;
		goto out;
	}
	if (!nc->has_nguid)
		fq_conf_derive_id(s->nqn, nc->nsid, 0, nc->nguid);
	if (!nc->has_uuid)
		fq_conf_derive_id(s->nqn, nc->nsid, 1, nc->uuid);
	nc->has_nguid = nc->has_uuid = true;
	nc->bdev.path = nc->path;
	/* Opening the backend may take long: off the reactors, outside tgt->lock. */
	ns = fq_tgt_ns_create(t, nqn, nc, err, errlen);
	if (!ns) {
		rc = -EINVAL;
		goto out;
	}
	memcpy(list, tab->ns, tab->n * sizeof(list[0]));
	list[tab->n] = ns;
	rc = fq_tgt_ns_table_set(s, list, tab->n + 1);
	if (rc) {
		fq_tgt_ns_destroy(ns);
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	fq_tgt_post_ns_change(t, s, ns->nsid);
	kick_all(t);
	*nsid = ns->nsid;
	fq_info("subsystem %s: namespace %u added (%s, %llu blocks of %u bytes)", nqn, ns->nsid,
		ns->bdev->name, (unsigned long long)ns->bdev->num_blocks, ns->bdev->block_size);
out:
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}

int fq_live_ns_remove(struct fq_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t errlen)
{
	struct fq_tgt_ns *list[FQ_CONF_MAX_NS], *gone = NULL;
	struct fq_tgt_ns_table *tab;
	struct fq_subsys *s;
	uint32_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (!s) {
		rc = -ENOENT;
		goto out;
	}
	tab = fq_subsys_ns(s);
	for (uint32_t i = 0; i < tab->n; i++) {
		if (tab->ns[i]->nsid == nsid)
			gone = tab->ns[i];
		else if (n < FQ_CONF_MAX_NS)
			list[n++] = tab->ns[i];
	}
	if (!gone) {
		snprintf(err, errlen, "subsystem %s has no namespace %u", nqn, nsid);
		rc = -ENOENT;
		goto out;
	}
	rc = fq_tgt_ns_table_set(s, list, n);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Commands in flight may still use it: freed at exit, as on reload. */
	fq_tgt_ns_release(gone);
	gone->next_removed = s->removed;
	s->removed = gone;
	fq_tgt_post_ns_change(t, s, nsid);
	kick_all(t);
	fq_info("subsystem %s: namespace %u removed", nqn, nsid);
out:
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}

int fq_live_ns_changed(struct fq_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t errlen)
{
	struct fq_subsys *s;
	int rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (!s) {
		rc = -ENOENT;
	} else if (!fq_subsys_find_ns(s, nsid)) {
		snprintf(err, errlen, "subsystem %s has no namespace %u", nqn, nsid);
		rc = -ENOENT;
	} else {
		/* Identify reads the bdev's size afresh: the event is all hosts need. */
		fq_tgt_post_ns_change(t, s, nsid);
		kick_all(t);
	}
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}

static int find_port(struct fq_tgt *t, const char *addr, uint16_t port)
{
	for (int i = 0; i < t->nports; i++)
		if (!strcmp(t->ports[i].conf.addr, addr) && t->ports[i].conf.port == port)
			return i;
	return -1;
}

int fq_live_listener(struct fq_tgt *t, const char *nqn, const char *addr, uint16_t port, bool add,
		     char *err, size_t errlen)
{
	struct fq_subsys *s;
	struct fq_port *p;
	int idx, rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	s = find(t, nqn, err, errlen);
	if (!s) {
		rc = -ENOENT;
		goto out;
	}
	idx = find_port(t, addr, port);
	if (!add) {
		if (idx < 0 || !(s->port_mask & (1u << idx))) {
			snprintf(err, errlen, "subsystem %s does not listen on %s:%u", nqn, addr,
				 port);
			rc = -ENOENT;
			goto out;
		}
		/* The port itself stays: it serves discovery and other subsystems. */
		pthread_mutex_lock(&t->lock);
		s->port_mask &= ~(1u << idx);
		t->genctr++;
		pthread_mutex_unlock(&t->lock);
		goto out;
	}
	if (idx >= 0) {
		if (t->ports[idx].conf.discovery_only) {
			snprintf(err, errlen, "%s:%u is a discovery-only port", addr, port);
			rc = -EINVAL;
		} else if (s->port_mask & (1u << idx)) {
			snprintf(err, errlen, "subsystem %s listens on %s:%u already", nqn, addr,
				 port);
			rc = -EEXIST;
		} else {
			pthread_mutex_lock(&t->lock);
			s->port_mask |= 1u << idx;
			t->genctr++;
			pthread_mutex_unlock(&t->lock);
		}
		goto out;
	}
	if (t->nports >= FQ_CONF_MAX_PORTS) {
		snprintf(err, errlen, "too many ports (the maximum is %d)", FQ_CONF_MAX_PORTS);
		rc = -ENOSPC;
		goto out;
	}
	/* A new port: bound here, then the acceptor reactor arms it (tgt.c on_event). */
	p = &t->ports[t->nports];
	memset(p, 0, sizeof(*p));
	p->idx = t->nports;
	p->fd = -1;
	p->xprt = fq_tgt_xprts[0];
	/* Unique, also next to ports a state file brought in under such names. */
	for (int k = p->idx, dup = 1; dup; k++) {
		snprintf(p->conf.name, sizeof(p->conf.name), "rpc%d", k);
		dup = 0;
		for (int i = 0; i < t->nports; i++)
			dup |= !strcmp(t->ports[i].conf.name, p->conf.name);
	}
	snprintf(p->conf.addr, sizeof(p->conf.addr), "%s", addr);
	p->conf.port = port;
	rc = fq_port_listen(p, err, errlen);
	if (rc)
		goto out;
	pthread_mutex_lock(&t->lock);
	t->nports++;
	s->port_mask |= 1u << p->idx;
	t->genctr++;
	pthread_mutex_unlock(&t->lock);
	fq_reactor_kick(&t->reactors[0]);
	fq_info("port %s: listening on %s:%u", p->conf.name, addr, p->conf.port);
out:
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}

int fq_live_ctrl_disconnect(struct fq_tgt *t, uint16_t cntlid, char *err, size_t errlen)
{
	bool found = false;

	pthread_mutex_lock(&t->lock);
	for (struct fq_ctrl *c = t->ctrls; c; c = c->next)
		if (c->cntlid == cntlid && !atomic_load(&c->dead)) {
			atomic_store(&c->disconnect_req, true);
			found = true;
		}
	pthread_mutex_unlock(&t->lock);
	if (!found) {
		snprintf(err, errlen, "no controller %u", cntlid);
		return -ENOENT;
	}
	/* The admin queue's reactor closes it on its next tick (a quarter second). */
	kick_all(t);
	return 0;
}

int fq_live_referral(struct fq_tgt *t, const struct fq_referral_conf *r, bool add, char *err,
		     size_t errlen)
{
	struct fq_target_conf *c = t->conf;
	const char *fmt = strchr(r->addr, ':') ? "[%s]:%u" : "%s:%u";
	char where[80];
	int rc = 0, i;

	snprintf(where, sizeof(where), fmt, r->addr, r->port);
	pthread_mutex_lock(&t->cfg_lock);
	/* The discovery log reads the list under lock. */
	pthread_mutex_lock(&t->lock);
	i = fq_conf_find_referral(c, r->addr, r->port);
	if (add && i >= 0) {
		snprintf(err, errlen, "a referral to %s exists already", where);
		rc = -EEXIST;
	} else if (add && c->nreferrals >= FQ_CONF_MAX_REFERRALS) {
		snprintf(err, errlen, "too many referrals (the maximum is %d)",
			 FQ_CONF_MAX_REFERRALS);
		rc = -ENOSPC;
	} else if (add) {
		c->referrals[c->nreferrals++] = *r;
	} else if (i < 0) {
		snprintf(err, errlen, "no referral to %s", where);
		rc = -ENOENT;
	} else {
		memmove(&c->referrals[i], &c->referrals[i + 1],
			(size_t)(c->nreferrals - i - 1) * sizeof(c->referrals[0]));
		c->nreferrals--;
	}
	if (!rc) {
		c->has_referrals = true;
		/* Hosts that kept the log see it changed (GENCTR, NVMe-oF 1.1 Figure 34). */
		t->genctr++;
	}
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->cfg_lock);
	if (!rc)
		fq_info("discovery referral %s %s", where, add ? "added" : "removed");
	return rc;
}
