/* SPDX-License-Identifier: MIT */
/*
 * I/O command building (src/host/ns_cmd.c) over a fake transport: MDTS
 * splitting with one completion carrying the first failing piece's status,
 * fused Compare and Write, Dataset Management range lists, back-pressure.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_target.h"
#include "host/host_int.h"

static uint8_t out[1 << 20];
static uint8_t in[4096];

struct fx {
	struct fq_ctrlr c;
	struct fq_ns ns;
	struct fq_qpair qp;
};

static struct fx *setup(uint32_t max_xfer, uint32_t depth)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET};

	f->c.max_xfer = max_xfer;
	f->ns.ctrlr = &f->c;
	f->ns.nsid = 1;
	f->ns.sector_size = 512;
	f->ns.nsze = 1 << 20;
	f->qp.ctrlr = &f->c;
	assert_int_equal(hq_init(&f->qp.q, depth * 2, depth, NULL, &f->qp), 0);
	f->qp.q.p.qid = 1;
	f->qp.q.p.inline_max = 8192;
	f->qp.q.p.connect_timeout_ms = 1000;
	assert_int_equal(hq_start(&f->qp.q, NULL, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fake_make_live(&f->qp.q, out, sizeof(out), 65536), 0);
	return f;
}

static void teardown(struct fx *f)
{
	hq_fini(&f->qp.q);
	free(f);
}

/* Split the host's output into CapsuleCmd PDUs; returns how many. */
static int capsules(const uint8_t *buf, size_t len, const struct fq_tcp_cmd **cmds, int max)
{
	int n = 0;

	for (size_t off = 0; off < len && n < max;) {
		const struct fq_tcp_cmd *c = (const void *)(buf + off);

		assert_int_equal(c->ch.type, FQ_TCP_CAPSULE_CMD);
		cmds[n++] = c;
		off += c->ch.plen;
	}
	return n;
}

static void respond(struct fx *f, uint16_t cid, uint16_t status)
{
	size_t n = fake_rsp(in, cid, status, 0, false);

	assert_int_equal(fake_feed(&f->qp.q, in, n, n), 0);
}

static void split_write_reports_first_failing_piece(void **state)
{
	struct fx *f = setup(4096, 8);
	struct fake_cpl_log log = {0};
	static uint8_t data[12288];
	const struct fq_tcp_cmd *cmd[8];
	const uint16_t lba_err = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE);
	const uint16_t internal = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INTERNAL);

	(void)state;
	assert_int_equal(fq_ns_write(&f->ns, &f->qp, data, 100, 24, fake_cb, &log, 0), 0);
	assert_int_equal(capsules(out, fake_take(&f->qp.q, out, sizeof(out)), cmd, 8), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cmd[i]->sqe.opcode, FQ_IO_WRITE);
		assert_int_equal(cmd[i]->sqe.cdw10, 100 + 8 * i);
		assert_int_equal(cmd[i]->sqe.cdw12 & 0xffff, 7);
		assert_int_equal(cmd[i]->sqe.sgl.type, FQ_SGL_INCAPSULE);
		assert_int_equal(cmd[i]->ch.plen, sizeof(struct fq_tcp_cmd) + 4096);
	}
	/* Out of order: piece 2 fails first, then piece 1; piece 1 must win. */
	respond(f, cmd[2]->sqe.cid, internal);
	respond(f, cmd[0]->sqe.cid, 0);
	assert_int_equal(log.n, 0);
	respond(f, cmd[1]->sqe.cid, lba_err);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.cpl[0].status & 0x7fe, lba_err);
	assert_int_equal(f->qp.q.outstanding, 0);
	teardown(f);
}

static void split_needs_room_for_all_pieces(void **state)
{
	struct fx *f = setup(4096, 4);
	struct fake_cpl_log log = {0};
	static uint8_t data[5 * 4096];

	(void)state;
	/* Five pieces do not fit four wire slots: nothing is sent. */
	assert_int_equal(fq_ns_write(&f->ns, &f->qp, data, 0, 40, fake_cb, &log, 0), -EAGAIN);
	assert_int_equal(fake_take(&f->qp.q, out, sizeof(out)), 0);
	assert_int_equal(f->qp.q.outstanding, 0);
	/* The iovecs must cover exactly nlb blocks. */
	assert_int_equal(fq_ns_writev(&f->ns, &f->qp, &(struct iovec){data, 1000}, 1, 0, 2, fake_cb,
				      &log, 0),
			 -EINVAL);
	teardown(f);
}

static void fused_compare_and_write(void **state)
{
	struct fx *f = setup(0, 8);
	struct fake_cpl_log log = {0};
	uint8_t cmp[1024] = {1}, wr[1024] = {2};
	const struct fq_tcp_cmd *cmd[4];

	(void)state;
	assert_int_equal(fq_ns_compare_and_write(&f->ns, &f->qp, cmp, wr, 8, 2, fake_cb, &log, 0),
			 0);
	assert_int_equal(capsules(out, fake_take(&f->qp.q, out, sizeof(out)), cmd, 4), 2);
	assert_int_equal(cmd[0]->sqe.opcode, FQ_IO_COMPARE);
	assert_int_equal(cmd[0]->sqe.flags & FQ_SQE_FUSE_MASK, FQ_SQE_FUSE_FIRST);
	assert_int_equal(cmd[1]->sqe.opcode, FQ_IO_WRITE);
	assert_int_equal(cmd[1]->sqe.flags & FQ_SQE_FUSE_MASK, FQ_SQE_FUSE_SECOND);
	assert_memory_equal((const uint8_t *)cmd[0] + sizeof(*cmd[0]), cmp, sizeof(cmp));
	assert_memory_equal((const uint8_t *)cmd[1] + sizeof(*cmd[1]), wr, sizeof(wr));
	respond(f, cmd[1]->sqe.cid, FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_FUSED_FAIL));
	respond(f, cmd[0]->sqe.cid, FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_COMPARE_FAILED));
	assert_int_equal(log.n, 1);
	assert_int_equal(fq_cpl_sct(&log.cpl[0]), FQ_SCT_MEDIA);
	assert_int_equal(fq_cpl_sc(&log.cpl[0]), FQ_SC_COMPARE_FAILED);
	teardown(f);
}

static void dsm_carries_the_range_list(void **state)
{
	struct fx *f = setup(0, 8);
	struct fake_cpl_log log = {0};
	struct fq_dsm_range_desc r[5];
	const struct fq_tcp_cmd *cmd[2];

	(void)state;
	for (int i = 0; i < 5; i++)
		r[i] = (struct fq_dsm_range_desc){
			.cattr = 0, .nlb = 8u + (uint32_t)i, .slba = 1000u * (uint64_t)i};
	assert_int_equal(fq_ns_dsm(&f->ns, &f->qp, r, 5, FQ_DSM_DEALLOCATE, fake_cb, &log), 0);
	memset(r, 0, sizeof(r)); /* the library copied the list */
	assert_int_equal(capsules(out, fake_take(&f->qp.q, out, sizeof(out)), cmd, 2), 1);
	assert_int_equal(cmd[0]->sqe.opcode, FQ_IO_DSM);
	assert_int_equal(cmd[0]->sqe.cdw10, 4);
	assert_int_equal(cmd[0]->sqe.cdw11, FQ_DSM_DEALLOCATE);
	for (int i = 0; i < 5; i++) {
		const struct fq_dsm_range *d =
			(const void *)((const uint8_t *)cmd[0] + sizeof(*cmd[0]) + 16 * i);

		assert_int_equal(d->nlb, 8 + i);
		assert_int_equal(d->slba, 1000 * i);
	}
	respond(f, cmd[0]->sqe.cid, 0);
	assert_int_equal(log.n, 1);
	assert_false(fq_cpl_is_error(&log.cpl[0]));
	assert_int_equal(fq_ns_dsm(&f->ns, &f->qp, r, 0, 0, fake_cb, &log), -EINVAL);
	teardown(f);
}

static void submit_on_closed_queue_is_enxio(void **state)
{
	struct fx *f = setup(0, 8);
	uint8_t buf[512];

	(void)state;
	hq_fail(&f->qp.q, -ECONNRESET, "test");
	assert_int_equal(fq_ns_read(&f->ns, &f->qp, buf, 0, 1, fake_cb, NULL, 0), -ENXIO);
	teardown(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_write_reports_first_failing_piece),
		cmocka_unit_test(split_needs_room_for_all_pieces),
		cmocka_unit_test(fused_compare_and_write),
		cmocka_unit_test(dsm_carries_the_range_list),
		cmocka_unit_test(submit_on_closed_queue_is_enxio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
