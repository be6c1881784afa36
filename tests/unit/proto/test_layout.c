/* SPDX-License-Identifier: MIT */
/*
 * Golden byte images of the wire formats. Each PDU is built with the structs
 * and encoders of src/proto and compared with bytes typed from the spec
 * figures (NVMe/TCP 1.0 §3.6.1-3.6.2, Fig. 15-28; NVMe-oF 1.1 Fig. 19-20,
 * 31-32; NVMe Base 2.0 Fig. 275). Field values are chosen so that every byte
 * of a multi-byte field differs, which catches swapped or shifted fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/nvmf.h"
#include "proto/tcp.h"
#include "proto/tcp_decode.h"

static void expect_bytes(const void *got, const uint8_t *want, size_t len)
{
	const uint8_t *g = got;

	for (size_t i = 0; i < len; i++) {
		if (g[i] != want[i])
			fail_msg("byte %zu: got 0x%02x, want 0x%02x", i, g[i], want[i]);
	}
}

/* Little-endian read at a spec byte offset, independent of the structs. */
static uint64_t le_at(const void *base, size_t off, size_t width)
{
	const uint8_t *p = (const uint8_t *)base + off;
	uint64_t v = 0;

	for (size_t i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- NVMe/TCP PDUs ---- */

static void icreq_golden(void **state)
{
	/* Fig. 20: CH, PFV 8-9, HPDA 10, DGST 11, MAXR2T 12-15, rest reserved. */
	static const uint8_t want[128] = {
		0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, /* type flags hlen pdo plen */
		0x00, 0x00, 0x00, 0x03, 0x04, 0x03, 0x02, 0x01, /* pfv hpda dgst maxr2t */
	};
	struct fq_tcp_icreq r;

	(void)state;
	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_ICREQ, sizeof(r), false, false, 0);
	r.pfv = 0;
	r.hpda = 0;
	r.dgst = FQ_TCP_DGST_HDR | FQ_TCP_DGST_DATA;
	r.maxr2t = 0x01020304;
	assert_int_equal(sizeof(r), sizeof(want));
	expect_bytes(&r, want, sizeof(want));
}

static void icresp_golden(void **state)
{
	/* Fig. 21: CH, PFV 8-9, CPDA 10, DGST 11, MAXH2CDATA 12-15. */
	static const uint8_t want[128] = {
		0x01, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, /* */
		0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x40, 0x00, /* maxh2cdata 0x400000 */
	};
	struct fq_tcp_icresp r;

	(void)state;
	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_ICRESP, sizeof(r), false, false, 0);
	r.cpda = 5;
	r.dgst = FQ_TCP_DGST_HDR;
	r.maxh2cdata = 0x400000;
	expect_bytes(&r, want, sizeof(want));
}

static void h2c_term_golden(void **state)
{
	/* Fig. 22: CH, FES 8-9, FEI 10-13 (unaligned), reserved 14-23. */
	static const uint8_t want[24] = {
		0x02, 0x00, 0x18, 0x00, 0x30, 0x00, 0x00, 0x00, /* plen 24 + 24 */
		0x01, 0x00, 0x0d, 0x0c, 0x0b, 0x0a, 0x00, 0x00, /* fes, fei 0x0a0b0c0d */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct fq_tcp_term t;

	(void)state;
	memset(&t, 0xee, sizeof(t));
	fq_tcp_term_init(&t, false, FQ_TCP_FES_INVALID_HEADER, 0x0a0b0c0d, 24);
	expect_bytes(&t, want, sizeof(want));
	assert_int_equal(fq_tcp_term_fei(&t), 0x0a0b0c0d);
}

static void c2h_term_golden(void **state)
{
	/* Fig. 23: same layout as H2CTermReq, type 0x03. */
	static const uint8_t want[24] = {
		0x03, 0x00, 0x18, 0x00, 0x98, 0x00, 0x00, 0x00, /* plen 24 + 128 = 152 */
		0x05, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, /* FES 05, FEI 4 */
	};
	struct fq_tcp_term t;

	(void)state;
	fq_tcp_term_init(&t, true, FQ_TCP_FES_DATA_LIMIT, 4, FQ_TCP_TERM_MAX_DATA);
	expect_bytes(&t, want, sizeof(want));
	fq_tcp_term_set_fei(&t, 0xfeedface);
	assert_int_equal(t.fei[0], 0xce);
	assert_int_equal(t.fei[3], 0xfe);
	assert_int_equal(fq_tcp_term_fei(&t), 0xfeedface);
}

static void capsule_cmd_golden(void **state)
{
	/* Fig. 24: CH then the 64-byte SQE (NVMe Base 2.0 Fig. 88, NVM CS Fig. 20). */
	static const uint8_t want[72] = {
		0x04, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00, 0x00, /* CH, no data */
		0x02, 0x40, 0x34, 0x12, 0x01, 0x00, 0x00, 0x00, /* opc flags(PSDT) cid nsid */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* cdw2 cdw3 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* mptr */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sgl addr */
		0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5a, /* sgl len, type 0x5A */
		0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* cdw10 cdw11: slba */
		0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* cdw12 nlb 15 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct fq_tcp_cmd c;

	(void)state;
	memset(&c, 0, sizeof(c));
	fq_tcp_ch_init(&c.ch, FQ_TCP_CAPSULE_CMD, sizeof(c), false, false, 0);
	c.sqe.opcode = FQ_IO_READ;
	c.sqe.flags = FQ_SQE_PSDT_SGL;
	c.sqe.cid = 0x1234;
	c.sqe.nsid = 1;
	c.sqe.sgl.length = 0x2000;
	c.sqe.sgl.type = FQ_SGL_TRANSPORT;
	c.sqe.cdw10 = 0x89abcdef;
	c.sqe.cdw11 = 0x01234567;
	c.sqe.cdw12 = 15;
	expect_bytes(&c, want, sizeof(want));
}

static void capsule_cmd_incapsule_ch(void **state)
{
	/* §3.6.1 Fig. 16: HDGST after the header, PDO past it, DDGST at the end. */
	static const uint8_t want[8] = {0x04, 0x03, 0x48, 0x4c, 0x50, 0x02, 0x00, 0x00};
	static const uint8_t want_nodata[8] = {0x04, 0x01, 0x48, 0x00, 0x4c, 0x00, 0x00, 0x00};
	struct fq_tcp_ch ch;

	(void)state;
	/* 72 + 4 + 512 + 4 = 592 = 0x250. */
	fq_tcp_ch_init(&ch, FQ_TCP_CAPSULE_CMD, 72, true, true, 512);
	expect_bytes(&ch, want, sizeof(want));
	/* No data: no DDGST flag, no PDO, no data digest. */
	fq_tcp_ch_init(&ch, FQ_TCP_CAPSULE_CMD, 72, true, true, 0);
	expect_bytes(&ch, want_nodata, sizeof(want_nodata));
}

static void capsule_resp_golden(void **state)
{
	/* Fig. 25: CH then the 16-byte CQE (NVMe Base 2.0 Fig. 89). */
	static const uint8_t want[24] = {
		0x05, 0x00, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00, /* */
		0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, /* dw0 dw1 */
		0x05, 0x00, 0x02, 0x00, 0x34, 0x12, 0x04, 0x80, /* sqhd sqid cid status */
	};
	struct fq_tcp_rsp r;

	(void)state;
	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_CAPSULE_RESP, sizeof(r), false, false, 0);
	r.cqe.dw0 = 0x11223344;
	r.cqe.dw1 = 0x55667788;
	r.cqe.sq_head = 5;
	r.cqe.sq_id = 2;
	r.cqe.cid = 0x1234;
	r.cqe.status = FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR;
	expect_bytes(&r, want, sizeof(want));
}

static void h2c_data_golden(void **state)
{
	/* Fig. 26: CH, CCCID 8-9, TTAG 10-11, DATAO 12-15, DATAL 16-19. */
	static const uint8_t want[24] = {
		0x06, 0x04, 0x18, 0x18, 0x18, 0x10, 0x00, 0x00, /* LAST, plen 24 + 4096 */
		0x34, 0x12, 0x07, 0x00, 0x00, 0x10, 0x00, 0x00, /* cccid ttag datao */
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* datal */
	};
	struct fq_tcp_data d;

	(void)state;
	memset(&d, 0, sizeof(d));
	fq_tcp_ch_init(&d.ch, FQ_TCP_H2C_DATA, sizeof(d), false, false, 4096);
	d.ch.flags |= FQ_TCP_F_DATA_LAST;
	d.cccid = 0x1234;
	d.ttag = 7;
	d.datao = 0x1000;
	d.datal = 0x1000;
	expect_bytes(&d, want, sizeof(want));
}

static void c2h_data_golden(void **state)
{
	/* Fig. 27: as H2CData, TTAG reserved; both digests: plen 24+4+512+4. */
	static const uint8_t want[24] = {
		0x07, 0x0f, 0x18, 0x1c, 0x20, 0x02, 0x00, 0x00, /* */
		0xcd, 0xab, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, /* cccid, datao 0x10200 */
		0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* datal 512 */
	};
	struct fq_tcp_data d;

	(void)state;
	memset(&d, 0, sizeof(d));
	fq_tcp_ch_init(&d.ch, FQ_TCP_C2H_DATA, sizeof(d), true, true, 512);
	d.ch.flags |= FQ_TCP_F_DATA_LAST | FQ_TCP_F_DATA_SUCCESS;
	d.cccid = 0xabcd;
	d.datao = 0x10200;
	d.datal = 512;
	expect_bytes(&d, want, sizeof(want));
}

static void r2t_golden(void **state)
{
	/* Fig. 28: CH, CCCID 8-9, TTAG 10-11, R2TO 12-15, R2TL 16-19. */
	static const uint8_t want[24] = {
		0x09, 0x00, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00, /* */
		0x34, 0x12, 0x03, 0x00, 0x00, 0x20, 0x00, 0x00, /* */
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, /* r2tl 0x10000 */
	};
	struct fq_tcp_r2t r;

	(void)state;
	memset(&r, 0, sizeof(r));
	fq_tcp_ch_init(&r.ch, FQ_TCP_R2T, sizeof(r), false, false, 0);
	r.cccid = 0x1234;
	r.ttag = 3;
	r.r2to = 0x2000;
	r.r2tl = 0x10000;
	expect_bytes(&r, want, sizeof(want));
}

/* Everything the encoders produce must pass the decoder on the other side. */
static void encoded_headers_decode(void **state)
{
	struct fq_tcp_rx_ctx t = {.is_target = true,
				  .ic_done = true,
				  .hdgst = true,
				  .ddgst = true,
				  .max_data = 4096,
				  .max_icdata = 4096};
	struct fq_tcp_frame fr;
	struct fq_tcp_err err;
	struct fq_tcp_ch ch;
	struct fq_tcp_term term;

	(void)state;
	fq_tcp_ch_init(&ch, FQ_TCP_CAPSULE_CMD, 72, true, true, 4096);
	assert_int_equal(fq_tcp_decode_ch(&ch, &t, &fr, &err), 0);
	assert_int_equal(fr.data_len, 4096);
	fq_tcp_ch_init(&ch, FQ_TCP_H2C_DATA, 24, true, true, 1);
	assert_int_equal(fq_tcp_decode_ch(&ch, &t, &fr, &err), 0);
	assert_int_equal(fr.data_len, 1);
	fq_tcp_term_init(&term, false, FQ_TCP_FES_PDU_SEQUENCE, 0, 72);
	assert_int_equal(fq_tcp_decode_ch(&term.ch, &t, &fr, &err), 0);
	assert_int_equal(fr.data_len, 72);
}

/* ---- Fabrics ---- */

static void connect_cmd_golden(void **state)
{
	/* NVMe-oF 1.1 Fig. 19 (in the NVMe/TCP capsule, Fig. 24). */
	static const uint8_t want[64] = {
		0x7f, 0x40, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, /* opc psdt cid fctype */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sgl offset 0 */
		0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* len 1024, in-capsule */
		0x00, 0x00, 0x02, 0x00, 0x7f, 0x00, 0x04, 0x00, /* recfmt qid sqsize cattr */
		0x88, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* kato 5000 ms */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct fq_connect_cmd c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.opcode = FQ_ADM_FABRICS;
	c.flags = FQ_SQE_PSDT_SGL;
	c.cid = 1;
	c.fctype = FQ_FCTYPE_CONNECT;
	c.sgl.length = sizeof(struct fq_connect_data);
	c.sgl.type = FQ_SGL_INCAPSULE;
	c.recfmt = 0;
	c.qid = 2;
	c.sqsize = 127;
	c.cattr = FQ_CONNECT_CATTR_DISABLE_SQFLOW;
	c.kato = 5000;
	expect_bytes(&c, want, sizeof(want));
	/* The generic fabrics view sees the same FCTYPE. */
	assert_int_equal(((const struct fq_fabrics_cmd *)(const void *)&c)->fctype, 0x01);
}

static void connect_data_golden(void **state)
{
	static const char subnqn[] = "nqn.2023-01.io.fabriq:sub1";
	static const char hostnqn[] = "nqn.2014-08.org.nvmexpress:uuid:0001";
	struct fq_connect_data d;
	const uint8_t *raw = (const uint8_t *)&d;

	(void)state;
	/* NVMe-oF 1.1 Fig. 20: HOSTID 0-15, CNTLID 16-17, SUBNQN 256, HOSTNQN 512. */
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < 16; i++)
		d.hostid[i] = (uint8_t)(0xa0 + i);
	d.cntlid = FQ_CNTLID_DYNAMIC;
	memcpy(d.subnqn, subnqn, sizeof(subnqn));
	memcpy(d.hostnqn, hostnqn, sizeof(hostnqn));
	assert_int_equal(sizeof(d), 1024);
	for (int i = 0; i < 16; i++)
		assert_int_equal(raw[i], 0xa0 + i);
	assert_int_equal(raw[16], 0xff);
	assert_int_equal(raw[17], 0xff);
	for (int i = 18; i < 256; i++)
		assert_int_equal(raw[i], 0);
	assert_memory_equal(raw + 256, subnqn, sizeof(subnqn));
	assert_memory_equal(raw + 512, hostnqn, sizeof(hostnqn));
	for (int i = 768; i < 1024; i++)
		assert_int_equal(raw[i], 0);
}

static void prop_get_golden(void **state)
{
	/* NVMe-oF 1.1 Fig. 23: ATTRIB 40, OFST 44-47. */
	struct fq_prop_cmd p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.opcode = FQ_ADM_FABRICS;
	p.fctype = FQ_FCTYPE_PROP_GET;
	p.attrib = 1;
	p.offset = FQ_PROP_CSTS;
	p.value = 0x0807060504030201ull;
	assert_int_equal(le_at(&p, 4, 1), 0x04);
	assert_int_equal(le_at(&p, 40, 1), 1);
	assert_int_equal(le_at(&p, 44, 4), 0x1c);
	assert_int_equal(le_at(&p, 48, 8), 0x0807060504030201ull);
}

static void discovery_log_golden(void **state)
{
	struct fq_disc_log_hdr h;
	struct fq_disc_log_entry e;
	const uint8_t *raw = (const uint8_t *)&e;
	static const uint8_t want_head[12] = {
		0x03, 0x01, 0x02, 0x04, 0x02, 0x01, 0xff, 0xff, /* trtype adrfam subtype treq */
		0x20, 0x00, 0x00, 0x00,				/* asqsz eflags */
	};

	(void)state;
	/* NVMe-oF 1.1 Fig. 31: GENCTR 0-7, NUMREC 8-15, RECFMT 16-17. */
	memset(&h, 0, sizeof(h));
	h.genctr = 0x1122334455667788ull;
	h.numrec = 3;
	assert_int_equal(le_at(&h, 0, 8), 0x1122334455667788ull);
	assert_int_equal(le_at(&h, 8, 8), 3);
	assert_int_equal(le_at(&h, 16, 2), 0);

	/* Fig. 32: entry fields at their byte offsets. */
	memset(&e, 0, sizeof(e));
	e.trtype = FQ_TRTYPE_TCP;
	e.adrfam = FQ_ADRFAM_IPV4;
	e.subtype = FQ_SUBTYPE_NVME;
	e.treq = FQ_TREQ_SQFLOW_NOT_REQUIRED;
	e.portid = 0x0102;
	e.cntlid = FQ_CNTLID_DYNAMIC;
	e.asqsz = 32;
	strcpy(e.trsvcid, "4420");
	strcpy(e.subnqn, "nqn.2023-01.io.fabriq:sub1");
	strcpy(e.traddr, "127.0.0.1");
	e.tsas[0] = FQ_TCP_SECTYPE_NONE;
	expect_bytes(&e, want_head, sizeof(want_head));
	assert_memory_equal(raw + 32, "4420", 5);
	assert_memory_equal(raw + 256, "nqn.2023-01.io.fabriq:sub1", 27);
	assert_memory_equal(raw + 512, "127.0.0.1", 10);
	assert_int_equal(raw[768], 0);
}

/* ---- Identify ---- */

static void id_ctrl_offsets(void **state)
{
	static struct fq_id_ctrl c;
	const uint8_t *raw = (const uint8_t *)&c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.vid = 0x1b36;
	c.ssvid = 0x1af4;
	memcpy(c.sn, "SN0123", 6);
	memcpy(c.mn, "Fabriq", 6);
	memcpy(c.fr, "0.1.0", 5);
	c.mdts = 5;
	c.cntlid = 0x0102;
	c.ver = FQ_VS(2, 0, 0);
	c.oaes = FQ_AEN_CFG_NS_ATTR;
	c.cntrltype = FQ_CTRL_TYPE_IO;
	c.aerl = 3;
	c.kas = 10;
	c.sqes = 0x66;
	c.cqes = 0x44;
	c.maxcmd = 128;
	c.nn = 0x01020304;
	c.oncs = FQ_ONCS_DSM | FQ_ONCS_WRITE_ZEROES;
	c.fuses = FQ_FUSES_COMPARE_WRITE;
	c.vwc = 1;
	c.sgls = FQ_SGLS_SUPPORTED | FQ_SGLS_OFFSET;
	strcpy(c.subnqn, "nqn.2023-01.io.fabriq:sub1");
	c.ioccsz = 4;
	c.iorcsz = 1;
	c.icdoff = 0;
	c.msdbd = 1;
	c.psd[0].mp = 0x09c4;

	/* NVMe Base 2.0 Fig. 275 and NVMe-oF 1.1 Fig. 28 byte offsets. */
	assert_int_equal(le_at(raw, 0, 2), 0x1b36);
	assert_int_equal(le_at(raw, 2, 2), 0x1af4);
	assert_memory_equal(raw + 4, "SN0123", 6);
	assert_memory_equal(raw + 24, "Fabriq", 6);
	assert_memory_equal(raw + 64, "0.1.0", 5);
	assert_int_equal(raw[77], 5);
	assert_int_equal(le_at(raw, 78, 2), 0x0102);
	assert_int_equal(le_at(raw, 80, 4), 0x00020000);
	assert_int_equal(le_at(raw, 92, 4), 0x100);
	assert_int_equal(raw[111], 1);
	assert_int_equal(raw[259], 3);
	assert_int_equal(le_at(raw, 320, 2), 10);
	assert_int_equal(raw[512], 0x66);
	assert_int_equal(raw[513], 0x44);
	assert_int_equal(le_at(raw, 514, 2), 128);
	assert_int_equal(le_at(raw, 516, 4), 0x01020304);
	assert_int_equal(le_at(raw, 520, 2), 0x0c);
	assert_int_equal(le_at(raw, 522, 2), 1);
	assert_int_equal(raw[525], 1);
	assert_int_equal(le_at(raw, 536, 4), 0x00100001);
	assert_memory_equal(raw + 768, "nqn.2023-01.io.fabriq:sub1", 27);
	assert_int_equal(le_at(raw, 1792, 4), 4);
	assert_int_equal(le_at(raw, 1796, 4), 1);
	assert_int_equal(le_at(raw, 1800, 2), 0);
	assert_int_equal(raw[1803], 1);
	assert_int_equal(le_at(raw, 2048, 2), 0x09c4);
}

static void id_ns_offsets(void **state)
{
	static struct fq_id_ns n;
	const uint8_t *raw = (const uint8_t *)&n;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.nsze = 0x0102030405060708ull;
	n.ncap = 0x1112131415161718ull;
	n.nuse = 0x2122232425262728ull;
	n.nsfeat = FQ_NSFEAT_THIN;
	n.flbas = 1;
	n.dlfeat = FQ_DLFEAT_READ_ZEROES;
	n.lbaf[1].lbads = 12;
	n.nguid[0] = 0xaa;
	n.eui64[7] = 0xbb;
	/* NVM Command Set 1.0 Fig. 97. */
	assert_int_equal(le_at(raw, 0, 8), 0x0102030405060708ull);
	assert_int_equal(le_at(raw, 8, 8), 0x1112131415161718ull);
	assert_int_equal(le_at(raw, 16, 8), 0x2122232425262728ull);
	assert_int_equal(raw[24], 1);
	assert_int_equal(raw[26], 1);
	assert_int_equal(raw[33], 1);
	assert_int_equal(raw[104], 0xaa);
	assert_int_equal(raw[127], 0xbb);
	/* LBAF1: MS 132-133, LBADS 134. */
	assert_int_equal(raw[134], 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(icreq_golden),
		cmocka_unit_test(icresp_golden),
		cmocka_unit_test(h2c_term_golden),
		cmocka_unit_test(c2h_term_golden),
		cmocka_unit_test(capsule_cmd_golden),
		cmocka_unit_test(capsule_cmd_incapsule_ch),
		cmocka_unit_test(capsule_resp_golden),
		cmocka_unit_test(h2c_data_golden),
		cmocka_unit_test(c2h_data_golden),
		cmocka_unit_test(r2t_golden),
		cmocka_unit_test(encoded_headers_decode),
		cmocka_unit_test(connect_cmd_golden),
		cmocka_unit_test(connect_data_golden),
		cmocka_unit_test(prop_get_golden),
		cmocka_unit_test(discovery_log_golden),
		cmocka_unit_test(id_ctrl_offsets),
		cmocka_unit_test(id_ns_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
