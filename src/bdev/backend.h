/* SPDX-License-Identifier: MIT */
/*
 * Internal interface between fq_bdev_open and the modules. fq_bdev_open does
 * the checks common to every bottom module (block size, size alignment),
 * allocates the struct fq_bdev with its context and block_size set, then
 * calls the module's init, which fills in ops, num_blocks and the capability
 * flags.
 */
#ifndef FQ_BDEV_BACKEND_H
#define FQ_BDEV_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bdev/bdev.h"
#include "util/errf.h"
#include "util/parse.h"

/* The registered modules (the table is in bdev.c). */
extern const struct fq_bdev_module fq_bdev_ram_module;
extern const struct fq_bdev_module fq_bdev_null_module;
extern const struct fq_bdev_module fq_bdev_file_module;
extern const struct fq_bdev_module fq_bdev_delay_module;
extern const struct fq_bdev_module fq_bdev_error_module;
extern const struct fq_bdev_module fq_bdev_qos_module;
/*
 * The vol module lives in src/volume/ (volume -> bdev, never the reverse):
 * a weak reference, so programs that do not link the volume engine have no
 * vol module rather than an unresolved symbol.
 */
extern const struct fq_bdev_module fq_bdev_vol_module __attribute__((weak));

/* Each returns 0 or -errno with a message in @err; on failure nothing is left allocated. */
int fq_bdev_file_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		      size_t errlen);

/* The sync of a stacking layer that keeps no data itself: sync the base. */
int fq_bdev_sync_base(struct fq_bdev *bdev);

/*
 * Options every module shares, for parse(): size (ram, null, file), bs,
 * path, direct and create (file). Returns as fq_bdev_module.parse.
 */
int fq_bdev_parse_common(struct fq_bdev_opts *opts, const char *key, const char *val, char *err,
			 size_t errlen);

/* Remove the file and parent directories a file backend's open created. */
void fq_bdev_file_discard(struct fq_bdev *bdev);

/* printf into @err (NULL-safe, always terminated): the tree's fq_errf. */
#define fq_bdev_errf fq_errf
/* Unsigned decimal or 0x hex, the whole string: the tree's fq_parse_u64. */
#define fq_bdev_parse_u64 fq_parse_u64

/*
 * A process-wide region of zeroes: the null backend's zero-copy reads point
 * into it and the file backend writes it when a filesystem cannot zero a
 * range itself. Never written; page aligned so O_DIRECT can use it. It lives
 * in .bss, so untouched pages cost no memory.
 */
#define FQ_BDEV_ZERO_LEN (1u << 20)
extern uint8_t fq_bdev_zeroes[FQ_BDEV_ZERO_LEN];

/* Zero the bytes [@from, io->length) of @io's iovecs. */
void fq_bdev_iov_zero(struct fq_bdev_io *io, uint64_t from);

/*
 * Test hook: make the file backend behave as if the filesystem refused
 * FALLOC_FL_ZERO_RANGE and FALLOC_FL_PUNCH_HOLE, so the write-zeroes fallback
 * runs. Returns -EINVAL if @bdev is not a file backend.
 */
int fq_bdev_file_force_zero_fallback(struct fq_bdev *bdev, bool on);

#endif
