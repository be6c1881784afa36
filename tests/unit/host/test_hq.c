/* SPDX-License-Identifier: MIT */
/*
 * Host queue state machines (src/host/hq_*.c) driven through a fake
 * transport: connection setup, Connect rejections, split and partial PDUs,
 * unknown and duplicated command IDs, R2T/H2CData, digests, timeouts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_target.h"
#include "proto/nvmf.h"

static uint8_t out[1 << 20];
static uint8_t in[1 << 20];

struct ctx {
	struct hq q;
	int timeouts;
	int closed;
};

static bool on_timeout(struct hq *q, struct hreq *r)
{
	struct ctx *c = q->owner;

	(void)r;
	c->timeouts++;
	/* First expiry handled (pretend an Abort went out), then give up. */
	if (c->timeouts == 1) {
		r->deadline_ns += 1000;
		return true;
	}
	return false;
}

static void on_state(struct hq *q, enum hq_state old)
{
	struct ctx *c = q->owner;

	(void)old;
	if (q->state == HQ_CLOSED)
		c->closed++;
}

static const struct hq_ops ops = {.state_change = on_state, .timeout = on_timeout};

static struct ctx *new_ctx(bool hdgst, bool ddgst)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = {.sin_family = AF_INET};

	assert_int_equal(hq_init(&c->q, 16, 8, &ops, c), 0);
	c->q.p.qid = 1;
	c->q.p.sqsize = 8;
	c->q.p.cntlid = 7;
	c->q.p.hdgst = hdgst;
	c->q.p.ddgst = ddgst;
	c->q.p.connect_timeout_ms = 1000;
	c->q.p.inline_max = 4096;
	strcpy(c->q.p.subnqn, "nqn.test:sub");
	strcpy(c->q.p.hostnqn, "nqn.test:host");
	strcpy(c->q.p.peer, "fake:4420");
	assert_int_equal(hq_start(&c->q, NULL, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static void free_ctx(struct ctx *c)
{
	hq_fini(&c->q);
	free(c);
}

/* ICResp then the Connect response: the queue ends up LIVE. */
static struct ctx *live_ctx(bool hdgst, bool ddgst, uint32_t maxh2c)
{
	struct ctx *c = new_ctx(hdgst, ddgst);
	uint8_t dg = (hdgst ? 1 : 0) | (ddgst ? 2 : 0);
	struct fq_tcp_cmd *cmd;
	size_t n;

	assert_int_equal(fake_take(&c->q, out, sizeof(out)), 128);
	n = fake_icresp(in, dg, maxh2c);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(c->q.state, HQ_FABRIC_CONNECT);
	fake_take(&c->q, out, sizeof(out));
	cmd = (struct fq_tcp_cmd *)out;
	n = fake_rsp(in, cmd->sqe.cid, 0, 7, hdgst);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(c->q.state, HQ_LIVE);
	return c;
}

static struct hreq *submit(struct ctx *c, uint8_t opc, void *buf, uint32_t len,
			   struct fake_cpl_log *log)
{
	struct fq_nvme_cmd cmd = {.opc = opc, .nsid = 1};
	struct hreq *r = hq_req_get(&c->q);

	assert_non_null(r);
	assert_int_equal(hq_req_from_raw(r, &cmd, buf, len), 0);
	r->cb = fake_cb;
	r->cb_arg = log;
	assert_int_equal(hq_submit(r), 0);
	return r;
}

static void icreq_is_well_formed(void **state)
{
	struct ctx *c = new_ctx(true, false);
	struct fq_tcp_icreq *ic = (struct fq_tcp_icreq *)out;

	(void)state;
	assert_int_equal(c->q.state, HQ_IC);
	assert_int_equal(fake_take(&c->q, out, sizeof(out)), 128);
	assert_int_equal(ic->ch.type, FQ_TCP_ICREQ);
	assert_int_equal(ic->ch.hlen, 128);
	assert_int_equal(ic->ch.plen, 128);
	assert_int_equal(ic->pfv, 0);
	assert_int_equal(ic->hpda, 0);
	assert_int_equal(ic->maxr2t, 0);
	assert_int_equal(ic->dgst, FQ_TCP_DGST_HDR);
	free_ctx(c);
}

static void connect_capsule_carries_identity(void **state)
{
	struct ctx *c = new_ctx(false, false);
	struct fq_tcp_cmd *cmd = (struct fq_tcp_cmd *)out;
	const struct fq_connect_cmd *cc = (const void *)&cmd->sqe;
	const struct fq_connect_data *d = (const void *)(out + sizeof(*cmd));
	size_t n;

	(void)state;
	fake_take(&c->q, out, sizeof(out));
	n = fake_icresp(in, 0, 8192);
	/* Byte by byte: the ICResp arrives in 128 reads. */
	assert_int_equal(fake_feed(&c->q, in, n, 1), 0);
	assert_int_equal(fake_take(&c->q, out, sizeof(out)), sizeof(*cmd) + 1024);
	assert_int_equal(cmd->ch.type, FQ_TCP_CAPSULE_CMD);
	assert_int_equal(cmd->ch.pdo, sizeof(*cmd));
	assert_int_equal(cc->opcode, FQ_ADM_FABRICS);
	assert_int_equal(cc->fctype, FQ_FCTYPE_CONNECT);
	assert_int_equal(cc->qid, 1);
	assert_int_equal(cc->sqsize, 8);
	assert_int_equal(cc->kato, 0); /* I/O queue */
	assert_int_equal(cc->sgl.type, FQ_SGL_INCAPSULE);
	assert_int_equal(cc->sgl.length, 1024);
	assert_int_equal(d->cntlid, 7);
	assert_string_equal(d->subnqn, "nqn.test:sub");
	assert_string_equal(d->hostnqn, "nqn.test:host");
	n = fake_rsp(in, cmd->sqe.cid, 0, 7, false);
	assert_int_equal(fake_feed(&c->q, in, n, 3), 0);
	assert_int_equal(c->q.state, HQ_LIVE);
	assert_int_equal(c->q.cntlid, 7);
	free_ctx(c);
}

static void icresp_digest_mismatch_fails(void **state)
{
	struct ctx *c = new_ctx(true, true);
	size_t n;

	(void)state;
	fake_take(&c->q, out, sizeof(out));
	n = fake_icresp(in, FQ_TCP_DGST_HDR, 8192); /* data digest not granted */
	fake_feed(&c->q, in, n, n);
	assert_int_equal(c->q.state, HQ_CLOSED);
	assert_int_equal(c->q.err, -EPROTO);
	assert_non_null(strstr(c->q.errmsg, "digest"));
	assert_non_null(strstr(c->q.errmsg, "ICResp"));
	free_ctx(c);
}

static void icresp_small_maxh2cdata_fails(void **state)
{
	struct ctx *c = new_ctx(false, false);
	size_t n;

	(void)state;
	fake_take(&c->q, out, sizeof(out));
	n = fake_icresp(in, 0, 1024);
	fake_feed(&c->q, in, n, n);
	assert_int_equal(c->q.err, -EPROTO);
	assert_non_null(strstr(c->q.errmsg, "MAXH2CDATA"));
	free_ctx(c);
}

static void connect_reject(uint16_t sc, uint32_t dw0, int err, const char *text)
{
	struct ctx *c = new_ctx(false, false);
	struct fq_tcp_cmd *cmd = (struct fq_tcp_cmd *)out;
	size_t n;

	fake_take(&c->q, out, sizeof(out));
	n = fake_icresp(in, 0, 8192);
	fake_feed(&c->q, in, n, n);
	fake_take(&c->q, out, sizeof(out));
	n = fake_rsp(in, cmd->sqe.cid, FQ_STATUS(FQ_SCT_CMD_SPECIFIC, sc) | FQ_STATUS_DNR, dw0,
		     false);
	fake_feed(&c->q, in, n, n);
	assert_int_equal(c->q.state, HQ_CLOSED);
	assert_int_equal(c->q.err, err);
	assert_true(c->q.err_dnr);
	assert_non_null(strstr(c->q.errmsg, text));
	free_ctx(c);
}

static void connect_invalid_host_is_eacces(void **state)
{
	(void)state;
	connect_reject(FQ_SC_CONNECT_INVALID_HOST, 0, -EACCES, "host NQN not allowed");
}

static void connect_invalid_param_names_field(void **state)
{
	(void)state;
	connect_reject(FQ_SC_CONNECT_INVALID_PARAM, fq_connect_ipo(1, 512), -EINVAL,
		       "invalid HOSTNQN at byte 512 of the Connect data");
	connect_reject(FQ_SC_CONNECT_INVALID_PARAM, fq_connect_ipo(0, 44), -EINVAL,
		       "invalid SQSIZE at byte 44 of the Connect command");
}

/* Two C2HData PDUs and the response, fed one byte at a time. */
static void read_split_pdus_byte_by_byte(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	static uint8_t data[8192], buf[8192];
	struct hreq *r;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	r = submit(c, FQ_IO_READ, buf, sizeof(buf), &log);
	fake_take(&c->q, out, sizeof(out));
	assert_int_equal(((struct fq_tcp_cmd *)out)->sqe.sgl.type, FQ_SGL_TRANSPORT);
	n = fake_c2h(in, r->sqe.cid, 0, data, 3000, 0, false, false);
	n += fake_c2h(in + n, r->sqe.cid, 3000, data + 3000, 5192, FQ_TCP_F_DATA_LAST, false,
		      false);
	n += fake_rsp(in + n, r->sqe.cid, 0, 0, false);
	assert_int_equal(fake_feed(&c->q, in, n, 1), 0);
	assert_int_equal(log.n, 1);
	assert_false(fq_cpl_is_error(&log.cpl[0]));
	assert_memory_equal(buf, data, sizeof(data));
	assert_int_equal(c->q.outstanding, 0);
	free_ctx(c);
}

/* SUCCESS with LAST completes the read without a CapsuleResp (§3.6.2.7). */
static void read_success_flag_completes(void **state)
{
	struct ctx *c = live_ctx(true, true, 8192);
	struct fake_cpl_log log = {0};
	uint8_t data[4096], buf[4096];
	struct hreq *r;
	size_t n;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	r = submit(c, FQ_IO_READ, buf, sizeof(buf), &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_c2h(in, r->sqe.cid, 0, data, sizeof(data),
		     FQ_TCP_F_DATA_LAST | FQ_TCP_F_DATA_SUCCESS, true, true);
	assert_int_equal(fake_feed(&c->q, in, n, 7), 0);
	assert_int_equal(log.n, 1);
	assert_false(fq_cpl_is_error(&log.cpl[0]));
	assert_memory_equal(buf, data, sizeof(data));
	/* A CapsuleResp after SUCCESS names a completed command: fatal. */
	n = fake_rsp(in, r->sqe.cid, 0, 0, true);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	free_ctx(c);
}

static void data_digest_error_fails_command_only(void **state)
{
	struct ctx *c = live_ctx(true, true, 8192);
	struct fake_cpl_log log = {0};
	uint8_t data[512], buf[512];
	struct hreq *r;
	size_t n;

	(void)state;
	memset(data, 1, sizeof(data));
	r = submit(c, FQ_IO_READ, buf, sizeof(buf), &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_c2h(in, r->sqe.cid, 0, data, sizeof(data), FQ_TCP_F_DATA_LAST, true, true);
	in[n - 1] ^= 0xff; /* spoil the DDGST */
	n += fake_rsp(in + n, r->sqe.cid, 0, 0, true);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(fq_cpl_sc(&log.cpl[0]), FQ_SC_DATA_XFER_ERROR);
	assert_int_equal(c->q.state, HQ_LIVE);
	free_ctx(c);
}

static void header_digest_error_sends_termreq(void **state)
{
	struct ctx *c = live_ctx(true, false, 8192);
	struct fake_cpl_log log = {0};
	struct fq_tcp_term *t = (struct fq_tcp_term *)out;
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_rsp(in, r->sqe.cid, 0, 0, true);
	in[24] ^= 1;
	assert_int_equal(fake_feed(&c->q, in, n, 5), -EPROTO);
	/* The outstanding command fails with a path error, not silently. */
	assert_int_equal(log.n, 1);
	assert_int_equal(fq_cpl_sct(&log.cpl[0]), FQ_SCT_PATH);
	assert_true(fake_take(&c->q, out, sizeof(out)) >= sizeof(*t));
	assert_int_equal(t->ch.type, FQ_TCP_H2C_TERM);
	assert_int_equal(t->fes, FQ_TCP_FES_HDR_DIGEST);
	free_ctx(c);
}

static void unknown_cid_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	struct fq_tcp_term *t = (struct fq_tcp_term *)out;
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_rsp(in, (uint16_t)(r->sqe.cid ^ 0x3), 0, 0, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_int_equal(c->q.state, HQ_CLOSED);
	assert_non_null(strstr(c->q.errmsg, "unknown or completed command ID"));
	assert_int_equal(log.n, 1);
	assert_true(fq_cpl_is_path_error(&log.cpl[0]));
	fake_take(&c->q, out, sizeof(out));
	assert_int_equal(t->ch.type, FQ_TCP_H2C_TERM);
	assert_int_equal(t->fes, FQ_TCP_FES_INVALID_HEADER);
	assert_int_equal(fq_tcp_term_fei(t), offsetof(struct fq_tcp_rsp, cqe.cid));
	free_ctx(c);
}

/* A response repeated after its command completed must not complete another. */
static void duplicate_cid_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	struct hreq *r;
	uint16_t cid;
	size_t n;

	(void)state;
	r = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	cid = r->sqe.cid;
	fake_take(&c->q, out, sizeof(out));
	n = fake_rsp(in, cid, 0, 0, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(log.n, 1);
	/* The slot is reused by the next command with a new generation. */
	r = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	assert_int_equal(r->idx, cid & 0x3ff);
	assert_int_not_equal(r->sqe.cid, cid);
	fake_take(&c->q, out, sizeof(out));
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_int_equal(log.n, 2);
	assert_true(fq_cpl_is_path_error(&log.cpl[1]));
	free_ctx(c);
}

static void several_pdus_in_one_read(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	struct hreq *r[3];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		r[i] = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	fake_take(&c->q, out, sizeof(out));
	for (int i = 2; i >= 0; i--)
		n += fake_rsp(in + n, r[i]->sqe.cid, 0, (uint32_t)i, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.cpl[0].cdw0, 2);
	assert_int_equal(log.cpl[2].cdw0, 0);
	free_ctx(c);
}

static void small_write_goes_in_capsule(void **state)
{
	struct ctx *c = live_ctx(false, true, 8192);
	struct fake_cpl_log log = {0};
	uint8_t data[2048];
	struct fq_tcp_cmd *cmd = (struct fq_tcp_cmd *)out;
	uint32_t crc;

	(void)state;
	memset(data, 0x33, sizeof(data));
	submit(c, FQ_IO_WRITE, data, sizeof(data), &log);
	assert_int_equal(fake_take(&c->q, out, sizeof(out)), sizeof(*cmd) + sizeof(data) + 4);
	assert_int_equal(cmd->sqe.sgl.type, FQ_SGL_INCAPSULE);
	assert_int_equal(cmd->sqe.sgl.length, sizeof(data));
	assert_true(cmd->ch.flags & FQ_TCP_F_DDGST);
	assert_memory_equal(out + sizeof(*cmd), data, sizeof(data));
	memcpy(&crc, out + sizeof(*cmd) + sizeof(data), 4);
	assert_int_equal(crc, fq_crc32c(data, sizeof(data)));
	free_ctx(c);
}

/* R2T for 20 KiB with MAXH2CDATA 8 KiB: 8 + 8 + 4 KiB, LAST on the third. */
static void r2t_is_answered_in_maxh2cdata_chunks(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	static uint8_t data[20480];
	const uint32_t sizes[3] = {8192, 8192, 4096};
	struct hreq *r;
	size_t n, off = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i >> 3);
	r = submit(c, FQ_IO_WRITE, data, sizeof(data), &log);
	assert_int_equal(fake_take(&c->q, out, sizeof(out)), sizeof(struct fq_tcp_cmd));
	assert_int_equal(((struct fq_tcp_cmd *)out)->sqe.sgl.type, FQ_SGL_TRANSPORT);
	n = fake_r2t(in, r->sqe.cid, 0x1234, 0, sizeof(data));
	assert_int_equal(fake_feed(&c->q, in, n, 2), 0);
	/* The fake drains the FIFO; each drained PDU lets the next be built. */
	for (int i = 0; i < 3; i++) {
		struct fq_tcp_data *d = (struct fq_tcp_data *)out;

		assert_int_equal(fake_take(&c->q, out, sizeof(out)), sizeof(*d) + sizes[i]);
		assert_int_equal(d->ch.type, FQ_TCP_H2C_DATA);
		assert_int_equal(d->ttag, 0x1234);
		assert_int_equal(d->cccid, r->sqe.cid);
		assert_int_equal(d->datao, off);
		assert_int_equal(d->datal, sizes[i]);
		assert_int_equal(!!(d->ch.flags & FQ_TCP_F_DATA_LAST), i == 2);
		assert_memory_equal(out + sizeof(*d), data + off, sizes[i]);
		off += sizes[i];
	}
	assert_int_equal(fake_take(&c->q, out, sizeof(out)), 0);
	n = fake_rsp(in, r->sqe.cid, 0, 0, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(log.n, 1);
	free_ctx(c);
}

static void r2t_out_of_range_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	static uint8_t data[16384];
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_IO_WRITE, data, sizeof(data), &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_r2t(in, r->sqe.cid, 1, 8192, 16384);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_non_null(strstr(c->q.errmsg, "R2T range"));
	assert_int_equal(log.n, 1);
	free_ctx(c);
}

static void c2h_beyond_buffer_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	uint8_t buf[512], data[1024] = {0};
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_IO_READ, buf, sizeof(buf), &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_c2h(in, r->sqe.cid, 0, data, sizeof(data), FQ_TCP_F_DATA_LAST, false, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_int_equal(log.n, 1);
	assert_true(fq_cpl_is_path_error(&log.cpl[0]));
	free_ctx(c);
}

static void success_without_last_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	uint8_t buf[1024], data[512] = {0};
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_IO_READ, buf, sizeof(buf), &log);
	fake_take(&c->q, out, sizeof(out));
	n = fake_c2h(in, r->sqe.cid, 0, data, sizeof(data), FQ_TCP_F_DATA_SUCCESS, false, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_non_null(strstr(c->q.errmsg, "SUCCESS without LAST"));
	free_ctx(c);
}

/* The response may overtake our own send completion: free only after both. */
static void completion_waits_for_send(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	uint8_t data[1024] = {0};
	struct hreq *r;
	size_t n;

	(void)state;
	r = submit(c, FQ_IO_WRITE, data, sizeof(data), &log);
	n = fake_rsp(in, r->sqe.cid, 0, 0, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), 0);
	assert_int_equal(log.n, 0);
	fake_take(&c->q, out, sizeof(out));
	assert_int_equal(log.n, 1);
	free_ctx(c);
}

static void queue_full_returns_eagain(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	struct fq_nvme_cmd cmd = {.opc = FQ_ADM_KEEP_ALIVE};
	struct hreq *r;

	(void)state;
	for (int i = 0; i < 8; i++)
		submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	r = hq_req_get(&c->q);
	hq_req_from_raw(r, &cmd, NULL, 0);
	assert_int_equal(hq_submit(r), -EAGAIN);
	hq_req_put(r);
	free_ctx(c);
}

static void timeout_then_failure(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fake_cpl_log log = {0};
	struct hreq *r;
	uint64_t t;

	(void)state;
	r = submit(c, FQ_ADM_KEEP_ALIVE, NULL, 0, &log);
	r->deadline_ns = hq_now_ns() + 1000000;
	t = r->deadline_ns + 1;
	hq_check_timers(&c->q, t);
	assert_int_equal(c->timeouts, 1);
	assert_int_equal(c->q.state, HQ_LIVE);
	hq_check_timers(&c->q, t + 100000000ull);
	assert_int_equal(c->timeouts, 2);
	assert_int_equal(c->q.err, -ETIMEDOUT);
	assert_int_equal(log.n, 1);
	assert_true(fq_cpl_is_path_error(&log.cpl[0]));
	free_ctx(c);
}

static void icresp_timeout_names_step(void **state)
{
	struct ctx *c = new_ctx(false, false);

	(void)state;
	fake_take(&c->q, out, sizeof(out));
	hq_check_timers(&c->q, c->q.step_deadline_ns + 1);
	assert_int_equal(c->q.err, -ETIMEDOUT);
	assert_non_null(strstr(c->q.errmsg, "no ICResp"));
	free_ctx(c);
}

static void wrong_direction_pdu_is_fatal(void **state)
{
	struct ctx *c = live_ctx(false, false, 8192);
	struct fq_tcp_data d;
	size_t n;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.ch.type = FQ_TCP_H2C_DATA;
	n = fake_pdu(in, &d, sizeof(d), NULL, 0, 0, false, false);
	assert_int_equal(fake_feed(&c->q, in, n, n), -EPROTO);
	assert_int_equal(c->q.state, HQ_CLOSED);
	free_ctx(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(icreq_is_well_formed),
		cmocka_unit_test(connect_capsule_carries_identity),
		cmocka_unit_test(icresp_digest_mismatch_fails),
		cmocka_unit_test(icresp_small_maxh2cdata_fails),
		cmocka_unit_test(connect_invalid_host_is_eacces),
		cmocka_unit_test(connect_invalid_param_names_field),
		cmocka_unit_test(read_split_pdus_byte_by_byte),
		cmocka_unit_test(read_success_flag_completes),
		cmocka_unit_test(data_digest_error_fails_command_only),
		cmocka_unit_test(header_digest_error_sends_termreq),
		cmocka_unit_test(unknown_cid_is_fatal),
		cmocka_unit_test(duplicate_cid_is_fatal),
		cmocka_unit_test(several_pdus_in_one_read),
		cmocka_unit_test(small_write_goes_in_capsule),
		cmocka_unit_test(r2t_is_answered_in_maxh2cdata_chunks),
		cmocka_unit_test(r2t_out_of_range_is_fatal),
		cmocka_unit_test(c2h_beyond_buffer_is_fatal),
		cmocka_unit_test(success_without_last_is_fatal),
		cmocka_unit_test(completion_waits_for_send),
		cmocka_unit_test(queue_full_returns_eagain),
		cmocka_unit_test(timeout_then_failure),
		cmocka_unit_test(icresp_timeout_names_step),
		cmocka_unit_test(wrong_direction_pdu_is_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
