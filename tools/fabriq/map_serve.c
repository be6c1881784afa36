/* SPDX-License-Identifier: MIT */
/*
 * `fabriq map --via user`, the serving half: one process per mapped volume
 * that holds an NVMe/TCP controller and serves the namespace as a single
 * regular file through FUSE (mounted on the file itself), so that a loop
 * device can be attached to it. `fabriq map` starts it (the hidden verb
 * `map-serve`) in the background with its log next to the file.
 *
 * One thread does the I/O: it turns a libfabriq loop (fabriq/loop.h) that
 * carries the controller and its qpairs, reads FUSE requests from the
 * device without blocking, queues each as an NVMe command (map_io.c) and
 * answers FUSE from the command's completion, in a later turn. The loop
 * device's queue depth thus reaches the target with no thread per request
 * and no wake-up per request: a busy thread reads new requests between
 * completions. Once a read finds the device empty, the thread stops
 * reading it and arms a watch on it (fq_loop_watch_fd: a poll on the
 * loop's own io_uring), so its sleep in the loop ends at a completion, a
 * timer or a new FUSE request, whichever comes first, with no other thread
 * involved. SIGTERM and SIGINT come through a signalfd watched the same way.
 *
 * A resize of the volume reaches the host as a Namespace Attribute Changed
 * event (NVMe Base 2.0 §5.2.2, notice 00h): the I/O thread re-reads the
 * namespace, and a second thread gives the file its new size and tells the
 * loop devices on it (LOOP_SET_CAPACITY), so the mapped device grows
 * without a remap. That thread waits on FUSE itself (stat), so it cannot
 * be the one that answers FUSE.
 *
 * The process writes its state ("live", "reconnecting", "failed") to the
 * state file whenever the controller's state changes; SIGHUP is a no-op
 * wake-up that `fabriq remap` sends before it waits for "live".
 */
#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <linux/loop.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "map.h"
#include "map_io.h"
#include "map_ring.h"

/* I/O qpairs opened, at most (fewer if the controller grants fewer). */
#define MAP_QPAIRS 2
/* FUSE background requests in flight (see ll_init). */
#define MAP_MAX_BACKGROUND 128
/* FUSE requests read in a row before the loop is turned. */
#define MAP_READ_BATCH 32
/* FUSE over io_uring: entries per CPU queue, and the largest write asked of the kernel. */
#define MAP_RING_ENTRIES 64
#define MAP_RING_MAX_WRITE (128u << 10)

enum ring_mode { RING_NO, RING_AUTO, RING_YES };

static struct serve {
	struct fq_loop *loop;
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	uint32_t nsid;
	uint32_t sector;
	_Atomic uint64_t size; /* changes when the volume is resized */
	uint32_t io_timeout_s;
	const char *state_path;
	char file[MAP_PATH_MAX]; /* the served file, as the loop devices name it */
	struct fuse_session *se;
	int fuse_fd;
	int sig_fd;	      /* signalfd of SIGTERM and SIGINT */
	sem_t changed;	      /* the size changed: the refresher's turn */
	atomic_bool rescan;   /* a Namespace Attribute Changed event came */
	atomic_bool stopping; /* SIGTERM/SIGINT, or the file was unmounted */
	/* Read the FUSE device: the last read gave a request, or its watch fired. */
	bool fuse_ready;
	struct fq_fd_watch fuse_watch, sig_watch, ring_watch;
	/* FUSE over io_uring: asked for, offered in the INIT reply, taken by the kernel. */
	enum ring_mode ring_mode;
	bool ring_offered, ring_init_sent;
	uint64_t init_unique;
	uint64_t dev_reqs, ring_reqs; /* requests taken each way (logged at the end) */
} S;

/*
 * The state file: the state on the first line ("live", "reconnecting",
 * "failed", "stopped"; NULL keeps the last one), then how FUSE requests
 * come in ("fuse io_uring" or "fuse /dev/fuse"), for `fabriq showmapped`.
 */
static void write_state(const char *state)
{
	static const char *last = "live";
	char tmp[MAP_PATH_MAX + 8];
	FILE *f;

	if (state)
		last = state;
	snprintf(tmp, sizeof(tmp), "%s.tmp", S.state_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\nfuse %s\n", last, map_ring_live() ? "io_uring" : "/dev/fuse");
	if (fclose(f) == 0)
		rename(tmp, S.state_path);
}

static void on_state(void *arg, enum fq_ctrlr_state state)
{
	(void)arg;
	fprintf(stderr, "map-serve: controller %s\n", fq_ctrlr_state_name(state));
	write_state(state == FQ_CTRLR_LIVE	  ? "live"
		    : state == FQ_CTRLR_RESETTING ? "reconnecting"
						  : "failed");
}

/*
 * Async events arrive inside an admin completion, where no blocking admin
 * command may be sent: the I/O thread rescans after the turn.
 */
static void on_aer(void *arg, uint32_t cdw0)
{
	(void)arg;
	/* Type 2h (notice), information 00h: Namespace Attribute Changed. */
	if ((cdw0 & 0x7) == 2 && ((cdw0 >> 8) & 0xff) == 0)
		atomic_store(&S.rescan, true);
}

/* Every loop device whose backing file is the served file gets the new size. */
static void refresh_loops(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[320], back[MAP_PATH_MAX + 2] = "";
		FILE *f;
		int fd;

		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (!fgets(back, sizeof(back), f))
			back[0] = '\0';
		fclose(f);
		back[strcspn(back, "\n")] = '\0';
		if (strcmp(back, S.file))
			continue;
		snprintf(p, sizeof(p), "/dev/%s", de->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, LOOP_SET_CAPACITY, 0))
			fprintf(stderr, "map-serve: %s: new capacity not set: %s\n", p,
				strerror(errno));
		else
			fprintf(stderr, "map-serve: %s has the new size\n", p);
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
}

/*
 * The kernel's idea of the file's size (what LOOP_SET_CAPACITY reads) is
 * its cached attributes: drop them, then stat until the new size shows
 * (at most the attribute timeout later).
 */
static void refresh_file(uint64_t size)
{
	for (int i = 0; i < 30; i++) {
		struct stat st;

		fuse_lowlevel_notify_inval_inode(S.se, FUSE_ROOT_ID, 0, 0);
		if (!stat(S.file, &st) && (uint64_t)st.st_size == size)
			return;
		nanosleep(&(struct timespec){0, 100000000}, NULL);
	}
	fprintf(stderr, "map-serve: %s does not show the new size yet\n", S.file);
}

static void *refresher(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&S.changed) && errno == EINTR)
			;
		if (atomic_load(&S.stopping))
			return NULL;
		refresh_file(atomic_load(&S.size));
		refresh_loops();
	}
}

/* On the I/O thread, between turns: re-read the namespace after an event. */
static void rescan(void)
{
	uint64_t old, size;
	int rc;

	atomic_store(&S.rescan, false);
	rc = fq_ctrlr_rescan_ns(S.ctrlr);
	if (rc) {
		fprintf(stderr, "map-serve: namespace rescan: %s\n", strerror(-rc));
		return;
	}
	size = fq_ns_get_size(S.ns);
	old = atomic_exchange(&S.size, size);
	if (size == old)
		return;
	fprintf(stderr, "map-serve: namespace %u resized from %llu to %llu bytes\n", S.nsid,
		(unsigned long long)old, (unsigned long long)size);
	sem_post(&S.changed);
}

/* ------------------------------------------------------------------ */
/* FUSE requests                                                       */
/* ------------------------------------------------------------------ */

/*
 * Answers, to /dev/fuse through libfuse (@freq) or through the ring entry
 * the request came in (@ent, map_ring.c): the same handlers serve both.
 */
static void answer_err(fuse_req_t freq, struct map_ring_ent *ent, int err)
{
	if (ent)
		map_ring_reply(ent, err, NULL, 0);
	else
		fuse_reply_err(freq, err);
}

static void answer_buf(fuse_req_t freq, struct map_ring_ent *ent, const void *buf, size_t len)
{
	if (ent)
		map_ring_reply(ent, 0, buf, (uint32_t)len);
	else
		fuse_reply_buf(freq, buf, len);
}

static void answer_write(fuse_req_t freq, struct map_ring_ent *ent, size_t len)
{
	struct fuse_write_out wo = {.size = (uint32_t)len};

	if (ent)
		map_ring_reply(ent, 0, &wo, sizeof(wo));
	else
		fuse_reply_write(freq, len);
}

static void fill_attr(struct stat *st)
{
	uint64_t size = atomic_load(&S.size);

	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blksize = S.sector;
	st->st_blocks = (blkcnt_t)(size / 512);
	st->st_uid = getuid();
	st->st_gid = getgid();
}

/* The file's attributes, valid for a second (as fuse_reply_attr gives them). */
static void answer_attr(fuse_req_t freq, struct map_ring_ent *ent)
{
	struct fuse_attr_out ao = {.attr_valid = 1};
	struct stat st;

	fill_attr(&st);
	if (!ent) {
		fuse_reply_attr(freq, &st, 1.0);
		return;
	}
	ao.attr.ino = st.st_ino;
	ao.attr.size = (uint64_t)st.st_size;
	ao.attr.blocks = (uint64_t)st.st_blocks;
	ao.attr.mode = st.st_mode;
	ao.attr.nlink = (uint32_t)st.st_nlink;
	ao.attr.uid = st.st_uid;
	ao.attr.gid = st.st_gid;
	ao.attr.blksize = (uint32_t)st.st_blksize;
	map_ring_reply(ent, 0, &ao, sizeof(ao));
}

/*
 * One FUSE request in flight. Unaligned pieces go through an aligned
 * buffer of its own: read the whole sectors, and for a write modify them
 * and write them back (the loop device only ever sends whole sectors). An
 * aligned request that came through the ring uses the entry's payload
 * buffer itself: a write's data is already there, and a read's data is
 * placed where the reply goes. A punched hole is deallocated 65536
 * sectors at a time.
 */
struct req {
	struct map_cmd cmd;
	fuse_req_t freq;
	struct map_ring_ent *ent;
	enum { R_READ, R_WRITE, R_FSYNC, R_PUNCH } kind;
	uint64_t start;	  /* byte offset asked */
	size_t size;	  /* bytes asked */
	uint64_t a0;	  /* start rounded down to a sector */
	uint64_t end_lba; /* R_PUNCH: the sector after the hole */
	char *user;	  /* unaligned write: the user's bytes (after the buffer) */
	char data[];	  /* the aligned buffer, unless the ring's payload is used */
};

static void req_reply(struct req *r, int rc)
{
	if (rc)
		answer_err(r->freq, r->ent, -rc);
	else if (r->kind == R_READ)
		answer_buf(r->freq, r->ent, (char *)r->cmd.buf + (r->start - r->a0), r->size);
	else if (r->kind == R_WRITE)
		answer_write(r->freq, r->ent, r->size);
	else
		answer_err(r->freq, r->ent, 0);
	free(r);
}

/* A command of @r is done: start its next one, or answer FUSE. */
static void req_step(struct map_cmd *c, int rc)
{
	struct req *r = (struct req *)c;

	if (rc) {
		req_reply(r, rc);
		return;
	}
	if (r->kind == R_WRITE && r->cmd.op == MAP_READ) {
		memcpy((char *)r->cmd.buf + (r->start - r->a0), r->user, r->size);
		r->cmd.op = MAP_WRITE;
		map_io_submit(&r->cmd);
		return;
	}
	if (r->kind == R_PUNCH && r->cmd.lba + r->cmd.nlb < r->end_lba) {
		uint64_t left;

		r->cmd.lba += r->cmd.nlb;
		left = r->end_lba - r->cmd.lba;
		r->cmd.nlb = left > 65536 ? 65536 : (uint32_t)left;
		map_io_submit(&r->cmd);
		return;
	}
	req_reply(r, 0);
}

/*
 * A read or write of @size bytes at @off, clamped to the volume's size.
 * @wbuf: a write's data. @ring_buf (@cap bytes): the ring entry's payload,
 * which an aligned request uses as its buffer; NULL through /dev/fuse.
 */
static void rw(fuse_req_t freq, struct map_ring_ent *ent, bool write, const char *wbuf, size_t size,
	       uint64_t off, void *ring_buf, size_t cap)
{
	uint64_t vsize = atomic_load(&S.size), start = off, a0, a1;
	bool aligned, in_place;
	struct req *r;

	if (!size) {
		if (write)
			answer_write(freq, ent, 0);
		else
			answer_buf(freq, ent, NULL, 0);
		return;
	}
	if (start >= vsize) {
		if (write)
			answer_err(freq, ent, ENOSPC);
		else
			answer_buf(freq, ent, NULL, 0);
		return;
	}
	if (size > vsize - start)
		size = (size_t)(vsize - start);
	a0 = start / S.sector * S.sector;
	a1 = (start + size + S.sector - 1) / S.sector * S.sector;
	aligned = a0 == start && a1 == start + size;
	in_place = aligned && ring_buf && a1 - a0 <= cap;
	r = malloc(sizeof(*r) + (in_place ? 0 : (size_t)(a1 - a0)) +
		   (write && !aligned ? size : 0));
	if (!r) {
		answer_err(freq, ent, ENOMEM);
		return;
	}
	r->freq = freq;
	r->ent = ent;
	r->kind = write ? R_WRITE : R_READ;
	r->start = start;
	r->size = size;
	r->a0 = a0;
	r->cmd.buf = in_place ? ring_buf : r->data;
	r->cmd.lba = a0 / S.sector;
	r->cmd.nlb = (uint32_t)((a1 - a0) / S.sector);
	r->cmd.done = req_step;
	r->cmd.op = write && aligned ? MAP_WRITE : MAP_READ;
	if (write && aligned && !in_place) {
		memcpy(r->data, wbuf, size);
	} else if (write && !aligned) {
		r->user = r->data + (a1 - a0);
		memcpy(r->user, wbuf, size);
	}
	map_io_submit(&r->cmd);
}

/* Only the size may be "set", to what it is: the volume's size is the target's. */
static void setattr(fuse_req_t freq, struct map_ring_ent *ent, int to_set, uint64_t size)
{
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
		       FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME)) {
		answer_err(freq, ent, ENOSYS);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && size != atomic_load(&S.size)) {
		answer_err(freq, ent, EPERM);
		return;
	}
	answer_attr(freq, ent);
}

static void do_fsync(fuse_req_t freq, struct map_ring_ent *ent)
{
	struct req *r = calloc(1, sizeof(*r));

	if (!r) {
		answer_err(freq, ent, ENOMEM);
		return;
	}
	r->freq = freq;
	r->ent = ent;
	r->kind = R_FSYNC;
	r->cmd.op = MAP_FLUSH;
	r->cmd.done = req_step;
	map_io_submit(&r->cmd);
}

/* Punching a hole deallocates the whole sectors inside it (the loop device's discard). */
static void do_fallocate(fuse_req_t freq, struct map_ring_ent *ent, int mode, uint64_t off,
			 uint64_t len)
{
	uint64_t a0 = (off + S.sector - 1) / S.sector;
	uint64_t a1 = (off + len) / S.sector;
	struct req *r;

	if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
		answer_err(freq, ent, mode ? EOPNOTSUPP : 0); /* the whole size is there already */
		return;
	}
	if (a0 >= a1) {
		answer_err(freq, ent, 0); /* no whole sector inside */
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		answer_err(freq, ent, ENOMEM);
		return;
	}
	r->freq = freq;
	r->ent = ent;
	r->kind = R_PUNCH;
	r->end_lba = a1;
	r->cmd.op = MAP_DEALLOC;
	r->cmd.lba = a0;
	r->cmd.nlb = a1 - a0 > 65536 ? 65536 : (uint32_t)(a1 - a0);
	r->cmd.done = req_step;
	map_io_submit(&r->cmd);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/*
	 * The loop device's direct I/O reaches FUSE as asynchronous requests,
	 * which the kernel counts as background requests: 12 by default, too
	 * few for a queue depth of 32 and more.
	 */
	conn->max_background = MAP_MAX_BACKGROUND;
	conn->congestion_threshold = MAP_MAX_BACKGROUND * 3 / 4;
	/*
	 * Every ring entry holds the largest request in its payload buffer:
	 * 128 KiB (the kernel's default request size) rather than libfuse's
	 * 1 MiB keeps the ring at MAP_RING_ENTRIES x 128 KiB per CPU.
	 */
	if (S.ring_mode != RING_NO && conn->max_write > MAP_RING_MAX_WRITE)
		conn->max_write = MAP_RING_MAX_WRITE;
	write_state("live");
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino != FUSE_ROOT_ID)
		fuse_reply_err(req, ENOENT);
	else
		answer_attr(req, NULL);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	setattr(req, NULL, to_set, (uint64_t)attr->st_size);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* No page cache here: the loop device above has its own, and data must reach the target. */
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	rw(req, NULL, false, NULL, size, (uint64_t)off, NULL, 0);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	rw(req, NULL, true, buf, size, (uint64_t)off, NULL, 0);
}

/* close(), not a durability point: fsync is. */
static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	do_fsync(req, NULL);
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	do_fallocate(req, NULL, mode, (uint64_t)off, (uint64_t)len);
}

/* libfuse's setattr bits are the protocol's (fuse_lowlevel.c, do_setattr). */
static_assert(FUSE_SET_ATTR_SIZE == FATTR_SIZE && FUSE_SET_ATTR_ATIME == FATTR_ATIME &&
		      FUSE_SET_ATTR_MTIME == FATTR_MTIME &&
		      FUSE_SET_ATTR_ATIME_NOW == FATTR_ATIME_NOW &&
		      FUSE_SET_ATTR_MTIME_NOW == FATTR_MTIME_NOW &&
		      FUSE_SET_ATTR_CTIME == FATTR_CTIME,
	      "FUSE_SET_ATTR_* and FATTR_*");

/*
 * A request that came through the ring: the same handlers as libfuse's
 * callbacks above, with the entry to answer. Only the operations this file
 * offers come: the rest are refused the way libfuse refuses them.
 */
static void ring_request(struct map_ring_ent *e, const struct fuse_in_header *in, const void *op_in,
			 void *payload, uint32_t len, size_t cap)
{
	S.ring_reqs++;
	switch (in->opcode) {
	case FUSE_READ: {
		const struct fuse_read_in *ri = op_in;

		rw(NULL, e, false, NULL, ri->size, ri->offset, payload, cap);
		return;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *wi = op_in;

		if (wi->size > len)
			answer_err(NULL, e, EINVAL);
		else
			rw(NULL, e, true, payload, wi->size, wi->offset, payload, cap);
		return;
	}
	case FUSE_GETATTR:
		if (in->nodeid != FUSE_ROOT_ID)
			answer_err(NULL, e, ENOENT);
		else
			answer_attr(NULL, e);
		return;
	case FUSE_SETATTR: {
		const struct fuse_setattr_in *sa = op_in;
		int keep = FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
			   FATTR_MTIME_NOW | FATTR_CTIME | FATTR_MODE | FATTR_UID | FATTR_GID;

		setattr(NULL, e, (int)(sa->valid & (uint32_t)keep), sa->size);
		return;
	}
	case FUSE_OPEN: {
		struct fuse_open_out oo = {.open_flags = FOPEN_DIRECT_IO};

		if (in->nodeid != FUSE_ROOT_ID)
			answer_err(NULL, e, ENOENT);
		else
			map_ring_reply(e, 0, &oo, sizeof(oo));
		return;
	}
	case FUSE_FLUSH:
	case FUSE_RELEASE:
		answer_err(NULL, e, 0);
		return;
	case FUSE_FSYNC:
		do_fsync(NULL, e);
		return;
	case FUSE_FALLOCATE: {
		const struct fuse_fallocate_in *fa = op_in;

		do_fallocate(NULL, e, (int)fa->mode, fa->offset, fa->length);
		return;
	}
	default:
		answer_err(NULL, e, ENOSYS);
		return;
	}
}

static const struct fuse_lowlevel_ops ll_ops = {
	.init = ll_init,
	.getattr = ll_getattr,
	.setattr = ll_setattr,
	.open = ll_open,
	.read = ll_read,
	.write = ll_write,
	.flush = ll_flush,
	.release = ll_release,
	.fsync = ll_fsync,
	.fallocate = ll_fallocate,
};

/* ------------------------------------------------------------------ */
/* The I/O thread                                                      */
/* ------------------------------------------------------------------ */

/* The FUSE device has a request, or an error the next read reports (unmounted). */
static void on_fuse_ready(struct fq_loop *l, struct fq_fd_watch *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	S.fuse_ready = true;
}

/* SIGTERM or SIGINT (blocked in every thread, read from the signalfd) stops the process. */
static void on_signal(struct fq_loop *l, struct fq_fd_watch *w, int revents)
{
	struct signalfd_siginfo si;

	if (read(S.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		fprintf(stderr, "map-serve: signal %u, stopping\n", si.ssi_signo);
		atomic_store(&S.stopping, true);
		return;
	}
	if (revents < 0 || fq_loop_watch_fd(l, w, S.sig_fd, POLLIN))
		fprintf(stderr, "map-serve: SIGTERM and SIGINT are no longer watched\n");
}

/*
 * Read and dispatch what the FUSE device holds, up to a batch; a read that
 * finds it empty clears S.fuse_ready. Return: the number of requests, or
 * -1 once the file is no longer mounted.
 */
static int read_requests(struct fuse_buf *fbuf)
{
	int n = 0;

	while (n < MAP_READ_BATCH) {
		int rc = fuse_session_receive_buf(S.se, fbuf);

		if (rc == -EAGAIN) {
			S.fuse_ready = false;
			break;
		}
		if (rc == -EINTR)
			continue;
		if (rc <= 0 || fuse_session_exited(S.se))
			return -1;
		fuse_session_process_buf(S.se, fbuf);
		S.dev_reqs++;
		n++;
	}
	return n;
}

/* The ring has requests (or the connection went away): its watch fired. */
static void on_ring_ready(struct fq_loop *l, struct fq_fd_watch *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* After the INIT reply went out with the ring offered: register the ring's entries. */
static void ring_begin(void)
{
	int rc;

	S.ring_init_sent = false;
	rc = map_ring_start(S.fuse_fd, MAP_RING_ENTRIES, ring_request);
	if (rc)
		fprintf(stderr,
			"map-serve: FUSE over io_uring not started (%s): requests come through "
			"/dev/fuse\n",
			strerror(-rc));
	else
		fprintf(stderr,
			"map-serve: FUSE requests come through io_uring (%u entries of %zu KiB)\n",
			map_ring_live(), map_ring_payload_size() >> 10);
	write_state(NULL);
}

/* Turn the loop and serve FUSE until the file is unmounted or a signal stops us. */
static void serve_loop(void)
{
	struct fuse_buf fbuf = {.mem = NULL};
	int rc;

	S.fuse_ready = true;
	S.fuse_watch.fn = on_fuse_ready;
	S.sig_watch.fn = on_signal;
	S.ring_watch.fn = on_ring_ready;
	rc = fq_loop_watch_fd(S.loop, &S.sig_watch, S.sig_fd, POLLIN);
	if (rc)
		fprintf(stderr, "map-serve: SIGTERM and SIGINT not watched: %s\n", strerror(-rc));
	while (!atomic_load(&S.stopping)) {
		int64_t wait = -1;
		int n = 0;

		if (S.fuse_ready) {
			n = read_requests(&fbuf);
			if (n < 0)
				break;
		}
		if (S.ring_init_sent)
			ring_begin();
		if (map_ring_fd() >= 0) {
			rc = map_ring_service();
			if (rc > 0)
				n += rc;
		}
		if (!S.fuse_ready && !fq_fd_watch_armed(&S.fuse_watch)) {
			rc = fq_loop_watch_fd(S.loop, &S.fuse_watch, S.fuse_fd, POLLIN);
			if (rc) { /* no watch: look at the device again in a millisecond */
				S.fuse_ready = true;
				wait = 1000000;
			}
		}
		/* An idle ring wakes the loop when a request arrives (map_ring.c). */
		if (!n && map_ring_live() && !fq_fd_watch_armed(&S.ring_watch) &&
		    fq_loop_watch_fd(S.loop, &S.ring_watch, map_ring_fd(), POLLIN))
			wait = 1000000;
		if (atomic_load(&S.rescan))
			rescan();
		map_io_service();
		/* Replies queued since the last turn leave before this one sleeps. */
		map_ring_flush();
		/*
		 * Requests just queued: send them now, and take what came
		 * back. Otherwise sleep in the loop until a completion, a
		 * timer or a watch (the FUSE device, the ring).
		 */
		rc = fq_loop_turn(S.loop, n > 0 ? 0 : wait);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "map-serve: loop: %s\n", strerror(-rc));
			break;
		}
	}
	fq_loop_unwatch_fd(S.loop, &S.fuse_watch);
	fq_loop_unwatch_fd(S.loop, &S.sig_watch);
	fq_loop_unwatch_fd(S.loop, &S.ring_watch);
	free(fbuf.mem);
}

/*
 * libfuse reads and writes /dev/fuse through these, so that the INIT
 * reply can offer FUSE over io_uring (map_ring.c); all else passes as is.
 */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (n >= (ssize_t)sizeof(*in) && in->opcode == FUSE_INIT)
		S.init_unique = in->unique;
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	bool init = false;
	ssize_t n;

	(void)userdata;
	if (S.ring_offered || !S.init_unique || oh->unique != S.init_unique)
		return writev(fd, iov, count);
	init = map_ring_amend_init(iov, count);
	n = writev(fd, iov, count);
	if (init) {
		S.ring_offered = true;
		/* The kernel took the reply inside this writev: the ring may register now. */
		S.ring_init_sent = n >= 0;
	}
	return n;
}

static void on_hup(int sig)
{
	(void)sig; /* interrupts sleeps; the controller reconnects on its own policy */
}

/* Mount the file and serve it; returns once it is unmounted or on a signal. */
static int serve(const char *file)
{
	char *fargv[] = {(char *)"fabriq-map", (char *)"-o", (char *)"fsname=fabriq,subtype=fabriq",
			 NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	pthread_t rth;
	bool have_r;
	sigset_t sigs;
	int rc = 0;

	S.se = fuse_session_new(&args, &ll_ops, sizeof(ll_ops), NULL);
	if (!S.se) {
		fprintf(stderr, "map-serve: FUSE session not created\n");
		return -ENOMEM;
	}
	if (fuse_session_mount(S.se, file)) {
		fprintf(stderr, "map-serve: %s: FUSE mount failed\n", file);
		fuse_session_destroy(S.se);
		return -EIO;
	}
	S.fuse_fd = fuse_session_fd(S.se);
	fcntl(S.fuse_fd, F_SETFL, fcntl(S.fuse_fd, F_GETFL) | O_NONBLOCK);
	if (S.ring_mode != RING_NO) {
		static const struct fuse_custom_io io = {.writev = io_writev, .read = io_read};

		/* The same descriptor: libfuse keeps the mount for the unmount. */
		if (fuse_session_custom_io(S.se, &io, S.fuse_fd))
			fprintf(stderr, "map-serve: libfuse takes no custom I/O: FUSE over "
					"io_uring not offered\n");
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	S.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (S.sig_fd < 0) {
		fprintf(stderr, "map-serve: signalfd: %s\n", strerror(errno));
		rc = -errno;
	} else {
		have_r = !pthread_create(&rth, NULL, refresher, NULL);
		serve_loop();
		atomic_store(&S.stopping, true);
		if (have_r) {
			sem_post(&S.changed);
			pthread_join(rth, NULL);
		}
	}
	/* Commands still in flight fail now; FUSE gets EIO for them. */
	map_io_fini();
	map_ring_flush();
	fuse_session_unmount(S.se);
	map_ring_stop();
	fprintf(stderr, "map-serve: %llu FUSE requests through /dev/fuse, %llu through io_uring\n",
		(unsigned long long)S.dev_reqs, (unsigned long long)S.ring_reqs);
	fuse_session_destroy(S.se);
	if (S.sig_fd >= 0)
		close(S.sig_fd);
	return rc;
}

int map_serve_main(int argc, char **argv)
{
	static const struct option lo[] = {{"trid", required_argument, 0, 't'},
					   {"nsid", required_argument, 0, 'n'},
					   {"file", required_argument, 0, 'f'},
					   {"state", required_argument, 0, 's'},
					   {"hostnqn", required_argument, 0, 'H'},
					   {"io-timeout", required_argument, 0, 'T'},
					   {"no-sqflow", no_argument, 0, 'Q'},
					   {"fuse-ring", required_argument, 0, 'R'},
					   {0, 0, 0, 0}};
	const char *trid_s = NULL, *file = NULL, *hostnqn = NULL;
	struct fq_ctrlr_opts co;
	struct fq_trid trid;
	bool no_sqflow = false;
	sigset_t sigs;
	uint32_t nqp;
	int opt, rc;

	S.nsid = 1;
	S.io_timeout_s = 60;
	S.ring_mode = RING_AUTO;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			trid_s = optarg;
			break;
		case 'n':
			S.nsid = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			S.state_path = optarg;
			break;
		case 'H':
			hostnqn = optarg;
			break;
		case 'T':
			S.io_timeout_s = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'Q':
			no_sqflow = true;
			break;
		case 'R':
			if (!strcmp(optarg, "no"))
				S.ring_mode = RING_NO;
			else if (!strcmp(optarg, "auto"))
				S.ring_mode = RING_AUTO;
			else if (!strcmp(optarg, "yes"))
				S.ring_mode = RING_YES;
			else {
				fprintf(stderr, "map-serve: --fuse-ring takes auto, yes or no\n");
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (!trid_s || !file || !S.state_path || fq_trid_parse(&trid, trid_s)) {
		fprintf(stderr, "map-serve: needs --trid, --file and --state\n");
		return EXIT_USAGE;
	}
	if (!realpath(file, S.file)) {
		fprintf(stderr, "map-serve: %s: %s\n", file, strerror(errno));
		return EXIT_USAGE;
	}
	if (S.ring_mode != RING_NO) {
		const char *why;

		if (map_ring_available(S.ring_mode == RING_YES, &why) <= 0) {
			if (S.ring_mode == RING_YES) {
				fprintf(stderr, "map-serve: FUSE over io_uring asked for, but %s\n",
					why);
				write_state("failed");
				return EXIT_LOCAL_IO;
			}
			fprintf(stderr, "map-serve: FUSE requests come through /dev/fuse: %s\n",
				why);
			S.ring_mode = RING_NO;
		}
	}
	sem_init(&S.changed, 0, 0);
	signal(SIGHUP, on_hup);
	/* SIGTERM and SIGINT are read from a signalfd the I/O thread watches; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rc = fq_loop_create(NULL, &S.loop);
	if (rc) {
		fprintf(stderr, "map-serve: loop: %s\n", strerror(-rc));
		write_state("failed");
		return EXIT_LOCAL_IO;
	}
	fq_ctrlr_opts_init(&co, sizeof(co));
	if (hostnqn)
		snprintf(co.hostnqn, sizeof(co.hostnqn), "%s", hostnqn);
	co.state_cb = on_state;
	co.aer_cb = on_aer;
	co.ctrl_loss_timeout_ms = -1; /* keep reconnecting: the mapping outlives outages */
	co.num_io_queues = MAP_QPAIRS;
	co.loop = S.loop; /* this thread runs the controller and its qpairs */
	/*
	 * Where the discovery log allows it (`fabriq map` passes --no-sqflow),
	 * the target may then complete a read with its last data PDU instead
	 * of a separate response capsule: one PDU less to send and parse per read.
	 */
	co.disable_sqflow = no_sqflow;
	rc = fq_ctrlr_connect(&trid, &co, &S.ctrlr);
	if (rc) {
		fprintf(stderr, "map-serve: connect %s: %s\n", trid_s, fq_last_error());
		write_state("failed");
		fq_loop_destroy(S.loop);
		return EXIT_CONNECT;
	}
	S.ns = fq_ctrlr_get_ns(S.ctrlr, S.nsid);
	nqp = fq_ctrlr_get_num_io_queues(S.ctrlr);
	rc = !S.ns ? -ENOENT : !nqp ? -ENOSPC : 0;
	if (rc == -ENOENT)
		fprintf(stderr, "map-serve: %s has no namespace %u\n", trid.subnqn, S.nsid);
	else if (rc)
		fprintf(stderr, "map-serve: the controller granted no I/O queue\n");
	else if ((rc = map_io_init(S.loop, S.ctrlr, S.ns, nqp > MAP_QPAIRS ? MAP_QPAIRS : nqp,
				   S.io_timeout_s)))
		fprintf(stderr, "map-serve: no I/O qpair: %s\n", fq_last_error());
	if (rc) {
		map_io_fini();
		fq_ctrlr_disconnect(S.ctrlr);
		fq_loop_destroy(S.loop);
		write_state("failed");
		return rc == -ENOENT ? EXIT_NVME : EXIT_CONNECT;
	}
	S.sector = fq_ns_get_sector_size(S.ns);
	S.size = fq_ns_get_size(S.ns);
	fprintf(stderr, "map-serve: %s namespace %u, %llu bytes, serving %s\n", trid.subnqn, S.nsid,
		(unsigned long long)S.size, file);
	rc = serve(file);
	fq_ctrlr_disconnect(S.ctrlr);
	fq_loop_destroy(S.loop);
	write_state("stopped");
	fprintf(stderr, "map-serve: stopped\n");
	return rc ? EXIT_LOCAL_IO : EXIT_OK;
}
