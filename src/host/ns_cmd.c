/* SPDX-License-Identifier: MIT */
/*
 * NVM command set I/O commands (NVM Command Set 1.0 §3.2). A transfer larger
 * than one command may carry (MDTS, or the 16-bit NLB field) is split into
 * pieces under a parent slot that never goes on the wire; the caller sees
 * one completion with the first failing piece's status, in LBA order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_int.h"
#include "proto/copy.h"

#define NLB_MAX 65536u /* CDW12 NLB is 16 bits, 0's based */
#define RW_FLAGS (FQ_IO_FLAGS_FUA | FQ_IO_FLAGS_LIMITED_RETRY)

uint32_t qpair_max_blocks(const struct fq_qpair *qp, const struct fq_ns *ns)
{
	uint32_t max = NLB_MAX, x = qp->ctrlr->max_xfer;

	if (x && x / ns->sector_size < max)
		max = x / ns->sector_size;
	return max ? max : 1;
}

struct io_args {
	uint8_t opc;
	uint64_t lba;
	uint32_t nlb;
	uint32_t cdw12_flags;
	const struct iovec *iov;
	int iovcnt;
	enum hreq_dir dir;
};

static void fill_rw(struct hreq *r, const struct fq_ns *ns, const struct io_args *a, uint64_t lba,
		    uint32_t nlb)
{
	memset(&r->sqe, 0, sizeof(r->sqe));
	r->sqe.opcode = a->opc;
	r->sqe.nsid = ns->nsid;
	r->sqe.cdw10 = (uint32_t)lba;
	r->sqe.cdw11 = (uint32_t)(lba >> 32);
	r->sqe.cdw12 = (nlb - 1) | a->cdw12_flags;
}

static int check_live(struct fq_qpair *qp)
{
	return qp->q.state == HQ_LIVE ? 0 : -ENXIO;
}

static bool has_room(const struct hq *q, uint32_t slots, uint32_t wire)
{
	return q->depth - q->outstanding >= slots && q->wire_max - q->wire_count >= wire;
}

/* A slot for one command that goes on the wire alone: -ENXIO, -EAGAIN. */
static int slot_get(struct fq_qpair *qp, struct hreq **out)
{
	int rc = check_live(qp);

	if (rc)
		return rc;
	if (!has_room(&qp->q, 1, 1))
		return -EAGAIN;
	*out = hq_req_get(&qp->q);
	return 0;
}

/* Send a filled slot; a slot that cannot be sent goes back to the free list. */
static int slot_submit(struct hreq *r, fq_cmd_cb cb, void *arg)
{
	int rc;

	r->cb = cb;
	r->cb_arg = arg;
	rc = hq_submit(r);
	if (rc)
		hq_req_put(r);
	return rc;
}

static int submit_single(struct fq_qpair *qp, struct fq_ns *ns, const struct io_args *a,
			 fq_cmd_cb cb, void *arg)
{
	struct hreq *r;
	int rc = slot_get(qp, &r);

	if (rc)
		return rc;
	rc = hq_req_set_data(r, a->iov, a->iovcnt, a->dir);
	if (rc) {
		hq_req_put(r);
		return rc;
	}
	fill_rw(r, ns, a, a->lba, a->nlb);
	return slot_submit(r, cb, arg);
}

/*
 * Submit one piece of a parent command (split transfer or fused pair). The
 * caller checked has_room(), so hq_submit cannot fail; if it ever does, only
 * that piece fails, and the parent completes with its status.
 */
static void submit_child(struct hreq *c)
{
	if (!hq_submit(c))
		return;
	hq_set_status(&c->cpl, 0, FQ_SCT_GENERIC, FQ_SC_INTERNAL, true);
	c->rsp_done = true;
	c->q->wire_count++;
	hq_req_try_release(c);
}

static int submit_split(struct fq_qpair *qp, struct fq_ns *ns, const struct io_args *a,
			uint32_t maxb, fq_cmd_cb cb, void *arg)
{
	uint32_t n = (a->nlb + maxb - 1) / maxb, ss = ns->sector_size;
	struct hreq *p;
	int rc = check_live(qp);

	if (rc)
		return rc;
	if (!has_room(&qp->q, n + 1, n))
		return n + 1 > qp->q.depth ? -EINVAL : -EAGAIN;
	p = hq_req_get(&qp->q);
	p->is_parent = true;
	p->cb = cb;
	p->cb_arg = arg;
	p->children = n;
	for (uint32_t i = 0; i < n; i++) {
		struct hreq *c = hq_req_get(&qp->q);
		uint32_t nlb = i + 1 < n ? maxb : a->nlb - i * maxb;
		struct iovec sl[FQ_MAX_IOVS];
		int cnt = 0;

		if (a->dir != HREQ_NONE)
			cnt = fq_tcp_iov_slice(a->iov, a->iovcnt, i * maxb * ss, nlb * ss, sl,
					       FQ_MAX_IOVS);
		hq_req_set_data(c, sl, cnt, a->dir);
		fill_rw(c, ns, a, a->lba + (uint64_t)i * maxb, nlb);
		c->parent = p;
		c->child_no = i;
		submit_child(c);
	}
	return 0;
}

static int io_submit(struct fq_ns *ns, struct fq_qpair *qp, struct io_args *a, fq_cmd_cb cb,
		     void *arg)
{
	uint64_t want, have = 0;
	uint32_t maxb;

	if (!ns || !qp || a->nlb == 0 || a->iovcnt < 0 || a->iovcnt > FQ_MAX_IOVS)
		return -EINVAL;
	if (a->dir != HREQ_NONE) {
		want = (uint64_t)a->nlb * ns->sector_size;
		for (int i = 0; i < a->iovcnt; i++)
			have += a->iov[i].iov_len;
		if (want != have || want > UINT32_MAX)
			return -EINVAL;
		maxb = qpair_max_blocks(qp, ns);
	} else {
		maxb = NLB_MAX;
	}
	if (a->nlb <= maxb)
		return submit_single(qp, ns, a, cb, arg);
	return submit_split(qp, ns, a, maxb, cb, arg);
}

int fq_ns_readv(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		uint64_t lba, uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct io_args a = {FQ_IO_READ, lba, nlb, flags & RW_FLAGS, iov, iovcnt, HREQ_C2H};

	return io_submit(ns, qp, &a, cb, cb_arg);
}

int fq_ns_writev(struct fq_ns *ns, struct fq_qpair *qp, const struct iovec *iov, int iovcnt,
		 uint64_t lba, uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct io_args a = {FQ_IO_WRITE, lba, nlb, flags & RW_FLAGS, iov, iovcnt, HREQ_H2C};

	return io_submit(ns, qp, &a, cb, cb_arg);
}

int fq_ns_read(struct fq_ns *ns, struct fq_qpair *qp, void *buf, uint64_t lba, uint32_t nlb,
	       fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct iovec iov = {.iov_base = buf, .iov_len = ns ? (size_t)nlb * ns->sector_size : 0};

	return fq_ns_readv(ns, qp, &iov, 1, lba, nlb, cb, cb_arg, flags);
}

int fq_ns_write(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba, uint32_t nlb,
		fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct iovec iov = {.iov_base = (void *)buf,
			    .iov_len = ns ? (size_t)nlb * ns->sector_size : 0};

	return fq_ns_writev(ns, qp, &iov, 1, lba, nlb, cb, cb_arg, flags);
}

int fq_ns_compare(struct fq_ns *ns, struct fq_qpair *qp, const void *buf, uint64_t lba,
		  uint32_t nlb, fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct iovec iov = {.iov_base = (void *)buf,
			    .iov_len = ns ? (size_t)nlb * ns->sector_size : 0};
	struct io_args a = {FQ_IO_COMPARE, lba, nlb, flags & RW_FLAGS, &iov, 1, HREQ_H2C};

	return io_submit(ns, qp, &a, cb, cb_arg);
}

int fq_ns_write_zeroes(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
		       fq_cmd_cb cb, void *cb_arg, uint32_t flags)
{
	struct io_args a = {
		FQ_IO_WRITE_ZEROES, lba, nlb, flags & (RW_FLAGS | FQ_IO_FLAGS_DEALLOC), NULL, 0,
		HREQ_NONE};

	return io_submit(ns, qp, &a, cb, cb_arg);
}

int fq_ns_flush(struct fq_ns *ns, struct fq_qpair *qp, fq_cmd_cb cb, void *cb_arg)
{
	struct fq_nvme_cmd cmd = {.opc = FQ_IO_FLUSH};

	if (!ns)
		return -EINVAL;
	cmd.nsid = ns->nsid;
	return fq_qpair_io_raw(qp, &cmd, NULL, 0, cb, cb_arg);
}

int fq_qpair_io_raw(struct fq_qpair *qp, const struct fq_nvme_cmd *cmd, void *buf, uint32_t len,
		    fq_cmd_cb cb, void *cb_arg)
{
	struct hreq *r;
	int rc;

	if (!qp || !cmd)
		return -EINVAL;
	rc = slot_get(qp, &r);
	if (rc)
		return rc;
	rc = hq_req_from_raw(r, cmd, buf, len);
	if (rc) {
		hq_req_put(r);
		return rc;
	}
	return slot_submit(r, cb, cb_arg);
}

/* Dataset Management, NVM CS 1.0 §3.2.3: NR is 0's based, ranges are data. */
int fq_ns_dsm(struct fq_ns *ns, struct fq_qpair *qp, const struct fq_dsm_range_desc *ranges,
	      uint16_t nr, uint32_t attrs, fq_cmd_cb cb, void *cb_arg)
{
	size_t len = (size_t)nr * sizeof(struct fq_dsm_range);
	struct iovec iov;
	struct hreq *r;
	int rc;

	static_assert(sizeof(struct fq_dsm_range_desc) == sizeof(struct fq_dsm_range), "range");
	if (!ns || !qp || nr == 0 || nr > FQ_DSM_MAX_RANGES)
		return -EINVAL;
	rc = slot_get(qp, &r);
	if (rc)
		return rc;
	/* The caller's array is copied: small lists fit the slot's scratch. */
	iov.iov_base = len <= sizeof(r->scratch) ? (void *)r->scratch : (r->heap = malloc(len));
	iov.iov_len = len;
	if (!iov.iov_base) {
		hq_req_put(r);
		return -ENOMEM;
	}
	memcpy(iov.iov_base, ranges, len);
	hq_req_set_data(r, &iov, 1, HREQ_H2C);
	r->sqe.opcode = FQ_IO_DSM;
	r->sqe.nsid = ns->nsid;
	r->sqe.cdw10 = (uint32_t)nr - 1;
	r->sqe.cdw11 = attrs;
	return slot_submit(r, cb, cb_arg);
}

/*
 * Copy, NVM CS 2.0 §3.2.2: CDW10-11 the destination LBA, CDW12 NR (0's
 * based) and descriptor format 0; the source range entries are the data.
 */
int fq_ns_copy(struct fq_ns *ns, struct fq_qpair *qp, uint64_t dest_lba,
	       const struct fq_copy_range_desc *ranges, uint16_t nr, fq_cmd_cb cb, void *cb_arg,
	       uint32_t flags)
{
	size_t len = (size_t)nr * sizeof(struct fq_copy_desc0);
	uint8_t *d;
	struct iovec iov;
	struct hreq *r;
	int rc;

	if (!ns || !qp || !ranges || nr == 0 || nr > FQ_NS_COPY_MAX_RANGES)
		return -EINVAL;
	if (!(ns->ctrlr->id.oncs & FQ_ONCS_COPY) || !(ns->ctrlr->id.ocfs & FQ_OCFS_FORMAT_0))
		return -EOPNOTSUPP;
	for (uint16_t i = 0; i < nr; i++)
		if (ranges[i].nlb == 0 || ranges[i].nlb > NLB_MAX)
			return -EINVAL;
	rc = slot_get(qp, &r);
	if (rc)
		return rc;
	d = len <= sizeof(r->scratch) ? r->scratch : (r->heap = malloc(len));
	if (!d) {
		hq_req_put(r);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < nr; i++) {
		struct fq_copy_desc0 e = {.slba = ranges[i].slba,
					  .nlb = (uint16_t)(ranges[i].nlb - 1)};

		memcpy(d + (size_t)i * sizeof(e), &e, sizeof(e));
	}
	iov.iov_base = d;
	iov.iov_len = len;
	hq_req_set_data(r, &iov, 1, HREQ_H2C);
	r->sqe.opcode = FQ_IO_COPY;
	r->sqe.nsid = ns->nsid;
	r->sqe.cdw10 = (uint32_t)dest_lba;
	r->sqe.cdw11 = (uint32_t)(dest_lba >> 32);
	r->sqe.cdw12 = ((uint32_t)nr - 1) | (FQ_COPY_DESFMT_0 << FQ_COPY_DESFMT_SHIFT) |
		       (flags & RW_FLAGS);
	return slot_submit(r, cb, cb_arg);
}

int fq_ns_deallocate(struct fq_ns *ns, struct fq_qpair *qp, uint64_t lba, uint32_t nlb,
		     fq_cmd_cb cb, void *cb_arg)
{
	struct fq_dsm_range_desc r = {.cattr = 0, .nlb = nlb, .slba = lba};

	if (nlb == 0)
		return -EINVAL;
	return fq_ns_dsm(ns, qp, &r, 1, FQ_DSM_DEALLOCATE, cb, cb_arg);
}

/*
 * Fused Compare and Write, NVMe Base 2.0 §3.4.2: the two commands are
 * adjacent in the submission queue, so both capsules are queued back to
 * back on the one FIFO of this connection.
 */
int fq_ns_compare_and_write(struct fq_ns *ns, struct fq_qpair *qp, const void *cmp_buf,
			    const void *write_buf, uint64_t lba, uint32_t nlb, fq_cmd_cb cb,
			    void *cb_arg, uint32_t flags)
{
	struct iovec ci, wi;
	struct io_args cmp = {FQ_IO_COMPARE, lba, nlb, flags & RW_FLAGS, &ci, 1, HREQ_H2C};
	struct io_args wr = {FQ_IO_WRITE, lba, nlb, flags & RW_FLAGS, &wi, 1, HREQ_H2C};
	const struct io_args *args[2] = {&cmp, &wr};
	struct hreq *p;
	int rc;

	if (!ns || !qp || nlb == 0 || nlb > qpair_max_blocks(qp, ns))
		return -EINVAL;
	rc = check_live(qp);
	if (rc)
		return rc;
	if (!has_room(&qp->q, 3, 2))
		return -EAGAIN;
	ci = (struct iovec){(void *)cmp_buf, (size_t)nlb * ns->sector_size};
	wi = (struct iovec){(void *)write_buf, (size_t)nlb * ns->sector_size};
	p = hq_req_get(&qp->q);
	p->is_parent = true;
	p->cb = cb;
	p->cb_arg = cb_arg;
	p->children = 2;
	for (uint32_t i = 0; i < 2; i++) {
		struct hreq *c = hq_req_get(&qp->q);

		hq_req_set_data(c, args[i]->iov, 1, HREQ_H2C);
		fill_rw(c, ns, args[i], lba, nlb);
		c->sqe.flags = i == 0 ? FQ_SQE_FUSE_FIRST : FQ_SQE_FUSE_SECOND;
		c->parent = p;
		c->child_no = i;
		submit_child(c);
	}
	return 0;
}
