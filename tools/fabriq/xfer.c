/* SPDX-License-Identifier: MIT */
/*
 * Chunked data transfer for read and write: --block-size bytes per command,
 * --queue-depth commands in flight. Chunks complete out of order; the sink
 * receives each with its offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct chunk {
	bool busy;
	uint64_t off; /* relative to --offset */
	size_t len;
	uint8_t *buf;
	struct xfer *x;
};

struct xfer {
	struct cli *cli;
	bool write;
	xfer_sink_fn sink;
	void *ctx;
	int err;
	struct fq_cpl err_cpl;
	uint32_t inflight;
};

static void chunk_done(void *arg, const struct fq_cpl *cpl)
{
	struct chunk *c = arg;
	struct xfer *x = c->x;

	c->busy = false;
	x->inflight--;
	if (fq_cpl_is_error(cpl)) {
		if (!x->err) {
			x->err = -EIO;
			x->err_cpl = *cpl;
		}
		return;
	}
	if (!x->write && x->sink && !x->err) {
		int rc = x->sink(x->ctx, c->off, c->buf, c->len);

		if (rc)
			x->err = rc;
	}
}

static int start(struct xfer *x, struct chunk *c, struct fq_ns *ns, struct fq_qpair *qp,
		 xfer_fill_fn fill)
{
	uint32_t ss = fq_ns_get_sector_size(ns);
	uint64_t lba = (x->cli->offset + c->off) / ss;
	uint32_t nlb = (uint32_t)(c->len / ss);
	uint32_t flags = x->cli->fua ? FQ_IO_FLAGS_FUA : 0;
	int rc;

	if (x->write) {
		rc = fill(x->ctx, c->off, c->buf, c->len);
		if (rc)
			return rc;
		rc = fq_ns_write(ns, qp, c->buf, lba, nlb, chunk_done, c, flags);
	} else {
		rc = fq_ns_read(ns, qp, c->buf, lba, nlb, chunk_done, c, 0);
	}
	if (!rc) {
		c->busy = true;
		x->inflight++;
	}
	return rc;
}

int cli_xfer(struct cli *cli, struct fq_ns *ns, struct fq_qpair *qp, bool write, xfer_fill_fn fill,
	     xfer_sink_fn sink, void *ctx, struct fq_cpl *err_cpl)
{
	uint32_t qd = cli->queue_depth ? cli->queue_depth : 1;
	struct xfer x = {.cli = cli, .write = write, .sink = sink, .ctx = ctx};
	struct chunk *ch = calloc(qd, sizeof(*ch));
	uint64_t next = 0;
	int rc = 0;

	if (!ch)
		return -ENOMEM;
	for (uint32_t i = 0; i < qd; i++) {
		ch[i].x = &x;
		ch[i].buf = malloc(cli->block_size);
		if (!ch[i].buf)
			rc = -ENOMEM;
	}
	while (!rc && !x.err && (next < cli->length || x.inflight)) {
		for (uint32_t i = 0; i < qd && next < cli->length && !rc; i++) {
			if (ch[i].busy)
				continue;
			ch[i].off = next;
			ch[i].len = cli->length - next < cli->block_size ? cli->length - next
									 : cli->block_size;
			rc = start(&x, &ch[i], ns, qp, fill);
			if (rc == -EAGAIN) {
				rc = 0;
				break;
			}
			if (!rc)
				next += ch[i].len;
		}
		if (!rc && x.inflight) {
			int n = fq_qpair_wait(qp, 1000);

			if (n < 0 && n != -ENXIO)
				rc = n;
		}
	}
	/* Buffers stay until nothing references them. */
	while (x.inflight && fq_qpair_wait(qp, 1000) >= 0)
		;
	for (uint32_t i = 0; i < qd; i++)
		free(ch[i].buf);
	free(ch);
	if (x.err == -EIO && err_cpl)
		*err_cpl = x.err_cpl;
	return rc ? rc : x.err;
}
