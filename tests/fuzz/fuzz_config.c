/* SPDX-License-Identifier: MIT */
/*
 * The configuration reader as fabriqd runs it at start: the input is read
 * as a configuration file (docs/configuration.md) and validated, then as a
 * state file (docs/management.md) merged into it and validated again. Any
 * input must give 0 or an error message, never a crash, a leak or an
 * out-of-bounds access. [pool] sections are parsed (pool_conf.c) but no
 * pool is opened.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/config.h"
#include "target/state.h"
#include "volume/volume.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fq_target_conf *c, *st;
	char err[512];

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	c = calloc(1, sizeof(*c));
	st = calloc(1, sizeof(*st));
	if (!c || !st)
		abort();
	fq_conf_init(c);
	fq_conf_init(st);
	if (!fq_conf_load_file(c, path, err, sizeof(err)))
		(void)fq_conf_validate(c, err, sizeof(err));
	/* The same bytes as a state file over what the file defined. */
	if (!fq_conf_load_state_file(st, path, err, sizeof(err)) &&
	    !fq_conf_merge_state(c, st, err, sizeof(err)))
		(void)fq_conf_validate(c, err, sizeof(err));
	fq_conf_free(st);
	fq_conf_free(c);
	free(st);
	free(c);
	fq_pool_conf_reset();
	return 0;
}
