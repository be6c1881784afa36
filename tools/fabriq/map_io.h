/* SPDX-License-Identifier: MIT */
/*
 * The I/O half of `fabriq map-serve`: NVMe commands on the controller's
 * qpairs, submitted without waiting and completed by the serving loop.
 * Everything here runs on the loop's thread (the controller is embedded
 * in that loop, fabriq/loop.h).
 */
#ifndef FQ_CLI_MAP_IO_H
#define FQ_CLI_MAP_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <fabriq/host.h>
#include <fabriq/loop.h>

enum map_op { MAP_READ, MAP_WRITE, MAP_FLUSH, MAP_DEALLOC };

struct map_cmd;
/* @rc: 0, or -EIO once the command failed for good (the reason is logged). */
typedef void (*map_cmd_done)(struct map_cmd *cmd, int rc);

/* One command; the caller owns it (and @buf) until @done ran. */
struct map_cmd {
	enum map_op op;
	void *buf;
	uint64_t lba;
	uint32_t nlb;
	map_cmd_done done;
	/* the I/O layer's */
	uint64_t deadline_ns;
	struct fq_timer retry;
	struct map_cmd *next;
};

/*
 * Take @ctrlr (embedded in @loop) and @ns; open up to @nqp qpairs.
 * Commands that find no connection are retried every 100 ms for up to
 * @io_timeout_s seconds. Return: 0, or -errno when no qpair connected.
 */
int map_io_init(struct fq_loop *loop, struct fq_ctrlr *ctrlr, struct fq_ns *ns, uint32_t nqp,
		uint32_t io_timeout_s);
/* Free the qpairs (commands still in flight complete with an error first). */
void map_io_fini(void);
/* Start @cmd; its done function runs in a later turn of the loop. */
void map_io_submit(struct map_cmd *cmd);
/* Commands started and not done yet. */
uint32_t map_io_inflight(void);
/*
 * Between turns of the loop: resubmit what a full qpair refused and
 * replace a qpair the controller gave up on. Not from a callback.
 */
void map_io_service(void);

#endif
