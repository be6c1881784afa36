/* SPDX-License-Identifier: MIT */
/*
 * The I/O engine: one io_uring per thread, shared by sockets and block
 * backends so one io_uring_enter moves network and storage operations.
 *
 * Every submission carries a pointer to a struct fq_uop embedded in the
 * object that owns the operation; the completion calls uop->done. The owner
 * must keep the uop alive until done has run (objects with operations in
 * flight are torn down only after their count drops to zero).
 */
#ifndef FQ_XPORT_ENGINE_H
#define FQ_XPORT_ENGINE_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct fq_uop;
typedef void (*fq_uop_fn)(struct fq_uop *op, int res, uint32_t cqe_flags);

struct fq_uop {
	fq_uop_fn done;
};

struct fq_engine {
	struct io_uring ring;
	unsigned pending; /* SQEs prepared but not yet submitted */
	unsigned inflight;
	bool has_ring;
};

/* Create the ring with room for @entries SQEs. Returns 0 or -errno. */
int fq_engine_init(struct fq_engine *e, unsigned entries);
/* Same, tuned for a thread that busy-polls fq_engine_run(e, 0, 0). */
int fq_engine_init_poll(struct fq_engine *e, unsigned entries, bool busy_poll);
void fq_engine_fini(struct fq_engine *e);

/*
 * Get an SQE bound to @op. If the SQ ring is full, pending SQEs are submitted
 * first. Never returns NULL.
 */
struct io_uring_sqe *fq_engine_sqe(struct fq_engine *e, struct fq_uop *op);

/* An SQE whose completion is ignored (e.g. cancel requests). */
struct io_uring_sqe *fq_engine_sqe_noop(struct fq_engine *e);

/*
 * Submit pending SQEs, wait for at least @min_complete completions (or until
 * @timeout_ns passes when > 0; 0 means do not wait at all if min_complete is
 * 0), and dispatch every completion available. Returns the number of
 * completions handled or -errno.
 */
int fq_engine_run(struct fq_engine *e, unsigned min_complete, int64_t timeout_ns);

/* Submit pending SQEs without waiting. */
int fq_engine_flush(struct fq_engine *e);

#endif
