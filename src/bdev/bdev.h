/* SPDX-License-Identifier: MIT */
/*
 * The block layer: one ops table, and modules registered by name (ram, null,
 * file, delay, error; struct fq_bdev_module) that each bring a per-bdev
 * context size, a parser for their options and an init. A bdev may sit on
 * another one (bdev->base): delay and error are such layers, opening and
 * closing the stack from the top propagates down, and an I/O passes down the
 * stack in the same struct fq_bdev_io, its completion passing back up through
 * the frames each layer pushed (fq_bdev_push / fq_bdev_submit_down /
 * fq_bdev_complete_up). Nothing on that path allocates or locks.
 *
 * A bdev is shared by every reactor that serves its namespace; each call
 * passes the calling thread's engine so asynchronous modules submit to that
 * thread's io_uring and complete on it.
 *
 * Offsets and lengths are in bytes and always multiples of the block size
 * (the target checks ranges before calling). docs/bdev.md describes how to
 * write a module.
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
struct fq_bdev;
/* @result is 0 or -errno. May run before submit() returns (synchronous backends). */
typedef void (*fq_bdev_cb)(struct fq_bdev_io *io, int result);

/* Layers an I/O may pass through above the bottom bdev of a stack. */
#define FQ_BDEV_MAX_STACK 4

/*
 * What a stacking layer keeps of an I/O while it is below: the caller's
 * callback and the layer itself (restored by fq_bdev_complete_up), and
 * scratch words the layer may use as it likes until then.
 */
struct fq_bdev_frame {
	fq_bdev_cb cb;
	void *cb_arg;
	struct fq_bdev *bdev;
	uint64_t scratch[3];
};

/* One source range of a copy (fq_bdev_copy), in bytes. */
struct fq_bdev_copy_range {
	uint64_t src;
	uint64_t len;
};

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
	/*
	 * With a nonzero result: the NVMe status (FQ_STATUS() | DNR bits) a
	 * module chose for the failure, used instead of the one the errno
	 * maps to. 0 = derive it from the errno. Reset by fq_bdev_submit.
	 */
	uint16_t nvme_status;
	uint8_t depth; /* frames in use */
	/* fq_bdev_copy: the source ranges, copied one after another to offset. */
	const struct fq_bdev_copy_range *copy_ranges;
	uint32_t copy_nr;
	struct fq_bdev_frame frame[FQ_BDEV_MAX_STACK];
};

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
	/*
	 * Optional, shutdown path: complete with an abort status every I/O
	 * submitted on @eng that this layer holds and would never complete on
	 * its own (the error module's dropped commands). Runs on @eng's thread.
	 * Returns how many it completed.
	 */
	int (*abort_held)(struct fq_bdev *bdev, struct fq_engine *eng);
	/* Optional, thin-provisioned modules: blocks that hold storage (NUSE). */
	uint64_t (*used_blocks)(struct fq_bdev *bdev);
	/*
	 * Optional: a copy (fq_bdev_copy) done inside the module, e.g. by
	 * sharing storage. Returns as submit, or -EOPNOTSUPP (cb will not run)
	 * to leave it to the block layer's read-then-write copy.
	 */
	int (*copy)(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io);
};

struct fq_bdev {
	const struct fq_bdev_ops *ops;
	char name[64];
	uint64_t num_blocks;
	uint32_t block_size;
	bool volatile_cache; /* writes need Flush to be durable */
	bool read_zeroes_after_dealloc;
	bool supports_dealloc;
	/*
	 * Writes always fail with Namespace Is Write Protected (a snapshot):
	 * Identify Namespace reports it in NSATTR so hosts know before writing.
	 */
	bool write_protected;
	/* Every operation completes before submit returns (RAM, null). */
	bool sync_submit;
	const struct fq_bdev_module *module;
	struct fq_bdev *base; /* the bdev this one sits on, or NULL */
	void *priv;	      /* the module's context: ctx_size bytes in ctx[] */
	_Alignas(16) unsigned char ctx[];
};

/* The registered modules. */
enum fq_bdev_kind {
	FQ_BDEV_RAM,
	FQ_BDEV_NULL,
	FQ_BDEV_FILE,
	FQ_BDEV_DELAY,
	FQ_BDEV_ERROR,
	FQ_BDEV_QOS,
	FQ_BDEV_VOL, /* a volume of an open pool (src/volume/), when linked in */
	FQ_BDEV_NUM_KINDS,
};

/* Room for a stacking module's parsed options (struct fq_bdev_opts.params). */
#define FQ_BDEV_PARAMS_SIZE 64

struct fq_bdev_opts {
	enum fq_bdev_kind kind;
	const char *path; /* file: regular file or block device */
	uint64_t size;	  /* bytes; ram/null: required; file: create/extend to this size if set */
	uint32_t block_size; /* 512 or 4096 (default 512); stacking modules take their base's */
	bool direct;	     /* file: O_DIRECT */
	bool create;	     /* file: create if missing (needs size) */
	bool no_lock;	     /* file: skip the exclusive flock (the caller shares it knowingly) */
	/* Stacking modules: the options of the bdev to open below this one. */
	const struct fq_bdev_opts *base;
	/* Module options the module's parse() filled in (its own layout). */
	_Alignas(8) unsigned char params[FQ_BDEV_PARAMS_SIZE];
};

/*
 * A module. Registered in the table in bdev.c; found by name or kind.
 * fq_bdev_open allocates struct fq_bdev with ctx_size bytes of context behind
 * it (bdev->priv points there, zeroed), opens the base first for a stacking
 * module (and copies its geometry and flags), then calls init, which sets
 * ops, num_blocks and the capability flags. destroy releases what init took
 * beyond the context; the layer closes the base.
 */
struct fq_bdev_module {
	const char *name;
	enum fq_bdev_kind kind;
	size_t ctx_size;
	bool stacks; /* sits on a base bdev (opts->base is required) */
	/* Set the defaults of the module's options in @opts (may be NULL). */
	void (*defaults)(struct fq_bdev_opts *opts);
	/*
	 * One "key=value" option into @opts. Returns 0, -ENOENT for a key the
	 * module does not know (nothing written to @err), or -EINVAL with what
	 * is wrong with the value in @err.
	 */
	int (*parse)(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
		     size_t errlen);
	/* The keys parse() knows, for messages: "read_us, write_us". */
	const char *keys;
	int (*init)(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		    size_t errlen);
	/*
	 * Optional, modules with run-time parameters (params.c). get_params
	 * writes the values in effect into @opts->params, in parse()'s layout;
	 * set_params applies a whole set while I/O runs (-EINVAL with the
	 * reason for one that cannot change at run time); format_params writes
	 * @opts->params as "key=val,..." in the spec syntax (0, or -ENOSPC).
	 */
	int (*get_params)(struct fq_bdev *bdev, struct fq_bdev_opts *opts);
	int (*set_params)(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
			  size_t errlen);
	int (*format_params)(const struct fq_bdev_opts *opts, char *buf, size_t len);
};

/* The module called @name / of @kind, or NULL. */
const struct fq_bdev_module *fq_bdev_module_find(const char *name);
const struct fq_bdev_module *fq_bdev_module_get(enum fq_bdev_kind kind);

/* Fill @opts with the defaults of module @kind (zeroing it first). Returns 0 or -EINVAL. */
int fq_bdev_opts_init(struct fq_bdev_opts *opts, enum fq_bdev_kind kind);

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

/*
 * Copy @io->copy_nr ranges (@io->copy_ranges, byte offsets and lengths,
 * block multiples, 1..FQ_BDEV_COPY_MAX_RANGES) of @bdev one after another
 * to @io->offset; @io->length must be their sum. @io->type, iov and iovcnt
 * are not used. The top module's copy op does it when it has one (the vol
 * module shares whole clusters); otherwise the layer reads each range into
 * a buffer of at most FQ_BDEV_COPY_CHUNK bytes, allocated for the copy, and
 * writes it to the destination, through the whole stack, on @eng's thread.
 * Ranges are read in order and each chunk is written before the next is
 * read, so ranges that overlap the destination see the data of the chunks
 * copied before them. The ranges array must stay valid until the callback.
 * Returns as fq_bdev_submit.
 */
#define FQ_BDEV_COPY_MAX_RANGES 256u
#define FQ_BDEV_COPY_CHUNK (1u << 20)
int fq_bdev_copy(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_bdev_io *io);

/*
 * For stacking modules, on the I/O path. fq_bdev_push saves the caller's
 * callback in a new frame of @io (NULL when FQ_BDEV_MAX_STACK frames are in
 * use) and makes @done the callback; the layer fills the frame's scratch, then
 * fq_bdev_submit_down passes @io to bdev->base (on a refusal the frame is
 * popped again and the error returned; the caller's callback does not run).
 * In @done, fq_bdev_frame_top gives the frame back and fq_bdev_complete_up
 * pops it and calls the caller's callback with @result.
 */
struct fq_bdev_frame *fq_bdev_push(struct fq_bdev *bdev, struct fq_bdev_io *io, fq_bdev_cb done);
int fq_bdev_submit_down(struct fq_bdev *bdev, struct fq_bdev_io *io);
static inline struct fq_bdev_frame *fq_bdev_frame_top(struct fq_bdev_io *io)
{
	return &io->frame[io->depth - 1];
}
void fq_bdev_complete_up(struct fq_bdev_io *io, int result);

/*
 * Ask every layer of @bdev's stack to give back the I/O of @eng's thread it
 * holds forever (struct fq_bdev_ops.abort_held), so the connections waiting
 * for them can close at shutdown. Returns how many were completed.
 */
int fq_bdev_abort_held(struct fq_bdev *bdev, struct fq_engine *eng);

/* Flush @bdev and every bdev under it, synchronously (shutdown path). */
int fq_bdev_sync(struct fq_bdev *bdev);

/* The bottom bdev of @bdev's stack (@bdev itself when it sits on nothing). */
struct fq_bdev *fq_bdev_bottom(struct fq_bdev *bdev);

/*
 * Blocks of @bdev that hold storage: what the bottom of its stack reports
 * (ops->used_blocks), or all of them when it keeps no count.
 */
uint64_t fq_bdev_used_blocks(struct fq_bdev *bdev);

/*
 * Run-time parameters of one layer (delay, qos): @bdev's module's keys and
 * the values in effect, as "key=val,..." (the spec syntax) into @buf.
 * Returns 0, -ENOTSUP if the module has none, -ENOSPC if @buf is too small.
 */
int fq_bdev_params_text(struct fq_bdev *bdev, char *buf, size_t len);

/*
 * Change some of @bdev's run-time parameters while I/O runs: @kv is
 * "key=val[,key=val...]" as in a spec; keys not given keep their values.
 * All or nothing: on error nothing changed. On success @opts (may be NULL)
 * receives the whole set in effect, for the caller's record. Returns 0,
 * -ENOTSUP (the module has no run-time parameters) or -EINVAL, with the
 * reason in @err.
 */
int fq_bdev_set_params(struct fq_bdev *bdev, const char *kv, struct fq_bdev_opts *opts, char *err,
		       size_t errlen);

/*
 * The delay module: every read, and every write, write-zeroes and deallocate,
 * completes no sooner than the set number of microseconds after it was
 * submitted (the base's own time counts towards it). Options read_us and
 * write_us; changed at run time by fq_bdev_delay_set (takes effect for I/O
 * submitted afterwards; safe while I/O runs). Returns -EINVAL if @bdev is not
 * a delay bdev.
 */
int fq_bdev_delay_set(struct fq_bdev *bdev, uint32_t read_us, uint32_t write_us);

/*
 * The error module: I/O matching a rule is failed with a chosen NVMe status,
 * dropped (never completed; the host's timeout has to deal with it), or,
 * for writes, torn: the first tear_blocks blocks are written and the write
 * then fails. Up to FQ_BDEV_ERROR_RULES rules; the first active rule that
 * matches applies.
 */
#define FQ_BDEV_ERROR_RULES 8

enum fq_bdev_error_action {
	FQ_BDEV_ERR_FAIL,
	FQ_BDEV_ERR_DROP,
	FQ_BDEV_ERR_TEAR,
};

struct fq_bdev_error_rule {
	unsigned ops;	  /* bit (1u << FQ_BDEV_IO_*) per affected type; 0 = reads and writes */
	uint64_t lba;	  /* first block of the range (in the bdev's blocks) */
	uint64_t nlb;	  /* blocks in the range; 0 = to the end */
	uint32_t count;	  /* affect this many I/Os, then the rule ends; 0 = no limit */
	uint32_t percent; /* chance a matching I/O is affected, 1..100; 0 = 100 */
	enum fq_bdev_error_action action;
	uint16_t status;      /* FAIL/TEAR: NVMe status (FQ_STATUS() | DNR bits); 0 = media error */
	uint32_t tear_blocks; /* TEAR: blocks written before the failure */
};

/*
 * Install @rule in slot @idx (NULL clears the slot). Safe while I/O runs: the
 * slot is switched off while it changes. Returns 0 or -EINVAL.
 */
int fq_bdev_error_set(struct fq_bdev *bdev, int idx, const struct fq_bdev_error_rule *rule);
/* I/Os rule @idx has affected so far (-EINVAL as a negative value if bad). */
int64_t fq_bdev_error_hits(struct fq_bdev *bdev, int idx);

/*
 * The qos module: rate limits per direction in operations and bytes per
 * second (token buckets with a burst of burst_ms of the rate; an I/O over
 * the limit waits on its reactor, no thread sleeps), and suspend/resume.
 * Options read_iops, write_iops, read_bps, write_bps (0 = no limit),
 * burst_ms (default 100), max_held (default 4096).
 */
#define FQ_BDEV_QOS_KEEP UINT64_MAX /* in fq_bdev_qos_set: leave this limit as it is */

struct fq_bdev_qos_limits {
	uint64_t read_iops, write_iops, read_bps, write_bps; /* 0 = no limit */
	uint32_t burst_ms;				     /* 0 = keep */
};

struct fq_bdev_qos_stats {
	bool suspended;
	uint32_t held;	  /* I/Os held by a suspension now */
	uint64_t delayed; /* I/Os that have waited for a limit */
};

enum fq_bdev_qos_resume {
	FQ_BDEV_QOS_RESUME_NORMAL, /* held I/O goes on, through the limits */
	FQ_BDEV_QOS_RESUME_ERROR,  /* held I/O fails: Internal Error (00h/06h) */
	FQ_BDEV_QOS_RESUME_DISCARD, /* held I/O succeeds without reaching the base; reads give zeroes */
};

/*
 * Change limits while I/O runs (FQ_BDEV_QOS_KEEP keeps one). A changed limit
 * starts afresh: no debt or credit carries over. Returns 0 or -EINVAL.
 */
int fq_bdev_qos_set(struct fq_bdev *bdev, const struct fq_bdev_qos_limits *lim);
/* The limits and counters; either pointer may be NULL. Returns 0 or -EINVAL. */
int fq_bdev_qos_get(struct fq_bdev *bdev, struct fq_bdev_qos_limits *lim,
		    struct fq_bdev_qos_stats *st);
/*
 * Hold every new I/O until fq_bdev_qos_resume (beyond max_held held I/Os,
 * an I/O fails with Namespace Not Ready, which hosts retry). Returns 0,
 * -EALREADY if suspended, -EINVAL if @bdev is not a qos bdev.
 */
int fq_bdev_qos_suspend(struct fq_bdev *bdev);
/* Release what is held as @mode says (within 1 ms). 0, -EALREADY if not suspended, -EINVAL. */
int fq_bdev_qos_resume(struct fq_bdev *bdev, enum fq_bdev_qos_resume mode);

#endif
