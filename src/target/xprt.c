/* SPDX-License-Identifier: MIT */
/*
 * The transports the target serves (xprt.h). The reactor reaches them only
 * through this list and the queues' ops, so a second transport is one more
 * entry here, not a change to the reactor or the acceptor.
 */
#include <stddef.h>

#include "target/tgt.h"

const struct fq_xprt_ops *const fq_tgt_xprts[] = {&fq_tgt_xprt_tcp, NULL};
