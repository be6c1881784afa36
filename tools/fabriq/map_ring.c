/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring (map_ring.h), Linux 6.14 and later.
 *
 * The connection starts the classic way: libfuse mounts the file and
 * answers INIT through /dev/fuse, and map_ring_amend_init() adds
 * FUSE_OVER_IO_URING to that reply (libfuse 3.14 does not know the flag).
 * Then every possible CPU gets a queue of entries, each entry a pair of
 * buffers the kernel fills with one request: a header (the request's
 * fuse_in_header and first argument) and a payload (the rest, or room for
 * the reply's out arguments). An entry is handed to the kernel with a
 * REGISTER command; the kernel completes that command when it put a
 * request in the entry; the reply goes back, and the entry is offered
 * again, with one COMMIT_AND_FETCH command. Requests are routed to the
 * queue of the CPU they were made on; the kernel uses the ring once every
 * queue has an entry, and keeps FORGET and INTERRUPT on /dev/fuse
 * (fs/fuse/dev_uring.c).
 *
 * The ring has its own io_uring because these commands need 128-byte
 * submission entries; the serving thread watches its descriptor from the
 * libfabriq loop when it has nothing else to do. Completions arrive as
 * task work on the thread that submitted the commands (this one), which
 * any sleep of that thread in the kernel runs, so the default setup (not
 * DEFER_TASKRUN, which would only run it inside this ring's own waits) is
 * the one that wakes a thread asleep in the loop.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map_ring.h"

/*
 * The ABI, protocol 7.42 (Linux 6.14 include/uapi/linux/fuse.h); the
 * installed headers may predate it, so it is spelled out here.
 */
#define RING_INIT_FLAG2 (1u << (41 - 32)) /* FUSE_OVER_IO_URING, in flags2 */
#define RING_CMD_REGISTER 1u
#define RING_CMD_COMMIT_AND_FETCH 2u
#define RING_IN_OUT_SZ 128
#define RING_OP_IN_SZ 128
/* The kernel's payload floor (FUSE_MIN_READ_BUFFER) and default request size in pages. */
#define RING_MIN_PAYLOAD 8192u
#define RING_DEFAULT_MAX_PAGES 32u

/* The tail of an entry's header: the kernel's on fetch, ours on commit. */
struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* identifies the request; echoed by the commit */
	uint32_t payload_sz; /* bytes of payload in use, in either direction */
	uint32_t padding;
	uint64_t reserved;
};

/* The header buffer of an entry (iov[0] of its REGISTER). */
struct ring_req_header {
	uint8_t in_out[RING_IN_OUT_SZ]; /* fuse_in_header in, fuse_out_header out */
	uint8_t op_in[RING_OP_IN_SZ];	/* the request's first argument */
	struct ring_ent_in_out ent;
};

/* The command, in the 80 bytes of a 128-byte submission entry after its first 48. */
struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

static_assert(sizeof(struct ring_ent_in_out) == 32, "fuse_uring_ent_in_out");
static_assert(offsetof(struct ring_req_header, op_in) == 128, "fuse_uring_req_header.op_in");
static_assert(offsetof(struct ring_req_header, ent) == 256,
	      "fuse_uring_req_header.ring_ent_in_out");
static_assert(sizeof(struct ring_req_header) == 288, "fuse_uring_req_header");
static_assert(sizeof(struct ring_cmd_req) == 24, "fuse_uring_cmd_req");
static_assert(offsetof(struct ring_cmd_req, qid) == 16, "fuse_uring_cmd_req.qid");
static_assert(offsetof(struct io_uring_sqe, cmd) == 48, "io_uring_sqe.cmd");
static_assert(sizeof(struct fuse_in_header) <= RING_IN_OUT_SZ, "fuse_in_header");
static_assert(sizeof(struct fuse_write_in) <= RING_OP_IN_SZ, "fuse_write_in");
static_assert(sizeof(struct fuse_setattr_in) <= RING_OP_IN_SZ, "fuse_setattr_in");

struct map_ring_ent {
	struct ring_req_header hdr;
	struct iovec iov[2];
	uint8_t *payload;
	uint16_t qid;
	bool dead; /* the kernel gave it back for good (connection gone) */
};

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

static struct {
	struct io_uring ring;
	bool up;
	int fuse_fd;
	size_t payload;
	unsigned n, live, queued;
	struct map_ring_ent *ents;
	map_ring_fn fn;
} R = {.fuse_fd = -1};

int map_ring_available(bool enable, const char **why)
{
	char c = 0;
	int fd = open(MAP_RING_PARAM, O_RDONLY | O_CLOEXEC);

	*why = NULL;
	if (fd < 0) {
		*why = "this kernel has no FUSE over io_uring (Linux 6.14 and later, "
		       "CONFIG_FUSE_IO_URING)";
		return -1;
	}
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	if (c == 'Y')
		return 1;
	if (!enable) {
		*why = "it is switched off (" MAP_RING_PARAM " is N)";
		return 0;
	}
	fd = open(MAP_RING_PARAM, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "Y", 1) != 1) {
		*why = "it is switched off and " MAP_RING_PARAM " could not be set (needs root)";
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

bool map_ring_amend_init(struct iovec *iov, int count)
{
	size_t page = page_size();
	const struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_init_out *io;
	size_t pages;

	/*
	 * The INIT reply is the one whose out argument is a fuse_init_out
	 * with this protocol's major version: nothing else libfuse sends
	 * before the ring is up has that shape.
	 */
	if (count < 2 || iov[0].iov_len != sizeof(*oh) || oh->error ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t))
		return false;
	io = iov[1].iov_base;
	if (io->major != FUSE_KERNEL_VERSION || !io->minor)
		return false;
	/* flags2 counts only with FUSE_INIT_EXT (fs/fuse/inode.c, process_init_reply). */
	io->flags |= FUSE_INIT_EXT;
	io->flags2 |= RING_INIT_FLAG2;
	/* An entry must hold the largest request either way (dev_uring.c, fuse_uring_create). */
	pages = (io->flags & FUSE_MAX_PAGES) && io->max_pages ? io->max_pages
							      : RING_DEFAULT_MAX_PAGES;
	R.payload = RING_MIN_PAYLOAD;
	if (io->max_write > R.payload)
		R.payload = io->max_write;
	if (pages * page > R.payload)
		R.payload = pages * page;
	return true;
}

/* Queues are per possible CPU (fuse_uring_create: num_possible_cpus()). */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned lo = 0, hi = 0;
	int n;

	if (!f)
		return 1;
	n = fscanf(f, "%u-%u", &lo, &hi);
	fclose(f);
	return n == 2 ? hi + 1 : n == 1 ? lo + 1 : 1;
}

static void queue_cmd(struct map_ring_ent *e, uint32_t op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&R.ring);
	struct ring_cmd_req *cr;

	/* The ring has a slot per entry and an entry has one command at a time. */
	if (!sqe) {
		io_uring_submit(&R.ring);
		sqe = io_uring_get_sqe(&R.ring);
		if (!sqe)
			abort();
	}
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = R.fuse_fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)e->iov; /* read by REGISTER only */
	sqe->len = 2;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	cr = (struct ring_cmd_req *)sqe->cmd;
	cr->commit_id = op == RING_CMD_COMMIT_AND_FETCH ? e->hdr.ent.commit_id : 0;
	cr->qid = e->qid;
	R.queued++;
}

int map_ring_start(int fuse_fd, unsigned per_queue, map_ring_fn fn)
{
	unsigned nq = possible_cpus();
	int rc;

	if (!R.payload)
		return -EPROTO; /* no INIT reply went by */
	R.n = nq * per_queue;
	R.fuse_fd = fuse_fd;
	R.fn = fn;
	rc = io_uring_queue_init(R.n, &R.ring, IORING_SETUP_SQE128);
	if (rc)
		return rc;
	R.ents = calloc(R.n, sizeof(*R.ents));
	if (!R.ents) {
		io_uring_queue_exit(&R.ring);
		return -ENOMEM;
	}
	R.up = true;
	for (unsigned i = 0; i < R.n; i++) {
		struct map_ring_ent *e = &R.ents[i];

		if (posix_memalign((void **)&e->payload, page_size(), R.payload)) {
			map_ring_stop();
			return -ENOMEM;
		}
		e->qid = (uint16_t)(i / per_queue);
		e->iov[0] = (struct iovec){&e->hdr, sizeof(e->hdr)};
		e->iov[1] = (struct iovec){e->payload, R.payload};
		queue_cmd(e, RING_CMD_REGISTER);
	}
	R.live = R.n;
	rc = io_uring_submit(&R.ring);
	R.queued = 0;
	if (rc < 0 || (unsigned)rc != R.n) {
		map_ring_stop();
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

int map_ring_fd(void)
{
	return R.up ? R.ring.ring_fd : -1;
}

size_t map_ring_payload_size(void)
{
	return R.payload;
}

unsigned map_ring_live(void)
{
	return R.up ? R.live : 0;
}

void map_ring_flush(void)
{
	if (R.up && R.queued) {
		R.queued = 0;
		io_uring_submit(&R.ring);
	}
}

int map_ring_service(void)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int taken = 0;

	if (!R.up)
		return 0;
	map_ring_flush();
	io_uring_for_each_cqe(&R.ring, head, cqe)
	{
		struct map_ring_ent *e = (struct map_ring_ent *)(uintptr_t)cqe->user_data;
		const struct fuse_in_header *in = (const void *)e->hdr.in_out;

		seen++;
		if (cqe->res < 0) {
			/* ENOTCONN, ECANCELED: the connection is going away. */
			if (cqe->res != -ENOTCONN && cqe->res != -ECANCELED)
				fprintf(stderr, "map-serve: FUSE ring queue %u: %s\n", e->qid,
					strerror(-cqe->res));
			if (!e->dead) {
				e->dead = true;
				R.live--;
			}
			continue;
		}
		taken++;
		R.fn(e, in, e->hdr.op_in, e->payload, e->hdr.ent.payload_sz, R.payload);
	}
	io_uring_cq_advance(&R.ring, seen);
	return taken;
}

void map_ring_reply(struct map_ring_ent *e, int error, const void *data, uint32_t len)
{
	struct fuse_out_header oh = {
		.unique = ((const struct fuse_in_header *)e->hdr.in_out)->unique};

	if (!R.up || e->dead)
		return;
	/* Out arguments larger than the payload cannot be sent: fail the request, never cut it. */
	if (!error && len > R.payload)
		error = EIO;
	if (error)
		len = 0;
	if (len && data != e->payload)
		memcpy(e->payload, data, len);
	oh.error = error ? -(error > 0 ? error : -error) : 0;
	oh.len = (uint32_t)sizeof(oh) + len;
	memcpy(e->hdr.in_out, &oh, sizeof(oh));
	e->hdr.ent.payload_sz = len;
	queue_cmd(e, RING_CMD_COMMIT_AND_FETCH);
}

void map_ring_stop(void)
{
	if (!R.up)
		return;
	R.up = false;
	/* Cancels what the kernel still holds; nothing touches the buffers after it. */
	io_uring_queue_exit(&R.ring);
	for (unsigned i = 0; i < R.n; i++)
		free(R.ents[i].payload);
	free(R.ents);
	R.ents = NULL;
	R.n = R.live = R.queued = 0;
}
