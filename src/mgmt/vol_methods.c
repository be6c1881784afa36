/* SPDX-License-Identifier: MIT */
/*
 * Pool and volume methods of the management socket (docs/rpc.md "Pools and
 * volumes"). The volume engine gives a pool to one thread: its home reactor,
 * which serves its vol bdevs (fq_vol_set_homes spreads the pools over the
 * reactors; the others send it their commands on the pool's volumes).
 * So every call on a pool runs there through fq_target_run_on_pool; one
 * that changes metadata first holds the pool's I/O (new commands queue in
 * the vol bdevs) and waits until none is in flight, so the change never
 * interleaves with a command half done, then releases what was queued.
 *
 * Each volume (and snapshot) created here is exported as a subsystem of its
 * own, VOL_NQN_BASE:POOL:NAME, namespace 1 with the volume's UUID as NGUID
 * and UUID, on every listener, open to any host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/mgmt.h"
#include "mgmt/vol_methods.h"
#include "util/log.h"
#include "volume/volume.h"

static struct fq_target *tgt(struct fq_rpc_call *call)
{
	return ((struct fq_mgmt_ctx *)fq_rpc_ctx(call))->t;
}

/* ---- running on the pool's thread ---------------------------------------- */

struct vop;
typedef int (*vop_fn)(struct vop *op);

struct vop {
	struct fq_pool *pool;
	vop_fn fn;
	const char *name, *name2;
	uint64_t size;
	bool flag;
	struct fq_vol_qos qos;
	int mode;
	int rc;
	void *out;
	struct fq_vol_info vi;
	struct fq_pool_info pi;
};

static int vop_read(void *arg)
{
	struct vop *op = arg;

	op->rc = op->fn(op);
	return 0;
}

/* Run @op->fn on the pool's home reactor; @change: with its I/O drained. */
static int run(struct fq_target *t, struct vop *op, bool change)
{
	int rc = fq_target_run_on_pool(t, op->pool, change, vop_read, op);

	return rc ? rc : op->rc;
}

/* ---- names, exports and errors ------------------------------------------- */

static bool vol_name_ok(const char *s, bool snap)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!n || n >= FQ_VOL_NAME_MAX || snap != (at != NULL) || at == s || (at && !at[1]) ||
	    (at && strchr(at + 1, '@')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			return false;
	}
	return true;
}

static int bad_name(struct fq_rpc_call *call, const char *param, bool snap)
{
	return fq_rpc_error(
		call, FQ_RPC_INVALID_PARAMS, param,
		snap ? "expected VOLUME@SNAPSHOT: letters, digits, '-', '_', '.', one "
		       "'@', under %d characters"
		     : "expected a volume name: letters, digits, '-', '_', '.', under %d "
		       "characters",
		FQ_VOL_NAME_MAX);
}

static struct fq_pool *pool_of(struct fq_rpc_call *call, json_object *params, int *rc)
{
	const char *name = fq_rpc_str(params, "pool", "");
	struct fq_pool *p = fq_pool_lookup(name);
	char msg[128];

	if (!p) {
		snprintf(msg, sizeof(msg), "no pool '%s'", name);
		*rc = fq_rpc_fail(call, -ENOENT, msg);
	}
	return p;
}

void fq_vol_nqn(char *buf, size_t len, const char *pool, const char *name)
{
	snprintf(buf, len, "%s:%s:%s", FQ_VOL_NQN_BASE, pool, name);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int unexport(struct fq_target *t, const char *pool, const char *name)
{
	char nqn[256];

	fq_vol_nqn(nqn, sizeof(nqn), pool, name);
	return fq_target_live_delete_subsystem(t, nqn);
}

/* Export volume @name of @pool: a subsystem of its own with namespace 1. */
static int export(struct fq_target *t, const char *pool, const struct fq_vol_info *vi, char *err,
		  size_t errlen)
{
	char nqn[256], spec[512], id[33], serial[21];
	uint32_t nsid = 0;
	int rc;

	fq_vol_nqn(nqn, sizeof(nqn), pool, vi->name);
	hex(id, vi->uuid, 16);
	snprintf(serial, sizeof(serial), "%.20s", id);
	rc = fq_target_live_create_subsystem(t, nqn, serial, NULL, true);
	if (rc) {
		snprintf(err, errlen, "%s", fq_target_last_error(t));
		return rc;
	}
	snprintf(spec, sizeof(spec), "vol:%s/%s,nguid=%s,uuid=%.8s-%.4s-%.4s-%.4s-%.12s", pool,
		 vi->name, id, id, id + 8, id + 12, id + 16, id + 20);
	rc = fq_target_live_add_ns(t, nqn, spec, 1, &nsid);
	if (rc) {
		snprintf(err, errlen, "%s", fq_target_last_error(t));
		fq_target_live_delete_subsystem(t, nqn);
	}
	return rc;
}

/* An engine error as a sentence for the caller. */
static int vol_fail(struct fq_rpc_call *call, int rc, const char *pool, const char *name,
		    const char *what)
{
	char msg[256];

	switch (rc) {
	case -ENOENT:
		snprintf(msg, sizeof(msg), "pool '%s' has no %s '%s'", pool, what, name);
		break;
	case -EEXIST:
		snprintf(msg, sizeof(msg), "pool '%s' has a volume '%s' already", pool, name);
		break;
	case -ENOSPC:
		snprintf(msg, sizeof(msg), "pool '%s' is out of space or volume slots for '%s'",
			 pool, name);
		break;
	case -EBUSY:
		snprintf(msg, sizeof(msg),
			 "'%s' has snapshots or clones that depend on it (delete the snapshots, "
			 "flatten the clones)",
			 name);
		break;
	case -EROFS:
		snprintf(msg, sizeof(msg), "'%s' is a snapshot (read-only)", name);
		break;
	case -ETIMEDOUT:
		snprintf(msg, sizeof(msg), "pool '%s': its I/O did not drain in 10 s", pool);
		break;
	case -EIO:
		snprintf(msg, sizeof(msg), "pool '%s': I/O error on its device", pool);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s '%s': %s", what, name, strerror(-rc));
	}
	return fq_rpc_fail(call, rc, msg);
}

/* ---- JSON ------------------------------------------------------------------ */

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static json_object *vol_json(const char *pool, const struct fq_vol_info *vi)
{
	json_object *o = json_object_new_object(), *q = json_object_new_object();
	char id[33], uuid[37], nqn[256];

	hex(id, vi->uuid, 16);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16,
		 id + 20);
	add_str(o, "pool", pool);
	add_str(o, "name", vi->name);
	add_str(o, "uuid", uuid);
	add_u64(o, "size", vi->size);
	add_u64(o, "allocated_bytes", vi->allocated_bytes);
	add_str(o, "parent", vi->parent);
	json_object_object_add(o, "snapshot", json_object_new_boolean(vi->snapshot));
	json_object_object_add(o, "thick", json_object_new_boolean(vi->thick));
	add_u64(o, "snapshots", vi->snapshots);
	add_u64(o, "dependants", vi->dependants);
	add_str(o, "state", vi->suspended ? "suspended" : vi->snapshot ? "read-only" : "online");
	add_u64(q, "read_iops", vi->qos.read_iops);
	add_u64(q, "write_iops", vi->qos.write_iops);
	add_u64(q, "read_bps", vi->qos.read_bps);
	add_u64(q, "write_bps", vi->qos.write_bps);
	add_u64(q, "burst_ms", vi->qos.burst_ms);
	add_u64(q, "waiting", vi->waiting);
	add_u64(q, "delayed", vi->delayed);
	add_u64(q, "held", vi->held);
	json_object_object_add(o, "qos", q);
	fq_vol_nqn(nqn, sizeof(nqn), pool, vi->name);
	add_str(o, "nqn", nqn);
	return o;
}

static json_object *pool_json(const char *name, const struct fq_pool_info *pi)
{
	json_object *o = json_object_new_object();
	const char *bdev = fq_pool_conf_bdev(name);
	int home = fq_pool_home(fq_pool_lookup(name));

	add_str(o, "name", name);
	add_str(o, "bdev", bdev ? bdev : "");
	add_u64(o, "cluster_size", pi->cluster_size);
	add_u64(o, "capacity", pi->capacity);
	add_u64(o, "allocated", pi->allocated);
	add_u64(o, "free", pi->capacity - pi->allocated);
	add_u64(o, "volumes", pi->volumes);
	/* The reactor that serves the pool's I/O and runs its management calls. */
	add_u64(o, "reactor", home < 0 ? 0 : (uint64_t)home);
	return o;
}

/* ---- pools ------------------------------------------------------------------ */

static int m_pool_create(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *name = fq_rpc_str(params, "name", "");
	int64_t cs = fq_rpc_int(params, "cluster_size", 0);
	int64_t size = fq_rpc_int(params, "size", 0);
	struct fq_pool_info pi;
	char err[512];
	int rc;

	if (size % 4096)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "size",
				    "size must be a multiple of 4 KiB");
	if (cs && (cs < 4096 || cs > (1 << 20) || (cs & (cs - 1))))
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "cluster_size",
				    "cluster_size must be a power of two, 4K..1M");
	err[0] = '\0';
	rc = fq_pool_conf_create(name, fq_rpc_str(params, "path", ""), (uint64_t)size, (uint32_t)cs,
				 (int)fq_rpc_int(params, "reactor", -1), err, sizeof(err));
	if (rc == -ERANGE)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "reactor", "%s", err);
	if (rc == -EINVAL)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS,
				    strstr(err, "name") ? "name" : "path", "%s", err);
	if (rc)
		return fq_rpc_fail(call, rc, err);
	fq_pool_info(fq_pool_lookup(name), &pi);
	*result = pool_json(name, &pi);
	return 0;
}

struct list_ctx {
	const char *pool;
	json_object *arr;
	struct fq_rpc_call *call;
};

static int op_pool_info(struct vop *op)
{
	return fq_pool_info(op->pool, &op->pi);
}

static int m_pool_info(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_pool_info};
	const char *name = fq_rpc_str(params, "name", "");
	char msg[128];
	int rc;

	op.pool = fq_pool_lookup(name);
	if (!op.pool) {
		snprintf(msg, sizeof(msg), "no pool '%s'", name);
		return fq_rpc_fail(call, -ENOENT, msg);
	}
	rc = run(tgt(call), &op, false);
	if (rc)
		return vol_fail(call, rc, name, name, "pool");
	*result = pool_json(name, &op.pi);
	return 0;
}

/* Pools by name: the registry knows them, the configuration layer names them. */
static int pool_names(char names[][FQ_POOL_NAME_MAX], int max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	if (!f)
		return 0;
	fq_pool_conf_emit(f);
	fclose(f);
	for (char *p = buf; p && (p = strstr(p, "[pool \"")) && n < max; p++) {
		char *q = strchr(p + 7, '"');

		if (q && q - (p + 7) < FQ_POOL_NAME_MAX) {
			memcpy(names[n], p + 7, (size_t)(q - (p + 7)));
			names[n++][q - (p + 7)] = '\0';
		}
	}
	free(buf);
	return n;
}

static int m_pool_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	char names[FQ_POOL_REGISTRY_MAX][FQ_POOL_NAME_MAX];
	int n = pool_names(names, FQ_POOL_REGISTRY_MAX);

	(void)params;
	*result = json_object_new_array();
	for (int i = 0; i < n; i++) {
		struct vop op = {.fn = op_pool_info, .pool = fq_pool_lookup(names[i])};

		if (op.pool && run(tgt(call), &op, false) == 0)
			json_object_array_add(*result, pool_json(names[i], &op.pi));
	}
	return 0;
}

struct names {
	char (*v)[FQ_VOL_NAME_MAX];
	size_t n, cap;
};

static int collect(struct fq_vol *vol, void *arg)
{
	struct names *ns = arg;
	struct fq_vol_info vi;

	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		void *p = realloc(ns->v, cap * sizeof(*ns->v));

		if (!p)
			return -ENOMEM;
		ns->v = p;
		ns->cap = cap;
	}
	fq_vol_info(vol, &vi);
	memcpy(ns->v[ns->n++], vi.name, FQ_VOL_NAME_MAX);
	return 0;
}

static int op_names(struct vop *op)
{
	return fq_vol_list(op->pool, collect, op->out);
}

static int op_pool_delete(struct vop *op)
{
	/* Every vol bdev on it fails from now on: their namespaces may outlive it. */
	fq_vol_bdev_detach(op->pool, NULL);
	return 0;
}

static int m_pool_delete(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *name = fq_rpc_str(params, "name", "");
	struct names ns = {0};
	struct vop op = {.fn = op_names, .out = &ns};
	char err[256], msg[256];
	int rc;

	op.pool = fq_pool_lookup(name);
	if (!op.pool) {
		snprintf(msg, sizeof(msg), "no pool '%s'", name);
		return fq_rpc_fail(call, -ENOENT, msg);
	}
	rc = run(tgt(call), &op, false);
	if (!rc && ns.n && !fq_rpc_bool(params, "force", false)) {
		snprintf(msg, sizeof(msg), "pool '%s' holds %zu volume(s); force deletes it anyway",
			 name, ns.n);
		free(ns.v);
		return fq_rpc_fail(call, -EBUSY, msg);
	}
	for (size_t i = 0; !rc && i < ns.n; i++)
		unexport(tgt(call), name, ns.v[i]);
	free(ns.v);
	if (!rc) {
		op.fn = op_pool_delete;
		rc = run(tgt(call), &op, true);
	}
	if (rc)
		return vol_fail(call, rc, name, name, "pool");
	rc = fq_pool_conf_delete(name, err, sizeof(err));
	if (rc)
		return fq_rpc_fail(call, rc, err);
	*result = json_object_new_boolean(1);
	return 0;
}

/* ---- volumes ---------------------------------------------------------------- */

static int op_info(struct vop *op)
{
	struct fq_vol *v = fq_vol_find(op->pool, op->name);

	return v ? fq_vol_info(v, &op->vi) : -ENOENT;
}

static int op_create(struct vop *op)
{
	int rc = fq_vol_create(op->pool, op->name, op->size, op->flag);

	return rc ? rc : op_info(op);
}

static int op_delete(struct vop *op)
{
	struct fq_vol *v = fq_vol_find(op->pool, op->name);
	struct fq_vol_info vi;
	int rc;

	if (!v)
		return -ENOENT;
	/* The engine's refusals first, so a refused delete leaves the export alone. */
	fq_vol_info(v, &vi);
	if (vi.snapshots || (vi.snapshot && vi.dependants > 1))
		return -EBUSY;
	fq_vol_bdev_detach(op->pool, v);
	rc = fq_vol_delete(op->pool, op->name);
	return rc;
}

static int op_resize(struct vop *op)
{
	struct fq_vol *v = fq_vol_find(op->pool, op->name);
	int rc = fq_vol_resize(op->pool, op->name, op->size, op->flag);

	if (!rc && v)
		fq_vol_bdev_resized(op->pool, v);
	return rc ? rc : op_info(op);
}

static int detach_renamed(struct fq_vol *vol, void *arg)
{
	struct vop *op = arg;
	struct fq_vol_info vi;
	size_t n = strlen(op->name2);

	/* The volume and its snapshots, which follow its name. */
	if (!fq_vol_info(vol, &vi) && !strncmp(vi.name, op->name2, n) &&
	    (!vi.name[n] || vi.name[n] == '@'))
		fq_vol_bdev_detach(op->pool, vol);
	return 0;
}

static int op_rename(struct vop *op)
{
	int rc = fq_vol_rename(op->pool, op->name, op->name2);

	/* The namespaces on the old names go with their subsystems. */
	if (!rc)
		fq_vol_list(op->pool, detach_renamed, op);
	if (!rc) {
		op->name = op->name2;
		rc = op_info(op);
	}
	return rc;
}

static int op_snapshot(struct vop *op)
{
	int rc = fq_vol_snapshot(op->pool, op->name);

	return rc ? rc : op_info(op);
}

static int op_clone(struct vop *op)
{
	int rc = fq_vol_clone(op->pool, op->name, op->name2);

	if (rc)
		return rc;
	op->name = op->name2;
	return op_info(op);
}

static int op_rollback(struct vop *op)
{
	int rc = fq_vol_rollback(op->pool, op->name);
	struct fq_vol *v;

	if (rc)
		return rc;
	op->name = op->name2;
	/* The volume takes the snapshot's size back. */
	v = fq_vol_find(op->pool, op->name);
	if (v)
		fq_vol_bdev_resized(op->pool, v);
	return op_info(op);
}

static int op_flatten(struct vop *op)
{
	int rc = fq_vol_flatten(op->pool, op->name);

	return rc ? rc : op_info(op);
}

/* A volume's result, exported when @exp is set. */
static int vol_result(struct fq_rpc_call *call, const char *pool, struct vop *op, bool exp,
		      json_object **result)
{
	char err[512];
	int rc;

	if (exp) {
		rc = export(tgt(call), pool, &op->vi, err, sizeof(err));
		if (rc)
			return fq_rpc_fail(call, rc, err);
	}
	*result = vol_json(pool, &op->vi);
	return 0;
}

static int size_param(struct fq_rpc_call *call, struct fq_pool *p, int64_t size)
{
	struct fq_pool_info pi;

	fq_pool_info(p, &pi);
	if (size <= 0 || (uint64_t)size % pi.cluster_size)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "size",
				    "size must be a positive multiple of the pool's cluster size "
				    "(%u bytes)",
				    pi.cluster_size);
	if ((uint64_t)size / pi.cluster_size >
	    (uint64_t)FQ_VOL_OVERCOMMIT * pi.capacity / pi.cluster_size)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "size",
				    "size is more than %d times the pool's capacity",
				    FQ_VOL_OVERCOMMIT);
	return 0;
}

static int m_volume_create(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_create};
	const char *pool = fq_rpc_str(params, "pool", "");
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	if (!vol_name_ok(op.name, false))
		return bad_name(call, "name", false);
	op.size = (uint64_t)fq_rpc_int(params, "size", 0);
	if (size_param(call, op.pool, (int64_t)op.size))
		return FQ_RPC_INVALID_PARAMS;
	op.flag = fq_rpc_bool(params, "thick", false);
	rc = run(tgt(call), &op, true);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	rc = vol_result(call, pool, &op, true, result);
	if (rc) {
		/* Not exported: not created either. */
		op.fn = op_delete;
		run(tgt(call), &op, true);
	}
	return rc;
}

static int m_volume_info(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_info};
	const char *pool = fq_rpc_str(params, "pool", "");
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, false);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	*result = vol_json(pool, &op.vi);
	return 0;
}

static int list_pool(struct fq_rpc_call *call, const char *pool, json_object *arr)
{
	struct names ns = {0};
	struct vop op = {.fn = op_names, .out = &ns, .pool = fq_pool_lookup(pool)};
	int rc;

	if (!op.pool)
		return -ENOENT;
	rc = run(tgt(call), &op, false);
	for (size_t i = 0; !rc && i < ns.n; i++) {
		op.fn = op_info;
		op.name = ns.v[i];
		if (run(tgt(call), &op, false) == 0)
			json_object_array_add(arr, vol_json(pool, &op.vi));
	}
	free(ns.v);
	return rc;
}

static int m_volume_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *only = fq_rpc_str(params, "pool", NULL);
	char names[FQ_POOL_REGISTRY_MAX][FQ_POOL_NAME_MAX];
	char msg[128];
	int n, rc;

	*result = json_object_new_array();
	if (only) {
		rc = list_pool(call, only, *result);
		if (rc == -ENOENT) {
			snprintf(msg, sizeof(msg), "no pool '%s'", only);
			return fq_rpc_fail(call, rc, msg);
		}
		return rc ? fq_rpc_fail(call, rc, NULL) : 0;
	}
	n = pool_names(names, FQ_POOL_REGISTRY_MAX);
	for (int i = 0; i < n; i++)
		list_pool(call, names[i], *result);
	return 0;
}

static int m_volume_resize(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_info};
	const char *pool = fq_rpc_str(params, "pool", "");
	char nqn[256];
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	op.size = (uint64_t)fq_rpc_int(params, "size", 0);
	op.flag = fq_rpc_bool(params, "allow_shrink", false);
	if (size_param(call, op.pool, (int64_t)op.size))
		return FQ_RPC_INVALID_PARAMS;
	rc = run(tgt(call), &op, false);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	if (op.size < op.vi.size && !op.flag)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "size",
				    "size %llu is smaller than the volume (%llu bytes): shrinking "
				    "needs allow_shrink",
				    (unsigned long long)op.size, (unsigned long long)op.vi.size);
	op.fn = op_resize;
	rc = run(tgt(call), &op, true);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	fq_vol_nqn(nqn, sizeof(nqn), pool, op.name);
	/* Not exported (a volume of the configuration file): nothing to announce. */
	fq_target_live_ns_changed(tgt(call), nqn, 1);
	*result = vol_json(pool, &op.vi);
	return 0;
}

static int m_volume_rename(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_names};
	const char *pool = fq_rpc_str(params, "pool", "");
	char old[FQ_VOL_NAME_MAX], nn[2 * FQ_VOL_NAME_MAX], err[512];
	struct names ns = {0};
	size_t ol;
	bool snap;
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	op.name2 = fq_rpc_str(params, "new_name", "");
	snap = strchr(op.name, '@') != NULL;
	if (!vol_name_ok(op.name2, snap))
		return bad_name(call, "new_name", snap);
	if (snap && (strcspn(op.name, "@") != strcspn(op.name2, "@") ||
		     strncmp(op.name, op.name2, strcspn(op.name, "@"))))
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "new_name",
				    "a snapshot keeps its volume's name: expected %.*s@NEWSNAP",
				    (int)strcspn(op.name, "@"), op.name);
	snprintf(old, sizeof(old), "%s", op.name);
	ol = strlen(old);
	/* The names that change: the volume's and its snapshots'. */
	op.out = &ns;
	rc = run(tgt(call), &op, false);
	if (rc) {
		free(ns.v);
		return vol_fail(call, rc, pool, old, "volume");
	}
	op.fn = op_rename;
	rc = run(tgt(call), &op, true);
	if (rc) {
		free(ns.v);
		return vol_fail(call, rc, pool, rc == -EEXIST ? op.name2 : old, "volume");
	}
	for (size_t i = 0; i < ns.n; i++) {
		struct vop sop = {.fn = op_info, .pool = op.pool, .name = nn};

		if (strncmp(ns.v[i], old, ol) || (ns.v[i][ol] && (snap || ns.v[i][ol] != '@')))
			continue;
		unexport(tgt(call), pool, ns.v[i]);
		snprintf(nn, sizeof(nn), "%s%s", op.name2, ns.v[i] + ol);
		if (!strcmp(nn, op.name2))
			continue; /* the renamed one itself: below */
		if (run(tgt(call), &sop, false) == 0 &&
		    export(tgt(call), pool, &sop.vi, err, sizeof(err)))
			fq_warn("volume export: %s", err);
	}
	free(ns.v);
	return vol_result(call, pool, &op, true, result);
}

static int m_volume_delete(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_info};
	const char *pool = fq_rpc_str(params, "pool", "");
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, false);
	if (!rc && (op.vi.snapshots || (op.vi.snapshot && op.vi.dependants > 1)))
		rc = -EBUSY;
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	/* Hosts go first: the namespace fails its I/O once the volume is gone. */
	unexport(tgt(call), pool, op.name);
	op.fn = op_delete;
	rc = run(tgt(call), &op, true);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	*result = json_object_new_boolean(1);
	return 0;
}

static int m_volume_snapshot(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_snapshot};
	const char *pool = fq_rpc_str(params, "pool", "");
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	if (!vol_name_ok(op.name, true))
		return bad_name(call, "name", true);
	rc = run(tgt(call), &op, true);
	if (rc == -ENOENT) {
		char vol[FQ_VOL_NAME_MAX];

		snprintf(vol, sizeof(vol), "%.*s", (int)(strchr(op.name, '@') - op.name), op.name);
		return vol_fail(call, rc, pool, vol, "volume");
	}
	if (rc == -EEXIST) {
		char msg[256];

		snprintf(msg, sizeof(msg), "pool '%s' has a snapshot '%s' already", pool, op.name);
		return fq_rpc_fail(call, rc, msg);
	}
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	return vol_result(call, pool, &op, true, result);
}

static int m_volume_clone(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_clone};
	const char *pool = fq_rpc_str(params, "pool", "");
	char snap[FQ_VOL_NAME_MAX];
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "snapshot", "");
	op.name2 = fq_rpc_str(params, "name", "");
	if (!vol_name_ok(op.name, true))
		return bad_name(call, "snapshot", true);
	if (!vol_name_ok(op.name2, false))
		return bad_name(call, "name", false);
	snprintf(snap, sizeof(snap), "%s", op.name);
	rc = run(tgt(call), &op, true);
	if (rc == -EEXIST)
		return vol_fail(call, rc, pool, op.name2, "volume");
	if (rc)
		return vol_fail(call, rc, pool, snap, "snapshot");
	return vol_result(call, pool, &op, true, result);
}

static int m_volume_rollback(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_rollback};
	const char *pool = fq_rpc_str(params, "pool", "");
	char vol[FQ_VOL_NAME_MAX], msg[256];
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "snapshot", "");
	if (!vol_name_ok(op.name, true))
		return bad_name(call, "snapshot", true);
	snprintf(vol, sizeof(vol), "%.*s", (int)(strchr(op.name, '@') - op.name), op.name);
	op.name2 = vol;
	rc = run(tgt(call), &op, true);
	if (rc == -EINVAL) {
		snprintf(msg, sizeof(msg), "'%s' is not the latest snapshot of '%s'", op.name, vol);
		return fq_rpc_fail(call, rc, msg);
	}
	if (rc)
		return vol_fail(call, rc, pool, op.name, "snapshot");
	fq_vol_nqn(msg, sizeof(msg), pool, vol);
	fq_target_live_ns_changed(tgt(call), msg, 1);
	return vol_result(call, pool, &op, false, result);
}

static int m_volume_flatten(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_flatten};
	const char *pool = fq_rpc_str(params, "pool", "");
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, true);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	return vol_result(call, pool, &op, false, result);
}

/* ---- QoS and control ----------------------------------------------------- */

static int op_throttle(struct vop *op)
{
	/* The change is journaled like any other; the gate applies it on the next release. */
	int rc = fq_vol_set_qos(op->pool, op->name, &op->qos);

	return rc ? rc : op_info(op);
}

static int op_suspend(struct vop *op)
{
	int rc = fq_vol_suspend(op->pool, op->name);

	return rc ? rc : op_info(op);
}

static int op_resume(struct vop *op)
{
	int rc = fq_vol_resume(op->pool, op->name, (enum fq_vol_resume_mode)op->mode);

	return rc ? rc : op_info(op);
}

static const char *const qos_keys[] = {"read_iops", "write_iops", "read_bps", "write_bps",
				       "burst_ms"};

static int m_volume_throttle(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_info};
	const char *pool = fq_rpc_str(params, "pool", "");
	uint64_t *dst[] = {&op.qos.read_iops, &op.qos.write_iops, &op.qos.read_bps,
			   &op.qos.write_bps, NULL};
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, false);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	/* What is not given keeps its value. */
	op.qos = op.vi.qos;
	for (size_t i = 0; i < sizeof(qos_keys) / sizeof(qos_keys[0]); i++) {
		int64_t v = fq_rpc_int(params, qos_keys[i], -1);

		if (v < 0)
			continue;
		if (dst[i])
			*dst[i] = (uint64_t)v;
		else
			op.qos.burst_ms = (uint32_t)v;
	}
	op.fn = op_throttle;
	/* A metadata change (a journal record): with the pool's I/O drained like the others. */
	rc = run(tgt(call), &op, true);
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	*result = vol_json(pool, &op.vi);
	return 0;
}

static int m_volume_suspend(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct vop op = {.fn = op_suspend};
	const char *pool = fq_rpc_str(params, "pool", "");
	char msg[256];
	int rc = 0;

	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, false);
	if (rc == -EALREADY) {
		snprintf(msg, sizeof(msg), "volume '%s' is suspended already", op.name);
		return fq_rpc_fail(call, rc, msg);
	}
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	*result = vol_json(pool, &op.vi);
	return 0;
}

static int m_volume_resume(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	static const char *const modes[] = {"normal", "error", "discard"};
	struct vop op = {.fn = op_resume, .mode = -1};
	const char *pool = fq_rpc_str(params, "pool", "");
	const char *mode = fq_rpc_str(params, "mode", "normal");
	char msg[256];
	int rc = 0;

	for (int i = 0; i < 3; i++)
		if (!strcmp(mode, modes[i]))
			op.mode = i;
	if (op.mode < 0)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "mode",
				    "bad mode '%.64s': expected normal, error or discard", mode);
	if (!(op.pool = pool_of(call, params, &rc)))
		return rc;
	op.name = fq_rpc_str(params, "name", "");
	rc = run(tgt(call), &op, false);
	if (rc == -EALREADY) {
		snprintf(msg, sizeof(msg), "volume '%s' is not suspended", op.name);
		return fq_rpc_fail(call, rc, msg);
	}
	if (rc)
		return vol_fail(call, rc, pool, op.name, "volume");
	*result = vol_json(pool, &op.vi);
	return 0;
}

/* ---- at start --------------------------------------------------------------- */

int fq_mgmt_export_volumes(struct fq_target *t)
{
	char names[FQ_POOL_REGISTRY_MAX][FQ_POOL_NAME_MAX], err[512];
	int n = pool_names(names, FQ_POOL_REGISTRY_MAX), exported = 0;

	for (int i = 0; i < n; i++) {
		struct names ns = {0};
		struct vop op = {.fn = op_names, .out = &ns, .pool = fq_pool_lookup(names[i])};

		if (!op.pool || run(t, &op, false))
			continue;
		for (size_t k = 0; k < ns.n; k++) {
			int rc;

			op.fn = op_info;
			op.name = ns.v[k];
			if (run(t, &op, false))
				continue;
			rc = export(t, names[i], &op.vi, err, sizeof(err));
			if (!rc)
				exported++;
			else if (rc != -EEXIST)
				fq_warn("volume export: %s", err);
		}
		free(ns.v);
	}
	return exported;
}

/*
 * A change that succeeded is saved like any other (fq_mgmt_persist): the
 * pool sections (fq_pool_conf_emit) and the volumes' subsystems go into
 * fabriqd's state file, so a pool created here is opened again at the next
 * start and its volumes keep the hosts they were restricted to.
 */
#define SAVED(fn)                                                                                  \
	static int fn##_saved(struct fq_rpc_call *call, json_object *params, json_object **result) \
	{                                                                                          \
		int rc = fn(call, params, result);                                                 \
		if (rc)                                                                            \
			return rc;                                                                 \
		rc = fq_mgmt_persist(call);                                                        \
		if (rc) {                                                                          \
			json_object_put(*result);                                                  \
			*result = NULL;                                                            \
		}                                                                                  \
		return rc;                                                                         \
	}

SAVED(m_pool_create)
SAVED(m_pool_delete)
SAVED(m_volume_create)
SAVED(m_volume_resize)
SAVED(m_volume_rename)
SAVED(m_volume_delete)
SAVED(m_volume_snapshot)
SAVED(m_volume_clone)
SAVED(m_volume_rollback)
SAVED(m_volume_flatten)
/* The limits live in the pool; saving keeps the state file's export list current too. */
SAVED(m_volume_throttle)

/* ---- the table entries ------------------------------------------------------ */

#define END_P                                                                                      \
	{                                                                                          \
		NULL, 0, false, NULL, 0, 0                                                         \
	}
#define POOL_P                                                                                     \
	{                                                                                          \
		"pool", FQ_RPC_STRING, true, "pool name", 0, 0                                     \
	}
#define VOL_P(d)                                                                                   \
	{                                                                                          \
		"name", FQ_RPC_STRING, true, d, 0, 0                                               \
	}
#define SIZE_MAX_P ((int64_t)1 << 62)

static const struct fq_rpc_param no_params[] = {END_P};
static const struct fq_rpc_param pool_create_params[] = {
	{"name", FQ_RPC_STRING, true, "pool name: letters, digits, '-', '_', '.'", 0, 0},
	{"path", FQ_RPC_STRING, true, "absolute path of the file or block device", 0, 0},
	{"size", FQ_RPC_INT, false, "bytes: create the file with this size (default: as it is)", 0,
	 SIZE_MAX_P},
	{"cluster_size", FQ_RPC_INT, false, "bytes, a power of two 4K..1M (default 1M)", 0,
	 1 << 20},
	{"reactor", FQ_RPC_INT, false,
	 "home reactor, below the target's reactors (default: the one with the fewest pools)", 0,
	 FQ_VOL_MAX_HOMES - 1},
	END_P,
};
static const struct fq_rpc_param pool_name_params[] = {
	{"name", FQ_RPC_STRING, true, "pool name", 0, 0},
	END_P,
};
static const struct fq_rpc_param pool_delete_params[] = {
	{"name", FQ_RPC_STRING, true, "pool name", 0, 0},
	{"force", FQ_RPC_BOOL, false, "delete even when it holds volumes", 0, 0},
	END_P,
};
static const struct fq_rpc_param vol_create_params[] = {
	POOL_P,
	VOL_P("volume name"),
	{"size", FQ_RPC_INT, true, "bytes, a multiple of the pool's cluster size", 1, SIZE_MAX_P},
	{"thick", FQ_RPC_BOOL, false, "allocate every cluster now", 0, 0},
	END_P,
};
static const struct fq_rpc_param vol_list_params[] = {
	{"pool", FQ_RPC_STRING, false, "only this pool's volumes", 0, 0},
	END_P,
};
static const struct fq_rpc_param vol_params[] = {POOL_P, VOL_P("volume (or VOLUME@SNAPSHOT)"),
						 END_P};
static const struct fq_rpc_param vol_resize_params[] = {
	POOL_P,
	VOL_P("volume name"),
	{"size", FQ_RPC_INT, true, "new size in bytes, a multiple of the cluster size", 1,
	 SIZE_MAX_P},
	{"allow_shrink", FQ_RPC_BOOL, false, "allow a size below the current one", 0, 0},
	END_P,
};
static const struct fq_rpc_param vol_rename_params[] = {
	POOL_P,
	VOL_P("volume name"),
	{"new_name", FQ_RPC_STRING, true, "its new name", 0, 0},
	END_P,
};
static const struct fq_rpc_param vol_snapshot_params[] = {POOL_P, VOL_P("VOLUME@SNAPSHOT"), END_P};
static const struct fq_rpc_param vol_clone_params[] = {
	POOL_P,
	{"snapshot", FQ_RPC_STRING, true, "VOLUME@SNAPSHOT to clone", 0, 0},
	VOL_P("name of the new volume"),
	END_P,
};
static const struct fq_rpc_param vol_rollback_params[] = {
	POOL_P,
	{"snapshot", FQ_RPC_STRING, true, "VOLUME@SNAPSHOT, the volume's latest snapshot", 0, 0},
	END_P,
};

#define QOS_MAX_BPS ((int64_t)1 << 62)
static const struct fq_rpc_param vol_throttle_params[] = {
	POOL_P,
	VOL_P("volume (or VOLUME@SNAPSHOT)"),
	{"read_iops", FQ_RPC_INT, false, "reads per second, 0 = no limit (default: keep)", 0,
	 FQ_VOL_QOS_MAX_IOPS},
	{"write_iops", FQ_RPC_INT, false,
	 "writes, write zeroes and deallocates per second, 0 = no limit (default: keep)", 0,
	 FQ_VOL_QOS_MAX_IOPS},
	{"read_bps", FQ_RPC_INT, false, "bytes read per second, 0 = no limit (default: keep)", 0,
	 QOS_MAX_BPS},
	{"write_bps", FQ_RPC_INT, false, "bytes written per second, 0 = no limit (default: keep)",
	 0, QOS_MAX_BPS},
	{"burst_ms", FQ_RPC_INT, false,
	 "milliseconds of the rate that may pass at once after an idle spell, 1..10000, 0 = the "
	 "default 100 (default: keep)",
	 0, FQ_VOL_QOS_MAX_BURST_MS},
	END_P,
};
static const struct fq_rpc_param vol_resume_params[] = {
	POOL_P,
	VOL_P("volume (or VOLUME@SNAPSHOT)"),
	{"mode", FQ_RPC_STRING, false,
	 "what happens to the held I/O: normal (goes on), error (fails), discard (succeeds "
	 "undone, reads give zeroes); default normal",
	 0, 0},
	END_P,
};

const struct fq_rpc_method fq_mgmt_vol_methods[] = {
	{"pool_create", "Format a file or device as a pool and open it", m_pool_create_saved,
	 pool_create_params},
	{"pool_list", "List the open pools with capacity and allocation", m_pool_list, no_params},
	{"pool_info", "Capacity, allocation, free space, volumes and cluster size of a pool",
	 m_pool_info, pool_name_params},
	{"pool_delete", "Close a pool and unexport its volumes (refused while it has volumes)",
	 m_pool_delete_saved, pool_delete_params},
	{"volume_create", "Create a thin (or thick) volume and export it", m_volume_create_saved,
	 vol_create_params},
	{"volume_list", "List volumes and snapshots", m_volume_list, vol_list_params},
	{"volume_info", "Size, allocation, parent, snapshots and state of a volume", m_volume_info,
	 vol_params},
	{"volume_resize", "Grow a volume (shrink with allow_shrink); hosts get an event",
	 m_volume_resize_saved, vol_resize_params},
	{"volume_rename", "Rename a volume (its subsystem NQN follows)", m_volume_rename_saved,
	 vol_rename_params},
	{"volume_delete", "Delete a volume or snapshot and its export", m_volume_delete_saved,
	 vol_params},
	{"volume_snapshot", "Take a read-only snapshot VOLUME@SNAPSHOT and export it",
	 m_volume_snapshot_saved, vol_snapshot_params},
	{"volume_clone", "Create a writable thin clone of a snapshot and export it",
	 m_volume_clone_saved, vol_clone_params},
	{"volume_rollback", "Return a volume to its latest snapshot", m_volume_rollback_saved,
	 vol_rollback_params},
	{"volume_flatten", "Copy a clone's shared clusters so it stands alone",
	 m_volume_flatten_saved, vol_params},
	{"volume_throttle",
	 "Set a volume's rate limits (IOPS and bytes per second, per direction); kept in the pool",
	 m_volume_throttle_saved, vol_throttle_params},
	{"volume_suspend",
	 "Hold a volume's new I/O until volume_resume (not kept across a restart)",
	 m_volume_suspend, vol_params},
	{"volume_resume", "Release a suspended volume's held I/O: normal, error or discard",
	 m_volume_resume, vol_resume_params},
	{NULL, NULL, NULL, NULL},
};
