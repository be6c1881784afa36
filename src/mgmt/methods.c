/* SPDX-License-Identifier: MIT */
/*
 * The management methods (docs/rpc.md): each checks nothing the schema
 * already checked, calls the target API and shapes its answer as JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt.h"

#define NQN_P(req)                                                                                 \
	{                                                                                          \
		"nqn", FQ_RPC_STRING, req, "subsystem NQN", 0, 0                                   \
	}
#define END_P                                                                                      \
	{                                                                                          \
		NULL, 0, false, NULL, 0, 0                                                         \
	}

static struct fq_target *tgt(struct fq_rpc_call *call)
{
	return ((struct fq_mgmt_ctx *)fq_rpc_ctx(call))->t;
}

/*
 * A failed target call: a bad value is a parameter error naming @param
 * (JSON-RPC -32602); anything else (no such object, a duplicate, a limit,
 * an I/O error) is -32000 with the errno value.
 */
int fq_mgmt_target_fail(struct fq_rpc_call *call, int rc, const char *param)
{
	const char *msg = fq_target_last_error(tgt(call));

	if (rc == -EINVAL && param)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, param, "%s",
				    msg[0] ? msg : "invalid value");
	return fq_rpc_fail(call, rc, msg);
}

/*
 * After a change succeeded: save the state, if fabriqd keeps one. A change
 * that could not be saved is live but would not survive a restart; the
 * caller hears of it as a failure naming the file.
 */
int fq_mgmt_persist(struct fq_rpc_call *call)
{
	struct fq_mgmt_ctx *ctx = fq_rpc_ctx(call);
	int rc;

	if (!ctx->state[0])
		return 0;
	rc = fq_target_save_state(ctx->t, ctx->state);
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "the change was made but not saved: %s",
			 fq_target_last_error(ctx->t));
		return fq_rpc_fail(call, rc, msg);
	}
	return 0;
}

int fq_mgmt_done(struct fq_rpc_call *call, int rc, const char *param, json_object **result)
{
	if (rc)
		return fq_mgmt_target_fail(call, rc, param);
	rc = fq_mgmt_persist(call);
	if (rc)
		return rc;
	*result = json_object_new_boolean(1);
	return 0;
}

static void fmt_listen(char *buf, size_t len, const struct fq_target_port_info *p)
{
	snprintf(buf, len, strchr(p->addr, ':') ? "[%s]:%u" : "%s:%u", p->addr, p->port);
}

/* ---- introspection ----------------------------------------------------- */

static int m_rpc_methods(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	(void)params;
	*result = fq_rpc_describe(fq_rpc_tab(call));
	return 0;
}

static int m_get_version(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct fq_mgmt_ctx *ctx = fq_rpc_ctx(call);

	(void)params;
	*result = json_object_new_object();
	json_object_object_add(*result, "version", json_object_new_string(ctx->version));
	json_object_object_add(*result, "reactors",
			       json_object_new_int(fq_target_get_num_reactors(ctx->t)));
	return 0;
}

/*
 * The latency below which @q of the commands in histogram @b fell, in
 * microseconds: linear within the bucket it lands in (bucket i spans
 * 2^(i-1)..2^i us; the last is open, reported at its lower bound).
 */
static double quantile_us(const uint64_t *b, double q)
{
	uint64_t total = 0, cum = 0;

	for (int i = 0; i < FQ_TARGET_LAT_BUCKETS; i++)
		total += b[i];
	if (!total)
		return 0;
	for (int i = 0; i < FQ_TARGET_LAT_BUCKETS; i++) {
		double lo = i ? (double)(1ull << (i - 1)) : 0, hi = (double)(1ull << i);

		if (b[i] && (double)(cum + b[i]) >= q * (double)total) {
			if (i == FQ_TARGET_LAT_BUCKETS - 1)
				return lo;
			return lo + (hi - lo) * (q * (double)total - (double)cum) / (double)b[i];
		}
		cum += b[i];
	}
	return (double)(1ull << (FQ_TARGET_LAT_BUCKETS - 2));
}

/* mean and p99 in microseconds, and the raw buckets for interval maths (fabriq stats). */
static json_object *latency_json(const uint64_t *b, uint64_t sum_ns)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	uint64_t n = 0;

	for (int i = 0; i < FQ_TARGET_LAT_BUCKETS; i++) {
		n += b[i];
		json_object_array_add(a, json_object_new_int64((int64_t)b[i]));
	}
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "sum_ns", json_object_new_int64((int64_t)sum_ns));
	json_object_object_add(o, "mean_us",
			       json_object_new_double(n ? (double)sum_ns / 1000.0 / (double)n : 0));
	json_object_object_add(o, "p99_us", json_object_new_double(quantile_us(b, 0.99)));
	json_object_object_add(o, "buckets", a);
	return o;
}

static json_object *ns_json(const struct fq_target *t, int si, uint32_t ni, bool stats)
{
	struct fq_target_ns_latency lat;
	struct fq_target_ns_info info;
	struct fq_target_ns_stats st;
	json_object *o;

	if (fq_target_get_ns(t, si, ni, &info))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "nsid", json_object_new_int64(info.nsid));
	json_object_object_add(o, "bdev", json_object_new_string(info.name));
	if (!stats) {
		json_object_object_add(o, "num_blocks",
				       json_object_new_int64((int64_t)info.num_blocks));
		json_object_object_add(o, "block_size", json_object_new_int64(info.block_size));
		return o;
	}
	if (fq_target_get_ns_stats(t, si, ni, &st) == 0) {
		json_object_object_add(o, "read_ops", json_object_new_int64((int64_t)st.reads));
		json_object_object_add(o, "write_ops", json_object_new_int64((int64_t)st.writes));
		json_object_object_add(o, "bytes_read",
				       json_object_new_int64((int64_t)st.bytes_read));
		json_object_object_add(o, "bytes_written",
				       json_object_new_int64((int64_t)st.bytes_written));
		json_object_object_add(o, "errors", json_object_new_int64((int64_t)st.errors));
	}
	if (fq_target_get_ns_latency(t, si, ni, &lat) == 0) {
		static const char *const types[] = {"generic", "command_specific", "media",
						    "other"};
		json_object *e = json_object_new_object();

		for (int i = 0; i < 4; i++)
			json_object_object_add(
				e, types[i], json_object_new_int64((int64_t)lat.errors_by_type[i]));
		json_object_object_add(o, "errors_by_status_type", e);
		json_object_object_add(o, "read_latency", latency_json(lat.read, lat.read_sum_ns));
		json_object_object_add(o, "write_latency",
				       latency_json(lat.write, lat.write_sum_ns));
	}
	return o;
}

static json_object *subsys_json(const struct fq_target *t, int si,
				const struct fq_target_subsys_info *info)
{
	struct fq_target_subsys_detail d;
	struct fq_target_port_info pi;
	json_object *o = json_object_new_object(), *a;
	char buf[FQ_TARGET_NQN_LEN + 1];

	json_object_object_add(o, "nqn", json_object_new_string(info->nqn));
	if (fq_target_get_subsystem_detail(t, si, &d) == 0) {
		json_object_object_add(o, "serial_number", json_object_new_string(d.serial));
		json_object_object_add(o, "model_number", json_object_new_string(d.model));
	}
	json_object_object_add(o, "allow_any_host", json_object_new_boolean(info->allow_any_host));
	a = json_object_new_array();
	for (int h = 0; fq_target_get_host(t, si, h, buf) == 0; h++)
		json_object_array_add(a, json_object_new_string(buf));
	json_object_object_add(o, "hosts", a);
	a = json_object_new_array();
	for (int p = 0; fq_target_get_port(t, p, &pi) == 0; p++) {
		if (p < 32 && (d.ports & (1u << p))) {
			fmt_listen(buf, sizeof(buf), &pi);
			json_object_array_add(a, json_object_new_string(buf));
		}
	}
	json_object_object_add(o, "listeners", a);
	a = json_object_new_array();
	for (uint32_t n = 0; n < info->num_ns + 64; n++) {
		json_object *ns = ns_json(t, si, n, false);

		if (!ns)
			break;
		json_object_array_add(a, ns);
	}
	json_object_object_add(o, "namespaces", a);
	return o;
}

/*
 * Subsystems, optionally only @nqn (-32000 ENOENT if there is none), each
 * made by @fn.
 */
static int each_subsys(struct fq_rpc_call *call, json_object *params, json_object **result,
		       json_object *(*fn)(const struct fq_target *t, int si,
					  const struct fq_target_subsys_info *info))
{
	const char *only = fq_rpc_str(params, "nqn", NULL);
	struct fq_target_subsys_info info;
	bool found = false;

	*result = json_object_new_array();
	for (int i = 0; fq_target_get_subsystem(tgt(call), i, &info) == 0; i++) {
		if (only && strcmp(only, info.nqn))
			continue;
		json_object_array_add(*result, fn(tgt(call), i, &info));
		found = true;
	}
	if (only && !found) {
		char msg[FQ_TARGET_NQN_LEN + 32];

		snprintf(msg, sizeof(msg), "no subsystem %s", only);
		return fq_rpc_fail(call, -ENOENT, msg);
	}
	return 0;
}

static int m_subsystem_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return each_subsys(call, params, result, subsys_json);
}

static json_object *iostat_json(const struct fq_target *t, int si,
				const struct fq_target_subsys_info *info)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "nqn", json_object_new_string(info->nqn));
	for (uint32_t n = 0; n < info->num_ns + 64; n++) {
		json_object *ns = ns_json(t, si, n, true);

		if (!ns)
			break;
		json_object_array_add(a, ns);
	}
	json_object_object_add(o, "namespaces", a);
	return o;
}

static int m_iostat(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return each_subsys(call, params, result, iostat_json);
}

static int m_controller_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *only = fq_rpc_str(params, "nqn", NULL);
	struct fq_target_ctrl_info c;

	*result = json_object_new_array();
	for (int i = 0; fq_target_get_controller(tgt(call), i, &c) == 0; i++) {
		json_object *o;

		if (only && strcmp(only, c.subnqn))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "cntlid", json_object_new_int(c.cntlid));
		json_object_object_add(o, "nqn", json_object_new_string(c.subnqn));
		json_object_object_add(o, "hostnqn", json_object_new_string(c.hostnqn));
		json_object_object_add(o, "address", json_object_new_string(c.addr));
		json_object_object_add(o, "port", json_object_new_string(c.port_name));
		json_object_object_add(o, "io_queues", json_object_new_int64(c.io_queues));
		json_object_object_add(o, "queue_depth", json_object_new_int64(c.queue_depth));
		json_object_object_add(o, "kato_ms", json_object_new_int64(c.kato_ms));
		json_object_object_add(o, "hdgst", json_object_new_boolean(c.hdgst));
		json_object_object_add(o, "ddgst", json_object_new_boolean(c.ddgst));
		json_object_array_add(*result, o);
	}
	return 0;
}

/* ---- changes ------------------------------------------------------------- */

static int m_subsystem_create(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	int rc = fq_target_live_create_subsystem(tgt(call), fq_rpc_str(params, "nqn", ""),
						 fq_rpc_str(params, "serial_number", NULL),
						 fq_rpc_str(params, "model_number", NULL),
						 fq_rpc_bool(params, "allow_any_host", true));
	const char *msg = fq_target_last_error(tgt(call));
	const char *param = "nqn";

	/* Which value was bad: the NQN, unless the message names serial or model. */
	if (!strncmp(msg, "model", 5) ||
	    (strstr(msg, "serial/model") && !fq_rpc_str(params, "serial_number", NULL)))
		param = "model_number";
	else if (!strncmp(msg, "serial", 6) || strstr(msg, "serial/model"))
		param = "serial_number";
	return fq_mgmt_done(call, rc, param, result);
}

static int m_subsystem_delete(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(
		call, fq_target_live_delete_subsystem(tgt(call), fq_rpc_str(params, "nqn", "")),
		"nqn", result);
}

static int m_add_host(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_add_host(tgt(call), fq_rpc_str(params, "nqn", ""),
						    fq_rpc_str(params, "host", "")),
			    "host", result);
}

static int m_remove_host(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_remove_host(tgt(call), fq_rpc_str(params, "nqn", ""),
						       fq_rpc_str(params, "host", "")),
			    "host", result);
}

static int m_allow_any_host(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_allow_any_host(tgt(call), fq_rpc_str(params, "nqn", ""),
							  fq_rpc_bool(params, "allow", true)),
			    "allow", result);
}

static int m_ns_add(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	uint32_t nsid = 0;
	int rc = fq_target_live_add_ns(tgt(call), fq_rpc_str(params, "nqn", ""),
				       fq_rpc_str(params, "bdev", ""),
				       (uint32_t)fq_rpc_int(params, "nsid", 0), &nsid);

	if (rc)
		return fq_mgmt_target_fail(
			call, rc,
			strstr(fq_target_last_error(tgt(call)), "nsid") ? "nsid" : "bdev");
	rc = fq_mgmt_persist(call);
	if (rc)
		return rc;
	*result = json_object_new_int64(nsid);
	return 0;
}

static int m_ns_remove(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_remove_ns(tgt(call), fq_rpc_str(params, "nqn", ""),
						     (uint32_t)fq_rpc_int(params, "nsid", 0)),
			    "nsid", result);
}

static int m_listener_add(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_add_listener(tgt(call), fq_rpc_str(params, "nqn", ""),
							fq_rpc_str(params, "address", "")),
			    "address", result);
}

static int m_listener_remove(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(call,
			    fq_target_live_remove_listener(tgt(call), fq_rpc_str(params, "nqn", ""),
							   fq_rpc_str(params, "address", "")),
			    "address", result);
}

static int m_referral_add(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	const char *nqn = fq_rpc_str(params, "nqn", NULL);
	int rc = fq_target_live_add_referral(tgt(call), fq_rpc_str(params, "address", ""), nqn);

	return fq_mgmt_done(call, rc,
			    strstr(fq_target_last_error(tgt(call)), "NQN") ? "nqn" : "address",
			    result);
}

static int m_referral_remove(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	return fq_mgmt_done(
		call, fq_target_live_remove_referral(tgt(call), fq_rpc_str(params, "address", "")),
		"address", result);
}

static int m_referral_list(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	struct fq_target_referral_info r;
	char buf[96];

	(void)params;
	*result = json_object_new_array();
	for (int i = 0; fq_target_get_referral(tgt(call), i, &r) == 0; i++) {
		json_object *o = json_object_new_object();

		snprintf(buf, sizeof(buf), strchr(r.addr, ':') ? "[%s]:%u" : "%s:%u", r.addr,
			 r.port);
		json_object_object_add(o, "address", json_object_new_string(buf));
		json_object_object_add(o, "nqn", json_object_new_string(r.nqn));
		json_object_array_add(*result, o);
	}
	return 0;
}

static int m_controller_disconnect(struct fq_rpc_call *call, json_object *params,
				   json_object **result)
{
	int rc = fq_target_live_disconnect(tgt(call), (uint16_t)fq_rpc_int(params, "cntlid", 0));

	/* Not a configuration change: nothing to save. */
	if (rc)
		return fq_mgmt_target_fail(call, rc, "cntlid");
	*result = json_object_new_boolean(1);
	return 0;
}

static int m_config_dump(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	(void)params;
	if (!f)
		return fq_rpc_fail(call, -ENOMEM, "out of memory");
	rc = fq_target_dump_config(tgt(call), f);
	if (fclose(f) && !rc)
		rc = -EIO;
	if (rc) {
		free(text);
		return fq_mgmt_target_fail(call, rc, NULL);
	}
	*result = json_object_new_object();
	json_object_object_add(*result, "config", json_object_new_string_len(text, (int)len));
	free(text);
	return 0;
}

/* ---- the table ------------------------------------------------------------ */

static const struct fq_rpc_param no_params[] = {END_P};
static const struct fq_rpc_param nqn_opt[] = {NQN_P(false), END_P};
static const struct fq_rpc_param nqn_req[] = {NQN_P(true), END_P};
static const struct fq_rpc_param create_params[] = {
	NQN_P(true),
	{"serial_number", FQ_RPC_STRING, false, "serial number, up to 20 ASCII characters", 0, 0},
	{"model_number", FQ_RPC_STRING, false, "model number, up to 40 ASCII characters", 0, 0},
	{"allow_any_host", FQ_RPC_BOOL, false, "let any host connect (default true)", 0, 0},
	END_P,
};
static const struct fq_rpc_param host_params[] = {
	NQN_P(true),
	{"host", FQ_RPC_STRING, true, "host NQN", 0, 0},
	END_P,
};
static const struct fq_rpc_param allow_params[] = {
	NQN_P(true),
	{"allow", FQ_RPC_BOOL, true, "true: any host may connect; false: only listed hosts", 0, 0},
	END_P,
};
static const struct fq_rpc_param ns_add_params[] = {
	NQN_P(true),
	{"bdev", FQ_RPC_STRING, true, "bdev spec as fabriqd --ns takes it (docs/bdev.md)", 0, 0},
	{"nsid", FQ_RPC_INT, false, "namespace ID (default: the lowest free one)", 1, 1024},
	END_P,
};
static const struct fq_rpc_param ns_remove_params[] = {
	NQN_P(true),
	{"nsid", FQ_RPC_INT, true, "namespace ID", 1, 1024},
	END_P,
};
static const struct fq_rpc_param listener_params[] = {
	NQN_P(true),
	{"address", FQ_RPC_STRING, true, "ADDR:PORT or [V6ADDR]:PORT, numeric", 0, 0},
	END_P,
};
static const struct fq_rpc_param referral_add_params[] = {
	{"address", FQ_RPC_STRING, true,
	 "the other discovery service's ADDR:PORT or [V6ADDR]:PORT, numeric", 0, 0},
	{"nqn", FQ_RPC_STRING, false,
	 "its discovery subsystem NQN (default nqn.2014-08.org.nvmexpress.discovery)", 0, 0},
	END_P,
};
static const struct fq_rpc_param referral_remove_params[] = {
	{"address", FQ_RPC_STRING, true, "ADDR:PORT of the referral", 0, 0},
	END_P,
};
static const struct fq_rpc_param cntlid_params[] = {
	{"cntlid", FQ_RPC_INT, true, "controller ID (controller_list)", 1, 0xffef},
	END_P,
};

const struct fq_rpc_method fq_mgmt_methods[] = {
	{"rpc_methods", "List the methods with their parameter schemas", m_rpc_methods, no_params},
	{"get_version", "Version of the running fabriqd", m_get_version, no_params},
	{"subsystem_list", "List subsystems with hosts, listeners and namespaces", m_subsystem_list,
	 nqn_opt},
	{"subsystem_create", "Create an NVM subsystem", m_subsystem_create, create_params},
	{"subsystem_delete", "Delete a subsystem and disconnect its hosts", m_subsystem_delete,
	 nqn_req},
	{"subsystem_add_host", "Allow a host NQN on a subsystem", m_add_host, host_params},
	{"subsystem_remove_host", "Remove a host NQN from a subsystem's list", m_remove_host,
	 host_params},
	{"subsystem_allow_any_host", "Let any host connect, or only the listed ones",
	 m_allow_any_host, allow_params},
	{"ns_add", "Add a namespace on a new bdev; connected hosts get an event", m_ns_add,
	 ns_add_params},
	{"ns_remove", "Remove a namespace; connected hosts get an event", m_ns_remove,
	 ns_remove_params},
	{"listener_add", "Export a subsystem on ADDR:PORT (opening the port if new)",
	 m_listener_add, listener_params},
	{"listener_remove", "Stop exporting a subsystem on ADDR:PORT", m_listener_remove,
	 listener_params},
	{"referral_add", "List another discovery service as a referral in the discovery log",
	 m_referral_add, referral_add_params},
	{"referral_remove", "Remove a discovery referral", m_referral_remove,
	 referral_remove_params},
	{"referral_list", "List the discovery referrals", m_referral_list, no_params},
	{"controller_list", "List connected controllers (host, address, queues, KATO, digests)",
	 m_controller_list, nqn_opt},
	{"controller_disconnect", "Disconnect a controller and its queues", m_controller_disconnect,
	 cntlid_params},
	{"iostat", "I/O counters, errors by status type and latency per subsystem and namespace",
	 m_iostat, nqn_opt},
	{"config_dump", "The running configuration as an INI file fabriqd -c accepts",
	 m_config_dump, no_params},
	{NULL, NULL, NULL, NULL},
};
