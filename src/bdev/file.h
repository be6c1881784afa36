/* SPDX-License-Identifier: MIT */
/* State shared by the file backend's I/O path (file.c) and its opening (file_open.c). */
#ifndef FQ_BDEV_FILE_H
#define FQ_BDEV_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bdev/bdev.h"

struct file_bdev {
	int fd;
	bool blkdev;
	bool direct;
	bool force_zero_fallback;
	/* What this open created, for fq_bdev_close_discard: the file, its parents. */
	char *created_path;
	int created_dirs;
	uint32_t dio_mem_align; /* O_DIRECT: buffer address alignment */
	uint32_t dio_len_align; /* O_DIRECT: segment length alignment */
	/* Learned from -EOPNOTSUPP; shared by every reactor using this backend. */
	atomic_bool no_punch;
	atomic_bool no_zero_range;
};

extern const struct fq_bdev_ops fq_bdev_file_ops;

#endif
