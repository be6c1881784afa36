/* SPDX-License-Identifier: MIT */
/*
 * bench/fuse_mem.c over FUSE-over-io_uring: the same FUSE file served from
 * memory, mounted on itself (direct_io, max_background 128), but once the
 * connection is up every request comes through io_uring (URING_CMD on
 * /dev/fuse) instead of read(2)/writev(2) on it. fio on a loop device over
 * it, against the same over fuse_mem, measures what moving `fabriq map
 * --via user` onto the ring could gain.
 *
 *   fuse_uring_mem FILE SIZE_MIB [ENTRIES_PER_QUEUE]
 *     (in the foreground; SIGTERM/SIGINT or umount end it)
 *
 * Needs a kernel with CONFIG_FUSE_IO_URING and
 * /sys/module/fuse/parameters/enable_uring = Y when the file is mounted.
 *
 * libfuse 3.14 knows nothing of the ring: it mounts and answers /dev/fuse
 * as usual (fuse_session_custom_io), and its INIT reply is amended here to
 * offer FUSE_OVER_IO_URING. As soon as the kernel has taken that reply
 * (fc->initialized), one thread registers ENTRIES_PER_QUEUE ring entries
 * (default 32) for every possible CPU and from then on serves whatever
 * arrives on the ring itself; /dev/fuse keeps only FORGET and INTERRUPT,
 * which the kernel never sends through the ring (fs/fuse/dev_uring.c,
 * fuse_io_uring_ops).
 */
#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <liburing.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PATTERN (1u << 20)

/*
 * FUSE-over-io_uring ABI (protocol 7.42, Linux 6.14+), from the kernel's
 * include/uapi/linux/fuse.h; the installed 6.1 headers predate it.
 */
#define FQ_FUSE_OVER_IO_URING (1ULL << 41) /* INIT flag, in flags2 */
#define FQ_FUSE_URING_IN_OUT_HEADER_SZ 128
#define FQ_FUSE_URING_OP_IN_OUT_SZ 128
#define FQ_FUSE_IO_URING_CMD_REGISTER 1u
#define FQ_FUSE_IO_URING_CMD_COMMIT_AND_FETCH 2u

/* Trailer of the header buffer: written by the kernel on fetch, read on commit. */
struct fq_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the request's unique, echoed in the commit */
	uint32_t payload_sz; /* bytes valid in the payload buffer, either way */
	uint32_t padding;
	uint64_t reserved;
};

/* iov[0] of a REGISTER: fixed per entry for the life of the connection. */
struct fq_fuse_uring_req_header {
	char in_out[FQ_FUSE_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header / fuse_out_header */
	char op_in[FQ_FUSE_URING_OP_IN_OUT_SZ];	     /* the request's first argument */
	struct fq_fuse_uring_ent_in_out ring_ent_in_out;
};

/* In the 80-byte command area of an SQE128 (sqe->cmd). */
struct fq_fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

static_assert(sizeof(struct fq_fuse_uring_ent_in_out) == 32, "fuse_uring_ent_in_out");
static_assert(offsetof(struct fq_fuse_uring_req_header, op_in) == 128, "op_in");
static_assert(offsetof(struct fq_fuse_uring_req_header, ring_ent_in_out) == 256, "ring_ent_in_out");
static_assert(sizeof(struct fq_fuse_uring_req_header) == 288, "fuse_uring_req_header");
static_assert(sizeof(struct fq_fuse_uring_cmd_req) == 24, "fuse_uring_cmd_req");
static_assert(offsetof(struct fq_fuse_uring_cmd_req, qid) == 16, "qid");
static_assert(offsetof(struct io_uring_sqe, cmd) == 48, "sqe->cmd");
static_assert(sizeof(struct fuse_read_in) <= FQ_FUSE_URING_OP_IN_OUT_SZ, "read_in");
static_assert(sizeof(struct fuse_write_in) <= FQ_FUSE_URING_OP_IN_OUT_SZ, "write_in");

struct ent {
	struct fq_fuse_uring_req_header hdr;
	struct iovec iov[2];
	char *payload;
	uint16_t qid;
};

static uint64_t size;
static char pattern[PATTERN + (1u << 20)];
static int fuse_fd = -1;
static uint64_t init_unique;
static size_t payload_size;
static unsigned per_queue = 32;
static pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t up_cond = PTHREAD_COND_INITIALIZER;
static int up; /* 1: INIT answered, the ring may register; -1: give up */

static void mem_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	conn->max_background = 128;
	conn->congestion_threshold = 96;
}

static void fill_attr(struct stat *st, uint64_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
}

static void mem_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill_attr(&st, ino);
	fuse_reply_attr(req, &st, 1.0);
}

static void mem_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static size_t read_len(uint64_t off, size_t len)
{
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (len > sizeof(pattern) - PATTERN)
		len = sizeof(pattern) - PATTERN;
	return len;
}

static void mem_read(fuse_req_t req, fuse_ino_t ino, size_t len, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	len = read_len((uint64_t)off, len);
	fuse_reply_buf(req, pattern + (uint64_t)off % PATTERN, len);
}

static void mem_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t len, off_t off,
		      struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, len);
}

static const struct fuse_lowlevel_ops ops = {
	.init = mem_init,
	.getattr = mem_getattr,
	.open = mem_open,
	.read = mem_read,
	.write = mem_write,
};

static void set_up(int v)
{
	pthread_mutex_lock(&up_lock);
	up = v;
	pthread_cond_broadcast(&up_cond);
	pthread_mutex_unlock(&up_lock);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)ud;
	if (n >= (ssize_t)sizeof(*in) && in->opcode == FUSE_INIT)
		init_unique = in->unique;
	return n;
}

/*
 * The kernel turns the ring on only if the INIT reply carries
 * FUSE_OVER_IO_URING (fs/fuse/inode.c, process_init_reply; flags2 is read
 * only with FUSE_INIT_EXT). The reply is processed inside this writev, so
 * once it returns the connection is initialized and REGISTER no longer
 * fails with EAGAIN (fs/fuse/dev_uring.c, fuse_uring_cmd).
 */
static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_init_out *io = NULL;
	ssize_t n;

	(void)ud;
	if (init_unique && oh->unique == init_unique && oh->error == 0 && count > 1 &&
	    iov[1].iov_len >= sizeof(*io)) {
		io = iov[1].iov_base;
		io->flags |= FUSE_INIT_EXT;
		io->flags2 |= (uint32_t)(FQ_FUSE_OVER_IO_URING >> 32);
		/* The entry's payload must hold max(8 KiB, max_write,
		 * max_pages pages) (fuse_uring_create). */
		payload_size = 8192;
		if (io->max_write > payload_size)
			payload_size = io->max_write;
		if ((io->flags & FUSE_MAX_PAGES) &&
		    (size_t)io->max_pages * (size_t)sysconf(_SC_PAGESIZE) > payload_size)
			payload_size = (size_t)io->max_pages * (size_t)sysconf(_SC_PAGESIZE);
	}
	n = writev(fd, iov, count);
	if (io) {
		init_unique = 0;
		set_up(n < 0 ? -1 : 1);
	}
	return n;
}

static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned lo = 0, hi = 0;

	/* Queues are indexed by CPU number, one per possible CPU
	 * (fuse_uring_create: nr_queues = num_possible_cpus()). */
	if (!f)
		return 1;
	if (fscanf(f, "%u-%u", &lo, &hi) < 2)
		hi = lo;
	fclose(f);
	return hi + 1;
}

static void prep_cmd(struct io_uring *ring, struct ent *e, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct fq_fuse_uring_cmd_req *cr;

	/* Never empty: one SQE per entry, at most one command per entry. */
	if (!sqe)
		abort();
	memset(sqe, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_fd;
	sqe->cmd_op = op;
	/* REGISTER: sqe->addr is an array of two iovecs, header and payload. */
	sqe->addr = (uint64_t)(uintptr_t)e->iov;
	sqe->len = 2;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	cr = (struct fq_fuse_uring_cmd_req *)sqe->cmd;
	cr->commit_id = commit_id;
	cr->qid = e->qid;
}

/*
 * Serve one request in place: fuse_in_header in in_out, the first
 * argument (fuse_read_in, fuse_write_in, ...) in op_in, the rest (WRITE
 * data) in the payload. The reply goes back the same way: fuse_out_header
 * in in_out, every out argument (READ data, fuse_write_out, ...) in the
 * payload with payload_sz its length (fuse_uring_args_to_ring,
 * fuse_uring_commit).
 */
static void serve(struct ent *e)
{
	const struct fuse_in_header *in = (const void *)e->hdr.in_out;
	struct fuse_out_header oh = {.unique = in->unique};
	uint32_t plen = 0;

	switch (in->opcode) {
	case FUSE_READ: {
		const struct fuse_read_in *ri = (const void *)e->hdr.op_in;
		size_t len = read_len(ri->offset, ri->size);

		if (len > payload_size)
			len = payload_size;
		memcpy(e->payload, pattern + ri->offset % PATTERN, len);
		plen = (uint32_t)len;
		break;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *wi = (const void *)e->hdr.op_in;
		struct fuse_write_out wo = {.size = wi->size};

		memcpy(e->payload, &wo, sizeof(wo));
		plen = sizeof(wo);
		break;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out ao = {.attr_valid = 1};

		ao.attr.ino = in->nodeid;
		ao.attr.size = size;
		ao.attr.mode = S_IFREG | 0600;
		ao.attr.nlink = 1;
		ao.attr.blksize = 4096;
		memcpy(e->payload, &ao, sizeof(ao));
		plen = sizeof(ao);
		break;
	}
	case FUSE_OPEN: {
		struct fuse_open_out oo = {.open_flags = FOPEN_DIRECT_IO};

		memcpy(e->payload, &oo, sizeof(oo));
		plen = sizeof(oo);
		break;
	}
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_FSYNC:
	case FUSE_DESTROY:
		break;
	default:
		oh.error = -ENOSYS;
		break;
	}
	oh.len = (uint32_t)sizeof(oh) + plen;
	memcpy(e->hdr.in_out, &oh, sizeof(oh));
	e->hdr.ring_ent_in_out.payload_sz = plen;
}

static void *ring_main(void *arg)
{
	unsigned nq = possible_cpus(), n = nq * per_queue;
	struct io_uring_params p = {.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN};
	struct io_uring ring;
	struct ent *ents;
	unsigned live = n;
	int rc;

	(void)arg;
	pthread_mutex_lock(&up_lock);
	while (!up)
		pthread_cond_wait(&up_cond, &up_lock);
	pthread_mutex_unlock(&up_lock);
	if (up < 0)
		return NULL;
	/* The command's data lives in the 80-byte tail of a 128-byte SQE,
	 * which fuse_uring_cmd requires (IO_URING_F_SQE128). */
	rc = io_uring_queue_init_params(n, &ring, &p);
	if (rc) {
		fprintf(stderr, "fuse_uring_mem: io_uring_queue_init: %s\n", strerror(-rc));
		exit(1);
	}
	ents = calloc(n, sizeof(*ents));
	if (!ents)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		struct ent *e = &ents[i];

		if (posix_memalign((void **)&e->payload, 4096, payload_size))
			exit(1);
		e->qid = (uint16_t)(i / per_queue);
		e->iov[0] = (struct iovec){&e->hdr, sizeof(e->hdr)};
		e->iov[1] = (struct iovec){e->payload, payload_size};
		prep_cmd(&ring, e, FQ_FUSE_IO_URING_CMD_REGISTER, 0);
	}
	rc = io_uring_submit(&ring);
	if (rc != (int)n) {
		fprintf(stderr, "fuse_uring_mem: register submit: %d\n", rc);
		exit(1);
	}
	fprintf(stderr, "fuse_uring_mem: %u queues x %u entries, payload %zu bytes\n", nq,
		per_queue, payload_size);
	while (live) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "fuse_uring_mem: submit_and_wait: %s\n", strerror(-rc));
			exit(1);
		}
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			struct ent *e = (struct ent *)(uintptr_t)cqe->user_data;

			seen++;
			if (cqe->res < 0) {
				/* ENOTCONN/ECANCELED: connection torn down. */
				if (cqe->res != -ENOTCONN && cqe->res != -ECANCELED)
					fprintf(stderr, "fuse_uring_mem: qid %u: %s\n", e->qid,
						strerror(-cqe->res));
				live--;
				continue;
			}
			serve(e);
			prep_cmd(&ring, e, FQ_FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
				 e->hdr.ring_ent_in_out.commit_id);
		}
		io_uring_cq_advance(&ring, seen);
	}
	io_uring_queue_exit(&ring);
	return NULL;
}

int main(int argc, char **argv)
{
	char *fargv[] = {argv[0], (char *)"-o", (char *)"fsname=fabriq-mem", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_custom_io io = {.writev = io_writev, .read = io_read};
	struct fuse_session *se;
	sigset_t all, old;
	pthread_t th;
	int rc;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: fuse_uring_mem FILE SIZE_MIB [ENTRIES_PER_QUEUE]\n");
		return 2;
	}
	size = strtoull(argv[2], NULL, 0) << 20;
	if (argc == 4)
		per_queue = (unsigned)strtoul(argv[3], NULL, 0);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 131 + (i >> 12));
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[1])) {
		fprintf(stderr, "fuse_uring_mem: cannot mount %s\n", argv[1]);
		return 1;
	}
	/* Same descriptor, libfuse keeps the mount point for the unmount. */
	fuse_fd = fuse_session_fd(se);
	if (fuse_session_custom_io(se, &io, fuse_fd)) {
		fprintf(stderr, "fuse_uring_mem: fuse_session_custom_io failed\n");
		return 1;
	}
	/* Signals go to the /dev/fuse thread, whose read(2) they interrupt
	 * to end the session loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&th, NULL, ring_main, NULL))
		return 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fuse_set_signal_handlers(se);
	rc = fuse_session_loop(se);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	/* Not joined: in-flight ring commands pin /dev/fuse, so the
	 * connection ends only when this process exits and io_uring cancels
	 * them (fuse_uring_cancel). */
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
