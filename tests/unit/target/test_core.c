/* SPDX-License-Identifier: MIT */
/*
 * The target core over a fake transport, without sockets: request states
 * through their lifecycle, Connect (admin and I/O queue), Property Get/Set,
 * Identify, Keep Alive, reads and writes on a RAM namespace, an invalid
 * opcode, a command waiting for a buffer, and the rule that a completion
 * (even one inside the transport's send callback) never re-enters dispatch.
 *
 * The fake transport (struct fq_xprt_ops, src/target/xprt.h) records what
 * the core sends; by default it finishes each response inside its send
 * callback, as a transport that sends inline would, or holds it (hold) so
 * the test decides when the response is out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "target/tgt.h"

#define NQN "nqn.2024-01.io.fabriq:core"
#define HOSTNQN "nqn.2024-01.io.fabriq:host"
#define BS 4096u

/* ---- the fake transport ------------------------------------------------ */

static struct {
	bool hold; /* keep responses until the test releases them */
	int nrsp, ndata, nfetch, nclose;
	struct fq_cqe cqe;		 /* the last completion sent */
	_Alignas(16) uint8_t data[8192]; /* the last read data (Identify data is read in place) */
	size_t data_len;
	struct fq_req *last;	/* the request of the last completion */
	struct fq_req *fetched; /* the last request that asked for host data */
	enum fq_req_state state_at_send;
	int depth_at_send;	     /* exec_depth seen by the last send */
	int max_depth;		     /* the largest exec_depth any send saw */
	struct fq_req *on_send_done; /* finished inside the next send callback */
} fk;

static void fake_sent(struct fq_req *req)
{
	fk.cqe = req->cqe;
	fk.last = req;
	fk.state_at_send = req->state;
	fk.depth_at_send = req->q->r->exec_depth;
	if (fk.depth_at_send > fk.max_depth)
		fk.max_depth = fk.depth_at_send;
	if (fk.on_send_done) {
		struct fq_req *other = fk.on_send_done;

		fk.on_send_done = NULL;
		fq_req_done(other);
	}
	if (!fk.hold)
		fq_req_done(req);
}

static void fake_send_rsp(struct fq_req *req)
{
	fk.nrsp++;
	fake_sent(req);
}

static void fake_send_data(struct fq_req *req)
{
	fk.ndata++;
	fk.data_len = req->data_iov.iov_len;
	assert_true(fk.data_len <= sizeof(fk.data));
	memcpy(fk.data, req->data_iov.iov_base, fk.data_len);
	fake_sent(req);
}

static void fake_fetch_data(struct fq_req *req)
{
	fk.nfetch++;
	fk.fetched = req;
}

static void fake_close(struct fq_queue *q, const char *why)
{
	(void)why;
	fk.nclose++;
	q->state = FQ_CONN_CLOSING;
	fq_queue_drop_parked(q);
}

static void fake_release(struct fq_queue *q)
{
	(void)q;
}

static const struct fq_xprt_ops fake_ops = {
	.name = "fake",
	.send_rsp = fake_send_rsp,
	.send_data = fake_send_data,
	.fetch_data = fake_fetch_data,
	.close = fake_close,
	.release = fake_release,
};

/* ---- the target and its queues ----------------------------------------- */

static struct fq_target_conf conf;
static struct fq_tgt *tgt;
static struct fq_reactor *r;
static struct fq_queue *aq, *ioq; /* admin and I/O queue of one controller */
static uint16_t next_cid;

static struct fq_queue *queue_new(void)
{
	struct fq_queue *q = calloc(1, sizeof(*q));

	assert_non_null(q);
	q->xprt = &fake_ops;
	q->r = r;
	q->port = &tgt->ports[0];
	q->state = FQ_CONN_LIVE;
	snprintf(q->peer, sizeof(q->peer), "fake");
	assert_int_equal(fq_queue_alloc_reqs(q, 64), 0);
	return q;
}

static void queue_free(struct fq_queue *q)
{
	if (!q)
		return;
	if (q->state != FQ_CONN_CLOSING)
		fake_close(q, "test over");
	assert_int_equal(q->busy, 0);
	if (q->ctrl) {
		if (q->qid)
			fq_ctrl_del_ioq(q->ctrl, tgt, q->qid);
		else
			fq_ctrl_kill(q->ctrl, "test over");
		fq_ctrl_put(q->ctrl);
	}
	free(q->reqs);
	free(q);
}

/*
 * What a transport does with a new command: take a request, and either
 * hand over its in-capsule data (@data, @len) and run it, or start it
 * (the core asks for write data through fetch_data). Returns the request.
 */
static struct fq_req *submit(struct fq_queue *q, struct fq_sqe *sqe, const void *data, uint32_t len)
{
	struct fq_req *req = fq_req_alloc(q);

	assert_non_null(req);
	assert_int_equal(req->state, FQ_REQ_FREE);
	sqe->cid = ++next_cid;
	req->cmd = *sqe;
	req->data_in = sqe->opcode == FQ_ADM_FABRICS || fq_opc_is_write(sqe->opcode);
	req->xfer_len = len;
	if (data) {
		fq_req_set_state(req, FQ_REQ_RX_DATA);
		assert_int_equal(fq_req_get_buf(req, len), 0);
		memcpy(req->buf, data, len);
		req->incapsule = true;
		req->rcvd = len;
		fq_req_data_ready(req);
	} else {
		fq_req_start(req);
	}
	return req;
}

static uint16_t connect_q(struct fq_queue *q, uint16_t qid, uint16_t cntlid)
{
	struct fq_connect_cmd c = {.opcode = FQ_ADM_FABRICS, .fctype = FQ_FCTYPE_CONNECT};
	struct fq_connect_data d = {.cntlid = cntlid};

	c.qid = qid;
	c.sqsize = 31;
	c.kato = qid ? 0 : 5000;
	c.sgl.type = FQ_SGL_INCAPSULE;
	c.sgl.length = sizeof(d);
	snprintf(d.subnqn, sizeof(d.subnqn), "%s", NQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOSTNQN);
	submit(q, (struct fq_sqe *)&c, &d, sizeof(d));
	return fk.cqe.status;
}

static uint64_t prop(struct fq_queue *q, bool set, uint32_t off, uint64_t v, uint16_t *st)
{
	struct fq_prop_cmd p = {.opcode = FQ_ADM_FABRICS,
				.fctype = set ? FQ_FCTYPE_PROP_SET : FQ_FCTYPE_PROP_GET};

	p.offset = off;
	p.value = v;
	p.attrib = off == FQ_PROP_CAP ? 1 : 0;
	submit(q, (struct fq_sqe *)&p, NULL, 0);
	*st = fk.cqe.status;
	return fk.cqe.dw0 | ((uint64_t)fk.cqe.dw1 << 32);
}

static uint16_t admin_q(struct fq_queue *q, uint8_t opc, uint32_t nsid, uint32_t cdw10,
			uint32_t cdw11, uint32_t len)
{
	struct fq_sqe s = {.opcode = opc, .nsid = nsid, .cdw10 = cdw10, .cdw11 = cdw11};

	s.sgl.type = FQ_SGL_TRANSPORT;
	s.sgl.length = len;
	submit(q, &s, NULL, len);
	return fk.cqe.status;
}

static uint16_t admin(uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, uint32_t len)
{
	return admin_q(aq, opc, nsid, cdw10, cdw11, len);
}

static struct fq_sqe rw_sqe(uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	struct fq_sqe s = {.opcode = opc, .nsid = nsid};

	s.cdw10 = (uint32_t)slba;
	s.cdw11 = (uint32_t)(slba >> 32);
	s.cdw12 = nlb - 1;
	s.sgl.type = FQ_SGL_TRANSPORT;
	s.sgl.length = nlb * BS;
	return s;
}

static char ini_path[64];

static int group_setup(void **state)
{
	static const char ini[] = "[target]\nreactors = 1\nbuffers_per_reactor = 8\n"
				  "kato_min_ms = 0\n"
				  "[port \"p0\"]\naddress = 127.0.0.1\n"
				  "[subsystem \"" NQN "\"]\nallow_any_host = yes\n"
				  "namespace = ram:1M,bs=4096\n"
				  "namespace = delay:read_us=2000+ram:1M,bs=4096\n";
	char err[512];
	FILE *f;
	int fd;

	(void)state;
	strcpy(ini_path, "/tmp/fq-core-XXXXXX.ini");
	fd = mkstemps(ini_path, 4);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(ini, f);
	fclose(f);
	fq_conf_init(&conf);
	if (fq_conf_load_file(&conf, ini_path, err, sizeof(err)) ||
	    fq_conf_validate(&conf, err, sizeof(err))) {
		fprintf(stderr, "configuration: %s\n", err);
		return -1;
	}
	/* Nothing connects: the port listens wherever the kernel puts it. */
	conf.ports[0].port = 0;
	if (fq_tgt_create(&conf, &tgt, err, sizeof(err))) {
		fprintf(stderr, "target: %s\n", err);
		return -1;
	}
	r = &tgt->reactors[0];
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fq_tgt_destroy(tgt);
	fq_conf_free(&conf);
	unlink(ini_path);
	return 0;
}

/* A controller: admin queue connected and enabled, one I/O queue connected. */
static int ctrl_setup(void **state)
{
	uint16_t st;

	(void)state;
	memset(&fk, 0, sizeof(fk));
	aq = queue_new();
	ioq = queue_new();
	if (connect_q(aq, 0, FQ_CNTLID_DYNAMIC))
		return -1;
	prop(aq, true, FQ_PROP_CC, FQ_CC_EN | FQ_CC_IOSQES_64 | FQ_CC_IOCQES_16, &st);
	if (st || admin(FQ_ADM_SET_FEATURES, 0, FQ_FEAT_NUM_QUEUES, 0, 0))
		return -1;
	if (connect_q(ioq, 1, aq->ctrl->cntlid))
		return -1;
	memset(&fk, 0, sizeof(fk));
	return 0;
}

static void pool_return(void);

static int ctrl_teardown(void **state)
{
	(void)state;
	pool_return(); /* what a failed test left taken */
	fk.hold = false;
	queue_free(ioq);
	queue_free(aq);
	aq = ioq = NULL;
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

/* Connect: a dynamic controller on the admin queue, an I/O queue joins it. */
static void test_connect(void **state)
{
	struct fq_queue *a = queue_new(), *io = queue_new(), *io2 = queue_new();
	uint16_t st, cntlid;

	(void)state;
	memset(&fk, 0, sizeof(fk));
	assert_int_equal(connect_q(a, 0, FQ_CNTLID_DYNAMIC), 0);
	assert_int_equal(fk.nrsp, 1);
	assert_non_null(a->ctrl);
	cntlid = (uint16_t)fk.cqe.dw0;
	assert_int_equal(cntlid, a->ctrl->cntlid);
	assert_int_equal(fk.cqe.cid, next_cid);
	assert_int_equal(fk.cqe.sq_id, 0);
	assert_int_equal(a->sqsize, 32);
	assert_int_equal(a->busy, 0); /* released once "sent" */

	/* An I/O queue before CC.EN is a command sequence error. */
	assert_int_equal(connect_q(io, 1, cntlid), FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
	assert_null(io->ctrl);

	prop(a, true, FQ_PROP_CC, FQ_CC_EN | FQ_CC_IOSQES_64 | FQ_CC_IOCQES_16, &st);
	assert_int_equal(st, 0);
	assert_int_equal(admin_q(a, FQ_ADM_SET_FEATURES, 0, FQ_FEAT_NUM_QUEUES, 1, 0), 0);
	assert_int_equal(connect_q(io, 1, cntlid), 0);
	assert_ptr_equal(io->ctrl, a->ctrl);
	assert_int_equal(io->qid, 1);
	/* The same qid twice, or a controller that does not exist, is refused. */
	assert_int_not_equal(connect_q(io2, 1, cntlid), 0);
	assert_int_not_equal(connect_q(io2, 2, (uint16_t)(cntlid + 100)), 0);
	assert_null(io2->ctrl);
	queue_free(io2);
	queue_free(io);
	queue_free(a);
}

/* Property Get/Set: CAP and VS read back, CC.EN sets CSTS.RDY, clearing it resets. */
static void test_property(void **state)
{
	uint16_t st;
	uint64_t v;

	(void)state;
	v = prop(aq, false, FQ_PROP_CAP, 0, &st);
	assert_int_equal(st, 0);
	assert_int_equal(v & 0xffff, conf.max_queue_size - 1); /* MQES */
	assert_int_equal(prop(aq, false, FQ_PROP_VS, 0, &st), FQ_VS(1, 3, 0));
	assert_int_equal(prop(aq, false, FQ_PROP_CSTS, 0, &st) & FQ_CSTS_RDY, FQ_CSTS_RDY);
	prop(aq, true, FQ_PROP_CC, 0, &st);
	assert_int_equal(st, 0);
	assert_int_equal(prop(aq, false, FQ_PROP_CSTS, 0, &st) & FQ_CSTS_RDY, 0);
	prop(aq, true, FQ_PROP_CC, FQ_CC_EN | FQ_CC_IOSQES_64 | FQ_CC_IOCQES_16, &st);
	assert_int_equal(prop(aq, false, FQ_PROP_CSTS, 0, &st) & FQ_CSTS_RDY, FQ_CSTS_RDY);
	assert_int_equal(prop(aq, false, FQ_PROP_CC, 0, &st) & FQ_CC_EN, FQ_CC_EN);
	/* A property that does not exist, and Property Get on an I/O queue. */
	prop(aq, false, 0x40, 0, &st);
	assert_int_equal(st, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR);
	prop(ioq, false, FQ_PROP_CSTS, 0, &st);
	assert_int_equal(st, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
}

/* Identify Controller and Namespace: the data reaches the transport as read data. */
static void test_identify(void **state)
{
	const struct fq_id_ctrl *id = (const void *)fk.data;
	const struct fq_id_ns *ns = (const void *)fk.data;

	(void)state;
	assert_int_equal(admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_CTRL, 0, 4096), 0);
	assert_int_equal(fk.ndata, 1);
	assert_int_equal(fk.data_len, 4096);
	assert_int_equal(id->cntlid, aq->ctrl->cntlid);
	assert_int_equal(id->mdts, tgt->mdts);
	assert_memory_equal(id->subnqn, NQN, sizeof(NQN));

	assert_int_equal(admin(FQ_ADM_IDENTIFY, 1, FQ_CNS_NS, 0, 4096), 0);
	assert_int_equal(fk.ndata, 2);
	assert_int_equal(ns->nsze, (1u << 20) / BS);
	assert_int_equal(ns->ncap, (1u << 20) / BS);
	/* NSID 0 names no namespace. */
	assert_int_equal(admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_NS, 0, 4096),
			 FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_NS) | FQ_STATUS_DNR);
	assert_int_equal(fk.ndata, 2);
	assert_int_equal(aq->busy, 0);
	assert_int_equal(r->pool.nfree[0], r->pool.count[0]); /* the reply buffers came back */
}

/* Keep Alive moves the controller's deadline to now + KATO. */
static void test_keep_alive(void **state)
{
	struct fq_ctrl *c = aq->ctrl;

	(void)state;
	assert_int_equal(c->kato_ms, 5000);
	r->now_ns = 1000ull * 1000000000ull;
	c->ka_deadline_ns = 0;
	assert_int_equal(admin(FQ_ADM_KEEP_ALIVE, 0, 0, 0, 0), 0);
	assert_int_equal(c->ka_deadline_ns, r->now_ns + 5000ull * 1000000ull);
	/* Not on an I/O queue. */
	c->ka_deadline_ns = 0;
	{
		struct fq_sqe s = {.opcode = FQ_ADM_KEEP_ALIVE};

		submit(ioq, &s, NULL, 0);
	}
	assert_int_not_equal(fk.cqe.status, 0);
	assert_int_equal(c->ka_deadline_ns, 0);
}

/* Invalid opcodes on both queues: Invalid Command Opcode with DNR. */
static void test_invalid_opcode(void **state)
{
	struct fq_sqe s = {.opcode = 0x54, .nsid = 1};
	uint16_t want = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_OPCODE) | FQ_STATUS_DNR;

	(void)state;
	submit(ioq, &s, NULL, 0);
	assert_int_equal(fk.cqe.status, want);
	assert_int_equal(fk.cqe.sq_id, 1);
	assert_int_equal(fk.cqe.cid, next_cid);
	assert_int_equal(admin(0xc4, 0, 0, 0, 0), want);
	/* Before Connect only Fabrics commands are taken. */
	{
		struct fq_queue *q = queue_new();
		struct fq_sqe k = {.opcode = FQ_ADM_KEEP_ALIVE};

		submit(q, &k, NULL, 0);
		assert_int_equal(fk.cqe.status, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_CMD_SEQ_ERROR));
		queue_free(q);
	}
}

/*
 * A write that needs its data from the host: free -> data wanted (the
 * transport is asked) -> exec -> tx -> free; then a read at the backend:
 * free -> exec (the delayed namespace holds it) -> tx -> free. The read
 * brings back what the write put.
 */
static void test_lifecycle(void **state)
{
	struct fq_sqe w = rw_sqe(FQ_IO_WRITE, 2, 3, 1), rd = rw_sqe(FQ_IO_READ, 2, 3, 1);
	struct fq_req *req;
	uint8_t pat[BS];

	(void)state;
	for (uint32_t i = 0; i < BS; i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	fk.hold = true;
	req = submit(ioq, &w, NULL, BS);
	assert_int_equal(req->state, FQ_REQ_NEED_DATA);
	assert_int_equal(fk.nfetch, 1);
	assert_ptr_equal(fk.fetched, req);
	assert_non_null(req->buf);
	assert_int_equal(ioq->busy, 1);
	assert_int_equal(fk.nrsp, 0);
	memcpy(req->buf, pat, BS);
	req->rcvd = BS;
	fq_req_data_ready(req);
	assert_int_equal(fk.nrsp, 1);
	assert_ptr_equal(fk.last, req);
	assert_int_equal(fk.state_at_send, FQ_REQ_TX);
	assert_int_equal(req->state, FQ_REQ_TX);
	assert_int_equal(fk.cqe.status, 0);
	fq_req_done(req);
	assert_int_equal(req->state, FQ_REQ_FREE);
	assert_int_equal(ioq->busy, 0);

	req = submit(ioq, &rd, NULL, BS);
	assert_int_equal(req->state, FQ_REQ_EXEC); /* at the (delayed) backend */
	assert_int_equal(ioq->busy, 1);
	assert_int_equal(fk.ndata, 0);
	for (int i = 0; i < 1000 && !fk.ndata; i++)
		fq_loop_turn(r->loop, 100 * 1000 * 1000);
	assert_int_equal(fk.ndata, 1);
	assert_int_equal(req->state, FQ_REQ_TX);
	assert_int_equal(fk.data_len, BS);
	assert_memory_equal(fk.data, pat, BS);
	fq_req_done(req);
	assert_int_equal(req->state, FQ_REQ_FREE);
	assert_int_equal(ioq->busy, 0);
}

/* Read and write through the I/O handlers on a RAM namespace, in-capsule and not. */
static void test_read_write(void **state)
{
	struct fq_sqe w = rw_sqe(FQ_IO_WRITE, 1, 10, 2), rd = rw_sqe(FQ_IO_READ, 1, 10, 2);
	struct fq_sqe w1 = rw_sqe(FQ_IO_WRITE, 1, 11, 1), bad = rw_sqe(FQ_IO_READ, 1, 256, 1);
	struct fq_sqe none = rw_sqe(FQ_IO_READ, 9, 0, 1);
	uint8_t pat[2 * BS], one[BS];

	(void)state;
	for (uint32_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i ^ (i >> 8));
	memset(one, 0xab, sizeof(one));
	w.sgl.type = FQ_SGL_INCAPSULE;
	submit(ioq, &w, pat, sizeof(pat));
	assert_int_equal(fk.nrsp, 1);
	assert_int_equal(fk.cqe.status, 0);
	submit(ioq, &rd, NULL, sizeof(pat));
	assert_int_equal(fk.ndata, 1);
	assert_int_equal(fk.cqe.status, 0);
	assert_int_equal(fk.data_len, sizeof(pat));
	assert_memory_equal(fk.data, pat, sizeof(pat));

	/* A write whose data the transport fetches: the second block changes. */
	submit(ioq, &w1, NULL, BS);
	assert_int_equal(fk.nfetch, 1);
	memcpy(fk.fetched->buf, one, BS);
	fk.fetched->rcvd = BS;
	fq_req_data_ready(fk.fetched);
	assert_int_equal(fk.cqe.status, 0);
	submit(ioq, &rd, NULL, sizeof(pat));
	assert_memory_equal(fk.data, pat, BS);
	assert_memory_equal(fk.data + BS, one, BS);
	assert_int_equal(fq_subsys_ns(tgt->subsys[0])->ns[0]->reads, 2);
	assert_int_equal(fq_subsys_ns(tgt->subsys[0])->ns[0]->writes, 2);

	/* Past the end of the namespace, and a namespace that does not exist. */
	submit(ioq, &bad, NULL, BS);
	assert_int_equal(fk.cqe.status, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE) | FQ_STATUS_DNR);
	submit(ioq, &none, NULL, BS);
	assert_int_equal(fk.cqe.status,
			 FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_NS) | FQ_STATUS_DNR);
	assert_int_equal(fk.ndata, 2);
	assert_int_equal(ioq->busy, 0);
}

/* Take every pool buffer but @keep large ones; they go back with pool_return(). */
static uint8_t *taken[2][1100];
static int ntaken[2];

static void pool_drain(uint32_t keep)
{
	struct fq_bufpool *p = &r->pool;

	for (int c = 0; c < 2; c++) {
		ntaken[c] = 0;
		while (p->nfree[c] > (c == 1 ? keep : 0))
			taken[c][ntaken[c]++] = p->free[c][--p->nfree[c]];
	}
}

static void pool_return(void)
{
	for (int c = 0; c < 2; c++)
		while (ntaken[c])
			fq_buf_put(&r->pool, taken[c][--ntaken[c]], c);
}

/*
 * With no buffer free, an Identify (its reply needs one) waits in need-buf
 * and is resumed by the reactor's per-turn wake, not by the completion
 * that freed the buffer; a write waiting for a buffer is resumed by asking
 * for its data. (RAM reads need no buffer: they are sent from the
 * namespace's memory.)
 */
static void test_wait_for_buffer(void **state)
{
	struct fq_sqe w = rw_sqe(FQ_IO_WRITE, 1, 0, 1);
	const struct fq_id_ns *ns = (const void *)fk.data;
	struct fq_req *a, *b, *c;

	(void)state;
	pool_drain(1);
	fk.hold = true;
	admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_CTRL, 0, 4096); /* takes the last buffer */
	a = fk.last;
	assert_int_equal(a->state, FQ_REQ_TX);
	admin(FQ_ADM_IDENTIFY, 1, FQ_CNS_NS, 0, 4096);
	b = &aq->reqs[0];
	for (uint32_t i = 0; i < aq->nreqs; i++)
		if (aq->reqs[i].state == FQ_REQ_NEED_BUF)
			b = &aq->reqs[i];
	assert_int_equal(b->state, FQ_REQ_NEED_BUF);
	assert_int_equal(b->cmd.cid, next_cid);
	c = submit(ioq, &w, NULL, BS);
	assert_int_equal(c->state, FQ_REQ_NEED_BUF);
	assert_int_equal(fk.nfetch, 0);
	assert_int_equal(fk.ndata, 1);

	fq_req_done(a); /* the buffer comes back... */
	assert_int_equal(a->state, FQ_REQ_FREE);
	assert_int_equal(b->state, FQ_REQ_NEED_BUF); /* ...but b waits for the turn */
	assert_true(r->wake_pending);
	fq_req_wake_waiters(r);
	assert_int_equal(fk.ndata, 2);
	assert_ptr_equal(fk.last, b);
	assert_int_equal(b->state, FQ_REQ_TX);
	assert_int_equal(ns->nsze, (1u << 20) / BS);
	assert_int_equal(c->state, FQ_REQ_NEED_BUF); /* oldest first, one buffer */

	fq_req_done(b);
	fq_req_wake_waiters(r);
	assert_int_equal(c->state, FQ_REQ_NEED_DATA); /* now its data is asked for */
	assert_int_equal(fk.nfetch, 1);
	assert_ptr_equal(fk.fetched, c);
	c->rcvd = BS;
	memset(c->buf, 0, BS);
	fq_req_data_ready(c);
	assert_int_equal(fk.cqe.status, 0);
	fq_req_done(c);
	assert_int_equal(ioq->busy, 0);
	assert_int_equal(aq->busy, 0);
	assert_null(r->wait_head);
	pool_return();
}

/*
 * A completion inside the transport's send callback (an inline transport
 * finishing another response while sending this one) frees a buffer a
 * waiting command needs: that command must not run from inside the send,
 * so dispatch never nests (exec_depth stays 1), and it runs at the next
 * turn.
 */
static void test_no_reentry(void **state)
{
	struct fq_sqe w = rw_sqe(FQ_IO_WRITE, 1, 0, 1);
	struct fq_req *a, *b;

	(void)state;
	pool_drain(1);
	fk.hold = true;
	admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_CTRL, 0, 4096); /* holds the last buffer */
	a = fk.last;
	assert_int_equal(a->state, FQ_REQ_TX);
	admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_CTRL, 0, 4096); /* waits for it */
	assert_int_equal(fk.ndata, 1);
	assert_int_equal(fk.max_depth, 1);

	fk.hold = false;
	fk.on_send_done = a; /* released inside the Keep Alive's send */
	assert_int_equal(admin(FQ_ADM_KEEP_ALIVE, 0, 0, 0, 0), 0);
	assert_int_equal(a->state, FQ_REQ_FREE);
	assert_int_equal(fk.ndata, 1); /* the waiter did not run inside the send */
	assert_int_equal(fk.max_depth, 1);
	assert_int_equal(r->exec_depth, 0);

	fq_req_wake_waiters(r);
	assert_int_equal(fk.ndata, 2); /* ran at the turn, sent, released */
	assert_int_equal(fk.depth_at_send, 1);
	assert_int_equal(fk.max_depth, 1);
	assert_int_equal(aq->busy, 0);

	/* The same for a write resumed by a completion inside a send. */
	fk.hold = true;
	b = submit(ioq, &w, NULL, BS); /* takes the buffer, data asked for */
	assert_int_equal(b->state, FQ_REQ_NEED_DATA);
	admin(FQ_ADM_IDENTIFY, 0, FQ_CNS_CTRL, 0, 4096);
	assert_int_equal(fk.ndata, 2);
	b->rcvd = BS;
	fq_req_data_ready(b); /* completes: response held */
	fk.hold = false;
	fk.on_send_done = b;
	admin(FQ_ADM_KEEP_ALIVE, 0, 0, 0, 0);
	assert_int_equal(b->state, FQ_REQ_FREE);
	assert_int_equal(fk.ndata, 2);
	assert_int_equal(fk.max_depth, 1);
	fq_req_wake_waiters(r);
	assert_int_equal(fk.ndata, 3);
	assert_int_equal(fk.max_depth, 1);
	assert_int_equal(ioq->busy + aq->busy, 0);
	pool_return();
}

/* A queue that closes releases its parked requests; Disconnect closes after its response. */
static void test_close(void **state)
{
	struct fq_sqe w = rw_sqe(FQ_IO_WRITE, 1, 0, 1);
	struct fq_fabrics_cmd d = {.opcode = FQ_ADM_FABRICS, .fctype = FQ_FCTYPE_DISCONNECT};
	struct fq_req *b;

	(void)state;
	pool_drain(0);
	b = submit(ioq, &w, NULL, BS);
	assert_int_equal(b->state, FQ_REQ_NEED_BUF);
	fk.hold = true;
	submit(aq, (struct fq_sqe *)&d, NULL, 0);
	assert_int_equal(fk.cqe.status, 0);
	assert_int_equal(fk.nclose, 0); /* not before the response is out */
	fq_req_done(fk.last);
	assert_int_equal(fk.nclose, 1);
	assert_int_equal(aq->state, FQ_CONN_CLOSING);
	fake_close(ioq, "test");
	assert_int_equal(b->state, FQ_REQ_FREE);
	assert_null(r->wait_head);
	pool_return();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test_setup_teardown(test_property, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_identify, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_opcode, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_read_write, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_wait_for_buffer, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_no_reentry, ctrl_setup, ctrl_teardown),
		cmocka_unit_test_setup_teardown(test_close, ctrl_setup, ctrl_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
