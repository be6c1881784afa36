/* SPDX-License-Identifier: MIT */
/*
 * The running configuration as INI text (config dumps, fabriqd's state
 * file) and the merge of a state file into the configuration at start
 * (state.c, docs/management.md).
 */
#ifndef FQ_TARGET_STATE_H
#define FQ_TARGET_STATE_H

#include <stdio.h>

#include "target/tgt.h"

/* The line a complete state file ends with: a file without it is refused. */
#define FQ_STATE_END "; end of fabriqd state\n"

/*
 * Write the ports and subsystems @t serves as INI sections to @f, with
 * [target] settings first when @settings is set. Holds cfg_lock, so no
 * live change or reload runs meanwhile. Returns 0 or -EIO.
 */
int fq_tgt_dump(struct fq_tgt *t, FILE *f, bool settings);

/*
 * Merge the state @st (loaded with fq_conf_load_state_file) into the
 * configuration @c: subsystems @st names replace those of @c with the same
 * NQN or are added, subsystems of @c listed in [state] removed are dropped,
 * ports are matched by name, then by address and TCP port (the
 * configuration's definition wins), the others are added. Takes the
 * namespaces of @st (it keeps none). Returns 0 or -EINVAL/-ENOMEM with @err.
 */
int fq_conf_merge_state(struct fq_target_conf *c, struct fq_target_conf *st, char *err,
			size_t errlen);

/*
 * Replace @path by @len bytes of @text so that a crash at any moment
 * leaves either the old or the new file: a temporary file in the same
 * directory, fsync, rename, fsync of the directory. Returns 0 or -errno.
 */
int fq_state_write_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen);

/* 0 if @path ends with FQ_STATE_END, -EINVAL (truncated) or -errno. */
int fq_state_check_complete(const char *path, char *err, size_t errlen);

#endif
