/* SPDX-License-Identifier: MIT */
/* `fabriq map` and friends: a remote volume as a local block device (docs/map.md). */
#ifndef FQ_CLI_MAP_H
#define FQ_CLI_MAP_H

#include <stdbool.h>
#include <stddef.h>

#define MAP_PATH_MAX 512
#define MAP_KPATHS_MAX 8

/* One path of a volume, as its discovery log entry gives it. */
struct map_kpath {
	char traddr[257];
	char trsvcid[33];
};

/* Connect options of the kernel mode; 0 leaves the kernel's default. */
struct map_kopts {
	char hostnqn[224];
	char hostid[40];
	int keep_alive_tmo, ctrl_loss_tmo, reconnect_delay, nr_io_queues, queue_size;
	bool hdr_digest, data_digest;
};

/*
 * Kernel mode (map_kernel.c with libnvme, map_kernel_none.c without).
 * map_kernel_connect() connects every path of @subnqn and puts the names of
 * the new controllers in @ctrls ("nvme0 nvme1"). Returns how many paths
 * connected (at least one), or -errno when none did (each failure printed).
 * map_kernel_disconnect() disconnects every controller of @subnqn and
 * returns how many, or -errno.
 */
extern const bool map_kernel_built;
int map_kernel_connect(const char *subnqn, const struct map_kpath *paths, int n,
		       const struct map_kopts *o, char *ctrls, size_t len);
int map_kernel_disconnect(const char *subnqn);

/* The serving process of a user-mode mapping (the hidden verb map-serve). */
int map_serve_main(int argc, char **argv);

/*
 * The volume a mapped device belongs to: @dev is /dev/fabriq/POOL/VOLUME,
 * the loop device of a user-mode mapping or the namespace device of a
 * kernel one. 0, or -ENOENT when @dev is not a mapped device.
 */
int map_device_volume(const char *dev, char *pool, size_t plen, char *volume, size_t vlen);

int cmd_map(int argc, char **argv);
int cmd_unmap(int argc, char **argv);
int cmd_remap(int argc, char **argv);
int cmd_showmapped(int argc, char **argv);
int cmd_mapall(int argc, char **argv);
int cmd_unmapall(int argc, char **argv);

#endif
