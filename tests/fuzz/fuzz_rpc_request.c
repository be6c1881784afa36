/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the JSON-RPC request parser of the management
 * socket (src/mgmt/rpc_proto.c).
 *
 * The input is what a client writes to the socket; it is cut into lines as
 * the server cuts it, and each line goes through fq_rpc_handle() with a
 * method table that has parameters of every schema type. Beyond "no
 * crash, no leak", the harness aborts when a response breaks what clients
 * rely on:
 *   - it is one line ending in '\n' and parses as JSON;
 *   - it is a response object, or a non-empty array of them (a batch);
 *   - each has "jsonrpc": "2.0", an "id", and exactly one of "result" and
 *     "error", an error with a known code and a message;
 *   - a -32602 error names the parameter in data.param.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Echo the parameters back: exercises the getters on checked params. */
static int m_echo(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	json_object *o;

	(void)call;
	*result = json_object_new_object();
	json_object_object_add(*result, "s", json_object_new_string(fq_rpc_str(params, "s", "")));
	json_object_object_add(*result, "i", json_object_new_int64(fq_rpc_int(params, "i", 0)));
	json_object_object_add(*result, "b", json_object_new_boolean(fq_rpc_bool(params, "b", 0)));
	if (json_object_object_get_ex(params, "o", &o)) {
		/* The schema let only an object through. */
		check(json_object_is_type(o, json_type_object));
		json_object_object_add(*result, "o", json_object_get(o));
	}
	return 0;
}

/* Fail the way target calls fail: by parameter, or with an errno. */
static int m_fail(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	(void)result;
	if (fq_rpc_int(params, "i", 0) & 1)
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, "i", "odd %lld",
				    (long long)fq_rpc_int(params, "i", 0));
	return fq_rpc_fail(call, -2, fq_rpc_str(params, "s", NULL));
}

static int m_describe(struct fq_rpc_call *call, json_object *params, json_object **result)
{
	(void)params;
	*result = fq_rpc_describe(fq_rpc_tab(call));
	return 0;
}

static const struct fq_rpc_param params[] = {
	{"s", FQ_RPC_STRING, true, "a string", 0, 0},
	{"i", FQ_RPC_INT, false, "an integer", -5, 1024},
	{"b", FQ_RPC_BOOL, false, "a boolean", 0, 0},
	{"o", FQ_RPC_OBJECT, false, "an object", 0, 0},
	{NULL, 0, false, NULL, 0, 0},
};

static const struct fq_rpc_method methods[] = {
	{"echo", "echo the parameters", m_echo, params},
	{"fail", "fail", m_fail, params},
	{"rpc_methods", "describe", m_describe, NULL},
	{NULL, NULL, NULL, NULL},
};

static const struct fq_rpc_table table = {methods, NULL};

static void check_response(json_object *r)
{
	json_object *v, *e, *code, *d, *p;
	bool has_result, has_error;

	check(json_object_is_type(r, json_type_object));
	check(json_object_object_get_ex(r, "jsonrpc", &v) &&
	      !strcmp(json_object_get_string(v), "2.0"));
	check(json_object_object_get_ex(r, "id", &v));
	has_result = json_object_object_get_ex(r, "result", &v);
	has_error = json_object_object_get_ex(r, "error", &e);
	check(has_result != has_error);
	if (!has_error)
		return;
	check(json_object_object_get_ex(e, "code", &code));
	check(json_object_object_get_ex(e, "message", &v) &&
	      json_object_is_type(v, json_type_string));
	switch (json_object_get_int(code)) {
	case FQ_RPC_PARSE_ERROR:
	case FQ_RPC_INVALID_REQUEST:
	case FQ_RPC_METHOD_NOT_FOUND:
	case FQ_RPC_INTERNAL_ERROR:
	case FQ_RPC_FAILED:
		break;
	case FQ_RPC_INVALID_PARAMS:
		/* Only "params is not an object" names no parameter. */
		if (json_object_object_get_ex(e, "data", &d))
			check(json_object_object_get_ex(d, "param", &p) &&
			      json_object_get_string_len(p) > 0);
		break;
	default:
		check(false);
	}
}

static void one_line(const char *line, size_t len)
{
	char *out = fq_rpc_handle(&table, line, len);
	json_object *r;
	size_t n;

	if (!out)
		return; /* notifications only */
	n = strlen(out);
	check(n >= 2 && out[n - 1] == '\n' && !memchr(out, '\n', n - 1));
	r = json_tokener_parse(out);
	check(r != NULL);
	if (json_object_is_type(r, json_type_array)) {
		check(json_object_array_length(r) > 0);
		for (size_t i = 0; i < json_object_array_length(r); i++)
			check_response(json_object_array_get_idx(r, i));
	} else {
		check_response(r);
	}
	json_object_put(r);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		one_line(p, len);
		p += len + 1;
	}
	return 0;
}
