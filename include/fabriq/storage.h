/* SPDX-License-Identifier: MIT */
/*
 * The application storage interface: read and write named storage by byte
 * offset, synchronously, asynchronously or in batches, without learning
 * NVMe. One API over several backends chosen by one line of configuration:
 *
 *   backend = nvmeof   NVMe/TCP through libfabriq (several I/O queues,
 *                      digests, keep-alive, reconnect)
 *   backend = file     local files or block devices through io_uring
 *
 * Names
 *   Every I/O names what it addresses, resolved explicitly and never
 *   guessed:
 *     "nsid:N"          namespace N (1-based; for the file backend, the N-th
 *                       file_path of the configuration)
 *     "nguid:HEX32"     the namespace with this NGUID (dashes allowed)
 *     "uuid:8-4-4-4-12" the namespace with this UUID
 *     "NAME"            a name the [names] section maps to one of the above
 *   An unknown or unresolvable name fails with -ENOENT and a message saying
 *   which forms exist.
 *
 * Threading
 *   A handle belongs to the thread that opened it (its I/O queues are owned
 *   by that thread): only that thread may call the functions below with it.
 *   Open one handle per thread for parallel I/O. Completion callbacks run
 *   on the owning thread, inside fq_storage_poll(), fq_storage_wait(),
 *   fq_storage_batch(), fq_storage_health_check() or a *_sync call, and may
 *   submit new I/O.
 *
 * Errors
 *   Functions return 0 (or a count) on success and a negative errno value on
 *   failure; they never set errno. fq_storage_last_error() gives a sentence
 *   describing the last failure of the handle.
 *
 * Alignment
 *   Offsets and lengths may be any byte values. Ranges that do not start or
 *   end on a block boundary cost extra work (docs/storage-api.md): a read
 *   bounces its partial first and last blocks, a write first reads them
 *   (read-modify-write). Overlapping writes are serialised.
 *
 * Writes and retries
 *   A write reported successful was applied exactly once: a retry of a
 *   transient failure is only sent while no overlapping write has been
 *   issued since, so a retry can never undo a later acknowledged write. A
 *   write reported failed may or may not have reached the media, as on any
 *   disk.
 */
#ifndef FABRIQ_STORAGE_H
#define FABRIQ_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fq_storage;

enum fq_storage_op {
	FQ_STORAGE_READ = 0,
	FQ_STORAGE_WRITE,
	FQ_STORAGE_FLUSH, /* make completed writes durable; offset and len unused */
	FQ_STORAGE_NUM_OPS,
};

/* Completion of one asynchronous operation: @result is 0 or -errno. */
typedef void (*fq_storage_cb)(void *arg, int result);

/**
 * fq_storage_open() - Open storage described by an INI file.
 * @path:   the configuration file (docs/storage-api.md lists every key).
 * @out:    the handle on success.
 * @err:    optional; receives "FILE:LINE: message" on a configuration error,
 *          or what failed while connecting.
 * @errlen: size of @err.
 *
 * Return: 0; -EINVAL for a bad configuration (unknown key, bad value,
 * missing required key); -EPROTONOSUPPORT for a transport not supported yet
 * (rdma); -ENOENT if the file or a [names] target does not exist; the
 * connection errors of fq_ctrlr_connect() for nvmeof; -ENOMEM.
 */
int fq_storage_open(const char *path, struct fq_storage **out, char *err, size_t errlen);

/**
 * fq_storage_open_string() - Like fq_storage_open(), with the INI text
 * itself in @ini (error messages then say "config:LINE").
 */
int fq_storage_open_string(const char *ini, struct fq_storage **out, char *err, size_t errlen);

/**
 * fq_storage_close() - Wait for outstanding operations (their callbacks
 * run), disconnect and free the handle. Return: 0.
 */
int fq_storage_close(struct fq_storage *st);

/** fq_storage_last_error() - The last failure of @st, or "". */
const char *fq_storage_last_error(const struct fq_storage *st);

/* What a name resolves to. */
struct fq_storage_ns_info {
	uint32_t nsid;
	uint32_t block_size; /* bytes; I/O aligned to it avoids extra work */
	uint64_t size;	     /* bytes */
	uint8_t nguid[16];   /* all zero when the namespace reports none */
	uint8_t uuid[16];
};

/**
 * fq_storage_lookup() - Resolve @name.
 * Return: 0, or -ENOENT for an unknown name (see fq_storage_last_error()).
 */
int fq_storage_lookup(struct fq_storage *st, const char *name, struct fq_storage_ns_info *info);

/*
 * Synchronous I/O: returns when the operation completed. @len bytes at byte
 * @offset of @name. Return: 0; -ENOENT unknown name; -ERANGE beyond the end;
 * -EINVAL zero length; -ENOTCONN target unreachable (fails at once while
 * the connection is down; the handle reconnects by itself); -ETIMEDOUT;
 * -EIO a media or protocol error.
 */
int fq_storage_read_sync(struct fq_storage *st, const char *name, uint64_t offset, void *buf,
			 size_t len);
int fq_storage_write_sync(struct fq_storage *st, const char *name, uint64_t offset, const void *buf,
			  size_t len);
/* Flush @name, or every namespace when @name is NULL. */
int fq_storage_flush(struct fq_storage *st, const char *name);

/*
 * Asynchronous I/O: return 0 once queued; @cb runs later with the result.
 * @buf must stay valid until then. Return: the argument errors of the sync
 * calls (then @cb never runs), or -EAGAIN when every request slot is busy
 * (poll and retry).
 */
int fq_storage_read_async(struct fq_storage *st, const char *name, uint64_t offset, void *buf,
			  size_t len, fq_storage_cb cb, void *cb_arg);
int fq_storage_write_async(struct fq_storage *st, const char *name, uint64_t offset,
			   const void *buf, size_t len, fq_storage_cb cb, void *cb_arg);

/**
 * fq_storage_poll() - Submit what is queued and run the callbacks of
 * operations that completed, without sleeping. Also lets a lost connection
 * come back. Return: callbacks run, or -errno.
 */
int fq_storage_poll(struct fq_storage *st);

/**
 * fq_storage_wait() - Wait until at least one callback ran, nothing is
 * outstanding, or @timeout_ms passed (-1: no limit). Waiting follows
 * polling_mode: busy polling, sleeping in the kernel, or adaptive.
 * Return: callbacks run (0: timeout or nothing outstanding), or -errno.
 */
int fq_storage_wait(struct fq_storage *st, int timeout_ms);

/** fq_storage_outstanding() - Operations submitted and not yet completed. */
uint32_t fq_storage_outstanding(const struct fq_storage *st);

/* One operation of a batch. */
struct fq_storage_io {
	enum fq_storage_op op;
	const char *name;
	uint64_t offset;
	void *buf; /* read into / write from; unused for FLUSH */
	size_t len;
	fq_storage_cb cb; /* optional */
	void *cb_arg;
	int result; /* set before cb runs: 0 or -errno */
};

/**
 * fq_storage_batch() - Submit @n operations together (one kernel entry per
 * max_batch_size of them). Each completes on its own: its result field is
 * set and its callback runs. Every operation is checked first; if one is
 * invalid nothing is submitted. The array must stay valid until every
 * callback ran. Callbacks of earlier operations may run inside this call
 * while it waits for free request slots.
 * Return: @n, or -errno (the first invalid operation's error).
 */
int fq_storage_batch(struct fq_storage *st, struct fq_storage_io *ios, unsigned n);

/* Counters of one operation type since open or the last reset. */
struct fq_storage_op_stats {
	uint64_t ops;	  /* completed application operations */
	uint64_t bytes;	  /* bytes the application asked for */
	uint64_t errors;  /* operations completed with an error */
	uint64_t retries; /* backend resubmissions after transient errors */
	uint64_t lat_mean_ns;
	uint64_t lat_min_ns;
	uint64_t lat_max_ns;
	uint64_t lat_p50_ns; /* percentiles from a log-linear histogram (< 7% error) */
	uint64_t lat_p90_ns;
	uint64_t lat_p99_ns;
	uint64_t lat_p999_ns;
};

struct fq_storage_stats {
	struct fq_storage_op_stats op[FQ_STORAGE_NUM_OPS];
	uint64_t rmw_reads;	  /* block reads issued to complete unaligned writes */
	uint64_t bounce_bytes;	  /* bytes moved through bounce blocks */
	uint64_t elapsed_ns;	  /* since open or the last reset */
	uint32_t queue_capacity;  /* request slots (io_queue_count x queue_depth) */
	uint32_t outstanding;	  /* now */
	uint32_t outstanding_max; /* highest seen */
	double outstanding_mean;  /* sampled at each submission */
	uint32_t batch_size;	  /* submissions per kernel entry now */
	uint32_t poll_spin_us;	  /* adaptive busy-poll window now */
	uint64_t waits_spun;	  /* waits satisfied while busy polling */
	uint64_t waits_slept;	  /* waits that slept in the kernel */
};

/** fq_storage_get_stats() - Copy the counters. Return: 0. */
int fq_storage_get_stats(struct fq_storage *st, struct fq_storage_stats *stats);
/** fq_storage_reset_stats() - Zero the counters (not the tuning state). */
void fq_storage_reset_stats(struct fq_storage *st);

enum fq_storage_conn {
	FQ_STORAGE_UP = 0,     /* I/O flows */
	FQ_STORAGE_CONNECTING, /* connection lost; reconnecting by itself */
	FQ_STORAGE_DOWN,       /* gave up (controller loss timeout); reopen */
};

struct fq_storage_health {
	enum fq_storage_conn state;
	char state_name[16];		  /* "up", "connecting", "down" */
	char backend[16];		  /* "nvmeof" or "file" */
	int last_errno;			  /* 0 or -errno of the last failure */
	char last_error[256];		  /* its description, "" if none */
	int64_t since_last_completion_ns; /* -1 if nothing completed yet */
	uint32_t queues_live;
	uint32_t queues_total;
	uint32_t reconnects;
	uint64_t rtt_ns; /* keep-alive round trip measured by this check, 0 if none */
};

/**
 * fq_storage_health_check() - Probe the backend (for nvmeof: a Keep Alive
 * round trip when the controller is live) and fill @h.
 * Return: 0 when up; -ENOTCONN while reconnecting; -ENODEV when down for
 * good.
 */
int fq_storage_health_check(struct fq_storage *st, struct fq_storage_health *h);

/* Name of an operation type: "read", "write", "flush". */
const char *fq_storage_op_name(enum fq_storage_op op);

#ifdef __cplusplus
}
#endif

#endif
