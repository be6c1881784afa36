/* SPDX-License-Identifier: MIT */
/*
 * The bdev methods of the management socket (docs/rpc.md). A stack
 * ("delay:read_us=200+qos:read_iops=1000+file:/srv/a.img") is opened by
 * ns_add for its namespace, or on its own under a name by bdev_create, for
 * a namespace to serve as "bdev:NAME". A namespace's stack is named by
 * subsystem NQN and NSID and a layer in it by module name (plus an index
 * when a module is stacked twice). bdev_list shows the stacks and the
 * named bdevs; bdev_set_params and the qos methods turn the knobs of
 * stacked modules while I/O runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt.h"

static struct fq_target *tgt(struct fq_rpc_call *call)
{
	return ((struct fq_mgmt_ctx *)fq_rpc_ctx(call))->t;
}

static json_object *stack_json(const struct fq_target *t, int si, uint32_t ni)
{
	struct fq_target_bdev_layer l;
	json_object *a = json_object_new_array();

	for (int i = 0; fq_target_get_bdev_layer(t, si, ni, i, &l) == 0; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "module", json_object_new_string(l.module));
		json_object_object_add(o, "name", json_object_new_string(l.name));
		if (l.params[0])
			json_object_object_add(o, "params", json_object_new_string(l.params));
		json_object_array_add(a, o);
	}
	return a;
}

/* The named bdevs, used or not, after the namespaces' stacks. */
static int named_bdevs(struct fq_rpc_call *call, json_object *arr)
{
	struct fq_target_bdev_info *b = malloc(sizeof(*b));

	if (!b)
		return fq_rpc_fail(call, -ENOMEM, "out of memory");
	for (int i = 0; fq_target_get_bdev(tgt(call), i, b) == 0; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(b->name));
		json_object_object_add(o, "named", json_object_new_boolean(1));
		json_object_object_add(o, "spec", json_object_new_string(b->spec));
		json_object_object_add(o, "nqn", b->nqn[0] ? json_object_new_string(b->nqn) : NULL);
		json_object_object_add(o, "nsid", b->nsid ? json_object_new_int64(b->nsid) : NULL);
		json_object_object_add(o, "num_blocks",
				       json_object_new_int64((int64_t)b->num_blocks));
		json_object_object_add(o, "block_size", json_object_new_int64(b->block_size));
		json_object_array_add(arr, o);
	}
	free(b);
	return 0;
}

static int m_bdev_create(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	int rc = fq_target_live_create_bdev(tgt(call), fq_rpc_str(params, "name", ""),
					    fq_rpc_str(params, "bdev", ""));

	return fq_mgmt_done(
		call, rc,
		strncmp(fq_target_last_error(tgt(call)), "bdev name", 9) ? "bdev" : "name", result);
}

static int m_bdev_delete(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_delete_bdev(tgt(call), fq_rpc_str(params, "name", "")),
			    "name", result);
}

static int m_bdev_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *only = fq_rpc_str(params, "nqn", NULL);
	struct fq_target_subsys_info info;
	struct fq_target_ns_info ns;

	*result = json_object_new_array();
	for (int i = 0; fq_target_get_subsystem(tgt(call), i, &info) == 0; i++) {
		if (only && strcmp(only, info.nqn))
			continue;
		for (uint32_t n = 0; fq_target_get_ns(tgt(call), i, n, &ns) == 0; n++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(ns.name));
			json_object_object_add(o, "nqn", json_object_new_string(info.nqn));
			json_object_object_add(o, "nsid", json_object_new_int64(ns.nsid));
			json_object_object_add(o, "num_blocks",
					       json_object_new_int64((int64_t)ns.num_blocks));
			json_object_object_add(o, "block_size",
					       json_object_new_int64(ns.block_size));
			json_object_object_add(o, "stack", stack_json(tgt(call), i, n));
			json_object_array_add(*result, o);
		}
	}
	return only ? 0 : named_bdevs(call, *result);
}

/*
 * {"read_us": 500, "write_us": "0"} as the spec text "read_us=500,write_us=0":
 * the module's own parser then checks names and values.
 */
static int params_text(struct fq_rpc_call *call, json_object *obj, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	json_object_object_foreach(obj, key, val)
	{
		const char *v;
		int n;

		if (!json_object_is_type(val, json_type_int) &&
		    !json_object_is_type(val, json_type_string))
			return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "params",
					    "params.%s must be an integer or a string", key);
		v = json_object_get_string(val);
		if (strpbrk(key, ",=+") || strpbrk(v, ",=+"))
			return fq_rpc_error(
				call, FQ_RPC_INVALID_PARAMS, "params",
				"params.%s: names and values cannot hold ',', '=' or '+'", key);
		n = snprintf(buf + off, len - off, "%s%s=%s", off ? "," : "", key, v);
		if (n < 0 || (size_t)n >= len - off)
			return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "params",
					    "params too long");
		off += (size_t)n;
	}
	if (!off)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "params",
				    "params must name at least one parameter");
	return 0;
}

/* -EINVAL from a bad key or value is the params' fault; ENOENT/ENOTSUP are -32000. */
static int m_bdev_set_params(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	json_object *obj = NULL;
	char kv[1024];
	int rc;

	json_object_object_get_ex(params, "params", &obj);
	rc = params_text(call, obj, kv, sizeof(kv));
	if (rc)
		return rc;
	rc = fq_target_live_set_bdev_params(
		tgt(call), fq_rpc_str(params, "nqn", ""), (uint32_t)fq_rpc_int(params, "nsid", 0),
		fq_rpc_str(params, "module", ""), (int)fq_rpc_int(params, "index", 0), kv);
	return fq_mgmt_done(call, rc, "params", result);
}

static int m_qos_suspend(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	int rc = fq_target_live_qos_suspend(tgt(call), fq_rpc_str(params, "nqn", ""),
					    (uint32_t)fq_rpc_int(params, "nsid", 0),
					    (int)fq_rpc_int(params, "index", 0));

	/* Not configuration: a suspension does not outlive the daemon. */
	if (rc)
		return fq_mgmt_target_fail(call, rc, NULL);
	*result = json_object_new_boolean(1);
	return 0;
}

static int m_qos_resume(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	static const char *const modes[] = {"normal", "error", "discard"};
	const char *mode = fq_rpc_str(params, "mode", "normal");
	int m, rc;

	for (m = 0; m < 3; m++)
		if (!strcmp(mode, modes[m]))
			break;
	if (m == 3)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "mode",
				    "mode '%s' is not normal, error or discard", mode);
	rc = fq_target_live_qos_resume(
		tgt(call), fq_rpc_str(params, "nqn", ""), (uint32_t)fq_rpc_int(params, "nsid", 0),
		(int)fq_rpc_int(params, "index", 0), (enum fq_target_qos_resume)m);
	if (rc)
		return fq_mgmt_target_fail(call, rc, NULL);
	*result = json_object_new_boolean(1);
	return 0;
}

#define NQN_P                                                                                      \
	{                                                                                          \
		"nqn", FQ_RPC_STRING, true, "subsystem NQN", 0, 0                                  \
	}
#define NSID_P                                                                                     \
	{                                                                                          \
		"nsid", FQ_RPC_INT, true, "namespace ID", 1, 1024                                  \
	}
#define INDEX_P                                                                                    \
	{                                                                                          \
		"index", FQ_RPC_INT, false,                                                        \
			"which layer of that module, 0 (default) the top-most", 0, 3               \
	}
#define END_P                                                                                      \
	{                                                                                          \
		NULL, 0, false, NULL, 0, 0                                                         \
	}

static const struct fq_rpc_param list_params[] = {
	{"nqn", FQ_RPC_STRING, false, "subsystem NQN (default: every subsystem)", 0, 0},
	END_P,
};
static const struct fq_rpc_param create_params[] = {
	{"name", FQ_RPC_STRING, true, "the bdev's name: 1..31 letters, digits, '-', '_' or '.'", 0,
	 0},
	{"bdev", FQ_RPC_STRING, true,
	 "its stack, a spec as fabriqd --ns takes it without nsid, uuid, nguid (docs/bdev.md)", 0,
	 0},
	END_P,
};
static const struct fq_rpc_param name_params[] = {
	{"name", FQ_RPC_STRING, true, "the bdev's name", 0, 0},
	END_P,
};
static const struct fq_rpc_param set_params[] = {
	NQN_P,
	NSID_P,
	{"module", FQ_RPC_STRING, true, "the layer's module: delay, qos or error", 0, 0},
	INDEX_P,
	{"params", FQ_RPC_OBJECT, true,
	 "parameters to change, by name (delay: read_us, write_us; qos: read_iops, write_iops, "
	 "read_bps, write_bps, burst_ms; error: op, lba, count, percent, action, sct, sc, dnr, "
	 "tear)",
	 0, 0},
	END_P,
};
static const struct fq_rpc_param suspend_params[] = {NQN_P, NSID_P, INDEX_P, END_P};
static const struct fq_rpc_param resume_params[] = {
	NQN_P,
	NSID_P,
	INDEX_P,
	{"mode", FQ_RPC_STRING, false,
	 "held I/O: normal (goes on, default), error (fails) or discard (succeeds unstored)", 0, 0},
	END_P,
};

const struct fq_rpc_method fq_mgmt_bdev_methods[] = {
	{"bdev_list", "List the bdev stacks under the namespaces, then the named bdevs",
	 m_bdev_list, list_params},
	{"bdev_create", "Open a named bdev that ns_add can then use as bdev:NAME", m_bdev_create,
	 create_params},
	{"bdev_delete", "Close a named bdev no namespace uses", m_bdev_delete, name_params},
	{"bdev_set_params",
	 "Change run-time parameters of a stacked layer (delay, qos, error) live",
	 m_bdev_set_params, set_params},
	{"bdev_qos_suspend", "Hold every new I/O of a namespace in its qos layer", m_qos_suspend,
	 suspend_params},
	{"bdev_qos_resume", "Release the I/O a qos layer holds", m_qos_resume, resume_params},
	{NULL, NULL, NULL, NULL},
};
