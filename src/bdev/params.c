/* SPDX-License-Identifier: MIT */
/*
 * Run-time parameters of stacked modules (delay's latencies, qos's limits):
 * read back as spec text and changed while I/O runs. The text goes through
 * the module's own parse(), the one namespace specs use, over the values in
 * effect, so a change names only the keys it changes and every rule a spec
 * obeys holds for it too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bdev/backend.h"
#include "bdev/bdev.h"

static bool has_params(const struct fq_bdev *bdev)
{
	const struct fq_bdev_module *m = bdev ? bdev->module : NULL;

	return m && m->get_params && m->set_params && m->format_params;
}

/* The values in effect, in @opts (defaults first, for fields get_params leaves). */
static int current(struct fq_bdev *bdev, struct fq_bdev_opts *opts)
{
	int rc = fq_bdev_opts_init(opts, bdev->module->kind);

	return rc ? rc : bdev->module->get_params(bdev, opts);
}

int fq_bdev_params_text(struct fq_bdev *bdev, char *buf, size_t len)
{
	struct fq_bdev_opts opts;
	int rc;

	if (!has_params(bdev))
		return -ENOTSUP;
	rc = current(bdev, &opts);
	return rc ? rc : bdev->module->format_params(&opts, buf, len);
}

/* Parse "key=val,..." over @opts with the module's parser. */
static int parse_kv(const struct fq_bdev_module *m, struct fq_bdev_opts *opts, const char *kv,
		    char *err, size_t errlen)
{
	char key[64], val[64];
	const char *p = kv;

	if (!*p) {
		fq_errf(err, errlen, "%s: no parameter given (%s)", m->name, m->keys);
		return -EINVAL;
	}
	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		int rc;

		if (k >= n || !k || k >= sizeof(key) || n - k - 1 >= sizeof(val)) {
			fq_errf(err, errlen, "%s: '%.*s' is not KEY=VALUE", m->name,
				(int)(n < 80 ? n : 80), p);
			return -EINVAL;
		}
		memcpy(key, p, k);
		key[k] = '\0';
		memcpy(val, p + k + 1, n - k - 1);
		val[n - k - 1] = '\0';
		rc = m->parse(opts, key, val, err, errlen);
		if (rc == -ENOENT) {
			fq_errf(err, errlen, "%s: unknown parameter '%s' (%s)", m->name, key,
				m->keys);
			return -EINVAL;
		}
		if (rc)
			return rc;
		p += n;
		if (*p == ',' && !*++p) {
			fq_errf(err, errlen, "%s: empty parameter after ','", m->name);
			return -EINVAL;
		}
	}
	return 0;
}

int fq_bdev_set_params(struct fq_bdev *bdev, const char *kv, struct fq_bdev_opts *opts, char *err,
		       size_t errlen)
{
	struct fq_bdev_opts o;
	int rc;

	if (!has_params(bdev)) {
		fq_errf(err, errlen, "%s: no parameters that change at run time",
			bdev && bdev->module ? bdev->module->name : "bdev");
		return -ENOTSUP;
	}
	rc = current(bdev, &o);
	if (!rc)
		rc = parse_kv(bdev->module, &o, kv, err, errlen);
	if (!rc)
		rc = bdev->module->set_params(bdev, &o, err, errlen);
	if (!rc && opts)
		*opts = o;
	return rc;
}
