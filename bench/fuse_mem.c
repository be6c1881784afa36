/* SPDX-License-Identifier: MIT */
/*
 * The bound of `fabriq map --via user` (bench/map.sh): a FUSE file served
 * from memory by one thread, mounted on itself the way map-serve mounts
 * its file, with nothing behind it. fio on a loop device over it measures
 * what the loop device and the FUSE round trip alone cost.
 *
 *   fuse_mem FILE SIZE_MIB   (in the foreground; SIGTERM/SIGINT or umount end it)
 *
 * Reads return a pattern from a 1 MiB buffer, writes are acknowledged and
 * dropped. Same FUSE settings as map-serve: direct_io, max_background 128.
 */
#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATTERN (1u << 20)

static uint64_t size;
static char pattern[PATTERN + (1u << 20)];

static void mem_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	conn->max_background = 128;
	conn->congestion_threshold = 96;
}

static void mem_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st = {.st_ino = ino, .st_mode = S_IFREG | 0600, .st_nlink = 1};

	(void)fi;
	st.st_size = (off_t)size;
	st.st_blksize = 4096;
	fuse_reply_attr(req, &st, 1.0);
}

static void mem_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void mem_read(fuse_req_t req, fuse_ino_t ino, size_t len, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if ((uint64_t)off >= size)
		len = 0;
	else if (len > size - (uint64_t)off)
		len = (size_t)(size - (uint64_t)off);
	if (len > sizeof(pattern) - PATTERN)
		len = sizeof(pattern) - PATTERN;
	fuse_reply_buf(req, pattern + (uint64_t)off % PATTERN, len);
}

static void mem_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t len, off_t off,
		      struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, len);
}

static const struct fuse_lowlevel_ops ops = {
	.init = mem_init,
	.getattr = mem_getattr,
	.open = mem_open,
	.read = mem_read,
	.write = mem_write,
};

int main(int argc, char **argv)
{
	char *fargv[] = {argv[0], (char *)"-o", (char *)"fsname=fabriq-mem", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: fuse_mem FILE SIZE_MIB\n");
		return 2;
	}
	size = strtoull(argv[2], NULL, 0) << 20;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 131 + (i >> 12));
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[1])) {
		fprintf(stderr, "fuse_mem: cannot mount %s\n", argv[1]);
		return 1;
	}
	fuse_set_signal_handlers(se);
	rc = fuse_session_loop(se);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
