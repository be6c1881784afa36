/* SPDX-License-Identifier: MIT */
/*
 * fabriqd's management socket (docs/rpc.md): a JSON-RPC 2.0 server on a
 * Unix socket, run on its own thread over the public target API
 * (include/fabriq/target.h), so a slow request or client never stalls a
 * reactor.
 */
#ifndef FQ_MGMT_MGMT_H
#define FQ_MGMT_MGMT_H

#include <stddef.h>

#include "fabriq/target.h"
#include "mgmt/rpc.h"

struct fq_mgmt;

/* What the methods work on. */
struct fq_mgmt_ctx {
	struct fq_target *t;
	const char *version;
	/* fabriqd's state file, saved after every change ("" = none). */
	char state[4096];
};

/*
 * After a method changed something: save the state file if fabriqd keeps
 * one (methods.c). 0, or the call's error naming the file.
 */
int fq_mgmt_persist(struct fq_rpc_call *call);

/*
 * A failed target call (methods.c): -EINVAL is a parameter error naming
 * @param (-32602), anything else -32000 with the errno and
 * fq_target_last_error().
 */
int fq_mgmt_target_fail(struct fq_rpc_call *call, int rc, const char *param);
/* The end of a change method: its failure, or save the state and answer true. */
int fq_mgmt_done(struct fq_rpc_call *call, int rc, const char *param, json_object **result);

/* The method tables (methods.c, bdev_methods.c), NULL-name terminated. */
extern const struct fq_rpc_method fq_mgmt_methods[];
extern const struct fq_rpc_method fq_mgmt_bdev_methods[];

/*
 * Listen on @path (mode 0600); requests wait in the backlog until
 * fq_mgmt_run(). An existing socket file is replaced when no process
 * accepts on it, and the call fails with -EADDRINUSE when one does; any
 * other kind of file is left alone (-EEXIST). Returns 0 or -errno with a
 * sentence in @err.
 */
int fq_mgmt_open(const char *path, const char *version, struct fq_mgmt **out, char *err,
		 size_t errlen);

/* The file where each successful change is saved (fq_target_save_state()). */
void fq_mgmt_set_state(struct fq_mgmt *m, const char *path);

/* Serve the started target @t from a new thread. Returns 0 or -errno. */
int fq_mgmt_run(struct fq_mgmt *m, struct fq_target *t, char *err, size_t errlen);

/*
 * Keep requests out while the caller makes its own target calls (fabriqd's
 * SIGHUP reload): fq_target_last_error() is one buffer per target. No-ops
 * on NULL.
 */
void fq_mgmt_lock(struct fq_mgmt *m);
void fq_mgmt_unlock(struct fq_mgmt *m);

/* Stop serving, close every client, remove the socket file, free @m (may be NULL). */
void fq_mgmt_stop(struct fq_mgmt *m);

#endif
