/* SPDX-License-Identifier: MIT */
/*
 * NVM command set I/O at the target (NVM Command Set 1.0 §3): Read, Write,
 * Compare, Flush, Write Zeroes, Dataset Management and Copy (NVM CS 2.0). Each command is
 * checked (namespace, LBA range, transfer length) before it reaches the
 * backend; backend errors become NVMe status in fq_errno_to_status only,
 * unless a module chose the status itself (fq_bdev_io.nvme_status: the error
 * module).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "target/tgt.h"
#include "util/log.h"

#define ST(sct, sc) FQ_STATUS(sct, sc)
#define container_of(p, T, m) ((T *)((char *)(p)-offsetof(T, m)))

/* The one place a backend errno becomes an NVMe status (DESIGN: L5). */
uint16_t fq_errno_to_status(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -EIO:
	case -ENODATA:
		return ST(FQ_SCT_MEDIA, FQ_SC_READ_ERROR);
	case -ENOSPC:
		return ST(FQ_SCT_GENERIC, FQ_SC_CAP_EXCEEDED) | FQ_STATUS_DNR;
	case -EINVAL:
	case -EOPNOTSUPP:
		return ST(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR;
	case -ERANGE:
		return ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE) | FQ_STATUS_DNR;
	case -EROFS:
	case -EPERM:
	case -EACCES:
		return ST(FQ_SCT_MEDIA, FQ_SC_ACCESS_DENIED) | FQ_STATUS_DNR;
	default:
		return ST(FQ_SCT_GENERIC, FQ_SC_INTERNAL);
	}
}

/* The status of a backend completion: the one a module chose, or the errno's. */
static uint16_t bio_status(const struct fq_bdev_io *bio, int res)
{
	return res && bio->nvme_status ? bio->nvme_status : fq_errno_to_status(res);
}

static void io_submit(struct fq_req *req, enum fq_bdev_io_type type, uint64_t off, uint64_t len,
		      struct iovec *iov, fq_bdev_cb cb)
{
	struct fq_queue *q = req->q;
	int rc;

	req->bio.type = type;
	req->bio.offset = off;
	req->bio.length = len;
	req->bio.iov = iov;
	req->bio.iovcnt = iov ? 1 : 0;
	req->bio.cb = cb;
	req->bio.cb_arg = req;
	q->ops++; /* the queue stays alive until the backend answers */
	rc = fq_bdev_submit(req->ns->bdev, &q->r->loop->eng, &req->bio);
	if (rc) {
		q->ops--;
		fq_req_complete(req, fq_errno_to_status(rc));
	}
}

/* Called at the end of every backend callback: drop the op reference. */
static void io_put(struct fq_queue *q)
{
	q->ops--;
	if (q->state == FQ_CONN_CLOSING)
		q->xprt->release(q);
}

static void read_done(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	if (res)
		fq_req_complete(req, bio_status(bio, res));
	else
		fq_req_send_data(req);
	io_put(q);
}

static void write_done(struct fq_bdev_io *bio, int res);

static void flush_then_complete(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	fq_req_complete(req, res ? ST(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT) : 0);
	io_put(q);
}

static void write_done(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	if (res) {
		fq_req_complete(req, bio->nvme_status ? bio->nvme_status
				     : res == -ENOSPC ? fq_errno_to_status(res)
						      : ST(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT));
	} else if ((req->cmd.cdw12 & (1u << 30)) && req->ns->bdev->volatile_cache &&
		   q->state != FQ_CONN_CLOSING) {
		/* FUA: the data must be durable before we answer. */
		io_submit(req, FQ_BDEV_IO_FLUSH, 0, 0, NULL, flush_then_complete);
	} else {
		fq_req_complete(req, 0);
	}
	io_put(q);
}

static void simple_done(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	fq_req_complete(req, bio_status(bio, res));
	io_put(q);
}

static void compare_done(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;
	uint16_t st = bio_status(bio, res);

	if (!res && memcmp(req->cmp_buf, req->buf, req->xfer_len))
		st = ST(FQ_SCT_MEDIA, FQ_SC_COMPARE_FAILED);
	free(req->cmp_buf);
	req->cmp_buf = NULL;
	fq_req_complete(req, st);
	io_put(q);
}

static void exec_rw(struct fq_req *req)
{
	struct fq_tgt_ns *ns = req->ns;
	struct fq_bdev *b = ns->bdev;
	uint64_t slba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint32_t nlb = (req->cmd.cdw12 & 0xffff) + 1;
	uint64_t len = (uint64_t)nlb << ns->lbads;
	uint64_t off = slba << ns->lbads;
	uint8_t opc = req->cmd.opcode;

	if (slba >= b->num_blocks || nlb > b->num_blocks - slba) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE) | FQ_STATUS_DNR);
		return;
	}
	if (len > req->q->r->tgt->conf->max_transfer || len != req->xfer_len) {
		/* Transfer length must match NLB and fit MDTS (§4.1.1, §5.15.2). */
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA) | FQ_STATUS_DNR);
		return;
	}
	if (opc == FQ_IO_WRITE) {
		req->data_iov.iov_base = req->buf;
		req->data_iov.iov_len = len;
		fq_stat_add(ns->writes, 1);
		fq_stat_add(ns->bytes_written, len);
		io_submit(req, FQ_BDEV_IO_WRITE, off, len, &req->data_iov, write_done);
		return;
	}
	if (opc == FQ_IO_COMPARE) {
		req->cmp_buf = aligned_alloc(4096, (len + 4095) & ~4095ull);
		if (!req->cmp_buf) {
			fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INTERNAL));
			return;
		}
		req->data_iov.iov_base = req->cmp_buf;
		req->data_iov.iov_len = len;
		io_submit(req, FQ_BDEV_IO_READ, off, len, &req->data_iov, compare_done);
		return;
	}
	/* Zero copy: RAM and null namespaces are sent from their own memory. */
	if (b->ops->map_read && b->ops->map_read(b, off, len, &req->data_iov) == 0) {
		fq_stat_add(ns->reads, 1);
		fq_stat_add(ns->bytes_read, len);
		fq_req_send_data(req);
		return;
	}
	if (fq_req_get_buf(req, (uint32_t)len)) {
		fq_req_need_buf(req); /* fq_exec runs again once a buffer is free */
		return;
	}
	fq_stat_add(ns->reads, 1);
	fq_stat_add(ns->bytes_read, len);
	req->data_iov.iov_base = req->buf;
	req->data_iov.iov_len = len;
	io_submit(req, FQ_BDEV_IO_READ, off, len, &req->data_iov, read_done);
}

static void exec_write_zeroes(struct fq_req *req)
{
	struct fq_tgt_ns *ns = req->ns;
	struct fq_bdev *b = ns->bdev;
	uint64_t slba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint32_t nlb = (req->cmd.cdw12 & 0xffff) + 1;
	bool deac = req->cmd.cdw12 & (1u << 25);
	enum fq_bdev_io_type t = FQ_BDEV_IO_WRITE_ZEROES;

	if (slba >= b->num_blocks || nlb > b->num_blocks - slba) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE) | FQ_STATUS_DNR);
		return;
	}
	if (deac && b->supports_dealloc && b->read_zeroes_after_dealloc)
		t = FQ_BDEV_IO_DEALLOCATE;
	io_submit(req, t, slba << ns->lbads, (uint64_t)nlb << ns->lbads, NULL, simple_done);
}

static void dsm_next(struct fq_bdev_io *bio, int res);

/* Deallocate the ranges one after another; req->step is the next range. */
static void dsm_step(struct fq_req *req)
{
	const struct fq_dsm_range *r = (const void *)req->buf;
	uint32_t nr = (req->cmd.cdw10 & 0xff) + 1;

	while (req->step < nr && r[req->step].nlb == 0)
		req->step++;
	if (req->step >= nr) {
		fq_req_complete(req, 0);
		return;
	}
	r += req->step++;
	io_submit(req, FQ_BDEV_IO_DEALLOCATE, r->slba << req->ns->lbads,
		  (uint64_t)r->nlb << req->ns->lbads, NULL, dsm_next);
}

static void dsm_next(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	if (res)
		fq_req_complete(req, bio_status(bio, res));
	else if (q->state == FQ_CONN_CLOSING)
		fq_req_complete(req, 0);
	else
		dsm_step(req);
	io_put(q);
}

static void exec_dsm(struct fq_req *req)
{
	struct fq_bdev *b = req->ns->bdev;
	uint32_t nr = (req->cmd.cdw10 & 0xff) + 1;
	const struct fq_dsm_range *r = (const void *)req->buf;

	if (req->xfer_len < nr * sizeof(*r) || !req->buf) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_SGL_INVALID_DATA) | FQ_STATUS_DNR);
		return;
	}
	for (uint32_t i = 0; i < nr; i++) {
		if (r[i].slba >= b->num_blocks || r[i].nlb > b->num_blocks - r[i].slba) {
			fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE) | FQ_STATUS_DNR);
			return;
		}
	}
	/* Only Deallocate has an effect; the other attributes are hints. */
	if (!(req->cmd.cdw11 & FQ_DSM_ATTR_DEALLOCATE) || !b->supports_dealloc) {
		fq_req_complete(req, 0);
		return;
	}
	req->step = 0;
	dsm_step(req);
}

/*
 * What a namespace accepts in one Copy: 128 ranges (4 KiB of descriptors),
 * 256 MiB in all (the copy runs on the reactor, a chunk at a time, so this
 * bounds how long one command keeps it busy), each range as long as NLB
 * allows.
 */
#define COPY_MAX_RANGES 128u
#define COPY_MAX_BYTES (256ull << 20)

void fq_tgt_copy_limits(const struct fq_tgt_ns *ns, struct fq_copy_limits *lim)
{
	uint64_t mcl = COPY_MAX_BYTES >> ns->lbads;

	lim->msrc = (uint8_t)(COPY_MAX_RANGES - 1);
	lim->mcl = (uint32_t)mcl;
	lim->mssrl = (uint16_t)(mcl < 0xffff ? mcl : 0xffff);
	lim->nblocks = ns->bdev->num_blocks;
}

static void copy_done(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	free(req->copy);
	req->copy = NULL;
	if (res) {
		fq_req_complete(req, bio_status(bio, res));
	} else if ((req->cmd.cdw12 & FQ_COPY_FUA) && req->ns->bdev->volatile_cache &&
		   q->state != FQ_CONN_CLOSING) {
		io_submit(req, FQ_BDEV_IO_FLUSH, 0, 0, NULL, flush_then_complete);
	} else {
		fq_req_complete(req, 0);
	}
	io_put(q);
}

/* Copy, NVM CS 2.0 §3.2.2: the descriptors are decoded and checked, then one bdev copy. */
static void exec_copy(struct fq_req *req)
{
	struct fq_tgt_ns *ns = req->ns;
	struct fq_copy_range r[FQ_COPY_MAX_RANGES];
	struct fq_copy_limits lim;
	uint64_t total;
	uint32_t nr;
	uint16_t st;
	int rc;

	fq_tgt_copy_limits(ns, &lim);
	st = fq_copy_decode(req->cmd.cdw10, req->cmd.cdw11, req->cmd.cdw12, req->buf,
			    req->buf ? req->xfer_len : 0, &lim, r, &nr, &total);
	if (st) {
		fq_req_complete(req, st);
		return;
	}
	req->copy = malloc(nr * sizeof(*req->copy));
	if (!req->copy) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INTERNAL));
		return;
	}
	for (uint32_t i = 0; i < nr; i++) {
		req->copy[i].src = r[i].slba << ns->lbads;
		req->copy[i].len = (uint64_t)r[i].nlb << ns->lbads;
	}
	memset(&req->bio, 0, offsetof(struct fq_bdev_io, frame));
	req->bio.offset = (req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32)) << ns->lbads;
	req->bio.length = total << ns->lbads;
	req->bio.copy_ranges = req->copy;
	req->bio.copy_nr = nr;
	req->bio.cb = copy_done;
	req->bio.cb_arg = req;
	atomic_fetch_add_explicit(&ns->writes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ns->bytes_written, req->bio.length, memory_order_relaxed);
	req->q->ops++; /* the queue stays alive until the backend answers */
	rc = fq_bdev_copy(ns->bdev, &req->q->r->loop->eng, &req->bio);
	if (rc) {
		req->q->ops--;
		free(req->copy);
		req->copy = NULL;
		fq_req_complete(req, fq_errno_to_status(rc));
	}
}

static void flush_next(struct fq_bdev_io *bio, int res);

/* Flush with NSID FFFFFFFFh covers every namespace (NVM Cmd Set 1.0 §3.2.2). */
static void flush_step(struct fq_req *req)
{
	struct fq_subsys *s = req->q->ctrl->subsys;

	struct fq_tgt_ns_table *tab = fq_subsys_ns(s);

	if (req->step >= tab->n) {
		fq_req_complete(req, 0);
		return;
	}
	req->ns = tab->ns[req->step++];
	io_submit(req, FQ_BDEV_IO_FLUSH, 0, 0, NULL, flush_next);
}

static void flush_next(struct fq_bdev_io *bio, int res)
{
	struct fq_req *req = bio->cb_arg;
	struct fq_queue *q = req->q;

	if (res)
		fq_req_complete(req, ST(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT));
	else if (q->state == FQ_CONN_CLOSING)
		fq_req_complete(req, 0);
	else
		flush_step(req);
	io_put(q);
}

void fq_exec_io(struct fq_req *req)
{
	struct fq_ctrl *c = req->q->ctrl;
	uint8_t opc = req->cmd.opcode;

	if (!(atomic_load(&c->csts) & FQ_CSTS_RDY)) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		return;
	}
	if (req->cmd.flags & FQ_SQE_FUSE_MASK) {
		/* Fused operations are not offered (FUSES = 0). */
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR);
		return;
	}
	if (opc == FQ_IO_FLUSH && req->cmd.nsid == 0xffffffff) {
		req->step = 0;
		flush_step(req);
		return;
	}
	req->ns = fq_subsys_find_ns(c->subsys, req->cmd.nsid);
	if (!req->ns) {
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_NS) | FQ_STATUS_DNR);
		return;
	}
	switch (opc) {
	case FQ_IO_READ:
	case FQ_IO_WRITE:
	case FQ_IO_COMPARE:
		exec_rw(req);
		break;
	case FQ_IO_FLUSH:
		io_submit(req, FQ_BDEV_IO_FLUSH, 0, 0, NULL, simple_done);
		break;
	case FQ_IO_WRITE_ZEROES:
		exec_write_zeroes(req);
		break;
	case FQ_IO_DSM:
		exec_dsm(req);
		break;
	case FQ_IO_COPY:
		exec_copy(req);
		break;
	default:
		fq_req_complete(req, ST(FQ_SCT_GENERIC, FQ_SC_INVALID_OPCODE) | FQ_STATUS_DNR);
		break;
	}
}
