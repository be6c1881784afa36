/* SPDX-License-Identifier: MIT */
/*
 * The non-read/write commands: flush, raw passthrough, write zeroes,
 * deallocate, compare, fused compare-and-write, error statuses, admin
 * helpers and abort. Optional commands run only when ONCS/FUSES say so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "func_common.h"
#include "proto/nvme.h"

#define LBA 1000

static void fill(uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v + i * 31);
}

static int zeroes_and_trim(struct fenv *e, struct fq_qpair *qp, uint8_t *w, uint8_t *r)
{
	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(e->c);
	size_t half = 8 * (size_t)e->ss;

	if (id->oncs & FQ_ONCS_WRITE_ZEROES) {
		CHECK(fq_ns_write_zeroes_sync(e->ns, qp, LBA, 8, 0, NULL) == 0, "write zeroes");
		CHECK(fq_ns_read_sync(e->ns, qp, r, LBA, 16, NULL) == 0, "read after zeroes");
		for (size_t i = 0; i < half; i++)
			CHECK(r[i] == 0, "byte %zu not zero after Write Zeroes", i);
		CHECK(!memcmp(r + half, w + half, half), "Write Zeroes went past its range");
	}
	if (id->oncs & FQ_ONCS_DSM)
		CHECK(fq_ns_deallocate_sync(e->ns, qp, LBA, 16, NULL) == 0, "deallocate");
	return 0;
}

static int compares(struct fenv *e, struct fq_qpair *qp, uint8_t *w, uint8_t *r)
{
	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(e->c);
	struct fq_cpl cpl;
	size_t len = 4 * (size_t)e->ss;

	if (!(id->oncs & FQ_ONCS_COMPARE))
		return 0;
	CHECK(fq_ns_write_sync(e->ns, qp, w, LBA, 4, 0, NULL) == 0, "write");
	CHECK(fq_ns_compare_sync(e->ns, qp, w, LBA, 4, &cpl) == 0, "compare equal");
	memcpy(r, w, len);
	r[len - 1] ^= 1;
	CHECK(fq_ns_compare_sync(e->ns, qp, r, LBA, 4, &cpl) == -EIO, "compare differs");
	CHECK(fq_cpl_sct(&cpl) == FQ_SCT_MEDIA && fq_cpl_sc(&cpl) == FQ_SC_COMPARE_FAILED,
	      "compare status 0x%x", cpl.status);
	if (!(id->fuses & FQ_FUSES_COMPARE_WRITE))
		return 0;
	fill(r, len, 0x77);
	CHECK(fq_ns_compare_and_write_sync(e->ns, qp, w, r, LBA, 4, &cpl) == 0, "fused ok");
	CHECK(fq_ns_compare_and_write_sync(e->ns, qp, w, w, LBA, 4, &cpl) == -EIO,
	      "fused compare must fail");
	return 0;
}

static int admin_cmds(struct fenv *e)
{
	uint8_t log[512];
	uint32_t res = 0;
	uint64_t rtt = 0;

	CHECK(fq_ctrlr_get_log_page(e->c, FQ_LID_SMART, 0xffffffff, 0, false, log, sizeof(log)) ==
		      0,
	      "SMART log: %s", fq_last_error());
	CHECK(fq_ctrlr_get_feature(e->c, FQ_FEAT_NUM_QUEUES, 0, 0, 0, NULL, 0, &res) == 0,
	      "Get Features: %s", fq_last_error());
	CHECK((res & 0xffff) + 1 >= fq_ctrlr_get_num_io_queues(e->c), "NSQA 0x%x", res);
	CHECK(fq_ctrlr_keep_alive(e->c, &rtt) == 0, "keep alive: %s", fq_last_error());
	return 0;
}

struct one {
	bool done;
	struct fq_cpl cpl;
};

static void one_cb(void *arg, const struct fq_cpl *cpl)
{
	struct one *o = arg;

	o->cpl = *cpl;
	o->done = true;
}

/* Abort of a command the target may already have finished: it must complete. */
static int abort_cmd(struct fenv *e, struct fq_qpair *qp, uint8_t *r)
{
	struct one o = {0};
	uint64_t t0 = now_ms();
	int rc;

	CHECK(fq_ns_read(e->ns, qp, r, LBA, 16, one_cb, &o, 0) == 0, "submit read");
	rc = fq_qpair_abort(qp, &o, NULL, NULL);
	CHECK(rc >= 0, "abort: %s", strerror(-rc));
	while (!o.done && now_ms() - t0 < 10000)
		fq_qpair_wait(qp, 100);
	CHECK(o.done, "aborted read never completed");
	return 0;
}

static int basics(struct fenv *e, struct fq_qpair *qp, uint8_t *w, uint8_t *r)
{
	size_t len = 16 * (size_t)e->ss;
	struct fq_nvme_cmd raw = {.opc = FQ_IO_READ};
	struct iovec iov[2];
	struct fq_cpl cpl;
	char st[128];

	fill(w, len, 9);
	CHECK(fq_ns_write_sync(e->ns, qp, w, LBA, 16, FQ_IO_FLAGS_FUA, NULL) == 0, "write");
	CHECK(fq_ns_flush_sync(e->ns, qp, NULL) == 0, "flush");
	raw.nsid = fq_ns_get_id(e->ns);
	raw.cdw10 = LBA;
	raw.cdw12 = 15;
	memset(r, 0, len);
	CHECK(fq_qpair_io_raw_sync(qp, &raw, r, (uint32_t)len, NULL) == 0, "raw read");
	CHECK(!memcmp(r, w, len), "raw read data");
	iov[0] = (struct iovec){r, 100};
	iov[1] = (struct iovec){r + 100, len - 100};
	memset(r, 0, len);
	CHECK(fq_ns_readv_sync(e->ns, qp, iov, 2, LBA, 16, NULL) == 0, "readv");
	CHECK(!memcmp(r, w, len), "readv data");
	/* Targets differ in the status (LBA Out of Range, Internal Error): any error. */
	CHECK(fq_ns_read_sync(e->ns, qp, r, fq_ns_get_num_sectors(e->ns), 1, &cpl) == -EIO,
	      "read past the end must fail");
	printf("  read past the end: %s\n", fq_cpl_str(&cpl, st, sizeof(st)));
	CHECK(fq_ns_read_sync(e->ns, qp, r, LBA, 0, NULL) == -EINVAL, "nlb 0 accepted");
	return 0;
}

int t_commands(struct fenv *e)
{
	struct fq_qpair *qp = func_new_qp(e, NULL);
	size_t len = 16 * (size_t)e->ss;
	uint8_t *w = malloc(len), *r = malloc(len);
	int rc = -1;

	if (qp && w && r && !basics(e, qp, w, r) && !zeroes_and_trim(e, qp, w, r) &&
	    !compares(e, qp, w, r) && !admin_cmds(e) && !abort_cmd(e, qp, r))
		rc = 0;
	if (qp)
		fq_qpair_free(qp);
	free(w);
	free(r);
	return rc;
}
