/* SPDX-License-Identifier: MIT */
/*
 * The Copy command through the library (NVM Command Set 2.0 §3.2.2): the
 * data at the destination equals the sources, in order; the sources stay as
 * they were; the limits the namespace reports are enforced with the right
 * status; the asynchronous call completes through its callback. Against a
 * controller without Copy, the library must refuse it before sending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "func_common.h"
#include "proto/copy.h"

#define SRC 2000
#define DST 3000

static void fill(uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v + i * 7 + i / 512);
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

static int status_is(const struct fq_cpl *cpl, unsigned sct, unsigned sc)
{
	return fq_cpl_sct(cpl) == sct && fq_cpl_sc(cpl) == sc;
}

/* Three ranges, out of order, one of them overlapping another. */
static int copy_data(struct fenv *e, struct fq_qpair *qp, uint8_t *w, uint8_t *r)
{
	size_t ss = e->ss;
	struct fq_copy_range_desc rg[3] = {
		{.slba = SRC + 8, .nlb = 8}, {.slba = SRC, .nlb = 4}, {.slba = SRC + 2, .nlb = 8}};

	fill(w, 16 * ss, 0x31);
	CHECK(fq_ns_write_sync(e->ns, qp, w, SRC, 16, 0, NULL) == 0, "write the sources");
	CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, 3, 0, NULL) == 0, "copy: %s", fq_last_error());
	CHECK(fq_ns_read_sync(e->ns, qp, r, DST, 20, NULL) == 0, "read the destination");
	CHECK(!memcmp(r, w + 8 * ss, 8 * ss), "range 0 at the destination");
	CHECK(!memcmp(r + 8 * ss, w, 4 * ss), "range 1 at the destination");
	CHECK(!memcmp(r + 12 * ss, w + 2 * ss, 8 * ss), "range 2 at the destination");
	CHECK(fq_ns_read_sync(e->ns, qp, r, SRC, 16, NULL) == 0, "read the sources");
	CHECK(!memcmp(r, w, 16 * ss), "the sources changed");
	return 0;
}

static int copy_async(struct fenv *e, struct fq_qpair *qp, uint8_t *w, uint8_t *r)
{
	struct fq_copy_range_desc rg = {.slba = SRC, .nlb = 16};
	struct one o = {0};
	uint64_t t0 = now_ms();

	fill(w, 16 * (size_t)e->ss, 0x5a);
	CHECK(fq_ns_write_sync(e->ns, qp, w, SRC, 16, 0, NULL) == 0, "write");
	CHECK(fq_ns_copy(e->ns, qp, DST + 100, &rg, 1, one_cb, &o, FQ_IO_FLAGS_FUA) == 0,
	      "submit copy");
	while (!o.done && now_ms() - t0 < 10000)
		fq_qpair_wait(qp, 100);
	CHECK(o.done && !fq_cpl_is_error(&o.cpl), "async copy status 0x%x", o.cpl.status);
	CHECK(fq_ns_read_sync(e->ns, qp, r, DST + 100, 16, NULL) == 0, "read");
	CHECK(!memcmp(r, w, 16 * (size_t)e->ss), "async copy data");
	return 0;
}

static int copy_errors(struct fenv *e, struct fq_qpair *qp)
{
	const struct fq_id_ns *id = fq_ns_get_identify(e->ns);
	uint64_t n = fq_ns_get_num_sectors(e->ns);
	struct fq_copy_range_desc rg[FQ_NS_COPY_MAX_RANGES];
	struct fq_nvme_cmd raw = {.opc = FQ_IO_COPY};
	struct fq_copy_desc0 d = {.slba = SRC, .nlb = 0};
	struct fq_cpl cpl;

	CHECK(id->msrc > 0 && id->mssrl > 0 && id->mcl >= id->mssrl, "MSRC %u MSSRL %u MCL %u",
	      id->msrc, id->mssrl, id->mcl);
	for (unsigned i = 0; i < FQ_NS_COPY_MAX_RANGES; i++)
		rg[i] = (struct fq_copy_range_desc){.slba = SRC, .nlb = 1};
	/* One range more than MSRC allows. */
	if (id->msrc < FQ_NS_COPY_MAX_RANGES - 1) {
		CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, (uint16_t)(id->msrc + 2), 0, &cpl) ==
			      -EIO,
		      "copy over MSRC accepted");
		CHECK(status_is(&cpl, FQ_CPL_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT),
		      "over MSRC: status 0x%x", cpl.status);
	}
	/* Exactly MSRC + 1 ranges is fine. */
	CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, (uint16_t)(id->msrc + 1), 0, &cpl) == 0,
	      "copy of MSRC + 1 ranges: 0x%x", cpl.status);
	if (id->mssrl < 65535) {
		rg[0].nlb = (uint32_t)id->mssrl + 1;
		CHECK(fq_ns_copy_sync(e->ns, qp, 0, rg, 1, 0, &cpl) == -EIO, "over MSSRL");
		CHECK(status_is(&cpl, FQ_CPL_SCT_CMD_SPECIFIC, FQ_SC_CMD_SIZE_LIMIT),
		      "over MSSRL: status 0x%x", cpl.status);
	}
	rg[0] = (struct fq_copy_range_desc){.slba = n - 1, .nlb = 2};
	CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, 1, 0, &cpl) == -EIO, "source past the end");
	CHECK(status_is(&cpl, FQ_CPL_SCT_GENERIC, FQ_SC_LBA_RANGE), "source past the end: 0x%x",
	      cpl.status);
	rg[0] = (struct fq_copy_range_desc){.slba = SRC, .nlb = 2};
	CHECK(fq_ns_copy_sync(e->ns, qp, n - 1, rg, 1, 0, &cpl) == -EIO, "dest past the end");
	CHECK(status_is(&cpl, FQ_CPL_SCT_GENERIC, FQ_SC_LBA_RANGE), "dest past the end: 0x%x",
	      cpl.status);
	/* A descriptor format the controller does not offer (raw: the library only sends 0h). */
	raw.nsid = fq_ns_get_id(e->ns);
	raw.cdw10 = DST;
	raw.cdw12 = 1u << FQ_COPY_DESFMT_SHIFT;
	CHECK(fq_qpair_io_raw_sync(qp, &raw, &d, sizeof(d), &cpl) == -EIO, "format 1h accepted");
	CHECK(status_is(&cpl, FQ_CPL_SCT_GENERIC, FQ_SC_INVALID_FIELD), "format 1h: 0x%x",
	      cpl.status);
	/* The library's own checks. */
	CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, 0, 0, NULL) == -EINVAL, "0 ranges");
	rg[0].nlb = 0;
	CHECK(fq_ns_copy_sync(e->ns, qp, DST, rg, 1, 0, NULL) == -EINVAL, "nlb 0");
	return 0;
}

int t_copy(struct fenv *e)
{
	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(e->c);
	struct fq_copy_range_desc rg = {.slba = SRC, .nlb = 1};
	struct fq_qpair *qp = func_new_qp(e, NULL);
	size_t len = 32 * (size_t)e->ss;
	uint8_t *w = malloc(len), *r = malloc(len);
	int rc = -1;

	if (!qp || !w || !r)
		goto out;
	if (!(id->oncs & FQ_ONCS_COPY)) {
		/* Refused by the library, never sent. */
		CHECK(fq_ns_copy_sync(e->ns, qp, DST, &rg, 1, 0, NULL) == -EOPNOTSUPP,
		      "copy without ONCS Copy");
		printf("  the controller has no Copy: refused with -EOPNOTSUPP\n");
		rc = 0;
		goto out;
	}
	CHECK(id->ocfs & FQ_OCFS_FORMAT_0, "ONCS Copy without OCFS format 0");
	if (!copy_data(e, qp, w, r) && !copy_async(e, qp, w, r) && !copy_errors(e, qp))
		rc = 0;
out:
	if (qp)
		fq_qpair_free(qp);
	free(w);
	free(r);
	return rc;
}
