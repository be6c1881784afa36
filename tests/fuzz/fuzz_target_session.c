/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the target's session and command handling
 * (src/target/: conn.c receive/transmit state machines, fabrics.c, admin.c,
 * io.c, ctrl.c).
 *
 * One target is created in-process at start-up (one subsystem with two RAM
 * namespaces, one reactor, no listening port); the fuzz thread drives its
 * reactor directly instead of running the reactor thread. Each input is one
 * session over two socketpairs:
 *
 *   A  an admin queue with a fixed, valid prefix (ICReq, Connect, CC.EN,
 *      Number of Queues), so admin commands and I/O Connects have a live,
 *      enabled controller to talk to;
 *   B  a fresh connection that starts with a valid ICReq (digests chosen by
 *      the first input byte).
 *
 * The rest of the input is a list of operations, each a builder from a
 * small table (capsule with a fuzzed SQE, well-formed I/O or admin command,
 * Connect, Property Get/Set, H2CData placed after the last R2T or anywhere,
 * H2CTermReq, raw bytes, "let the target run"), sent to A or B. Builders
 * that answer an R2T first let the target run and read back what it sent,
 * so the R2T/H2CData ordering, tags after free and Connect-then-I/O paths
 * are reached. At the end both write sides are shut down and the reactor
 * runs until every queue is gone. Invariants checked after each input: no
 * queue survives a close, every data buffer is back in the pool, no
 * request waits for a buffer, no controller is left registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/crc32c.h"
#include "proto/nvme.h"
#include "proto/nvmf.h"
#include "proto/tcp.h"
#include "target/config.h"
#include "target/tgt.h"
#include "util/log.h"

#define NQN "nqn.2026-01.io.fabriq.fuzz:sub"
#define HOSTNQN "nqn.2026-01.io.fabriq.fuzz:host"
#define ICDATA 16384 /* in_capsule_data: above 8 KiB, so it uses large buffers */
#define MAX_OPS 48
#define MAX_PDU (1u << 18)    /* largest PDU a builder makes */
#define PUMP_WAIT_NS 200000   /* per reactor turn while the session runs */
#define DRAIN_WAIT_NS 5000000 /* per reactor turn while queues close */
#define DRAIN_TURNS 100

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fq_target_conf conf;
static struct fq_tgt *tgt;
static struct fq_port port0;
static uint8_t pdu[MAX_PDU + 256];

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_target_session: invariant broken: %s\n", what);
		abort();
	}
}

/* ---- input reader: reads past the end give zeroes ------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct input *in)
{
	return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

static void bytes(struct input *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(dst, in->p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in->p += n;
	in->n -= n;
}

/* ---- the host side of one connection -------------------------------------- */

struct peer {
	int fd;
	bool hdgst, ddgst;
	bool dead; /* the target closed it, or a send failed */
	uint16_t next_cid;
	/* Parser for what the target sends: only R2Ts are remembered. */
	uint8_t hdr[24];
	uint32_t got, plen;
	bool have_r2t;
	struct fq_tcp_r2t r2t;
};

static struct peer peers[2];

static void parse_out(struct peer *p, const uint8_t *b, size_t n)
{
	while (n) {
		if (p->got < sizeof(p->hdr)) {
			size_t want = sizeof(p->hdr) - p->got, k = n < want ? n : want;

			memcpy(p->hdr + p->got, b, k);
			p->got += (uint32_t)k;
			b += k;
			n -= k;
			if (p->got >= 8 && !p->plen) {
				memcpy(&p->plen, p->hdr + 4, 4);
				check(p->plen >= 8, "target sent a PDU with PLEN below 8");
			}
			if (p->got == sizeof(p->hdr) || (p->plen && p->got >= p->plen)) {
				if (p->hdr[0] == FQ_TCP_R2T) {
					memcpy(&p->r2t, p->hdr, sizeof(p->r2t));
					p->have_r2t = true;
				}
			}
		} else {
			uint32_t left = p->plen - p->got;
			size_t k = n < left ? n : left;

			p->got += (uint32_t)k;
			b += k;
			n -= k;
		}
		if (p->plen && p->got >= p->plen)
			p->got = p->plen = 0;
	}
}

/* Read and parse everything the target sent so far. */
static void drain(struct peer *p)
{
	uint8_t buf[65536];

	while (p->fd >= 0) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			parse_out(p, buf, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			p->dead = true;
		break;
	}
}

/* Let the reactor work: up to @turns engine turns, stop at the first idle one. */
static void pump(int turns, int64_t wait_ns)
{
	struct fq_reactor *r = &tgt->reactors[0];

	for (int i = 0; i < turns; i++) {
		int n;

		r->now_ns = fq_now_ns();
		fq_tgt_xprt_tcp.poll(r);
		n = fq_engine_run(&r->loop->eng, 1, wait_ns);
		drain(&peers[0]);
		drain(&peers[1]);
		if (n <= 0)
			break;
	}
}

static void send_all(struct peer *p, const uint8_t *b, size_t n)
{
	int stuck = 0;

	while (n && !p->dead && stuck < 200) {
		ssize_t k = send(p->fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k > 0) {
			b += k;
			n -= (size_t)k;
			stuck = 0;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			p->dead = true;
			break;
		}
		stuck++;
		pump(4, PUMP_WAIT_NS);
	}
}

/*
 * Frame one PDU into pdu[]: common header, @spec (the rest of the fixed
 * header), HDGST, data, DDGST as negotiated on @p. Returns its length.
 */
static size_t frame(const struct peer *p, uint8_t type, uint8_t flags, const void *spec,
		    size_t speclen, const uint8_t *data, uint32_t dlen, uint8_t corrupt)
{
	struct fq_tcp_ch ch;
	bool hd = p->hdgst && type != FQ_TCP_H2C_TERM;
	bool dd = p->ddgst && dlen && type != FQ_TCP_H2C_TERM;
	size_t hlen = sizeof(ch) + speclen, off;
	uint32_t crc;

	ch.type = type;
	ch.flags = (uint8_t)(flags | (hd ? FQ_TCP_F_HDGST : 0) | (dd ? FQ_TCP_F_DDGST : 0));
	ch.hlen = (uint8_t)hlen;
	ch.pdo = dlen ? (uint8_t)(hlen + (hd ? 4 : 0)) : 0;
	ch.plen = (uint32_t)(hlen + (hd ? 4 : 0) + dlen + (dd ? 4 : 0));
	memcpy(pdu, &ch, sizeof(ch));
	memcpy(pdu + sizeof(ch), spec, speclen);
	off = hlen;
	if (hd) {
		crc = fq_crc32c(pdu, hlen) ^ (corrupt & 1);
		memcpy(pdu + off, &crc, 4);
		off += 4;
	}
	if (dlen) {
		memcpy(pdu + off, data, dlen);
		off += dlen;
	}
	if (dd) {
		crc = fq_crc32c(data, dlen) ^ ((corrupt >> 1) & 1);
		memcpy(pdu + off, &crc, 4);
		off += 4;
	}
	return off;
}

static uint8_t databuf[MAX_PDU];

static void fill(uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		databuf[i] = (uint8_t)(seed + i * 131);
}

static void send_capsule(struct peer *p, const struct fq_sqe *sqe, uint32_t dlen, uint8_t corrupt)
{
	send_all(p, pdu,
		 frame(p, FQ_TCP_CAPSULE_CMD, 0, sqe, sizeof(*sqe), databuf, dlen, corrupt));
}

static struct fq_sgl sgl_of(uint8_t type, uint32_t len)
{
	struct fq_sgl s;

	memset(&s, 0, sizeof(s));
	s.type = type;
	s.length = len;
	return s;
}

static void send_h2c(struct peer *p, uint16_t cid, uint16_t ttag, uint32_t off, uint32_t len,
		     bool last, uint8_t corrupt)
{
	struct fq_tcp_data d;

	memset(&d, 0, sizeof(d));
	d.cccid = cid;
	d.ttag = ttag;
	d.datao = off;
	d.datal = len;
	if (len > MAX_PDU)
		len = MAX_PDU;
	send_all(p, pdu,
		 frame(p, FQ_TCP_H2C_DATA, last ? FQ_TCP_F_DATA_LAST : 0, &d.cccid,
		       sizeof(d) - sizeof(d.ch), databuf, len, corrupt));
}

/*
 * Wait for the R2T of @cid and answer it in chunks of @chunk bytes; with
 * @drop_last the transfer is left one chunk short.
 */
static void answer_r2t(struct peer *p, uint16_t cid, uint32_t chunk, bool drop_last,
		       uint8_t corrupt)
{
	uint32_t off, end;

	for (int i = 0; i < 20 && !(p->have_r2t && p->r2t.cccid == cid) && !p->dead; i++)
		pump(1, PUMP_WAIT_NS);
	if (!p->have_r2t || p->r2t.cccid != cid)
		return;
	off = p->r2t.r2to;
	end = off + (p->r2t.r2tl < MAX_PDU ? p->r2t.r2tl : MAX_PDU);
	if (!chunk)
		chunk = 512;
	while (off < end) {
		uint32_t n = end - off < chunk ? end - off : chunk;

		if (drop_last && off + n == end)
			break;
		send_h2c(p, cid, p->r2t.ttag, off, n, off + n == end, corrupt);
		off += n;
	}
}

/* ---- builders ----------------------------------------------------------------- */

enum {
	OP_CAPSULE,
	OP_IO,
	OP_H2C,
	OP_RAW,
	OP_CONNECT,
	OP_PROP,
	OP_TERM,
	OP_PUMP,
	OP_ADMIN,
	OP_NUM,
};

static uint16_t cntlid_a;

/* A capsule whose SQE is fuzz bytes, with optional in-capsule data. */
static void op_capsule(struct peer *p, struct input *in)
{
	static const uint32_t lens[8] = {0, 16, 512, 1024, 4096, 8192, ICDATA, 8200};
	uint8_t f = u8(in);
	struct fq_sqe sqe;
	uint32_t dlen = lens[f & 7];

	bytes(in, &sqe, sizeof(sqe));
	if (f & 0x08)
		sqe.sgl = sgl_of(FQ_SGL_INCAPSULE, dlen);
	if ((f & 0xc0) == 0xc0)
		dlen = u16(in) % (ICDATA + 64);
	fill(dlen, f);
	send_capsule(p, &sqe, dlen, (f >> 4) & 3);
}

/* A well-formed NVM command; writes get their data in the capsule or by R2T. */
static void op_io(struct peer *p, struct input *in)
{
	static const uint8_t opcodes[8] = {FQ_IO_READ,	FQ_IO_WRITE, FQ_IO_COMPARE,
					   FQ_IO_FLUSH, FQ_IO_DSM,   FQ_IO_WRITE_ZEROES,
					   FQ_IO_COPY,	0xff};
	uint8_t f = u8(in), opc = opcodes[u8(in) & 7], sel = f & 3;
	uint32_t nsid = sel == 0 ? 1 : sel == 1 ? 2 : sel == 2 ? 0xffffffff : u32(in);
	uint32_t nlb = (uint32_t)u8(in) + 1, len = nlb << (nsid == 2 ? 12 : 9);
	bool data_out =
		opc == FQ_IO_WRITE || opc == FQ_IO_COMPARE || opc == FQ_IO_DSM || opc == FQ_IO_COPY;
	struct fq_sqe sqe;
	uint8_t chunk = u8(in);

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opc;
	sqe.flags = FQ_SQE_PSDT_SGL;
	sqe.cid = p->next_cid++;
	sqe.nsid = nsid;
	sqe.cdw10 = u16(in);
	sqe.cdw12 = (nlb - 1) | (f & 0x40 ? 1u << 30 : 0) | (f & 0x80 ? 1u << 25 : 0);
	if (opc == FQ_IO_DSM) {
		sqe.cdw10 = nlb % 4;
		sqe.cdw11 = 1u << 2;
		len = (nlb % 4 + 1) * 16;
	}
	if (opc == FQ_IO_COPY) {
		/* NR from NLB, the descriptor format from the flags (mostly 0h). */
		sqe.cdw12 = (nlb % 8) | ((f & 0x20) ? (uint32_t)(f & 3) << 8 : 0) |
			    (f & 0x40 ? 1u << 30 : 0);
		len = (nlb % 8 + 1) * 32;
	}
	if (f & 0x10)
		len = u16(in); /* a transfer length that disagrees with NLB */
	if (len > MAX_PDU)
		len = MAX_PDU;
	fill(len, chunk);
	if (opc == FQ_IO_DSM && len >= 16) {
		uint64_t slba = u16(in);

		memcpy(databuf + 4, &(uint32_t){8}, 4);
		memcpy(databuf + 8, &slba, 8);
	}
	for (uint32_t i = 0; opc == FQ_IO_COPY && i < len / 32; i++) {
		/* Source Range Entries near the start, some beyond the namespace. */
		uint64_t slba = u8(in) & 0x80 ? u32(in) : u16(in);
		uint16_t n0 = u8(in);

		memcpy(databuf + i * 32 + 8, &slba, 8);
		memcpy(databuf + i * 32 + 16, &n0, 2);
	}
	if (data_out && (f & 0x04) && len <= ICDATA) {
		sqe.sgl = sgl_of(FQ_SGL_INCAPSULE, len);
		send_capsule(p, &sqe, len, (f >> 5) & 2);
		return;
	}
	sqe.sgl = sgl_of(FQ_SGL_TRANSPORT, len);
	send_capsule(p, &sqe, 0, 0);
	if (data_out && (f & 0x08))
		answer_r2t(p, sqe.cid, ((uint32_t)chunk + 1) * 512, f & 0x20, (f >> 5) & 2);
}

/* H2CData placed after the last R2T seen, or with fuzzed fields. */
static void op_h2c(struct peer *p, struct input *in)
{
	uint8_t f = u8(in);
	bool r2t = (f & 1) && p->have_r2t;
	uint16_t cid = r2t ? p->r2t.cccid : u16(in);
	uint16_t ttag = r2t ? p->r2t.ttag : (uint16_t)(u8(in) % 8);
	uint32_t off = (f & 2) && r2t ? p->r2t.r2to + (f & 4 ? u8(in) * 512u : 0) : u32(in);
	uint32_t len = (f & 8) && r2t ? p->r2t.r2tl : u16(in);
	struct fq_tcp_data d;
	uint32_t dlen = f & 0x10 ? len : u16(in);

	if (dlen > MAX_PDU)
		dlen = MAX_PDU;
	fill(dlen, f);
	if (f & 0x40) {
		send_h2c(p, cid, ttag, off, dlen, f & 0x20, (f >> 7) & 1);
		return;
	}
	/* DATAL on its own, so it can disagree with the framing. */
	memset(&d, 0, sizeof(d));
	d.cccid = cid;
	d.ttag = ttag;
	d.datao = off;
	d.datal = len;
	send_all(p, pdu,
		 frame(p, FQ_TCP_H2C_DATA, f & 0x20 ? FQ_TCP_F_DATA_LAST : 0, &d.cccid,
		       sizeof(d) - sizeof(d.ch), databuf, dlen, 0));
}

static void op_raw(struct peer *p, struct input *in)
{
	uint8_t n = u8(in);

	bytes(in, databuf, n);
	send_all(p, databuf, n);
}

static void op_connect(struct peer *p, struct input *in)
{
	uint8_t f = u8(in);
	struct fq_connect_cmd c;
	struct fq_connect_data *d = (struct fq_connect_data *)databuf;
	uint16_t qid = f & 1 ? 0 : f & 2 ? (uint16_t)(1 + u8(in) % 4) : u16(in);

	memset(&c, 0, sizeof(c));
	memset(d, 0, sizeof(*d));
	c.opcode = FQ_ADM_FABRICS;
	c.cid = p->next_cid++;
	c.fctype = FQ_FCTYPE_CONNECT;
	c.sgl = sgl_of(FQ_SGL_INCAPSULE, sizeof(*d));
	c.qid = qid;
	c.sqsize = f & 8 ? u16(in) : qid ? 63 : 31;
	c.kato = f & 0x10 ? u32(in) : 0;
	c.cattr = f & 0x20 ? FQ_CONNECT_CATTR_DISABLE_SQFLOW : 0;
	d->cntlid = qid == 0 ? (f & 4 ? u16(in) : FQ_CNTLID_DYNAMIC) : (f & 4 ? u16(in) : cntlid_a);
	if (f & 0x40) {
		if (u8(in) & 1)
			snprintf(d->subnqn, sizeof(d->subnqn), "%s", FQ_DISCOVERY_NQN);
		else
			bytes(in, d->subnqn, 64);
	} else {
		snprintf(d->subnqn, sizeof(d->subnqn), "%s", NQN);
	}
	/* Bit 7: the host NQN comes from the input; length 0 sends it all zero. */
	if (f & 0x80)
		bytes(in, d->hostnqn, u8(in));
	else
		snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", HOSTNQN);
	send_capsule(p, (const struct fq_sqe *)&c, sizeof(*d), 0);
}

static void op_prop(struct peer *p, struct input *in)
{
	static const uint32_t offs[4] = {FQ_PROP_CAP, FQ_PROP_VS, FQ_PROP_CC, FQ_PROP_CSTS};
	uint8_t f = u8(in);
	struct fq_prop_cmd c;
	struct fq_sqe sqe;

	memset(&c, 0, sizeof(c));
	c.opcode = FQ_ADM_FABRICS;
	c.cid = p->next_cid++;
	c.fctype = f & 1 ? FQ_FCTYPE_PROP_SET : FQ_FCTYPE_PROP_GET;
	c.attrib = f & 0x80 ? u8(in) : (f >> 6) & 1;
	c.offset = f & 2 ? u32(in) : offs[(f >> 2) & 3];
	if ((f & 1) && (f & 0x10))
		c.value = (uint64_t)u32(in) << 32 | u32(in);
	else if (f & 1)
		c.value = f & 0x40 ? 0 /* disable */
				   : FQ_CC_EN | FQ_CC_IOSQES_64 | FQ_CC_IOCQES_16 |
					     (f & 0x20 ? FQ_CC_SHN_NORMAL : 0);
	memcpy(&sqe, &c, sizeof(sqe));
	sqe.sgl = sgl_of(FQ_SGL_TRANSPORT, 0);
	send_capsule(p, &sqe, 0, 0);
}

static void op_term(struct peer *p, struct input *in)
{
	struct fq_tcp_term t;
	uint32_t dlen = u8(in) % 160;

	fq_tcp_term_init(&t, false, u16(in), u32(in), 0);
	fill(dlen, 0x5a);
	send_all(p, pdu,
		 frame(p, FQ_TCP_H2C_TERM, 0, &t.fes, sizeof(t) - sizeof(t.ch), databuf, dlen, 0));
}

/* A well-formed admin command with fuzzed dwords. */
static void op_admin(struct peer *p, struct input *in)
{
	static const uint8_t opcodes[8] = {
		FQ_ADM_IDENTIFY,    FQ_ADM_GET_LOG_PAGE, FQ_ADM_SET_FEATURES, FQ_ADM_GET_FEATURES,
		FQ_ADM_ASYNC_EVENT, FQ_ADM_ABORT,	 FQ_ADM_KEEP_ALIVE,   0x01};
	static const uint32_t lens[8] = {0, 4, 64, 512, 4096, 8192, 131072, 1u << 20};
	uint8_t f = u8(in), o = u8(in);
	struct fq_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = o & 0x80 ? o : opcodes[o & 7];
	sqe.flags = FQ_SQE_PSDT_SGL;
	sqe.cid = p->next_cid++;
	sqe.nsid = f & 1 ? u32(in) : 1;
	sqe.cdw10 = u32(in);
	sqe.cdw11 = u32(in);
	sqe.cdw12 = f & 2 ? u32(in) : 0;
	sqe.cdw13 = f & 2 ? u32(in) : 0;
	sqe.sgl = sgl_of(FQ_SGL_TRANSPORT, lens[(f >> 2) & 7]);
	send_capsule(p, &sqe, 0, 0);
}

/* ---- session --------------------------------------------------------------------- */

static void open_peer(struct peer *p)
{
	int sv[2];

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	memset(p, 0, sizeof(*p));
	p->fd = sv[0];
	p->next_cid = 1;
	atomic_fetch_add(&tgt->nconns, 1); /* as the acceptor counts it */
	fq_tgt_xprt_tcp.accept(&tgt->reactors[0], sv[1], &port0);
}

static void send_icreq(struct peer *p, uint8_t dgst)
{
	struct fq_tcp_icreq ic;

	memset(&ic, 0, sizeof(ic));
	ic.ch.type = FQ_TCP_ICREQ;
	ic.ch.hlen = sizeof(ic);
	ic.ch.plen = sizeof(ic);
	ic.dgst = dgst;
	send_all(p, (const uint8_t *)&ic, sizeof(ic));
	p->hdgst = dgst & FQ_TCP_DGST_HDR;
	p->ddgst = dgst & FQ_TCP_DGST_DATA;
}

/* Connect A as an admin queue and enable its controller; returns its cntlid. */
static uint16_t admin_prefix(struct peer *a)
{
	struct fq_reactor *r = &tgt->reactors[0];
	struct fq_prop_cmd pc;
	struct fq_sqe sf;

	send_icreq(a, 0);
	op_connect(a, &(struct input){(const uint8_t *)"\x01", 1});
	memset(&pc, 0, sizeof(pc));
	pc.opcode = FQ_ADM_FABRICS;
	pc.cid = a->next_cid++;
	pc.fctype = FQ_FCTYPE_PROP_SET;
	pc.offset = FQ_PROP_CC;
	pc.value = FQ_CC_EN | FQ_CC_IOSQES_64 | FQ_CC_IOCQES_16;
	memcpy(&sf, &pc, sizeof(sf));
	sf.sgl = sgl_of(FQ_SGL_TRANSPORT, 0);
	send_capsule(a, &sf, 0, 0);
	memset(&sf, 0, sizeof(sf));
	sf.opcode = FQ_ADM_SET_FEATURES;
	sf.cid = a->next_cid++;
	sf.cdw10 = FQ_FEAT_NUM_QUEUES;
	sf.cdw11 = 3 | 3 << 16;
	sf.sgl = sgl_of(FQ_SGL_TRANSPORT, 0);
	send_capsule(a, &sf, 0, 0);
	pump(16, PUMP_WAIT_NS);
	for (struct fq_queue *q = r->queues; q; q = q->next)
		if (q->ctrl && q->qid == 0)
			return q->ctrl->cntlid;
	return 0xffff;
}

/* Shut the host side down and run the target until every queue is gone. */
static void finish(void)
{
	struct fq_reactor *r = &tgt->reactors[0];

	for (int i = 0; i < 2; i++)
		shutdown(peers[i].fd, SHUT_WR);
	for (int i = 0; i < DRAIN_TURNS && r->queues; i++) {
		pump(1, DRAIN_WAIT_NS);
		/* What the reactor tick does: I/O queues follow their controller. */
		for (struct fq_queue *q = r->queues, *n; q; q = n) {
			n = q->next;
			if (q->state != FQ_CONN_CLOSING && q->ctrl && atomic_load(&q->ctrl->dead))
				q->xprt->close(q, "controller was torn down");
		}
	}
	if (r->queues) {
		/*
		 * A queue whose receive side waits for a buffer held by its own
		 * R2Ts never sees the host go away. Closing it must still
		 * release everything.
		 */
		for (struct fq_queue *q = r->queues, *n; q; q = n) {
			n = q->next;
			q->xprt->close(q, "fuzz session over");
		}
		for (int i = 0; i < DRAIN_TURNS && r->queues; i++)
			pump(1, DRAIN_WAIT_NS);
	}
	check(r->queues == NULL, "a queue was not torn down after close");
	check(r->wait_head == NULL, "a request still waits for a buffer");
	check(r->batch.flush == NULL, "a destroyed queue is still on the flush list");
	for (int c = 0; c < 2; c++)
		check(r->pool.nfree[c] == r->pool.count[c], "a data buffer was not returned");
	check(tgt->ctrls == NULL, "a controller is still registered");
	check(atomic_load(&tgt->nconns) == 0, "connection count not back to zero");
	for (int i = 0; i < 2; i++) {
		close(peers[i].fd);
		peers[i].fd = -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const ops[OP_NUM])(struct peer *, struct input *) = {
		[OP_CAPSULE] = op_capsule, [OP_IO] = op_io,	      [OP_H2C] = op_h2c,
		[OP_RAW] = op_raw,	   [OP_CONNECT] = op_connect, [OP_PROP] = op_prop,
		[OP_TERM] = op_term,	   [OP_PUMP] = NULL,	      [OP_ADMIN] = op_admin,
	};
	struct input in = {data, size};
	int nops = 0;

	open_peer(&peers[0]);
	open_peer(&peers[1]);
	cntlid_a = admin_prefix(&peers[0]);
	send_icreq(&peers[1], u8(&in) & 3);
	while (in.n && nops++ < MAX_OPS) {
		uint8_t b = u8(&in);
		struct peer *p = &peers[b >> 7];
		unsigned op = (b & 0x7f) % OP_NUM;

		if (ops[op])
			ops[op](p, &in);
		else
			pump(8, PUMP_WAIT_NS);
	}
	pump(8, PUMP_WAIT_NS);
	finish();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fq_subsys_conf *s;
	char err[512];

	(void)argc;
	(void)argv;
	fq_log_set_level(getenv("FQ_FUZZ_LOG") ? FQ_LOG_DEBUG : FQ_LOG_ERROR);
	fq_conf_init(&conf);
	conf.reactors = 1;
	conf.in_capsule_size = ICDATA;
	conf.buffers_per_reactor = 8;
	/* One port so validation passes and the subsystem is exported on index 0. */
	conf.nports = 1;
	snprintf(conf.ports[0].name, sizeof(conf.ports[0].name), "fuzz");
	snprintf(conf.ports[0].addr, sizeof(conf.ports[0].addr), "127.0.0.1");
	conf.ports[0].port = 4420;
	s = fq_conf_add_subsys(&conf, NQN);
	check(s != NULL, "add subsystem");
	check(fq_conf_add_ns(s, "ram:1M", err, sizeof(err)) == 0, "add namespace 1");
	check(fq_conf_add_ns(s, "ram:1M,bs=4096", err, sizeof(err)) == 0, "add namespace 2");
	if (fq_conf_validate(&conf, err, sizeof(err))) {
		fprintf(stderr, "fuzz_target_session: %s\n", err);
		abort();
	}
	port0.idx = 0;
	port0.fd = -1;
	port0.xprt = &fq_tgt_xprt_tcp;
	port0.conf = conf.ports[0];
	/* No listening socket: sessions are handed to the reactor directly. */
	conf.nports = 0;
	if (fq_tgt_create(&conf, &tgt, err, sizeof(err))) {
		fprintf(stderr, "fuzz_target_session: %s\n", err);
		abort();
	}
	tgt->reactors[0].now_ns = fq_now_ns();
	return 0;
}
