/* SPDX-License-Identifier: MIT */
/* Helpers shared by the volume engine tests: synchronous I/O on volumes. */
#ifndef FQ_TEST_VOL_TEST_H
#define FQ_TEST_VOL_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "volume/volume.h"

struct vt_done {
	bool done;
	int rc;
};

static void vt_cb(struct fq_bdev_io *io, int rc)
{
	struct vt_done *d = io->cb_arg;

	d->done = true;
	d->rc = rc;
}

/*
 * One I/O on @v, run to completion on @eng (NULL: the pool's bdev completes
 * inside submit). Returns the completion's result; *status gets the NVMe
 * status the engine chose, if @status is set.
 */
static inline int vt_io_status(struct fq_vol *v, struct fq_engine *eng, enum fq_bdev_io_type type,
			       uint64_t off, void *buf, uint64_t len, uint16_t *status)
{
	struct fq_bdev_io io;
	struct iovec iov = {buf, len};
	struct vt_done d = {0};
	int rc;

	memset(&io, 0, sizeof(io));
	io.type = type;
	io.offset = off;
	io.length = len;
	io.iov = &iov;
	io.iovcnt = 1;
	io.cb = vt_cb;
	io.cb_arg = &d;
	rc = fq_vol_submit(v, eng, &io);
	if (rc)
		return rc;
	while (!d.done && eng)
		fq_engine_run(eng, 1, 1000000);
	if (!d.done)
		return -EINPROGRESS;
	if (status)
		*status = io.nvme_status;
	return d.rc;
}

static inline int vt_io(struct fq_vol *v, struct fq_engine *eng, enum fq_bdev_io_type type,
			uint64_t off, void *buf, uint64_t len)
{
	return vt_io_status(v, eng, type, off, buf, len, NULL);
}

#endif
