/* SPDX-License-Identifier: MIT */
/*
 * The public storage API: open/close, argument checks, the sync, async and
 * batch entry points, statistics and health. The request life cycle is in
 * req.c, waiting and batching in poller.c, the backends in be_*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_int.h"

uint64_t sto_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sto_set_error(struct fq_storage *st, int err, const char *fmt, ...)
{
	va_list ap;

	st->last_errno = err;
	va_start(ap, fmt);
	vsnprintf(st->last_error, sizeof(st->last_error), fmt, ap);
	va_end(ap);
}

const char *fq_storage_last_error(const struct fq_storage *st)
{
	return st ? st->last_error : "";
}

const char *fq_storage_op_name(enum fq_storage_op op)
{
	static const char *const n[] = {"read", "write", "flush"};

	return (unsigned)op < FQ_STORAGE_NUM_OPS ? n[op] : "?";
}

static int setup(struct fq_storage *st, char *err, size_t errlen)
{
	uint32_t cap;
	int rc;

	st->be = st->cfg.backend == STO_BACKEND_FILE ? &sto_file_ops : &sto_nvmeof_ops;
	rc = st->be->open(st, &st->be_ctx);
	if (rc) {
		if (err)
			snprintf(err, errlen, "%s", st->last_error);
		return rc;
	}
	rc = sto_resolve_config_names(st, err, errlen);
	if (rc)
		return rc;
	for (unsigned i = 0; i < st->nns; i++) {
		if (st->ns[i].bs > st->cfg.mem_block_size) {
			if (err)
				snprintf(err, errlen,
					 "namespace %u has %u-byte blocks, larger than "
					 "mem_block_size %u",
					 st->ns[i].nsid, st->ns[i].bs, st->cfg.mem_block_size);
			return -EINVAL;
		}
	}
	rc = sto_pool_init(&st->pool, st->cfg.mem_pool_size, st->cfg.mem_block_size);
	cap = st->be->capacity(st->be_ctx);
	if (!rc)
		rc = sto_reqs_init(st, cap ? cap : 1);
	if (rc && err)
		snprintf(err, errlen, "out of memory");
	return rc;
}

static void teardown(struct fq_storage *st)
{
	if (st->be_ctx)
		st->be->close(st->be_ctx);
	sto_reqs_fini(st);
	sto_pool_fini(&st->pool);
	sto_config_free(&st->cfg);
	free(st);
}

static int do_open(const char *path, const char *text, struct fq_storage **out, char *err,
		   size_t errlen)
{
	struct fq_storage *st;
	int rc;

	if (!out || (!path && !text))
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	rc = sto_config_parse(&st->cfg, path, text, err, errlen);
	if (!rc) {
		sto_poller_init(&st->poller, &st->cfg);
		rc = setup(st, err, errlen);
	}
	if (rc) {
		teardown(st);
		return rc;
	}
	sto_stats_reset(&st->stats);
	*out = st;
	return 0;
}

int fq_storage_open(const char *path, struct fq_storage **out, char *err, size_t errlen)
{
	return path ? do_open(path, NULL, out, err, errlen) : -EINVAL;
}

int fq_storage_open_string(const char *ini, struct fq_storage **out, char *err, size_t errlen)
{
	return ini ? do_open(NULL, ini, out, err, errlen) : -EINVAL;
}

int fq_storage_close(struct fq_storage *st)
{
	if (!st)
		return -EINVAL;
	while (st->outstanding)
		if (sto_wait_until(st, 0) < 0)
			break;
	teardown(st);
	return 0;
}

int fq_storage_lookup(struct fq_storage *st, const char *name, struct fq_storage_ns_info *info)
{
	struct sto_ns *ns;
	int rc = sto_resolve(st, name, &ns);

	if (rc)
		return rc;
	if (info) {
		memset(info, 0, sizeof(*info));
		info->nsid = ns->nsid;
		info->block_size = ns->bs;
		info->size = ns->nblocks << ns->bs_shift;
		memcpy(info->nguid, ns->nguid, 16);
		memcpy(info->uuid, ns->uuid, 16);
	}
	return 0;
}

/* Resolve and range-check one operation; the message goes to last_error. */
static int check_io(struct fq_storage *st, enum fq_storage_op op, const char *name, uint64_t offset,
		    size_t len, const void *buf, struct sto_ns **ns)
{
	uint64_t size;
	int rc;

	if ((unsigned)op >= FQ_STORAGE_NUM_OPS) {
		sto_set_error(st, -EINVAL, "unknown operation %d", (int)op);
		return -EINVAL;
	}
	rc = sto_resolve(st, name, ns);
	if (rc || op == FQ_STORAGE_FLUSH)
		return rc;
	size = (*ns)->nblocks << (*ns)->bs_shift;
	if (!len || !buf || len > STO_MAX_IO) {
		sto_set_error(st, -EINVAL,
			      "%s of '%.64s': length %zu (must be 1..%u with a buffer)",
			      fq_storage_op_name(op), name, len, STO_MAX_IO);
		return -EINVAL;
	}
	if (offset >= size || len > size - offset) {
		sto_set_error(st, -ERANGE,
			      "%s of '%.64s': bytes %llu..%llu are beyond its size %llu",
			      fq_storage_op_name(op), name, (unsigned long long)offset,
			      (unsigned long long)(offset + len), (unsigned long long)size);
		return -ERANGE;
	}
	return 0;
}

static int submit_one(struct fq_storage *st, enum fq_storage_op op, struct sto_ns *ns,
		      uint64_t offset, void *buf, size_t len, fq_storage_cb cb, void *arg,
		      int *result_out)
{
	struct sto_req *r = sto_req_get(st);

	if (!r) {
		sto_set_error(st, -EAGAIN, "all %u request slots are busy", st->nreqs);
		return -EAGAIN;
	}
	r->op = op;
	r->ns = ns;
	r->offset = offset;
	r->len = op == FQ_STORAGE_FLUSH ? 0 : len;
	r->buf = buf;
	r->cb = cb;
	r->cb_arg = arg;
	r->result_out = result_out;
	return sto_req_start(st, r);
}

static int async_io(struct fq_storage *st, enum fq_storage_op op, const char *name, uint64_t offset,
		    void *buf, size_t len, fq_storage_cb cb, void *arg)
{
	struct sto_ns *ns;
	int rc = check_io(st, op, name, offset, len, buf, &ns);

	if (!rc)
		rc = st->be->ready(st->be_ctx);
	if (!rc)
		rc = submit_one(st, op, ns, offset, buf, len, cb, arg, NULL);
	return rc;
}

struct sync_wait {
	bool done;
	int result;
};

static void sync_cb(void *arg, int result)
{
	struct sync_wait *w = arg;

	w->result = result;
	w->done = true;
}

static int sync_io(struct fq_storage *st, enum fq_storage_op op, struct sto_ns *ns, uint64_t offset,
		   void *buf, size_t len)
{
	struct sync_wait w = {0};
	int rc = st->be->ready(st->be_ctx);

	if (rc)
		return rc;
	while ((rc = submit_one(st, op, ns, offset, buf, len, sync_cb, &w, NULL)) == -EAGAIN)
		if ((rc = sto_wait_until(st, 0)) < 0)
			return rc;
	if (rc)
		return rc;
	sto_kick(st);
	while (!w.done)
		if ((rc = sto_wait_until(st, 0)) < 0)
			return rc;
	return w.result;
}

int fq_storage_read_sync(struct fq_storage *st, const char *name, uint64_t offset, void *buf,
			 size_t len)
{
	struct sto_ns *ns;
	int rc = check_io(st, FQ_STORAGE_READ, name, offset, len, buf, &ns);

	return rc ? rc : sync_io(st, FQ_STORAGE_READ, ns, offset, buf, len);
}

int fq_storage_write_sync(struct fq_storage *st, const char *name, uint64_t offset, const void *buf,
			  size_t len)
{
	struct sto_ns *ns;
	int rc = check_io(st, FQ_STORAGE_WRITE, name, offset, len, buf, &ns);

	return rc ? rc : sync_io(st, FQ_STORAGE_WRITE, ns, offset, (void *)buf, len);
}

int fq_storage_flush(struct fq_storage *st, const char *name)
{
	struct sto_ns *ns;
	int rc;

	if (name) {
		rc = check_io(st, FQ_STORAGE_FLUSH, name, 0, 0, NULL, &ns);
		return rc ? rc : sync_io(st, FQ_STORAGE_FLUSH, ns, 0, NULL, 0);
	}
	for (unsigned i = 0; i < st->nns; i++) {
		rc = sync_io(st, FQ_STORAGE_FLUSH, &st->ns[i], 0, NULL, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int fq_storage_read_async(struct fq_storage *st, const char *name, uint64_t offset, void *buf,
			  size_t len, fq_storage_cb cb, void *cb_arg)
{
	return async_io(st, FQ_STORAGE_READ, name, offset, buf, len, cb, cb_arg);
}

int fq_storage_write_async(struct fq_storage *st, const char *name, uint64_t offset,
			   const void *buf, size_t len, fq_storage_cb cb, void *cb_arg)
{
	return async_io(st, FQ_STORAGE_WRITE, name, offset, (void *)buf, len, cb, cb_arg);
}

int fq_storage_poll(struct fq_storage *st)
{
	return sto_turn(st);
}

int fq_storage_wait(struct fq_storage *st, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : sto_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	if (timeout_ms == 0)
		return sto_turn(st);
	return sto_wait_until(st, deadline);
}

uint32_t fq_storage_outstanding(const struct fq_storage *st)
{
	return st->outstanding;
}

int fq_storage_batch(struct fq_storage *st, struct fq_storage_io *ios, unsigned n)
{
	struct sto_ns *ns;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		rc = check_io(st, ios[i].op, ios[i].name, ios[i].offset, ios[i].len, ios[i].buf,
			      &ns);
		if (rc)
			return rc;
	}
	rc = st->be->ready(st->be_ctx);
	if (rc)
		return rc;
	st->poller.holding = true;
	for (unsigned i = 0; i < n; i++) {
		struct fq_storage_io *io = &ios[i];

		sto_resolve(st, io->name, &ns);
		io->result = -EINPROGRESS;
		while ((rc = submit_one(st, io->op, ns, io->offset, io->buf, io->len, io->cb,
					io->cb_arg, &io->result)) == -EAGAIN) {
			/* Out of slots: send what we have and let some complete. */
			sto_kick(st);
			if ((rc = sto_wait_until(st, 0)) < 0)
				break;
		}
		if (rc < 0) {
			st->poller.holding = false;
			return rc;
		}
	}
	st->poller.holding = false;
	sto_kick(st);
	return (int)n;
}

int fq_storage_get_stats(struct fq_storage *st, struct fq_storage_stats *stats)
{
	sto_stats_export(st, stats);
	return 0;
}

void fq_storage_reset_stats(struct fq_storage *st)
{
	sto_stats_reset(&st->stats);
}

int fq_storage_health_check(struct fq_storage *st, struct fq_storage_health *h)
{
	static const char *const names[] = {"up", "connecting", "down"};
	int rc;

	memset(h, 0, sizeof(*h));
	snprintf(h->backend, sizeof(h->backend), "%s", st->be->name);
	sto_turn(st); /* lets queues notice a loss or come back */
	rc = st->be->health(st->be_ctx, h);
	snprintf(h->state_name, sizeof(h->state_name), "%s", names[h->state]);
	h->last_errno = st->last_errno;
	snprintf(h->last_error, sizeof(h->last_error), "%s", st->last_error);
	h->since_last_completion_ns =
		st->last_completion_ns ? (int64_t)(sto_now_ns() - st->last_completion_ns) : -1;
	return rc;
}
