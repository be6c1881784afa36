/* SPDX-License-Identifier: MIT */
/* The fabriq command-line tool: shared options and helpers. */
#ifndef FQ_CLI_H
#define FQ_CLI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabriq/host.h"

/* Exit codes (docs/cli.md). */
enum {
	EXIT_OK = 0,
	EXIT_NVME = 1,	   /* a command completed with an NVMe error status */
	EXIT_USAGE = 2,	   /* bad arguments */
	EXIT_CONNECT = 3,  /* could not connect, or the connection was lost */
	EXIT_VERIFY = 4,   /* --verify found different data */
	EXIT_LOCAL_IO = 5, /* reading or writing a local file failed */
};

/*
 * The exit scheme every sub-command follows (docs/cli.md): a command or its
 * I/O failed, the arguments were wrong, or the target could not be reached
 * or was lost.
 */
enum {
	FQ_EXIT_OK = 0,
	FQ_EXIT_IO = 1,
	FQ_EXIT_USAGE = 2,
	FQ_EXIT_CONN = 3,
};

struct cli {
	const char *cmd;
	/* Where to connect. */
	struct fq_trid trid;
	bool have_trid;
	const char *transport, *traddr, *trsvcid, *subnqn, *hostnqn;
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
	/* Admin commands. */
	int lid, fid;
	uint32_t log_len;
	uint32_t cdw11, value;
	uint32_t sel;
	bool save;
	bool raw_binary;
	uint32_t count, interval_ms;
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
void cli_hexdump(const void *buf, size_t len);
json_object *cli_json_hex(const void *buf, size_t len);
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
int cmd_get_log(struct cli *cli);
int cmd_get_feature(struct cli *cli);
int cmd_set_feature(struct cli *cli);
int cmd_keep_alive(struct cli *cli);

/* Shared by read and write (xfer.c): chunked I/O at a queue depth. */
typedef int (*xfer_fill_fn)(void *ctx, uint64_t off, uint8_t *buf, size_t len);
typedef int (*xfer_sink_fn)(void *ctx, uint64_t off, const uint8_t *buf, size_t len);
int cli_xfer(struct cli *cli, struct fq_ns *ns, struct fq_qpair *qp, bool write, xfer_fill_fn fill,
	     xfer_sink_fn sink, void *ctx, struct fq_cpl *err_cpl);

#endif
