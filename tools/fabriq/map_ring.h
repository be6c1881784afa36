/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring for `fabriq map-serve` (map_ring.c): once the FUSE
 * connection is up, requests arrive as completions of URING_CMDs on
 * /dev/fuse and their replies leave as the next command of the same
 * entry, so a busy serving thread makes no read(2) or writev(2) per
 * request. Everything here runs on the serving thread.
 */
#ifndef FQ_CLI_MAP_RING_H
#define FQ_CLI_MAP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/fuse.h>

/* The kernel's switch for it (CONFIG_FUSE_IO_URING, Linux 6.14 and later). */
#define MAP_RING_PARAM "/sys/module/fuse/parameters/enable_uring"

struct map_ring_ent;

/*
 * One request taken from the ring: @in its header, @op_in its first
 * argument (fuse_read_in, fuse_write_in, ...), @payload the rest (a
 * WRITE's data: @len bytes). The payload buffer (@cap bytes, page-aligned)
 * is the entry's until map_ring_reply(): a READ may place its data there.
 */
typedef void (*map_ring_fn)(struct map_ring_ent *e, const struct fuse_in_header *in,
			    const void *op_in, void *payload, uint32_t len, size_t cap);

/*
 * 1: the kernel offers FUSE over io_uring and it is switched on; 0: it is
 * off (or off and @enable could not switch it on: *why says why); -1: this
 * kernel has no such thing. @enable (root) switches it on.
 */
int map_ring_available(bool enable, const char **why);

/*
 * Called with each reply libfuse writes to /dev/fuse: for the INIT reply,
 * offer FUSE over io_uring (and note the payload size it implies).
 * Returns true when @iov was that reply.
 */
bool map_ring_amend_init(struct iovec *iov, int count);

/*
 * Register @per_queue entries for every CPU's queue on @fuse_fd, after the
 * INIT reply went out. 0, or -errno (requests then keep coming through
 * /dev/fuse).
 */
int map_ring_start(int fuse_fd, unsigned per_queue, map_ring_fn fn);
/* The ring's descriptor (readable when requests wait), or -1 when not started. */
int map_ring_fd(void);
/* Take the requests that arrived, and send the replies queued: the number taken, or -errno. */
int map_ring_service(void);
/* Send the replies queued (before the thread sleeps). */
void map_ring_flush(void);
/*
 * Answer @e: @error (0 or a positive errno) and @len bytes of out
 * arguments from @data (copied unless it is the payload buffer itself).
 */
void map_ring_reply(struct map_ring_ent *e, int error, const void *data, uint32_t len);
/* Bytes of each entry's payload buffer (set by the INIT reply; 0 before it). */
size_t map_ring_payload_size(void);
/* Entries registered and not torn down. */
unsigned map_ring_live(void);
/* Free the ring (after the file is unmounted, so every entry has come back). */
void map_ring_stop(void);

#endif
