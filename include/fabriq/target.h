/* SPDX-License-Identifier: MIT */
/*
 * The Fabriq NVMe/TCP target, embeddable: what fabriqd runs, as a library
 * (docs/target.md).
 *
 * Life of a target
 *   fq_target_create()         an empty target with its options
 *   fq_target_load_config()    ports, subsystems and namespaces from an INI file
 *   fq_target_add_port()       ... or built by hand
 *   fq_target_add_subsystem()
 *   fq_target_add_host()
 *   fq_target_add_ns()
 *   fq_target_start()          check the configuration, open the namespaces,
 *                              listen, start the reactor threads
 *   fq_target_reload_config()  apply namespace changes from the INI file
 *   fq_target_stop()           stop accepting, finish in-flight commands,
 *                              flush file namespaces, join the threads
 *   fq_target_destroy()        stop if running, free everything
 *
 * The configuration calls are for a target that has not started: they fail
 * with -EBUSY afterwards. Namespace specs are those of fabriqd's --ns and of
 * the INI file's ns keys: "ram:SIZE", "null:SIZE", "file:PATH[:SIZE]", with
 * options after commas (bs=512|4096, direct=0|1, nsid=N, uuid=U, nguid=G).
 *
 * Threading: one thread configures, starts, stops and destroys a target.
 * The reactor threads it starts serve the connections; none of these calls
 * is made from them. The target does not handle signals; a program that
 * wants SIGPIPE ignored (a host may close its socket at any time) does so.
 *
 * On the caller's loop (fq_target_opts.loop, an fq_loop of fabriq/loop.h
 * from libfabriq): the target has one reactor and starts no thread. The
 * loop's turns (fq_loop_run() or fq_loop_turn() on the thread that owns the
 * loop) serve its connections, next to whatever else runs on that loop,
 * such as controllers and qpairs of fabriq/host.h. fq_target_start(),
 * fq_target_stop() and fq_target_destroy() are then called on the loop's
 * thread, and stop turns the loop until the target's connections are
 * closed. Destroy the target before the loop. The live calls below may
 * still come from other threads while the loop turns.
 *
 * Errors: functions return 0 or a negative errno value;
 * fq_target_last_error() then gives a sentence naming what was wrong.
 */
#ifndef FABRIQ_TARGET_H
#define FABRIQ_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fq_target;
struct fq_loop; /* fabriq/loop.h */

#define FQ_TARGET_NQN_LEN 223 /* NVMe Base 2.0 §4.5 */

struct fq_target_opts {
	size_t opts_size; /* sizeof(struct fq_target_opts) as the caller knows it */
	/*
	 * Each of these overrides the configuration (the INI file's [target]
	 * section, or the defaults) when set; the defaults leave it alone.
	 */
	int reactors;	      /* reactor threads; 0: configuration (default) */
	int64_t busy_poll_us; /* spin before sleeping when idle; -1: configuration */
	int log_level;	      /* FQ_LOG_* of fabriq/log.h; -1: configuration (info) */
	/*
	 * Run on this loop (see "On the caller's loop" above) instead of
	 * reactor threads: one reactor (reactors 0 or 1, and a configuration
	 * file that asks for more fails the start); busy_poll_us has no effect,
	 * the loop's own busy_poll option decides. NULL (default): threads.
	 */
	struct fq_loop *loop;
};

/** fq_target_opts_init() - Fill @opts with defaults. @opts_size: sizeof(*opts). */
void fq_target_opts_init(struct fq_target_opts *opts, size_t opts_size);

/**
 * fq_target_create() - Create a target with no ports and no subsystems.
 * @opts: options, or NULL for defaults.
 * Return: 0, -EINVAL for a bad option (loop with more than one reactor
 * included), or -ENOMEM.
 */
int fq_target_create(const struct fq_target_opts *opts, struct fq_target **out);

/**
 * fq_target_last_error() - Describe the last failure of a call on @t.
 * Return: a sentence such as "port io (127.0.0.1:4420): Address already in
 * use", or "" if nothing failed. Valid until the next call on @t.
 */
const char *fq_target_last_error(const struct fq_target *t);

/**
 * fq_target_load_config() - Add what the INI file @path describes
 * (docs/configuration.md): [target] settings, ports, subsystems, hosts and
 * namespaces. Remembered for fq_target_reload_config().
 * Return: 0; -EINVAL with "FILE:LINE: ..." in fq_target_last_error(); the
 * -errno of opening or reading the file; -EBUSY once started.
 */
int fq_target_load_config(struct fq_target *t, const char *path);

/**
 * fq_target_add_port() - Listen on @listen, "ADDR:PORT" or "[V6ADDR]:PORT"
 * with a numeric address. Port 0 picks a free port at start
 * (fq_target_get_port() then tells which).
 * @name: the port's name in messages (letters, digits, '-', '_').
 * @discovery_only: serve only the discovery subsystem here (e.g. on 8009);
 *        otherwise the port serves every subsystem and discovery.
 * Return: 0, -EINVAL for a bad address or too many ports, -EBUSY once started.
 */
int fq_target_add_port(struct fq_target *t, const char *name, const char *listen,
		       bool discovery_only);

/**
 * fq_target_add_subsystem() - Add an NVM subsystem named @nqn, exported on
 * every port that is not discovery-only and open to any host until
 * fq_target_add_host() names one.
 * Return: 0, -EEXIST if @nqn is already there, -EINVAL if the limit is
 * reached or @nqn is too long (its syntax is checked at start), -ENOMEM,
 * -EBUSY once started.
 */
int fq_target_add_subsystem(struct fq_target *t, const char *nqn);

/**
 * fq_target_add_host() - Allow host @hostnqn on subsystem @subnqn; once a
 * subsystem has hosts, only they may connect.
 * Return: 0, -ENOENT if there is no subsystem @subnqn, -EINVAL for a bad or
 * repeated NQN, -EBUSY once started.
 */
int fq_target_add_host(struct fq_target *t, const char *subnqn, const char *hostnqn);

/**
 * fq_target_add_ns() - Add a namespace made from @spec (see above) to
 * subsystem @subnqn. The backend is opened at start.
 * Return: 0, -ENOENT if there is no subsystem @subnqn, -EINVAL for a bad
 * spec or too many namespaces, -EBUSY once started.
 */
int fq_target_add_ns(struct fq_target *t, const char *subnqn, const char *spec);

/**
 * fq_target_start() - Check the configuration, fill in its defaults (NSIDs,
 * NGUIDs, serial numbers, ports 4420 and 8009), open the namespaces, bind
 * the ports and start serving. Also sets the log level (fq_log_set_level()).
 * Return: 0; -EINVAL for a configuration error, or the -errno of what
 * failed (a namespace that cannot be opened, a port in use, ...); see
 * fq_target_last_error(). After a failure only fq_target_destroy() remains.
 */
int fq_target_start(struct fq_target *t);

/**
 * fq_target_reload_config() - Re-read the file fq_target_load_config() read
 * and apply its namespace additions and removals to the running target;
 * connected hosts are told through an asynchronous event. Other changes
 * (ports, subsystems, settings) need a restart: they are logged as warnings
 * and ignored. If the file does not load or is not valid, nothing changes.
 * Return: 0; -ENOENT if the target was not configured from a file; -EINVAL
 * if it is not running; -EINVAL or -errno with the reason in
 * fq_target_last_error().
 */
int fq_target_reload_config(struct fq_target *t);

/**
 * fq_target_stop() - Stop accepting connections, finish in-flight commands,
 * flush file namespaces and join the reactor threads (on a caller's loop:
 * turn that loop until the connections are closed and nothing of the
 * target is left on it). Idempotent; does nothing on a target that never
 * started.
 */
void fq_target_stop(struct fq_target *t);

/** fq_target_destroy() - Stop @t if it runs and free it. @t may be NULL. */
void fq_target_destroy(struct fq_target *t);

/* ------------------------------------------------------------------ */
/* What a started target serves                                        */
/* ------------------------------------------------------------------ */

struct fq_target_port_info {
	char name[32];
	char addr[64];
	uint16_t port; /* the bound port, also when 0 was asked */
	bool discovery_only;
};

struct fq_target_subsys_info {
	char nqn[FQ_TARGET_NQN_LEN + 1];
	bool allow_any_host;
	uint32_t num_ns; /* active namespaces */
};

struct fq_target_ns_info {
	uint32_t nsid;
	char name[64]; /* the backend, e.g. "ram0" or the file path */
	uint64_t num_blocks;
	uint32_t block_size;
};

/* Reactor threads serving the target (0 before start). */
int fq_target_get_num_reactors(const struct fq_target *t);
/*
 * Each returns 0 and fills @info, or -ENOENT when @idx is past the end, so a
 * loop from 0 lists them all; -EINVAL if the target has not started.
 */
int fq_target_get_port(const struct fq_target *t, int idx, struct fq_target_port_info *info);
int fq_target_get_subsystem(const struct fq_target *t, int idx, struct fq_target_subsys_info *info);
int fq_target_get_ns(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
		     struct fq_target_ns_info *info);

/* ------------------------------------------------------------------ */
/* Live changes to a running target                                   */
/* ------------------------------------------------------------------ */

/*
 * What fabriqd's management socket does (docs/rpc.md). These calls are for
 * a started target and may be made from a thread other than the one that
 * started it, and concurrently with the getters above and with
 * fq_target_reload_config(); they are never made from a reactor, and all
 * of them must have returned before fq_target_stop(). Slow work (opening a
 * file namespace, binding a port) runs in the calling thread, so reactors
 * keep serving I/O meanwhile. Each returns 0, -EINVAL when the target is
 * not running or an argument is bad, -ENOENT for an unknown subsystem,
 * host, namespace, listener or controller, -EEXIST for a duplicate,
 * -ENOSPC at a limit, with the reason in fq_target_last_error() (which,
 * with several threads, the caller serializes).
 */

/**
 * fq_target_live_create_subsystem() - Add subsystem @nqn, exported on every
 * port that is not discovery-only, open to any host until a host is added
 * unless @allow_any_host is false. @serial, @model: NULL for the defaults.
 */
int fq_target_live_create_subsystem(struct fq_target *t, const char *nqn, const char *serial,
				    const char *model, bool allow_any_host);
/** fq_target_live_delete_subsystem() - Remove @nqn and disconnect its controllers. */
int fq_target_live_delete_subsystem(struct fq_target *t, const char *nqn);
/**
 * fq_target_live_add_host() - Allow @hostnqn on @nqn. Allowing a host does
 * not turn allow-any-host off (fq_target_live_allow_any_host() does).
 * Controllers already connected stay, whatever the list says.
 */
int fq_target_live_add_host(struct fq_target *t, const char *nqn, const char *hostnqn);
int fq_target_live_remove_host(struct fq_target *t, const char *nqn, const char *hostnqn);
int fq_target_live_allow_any_host(struct fq_target *t, const char *nqn, bool allow);
/**
 * fq_target_live_add_ns() - Add a namespace made from @spec (the syntax of
 * fq_target_add_ns(), with stacked modules) to @nqn. @nsid: 0 for the
 * spec's nsid= or the lowest free one. The NSID it got goes to @out_nsid.
 * Connected hosts get the Namespace Attribute Changed event.
 */
int fq_target_live_add_ns(struct fq_target *t, const char *nqn, const char *spec, uint32_t nsid,
			  uint32_t *out_nsid);
/**
 * fq_target_live_remove_ns() - Take namespace @nsid out of @nqn; commands
 * already at its backend finish, and the backend is closed at exit.
 */
int fq_target_live_remove_ns(struct fq_target *t, const char *nqn, uint32_t nsid);
/**
 * fq_target_live_ns_changed() - Tell the hosts connected to @nqn that
 * namespace @nsid changed (its bdev was resized): a Namespace Attribute
 * Changed event, after which Identify reports the bdev's new size.
 */
int fq_target_live_ns_changed(struct fq_target *t, const char *nqn, uint32_t nsid);
/**
 * fq_target_live_add_listener() - Export @nqn on @listen ("ADDR:PORT"),
 * opening a new port there if the target does not listen there yet.
 */
int fq_target_live_add_listener(struct fq_target *t, const char *nqn, const char *listen);
/** fq_target_live_remove_listener() - Stop exporting @nqn on @listen (new Connects). */
int fq_target_live_remove_listener(struct fq_target *t, const char *nqn, const char *listen);
/**
 * fq_target_live_add_referral() - List another discovery service at
 * @listen ("ADDR:PORT", numeric) in the discovery log page, as a referral
 * entry (SUBTYPE 1h) that every host sees. @nqn: its discovery subsystem
 * NQN, NULL for the well-known nqn.2014-08.org.nvmexpress.discovery.
 * -EINVAL for a bad address or NQN, -EEXIST if @listen is listed already.
 */
int fq_target_live_add_referral(struct fq_target *t, const char *listen, const char *nqn);
/** fq_target_live_remove_referral() - Stop listing the referral to @listen. */
int fq_target_live_remove_referral(struct fq_target *t, const char *listen);
/**
 * fq_target_live_create_bdev() - Open a named bdev: the stack @spec
 * describes (a namespace spec without nsid, uuid or nguid), served by no
 * namespace until one names it ("bdev:NAME" in fq_target_live_add_ns()).
 * @name: 1..31 letters, digits, '-', '_' or '.'. -EINVAL for a bad name or
 * spec, -EEXIST for a name taken, -ENOSPC at the limit, or the backend's
 * error.
 */
int fq_target_live_create_bdev(struct fq_target *t, const char *name, const char *spec);
/**
 * fq_target_live_delete_bdev() - Close named bdev @name. -EBUSY while a
 * namespace uses it. One that a namespace used before is closed at exit
 * (a removed namespace's last commands may still be at it), and its name
 * is free at once.
 */
int fq_target_live_delete_bdev(struct fq_target *t, const char *name);

/* A named bdev. */
struct fq_target_bdev_info {
	char name[32];
	char nqn[FQ_TARGET_NQN_LEN + 1]; /* the subsystem of the namespace using it, "" if none */
	uint32_t nsid;			 /* that namespace, 0 if none */
	uint64_t num_blocks;
	uint32_t block_size;
	char spec[4352]; /* its stack, as a namespace spec */
};

/* Named bdev @idx (0..): 0, or -ENOENT past the last. */
int fq_target_get_bdev(const struct fq_target *t, int idx, struct fq_target_bdev_info *info);

/**
 * fq_target_live_set_bdev_params() - Change run-time parameters of one
 * layer of namespace @nsid's bdev stack while I/O runs: the @index-th
 * (0: the top-most) layer of module @module ("delay": read_us, write_us;
 * "qos": read_iops, write_iops, read_bps, write_bps, burst_ms; "error":
 * the keys of its rule, op, lba, count, ...). @params is
 * "key=val[,key=val...]" as in a namespace spec; keys not given keep their
 * values. The namespace's spec (config dumps, the state file) records the
 * new values. -ENOENT no such namespace or layer, -ENOTSUP the module has
 * no run-time parameters, -EINVAL a bad key or value (nothing changed).
 */
int fq_target_live_set_bdev_params(struct fq_target *t, const char *nqn, uint32_t nsid,
				   const char *module, int index, const char *params);

/* What a qos layer does with the I/O it held while suspended, on resume. */
enum fq_target_qos_resume {
	FQ_TARGET_QOS_RESUME_NORMAL,  /* it goes on, through the limits */
	FQ_TARGET_QOS_RESUME_ERROR,   /* it fails with Internal Error */
	FQ_TARGET_QOS_RESUME_DISCARD, /* it succeeds without reaching the storage */
};

/**
 * fq_target_live_qos_suspend() - Hold every new I/O of namespace @nsid in
 * its @index-th qos layer until fq_target_live_qos_resume(). -EALREADY if
 * suspended, -ENOENT without a qos layer.
 */
int fq_target_live_qos_suspend(struct fq_target *t, const char *nqn, uint32_t nsid, int index);
int fq_target_live_qos_resume(struct fq_target *t, const char *nqn, uint32_t nsid, int index,
			      enum fq_target_qos_resume mode);
/**
 * fq_target_live_disconnect() - Close controller @cntlid (its admin and
 * I/O queues) within about a quarter second.
 */
int fq_target_live_disconnect(struct fq_target *t, uint16_t cntlid);

/* More of what a started target serves (same return values as above). */
struct fq_target_subsys_detail {
	char serial[21];
	char model[41];
	int num_hosts;
	uint32_t ports; /* bit i: exported on port i of fq_target_get_port() */
};

struct fq_target_ns_stats {
	uint64_t reads, writes;
	uint64_t bytes_read, bytes_written;
	uint64_t errors; /* I/O commands completed with an error status */
};

struct fq_target_ctrl_info {
	uint16_t cntlid;
	char subnqn[FQ_TARGET_NQN_LEN + 1];
	char hostnqn[FQ_TARGET_NQN_LEN + 1];
	char addr[64];	      /* the host's address and port */
	char port_name[32];   /* the port it connected to */
	uint32_t io_queues;   /* I/O queues connected */
	uint32_t queue_depth; /* entries of its I/O queues (0 before one connects) */
	uint32_t kato_ms;
	bool hdgst, ddgst; /* header and data digests on its admin queue */
};

struct fq_target_referral_info {
	char addr[64]; /* numeric IPv4 or IPv6 address */
	uint16_t port;
	char nqn[FQ_TARGET_NQN_LEN + 1]; /* its discovery subsystem NQN */
};

int fq_target_get_subsystem_detail(const struct fq_target *t, int idx,
				   struct fq_target_subsys_detail *d);
/* One layer of a namespace's bdev stack. */
struct fq_target_bdev_layer {
	char module[16];  /* "delay", "qos", "ram", "file", ... */
	char name[64];	  /* the bdev's name */
	char params[256]; /* run-time parameters "key=val,..." ("" if it has none) */
};

/* Layer @layer (0: the top) of namespace @ns_idx's stack: 0, or -ENOENT past the bottom. */
int fq_target_get_bdev_layer(const struct fq_target *t, int subsys_idx, uint32_t ns_idx, int layer,
			     struct fq_target_bdev_layer *info);
/* Discovery referral @idx (0..): 0, or -ENOENT past the last. */
int fq_target_get_referral(const struct fq_target *t, int idx,
			   struct fq_target_referral_info *info);
/* @buf: FQ_TARGET_NQN_LEN + 1 bytes. */
int fq_target_get_host(const struct fq_target *t, int subsys_idx, int host_idx, char *buf);
int fq_target_get_ns_stats(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
			   struct fq_target_ns_stats *st);
int fq_target_get_controller(const struct fq_target *t, int idx, struct fq_target_ctrl_info *c);

/*
 * Latency histograms of a namespace's reads and writes, from the command's
 * arrival to its response, measured at the reactor's loop clock (commands
 * served in one loop turn count as under a microsecond). Bucket i counts
 * commands that took under 2^i microseconds (and at least 2^(i-1)); the
 * last bucket counts everything slower.
 */
#define FQ_TARGET_LAT_BUCKETS 24
struct fq_target_ns_latency {
	uint64_t read[FQ_TARGET_LAT_BUCKETS];
	uint64_t write[FQ_TARGET_LAT_BUCKETS];
	uint64_t read_sum_ns, write_sum_ns;
	/* I/O errors by Status Code Type: generic, command specific, media, other. */
	uint64_t errors_by_type[4];
};
int fq_target_get_ns_latency(const struct fq_target *t, int subsys_idx, uint32_t ns_idx,
			     struct fq_target_ns_latency *lat);

/* Time a reactor thread spent asleep waiting for work, and the rest, since it started. */
struct fq_target_reactor_stats {
	uint64_t busy_ns, idle_ns;
};
int fq_target_get_reactor_stats(const struct fq_target *t, int idx,
				struct fq_target_reactor_stats *st);
/* TCP connections (admin and I/O queues) open now; 0 before start. */
int fq_target_get_num_connections(const struct fq_target *t);
/**
 * fq_target_get_rpc_socket() - The [rpc] socket of the configuration file
 * (docs/configuration.md), or "" if it names none.
 */
const char *fq_target_get_rpc_socket(const struct fq_target *t);
/**
 * fq_target_get_state_dir() - The [rpc] state_dir of the configuration
 * file, or "" if it names none.
 */
const char *fq_target_get_state_dir(const struct fq_target *t);

/* ------------------------------------------------------------------ */
/* The running configuration as INI text, and its persistence          */
/* ------------------------------------------------------------------ */

#define FQ_TARGET_MAX_EMITTERS 16

/**
 * fq_target_add_conf_emitter() - Have @emit write a module's own INI
 * sections (e.g. [pool "NAME"]) into every dump and state file, after the
 * target's: the sections fq_target_load_config() hands to that module.
 * @emit returns 0 or -errno; it runs on the thread that dumps or saves.
 * Return: 0, -EINVAL, or -ENOSPC past FQ_TARGET_MAX_EMITTERS.
 */
int fq_target_add_conf_emitter(struct fq_target *t, int (*emit)(FILE *f, void *arg), void *arg);

/**
 * fq_target_dump_config() - Write the whole running configuration ([target]
 * settings, ports, subsystems with hosts, listeners and namespaces, then the
 * emitters' sections) to @f as an INI file fq_target_load_config() accepts.
 * Return: 0, -EINVAL if not running, -EIO.
 */
int fq_target_dump_config(struct fq_target *t, FILE *f);

/**
 * fq_target_load_state() - Before start, after the configuration file or
 * the calls that built the configuration: merge the state file @path
 * written by fq_target_save_state() (docs/management.md has the rules).
 * A missing file is no error (nothing was saved yet).
 * Return: 0; -EINVAL for an incomplete or invalid file; -errno; -EBUSY
 * once started.
 */
int fq_target_load_state(struct fq_target *t, const char *path);

/**
 * fq_target_save_state() - Write what the running target serves to @path,
 * atomically (a crash leaves the old file or the new one, never part of
 * one). Ports and subsystems; configuration subsystems deleted at run time
 * are recorded so that fq_target_load_state() leaves them out.
 * Return: 0 or -errno.
 */
int fq_target_save_state(struct fq_target *t, const char *path);

/**
 * fq_target_run_on_reactor() - Run @fn(@arg) on reactor @idx's thread,
 * between two of its turns, and wait for it: for work on state only that
 * thread may touch (a volume pool whose namespaces it serves). @fn must not
 * block for long: the reactor's connections wait meanwhile. Not from a
 * reactor thread. On a caller's loop, from another thread the call waits
 * for one of the loop's turns; from the thread that started the target
 * (the loop's), @fn runs at once.
 * Return: what @fn returned; -EINVAL for a bad @idx; -ESHUTDOWN
 * when the target is not running.
 */
int fq_target_run_on_reactor(struct fq_target *t, int idx, int (*fn)(void *arg), void *arg);

struct fq_pool;

/**
 * fq_target_run_on_pool() - Run @fn(@arg) on the home reactor of volume
 * pool @pool (each pool has one, docs/volumes.md "Reactors") and wait for
 * it. With @change, the pool's I/O is held first (new commands queue) and
 * @fn runs once none is in flight, then what queued goes on: for a call
 * that changes the pool's metadata. Not from a reactor thread.
 * Return: what @fn returned; -ETIMEDOUT when the I/O did not drain in
 * 10 s; -ENOENT for a pool not registered; as fq_target_run_on_reactor().
 */
int fq_target_run_on_pool(struct fq_target *t, struct fq_pool *pool, bool change,
			  int (*fn)(void *arg), void *arg);

/**
 * fq_target_hold_connections() - Before fq_target_start(): bind the ports
 * at start but leave connections in their listen backlog until
 * fq_target_accept_connections(). What the caller makes right after the
 * start (fabriqd: a subsystem per volume) is then there before any host
 * asks for it, instead of a host being refused a subsystem that is about to
 * exist. Return: 0, -EBUSY once started.
 */
int fq_target_hold_connections(struct fq_target *t);

/**
 * fq_target_accept_connections() - Start taking the connections held since
 * the start. Return: 0; -ESHUTDOWN when the target is not running.
 */
int fq_target_accept_connections(struct fq_target *t);

#ifdef __cplusplus
}
#endif

#endif
