/* SPDX-License-Identifier: MIT */
/*
 * Pools named in the configuration file (docs/volumes.md "Configuration"):
 *
 *   [pool "NAME"]
 *   bdev = ram:SIZE | file:PATH[:SIZE]
 *   create = yes              ; format the bdev if it holds no pool
 *   cluster_size = 1M         ; for create
 *   volume = VOL:SIZE[:thick][:LIMITS] ; created at start if missing (repeatable)
 *   reactor = N               ; home reactor (default: the one with the fewest pools)
 *
 * LIMITS is "read_iops=N,write_iops=N,read_bps=N,write_bps=N,burst_ms=N"
 * (any subset, as `fabriq volume throttle` takes them): the volume's limits
 * named there are set at start and at each reload (live, with the pool's I/O
 * drained, fq_pool_conf_apply_qos); those not named keep what the pool
 * holds (the limits are pool metadata, changed at run time too).
 *
 * The target's configuration reader hands each section and key here; the
 * pools are opened and registered (for "vol:NAME/VOL" namespaces) before the
 * first namespace is, and closed after the last one. State is process-wide
 * and used from the thread that loads the configuration and starts and stops
 * the target.
 */
#include "volume/vol_internal.h"

#include "bdev/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_VOLS 64

/* The limits a volume line may name, in the order of enum qos_key. */
enum qos_key { QK_READ_IOPS, QK_WRITE_IOPS, QK_READ_BPS, QK_WRITE_BPS, QK_BURST_MS, QK_N };
static const char *const qos_names[QK_N] = {"read_iops", "write_iops", "read_bps", "write_bps",
					    "burst_ms"};

struct pool_conf {
	char name[FQ_POOL_NAME_MAX];
	char path[4096];
	struct fq_bdev_opts bdev;
	bool has_bdev;
	bool create;
	uint32_t cluster_size;
	int reactor;	      /* home reactor asked for, -1: the spread's */
	char reactor_at[300]; /* "FILE:LINE" of the reactor key, for the range check */
	int nvols;
	struct {
		char name[FQ_VOL_NAME_MAX];
		uint64_t size;
		bool thick;
		unsigned qos_given; /* 1 << enum qos_key for each limit the line names */
		uint64_t qos[QK_N];
	} vols[CONF_MAX_VOLS];
};

struct pool_open {
	char name[FQ_POOL_NAME_MAX];
	char bdev_spec[4200]; /* the bdev key that opens it again (fq_pool_conf_emit) */
	struct fq_bdev *bdev;
	struct fq_pool *pool;
	struct fq_engine eng;
	bool has_eng;
	uint32_t cluster_size; /* read at open: the emitter must not touch the pool */
	int reactor;	       /* pinned home reactor, -1: none (emitted as reactor = N) */
};

static struct pool_conf confs[FQ_POOL_REGISTRY_MAX];
static int nconfs;
static struct pool_open opened[FQ_POOL_REGISTRY_MAX];
static int nopened;
/* Where the key fq_pool_conf_key gets next comes from (fq_pool_conf_at). */
static char key_at[300];

void fq_pool_conf_reset(void)
{
	nconfs = 0;
}

int fq_pool_conf_count(void)
{
	return nconfs;
}

bool fq_pool_conf_defined(const char *name)
{
	for (int i = 0; i < nconfs; i++)
		if (!strcmp(confs[i].name, name))
			return true;
	return false;
}

static void note_cluster_size(struct pool_open *po)
{
	struct fq_pool_info info;

	if (!fq_pool_info(po->pool, &info))
		po->cluster_size = info.cluster_size;
}

int fq_pool_conf_begin(const char *name, char *err, size_t errlen)
{
	if (!name || !name[0] || strlen(name) >= FQ_POOL_NAME_MAX || strchr(name, '/')) {
		snprintf(err, errlen, "a pool name is 1..%d characters without '/'",
			 FQ_POOL_NAME_MAX - 1);
		return -EINVAL;
	}
	for (int i = 0; i < nconfs; i++)
		if (!strcmp(confs[i].name, name)) {
			snprintf(err, errlen, "pool '%s' is defined twice", name);
			return -EEXIST;
		}
	if (nconfs == FQ_POOL_REGISTRY_MAX) {
		snprintf(err, errlen, "too many pools (the maximum is %d)", FQ_POOL_REGISTRY_MAX);
		return -ENOSPC;
	}
	memset(&confs[nconfs], 0, sizeof(confs[nconfs]));
	snprintf(confs[nconfs].name, sizeof(confs[nconfs].name), "%s", name);
	confs[nconfs].reactor = -1;
	nconfs++;
	return 0;
}

void fq_pool_conf_at(const char *path, int line)
{
	snprintf(key_at, sizeof(key_at), "%s:%d", path ? path : "?", line);
}

/* A reactor index: decimal digits, 0 .. FQ_VOL_MAX_HOMES - 1. */
static int reactor_value(const char *s, int *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= FQ_VOL_MAX_HOMES)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static void range_msg(char *err, size_t errlen, int reactor, int nreactors)
{
	snprintf(err, errlen, "reactor %d is out of range: the target has %d reactor%s (0..%d)",
		 reactor, nreactors, nreactors == 1 ? "" : "s", nreactors - 1);
}

int fq_pool_conf_check_reactors(int nreactors, char *err, size_t errlen)
{
	for (int i = 0; i < nconfs; i++) {
		char msg[160];

		if (confs[i].reactor < nreactors)
			continue;
		range_msg(msg, sizeof(msg), confs[i].reactor, nreactors);
		snprintf(err, errlen, "%s: key 'reactor': pool '%s': %s", confs[i].reactor_at,
			 confs[i].name, msg);
		return -ERANGE;
	}
	return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	struct fq_bdev_opts o = {0};

	/* The block layer's size syntax: "64M", "1G", "4096". */
	if (fq_bdev_parse_common(&o, "size", s, NULL, 0))
		return -EINVAL;
	*out = o.size;
	return 0;
}

static int conf_bdev(struct pool_conf *c, const char *val, char *err, size_t errlen)
{
	const char *size = NULL;

	if (!strncmp(val, "ram:", 4)) {
		fq_bdev_opts_init(&c->bdev, FQ_BDEV_RAM);
		size = val + 4;
	} else if (!strncmp(val, "file:", 5)) {
		const char *colon = strchr(val + 5, ':');
		size_t n = colon ? (size_t)(colon - val - 5) : strlen(val + 5);

		if (!n || n >= sizeof(c->path)) {
			snprintf(err, errlen, "bad file path in '%s'", val);
			return -EINVAL;
		}
		fq_bdev_opts_init(&c->bdev, FQ_BDEV_FILE);
		memcpy(c->path, val + 5, n);
		c->path[n] = '\0';
		c->bdev.path = c->path;
		size = colon ? colon + 1 : NULL;
	} else {
		snprintf(err, errlen, "bdev '%s': expected ram:SIZE or file:PATH[:SIZE]", val);
		return -EINVAL;
	}
	if (size && (parse_size(size, &c->bdev.size) || c->bdev.size % 4096)) {
		snprintf(err, errlen, "bdev '%s': bad size (a multiple of 4 KiB)", val);
		return -EINVAL;
	}
	if (c->bdev.kind == FQ_BDEV_FILE)
		c->bdev.create = c->bdev.size > 0;
	c->has_bdev = true;
	return 0;
}

/* A limit's value: a count, or for the _bps keys bytes with a K/M/G suffix. */
static int qos_value(enum qos_key k, const char *s, uint64_t *out)
{
	char *end;

	if (k == QK_READ_BPS || k == QK_WRITE_BPS) {
		if (!s[0] || s[0] == '-' || parse_size(s, out))
			return -EINVAL;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (k == QK_BURST_MS)
		return *out >= 1 && *out <= FQ_VOL_QOS_MAX_BURST_MS ? 0 : -EINVAL;
	return *out <= FQ_VOL_QOS_MAX_IOPS ? 0 : -EINVAL;
}

/* "read_iops=N,write_bps=N,..." of volume @vol into @c's volume @i. */
static int conf_limits(struct pool_conf *c, int i, const char *vol, char *list, char *err,
		       size_t errlen)
{
	char *save = NULL;

	for (char *kv = strtok_r(list, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int k;

		if (eq)
			*eq++ = '\0';
		for (k = 0; k < QK_N; k++)
			if (!strcmp(kv, qos_names[k]))
				break;
		if (k == QK_N) {
			snprintf(err, errlen,
				 "volume '%s': unknown limit '%s' (expected read_iops, write_iops, "
				 "read_bps, write_bps, burst_ms)",
				 vol, kv);
			return -EINVAL;
		}
		if (!eq || qos_value((enum qos_key)k, eq, &c->vols[i].qos[k])) {
			snprintf(err, errlen, "volume '%s': %s '%s': %s", vol, kv, eq ? eq : "",
				 k == QK_BURST_MS ? "milliseconds, 1..10000"
				 : k == QK_READ_BPS || k == QK_WRITE_BPS
					 ? "bytes per second, K/M/G suffixes allowed, 0 = no limit"
					 : "operations per second up to 4294967295, 0 = no limit");
			return -EINVAL;
		}
		if (c->vols[i].qos_given & (1u << k)) {
			snprintf(err, errlen, "volume '%s': %s given twice", vol, kv);
			return -EINVAL;
		}
		c->vols[i].qos_given |= 1u << k;
	}
	if (!c->vols[i].qos_given) {
		snprintf(err, errlen, "volume '%s': expected KEY=VALUE[,KEY=VALUE...] limits", vol);
		return -EINVAL;
	}
	return 0;
}

static int conf_volume(struct pool_conf *c, const char *val, char *err, size_t errlen)
{
	char buf[512], *size, *opt, *limits = NULL;
	int i = c->nvols;

	if (c->nvols == CONF_MAX_VOLS || strlen(val) >= sizeof(buf)) {
		snprintf(err, errlen, "volume '%s': too many or too long", val);
		return -EINVAL;
	}
	strcpy(buf, val);
	size = strchr(buf, ':');
	if (!size) {
		snprintf(err, errlen, "volume '%s': expected NAME:SIZE[:thick][:LIMITS]", val);
		return -EINVAL;
	}
	*size++ = '\0';
	memset(&c->vols[i], 0, sizeof(c->vols[i]));
	/* After the size: "thick", then the limits, each optional. */
	opt = strchr(size, ':');
	if (opt)
		*opt++ = '\0';
	if (opt && !strncmp(opt, "thick", 5) && (!opt[5] || opt[5] == ':')) {
		c->vols[i].thick = true;
		opt = opt[5] ? opt + 6 : NULL;
	}
	if (opt && strchr(opt, '='))
		limits = opt;
	else if (opt)
		size = NULL; /* neither thick nor limits */
	if (!size || !buf[0] || strlen(buf) >= FQ_VOL_NAME_MAX || strchr(buf, '@') ||
	    parse_size(size, &c->vols[i].size)) {
		snprintf(err, errlen, "volume '%s': expected NAME:SIZE[:thick][:LIMITS]", val);
		return -EINVAL;
	}
	if (limits && conf_limits(c, i, buf, limits, err, errlen))
		return -EINVAL;
	snprintf(c->vols[i].name, sizeof(c->vols[i].name), "%s", buf);
	c->nvols++;
	return 0;
}

int fq_pool_conf_key(const char *key, const char *val, char *err, size_t errlen)
{
	struct pool_conf *c = nconfs ? &confs[nconfs - 1] : NULL;
	uint64_t v;

	if (!c)
		return -EINVAL;
	if (!strcmp(key, "bdev"))
		return conf_bdev(c, val, err, errlen);
	if (!strcmp(key, "volume"))
		return conf_volume(c, val, err, errlen);
	if (!strcmp(key, "create")) {
		if (strcmp(val, "yes") && strcmp(val, "no") && strcmp(val, "1") &&
		    strcmp(val, "0")) {
			snprintf(err, errlen, "create '%s': expected yes or no", val);
			return -EINVAL;
		}
		c->create = !strcmp(val, "yes") || !strcmp(val, "1");
		return 0;
	}
	if (!strcmp(key, "reactor")) {
		if (reactor_value(val, &c->reactor)) {
			snprintf(err, errlen,
				 "reactor '%s': a reactor index, 0..%d (below the target's "
				 "number of reactors)",
				 val, FQ_VOL_MAX_HOMES - 1);
			return -EINVAL;
		}
		snprintf(c->reactor_at, sizeof(c->reactor_at), "%s", key_at);
		return 0;
	}
	if (!strcmp(key, "cluster_size")) {
		if (parse_size(val, &v) || v < 4096 || v > (1u << 20) || (v & (v - 1))) {
			snprintf(err, errlen, "cluster_size '%s': a power of two, 4K..1M", val);
			return -EINVAL;
		}
		c->cluster_size = (uint32_t)v;
		return 0;
	}
	for (int k = 0; k < QK_N; k++)
		if (!strcmp(key, qos_names[k])) {
			snprintf(err, errlen,
				 "unknown key '%s': limits go on a volume line "
				 "(volume = NAME:SIZE[:thick]:%s=N,...)",
				 key, key);
			return -ENOENT;
		}
	snprintf(err, errlen,
		 "unknown key '%s' (expected bdev, create, cluster_size, reactor, volume)", key);
	return -ENOENT;
}

/*
 * The limits @c's volume lines name, onto @pool: each volume's current
 * limits with those replaced, committed only when that changes something
 * (a QOS journal record). On the pool's thread, its I/O drained.
 */
static int apply_qos(const struct pool_conf *c, struct fq_pool *pool, char *err, size_t errlen)
{
	for (int i = 0; i < c->nvols; i++) {
		struct fq_vol *v = fq_vol_find(pool, c->vols[i].name);
		struct fq_vol_info vi;
		struct fq_vol_qos q;
		uint64_t *dst[QK_N] = {&q.read_iops, &q.write_iops, &q.read_bps, &q.write_bps,
				       NULL};
		int rc;

		/* A volume deleted at run time is not made again by a reload. */
		if (!c->vols[i].qos_given || !v || fq_vol_info(v, &vi))
			continue;
		q = vi.qos;
		for (int k = 0; k < QK_N; k++) {
			if (!(c->vols[i].qos_given & (1u << k)))
				continue;
			if (dst[k])
				*dst[k] = c->vols[i].qos[k];
			else
				q.burst_ms = (uint32_t)c->vols[i].qos[k];
		}
		if (!memcmp(&q, &vi.qos, sizeof(q)))
			continue;
		rc = fq_vol_set_qos(pool, c->vols[i].name, &q);
		if (rc) {
			snprintf(err, errlen, "pool '%s': volume '%s': limits: %s", c->name,
				 c->vols[i].name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static const struct pool_conf *conf_find(const char *name)
{
	for (int i = 0; i < nconfs; i++)
		if (!strcmp(confs[i].name, name))
			return &confs[i];
	return NULL;
}

bool fq_pool_conf_has_qos(const char *name)
{
	const struct pool_conf *c = conf_find(name);

	for (int i = 0; c && i < c->nvols; i++)
		if (c->vols[i].qos_given)
			return true;
	return false;
}

const char *fq_pool_conf_name(int i)
{
	return i >= 0 && i < nconfs ? confs[i].name : NULL;
}

int fq_pool_conf_apply_qos(const char *name, char *err, size_t errlen)
{
	const struct pool_conf *c = conf_find(name);
	struct fq_pool *p = fq_pool_lookup(name);

	if (!c || !p) {
		snprintf(err, errlen, "no open pool '%s' in the configuration", name);
		return -ENOENT;
	}
	return apply_qos(c, p, err, errlen);
}

/* A pool just registered goes to the home reactor it asks for, if any. */
static int pin(struct pool_open *po, char *err, size_t errlen)
{
	int rc;

	if (po->reactor < 0)
		return 0;
	rc = fq_pool_pin_home(po->pool, po->reactor);
	if (rc == -ERANGE) {
		char msg[160];

		range_msg(msg, sizeof(msg), po->reactor, fq_vol_homes());
		snprintf(err, errlen, "pool '%s': %s", po->name, msg);
	} else if (rc) {
		snprintf(err, errlen, "pool '%s': reactor %d: %s", po->name, po->reactor,
			 strerror(-rc));
	}
	return rc;
}

static int open_one(const struct pool_conf *c, char *err, size_t errlen)
{
	struct pool_open *po = &opened[nopened];
	char berr[256];
	int rc;

	memset(po, 0, sizeof(*po));
	snprintf(po->name, sizeof(po->name), "%s", c->name);
	po->reactor = c->reactor;
	if (c->bdev.kind == FQ_BDEV_FILE)
		snprintf(po->bdev_spec, sizeof(po->bdev_spec), "file:%s", c->path);
	else
		snprintf(po->bdev_spec, sizeof(po->bdev_spec), "ram:%llu",
			 (unsigned long long)c->bdev.size);
	if (!c->has_bdev) {
		snprintf(err, errlen, "pool '%s': no bdev", c->name);
		return -EINVAL;
	}
	rc = fq_engine_init(&po->eng, 64);
	if (rc) {
		snprintf(err, errlen, "pool '%s': engine: %s", c->name, strerror(-rc));
		return rc;
	}
	po->has_eng = true;
	rc = fq_bdev_open(&c->bdev, &po->bdev, berr, sizeof(berr));
	if (rc) {
		snprintf(err, errlen, "pool '%s': %s", c->name, berr);
		goto fail;
	}
	rc = fq_pool_open(po->bdev, &po->eng, &po->pool);
	if (rc == -EBADMSG && c->create) {
		struct fq_pool_opts o = {.name = c->name, .cluster_size = c->cluster_size};

		rc = fq_pool_create(po->bdev, &po->eng, &o);
		if (!rc)
			rc = fq_pool_open(po->bdev, &po->eng, &po->pool);
	}
	if (rc) {
		snprintf(err, errlen, "pool '%s': %s%s", c->name, strerror(-rc),
			 rc == -EBADMSG ? " (no pool there; create = yes formats it)" : "");
		goto fail;
	}
	for (int i = 0; i < c->nvols; i++) {
		if (fq_vol_find(po->pool, c->vols[i].name))
			continue;
		rc = fq_vol_create(po->pool, c->vols[i].name, c->vols[i].size, c->vols[i].thick);
		if (rc) {
			snprintf(err, errlen, "pool '%s': volume '%s': %s", c->name,
				 c->vols[i].name, strerror(-rc));
			goto fail;
		}
	}
	/* Nothing serves the pool yet: its limits are set here, before any I/O. */
	rc = apply_qos(c, po->pool, err, errlen);
	if (rc)
		goto fail;
	note_cluster_size(po);
	rc = fq_pool_register(c->name, po->pool);
	if (rc) {
		snprintf(err, errlen, "pool '%s': %s", c->name, strerror(-rc));
		goto fail;
	}
	rc = pin(po, err, errlen);
	if (rc) {
		fq_pool_unregister(c->name);
		goto fail;
	}
	nopened++;
	return 0;
fail:
	if (po->pool)
		fq_pool_close(po->pool);
	fq_bdev_close(po->bdev);
	fq_engine_fini(&po->eng);
	return rc;
}

int fq_pool_conf_open_all(char *err, size_t errlen)
{
	for (int i = 0; i < nconfs; i++) {
		int rc;

		if (fq_pool_lookup(confs[i].name))
			continue; /* open already (a reload) */
		rc = open_one(&confs[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void fq_pool_conf_close_all(void)
{
	while (nopened) {
		struct pool_open *po = &opened[--nopened];

		fq_pool_unregister(po->name);
		fq_pool_close(po->pool);
		fq_bdev_close(po->bdev);
		fq_engine_fini(&po->eng);
	}
}

/* Names that are safe in an INI section header and an NQN. */
static bool live_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n >= FQ_POOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

int fq_pool_conf_create(const char *name, const char *path, uint64_t size, uint32_t cluster_size,
			int reactor, char *err, size_t errlen)
{
	struct pool_open *po;
	struct fq_bdev_opts bo;
	char berr[256];
	int rc;

	if (!live_name_ok(name)) {
		snprintf(err, errlen, "a pool name is 1..%d letters, digits, '-', '_' or '.'",
			 FQ_POOL_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!path || !path[0] || path[0] != '/' || strlen(path) >= 4096) {
		snprintf(err, errlen, "path must be an absolute file or device path");
		return -EINVAL;
	}
	if (size % 4096) {
		snprintf(err, errlen, "size must be a multiple of 4 KiB");
		return -EINVAL;
	}
	if (cluster_size && (cluster_size < 4096 || cluster_size > (1u << 20) ||
			     (cluster_size & (cluster_size - 1)))) {
		snprintf(err, errlen, "cluster_size must be a power of two, 4K..1M");
		return -EINVAL;
	}
	if (reactor < -1 || reactor >= FQ_VOL_MAX_HOMES) {
		snprintf(err, errlen, "reactor must be 0..%d", FQ_VOL_MAX_HOMES - 1);
		return -EINVAL;
	}
	/* Before anything is formatted: a pool never lands where it did not ask to. */
	if (reactor >= 0 && fq_vol_homes() && reactor >= fq_vol_homes()) {
		range_msg(err, errlen, reactor, fq_vol_homes());
		return -ERANGE;
	}
	if (fq_pool_lookup(name)) {
		snprintf(err, errlen, "pool '%s' exists already", name);
		return -EEXIST;
	}
	for (int i = 0; i < nopened; i++)
		if (!strcmp(opened[i].bdev_spec + 5, path) &&
		    !strncmp(opened[i].bdev_spec, "file:", 5)) {
			snprintf(err, errlen, "%s holds pool '%s', which is open", path,
				 opened[i].name);
			return -EBUSY;
		}
	if (nopened == FQ_POOL_REGISTRY_MAX) {
		snprintf(err, errlen, "too many pools (the maximum is %d)", FQ_POOL_REGISTRY_MAX);
		return -ENOSPC;
	}
	po = &opened[nopened];
	memset(po, 0, sizeof(*po));
	snprintf(po->name, sizeof(po->name), "%s", name);
	snprintf(po->bdev_spec, sizeof(po->bdev_spec), "file:%s", path);
	po->reactor = reactor;
	fq_bdev_opts_init(&bo, FQ_BDEV_FILE);
	bo.path = path;
	bo.size = size;
	bo.create = size > 0;
	rc = fq_engine_init(&po->eng, 64);
	if (rc) {
		snprintf(err, errlen, "engine: %s", strerror(-rc));
		return rc;
	}
	po->has_eng = true;
	rc = fq_bdev_open(&bo, &po->bdev, berr, sizeof(berr));
	if (rc) {
		snprintf(err, errlen, "%s", berr);
		po->bdev = NULL;
		goto fail;
	}
	/* Never format over a pool: deleting one is a decision of its own. */
	rc = fq_pool_open(po->bdev, &po->eng, &po->pool);
	if (rc == 0) {
		snprintf(err, errlen, "%s holds a pool already (open it from the configuration)",
			 path);
		fq_pool_close(po->pool);
		po->pool = NULL;
		rc = -EEXIST;
		goto fail;
	}
	{
		struct fq_pool_opts o = {.name = name, .cluster_size = cluster_size};

		rc = fq_pool_create(po->bdev, &po->eng, &o);
		if (!rc)
			rc = fq_pool_open(po->bdev, &po->eng, &po->pool);
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(-rc),
			 rc == -ENOSPC || rc == -EINVAL ? " (too small for a pool?)" : "");
		goto fail;
	}
	note_cluster_size(po);
	rc = fq_pool_register(name, po->pool);
	if (rc) {
		snprintf(err, errlen, "pool '%s': %s", name, strerror(-rc));
		goto fail;
	}
	rc = pin(po, err, errlen);
	if (rc) {
		fq_pool_unregister(name);
		goto fail;
	}
	nopened++;
	return 0;
fail:
	if (po->pool)
		fq_pool_close(po->pool);
	fq_bdev_close(po->bdev);
	fq_engine_fini(&po->eng);
	return rc;
}

int fq_pool_conf_delete(const char *name, char *err, size_t errlen)
{
	for (int i = 0; i < nopened; i++) {
		struct pool_open *po = &opened[i];
		int rc;

		if (strcmp(po->name, name))
			continue;
		rc = fq_pool_unregister(name);
		if (rc) {
			snprintf(err, errlen, "pool '%s' %s", name,
				 rc == -EBUSY ? "has volumes in use" : "is not registered");
			return rc;
		}
		rc = fq_pool_close(po->pool);
		fq_bdev_close(po->bdev);
		fq_engine_fini(&po->eng);
		memmove(po, po + 1, (size_t)(nopened - i - 1) * sizeof(*po));
		nopened--;
		/* A configuration that still names it would open it again: drop that too. */
		for (int k = 0; k < nconfs; k++)
			if (!strcmp(confs[k].name, name)) {
				memmove(&confs[k], &confs[k + 1],
					(size_t)(nconfs - k - 1) * sizeof(confs[0]));
				nconfs--;
				break;
			}
		if (rc)
			snprintf(err, errlen, "pool '%s' closed with an error: %s", name,
				 strerror(-rc));
		return rc;
	}
	snprintf(err, errlen, "no pool '%s'", name);
	return -ENOENT;
}

const char *fq_pool_conf_bdev(const char *name)
{
	for (int i = 0; i < nopened; i++)
		if (!strcmp(opened[i].name, name))
			return opened[i].bdev_spec;
	return NULL;
}

int fq_pool_conf_emit(FILE *f)
{
	for (int i = 0; i < nopened; i++) {
		const struct pool_open *po = &opened[i];
		/*
		 * The volumes live in the pool itself: the section only has to
		 * find it. A RAM pool has nothing to find after a restart, so it
		 * is formatted again, with the same cluster size.
		 */
		if (fprintf(f, "[pool \"%s\"]\nbdev = %s\n", po->name, po->bdev_spec) < 0)
			return -EIO;
		if (!strncmp(po->bdev_spec, "ram:", 4) &&
		    fprintf(f, "create = yes\ncluster_size = %u\n", po->cluster_size) < 0)
			return -EIO;
		/* A home asked for stays asked for; the spread is made again at start. */
		if (po->reactor >= 0 && fprintf(f, "reactor = %d\n", po->reactor) < 0)
			return -EIO;
		if (fprintf(f, "\n") < 0)
			return -EIO;
	}
	return fflush(f) ? -errno : 0;
}
