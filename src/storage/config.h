/* SPDX-License-Identifier: MIT */
/*
 * Configuration of a storage handle: the INI keys of docs/storage-api.md,
 * parsed with inih through a line-counting reader so every rejection names
 * its line.
 */
#ifndef FQ_STORAGE_CONFIG_H
#define FQ_STORAGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabriq/host.h"

#define STO_MAX_NAMES 64
#define STO_MAX_FILES 16
#define STO_NAME_LEN 64
#define STO_SEL_LEN 80

enum sto_backend_kind {
	STO_BACKEND_NVMEOF = 0,
	STO_BACKEND_FILE,
};

enum sto_poll_mode {
	STO_POLL_ADAPTIVE = 0, /* busy-poll a window that follows latency, then sleep */
	STO_POLL_BUSY,	       /* never sleep in the kernel */
	STO_POLL_SLEEP,	       /* always sleep in the kernel until a completion */
};

/* A [names] entry: NAME = selector ("nsid:N", "nguid:...", "uuid:..."). */
struct sto_name {
	char name[STO_NAME_LEN];
	char sel[STO_SEL_LEN];
	int line;
};

struct sto_file {
	char *path;  /* heap, freed by sto_config_free */
	uint32_t bs; /* ",bs=N" after the path; 0 = file_block_size */
	int line;
};

struct sto_config {
	enum sto_backend_kind backend;
	/* nvmeof */
	char target_addr[FQ_TRADDR_LEN + 1];
	char target_port[FQ_TRSVCID_LEN + 1];
	char target_nqn[FQ_NQN_LEN + 1];
	char host_nqn[FQ_NQN_LEN + 1];
	uint32_t io_queue_count;
	uint32_t queue_depth;
	bool header_digest;
	bool data_digest;
	uint32_t connect_timeout_ms;
	uint32_t io_timeout_ms;
	uint32_t keep_alive_interval; /* seconds, 0 = off */
	uint32_t reconnect_delay_ms;
	int32_t ctrl_loss_timeout_ms; /* -1 = never give up */
	/* file */
	struct sto_file files[STO_MAX_FILES];
	unsigned nfiles;
	uint64_t file_size;	  /* create/extend to this size; 0 = use as is */
	uint32_t file_block_size; /* 0 = device's logical block size, 512 for files */
	/* common */
	uint32_t max_batch_size;
	bool adaptive_batching;
	enum sto_poll_mode polling_mode;
	uint32_t poll_interval_us; /* busy mode: pause between polls */
	uint32_t poll_spin_max_us; /* adaptive mode: longest busy-poll window */
	uint64_t mem_pool_size;
	uint32_t mem_block_size;
	uint32_t retry_count;
	struct sto_name names[STO_MAX_NAMES];
	unsigned nnames;
};

void sto_config_defaults(struct sto_config *c);

/*
 * Parse INI text from @path (a file) or @text (when @path is NULL) into @c.
 * Return: 0; -EINVAL with "SOURCE:LINE: message" in @err; -EPROTONOSUPPORT
 * for rdma; -ENOENT/-EACCES if the file cannot be read.
 */
int sto_config_parse(struct sto_config *c, const char *path, const char *text, char *err,
		     size_t errlen);

/*
 * Free what a parse allocated (the file paths). Safe on a configuration
 * that holds none and to call twice; a failed parse has freed its own.
 */
void sto_config_free(struct sto_config *c);

const char *sto_backend_name(enum sto_backend_kind k);
const char *sto_poll_mode_name(enum sto_poll_mode m);

#endif
