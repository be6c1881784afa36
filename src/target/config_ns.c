/* SPDX-License-Identifier: MIT */
/*
 * Namespace specs, "[MODULE[:OPTS]+...]KIND:ARGS[,opt=val...]", as the INI
 * `namespace` key, `fabriqd --ns` and fq_target_add_ns take them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/config_int.h"
#include "util/parse.h"

/* ---------------------------------------------------------------------------
 * Namespace specs: KIND:ARGS[,opt=val...]
 */

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void ns_err(char *err, size_t errlen, const char *spec, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ns_err(char *err, size_t errlen, const char *spec, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fq_errf(err, errlen, "namespace '%s': %s", spec, what);
}

enum ns_opt { OPT_BS, OPT_DIRECT, OPT_NSID, OPT_UUID, OPT_NGUID, OPT_CREATE, OPT_NUM };
static const char *const ns_opt_names[OPT_NUM] = {"bs",	  "direct", "nsid",
						  "uuid", "nguid",  "create"};
/* What a good value looks like, for the error message. */
static const char *const ns_opt_hint[OPT_NUM] = {
	"512 or 4096",
	"0 or 1",
	"1..4294967294",
	"8-4-4-4-12 hex digits, not all zero",
	"32 hex digits, not all zero",
	"0 or 1",
};

/* One "key=value" option. @seen guards against repeats; create is reported via @create. */
static int ns_option(struct fq_ns_conf *ns, char *opt, unsigned *seen, int *create,
		     const char *spec, char *err, size_t errlen)
{
	char *val = strchr(opt, '=');
	uint64_t v;
	bool b;
	int k;

	if (!val) {
		ns_err(err, errlen, spec, "option '%s' needs a value (name=value)", opt);
		return -EINVAL;
	}
	*val++ = '\0';
	for (k = 0; k < OPT_NUM && strcmp(opt, ns_opt_names[k]); k++)
		;
	if (k == OPT_NUM) {
		ns_err(err, errlen, spec,
		       "unknown option '%s' (expected bs, direct, nsid, uuid, nguid or create)",
		       opt);
		return -EINVAL;
	}
	if (*seen & (1u << k)) {
		ns_err(err, errlen, spec, "option '%s' given twice", opt);
		return -EINVAL;
	}
	*seen |= 1u << k;
	if (ns->named && (k == OPT_BS || k == OPT_DIRECT || k == OPT_CREATE)) {
		ns_err(err, errlen, spec, "option '%s' belongs in the named bdev's spec", opt);
		return -EINVAL;
	}
	if ((k == OPT_DIRECT || k == OPT_CREATE) && ns->bdev.kind != FQ_BDEV_FILE) {
		ns_err(err, errlen, spec, "option '%s' applies only to file namespaces", opt);
		return -EINVAL;
	}
	switch (k) {
	case OPT_BS:
		if (fq_parse_u64(val, &v) < 0 || (v != 512 && v != 4096))
			break;
		ns->bdev.block_size = (uint32_t)v;
		return 0;
	case OPT_DIRECT:
	case OPT_CREATE:
		if (fq_parse_bool(val, &b) < 0)
			break;
		if (k == OPT_DIRECT)
			ns->bdev.direct = b;
		else
			*create = b;
		return 0;
	case OPT_NSID:
		if (fq_parse_u64(val, &v) < 0 || v < 1 || v > FQ_CONF_MAX_NSID)
			break;
		ns->nsid = (uint32_t)v;
		return 0;
	case OPT_UUID:
		if (fq_conf_parse_uuid(val, ns->uuid) < 0 || all_zero(ns->uuid, 16))
			break;
		ns->has_uuid = true;
		return 0;
	case OPT_NGUID:
		if (fq_conf_parse_hex(val, NULL, 0, ns->nguid, 16) < 0 || all_zero(ns->nguid, 16))
			break;
		ns->has_nguid = true;
		return 0;
	}
	ns_err(err, errlen, spec, "bad %s '%s' (%s)", opt, val, ns_opt_hint[k]);
	return -EINVAL;
}

/* "ram:SIZE", "null:SIZE", "file:PATH[:SIZE]": fills kind, path and size. */
static int ns_head(struct fq_ns_conf *ns, char *head, const char *spec, char *err, size_t errlen)
{
	char *size = NULL;

	if (!strncmp(head, "ram:", 4) || !strncmp(head, "null:", 5)) {
		ns->bdev.kind = head[0] == 'r' ? FQ_BDEV_RAM : FQ_BDEV_NULL;
		size = strchr(head, ':') + 1;
	} else if (!strncmp(head, "file:", 5)) {
		char *path = head + 5;

		ns->bdev.kind = FQ_BDEV_FILE;
		size = strchr(path, ':');
		if (size)
			*size++ = '\0';
		if (!*path) {
			ns_err(err, errlen, spec, "missing file path");
			return -EINVAL;
		}
		if (strlen(path) >= PATH_MAX) {
			ns_err(err, errlen, spec, "path is too long");
			return -EINVAL;
		}
		ns->path = strdup(path);
		if (!ns->path) {
			ns_err(err, errlen, spec, "out of memory");
			return -ENOMEM;
		}
		ns->bdev.path = ns->path;
	} else if (!strncmp(head, "bdev:", 5)) {
		/* A named bdev ([bdev "NAME"], bdev_create): opened on its own, used by name. */
		if (!fq_conf_bdev_name_ok(head + 5)) {
			ns_err(err, errlen, spec,
			       "bdev name '%s': 1..%d letters, digits, '-', '_' or '.'", head + 5,
			       FQ_CONF_BDEV_NAME_MAX);
			return -EINVAL;
		}
		if (ns->nlayers) {
			ns_err(err, errlen, spec,
			       "stack modules in the named bdev's own spec, not over bdev:NAME");
			return -EINVAL;
		}
		ns->named = true;
		ns->path = strdup(head + 5);
		if (!ns->path) {
			ns_err(err, errlen, spec, "out of memory");
			return -ENOMEM;
		}
	} else if (!strncmp(head, "vol:", 4) && strlen(head + 4) < PATH_MAX) {
		/* A volume of a pool from a [pool] section (src/volume/pool_conf.c). */
		ns->bdev.kind = FQ_BDEV_VOL;
		ns->path = strdup(head + 4);
		if (!ns->path) {
			ns_err(err, errlen, spec, "out of memory");
			return -ENOMEM;
		}
		ns->bdev.path = ns->path;
	} else {
		ns_err(err, errlen, spec,
		       "'%s': expected ram:SIZE, null:SIZE, file:PATH[:SIZE] or bdev:NAME (or "
		       "vol:POOL/NAME "
		       "over a [pool] section), optionally with stacked modules in front "
		       "(delay:...+ or error:...+)",
		       head);
		return -EINVAL;
	}
	if (size && (fq_conf_parse_size(size, &ns->bdev.size) < 0 || !ns->bdev.size)) {
		ns_err(err, errlen, spec, "bad size '%s'", size);
		return -EINVAL;
	}
	return 0;
}

/* Options of one stacked module, "KEY=VAL[,KEY=VAL...]" (NULL: none), into @o. */
static int layer_options(const struct fq_bdev_module *m, struct fq_bdev_opts *o, char *next,
			 const char *spec, char *err, size_t errlen)
{
	const char *seen[16];
	char what[200], *opt, *val;
	int nseen = 0, rc;

	while ((opt = next)) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		val = strchr(opt, '=');
		if (!val) {
			ns_err(err, errlen, spec, "%s: option '%s' needs a value (name=value)",
			       m->name, opt);
			return -EINVAL;
		}
		*val++ = '\0';
		for (int i = 0; i < nseen; i++) {
			if (!strcmp(seen[i], opt)) {
				ns_err(err, errlen, spec, "%s: option '%s' given twice", m->name,
				       opt);
				return -EINVAL;
			}
		}
		if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[nseen++] = opt;
		rc = m->parse(o, opt, val, what, sizeof(what));
		if (rc == -ENOENT) {
			ns_err(err, errlen, spec, "%s: unknown option '%s' (expected %s)", m->name,
			       opt, m->keys);
			return -EINVAL;
		}
		if (rc) {
			ns_err(err, errlen, spec, "%s: %s", m->name, what);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The stacked modules in front of the bottom spec, each "MODULE[:OPTIONS]+",
 * into ns->layers (the top first). *head moves past them. A word that is not
 * a stacking module starts the bottom spec, which is taken whole: its path
 * may contain '+'.
 */
static int ns_layers(struct fq_ns_conf *ns, char **head, const char *spec, char *err, size_t errlen)
{
	char *p = *head;

	for (;;) {
		size_t n = strcspn(p, ":,+");
		const struct fq_bdev_module *m;
		struct fq_bdev_opts *o;
		char name[32], *end;

		if (n >= sizeof(name))
			break;
		memcpy(name, p, n);
		name[n] = '\0';
		m = fq_bdev_module_find(name);
		if (!m || !m->stacks)
			break;
		end = strchr(p, '+');
		if (!end) {
			ns_err(err, errlen, spec,
			       "module '%s' needs a bdev under it: %s[:OPTIONS]+ram:SIZE (or "
			       "null:SIZE, file:PATH)",
			       name, name);
			return -EINVAL;
		}
		if (ns->nlayers >= FQ_CONF_MAX_LAYERS) {
			ns_err(err, errlen, spec, "more than %d modules stacked at '%s'",
			       FQ_CONF_MAX_LAYERS, name);
			return -EINVAL;
		}
		*end = '\0';
		o = &ns->layers[ns->nlayers++];
		fq_bdev_opts_init(o, m->kind);
		if (layer_options(m, o, p[n] ? p + n + 1 : NULL, spec, err, errlen) < 0)
			return -EINVAL;
		p = end + 1;
	}
	*head = p;
	return 0;
}

/* @buf is a copy of @spec to cut up; @ns is zeroed with defaults. */
static int parse_ns(struct fq_ns_conf *ns, char *buf, const char *spec, char *err, size_t errlen)
{
	char *head = buf, *opt, *next;
	unsigned seen = 0;
	int create = -1, rc;

	if (ns_layers(ns, &head, spec, err, errlen) < 0)
		return -EINVAL;
	next = strchr(head, ',');
	if (next)
		*next++ = '\0';
	rc = ns_head(ns, head, spec, err, errlen);
	if (rc < 0)
		return rc;
	while ((opt = next)) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (ns_option(ns, opt, &seen, &create, spec, err, errlen) < 0)
			return -EINVAL;
	}
	if (ns->bdev.kind == FQ_BDEV_FILE) {
		if (create == 1 && !ns->bdev.size) {
			ns_err(err, errlen, spec, "create=1 needs a size (file:PATH:SIZE)");
			return -EINVAL;
		}
		ns->bdev.create = create < 0 ? ns->bdev.size > 0 : create == 1;
	}
	if (ns->bdev.size % ns->bdev.block_size) {
		ns_err(err, errlen, spec, "size %llu is not a multiple of the block size %u",
		       (unsigned long long)ns->bdev.size, ns->bdev.block_size);
		return -EINVAL;
	}
	return 0;
}

int fq_conf_parse_ns(const char *spec, struct fq_ns_conf *ns, char *err, size_t errlen)
{
	char *buf;
	int rc;

	memset(ns, 0, sizeof(*ns));
	ns->bdev.block_size = 512;
	/* A PATH_MAX path with its kind, size, options and stacked modules. */
	if (strlen(spec) >= PATH_MAX + 256) {
		ns_err(err, errlen, spec, "too long");
		return -EINVAL;
	}
	buf = strdup(spec);
	if (!buf) {
		ns_err(err, errlen, spec, "out of memory");
		return -ENOMEM;
	}
	rc = parse_ns(ns, buf, spec, err, errlen);
	free(buf);
	if (rc >= 0) {
		ns->spec = strdup(spec);
		if (!ns->spec) {
			ns_err(err, errlen, spec, "out of memory");
			rc = -ENOMEM;
		}
	}
	if (rc < 0)
		fq_conf_ns_free(ns);
	return rc;
}

void fq_conf_ns_free(struct fq_ns_conf *ns)
{
	free(ns->path);
	free(ns->spec);
	ns->path = NULL;
	ns->spec = NULL;
	ns->bdev.path = NULL;
}

int fq_conf_ns_copy(struct fq_ns_conf *dst, const struct fq_ns_conf *src)
{
	*dst = *src;
	dst->path = NULL;
	dst->spec = NULL;
	dst->bdev.path = NULL;
	if (src->spec) {
		dst->spec = strdup(src->spec);
		if (!dst->spec)
			return -ENOMEM;
	}
	if (src->path) {
		dst->path = strdup(src->path);
		if (!dst->path) {
			free(dst->spec);
			dst->spec = NULL;
			return -ENOMEM;
		}
		if (src->bdev.path == src->path)
			dst->bdev.path = dst->path;
	}
	return 0;
}
