/* SPDX-License-Identifier: MIT */
/*
 * Block backends behind one ops table. A backend is shared by every reactor
 * that serves its namespace; each call passes the calling thread's engine so
 * asynchronous backends submit to that thread's io_uring and complete on it.
 *
 * Offsets and lengths are in bytes and always multiples of the block size
 * (the target checks ranges before calling).
 */
#ifndef FQ_BDEV_BDEV_H
#define FQ_BDEV_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xport/engine.h"

enum fq_bdev_io_type {
	FQ_BDEV_IO_READ,
	FQ_BDEV_IO_WRITE,
	FQ_BDEV_IO_FLUSH,
	FQ_BDEV_IO_WRITE_ZEROES,
	FQ_BDEV_IO_DEALLOCATE,
	FQ_BDEV_IO_NUM_TYPES,
};

struct fq_bdev_io;
/* @result is 0 or -errno. May run before submit() returns (synchronous backends). */
typedef void (*fq_bdev_cb)(struct fq_bdev_io *io, int result);

struct fq_bdev_io {
	enum fq_bdev_io_type type;
	uint64_t offset; /* bytes */
	uint64_t length; /* bytes */
	struct iovec *iov;
	int iovcnt;
	fq_bdev_cb cb;
	void *cb_arg;
	/* Backend scratch: the uring op and bookkeeping for async backends. */
	struct fq_uop uop;
	uint64_t done_bytes;
	int pending;
	int error;
	/* Set by fq_bdev_submit so completions can find their backend and ring. */
	struct fq_bdev *bdev;
	struct fq_engine *eng;
	int state; /* backend-private phase of a multi-step operation */
};

struct fq_bdev;

struct fq_bdev_ops {
	const char *name;
	/* Start @io on @eng. Returns 0 (cb will run) or -errno (cb will not run). */
	int (*submit)(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io);
	/*
	 * Optional zero-copy read: point @iov at the backend's own memory for
	 * [offset, offset+len) if it can (RAM, null). Returns 0 or -ENOTSUP.
	 * The memory stays valid as long as the bdev lives.
	 */
	int (*map_read)(struct fq_bdev *bdev, uint64_t offset, uint64_t len, struct iovec *iov);
	/* Flush everything written so far, synchronously (shutdown path). */
	int (*sync)(struct fq_bdev *bdev);
	void (*destroy)(struct fq_bdev *bdev);
};

struct fq_bdev {
	const struct fq_bdev_ops *ops;
	char name[64];
	uint64_t num_blocks;
	uint32_t block_size;
	bool volatile_cache; /* writes need Flush to be durable */
	bool read_zeroes_after_dealloc;
	bool supports_dealloc;
	/* Every operation completes before submit returns (RAM, null). */
	bool sync_submit;
	void *priv;
};

/* Options for opening a backend. */
enum fq_bdev_kind {
	FQ_BDEV_RAM,
	FQ_BDEV_NULL,
	FQ_BDEV_FILE,
};

struct fq_bdev_opts {
	enum fq_bdev_kind kind;
	const char *path; /* file: regular file or block device */
	uint64_t size;	  /* bytes; ram/null: required; file: create/extend to this size if set */
	uint32_t block_size; /* 512 or 4096 (default 512) */
	bool direct;	     /* file: O_DIRECT */
	bool create;	     /* file: create if missing (needs size) */
};

/*
 * Open a backend. Returns 0 and sets *out, or -errno with a message in
 * @err (size @errlen) saying what was wrong (e.g. "file /x: No such file").
 */
int fq_bdev_open(const struct fq_bdev_opts *opts, struct fq_bdev **out, char *err, size_t errlen);
void fq_bdev_close(struct fq_bdev *bdev);

/*
 * Close @bdev and undo what opening it created: a file fq_bdev_open created
 * (never one that existed before) and the parent directories it made for it.
 * For a start that fails after the backend was opened.
 */
void fq_bdev_close_discard(struct fq_bdev *bdev);

/*
 * Submit @io on @eng; a NULL-safe wrapper over ops->submit. It rejects with
 * -EINVAL a bad type, a range beyond the capacity, an offset or length that
 * is not a multiple of the block size, a zero length, and read/write iovecs
 * that describe fewer than length bytes; backends rely on these checks, so
 * call this rather than ops->submit. Iovecs may describe more than length
 * bytes: the extra room is left untouched.
 */
int fq_bdev_submit(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io);

#endif
