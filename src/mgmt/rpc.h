/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over text lines:
 * one request (or batch) per line in, one response per line out. This part
 * parses, checks parameters against each method's schema and dispatches;
 * it knows nothing of sockets (server.c) or of the target (methods.c), so
 * the fuzzer (tests/fuzz/fuzz_rpc_request.c) runs it alone.
 */
#ifndef FQ_MGMT_RPC_H
#define FQ_MGMT_RPC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Error codes of JSON-RPC 2.0 §5.1, and ours in the server range. */
#define FQ_RPC_PARSE_ERROR -32700
#define FQ_RPC_INVALID_REQUEST -32600
#define FQ_RPC_METHOD_NOT_FOUND -32601
#define FQ_RPC_INVALID_PARAMS -32602
#define FQ_RPC_INTERNAL_ERROR -32603
#define FQ_RPC_FAILED -32000 /* the method ran and failed; data.errno says why */

/* Largest request line the server reads (bytes, without the newline). */
#define FQ_RPC_MAX_REQUEST (1024 * 1024)

/* FQ_RPC_OBJECT: a JSON object the method checks itself (its members' names and values). */
enum fq_rpc_type { FQ_RPC_STRING, FQ_RPC_INT, FQ_RPC_BOOL, FQ_RPC_OBJECT };

struct fq_rpc_param {
	const char *name;
	enum fq_rpc_type type;
	bool required;
	const char *desc;
	int64_t min, max; /* FQ_RPC_INT: the accepted range */
};

struct fq_rpc_call;

/*
 * A method fills *result (any JSON value; NULL means null) and returns 0,
 * or calls fq_rpc_error() and returns its value.
 */
typedef int (*fq_rpc_fn)(struct fq_rpc_call *call, json_object *params, json_object **result);

struct fq_rpc_method {
	const char *name;
	const char *desc; /* one line */
	fq_rpc_fn fn;
	const struct fq_rpc_param *params; /* ended by a NULL name */
};

struct fq_rpc_table {
	const struct fq_rpc_method *methods; /* ended by a NULL name */
	void *ctx;			     /* for the methods: fq_rpc_ctx() */
};

/*
 * Handle one request line (@len bytes, no newline). Returns the response
 * line (malloc'ed, ending in '\n') or NULL when there is nothing to answer
 * (notifications only).
 */
char *fq_rpc_handle(const struct fq_rpc_table *tab, const char *line, size_t len);

/* A reply for a request that could not be read (e.g. too large): id null. */
char *fq_rpc_error_line(int code, const char *msg);

void *fq_rpc_ctx(const struct fq_rpc_call *call);
const struct fq_rpc_table *fq_rpc_tab(const struct fq_rpc_call *call);
/* Record an error for the reply; @param names the parameter at fault or is NULL. */
int fq_rpc_error(struct fq_rpc_call *call, int code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A method failed with -errno @err and a sentence: code FQ_RPC_FAILED, data.errno. */
int fq_rpc_fail(struct fq_rpc_call *call, int err, const char *msg);

/* Parameter getters for schema-checked params (absent: the default). */
const char *fq_rpc_str(json_object *params, const char *name, const char *dflt);
int64_t fq_rpc_int(json_object *params, const char *name, int64_t dflt);
bool fq_rpc_bool(json_object *params, const char *name, bool dflt);

/* The rpc_methods result: every method with its description and schema. */
json_object *fq_rpc_describe(const struct fq_rpc_table *tab);

#endif
