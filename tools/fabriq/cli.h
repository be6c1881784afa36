/* SPDX-License-Identifier: MIT */
/* The fabriq command-line tool: shared options and helpers. */
#ifndef FQ_CLI_H
#define FQ_CLI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabriq/host.h"

/* Exit codes of every command, perf included (the table in docs/cli.md). */
enum {
	EXIT_OK = 0,
	EXIT_NVME = 1,	   /* a command completed with an NVMe error status */
	EXIT_USAGE = 2,	   /* bad arguments */
	EXIT_CONNECT = 3,  /* could not connect, or the connection was lost */
	EXIT_VERIFY = 4,   /* --verify found different data */
	EXIT_LOCAL_IO = 5, /* reading or writing a local file failed */
	EXIT_RPC = 6,	   /* fabriqd answered a management call with an error */
};

/*
 * Where to connect (addr.c): -t/-a/-s/-n/-q or -r TRID for most commands;
 * perf, whose letters follow spdk_nvme_perf, takes the long names only.
 */
enum {
	CLI_ADDR_TRANSPORT = 0x1000, /* --transport */
	CLI_ADDR_TRADDR,	     /* --traddr */
	CLI_ADDR_TRSVCID,	     /* --trsvcid */
	CLI_ADDR_NQN,		     /* --nqn */
	CLI_ADDR_HOSTNQN,	     /* --hostnqn */
	CLI_ADDR_TRID,		     /* --trid */
};

struct cli_addr {
	const char *transport, *traddr, *trsvcid, *subnqn, *hostnqn, *trid;
};

/* The long options above, for a getopt_long table; values are CLI_ADDR_*. */
#define CLI_ADDR_LONG_OPTS                                                                         \
	{"traddr", required_argument, 0, CLI_ADDR_TRADDR},                                         \
		{"trsvcid", required_argument, 0, CLI_ADDR_TRSVCID},                               \
	{                                                                                          \
		"nqn", required_argument, 0, CLI_ADDR_NQN                                          \
	}

/* Record one address option; -EINVAL for a bad transport or TRID. */
int cli_addr_set(struct cli_addr *a, int key, const char *arg);
/* Whether any address option was given. */
bool cli_addr_given(const struct cli_addr *a);
/* Mixed forms, or no address when @need: print why and return -EINVAL. */
int cli_addr_check(const struct cli_addr *a, const char *cmd, bool need);
/* The address as one TRID string (fq_trid_parse() syntax). */
int cli_addr_string(const struct cli_addr *a, char *buf, size_t len);
/* Parse into @t; the discovery NQN is the default subsystem when @discovery. */
int cli_addr_trid(const struct cli_addr *a, const char *cmd, bool discovery, struct fq_trid *t);

struct cli {
	const char *cmd;
	/* Where to connect. */
	struct cli_addr addr;
	struct fq_trid trid; /* built from addr by cli_connect() */
	bool hdgst, ddgst;
	uint32_t connect_timeout_ms;
	uint32_t nsid;
	bool json;
	int verbose;
	/* Data commands. */
	uint64_t offset, length, block_size;
	bool have_length;
	uint32_t queue_depth;
	const char *input, *output, *pattern;
	bool verify;
	bool fua;
	bool deallocate;
	/* copy: --dest-lba and each --range SLBA:NLB. */
	uint64_t dest_lba;
	bool have_dest_lba;
	uint16_t ncopy;
	struct fq_copy_range_desc copy[FQ_NS_COPY_MAX_RANGES];
	/* Admin commands. */
	int lid, fid;
	uint32_t log_len;
	uint32_t cdw11, value;
	uint32_t sel;
	bool save;
	bool raw_binary;
	uint32_t count, interval_ms;
	bool have_count;
	bool human; /* -H: spell out bit fields */
	bool follow_referrals;
};

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *cli);
	const char *summary;
	const char *usage; /* command-specific options, one per line */
	/* Commands with their own option parser get argv with argv[0] = name. */
	int (*run_argv)(int argc, char **argv);
};

extern const struct cli_cmd cli_cmds[];

int cli_parse(struct cli *cli, int argc, char **argv);
int cli_parse_size(const char *s, uint64_t *out);
const struct cli_cmd *cli_find(const char *name);
void cli_help(const struct cli_cmd *c);

/* Connect to the controller (and qpair) named by the options. */
int cli_connect(struct cli *cli, bool discovery, struct fq_ctrlr **c);
int cli_open_ns(struct cli *cli, struct fq_ctrlr *c, struct fq_ns **ns, struct fq_qpair **qp);
void cli_close(struct fq_ctrlr *c, struct fq_qpair *qp);
int cli_fail(const char *what);
int cli_nvme_fail(const char *what, int rc, const struct fq_cpl *cpl);
void cli_print_json(json_object *o);
/* A decoded object as nvme-cli style "field : value" lines; arrays of objects as entries. */
void cli_print_text(json_object *o, int indent);
/* id-ctrl -H / id-ns -H bit fields (id_decode.c objects) as text; frees @o. */
void cli_print_fields(json_object *o);
void cli_hexdump(const void *buf, size_t len);
json_object *cli_json_hex(const void *buf, size_t len);	 /* at most 64 bytes */
json_object *cli_json_data(const void *buf, size_t len); /* every byte, as hex */
/* The range a data command worked on, as JSON: {"nsid", "offset", "length", ...}. */
json_object *cli_json_range(struct cli *cli, struct fq_ns *ns);
void cli_str(char *dst, const char *src, size_t len); /* trim a space-padded field */

/* --offset/--length as a block range (range.c). */
int cli_block_range(struct cli *cli, struct fq_ns *ns, uint64_t *lba, uint64_t *nlb);

/* Data patterns for read/write (--pattern). */
int cli_pattern_check(const char *p);
void cli_pattern_fill(const char *p, uint64_t off, uint8_t *buf, size_t len);

/* Sub-commands, one file each. */
int cmd_discover(struct cli *cli);
int cmd_list(struct cli *cli);
int cmd_id_ctrl(struct cli *cli);
int cmd_id_ns(struct cli *cli);
int cmd_read(struct cli *cli);
int cmd_write(struct cli *cli);
int cmd_flush(struct cli *cli);
int cmd_write_zeroes(struct cli *cli);
int cmd_trim(struct cli *cli);
int cmd_copy(struct cli *cli);
int cmd_get_log(struct cli *cli);
int cmd_get_feature(struct cli *cli);
int cmd_set_feature(struct cli *cli);
int cmd_keep_alive(struct cli *cli);
int cmd_smart_log(struct cli *cli);
int cmd_error_log(struct cli *cli);
int cmd_fw_log(struct cli *cli);
int cmd_ana_log(struct cli *cli);
int cmd_changed_ns_log(struct cli *cli);
int cmd_discovery_log(struct cli *cli);

/* Shared by read and write (xfer.c): chunked I/O at a queue depth. */
typedef int (*xfer_fill_fn)(void *ctx, uint64_t off, uint8_t *buf, size_t len);
typedef int (*xfer_sink_fn)(void *ctx, uint64_t off, const uint8_t *buf, size_t len);
int cli_xfer(struct cli *cli, struct fq_ns *ns, struct fq_qpair *qp, bool write, xfer_fill_fn fill,
	     xfer_sink_fn sink, void *ctx, struct fq_cpl *err_cpl);

#endif
