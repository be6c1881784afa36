/* SPDX-License-Identifier: MIT */
/*
 * Configuration reload (SIGHUP): namespaces added to or removed from an
 * existing subsystem take effect at once. Hosts learn of it through the
 * Namespace Attribute Changed event and the Changed Namespace List log
 * (NVMe Base 2.0 §5.2, §5.16.1.5). Other changes need a restart and are
 * reported as such.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

static bool same_layers(const struct fq_ns_conf *a, const struct fq_ns_conf *b)
{
	if (a->nlayers != b->nlayers)
		return false;
	for (int i = 0; i < a->nlayers; i++)
		if (a->layers[i].kind != b->layers[i].kind ||
		    memcmp(a->layers[i].params, b->layers[i].params, sizeof(a->layers[i].params)))
			return false;
	return true;
}

static bool same_ns(const struct fq_ns_conf *a, const struct fq_ns_conf *b)
{
	return same_layers(a, b) && a->bdev.kind == b->bdev.kind && a->bdev.size == b->bdev.size &&
	       a->bdev.block_size == b->bdev.block_size && a->bdev.direct == b->bdev.direct &&
	       !strcmp(a->path ? a->path : "", b->path ? b->path : "") &&
	       !memcmp(a->nguid, b->nguid, 16) && !memcmp(a->uuid, b->uuid, 16);
}

static const struct fq_ns_conf *find_conf(const struct fq_subsys_conf *sc, uint32_t nsid)
{
	for (int i = 0; i < sc->nns; i++)
		if (sc->ns[i].nsid == nsid)
			return &sc->ns[i];
	return NULL;
}

/* Tell every live controller of @s about @nsid; the caller wakes the reactors. */
void fq_tgt_post_ns_change(struct fq_tgt *t, struct fq_subsys *s, uint32_t nsid)
{
	pthread_mutex_lock(&t->lock);
	for (struct fq_ctrl *c = t->ctrls; c; c = c->next)
		if (c->subsys == s)
			fq_ctrl_post_ns_change(c, nsid);
	pthread_mutex_unlock(&t->lock);
}

static int reload_subsys(struct fq_tgt *t, struct fq_subsys *s, const struct fq_subsys_conf *sc)
{
	struct fq_tgt_ns_table *old = fq_subsys_ns(s);
	struct fq_tgt_ns *list[FQ_CONF_MAX_NS];
	uint32_t changed[2 * FQ_CONF_MAX_NS];
	uint32_t n = 0, nchanged = 0;
	char err[512];

	for (uint32_t i = 0; i < old->n; i++) {
		struct fq_tgt_ns *ns = old->ns[i];
		const struct fq_ns_conf *nc = find_conf(sc, ns->nsid);

		if (nc && !same_ns(nc, &ns->conf))
			fq_warn("subsystem %s namespace %u: changed settings are ignored; remove "
				"it, reload, then add it back",
				s->nqn, ns->nsid);
		if (nc) {
			list[n++] = ns;
			continue;
		}
		fq_info("subsystem %s: namespace %u removed", s->nqn, ns->nsid);
		fq_tgt_ns_release(ns);
		ns->next_removed = s->removed;
		s->removed = ns;
		changed[nchanged++] = ns->nsid;
	}
	for (int i = 0; i < sc->nns; i++) {
		struct fq_tgt_ns *ns;

		if (fq_subsys_find_ns(s, sc->ns[i].nsid))
			continue;
		ns = fq_tgt_ns_create(t, s->nqn, &sc->ns[i], err, sizeof(err));
		if (!ns) {
			fq_err("subsystem %s: cannot add %s", s->nqn, err);
			continue;
		}
		fq_info("subsystem %s: namespace %u added (%s, %llu blocks of %u bytes)", s->nqn,
			ns->nsid, ns->bdev->name, (unsigned long long)ns->bdev->num_blocks,
			ns->bdev->block_size);
		list[n++] = ns;
		changed[nchanged++] = ns->nsid;
	}
	if (!nchanged)
		return 0;
	if (fq_tgt_ns_table_set(s, list, n))
		return -ENOMEM;
	for (uint32_t i = 0; i < nchanged; i++)
		fq_tgt_post_ns_change(t, s, changed[i]);
	return (int)nchanged;
}

static int tgt_reload(struct fq_tgt *t, struct fq_target_conf *conf, char *err, size_t errlen)
{
	int total = 0;

	for (int i = 0; i < conf->nsubsys; i++) {
		struct fq_subsys *s = fq_tgt_find_subsys(t, conf->subsys[i].nqn);
		int rc;

		if (!s) {
			fq_warn("reload: new subsystem %s needs a restart", conf->subsys[i].nqn);
			continue;
		}
		rc = reload_subsys(t, s, &conf->subsys[i]);
		if (rc < 0) {
			snprintf(err, errlen, "subsystem %s: %s", s->nqn, strerror(-rc));
			return rc;
		}
		total += rc;
	}
	for (int i = 0; i < t->nsubsys; i++) {
		bool kept = false;

		for (int j = 0; j < conf->nsubsys; j++)
			kept |= !strcmp(conf->subsys[j].nqn, t->subsys[i]->nqn);
		if (!kept)
			fq_warn("reload: removing subsystem %s needs a restart", t->subsys[i]->nqn);
	}
	for (int i = 0; i < t->nreactors; i++)
		fq_reactor_kick(&t->reactors[i]);
	fq_info("reload: %d namespace change(s) applied", total);
	return 0;
}

int fq_tgt_reload(struct fq_tgt *t, struct fq_target_conf *conf, char *err, size_t errlen)
{
	int rc;

	/* Live changes (live.c) edit the same tables. */
	pthread_mutex_lock(&t->cfg_lock);
	rc = tgt_reload(t, conf, err, errlen);
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}
