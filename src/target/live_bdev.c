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
	struct fq_bdev *b = NULL;
	char text[256];
	int rc = -ENOENT, pos = 0;

	pthread_mutex_lock(&t->cfg_lock);
	ns = find_ns(t, nqn, nsid, err, errlen);
	if (ns)
		b = find_layer(ns, module, index, &pos, err, errlen);
	if (b)
		rc = fq_bdev_set_params(b, kv, &applied, err, errlen);
	if (!rc && pos < ns->conf.nlayers && ns->conf.spec &&
	    !fq_bdev_params_text(b, text, sizeof(text))) {
		char *spec = respec(ns->conf.spec, pos, module, text);

		/* Without the new text the change still holds; only a restart forgets it. */
		if (spec) {
			free(ns->conf.spec);
			ns->conf.spec = spec;
			memcpy(ns->conf.layers[pos].params, applied.params, sizeof(applied.params));
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
