/* SPDX-License-Identifier: MIT */
/* Pool and volume methods of the management socket (vol_methods.c). */
#ifndef FQ_MGMT_VOL_METHODS_H
#define FQ_MGMT_VOL_METHODS_H

#include <stddef.h>

#include "mgmt/rpc.h"

/* Each exported volume's subsystem is FQ_VOL_NQN_BASE:POOL:NAME. */
#define FQ_VOL_NQN_BASE "nqn.2026-01.io.fabriq:vol"

/* NULL-name terminated; methods.c adds them to fq_mgmt_methods. */
extern const struct fq_rpc_method fq_mgmt_vol_methods[];

void fq_vol_nqn(char *buf, size_t len, const char *pool, const char *name);

/*
 * Export every volume of the open pools (those of the configuration file)
 * that has no subsystem yet, as volume_create would: at start, so volumes
 * are served again after a restart. Returns how many were exported.
 */
int fq_mgmt_export_volumes(struct fq_target *t);

#endif
