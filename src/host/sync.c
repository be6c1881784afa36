/* SPDX-License-Identifier: MIT */
/*
 * Blocking I/O: submit, then poll the qpair (sleeping in the kernel between
 * events) until the command completes. The qpair's own timers guarantee the
 * completion: a stuck command is aborted, then its connection is reset,
 * which completes it with a path error.
 */
#include <errno.h>

#include "host/host_int.h"

struct sync_io {
	bool done;
	struct fq_cpl cpl;
};

static void sync_cb(void *arg, const struct fq_cpl *cpl)
{
	struct sync_io *s = arg;

	s->cpl = *cpl;
	s->done = true;
}

typedef int (*submit_fn)(struct fq_qpair *qp, void *ctx, struct sync_io *s);

static int run_sync(struct fq_qpair *qp, submit_fn fn, void *ctx, struct fq_cpl *cpl)
{
	struct sync_io s = {0};
	int rc;

	for (;;) {
		rc = fn(qp, ctx, &s);
		if (rc != -EAGAIN)
			break;
		/* Full: let earlier commands finish first. */
		rc = fq_qpair_wait(qp, 100);
		if (rc < 0 && rc != -ENXIO)
			return rc;
	}
	if (rc)
		return rc;
	while (!s.done) {
		rc = fq_qpair_wait(qp, 100);
		if (rc < 0 && rc != -ENXIO && rc != -EPERM && !s.done)
			return rc;
	}
	if (cpl)
		*cpl = s.cpl;
	return fq_cpl_is_error(&s.cpl) ? -EIO : 0;
}

struct rw_ctx {
	struct fq_ns *ns;
	const struct iovec *iov;
	int iovcnt;
	const void *buf2;
	uint64_t lba;
	uint32_t nlb;
	uint32_t flags;
	const struct fq_dsm_range_desc *ranges;
	const struct fq_copy_range_desc *copy;
	uint16_t nr;
	const struct fq_nvme_cmd *cmd;
	int op;
};

enum { OP_READV, OP_WRITEV, OP_COMPARE, OP_FLUSH, OP_WZ, OP_DSM, OP_COPY, OP_CAW, OP_RAW };

static int submit_any(struct fq_qpair *qp, void *arg, struct sync_io *s)
{
	struct rw_ctx *c = arg;

	switch (c->op) {
	case OP_READV:
		return fq_ns_readv(c->ns, qp, c->iov, c->iovcnt, c->lba, c->nlb, sync_cb, s,
				   c->flags);
	case OP_WRITEV:
		return fq_ns_writev(c->ns, qp, c->iov, c->iovcnt, c->lba, c->nlb, sync_cb, s,
				    c->flags);
	case OP_COMPARE:
		return fq_ns_compare(c->ns, qp, c->iov[0].iov_base, c->lba, c->nlb, sync_cb, s,
				     c->flags);
	case OP_FLUSH:
		return fq_ns_flush(c->ns, qp, sync_cb, s);
	case OP_WZ:
		return fq_ns_write_zeroes(c->ns, qp, c->lba, c->nlb, sync_cb, s, c->flags);
	case OP_DSM:
		return fq_ns_dsm(c->ns, qp, c->ranges, c->nr, c->flags, sync_cb, s);
	case OP_COPY:
		return fq_ns_copy(c->ns, qp, c->lba, c->copy, c->nr, sync_cb, s, c->flags);
	case OP_CAW:
		return fq_ns_compare_and_write(c->ns, qp, c->iov[0].iov_base, c->buf2, c->lba,
					       c->nlb, sync_cb, s, c->flags);
	case OP_RAW:
		return fq_qpair_io_raw(qp, c->cmd, c->iov[0].iov_base, (uint32_t)c->iov[0].iov_len,
				       sync_cb, s);
	}
	return -EINVAL;
}

static size_t blocks(const struct fq_ns *ns, uint32_t nlb)
{
	return ns ? (size_t)nlb * ns->sector_size : 0;
}

int fq_ns_readv_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		     uint64_t lba, uint32_t nlb, struct fq_cpl *cpl)
{
	struct rw_ctx c = {
		.ns = ns, .iov = iov, .iovcnt = iovcnt, .lba = lba, .nlb = nlb, .op = OP_READV};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_writev_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		      uint64_t lba, uint32_t nlb, struct fq_cpl *cpl)
{
	struct rw_ctx c = {
		.ns = ns, .iov = iov, .iovcnt = iovcnt, .lba = lba, .nlb = nlb, .op = OP_WRITEV};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_read_sync(struct fq_ns *ns, struct fq_qpair *qp, void *buf, uint64_t lba, uint32_t nlb,
		    struct fq_cpl *cpl)
{
	struct iovec iov = {buf, blocks(ns, nlb)};

	return fq_ns_readv_sync(ns, qp, &iov, 1, lba, nlb, cpl);
}

int fq_ns_write_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		     uint32_t nlb, uint32_t flags, struct fq_cpl *cpl)
{
	struct iovec iov = {(void *)buf, blocks(ns, nlb)};
	struct rw_ctx c = {.ns = ns,
			   .iov = &iov,
			   .iovcnt = 1,
			   .lba = lba,
			   .nlb = nlb,
			   .flags = flags,
			   .op = OP_WRITEV};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_compare_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		       uint32_t nlb, struct fq_cpl *cpl)
{
	struct iovec iov = {(void *)buf, blocks(ns, nlb)};
	struct rw_ctx c = {
		.ns = ns, .iov = &iov, .iovcnt = 1, .lba = lba, .nlb = nlb, .op = OP_COMPARE};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_flush_sync(struct fq_ns *ns, struct fq_qpair *qp, struct fq_cpl *cpl)
{
	struct rw_ctx c = {.ns = ns, .op = OP_FLUSH};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_write_zeroes_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
			    uint32_t flags, struct fq_cpl *cpl)
{
	struct rw_ctx c = {.ns = ns, .lba = lba, .nlb = nlb, .flags = flags, .op = OP_WZ};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_dsm_sync(struct fq_ns *ns, struct fq_qpair *qp, const struct fq_dsm_range_desc *ranges,
		   uint16_t nr, uint32_t attrs, struct fq_cpl *cpl)
{
	struct rw_ctx c = {.ns = ns, .ranges = ranges, .nr = nr, .flags = attrs, .op = OP_DSM};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_copy_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t dest_lba,
		    const struct fq_copy_range_desc *ranges, uint16_t nr, uint32_t flags,
		    struct fq_cpl *cpl)
{
	struct rw_ctx c = {
		.ns = ns, .copy = ranges, .nr = nr, .lba = dest_lba, .flags = flags, .op = OP_COPY};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_ns_deallocate_sync(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
			  struct fq_cpl *cpl)
{
	struct fq_dsm_range_desc r = {.nlb = nlb, .slba = lba};

	if (nlb == 0)
		return -EINVAL;
	return fq_ns_dsm_sync(ns, qp, &r, 1, FQ_DSM_DEALLOCATE, cpl);
}

int fq_ns_compare_and_write_sync(struct fq_ns *ns, struct fq_qpair *qp, const void *cmp_buf,
				 const void *write_buf, uint64_t lba, uint32_t nlb,
				 struct fq_cpl *cpl)
{
	struct iovec iov = {(void *)cmp_buf, blocks(ns, nlb)};
	struct rw_ctx c = {.ns = ns,
			   .iov = &iov,
			   .iovcnt = 1,
			   .buf2 = write_buf,
			   .lba = lba,
			   .nlb = nlb,
			   .op = OP_CAW};

	return run_sync(qp, submit_any, &c, cpl);
}

int fq_qpair_io_raw_sync(struct fq_qpair *qp, const struct fq_nvme_cmd *cmd, void *buf,
			 uint32_t len, struct fq_cpl *cpl)
{
	struct iovec iov = {buf, len};
	struct rw_ctx c = {.cmd = cmd, .iov = &iov, .iovcnt = 1, .op = OP_RAW};

	return run_sync(qp, submit_any, &c, cpl);
}
