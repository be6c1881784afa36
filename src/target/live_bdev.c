/* SPDX-License-Identifier: MIT */
/*
 * The bdev stacks under namespaces at run time (docs/rpc.md, bdev_*): a
 * stack is found by subsystem NQN and NSID, a layer in it by module name
 * (the first of that name from the top, or the @index-th). Changing a
 * layer's parameters (the delay module's latencies, the qos module's
 * limits) takes effect for the I/O submitted afterwards: the modules keep
 * them in atomics. The namespace's spec is rewritten with the new values,
 * so config_dump and the state file carry them over a restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/live.h"
#include "util/log.h"

/* Namespace @nsid of subsystem @nqn; the caller holds cfg_lock. */
static struct fq_tgt_ns *find_ns(struct fq_tgt *t, const char *nqn, uint32_t nsid, char *err,
				 size_t errlen)
{
	struct fq_subsys *s;
	struct fq_tgt_ns *ns = NULL;

	pthread_mutex_lock(&t->lock);
	s = fq_tgt_find_subsys(t, nqn);
	pthread_mutex_unlock(&t->lock);
	if (!s || s->discovery) {
		snprintf(err, errlen, "no subsystem %s", nqn);
		return NULL;
	}
	/* Published tables and their namespaces stay allocated until exit. */
	ns = fq_subsys_find_ns(s, nsid);
	if (!ns)
		snprintf(err, errlen, "subsystem %s has no namespace %u", nqn, nsid);
	return ns;
}

/* Layer @index (0: the first from the top) of module @module in @ns's stack, at *@pos. */
static struct fq_bdev *find_layer(struct fq_tgt_ns *ns, const char *module, int index, int *pos,
				  char *err, size_t errlen)
{
	int seen = 0, p = 0;

	for (struct fq_bdev *b = ns->bdev; b; b = b->base, p++) {
		if (!b->module || strcmp(b->module->name, module))
			continue;
		if (seen++ == index) {
			*pos = p;
			return b;
		}
	}
	if (seen)
		snprintf(err, errlen, "namespace %u has %d '%s' layer(s): no index %d", ns->nsid,
			 seen, module, index);
	else
		snprintf(err, errlen, "namespace %u has no '%s' layer (its stack: %s)", ns->nsid,
			 module, ns->conf.spec ? ns->conf.spec : ns->bdev->name);
	return NULL;
}

/*
 * @spec with its layer @pos (counted from the top, '+'-terminated) written
 * as "MODULE:TEXT" instead. NULL if out of memory or @pos is not a layer.
 */
static char *respec(const char *spec, int pos, const char *module, const char *text)
{
	const char *seg = spec, *end;
	char *out;
	size_t len;

	for (int i = 0; i < pos; i++) {
		seg = strchr(seg, '+');
		if (!seg)
			return NULL;
		seg++;
	}
	end = strchr(seg, '+');
	if (!end)
		return NULL;
	len = (size_t)(seg - spec) + strlen(module) + 1 + strlen(text) + strlen(end) + 1;
	out = malloc(len);
	if (out)
		snprintf(out, len, "%.*s%s:%s%s", (int)(seg - spec), spec, module, text, end);
	return out;
}

int fq_live_bdev_params(struct fq_tgt *t, const char *nqn, uint32_t nsid, const char *module,
			int index, const char *kv, char *err, size_t errlen)
{
	struct fq_bdev_opts applied;
	struct fq_tgt_ns *ns;
	struct fq_ns_conf *rec = NULL;
	struct fq_bdev *b = NULL;
	char text[256];
	int rc = -ENOENT, pos = 0;

	pthread_mutex_lock(&t->cfg_lock);
	ns = find_ns(t, nqn, nsid, err, errlen);
	if (ns)
		b = find_layer(ns, module, index, &pos, err, errlen);
	if (b)
		rc = fq_bdev_set_params(b, kv, &applied, err, errlen);
	/* The spec to record it in: the namespace's, or its named bdev's ("bdev:NAME"). */
	if (!rc)
		rec = ns->lender ? &ns->lender->conf : &ns->conf;
	if (rec && pos < rec->nlayers && rec->spec && !fq_bdev_params_text(b, text, sizeof(text))) {
		char *spec = respec(rec->spec, pos, module, text);

		/* Without the new text the change still holds; only a restart forgets it. */
		if (spec) {
			free(rec->spec);
			rec->spec = spec;
			memcpy(rec->layers[pos].params, applied.params, sizeof(applied.params));
		} else {
			fq_warn("%s namespace %u: out of memory recording its new parameters", nqn,
				nsid);
		}
	}
	pthread_mutex_unlock(&t->cfg_lock);
	if (!rc)
		fq_info("%s namespace %u: %s layer set to %s", nqn, nsid, module, kv);
	return rc;
}

int fq_live_qos(struct fq_tgt *t, const char *nqn, uint32_t nsid, int index, int action, char *err,
		size_t errlen)
{
	struct fq_tgt_ns *ns;
	struct fq_bdev *b = NULL;
	int rc = -ENOENT, pos;

	pthread_mutex_lock(&t->cfg_lock);
	ns = find_ns(t, nqn, nsid, err, errlen);
	if (ns)
		b = find_layer(ns, "qos", index, &pos, err, errlen);
	if (b) {
		rc = action < 0 ? fq_bdev_qos_suspend(b)
				: fq_bdev_qos_resume(b, (enum fq_bdev_qos_resume)action);
		if (rc == -EALREADY)
			snprintf(err, errlen, "namespace %u's I/O is %s already", nsid,
				 action < 0 ? "suspended" : "not suspended");
		else if (rc)
			snprintf(err, errlen, "namespace %u: %s", nsid, strerror(-rc));
	}
	pthread_mutex_unlock(&t->cfg_lock);
	if (!rc)
		fq_info("%s namespace %u: I/O %s", nqn, nsid, action < 0 ? "suspended" : "resumed");
	return rc;
}

int fq_live_bdev_layer(struct fq_tgt_ns *ns, int layer, const char **module, const char **name,
		       char *params, size_t len)
{
	struct fq_bdev *b = ns->bdev;

	for (int i = 0; b && i < layer; i++)
		b = b->base;
	if (!b)
		return -ENOENT;
	*module = b->module ? b->module->name : b->ops->name;
	*name = b->name;
	if (fq_bdev_params_text(b, params, len))
		params[0] = '\0';
	return 0;
}

/* ---- named bdevs ------------------------------------------------------------ */

struct fq_tgt_bdev *fq_tgt_bdev_find(struct fq_tgt *t, const char *name)
{
	for (int i = 0; t->bdevs && i < FQ_TGT_BDEV_SLOTS; i++)
		if (t->bdevs[i].name[0] && !t->bdevs[i].deleted && !strcmp(t->bdevs[i].name, name))
			return &t->bdevs[i];
	return NULL;
}

/* Open @nc's stack into a free slot as @name. The caller checked the name is new. */
static int bdev_add(struct fq_tgt *t, const char *name, const struct fq_ns_conf *nc, char *err,
		    size_t errlen)
{
	struct fq_tgt_bdev *b = NULL;
	char berr[256];
	int rc;

	for (int i = 0; i < FQ_TGT_BDEV_SLOTS && !b; i++)
		if (!t->bdevs[i].name[0])
			b = &t->bdevs[i];
	if (!b) {
		snprintf(err, errlen,
			 "too many named bdevs (%d slots, deleted ones held until exit)",
			 FQ_TGT_BDEV_SLOTS);
		return -ENOSPC;
	}
	rc = fq_tgt_open_stack(nc, &b->bdev, berr, sizeof(berr));
	if (rc) {
		snprintf(err, errlen, "bdev '%s': %s", name, berr);
		return rc;
	}
	if (fq_conf_ns_copy(&b->conf, nc)) {
		fq_bdev_close(b->bdev);
		memset(b, 0, sizeof(*b));
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->conf.bdev.path = b->conf.path;
	snprintf(b->name, sizeof(b->name), "%s", name);
	return 0;
}

int fq_tgt_bdevs_open(struct fq_tgt *t, char *err, size_t errlen)
{
	t->bdevs = calloc(FQ_TGT_BDEV_SLOTS, sizeof(*t->bdevs));
	if (!t->bdevs)
		return -ENOMEM;
	for (int i = 0; i < t->conf->nbdevs; i++) {
		int rc = bdev_add(t, t->conf->bdevs[i].name, &t->conf->bdevs[i].ns, err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

static void bdev_close(struct fq_tgt_bdev *b)
{
	if (b->bdev->ops->sync)
		b->bdev->ops->sync(b->bdev); /* durable before the backend goes away */
	fq_bdev_close(b->bdev);
	fq_conf_ns_free(&b->conf);
	memset(b, 0, sizeof(*b));
}

void fq_tgt_bdevs_close(struct fq_tgt *t)
{
	for (int i = 0; t->bdevs && i < FQ_TGT_BDEV_SLOTS; i++)
		if (t->bdevs[i].name[0])
			bdev_close(&t->bdevs[i]);
	free(t->bdevs);
	t->bdevs = NULL;
}

int fq_live_bdev_create(struct fq_tgt *t, const char *name, const struct fq_ns_conf *nc, char *err,
			size_t errlen)
{
	int rc = -EEXIST;

	pthread_mutex_lock(&t->cfg_lock);
	if (fq_tgt_bdev_find(t, name))
		snprintf(err, errlen, "a bdev named '%s' exists already", name);
	else
		rc = bdev_add(t, name, nc, err, errlen);
	pthread_mutex_unlock(&t->cfg_lock);
	if (!rc)
		fq_info("bdev %s created (%s)", name, nc->spec ? nc->spec : "");
	return rc;
}

int fq_live_bdev_delete(struct fq_tgt *t, const char *name, char *err, size_t errlen)
{
	struct fq_tgt_bdev *b;
	int rc = 0;

	pthread_mutex_lock(&t->cfg_lock);
	b = fq_tgt_bdev_find(t, name);
	if (!b) {
		snprintf(err, errlen, "no bdev named '%s'", name);
		rc = -ENOENT;
	} else if (b->user) {
		snprintf(err, errlen, "bdev '%s' is used by namespace %u of %s: remove it first",
			 name, b->user->nsid, b->user_nqn);
		rc = -EBUSY;
	} else if (b->lent) {
		/* A removed namespace's last commands may still be at it: close at exit. */
		b->deleted = true;
	} else {
		bdev_close(b);
	}
	pthread_mutex_unlock(&t->cfg_lock);
	if (!rc)
		fq_info("bdev %s deleted", name);
	return rc;
}

int fq_live_bdev_info(struct fq_tgt *t, int idx, struct fq_tgt_bdev_view *v)
{
	int n = 0, rc = -ENOENT;

	pthread_mutex_lock(&t->cfg_lock);
	for (int i = 0; t->bdevs && i < FQ_TGT_BDEV_SLOTS; i++) {
		struct fq_tgt_bdev *b = &t->bdevs[i];

		if (!b->name[0] || b->deleted || n++ != idx)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", b->name);
		snprintf(v->spec, sizeof(v->spec), "%s", b->conf.spec ? b->conf.spec : "");
		snprintf(v->nqn, sizeof(v->nqn), "%s", b->user ? b->user_nqn : "");
		v->nsid = b->user ? b->user->nsid : 0;
		v->num_blocks = b->bdev->num_blocks;
		v->block_size = b->bdev->block_size;
		v->top = b->bdev;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&t->cfg_lock);
	return rc;
}
