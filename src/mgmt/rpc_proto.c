/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 requests: parse a line, check it is a request (§4), check
 * its params against the method's schema, call the method, and build the
 * response object (§5). Batches (§6) are answered with an array of the
 * responses that are not to notifications.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/rpc.h"

/* Nesting a request may have: ours are two deep; the rest is abuse. */
#define MAX_DEPTH 16

struct fq_rpc_call {
	const struct fq_rpc_table *tab;
	int code; /* 0 while the call succeeds */
	char msg[512];
	char param[64];
	int err; /* FQ_RPC_FAILED: the errno value */
};

void *fq_rpc_ctx(const struct fq_rpc_call *call)
{
	return call->tab->ctx;
}

const struct fq_rpc_table *fq_rpc_tab(const struct fq_rpc_call *call)
{
	return call->tab;
}

int fq_rpc_error(struct fq_rpc_call *call, int code, const char *param, const char *fmt, ...)
{
	va_list ap;

	call->code = code;
	va_start(ap, fmt);
	vsnprintf(call->msg, sizeof(call->msg), fmt, ap);
	va_end(ap);
	snprintf(call->param, sizeof(call->param), "%s", param ? param : "");
	return code;
}

int fq_rpc_fail(struct fq_rpc_call *call, int err, const char *msg)
{
	fq_rpc_error(call, FQ_RPC_FAILED, NULL, "%s", msg && msg[0] ? msg : strerror(-err));
	call->err = err < 0 ? -err : err;
	return FQ_RPC_FAILED;
}

const char *fq_rpc_str(json_object *params, const char *name, const char *dflt)
{
	json_object *v;

	return params && json_object_object_get_ex(params, name, &v) ? json_object_get_string(v)
								     : dflt;
}

int64_t fq_rpc_int(json_object *params, const char *name, int64_t dflt)
{
	json_object *v;

	return params && json_object_object_get_ex(params, name, &v) ? json_object_get_int64(v)
								     : dflt;
}

bool fq_rpc_bool(json_object *params, const char *name, bool dflt)
{
	json_object *v;

	return params && json_object_object_get_ex(params, name, &v) ? json_object_get_boolean(v)
								     : dflt;
}

static const char *type_name(enum fq_rpc_type t)
{
	static const char *const names[] = {"string", "integer", "boolean", "object"};

	return names[t];
}

static const struct fq_rpc_method *find_method(const struct fq_rpc_table *tab, const char *name)
{
	for (const struct fq_rpc_method *m = tab->methods; m->name; m++)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

static const struct fq_rpc_param *find_param(const struct fq_rpc_method *m, const char *name)
{
	for (const struct fq_rpc_param *p = m->params; p && p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

/* §4.2: by-name parameters only; each checked against the schema. */
static int check_params(struct fq_rpc_call *call, const struct fq_rpc_method *m,
			json_object *params)
{
	if (params && !json_object_is_type(params, json_type_object))
		return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, NULL,
				    "params must be an object (parameters by name)");
	if (params) {
		json_object_object_foreach(params, key, val)
		{
			const struct fq_rpc_param *p = find_param(m, key);
			bool ok;

			if (!p)
				return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, key,
						    "unknown parameter '%.64s' for %s", key,
						    m->name);
			switch (p->type) {
			case FQ_RPC_STRING:
				ok = json_object_is_type(val, json_type_string);
				break;
			case FQ_RPC_INT:
				ok = json_object_is_type(val, json_type_int);
				break;
			case FQ_RPC_OBJECT:
				ok = json_object_is_type(val, json_type_object);
				break;
			default:
				ok = json_object_is_type(val, json_type_boolean);
				break;
			}
			if (!ok)
				return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, key,
						    "parameter '%s' must be a %s", key,
						    type_name(p->type));
			if (p->type == FQ_RPC_INT) {
				int64_t v = json_object_get_int64(val);

				/* json-c saturates what does not fit in 64 bits: out of range too. */
				if (v < p->min || v > p->max)
					return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, key,
							    "parameter '%s' must be %" PRId64
							    "..%" PRId64,
							    key, p->min, p->max);
			}
			if (p->type == FQ_RPC_STRING && json_object_get_string_len(val) == 0 &&
			    p->required)
				return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, key,
						    "parameter '%s' must not be empty", key);
		}
	}
	for (const struct fq_rpc_param *p = m->params; p && p->name; p++) {
		json_object *v;

		if (p->required && !(params && json_object_object_get_ex(params, p->name, &v)))
			return fq_rpc_error(call, FQ_RPC_INVALID_PARAMS, p->name,
					    "missing parameter '%s' (%s)", p->name, p->desc);
	}
	return 0;
}

static json_object *error_obj(const struct fq_rpc_call *call)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(call->code));
	json_object_object_add(e, "message", json_object_new_string(call->msg));
	if (call->param[0] || call->err) {
		json_object *d = json_object_new_object();

		if (call->param[0])
			json_object_object_add(d, "param", json_object_new_string(call->param));
		if (call->err) {
			json_object_object_add(d, "errno", json_object_new_int(call->err));
			json_object_object_add(d, "reason",
					       json_object_new_string(strerror(call->err)));
		}
		json_object_object_add(e, "data", d);
	}
	return e;
}

static json_object *response(json_object *id, const struct fq_rpc_call *call, json_object *result)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	if (call->code) {
		json_object_object_add(r, "error", error_obj(call));
		json_object_put(result);
	} else {
		json_object_object_add(r, "result", result);
	}
	json_object_object_add(r, "id", id ? json_object_get(id) : NULL);
	return r;
}

static bool valid_id(json_object *id)
{
	/* §4: a string, a number or null (fractional numbers are discouraged, not banned). */
	return !id || json_object_is_type(id, json_type_string) ||
	       json_object_is_type(id, json_type_int) || json_object_is_type(id, json_type_double);
}

/* One request object; NULL for a notification. */
static json_object *handle_one(const struct fq_rpc_table *tab, json_object *req)
{
	struct fq_rpc_call call = {.tab = tab};
	json_object *v, *id = NULL, *params = NULL, *result = NULL;
	const struct fq_rpc_method *m;
	bool notification;

	if (!json_object_is_type(req, json_type_object)) {
		fq_rpc_error(&call, FQ_RPC_INVALID_REQUEST, NULL, "a request is a JSON object");
		return response(NULL, &call, NULL);
	}
	notification = !json_object_object_get_ex(req, "id", &id);
	if (!valid_id(id)) {
		fq_rpc_error(&call, FQ_RPC_INVALID_REQUEST, "id",
			     "id must be a string, a number or null");
		return response(NULL, &call, NULL);
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0")) {
		fq_rpc_error(&call, FQ_RPC_INVALID_REQUEST, "jsonrpc",
			     "\"jsonrpc\": \"2.0\" is missing");
		return response(id, &call, NULL);
	}
	if (!json_object_object_get_ex(req, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		fq_rpc_error(&call, FQ_RPC_INVALID_REQUEST, "method", "method must be a string");
		return response(id, &call, NULL);
	}
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "jsonrpc") && strcmp(key, "method") && strcmp(key, "params") &&
		    strcmp(key, "id")) {
			fq_rpc_error(&call, FQ_RPC_INVALID_REQUEST, key,
				     "unknown member '%.64s' in the request", key);
			return response(id, &call, NULL);
		}
	}
	m = find_method(tab, json_object_get_string(v));
	if (!m) {
		fq_rpc_error(&call, FQ_RPC_METHOD_NOT_FOUND, NULL,
			     "no method '%.128s' (rpc_methods lists them)",
			     json_object_get_string(v));
	} else {
		json_object_object_get_ex(req, "params", &params);
		if (params && json_object_is_type(params, json_type_null))
			params = NULL;
		if (!check_params(&call, m, params) && m->fn(&call, params, &result) && !call.code)
			fq_rpc_error(&call, FQ_RPC_INTERNAL_ERROR, NULL, "the method failed");
	}
	if (notification) {
		json_object_put(result);
		return NULL;
	}
	return response(id, &call, result);
}

static char *to_line(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *line = malloc(n + 2);

	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	json_object_put(o);
	return line;
}

char *fq_rpc_error_line(int code, const char *msg)
{
	struct fq_rpc_call call = {0};

	fq_rpc_error(&call, code, NULL, "%s", msg);
	return to_line(response(NULL, &call, NULL));
}

char *fq_rpc_handle(const struct fq_rpc_table *tab, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	json_object *req, *out = NULL;
	size_t end;

	if (!tok)
		return fq_rpc_error_line(FQ_RPC_INTERNAL_ERROR, "out of memory");
	if (len > FQ_RPC_MAX_REQUEST) {
		json_tokener_free(tok);
		return fq_rpc_error_line(FQ_RPC_INVALID_REQUEST, "request too large");
	}
	req = len ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	end = json_tokener_get_parse_end(tok);
	/* A bare number is complete only once the input ends: say it does. */
	if (!req && end == len && json_tokener_get_error(tok) == json_tokener_continue)
		req = json_tokener_parse_ex(tok, "", 1);
	/* One value and nothing after it but blanks (\r of a CRLF line too). */
	while (req && end < len && strchr(" \t\r", line[end]) && line[end])
		end++;
	if (!req || json_tokener_get_error(tok) != json_tokener_success || end != len) {
		json_tokener_free(tok);
		json_object_put(req);
		return fq_rpc_error_line(FQ_RPC_PARSE_ERROR, "parse error: not one JSON value");
	}
	json_tokener_free(tok);
	if (json_object_is_type(req, json_type_array)) {
		size_t n = json_object_array_length(req);

		if (n == 0) {
			json_object_put(req);
			return fq_rpc_error_line(FQ_RPC_INVALID_REQUEST, "empty batch");
		}
		out = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *r = handle_one(tab, json_object_array_get_idx(req, i));

			if (r)
				json_object_array_add(out, r);
		}
		if (json_object_array_length(out) == 0) {
			json_object_put(out);
			out = NULL;
		}
	} else {
		out = handle_one(tab, req);
	}
	json_object_put(req);
	return out ? to_line(out) : NULL;
}

json_object *fq_rpc_describe(const struct fq_rpc_table *tab)
{
	json_object *list = json_object_new_array();

	for (const struct fq_rpc_method *m = tab->methods; m->name; m++) {
		json_object *o = json_object_new_object(), *ps = json_object_new_object();
		json_object *req = json_object_new_array();

		for (const struct fq_rpc_param *p = m->params; p && p->name; p++) {
			json_object *s = json_object_new_object();

			json_object_object_add(s, "type",
					       json_object_new_string(type_name(p->type)));
			json_object_object_add(s, "description", json_object_new_string(p->desc));
			if (p->type == FQ_RPC_INT) {
				json_object_object_add(s, "minimum", json_object_new_int64(p->min));
				json_object_object_add(s, "maximum", json_object_new_int64(p->max));
			}
			json_object_object_add(ps, p->name, s);
			if (p->required)
				json_object_array_add(req, json_object_new_string(p->name));
		}
		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "description", json_object_new_string(m->desc));
		/* The params schema, as a JSON Schema object. */
		{
			json_object *schema = json_object_new_object();

			json_object_object_add(schema, "type", json_object_new_string("object"));
			json_object_object_add(schema, "properties", ps);
			json_object_object_add(schema, "required", req);
			json_object_object_add(schema, "additionalProperties",
					       json_object_new_boolean(0));
			json_object_object_add(o, "params", schema);
		}
		json_object_array_add(list, o);
	}
	return list;
}
