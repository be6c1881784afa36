/* SPDX-License-Identifier: MIT */
/*
 * Live configuration changes of a running target (live.c). Each returns 0
 * or -errno with a sentence in @err. Called from a management thread, never
 * from a reactor.
 */
#ifndef FQ_TARGET_LIVE_H
#define FQ_TARGET_LIVE_H

#include "target/tgt.h"

/* @sc: validated (fq_conf_validate) so serial and ports are filled in. */
int fq_live_subsys_create(struct fq_tgt *t, const struct fq_subsys_conf *sc, char *err,
			  size_t errlen);
/* Its controllers are disconnected; its namespaces close at exit. */
int fq_live_subsys_delete(struct fq_tgt *t, const char *nqn, char *err, size_t errlen);
int fq_live_host(struct fq_tgt *t, const char *nqn, const char *hostnqn, bool add, char *err,
		 size_t errlen);
int fq_live_allow_any(struct fq_tgt *t, const char *nqn, bool allow, char *err, size_t errlen);
/* @nc from fq_conf_parse_ns; nsid 0 picks the lowest free one, returned in @nsid. */
int fq_live_ns_add(struct fq_tgt *t, const char *nqn, struct fq_ns_conf *nc, uint32_t *nsid,
		   char *err, size_t errlen);
/* Namespace @nsid changed (its size): raise Namespace Attribute Changed. */
int fq_live_ns_changed(struct fq_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t errlen);
int fq_live_ns_remove(struct fq_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t errlen);
/* Export @nqn on ADDR:PORT (a new port if none listens there) or stop exporting it. */
int fq_live_listener(struct fq_tgt *t, const char *nqn, const char *addr, uint16_t port, bool add,
		     char *err, size_t errlen);
/* Add discovery referral @r (the address must be new), or remove the one at r->addr:r->port. */
int fq_live_referral(struct fq_tgt *t, const struct fq_referral_conf *r, bool add, char *err,
		     size_t errlen);
/*
 * live_bdev.c: set run-time parameters ("key=val,...") of the @index-th
 * @module layer of namespace @nsid's stack, recording them in its spec.
 */
int fq_live_bdev_params(struct fq_tgt *t, const char *nqn, uint32_t nsid, const char *module,
			int index, const char *kv, char *err, size_t errlen);
/* Suspend (@action < 0) or resume (an enum fq_bdev_qos_resume) the I/O of a qos layer. */
int fq_live_qos(struct fq_tgt *t, const char *nqn, uint32_t nsid, int index, int action, char *err,
		size_t errlen);
/* Layer @layer (0: the top) of @ns's stack: module, bdev name, run-time params ("" if none). */
int fq_live_bdev_layer(struct fq_tgt_ns *ns, int layer, const char **module, const char **name,
		       char *params, size_t len);
/* Named bdevs: create one from a parsed spec, delete one no namespace uses. */
int fq_live_bdev_create(struct fq_tgt *t, const char *name, const struct fq_ns_conf *nc, char *err,
			size_t errlen);
int fq_live_bdev_delete(struct fq_tgt *t, const char *name, char *err, size_t errlen);
/* Named bdev @idx (0.., deleted ones skipped): a copy of what describes it. */
struct fq_tgt_bdev_view {
	char name[FQ_CONF_BDEV_NAME_MAX + 1];
	char spec[PATH_MAX + 256];
	char nqn[FQ_CONF_NQN_LEN]; /* its borrower's subsystem, "" if none */
	uint32_t nsid;
	uint64_t num_blocks;
	uint32_t block_size;
	struct fq_bdev *top; /* valid until the bdev is closed (exit, or bdev_delete) */
};
int fq_live_bdev_info(struct fq_tgt *t, int idx, struct fq_tgt_bdev_view *v);
int fq_live_ctrl_disconnect(struct fq_tgt *t, uint16_t cntlid, char *err, size_t errlen);

#endif
