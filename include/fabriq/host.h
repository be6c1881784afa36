/* SPDX-License-Identifier: MIT */
/*
 * libfabriq: an NVMe/TCP host (initiator) library.
 *
 * Objects
 *   struct fq_ctrlr       one NVMe controller reached over NVMe/TCP: its admin
 *                         queue, keep-alive, asynchronous events, reconnects.
 *   struct fq_ns          one active namespace of a controller.
 *   struct fq_qpair       one I/O queue pair (its own TCP connection).
 *   struct fq_poll_group  one io_uring that drives many qpairs of one thread.
 *
 * Threading
 *   - A controller may be used from any thread. Admin commands may be
 *     submitted from any thread; their callbacks run on the controller's
 *     internal service thread, which also sends Keep Alive, keeps one
 *     Asynchronous Event Request outstanding and reconnects after a failure.
 *   - A qpair belongs to the thread that allocated it. Only that thread may
 *     submit on it, poll it or free it; there are no locks on this path.
 *     Submission only queues the command; fq_qpair_process_completions() (or
 *     the poll group's) does the socket I/O and runs the callbacks, on the
 *     calling thread.
 *   - A poll group and all qpairs in it belong to one thread.
 *   - Embedded mode (fq_ctrlr_opts.loop, fq_poll_group_opts.loop): the
 *     controller has no threads; everything above that runs on its service
 *     thread runs in the turns of the caller's loop (fabriq/loop.h), and
 *     the controller and its qpairs belong to the loop's thread.
 *
 * Lifetimes
 *   - Data buffers and iovec *contents* passed to a submission must stay
 *     valid until its callback has run. The iovec array itself is copied.
 *   - Namespace handles stay valid until the controller is disconnected.
 *   - Free every qpair before disconnecting its controller.
 *
 * Errors
 *   Functions return 0 (or a count) on success and a negative errno value on
 *   failure; they never set errno. NVMe status is delivered only in a
 *   completion (struct fq_cpl). When a call fails, fq_last_error() gives a
 *   sentence naming the step and the reason on the calling thread.
 */
#ifndef FABRIQ_HOST_H
#define FABRIQ_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <fabriq/log.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fq_ctrlr;
struct fq_ns;
struct fq_qpair;
struct fq_poll_group;
struct fq_loop; /* fabriq/loop.h */

#define FQ_NQN_LEN 223	  /* NVMe Base 2.0 §4.5: NQNs are at most 223 bytes */
#define FQ_TRADDR_LEN 256 /* NVMe-oF 1.1 Fig. 32 TRADDR field */
#define FQ_TRSVCID_LEN 32 /* NVMe-oF 1.1 Fig. 32 TRSVCID field */
#define FQ_DISCOVERY_SUBNQN "nqn.2014-08.org.nvmexpress.discovery"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/**
 * fq_last_error() - Describe the last failure seen on the calling thread.
 *
 * Return: a sentence such as "connect: TCP connect to 127.0.0.1:4420
 * failed: Connection refused", or "" if nothing failed yet. The string is
 * thread-local and valid until the next library call on this thread.
 */
const char *fq_last_error(void);

/* ------------------------------------------------------------------ */
/* Transport IDs                                                       */
/* ------------------------------------------------------------------ */

enum fq_trtype {
	FQ_TRANSPORT_TCP = 3, /* NVMe-oF 1.1 Fig. 32 TRTYPE value for TCP */
};

enum fq_adrfam {
	FQ_AF_IPV4 = 1,
	FQ_AF_IPV6 = 2,
};

/*
 * Where a controller lives. The string form is a space-separated list of
 * key:value pairs, keys case-insensitive, e.g.
 *   "trtype:TCP adrfam:IPv4 traddr:192.0.2.1 trsvcid:4420 subnqn:nqn.x:y"
 * Recognised keys: trtype, adrfam, traddr, trsvcid, subnqn, hostnqn.
 */
struct fq_trid {
	int trtype;			  /* enum fq_trtype */
	int adrfam;			  /* enum fq_adrfam */
	char traddr[FQ_TRADDR_LEN + 1];	  /* IPv4 or IPv6 literal, or host name */
	char trsvcid[FQ_TRSVCID_LEN + 1]; /* port; "" means 4420 (8009 for discovery) */
	char subnqn[FQ_NQN_LEN + 1];
	char hostnqn[FQ_NQN_LEN + 1]; /* optional; overrides fq_ctrlr_opts.hostnqn */
};

/**
 * fq_trid_parse() - Parse a transport ID string.
 * @trid: filled on success; fields not in @str are defaulted (TCP, IPv4,
 *        or IPv6 when traddr contains ':').
 * @str:  the string.
 *
 * Return: 0, or -EINVAL for an unknown key, a bad value, a missing traddr,
 * or a field that is too long.
 */
int fq_trid_parse(struct fq_trid *trid, const char *str);

/**
 * fq_trid_format() - Write @trid in the string form fq_trid_parse() reads.
 *
 * Return: the length written (without the NUL), or -ENOSPC if @len is too
 * small (the output is then truncated but NUL-terminated).
 */
int fq_trid_format(const struct fq_trid *trid, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Completions                                                         */
/* ------------------------------------------------------------------ */

/* A completion queue entry (NVMe Base 2.0 §4.6, Fig. 89), as received. */
struct fq_cpl {
	uint32_t cdw0;
	uint32_t cdw1;
	uint16_t sqhd;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status; /* bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR */
};

/* Status code types (NVMe Base 2.0 §4.6.1.2). */
#define FQ_CPL_SCT_GENERIC 0
#define FQ_CPL_SCT_CMD_SPECIFIC 1
#define FQ_CPL_SCT_MEDIA 2
#define FQ_CPL_SCT_PATH 3
/* Path status set by the host itself when a connection is lost. */
#define FQ_CPL_SC_HOST_PATH_ERROR 0x70
#define FQ_CPL_SC_ABORTED_BY_HOST 0x71

static inline unsigned fq_cpl_sct(const struct fq_cpl *c)
{
	return (c->status >> 9) & 0x7;
}
static inline unsigned fq_cpl_sc(const struct fq_cpl *c)
{
	return (c->status >> 1) & 0xff;
}
static inline bool fq_cpl_is_error(const struct fq_cpl *c)
{
	return (c->status & 0x7fe) != 0;
}
static inline bool fq_cpl_is_path_error(const struct fq_cpl *c)
{
	return fq_cpl_sct(c) == FQ_CPL_SCT_PATH;
}

/**
 * fq_cpl_str() - Describe the status of @cpl, e.g. "LBA Out of Range
 * (sct 0x0 sc 0x80, DNR)". Return: @buf.
 */
const char *fq_cpl_str(const struct fq_cpl *cpl, char *buf, size_t len);

/* Completion callback: runs once per command, on the thread noted above. */
typedef void (*fq_cmd_cb)(void *arg, const struct fq_cpl *cpl);

/*
 * A raw NVMe submission queue entry (NVMe Base 2.0 §4.2, 64 bytes) for
 * passthrough. The library owns CID, PSDT and the data pointer (dptr) and
 * overwrites them; everything else is sent as given.
 */
struct fq_nvme_cmd {
	uint8_t opc;
	uint8_t flags; /* only FUSE (bits 1:0) is honoured */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint8_t dptr[16];
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};

/* ------------------------------------------------------------------ */
/* Controllers                                                         */
/* ------------------------------------------------------------------ */

enum fq_ctrlr_state {
	FQ_CTRLR_CONNECTING = 0, /* first bring-up in progress */
	FQ_CTRLR_LIVE,		 /* admin queue up, I/O allowed */
	FQ_CTRLR_RESETTING,	 /* connection lost; reconnecting on policy */
	FQ_CTRLR_FAILED,	 /* gave up (loss timeout, DNR); only disconnect remains */
	FQ_CTRLR_DELETING,	 /* fq_ctrlr_disconnect() in progress */
};

/* Async event callback (runs on the service thread, or the loop's); @cdw0 per NVMe Fig. 147. */
typedef void (*fq_aer_cb)(void *arg, uint32_t cdw0);
/* State change callback (runs on an internal thread, or the loop's). */
typedef void (*fq_state_cb)(void *arg, enum fq_ctrlr_state state);

struct fq_ctrlr_opts {
	size_t opts_size; /* sizeof(struct fq_ctrlr_opts) as the caller knows it */
	/* Host identity; defaults are stable per machine (/etc/nvme/hostnqn and
	 * hostid if present, else derived from /etc/machine-id). */
	char hostnqn[FQ_NQN_LEN + 1];
	uint8_t hostid[16];
	uint32_t num_io_queues;		/* requested with Set Features (default 4) */
	uint32_t io_queue_size;		/* default I/O queue entries (default 128) */
	uint32_t admin_queue_size;	/* default 32 */
	uint32_t keep_alive_timeout_ms; /* KATO; 0 disables (default 5000, 0 for discovery) */
	bool header_digest;		/* request HDGST in ICReq */
	bool data_digest;		/* request DDGST in ICReq */
	uint32_t connect_timeout_ms;	/* per connection step (default 10000) */
	uint32_t admin_timeout_ms;	/* per admin command (default 30000) */
	uint32_t io_timeout_ms;		/* per I/O command, 0 = none (default 30000) */
	int32_t reconnect_delay_ms;	/* wait between attempts (default 2000) */
	int32_t ctrl_loss_timeout_ms; /* give up after; -1 forever, 0 never retry (default 600000) */
	fq_aer_cb aer_cb;
	void *aer_cb_arg;
	fq_state_cb state_cb;
	void *state_cb_arg;
	/*
	 * Ask the controller to disable SQ flow control (Connect CATTR bit 2,
	 * NVMe-oF 1.1 §3.3). It then omits SQHD, and an NVMe/TCP controller
	 * may complete reads with the C2HData SUCCESS flag instead of a
	 * separate CapsuleResp, saving a PDU per read. Only ask targets that
	 * advertise it (discovery TREQ bit 2). Default false.
	 */
	bool disable_sqflow;
	/*
	 * Run the controller on this loop (fabriq/loop.h) instead of threads
	 * of its own: admin completions, Keep Alive, asynchronous events and
	 * reconnects become timers and pollers of @loop, and its qpairs that
	 * have no poll group use @loop's ring. The controller, its qpairs
	 * and its callbacks then belong to the loop's thread, and every call
	 * on them is made there; blocking calls turn the loop until they are
	 * done (docs/host-api.md, "Embedding the host"). NULL (default): the
	 * controller starts its service thread, as described above.
	 */
	struct fq_loop *loop;
};

/** fq_ctrlr_opts_init() - Fill @opts with defaults. @opts_size: sizeof(*opts). */
void fq_ctrlr_opts_init(struct fq_ctrlr_opts *opts, size_t opts_size);

/**
 * fq_ctrlr_connect() - Connect to the controller @trid names and bring it up.
 * @trid:  target; subnqn must be set (FQ_DISCOVERY_SUBNQN for discovery).
 * @opts:  options, or NULL for defaults.
 * @out:   the controller on success.
 *
 * Performs ICReq/ICResp, admin Connect (CNTLID 0xFFFF), Property Get CAP and
 * VS, CC.EN=1, waits for CSTS.RDY, Identify Controller, Set Features Number
 * of Queues, Async Event Configuration with one outstanding AER, starts
 * Keep Alive every KATO/2 and scans the active namespaces. Blocks the caller.
 *
 * Return: 0; -ECONNREFUSED/-EHOSTUNREACH/... from TCP connect; -ETIMEDOUT if
 * a step did not finish within connect_timeout_ms; -EPROTO for an ICResp or
 * PDU violation; -EACCES if the target refused the host NQN; -EINVAL for bad
 * arguments or a rejected Connect parameter; -EIO for another NVMe error
 * status; -ENOMEM. fq_last_error() names the step and the reason.
 */
int fq_ctrlr_connect(const struct fq_trid *trid, const struct fq_ctrlr_opts *opts,
		     struct fq_ctrlr **out);

/**
 * fq_ctrlr_disconnect() - Shut the controller down (CC.SHN normal shutdown
 * when connected), close its queues and free it. Every qpair must have been
 * freed. Return: 0, or -EBUSY if qpairs remain.
 */
int fq_ctrlr_disconnect(struct fq_ctrlr *ctrlr);

enum fq_ctrlr_state fq_ctrlr_get_state(const struct fq_ctrlr *ctrlr);
const char *fq_ctrlr_state_name(enum fq_ctrlr_state state);

/* The Identify Controller data: struct fq_id_ctrl of fabriq/nvme_spec.h. */
const void *fq_ctrlr_get_identify(const struct fq_ctrlr *ctrlr);
uint16_t fq_ctrlr_get_cntlid(const struct fq_ctrlr *ctrlr);
const struct fq_trid *fq_ctrlr_get_trid(const struct fq_ctrlr *ctrlr);
uint64_t fq_ctrlr_get_cap(const struct fq_ctrlr *ctrlr);
uint32_t fq_ctrlr_get_vs(const struct fq_ctrlr *ctrlr);
/* Number of I/O queues granted by Set Features Number of Queues. */
uint32_t fq_ctrlr_get_num_io_queues(const struct fq_ctrlr *ctrlr);
/*
 * Largest data transfer of one command in bytes: MDTS, capped at 2 MiB
 * (larger requests are split into several commands).
 */
uint32_t fq_ctrlr_get_max_xfer(const struct fq_ctrlr *ctrlr);
bool fq_ctrlr_is_discovery(const struct fq_ctrlr *ctrlr);
/* Number of times the controller was reconnected after a failure. */
uint32_t fq_ctrlr_get_reconnects(const struct fq_ctrlr *ctrlr);

/**
 * fq_ctrlr_admin_raw() - Submit an admin command.
 * @cmd: the command; @buf/@len its data (direction from the opcode bits,
 *       NVMe Base 2.0 Fig. 138: 01b host-to-controller, 10b
 *       controller-to-host); @cb runs on the service thread.
 *
 * Return: 0 if queued, -EAGAIN if the admin queue is full, -ENXIO if the
 * controller is not live, -EINVAL for a bad length or bidirectional opcode.
 */
int fq_ctrlr_admin_raw(struct fq_ctrlr *ctrlr, const struct fq_nvme_cmd *cmd, void *buf,
		       uint32_t len, fq_cmd_cb cb, void *cb_arg);

/**
 * fq_ctrlr_admin_raw_sync() - Submit an admin command and wait for it.
 * @cpl: optional, receives the completion.
 *
 * Return: 0 if it completed with success status; -EIO if it completed with
 * an error status (see @cpl); -ETIMEDOUT; -ENXIO; -EAGAIN; -EDEADLK when
 * called from an admin callback.
 */
int fq_ctrlr_admin_raw_sync(struct fq_ctrlr *ctrlr, const struct fq_nvme_cmd *cmd, void *buf,
			    uint32_t len, struct fq_cpl *cpl);

/*
 * Blocking admin helpers. Same returns as fq_ctrlr_admin_raw_sync().
 * fabriq/nvme_spec.h has the layouts of the Identify data and log pages.
 */
int fq_ctrlr_identify(struct fq_ctrlr *ctrlr, uint8_t cns, uint16_t cntid, uint32_t nsid, void *buf,
		      uint32_t len);
int fq_ctrlr_get_log_page(struct fq_ctrlr *ctrlr, uint8_t lid, uint32_t nsid, uint64_t offset,
			  bool rae, void *buf, uint32_t len);
int fq_ctrlr_get_feature(struct fq_ctrlr *ctrlr, uint8_t fid, uint8_t sel, uint32_t nsid,
			 uint32_t cdw11, void *buf, uint32_t len, uint32_t *result);
int fq_ctrlr_set_feature(struct fq_ctrlr *ctrlr, uint8_t fid, bool save, uint32_t nsid,
			 uint32_t cdw11, uint32_t cdw12, void *buf, uint32_t len, uint32_t *result);
/* Send one Keep Alive now and wait for it; @rtt_us receives the round trip. */
int fq_ctrlr_keep_alive(struct fq_ctrlr *ctrlr, uint64_t *rtt_us);

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

/* Active namespaces, in NSID order; 0 ends the iteration. */
uint32_t fq_ctrlr_first_ns(const struct fq_ctrlr *ctrlr);
uint32_t fq_ctrlr_next_ns(const struct fq_ctrlr *ctrlr, uint32_t prev_nsid);
uint32_t fq_ctrlr_num_ns(const struct fq_ctrlr *ctrlr);
/* NULL if @nsid is not active. */
struct fq_ns *fq_ctrlr_get_ns(struct fq_ctrlr *ctrlr, uint32_t nsid);
/* Re-read the active namespace list (Identify CNS 2, 3, 0). Return 0/-errno. */
int fq_ctrlr_rescan_ns(struct fq_ctrlr *ctrlr);

uint32_t fq_ns_get_id(const struct fq_ns *ns);
uint32_t fq_ns_get_sector_size(const struct fq_ns *ns);
uint64_t fq_ns_get_num_sectors(const struct fq_ns *ns);
uint64_t fq_ns_get_size(const struct fq_ns *ns);
/* The Identify Namespace data: struct fq_id_ns of fabriq/nvme_spec.h. */
const void *fq_ns_get_identify(const struct fq_ns *ns);
/* IDs from the Namespace Identification Descriptor list; false if absent. */
bool fq_ns_get_nguid(const struct fq_ns *ns, uint8_t nguid[16]);
bool fq_ns_get_eui64(const struct fq_ns *ns, uint8_t eui64[8]);
bool fq_ns_get_uuid(const struct fq_ns *ns, uint8_t uuid[16]);

/* ------------------------------------------------------------------ */
/* Poll groups                                                         */
/* ------------------------------------------------------------------ */

/** fq_poll_group_create() - Create a poll group owned by the calling thread. */
int fq_poll_group_create(struct fq_poll_group **out);

struct fq_poll_group_opts {
	size_t opts_size;
	/*
	 * The owner calls fq_poll_group_process_completions() in a tight loop
	 * (busy polling) rather than fq_poll_group_wait(). Each call then
	 * tries the sockets with non-blocking recv/sendmsg instead of arming
	 * io_uring operations, and completions are collected by the loop
	 * instead of interrupting it, which lowers latency (docs/performance.md).
	 * fq_poll_group_wait() still sleeps: it arms the receives first. A
	 * group that mostly sleeps is faster without it. Default false.
	 */
	bool busy_poll;
	/*
	 * Use this loop's ring (fabriq/loop.h) instead of creating one; the
	 * group's qpairs are then serviced by the loop's turns, and
	 * process_completions and wait turn the loop. busy_poll is the
	 * loop's then. NULL (default): the group has its own ring.
	 */
	struct fq_loop *loop;
};
void fq_poll_group_opts_init(struct fq_poll_group_opts *opts, size_t opts_size);
/** fq_poll_group_create_opts() - As fq_poll_group_create(), with options. */
int fq_poll_group_create_opts(const struct fq_poll_group_opts *opts, struct fq_poll_group **out);
/** fq_poll_group_destroy() - Return: 0, or -EBUSY if qpairs still use it. */
int fq_poll_group_destroy(struct fq_poll_group *pg);
/**
 * fq_poll_group_process_completions() - Do socket I/O for every qpair of the
 * group without sleeping and run completion callbacks.
 * Return: the number of completions, or -errno.
 */
int fq_poll_group_process_completions(struct fq_poll_group *pg);
/**
 * fq_poll_group_wait() - Like process_completions, but sleep in the kernel
 * until at least one completion ran or @timeout_ms passed (-1: no limit).
 * Return: the number of completions (0 on timeout), or -errno.
 */
int fq_poll_group_wait(struct fq_poll_group *pg, int timeout_ms);

/* ------------------------------------------------------------------ */
/* I/O qpairs                                                          */
/* ------------------------------------------------------------------ */

enum fq_qpair_state {
	FQ_QPAIR_DISCONNECTED = 0, /* not connected; reconnects when the controller is live */
	FQ_QPAIR_CONNECTING,
	FQ_QPAIR_LIVE,
	FQ_QPAIR_FAILED, /* the controller gave up */
};

struct fq_qpair_opts {
	size_t opts_size;
	uint32_t queue_size;		  /* 0: the controller's io_queue_size */
	struct fq_poll_group *poll_group; /* NULL: the qpair has its own ring */
};

void fq_qpair_opts_init(struct fq_qpair_opts *opts, size_t opts_size);

/**
 * fq_ctrlr_alloc_io_qpair() - Create and connect an I/O qpair (ICReq and
 * Fabrics Connect on a free queue ID). Blocks until connected. The calling
 * thread owns the qpair (and must own @opts->poll_group).
 *
 * Return: 0; -EBUSY if every granted queue ID is in use; -ENXIO if the
 * controller is not live; the connect errors of fq_ctrlr_connect().
 */
int fq_ctrlr_alloc_io_qpair(struct fq_ctrlr *ctrlr, const struct fq_qpair_opts *opts,
			    struct fq_qpair **out);

/**
 * fq_qpair_free() - Close the qpair. Outstanding commands complete with a
 * path error status (Host Pathing Error) before it returns. Return: 0.
 */
int fq_qpair_free(struct fq_qpair *qp);

enum fq_qpair_state fq_qpair_get_state(const struct fq_qpair *qp);
uint16_t fq_qpair_get_id(const struct fq_qpair *qp);
/* Commands submitted and not yet completed. */
uint32_t fq_qpair_outstanding(const struct fq_qpair *qp);
/* Largest number of commands that can be outstanding at once. */
uint32_t fq_qpair_depth(const struct fq_qpair *qp);

/**
 * fq_qpair_process_completions() - Send queued commands, read what the
 * target sent, and run callbacks; never sleeps. Also reconnects the qpair
 * after a controller reset and fires I/O timeouts.
 * @max: reserved, pass 0: everything one receive brought in is processed.
 *
 * Return: the number of completions run; -ENXIO if the qpair is not
 * connected (it will reconnect on a later call when it can); -EPERM if the
 * controller failed for good.
 */
int fq_qpair_process_completions(struct fq_qpair *qp, uint32_t max);

/**
 * fq_qpair_wait() - Sleep until at least one completion ran on @qp or
 * @timeout_ms passed (-1: no limit). Return: completions run, or -errno.
 */
int fq_qpair_wait(struct fq_qpair *qp, int timeout_ms);

/* Flags for I/O commands. */
#define FQ_IO_FLAGS_FUA (1u << 30)	     /* CDW12 bit 30: Force Unit Access */
#define FQ_IO_FLAGS_LIMITED_RETRY (1u << 31) /* CDW12 bit 31 */
#define FQ_IO_FLAGS_DEALLOC (1u << 25)	     /* Write Zeroes: CDW12 bit 25 DEAC */

/* Most iovec entries a vectored command may carry. */
#define FQ_MAX_IOVS 32

/*
 * I/O submission. All return 0 if queued; -EAGAIN if the qpair has no free
 * slot (process completions and retry); -ENXIO if the qpair is not
 * connected; -EINVAL for a zero or too large block count, a buffer length
 * that does not match, or more than FQ_MAX_IOVS segments. Transfers larger
 * than the controller's MDTS are split and complete once, with the first
 * error status of the pieces.
 */
int fq_ns_read(struct fq_ns *ns, struct fq_qpair *qp, void *buf, uint64_t lba, uint32_t nlb,
	       fq_cmd_cb cb, void *cb_arg, uint32_t flags);
int fq_ns_write(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba, uint32_t nlb,
		fq_cmd_cb cb, void *cb_arg, uint32_t flags);
int fq_ns_readv(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		uint64_t lba, uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags);
int fq_ns_writev(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		 uint64_t lba, uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags);
int fq_ns_compare(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		  uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags);
int fq_ns_flush(struct fq_ns *ns, struct fq_qpair *qp, fq_cmd_cb cb, void *cb_arg);
int fq_ns_write_zeroes(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
		       fq_cmd_cb cb, void *cb_arg, uint32_t flags);

/* A Dataset Management range (NVM Command Set 1.0 Fig. 39). */
struct fq_dsm_range_desc {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};
#define FQ_DSM_DEALLOCATE (1u << 2) /* CDW11 AD */
#define FQ_DSM_MAX_RANGES 256

/*
 * Dataset Management with @nr ranges (1..256) and @attrs (FQ_DSM_*). The
 * range array is copied at submission.
 */
int fq_ns_dsm(struct fq_ns *ns, struct fq_qpair *qp, const struct fq_dsm_range_desc *ranges,
	      uint16_t nr, uint32_t attrs, fq_cmd_cb cb, void *cb_arg);
/* Deallocate (trim) one range: DSM with AD set. */
int fq_ns_deallocate(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
		     fq_cmd_cb cb, void *cb_arg);

/* A Copy source range: @nlb blocks (1..65536) from @slba. */
struct fq_copy_range_desc {
	uint64_t slba;
	uint32_t nlb;
};
#define FQ_NS_COPY_MAX_RANGES 256

/*
 * Copy (NVM Command Set 2.0 §3.2.2): the controller copies the @nr ranges
 * (1..256), one after another, to the blocks from @dest_lba, without the
 * data crossing the network. The ranges go as descriptor format 0 and are
 * copied at submission. @flags: FQ_IO_FLAGS_FUA, FQ_IO_FLAGS_LIMITED_RETRY.
 * Return: as the calls above, and -EOPNOTSUPP when the controller does not
 * offer Copy with descriptor format 0 (Identify Controller ONCS bit 8,
 * OCFS bit 0). The namespace's own limits (Identify Namespace MSRC, MSSRL,
 * MCL; fq_ns_get_identify) are the controller's to check: a copy over them
 * completes with Command Size Limit Exceeded (SCT 1h, SC 83h).
 */
int fq_ns_copy(struct fq_ns *ns, struct fq_qpair *qp, uint64_t dest_lba,
	       const struct fq_copy_range_desc *ranges, uint16_t nr, fq_cmd_cb cb, void *cb_arg,
	       uint32_t flags);

/*
 * Fused Compare and Write (NVMe Base 2.0 §3.4.2): both halves are sent back
 * to back; @cb runs once, with the Write's status if the compare matched,
 * otherwise with the failing status. Needs ONCS/FUSES support. @nlb must
 * fit in one command (no MDTS split).
 */
int fq_ns_compare_and_write(struct fq_ns *ns, struct fq_qpair *qp, const void *cmp_buf,
			    const void *write_buf, uint64_t lba, uint32_t nlb, fq_cmd_cb cb,
			    void *cb_arg, uint32_t flags);

/* Raw I/O command passthrough on @qp; data direction from the opcode. */
int fq_qpair_io_raw(struct fq_qpair *qp, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		    fq_cmd_cb cb, void *cb_arg);

/**
 * fq_qpair_abort() - Ask the controller to abort every outstanding command
 * on @qp that was submitted with callback argument @cmd_cb_arg (Admin
 * Abort, NVMe Base 2.0 §5.1). The aborted commands complete through their
 * own callbacks; @cb (optional, runs on the service thread) reports the
 * first Abort's completion.
 * Return: the number of Abort commands sent (0: nothing matched), or -errno.
 */
int fq_qpair_abort(struct fq_qpair *qp, void *cmd_cb_arg, fq_cmd_cb cb, void *cb_arg);

/* ------------------------------------------------------------------ */
/* Blocking convenience calls                                          */
/* ------------------------------------------------------------------ */

/*
 * Each submits the command on @qp and processes completions (sleeping in
 * between) until it completes. @cpl (optional) receives the completion.
 * Return: 0 on success status; -EIO on an NVMe error status (see @cpl);
 * -ETIMEDOUT if it did not complete within the controller's I/O timeout
 * plus the time to abort it; the submission errors above.
 * Do not call these from a completion callback.
 */
int fq_ns_read_sync(struct fq_ns *ns, struct fq_qpair *qp, void *buf, uint64_t lba, uint32_t nlb,
		    struct fq_cpl *cpl);
int fq_ns_write_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		     uint32_t nlb, uint32_t flags, struct fq_cpl *cpl);
int fq_ns_readv_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		     uint64_t lba, uint32_t nlb, struct fq_cpl *cpl);
int fq_ns_writev_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		      uint64_t lba, uint32_t nlb, struct fq_cpl *cpl);
int fq_ns_compare_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		       uint32_t nlb, struct fq_cpl *cpl);
int fq_ns_flush_sync(struct fq_ns *ns, struct fq_qpair *qp, struct fq_cpl *cpl);
int fq_ns_write_zeroes_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
			    uint32_t flags, struct fq_cpl *cpl);
int fq_ns_dsm_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct fq_dsm_range_desc *ranges,
		   uint16_t nr, uint32_t attrs, struct fq_cpl *cpl);
int fq_ns_deallocate_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
			  struct fq_cpl *cpl);
int fq_ns_copy_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t dest_lba,
		    const struct fq_copy_range_desc *ranges, uint16_t nr, uint32_t flags,
		    struct fq_cpl *cpl);
int fq_ns_compare_and_write_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *cmp_buf,
				 const void *write_buf, uint64_t lba, uint32_t nlb,
				 struct fq_cpl *cpl);
int fq_qpair_io_raw_sync(struct fq_qpair *qp, const struct fq_nvme_cmd *cmd, void *buf,
			 uint32_t len, struct fq_cpl *cpl);

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

/* One discovery log entry (NVMe-oF 1.1 Fig. 32), decoded. */
struct fq_disc_entry {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype; /* 1 referral, 2 NVM subsystem, 3 current discovery */
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	char trsvcid[FQ_TRSVCID_LEN + 1];
	char traddr[FQ_TRADDR_LEN + 1];
	char subnqn[FQ_NQN_LEN + 1];
	struct fq_trid trid; /* ready for fq_ctrlr_connect() (TCP entries) */
	uint32_t depth;	     /* 0: from the first controller; n: n referrals away */
};

#define FQ_DISC_FOLLOW_REFERRALS (1u << 0)
#define FQ_DISC_MAX_REFERRAL_DEPTH 4

/**
 * fq_ctrlr_get_discovery_log() - Read the whole discovery log of a
 * connected discovery controller: header, then the entries, then the header
 * again; retried if the generation counter changed in between.
 * @entries: an array allocated by the library; free with free().
 * Return: the number of entries, or -errno (-EAGAIN if the log kept
 * changing).
 */
int fq_ctrlr_get_discovery_log(struct fq_ctrlr *ctrlr, struct fq_disc_entry **entries);

/**
 * fq_discover() - Connect to the discovery controller at @trid (subnqn
 * defaults to the well-known discovery NQN, the port to 8009), read its log,
 * optionally follow referrals (up to FQ_DISC_MAX_REFERRAL_DEPTH, each
 * address once), disconnect.
 * Return: the number of entries in *@entries (free with free()), or -errno.
 */
int fq_discover(const struct fq_trid *trid, const struct fq_ctrlr_opts *opts, unsigned flags,
		struct fq_disc_entry **entries);

#ifdef __cplusplus
}
#endif

#endif
