/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration: what the INI file and the quick-start command line
 * both produce. Parsing only; nothing here opens sockets or files.
 */
#ifndef FQ_TARGET_CONFIG_H
#define FQ_TARGET_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdev/bdev.h"

#define FQ_CONF_NQN_LEN 224
#define FQ_CONF_MAX_PORTS 16
#define FQ_CONF_MAX_SUBSYS 64
#define FQ_CONF_MAX_NS 256   /* per subsystem */
#define FQ_CONF_MAX_HOSTS 64 /* per subsystem */

/* Layers a namespace spec may stack on its bdev ("delay:...+error:...+ram:1G"). */
#define FQ_CONF_MAX_LAYERS FQ_BDEV_MAX_STACK

struct fq_ns_conf {
	uint32_t nsid;		  /* 0 = next free */
	struct fq_bdev_opts bdev; /* the bottom bdev; bdev.path is path */
	/* Stacking modules above it, the top first (their base pointers unset). */
	int nlayers;
	struct fq_bdev_opts layers[FQ_CONF_MAX_LAYERS];
	char *path;	   /* file namespaces: the file (heap), NULL for the others */
	char *spec;	   /* the text it was parsed from (heap), for config dumps */
	uint8_t nguid[16]; /* bytes as written in the spec (nguid=...) */
	uint8_t uuid[16];  /* RFC 9562 byte order, as in the text form */
	bool has_nguid;	   /* nguid[] is set (by the spec, or by fq_conf_validate) */
	bool has_uuid;
	/* "bdev:NAME": the namespace uses named bdev NAME ([bdev "NAME"]); path holds NAME. */
	bool named;
};

/*
 * A named bdev ([bdev "NAME"] spec = SPEC, or bdev_create): a stack opened
 * on its own, which a namespace then uses by name ("bdev:NAME").
 */
#define FQ_CONF_MAX_BDEVS 64
#define FQ_CONF_BDEV_NAME_MAX 31
struct fq_bdev_conf {
	char name[FQ_CONF_BDEV_NAME_MAX + 1];
	struct fq_ns_conf ns; /* its stack, parsed from ns.spec (no nsid, uuid or nguid) */
};

struct fq_subsys_conf {
	char nqn[FQ_CONF_NQN_LEN];
	char serial[21];
	char model[41];
	bool allow_any_host;
	/*
	 * allow_host = - : no host on purpose (hosts come later through the
	 * management API), so allow_any_host = no with no hosts is valid.
	 */
	bool closed;
	/* ports = - : exported on no port (listeners come later). */
	bool no_ports;
	int nhosts;
	char hosts[FQ_CONF_MAX_HOSTS][FQ_CONF_NQN_LEN];
	int nns;
	struct fq_ns_conf *ns; /* nns entries (at most FQ_CONF_MAX_NS), heap */
	int ns_cap;	       /* entries allocated in ns */
	/*
	 * Ports this subsystem is exported on (indices into ports[]). 0 = every
	 * port that is not discovery_only; fq_conf_validate fills that list in.
	 */
	int nports;
	int ports[FQ_CONF_MAX_PORTS];
};

struct fq_port_conf {
	char name[32];
	char addr[64]; /* numeric IPv4 or IPv6 address */
	uint16_t port;
	bool discovery_only; /* a discovery-only port (e.g. 8009) */
	/*
	 * advertise = ADDR:PORT: what discovery log entries give hosts for this
	 * port instead of its own address (NAT, VMs); adv_port 0 = not set.
	 */
	char adv_addr[64];
	uint16_t adv_port;
};

/*
 * A discovery referral ([discovery] referral = ADDR:PORT [NQN]): another
 * discovery service this target's discovery log page points hosts to, as
 * an entry of SUBTYPE 1h (NVMe-oF 1.1 §5.3, Figure 35). Listed to every host
 * on every port.
 */
#define FQ_CONF_MAX_REFERRALS 32
struct fq_referral_conf {
	char addr[64]; /* numeric IPv4 or IPv6 address */
	uint16_t port;
	char nqn[FQ_CONF_NQN_LEN]; /* its discovery subsystem NQN (default the well-known one) */
};

struct fq_target_conf {
	int reactors;	       /* 0 = fq_tgt_default_reactors() */
	uint32_t busy_poll_us; /* 0 = sleep when idle */
	uint32_t max_connections;
	uint32_t max_queue_size;      /* MQES+1: entries per I/O queue */
	uint32_t max_io_queues;	      /* per controller */
	uint32_t in_capsule_size;     /* bytes of in-capsule data on I/O queues */
	uint32_t max_h2c_data;	      /* MAXH2CDATA */
	uint32_t max_transfer;	      /* MDTS in bytes (power of two, >= 4096) */
	uint32_t buffers_per_reactor; /* data buffers of max_transfer bytes */
	uint32_t kato_min_ms;
	int log_level;		  /* 0 error, 1 warn, 2 info, 3 debug */
	char rpc_socket[108];	  /* [rpc] socket: fabriqd's management socket, "" = none */
	char state_dir[PATH_MAX]; /* [rpc] state_dir: where live changes persist, "" = none */
	int nports;
	struct fq_port_conf ports[FQ_CONF_MAX_PORTS];
	/*
	 * fabriqd's state file only ([state] removed = NQN): subsystems of the
	 * configuration file deleted at run time, left out when the state loads.
	 */
	int nremoved;
	char removed[FQ_CONF_MAX_SUBSYS][FQ_CONF_NQN_LEN];
	/*
	 * Discovery referrals. has_referrals: a referral key was read (even
	 * "referral = -", none), so a state file's list replaces the file's.
	 */
	bool has_referrals;
	int nreferrals;
	struct fq_referral_conf referrals[FQ_CONF_MAX_REFERRALS];
	/*
	 * Named bdevs: nbdevs entries of bdevs (heap, FQ_CONF_MAX_BDEVS slots once
	 * allocated). bdevs_elsewhere: a configuration checked for a running
	 * target, whose own named bdevs those "bdev:NAME" refer to.
	 */
	bool bdevs_elsewhere;
	int nbdevs;
	struct fq_bdev_conf *bdevs;
	/* State files only ([state] removed_bdev = NAME): named bdevs deleted at run time. */
	int nremoved_bdevs;
	char (*removed_bdevs)[FQ_CONF_BDEV_NAME_MAX + 1]; /* heap, FQ_CONF_MAX_BDEVS slots */
	int nsubsys;
	struct fq_subsys_conf *subsys; /* nsubsys entries, heap */
	int subsys_cap;		       /* entries allocated in subsys */
};

/* Fill @c with defaults: no ports, no subsystems. */
void fq_conf_init(struct fq_target_conf *c);
/* Free what @c holds (subsystems, their namespaces); @c can be filled again. */
void fq_conf_free(struct fq_target_conf *c);

/*
 * Load an INI file into @c (which holds defaults). Returns 0, or -EINVAL
 * with "FILE:LINE: key 'k': what is wrong" in @err (-errno when the file
 * cannot be opened or read, -ENOMEM). Stops at the first error; @c may then
 * hold part of the file and still needs fq_conf_free(). Call
 * fq_conf_validate() afterwards. Start-up only: it adjusts libinih's global
 * line-length settings for the duration of the call (not thread-safe).
 */
int fq_conf_load_file(struct fq_target_conf *c, const char *path, char *err, size_t errlen);

/*
 * Load fabriqd's state file (docs/management.md) into @c, like
 * fq_conf_load_file but accepting the [state] section and keeping the pool
 * sections already read from the configuration file.
 */
int fq_conf_load_state_file(struct fq_target_conf *c, const char *path, char *err, size_t errlen);

/*
 * Parse a namespace spec "ram:SIZE", "null:SIZE", "file:PATH[:SIZE]" with
 * options after commas: bs=512|4096, direct=0|1, nsid=N, uuid=..., nguid=...
 * Stacking modules go in front, each ended by '+':
 * "MODULE[:KEY=VAL[,KEY=VAL...]]+" (e.g. "delay:read_us=200+ram:64M"); the
 * bottom spec is everything after the last of them, so a file path may hold
 * '+'. Returns 0, -EINVAL with the reason in @err, or -ENOMEM. On success
 * @ns may own memory (the path): fq_conf_ns_free() it; on failure it owns none.
 */
int fq_conf_parse_ns(const char *spec, struct fq_ns_conf *ns, char *err, size_t errlen);

/* Free what fq_conf_parse_ns allocated in @ns (not @ns itself). */
void fq_conf_ns_free(struct fq_ns_conf *ns);

/* Copy @src into @dst with a path of its own. Returns 0 or -ENOMEM. */
int fq_conf_ns_copy(struct fq_ns_conf *dst, const struct fq_ns_conf *src);

/*
 * Parse a referral "ADDR:PORT" or "[V6ADDR]:PORT", optionally followed by
 * white space and the discovery subsystem NQN (default
 * nqn.2014-08.org.nvmexpress.discovery). A wildcard address is refused: a
 * host cannot connect to it. Returns 0 or -EINVAL with the reason in @err.
 */
int fq_conf_parse_referral(const char *s, struct fq_referral_conf *r, char *err, size_t errlen);

/* A named bdev's name: 1..31 letters, digits, '-', '_' or '.'. */
bool fq_conf_bdev_name_ok(const char *name);

/*
 * Add named bdev @name with stack @spec (parsed by fq_conf_parse_ns; no
 * nsid, uuid, nguid, no "bdev:" of its own). Returns 0, -EINVAL with the
 * reason in @err (a bad name or spec, a name taken, too many) or -ENOMEM.
 */
int fq_conf_add_bdev(struct fq_target_conf *c, const char *name, const char *spec, char *err,
		     size_t errlen);

/* Index of named bdev @name in @c, or -1. */
int fq_conf_find_bdev(const struct fq_target_conf *c, const char *name);

/* Index of the referral to @addr:@port in @c, or -1. */
int fq_conf_find_referral(const struct fq_target_conf *c, const char *addr, uint16_t port);

/* Parse "256M", "4G", "1048576", "4k" into bytes. Returns 0 or -EINVAL. */
int fq_conf_parse_size(const char *s, uint64_t *out);

/* Parse "ADDR:PORT", "[v6addr]:PORT". Returns 0 or -EINVAL. */
int fq_conf_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port);

/*
 * Add a subsystem with defaults (serial derived from @nqn, default model,
 * any host allowed); returns it, or NULL if the limit is reached, @nqn does
 * not fit or memory runs out. The NQN itself is checked by fq_conf_validate.
 * The returned pointer is valid until the next call (the array may move).
 */
struct fq_subsys_conf *fq_conf_add_subsys(struct fq_target_conf *c, const char *nqn);

/*
 * Allow host @hostnqn on @s (checked with fq_conf_check_nqn, no duplicates)
 * and turn allow_any_host off. Returns 0 or -EINVAL with the reason in @err.
 */
int fq_conf_add_host(struct fq_subsys_conf *s, const char *hostnqn, char *err, size_t errlen);

/* Append a namespace parsed by fq_conf_parse_ns. Returns 0, -EINVAL or -ENOMEM. */
int fq_conf_add_ns(struct fq_subsys_conf *s, const char *spec, char *err, size_t errlen);

/*
 * Check an NQN (NVMe Base 2.0 §4.5): at most 223 bytes, either
 * "nqn.yyyy-mm.reverse.domain[:anything]" or
 * "nqn.2014-08.org.nvmexpress:uuid:" + a UUID. Returns 0 or -EINVAL.
 */
int fq_conf_check_nqn(const char *nqn, char *err, size_t errlen);

/*
 * Check cross-field rules (ports exist, NQNs valid, unique nsids, limits in
 * range), then fill in what was left to defaults: nsids (0 -> next free from
 * 1, in order), NGUID/UUID (fq_conf_derive_id), TCP ports (4420, or 8009 for
 * discovery-only ports), subsystem port lists, serial and model. Calling it
 * again on its own output changes nothing. Returns 0 or -EINVAL with a
 * message.
 */
int fq_conf_validate(struct fq_target_conf *c, char *err, size_t errlen);

/*
 * Derive a stable 16-byte identifier from the subsystem NQN and nsid (the
 * same inputs give the same bytes on every run), for NGUID and UUID when the
 * config does not set them. @salt distinguishes the NGUID (0) from the UUID (1).
 */
void fq_conf_derive_id(const char *subnqn, uint32_t nsid, int salt, uint8_t out[16]);

#endif
