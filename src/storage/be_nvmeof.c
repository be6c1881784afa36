/* SPDX-License-Identifier: MIT */
/*
 * The nvmeof backend: one controller reached over NVMe/TCP through
 * libfabriq, io_queue_count I/O qpairs in one poll group owned by the
 * opening thread, requests spread round-robin over the live ones.
 *
 * Connection loss: libfabriq completes outstanding commands with a path
 * status, moves the controller to RESETTING and reconnects it every
 * reconnect_delay_ms on its service thread; qpairs reconnect when polled
 * once the controller is live again. While the controller is not live,
 * ready() fails at once with -ENOTCONN so callers are not held up; nothing
 * here has to be restarted by the application.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabriq/host.h"
#include "storage_int.h"

#define MAX_QP 64

struct nctx {
	struct fq_storage *st;
	struct fq_ctrlr *ctrlr;
	struct fq_poll_group *pg;
	struct fq_qpair *qp[MAX_QP];
	unsigned nqp;
	unsigned rr;
	uint32_t capacity;
	uint32_t max_xfer;
	char peer[FQ_TRADDR_LEN + FQ_TRSVCID_LEN + 4];
};

static void make_opts(const struct sto_config *c, struct fq_ctrlr_opts *o)
{
	fq_ctrlr_opts_init(o, sizeof(*o));
	if (c->host_nqn[0])
		snprintf(o->hostnqn, sizeof(o->hostnqn), "%s", c->host_nqn);
	o->num_io_queues = c->io_queue_count;
	o->io_queue_size = c->queue_depth;
	/* The host sends Keep Alive every KATO/2: KATO = 2 x the interval. */
	o->keep_alive_timeout_ms = c->keep_alive_interval * 2000;
	o->header_digest = c->header_digest;
	o->data_digest = c->data_digest;
	o->connect_timeout_ms = c->connect_timeout_ms;
	/* Bounds the health check's Keep Alive probe as well. */
	o->admin_timeout_ms = c->connect_timeout_ms;
	o->io_timeout_ms = c->io_timeout_ms;
	o->reconnect_delay_ms = (int32_t)c->reconnect_delay_ms;
	o->ctrl_loss_timeout_ms = c->ctrl_loss_timeout_ms;
}

static int add_namespaces(struct fq_storage *st, struct nctx *nc)
{
	for (uint32_t id = fq_ctrlr_first_ns(nc->ctrlr); id && st->nns < STO_MAX_NS;
	     id = fq_ctrlr_next_ns(nc->ctrlr, id)) {
		struct fq_ns *n = fq_ctrlr_get_ns(nc->ctrlr, id);
		struct sto_ns *ns = &st->ns[st->nns];
		uint32_t bs = n ? fq_ns_get_sector_size(n) : 0;

		if (!n || bs < 512 || (bs & (bs - 1)))
			continue;
		ns->nsid = id;
		ns->bs = bs;
		ns->bs_shift = (uint32_t)__builtin_ctz(bs);
		ns->nblocks = fq_ns_get_num_sectors(n);
		ns->has_nguid = fq_ns_get_nguid(n, ns->nguid);
		ns->has_uuid = fq_ns_get_uuid(n, ns->uuid);
		ns->be = n;
		st->nns++;
	}
	if (!st->nns) {
		sto_set_error(st, -ENODEV, "%s: subsystem %s has no usable namespace", nc->peer,
			      st->cfg.target_nqn);
		return -ENODEV;
	}
	return 0;
}

static int open_queues(struct fq_storage *st, struct nctx *nc)
{
	uint32_t n = fq_ctrlr_get_num_io_queues(nc->ctrlr);
	struct fq_qpair_opts qo;
	int rc = fq_poll_group_create(&nc->pg);

	if (rc)
		return rc;
	if (n > st->cfg.io_queue_count)
		n = st->cfg.io_queue_count;
	if (n > MAX_QP)
		n = MAX_QP;
	fq_qpair_opts_init(&qo, sizeof(qo));
	qo.queue_size = st->cfg.queue_depth;
	qo.poll_group = nc->pg;
	for (uint32_t i = 0; i < n; i++) {
		rc = fq_ctrlr_alloc_io_qpair(nc->ctrlr, &qo, &nc->qp[nc->nqp]);
		if (rc) {
			sto_set_error(st, rc, "%s: I/O queue %u: %s", nc->peer, i + 1,
				      fq_last_error());
			return rc;
		}
		/* One slot short of the depth: a full queue (NVMe Base 2.0 §3.3.1). */
		nc->capacity += fq_qpair_depth(nc->qp[nc->nqp]);
		nc->nqp++;
	}
	return 0;
}

static void nv_close(void *ctx)
{
	struct nctx *nc = ctx;

	for (unsigned i = 0; i < nc->nqp; i++)
		fq_qpair_free(nc->qp[i]);
	if (nc->pg)
		fq_poll_group_destroy(nc->pg);
	if (nc->ctrlr)
		fq_ctrlr_disconnect(nc->ctrlr);
	free(nc);
}

static int nv_open(struct fq_storage *st, void **ctx)
{
	const struct sto_config *c = &st->cfg;
	struct nctx *nc = calloc(1, sizeof(*nc));
	struct fq_ctrlr_opts o;
	struct fq_trid trid = {.trtype = FQ_TRANSPORT_TCP};
	int rc;

	if (!nc)
		return -ENOMEM;
	nc->st = st;
	trid.adrfam = strchr(c->target_addr, ':') ? FQ_AF_IPV6 : FQ_AF_IPV4;
	snprintf(trid.traddr, sizeof(trid.traddr), "%s", c->target_addr);
	snprintf(trid.trsvcid, sizeof(trid.trsvcid), "%s", c->target_port);
	snprintf(trid.subnqn, sizeof(trid.subnqn), "%s", c->target_nqn);
	snprintf(nc->peer, sizeof(nc->peer), "%s:%s", c->target_addr, c->target_port);
	make_opts(c, &o);
	rc = fq_ctrlr_connect(&trid, &o, &nc->ctrlr);
	if (rc) {
		sto_set_error(st, rc, "nvmeof connect to %s (%s): %s", nc->peer, c->target_nqn,
			      fq_last_error());
		free(nc);
		return rc;
	}
	nc->max_xfer = fq_ctrlr_get_max_xfer(nc->ctrlr);
	rc = open_queues(st, nc);
	if (!rc)
		rc = add_namespaces(st, nc);
	if (rc) {
		nv_close(nc);
		return rc;
	}
	*ctx = nc;
	return 0;
}

/* Map a completion status to -errno; "transient" when a resend may work. */
static int status_errno(const struct fq_cpl *cpl, bool *transient)
{
	bool dnr = cpl->status & 0x8000;
	unsigned sct = fq_cpl_sct(cpl), sc = fq_cpl_sc(cpl);

	*transient = !dnr;
	if (sct == FQ_CPL_SCT_PATH) {
		*transient = true; /* connection lost or queue torn down */
		return -ENOTCONN;
	}
	if (sct == FQ_CPL_SCT_GENERIC) {
		switch (sc) {
		case 0x02: /* Invalid Field in Command */
			*transient = false;
			return -EINVAL;
		case 0x07: /* Command Abort Requested: our I/O timeout fired */
			return -ETIMEDOUT;
		case 0x0b: /* Invalid Namespace or Format */
			*transient = false;
			return -ENODEV;
		case 0x80: /* LBA Out of Range */
			*transient = false;
			return -ERANGE;
		default:
			break;
		}
	}
	return -EIO;
}

static int not_connected(struct nctx *nc)
{
	enum fq_ctrlr_state cs = fq_ctrlr_get_state(nc->ctrlr);
	int rc = cs == FQ_CTRLR_FAILED || cs == FQ_CTRLR_DELETING ? -ENODEV : -ENOTCONN;

	sto_set_error(nc->st, rc,
		      rc == -ENODEV
			      ? "target %s (%s) is gone: controller failed after "
				"ctrl_loss_timeout_ms; reopen the storage"
			      : "target %s (%s) is unreachable: controller %s, reconnecting by "
				"itself",
		      nc->peer, nc->st->cfg.target_nqn, fq_ctrlr_state_name(cs));
	return rc;
}

/* Bytes @off..@off+@len of the bio's iovecs, as iovecs. */
static int iov_slice(const struct sto_bio *bio, size_t off, size_t len, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < bio->iovcnt && len; i++) {
		const struct iovec *v = &bio->iov[i];
		size_t take;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		take = v->iov_len - off < len ? v->iov_len - off : len;
		out[n++] = (struct iovec){(uint8_t *)v->iov_base + off, take};
		off = 0;
		len -= take;
	}
	return n;
}

/*
 * libfabriq splits a transfer larger than MDTS itself, but only when all
 * pieces fit in the queue at once; a larger transfer would wait for room
 * that never comes. A bio above a quarter of a queue's worth of MDTS-sized
 * pieces is therefore sent as consecutive chunks, each submitted from the
 * previous one's completion on the same queue, which has just freed at
 * least as many slots.
 */
static uint32_t chunk_blocks(const struct nctx *nc, struct fq_qpair *qp, const struct sto_bio *b)
{
	uint32_t per = nc->max_xfer >> b->ns->bs_shift, pieces = fq_qpair_depth(qp) / 4;

	return (per ? per : 1) * (pieces ? pieces : 1);
}

static void bio_cb(void *arg, const struct fq_cpl *cpl);

/* Send the next chunk of @bio (from bio->be_done) on @qp. */
static int submit_chunk(struct nctx *nc, struct fq_qpair *qp, struct sto_bio *bio)
{
	struct fq_ns *ns = bio->ns->be;
	uint32_t max = chunk_blocks(nc, qp, bio), nlb = bio->nlb - bio->be_done;
	uint64_t lba = bio->lba + bio->be_done;
	struct iovec iov[STO_BIO_IOVS];
	int cnt;

	if (bio->op == FQ_STORAGE_FLUSH)
		return fq_ns_flush(ns, qp, bio_cb, bio);
	if (nlb > max)
		nlb = max;
	cnt = iov_slice(bio, (size_t)bio->be_done << bio->ns->bs_shift,
			(size_t)nlb << bio->ns->bs_shift, iov);
	bio->be_qp = qp;
	if (bio->op == FQ_STORAGE_READ)
		return fq_ns_readv(ns, qp, iov, cnt, lba, nlb, bio_cb, bio, 0);
	return fq_ns_writev(ns, qp, iov, cnt, lba, nlb, bio_cb, bio, 0);
}

static void bio_cb(void *arg, const struct fq_cpl *cpl)
{
	struct sto_bio *bio = arg;
	struct fq_storage *st = bio->req->st;
	struct nctx *nc = st->be_ctx;
	bool transient = false;
	char why[128];
	int err = 0;

	if (fq_cpl_is_error(cpl)) {
		err = status_errno(cpl, &transient);
		sto_set_error(st, err, "nvmeof nsid %u: %s of %u blocks at LBA %llu: %s",
			      bio->ns->nsid, fq_storage_op_name(bio->op), bio->nlb,
			      (unsigned long long)bio->lba, fq_cpl_str(cpl, why, sizeof(why)));
	} else if (bio->op != FQ_STORAGE_FLUSH) {
		struct fq_qpair *qp = bio->be_qp;

		bio->be_done += bio->nlb - bio->be_done < chunk_blocks(nc, qp, bio)
					? bio->nlb - bio->be_done
					: chunk_blocks(nc, qp, bio);
		if (bio->be_done < bio->nlb) {
			err = submit_chunk(nc, qp, bio);
			if (!err)
				return;
			transient = true; /* the queue went away between chunks */
			err = err == -ENXIO ? -ENOTCONN : err;
		}
	}
	bio->done(bio, err, transient ? STO_BIO_TRANSIENT : 0);
}

static int nv_submit(void *ctx, struct sto_bio *bio)
{
	struct nctx *nc = ctx;
	bool full = false;

	bio->be_done = 0;
	for (unsigned k = 0; k < nc->nqp; k++) {
		struct fq_qpair *qp = nc->qp[(nc->rr + k) % nc->nqp];
		int rc = submit_chunk(nc, qp, bio);

		if (!rc) {
			nc->rr = (nc->rr + k + 1) % nc->nqp;
			return 0;
		}
		if (rc == -EAGAIN)
			full = true;
		else if (rc != -ENXIO)
			return rc;
	}
	return full ? -EAGAIN : not_connected(nc);
}

static unsigned live_queues(const struct nctx *nc)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nc->nqp; i++)
		n += fq_qpair_get_state(nc->qp[i]) == FQ_QPAIR_LIVE;
	return n;
}

/*
 * The controller is live but no queue is: drive the poll group (the queues
 * reconnect when polled) for up to @ms. Completions that run here go to the
 * core's lists; in_poll keeps the core from re-entering the poll group.
 */
static int drive_queues(struct nctx *nc, uint64_t ms)
{
	uint64_t end = sto_now_ns() + ms * 1000000ull;

	nc->st->in_poll = true;
	while (!live_queues(nc) && fq_ctrlr_get_state(nc->ctrlr) == FQ_CTRLR_LIVE &&
	       sto_now_ns() < end)
		fq_poll_group_wait(nc->pg, 5);
	nc->st->in_poll = false;
	return live_queues(nc) ? 0 : not_connected(nc);
}

static int nv_ready(void *ctx)
{
	struct nctx *nc = ctx;

	if (fq_ctrlr_get_state(nc->ctrlr) != FQ_CTRLR_LIVE)
		return not_connected(nc);
	if (live_queues(nc))
		return 0;
	return drive_queues(nc, nc->st->cfg.connect_timeout_ms);
}

static int nv_kick(void *ctx)
{
	struct nctx *nc = ctx;
	int rc = fq_poll_group_process_completions(nc->pg);

	return rc < 0 ? rc : 0;
}

static int nv_poll(void *ctx, int64_t wait_ns)
{
	struct nctx *nc = ctx;
	int ms;

	if (!wait_ns)
		return fq_poll_group_process_completions(nc->pg);
	ms = (int)((wait_ns + 999999) / 1000000);
	return fq_poll_group_wait(nc->pg, ms);
}

static int nv_health(void *ctx, struct fq_storage_health *h)
{
	struct nctx *nc = ctx;
	enum fq_ctrlr_state cs = fq_ctrlr_get_state(nc->ctrlr);
	uint64_t rtt_us = 0;
	int rc = 0;

	h->queues_total = nc->nqp;
	h->reconnects = fq_ctrlr_get_reconnects(nc->ctrlr);
	if (cs == FQ_CTRLR_LIVE && !live_queues(nc))
		drive_queues(nc, 200);
	if (cs == FQ_CTRLR_LIVE) {
		/* A round trip proves the target answers, not just that TCP is open. */
		rc = fq_ctrlr_keep_alive(nc->ctrlr, &rtt_us);
		if (rc)
			sto_set_error(nc->st, -ENOTCONN, "target %s: Keep Alive failed: %s",
				      nc->peer, fq_last_error());
		h->rtt_ns = rtt_us * 1000;
	}
	h->queues_live = live_queues(nc);
	cs = fq_ctrlr_get_state(nc->ctrlr);
	if (cs == FQ_CTRLR_FAILED || cs == FQ_CTRLR_DELETING) {
		h->state = FQ_STORAGE_DOWN;
		return not_connected(nc);
	}
	if (cs != FQ_CTRLR_LIVE || !h->queues_live || rc) {
		h->state = FQ_STORAGE_CONNECTING;
		return rc ? -ENOTCONN : not_connected(nc);
	}
	h->state = FQ_STORAGE_UP;
	return 0;
}

static uint32_t nv_capacity(void *ctx)
{
	return ((struct nctx *)ctx)->capacity;
}

const struct sto_backend_ops sto_nvmeof_ops = {
	.name = "nvmeof",
	.open = nv_open,
	.close = nv_close,
	.ready = nv_ready,
	.submit = nv_submit,
	.kick = nv_kick,
	.poll = nv_poll,
	.health = nv_health,
	.capacity = nv_capacity,
};
