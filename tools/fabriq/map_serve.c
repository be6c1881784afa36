/* SPDX-License-Identifier: MIT */
/*
 * `fabriq map --via user`, the serving half: one process per mapped volume
 * that holds an NVMe/TCP controller and serves the namespace as a single
 * regular file through FUSE (mounted on the file itself), so that a loop
 * device can be attached to it. `fabriq map` starts it (the hidden verb
 * `map-serve`) in the background with its log next to the file.
 *
 * FUSE runs its multi-threaded loop over a set of I/O qpairs (as many as
 * the controller grants, up to 16), so the loop device's queue depth
 * reaches the target.
 * While the controller reconnects (target restarted, network gone), I/O is
 * retried every 100 ms for up to io_timeout seconds before it fails with
 * EIO, the way a kernel host holds I/O for ctrl-loss-tmo; nothing written
 * is reported done before the target answered it.
 *
 * A resize of the volume reaches the host as a Namespace Attribute Changed
 * event (NVMe Base 2.0 §5.2.2, notice 00h): a thread re-reads the
 * namespace, gives the file its new size and tells the loop devices on it
 * (LOOP_SET_CAPACITY), so the mapped device grows without a remap.
 *
 * The process writes its state ("live", "reconnecting", "failed") to the
 * state file whenever the controller's state changes; SIGHUP is a no-op
 * wake-up that `fabriq remap` sends before it waits for "live".
 */
#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <dirent.h>
#include <linux/falloc.h>
#include <linux/loop.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <semaphore.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "map.h"

#define RETRY_NS 100000000ull

/*
 * I/O qpairs: as many as the controller granted (up to MAX_QP), shared by
 * the FUSE worker threads. A qpair is used by one thread at a time (its
 * lock); each thread starts at its own slot and takes the first free one.
 */
#define MAX_QP 16
/* FUSE background requests in flight (see fs_init). */
#define MAP_MAX_BACKGROUND 128

struct qp_slot {
	pthread_mutex_t lock;
	struct fq_qpair *qp;
};

static struct serve {
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	uint32_t nsid;
	uint32_t sector;
	_Atomic uint64_t size; /* changes when the volume is resized */
	uint32_t io_timeout_s;
	const char *state_path;
	char file[MAP_PATH_MAX]; /* the served file, as the loop devices name it */
	struct fuse *fuse;
	sem_t changed; /* posted by the async event callback */
	atomic_bool stopping;
	uint32_t nqp;
	struct qp_slot slot[MAX_QP];
	atomic_uint next_slot;
} S;

static __thread int tls_slot = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_state(const char *state)
{
	char tmp[MAP_PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", S.state_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n", state);
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

/* Lock a qpair slot for this thread; its qpair is connected on first use. */
static struct qp_slot *take_slot(void)
{
	struct qp_slot *s = NULL;

	if (tls_slot < 0)
		tls_slot = (int)(atomic_fetch_add(&S.next_slot, 1) % S.nqp);
	for (uint32_t i = 0; i < S.nqp && !s; i++)
		if (!pthread_mutex_trylock(&S.slot[(tls_slot + i) % S.nqp].lock))
			s = &S.slot[(tls_slot + i) % S.nqp];
	if (!s) {
		s = &S.slot[tls_slot];
		pthread_mutex_lock(&s->lock);
	}
	if (s->qp && fq_qpair_get_state(s->qp) == FQ_QPAIR_FAILED) {
		fq_qpair_free(s->qp);
		s->qp = NULL;
	}
	/* After a controller reset a qpair reconnects when it is polled. */
	if (s->qp && fq_qpair_get_state(s->qp) != FQ_QPAIR_LIVE)
		fq_qpair_process_completions(s->qp, 0);
	if (!s->qp) {
		struct fq_qpair_opts o;

		fq_qpair_opts_init(&o, sizeof(o));
		if (fq_ctrlr_alloc_io_qpair(S.ctrlr, &o, &s->qp))
			s->qp = NULL;
	}
	return s;
}

/* Retry what failed for want of a connection, up to io_timeout. */
static bool transient(int rc, const struct fq_cpl *cpl)
{
	if (rc == -ENXIO || rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT ||
	    rc == -ESHUTDOWN || rc == -ENOTCONN || rc == -EAGAIN)
		return true;
	/* Path errors (SCT 3) and Namespace Not Ready are retryable by definition. */
	return rc == -EIO && cpl && !(cpl->status & 0x8000) /* DNR */ &&
	       (fq_cpl_sct(cpl) == 3 || (fq_cpl_sct(cpl) == 0 && fq_cpl_sc(cpl) == 0x82));
}

enum op { OP_READ, OP_WRITE, OP_FLUSH, OP_DEALLOC };

static int do_op(enum op op, void *buf, uint64_t lba, uint32_t nlb)
{
	uint64_t deadline = now_ns() + (uint64_t)S.io_timeout_s * 1000000000ull;
	struct fq_cpl cpl;
	int rc;

	for (;;) {
		struct qp_slot *slot = take_slot();
		struct fq_qpair *qp = slot->qp;

		memset(&cpl, 0, sizeof(cpl));
		if (!qp) {
			rc = -ENXIO;
		} else {
			switch (op) {
			case OP_READ:
				rc = fq_ns_read_sync(S.ns, qp, buf, lba, nlb, &cpl);
				break;
			case OP_WRITE:
				rc = fq_ns_write_sync(S.ns, qp, buf, lba, nlb, 0, &cpl);
				break;
			case OP_FLUSH:
				rc = fq_ns_flush_sync(S.ns, qp, &cpl);
				break;
			default:
				rc = fq_ns_deallocate_sync(S.ns, qp, lba, nlb, &cpl);
				break;
			}
		}
		pthread_mutex_unlock(&slot->lock);
		if (!rc)
			return 0;
		if (!transient(rc, &cpl) || now_ns() >= deadline) {
			char msg[96];

			fprintf(stderr, "map-serve: %s at LBA %llu: %s\n",
				op == OP_READ	 ? "read"
				: op == OP_WRITE ? "write"
				: op == OP_FLUSH ? "flush"
						 : "deallocate",
				(unsigned long long)lba,
				rc == -EIO ? fq_cpl_str(&cpl, msg, sizeof(msg)) : strerror(-rc));
			return -EIO;
		}
		nanosleep(&(struct timespec){0, RETRY_NS}, NULL);
	}
}

/* Async events arrive on the library's thread: only wake the refresher there. */
static void on_aer(void *arg, uint32_t cdw0)
{
	(void)arg;
	/* Type 2h (notice), information 00h: Namespace Attribute Changed. */
	if ((cdw0 & 0x7) == 2 && ((cdw0 >> 8) & 0xff) == 0)
		sem_post(&S.changed);
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

		if (S.fuse)
			fuse_invalidate_path(S.fuse, "/");
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
		uint64_t old, size;
		int rc;

		while (sem_wait(&S.changed) && errno == EINTR)
			;
		if (atomic_load(&S.stopping))
			return NULL;
		rc = fq_ctrlr_rescan_ns(S.ctrlr);
		if (rc) {
			fprintf(stderr, "map-serve: namespace rescan: %s\n", strerror(-rc));
			continue;
		}
		size = fq_ns_get_size(S.ns);
		old = atomic_exchange(&S.size, size);
		if (size == old)
			continue;
		fprintf(stderr, "map-serve: namespace %u resized from %llu to %llu bytes\n", S.nsid,
			(unsigned long long)old, (unsigned long long)size);
		refresh_file(size);
		refresh_loops();
	}
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, "/"))
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)S.size;
	st->st_blksize = S.sector;
	st->st_blocks = (blkcnt_t)(S.size / 512);
	st->st_uid = getuid();
	st->st_gid = getgid();
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/"))
		return -ENOENT;
	/* No page cache here: the loop device above has its own, and data must reach the target. */
	fi->direct_io = 1;
	return 0;
}

/*
 * Unaligned pieces go through a bounce buffer (read, and for writes
 * read-modify-write); the loop device only ever sends whole sectors.
 */
static int rw(bool write, char *buf, size_t size, off_t off)
{
	uint64_t start = (uint64_t)off, end;
	uint64_t a0, a1;
	char *b;
	int rc;

	if (start >= S.size)
		return write ? -ENOSPC : 0;
	if (size > S.size - start)
		size = (size_t)(S.size - start);
	end = start + size;
	if (!(start % S.sector) && !(size % S.sector)) {
		rc = do_op(write ? OP_WRITE : OP_READ, buf, start / S.sector,
			   (uint32_t)(size / S.sector));
		return rc ? rc : (int)size;
	}
	a0 = start / S.sector * S.sector;
	a1 = (end + S.sector - 1) / S.sector * S.sector;
	b = aligned_alloc(4096, (size_t)(a1 - a0 + 4095) / 4096 * 4096);
	if (!b)
		return -ENOMEM;
	rc = do_op(OP_READ, b, a0 / S.sector, (uint32_t)((a1 - a0) / S.sector));
	if (!rc && write) {
		memcpy(b + (start - a0), buf, size);
		rc = do_op(OP_WRITE, b, a0 / S.sector, (uint32_t)((a1 - a0) / S.sector));
	} else if (!rc) {
		memcpy(buf, b + (start - a0), size);
	}
	free(b);
	return rc ? rc : (int)size;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return rw(false, buf, size, off);
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return rw(true, (char *)buf, size, off);
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return do_op(OP_FLUSH, NULL, 0, 0);
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0; /* close(), not a durability point: fsync is */
}

/* Punching a hole deallocates the whole sectors inside it (the loop device's discard). */
static int fs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	uint64_t a0, a1;

	(void)path;
	(void)fi;
	if (!(mode & FALLOC_FL_PUNCH_HOLE))
		return mode ? -EOPNOTSUPP : 0; /* the whole size is there already */
	a0 = ((uint64_t)off + S.sector - 1) / S.sector;
	a1 = ((uint64_t)off + (uint64_t)len) / S.sector;
	while (a0 < a1) {
		uint32_t n = a1 - a0 > 65536 ? 65536 : (uint32_t)(a1 - a0);
		int rc = do_op(OP_DEALLOC, NULL, a0, n);

		if (rc)
			return rc;
		a0 += n;
	}
	return 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return (uint64_t)size == S.size ? 0 : -EPERM; /* the volume's size is the target's */
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/*
	 * The loop device's direct I/O reaches FUSE as asynchronous requests,
	 * which the kernel counts as background requests: 12 by default, too
	 * few for a queue depth of 32 and more across 16 qpairs.
	 */
	conn->max_background = MAP_MAX_BACKGROUND;
	conn->congestion_threshold = MAP_MAX_BACKGROUND * 3 / 4;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->attr_timeout = 1.0;
	S.fuse = fuse_get_context()->fuse;
	write_state("live");
	return NULL;
}

static const struct fuse_operations ops = {
	.getattr = fs_getattr,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.fsync = fs_fsync,
	.flush = fs_flush,
	.fallocate = fs_fallocate,
	.truncate = fs_truncate,
	.init = fs_init,
};

static void on_hup(int sig)
{
	(void)sig; /* interrupts sleeps; the controller reconnects on its own policy */
}

int map_serve_main(int argc, char **argv)
{
	static const struct option lo[] = {{"trid", required_argument, 0, 't'},
					   {"nsid", required_argument, 0, 'n'},
					   {"file", required_argument, 0, 'f'},
					   {"state", required_argument, 0, 's'},
					   {"hostnqn", required_argument, 0, 'H'},
					   {"io-timeout", required_argument, 0, 'T'},
					   {0, 0, 0, 0}};
	const char *trid_s = NULL, *file = NULL, *hostnqn = NULL;
	struct fq_ctrlr_opts co;
	struct fq_trid trid;
	int opt, rc;

	S.nsid = 1;
	S.io_timeout_s = 60;
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
	sem_init(&S.changed, 0, 0);
	signal(SIGHUP, on_hup);
	fq_ctrlr_opts_init(&co, sizeof(co));
	if (hostnqn)
		snprintf(co.hostnqn, sizeof(co.hostnqn), "%s", hostnqn);
	co.state_cb = on_state;
	co.aer_cb = on_aer;
	co.ctrl_loss_timeout_ms = -1; /* keep reconnecting: the mapping outlives outages */
	co.num_io_queues = MAX_QP;
	rc = fq_ctrlr_connect(&trid, &co, &S.ctrlr);
	if (rc) {
		fprintf(stderr, "map-serve: connect %s: %s\n", trid_s, fq_last_error());
		write_state("failed");
		return EXIT_CONNECT;
	}
	S.ns = fq_ctrlr_get_ns(S.ctrlr, S.nsid);
	if (!S.ns) {
		fprintf(stderr, "map-serve: %s has no namespace %u\n", trid.subnqn, S.nsid);
		fq_ctrlr_disconnect(S.ctrlr);
		write_state("failed");
		return EXIT_NVME;
	}
	S.nqp = fq_ctrlr_get_num_io_queues(S.ctrlr);
	if (S.nqp > MAX_QP)
		S.nqp = MAX_QP;
	if (!S.nqp) {
		fprintf(stderr, "map-serve: the controller granted no I/O queue\n");
		fq_ctrlr_disconnect(S.ctrlr);
		write_state("failed");
		return EXIT_CONNECT;
	}
	for (uint32_t i = 0; i < S.nqp; i++)
		pthread_mutex_init(&S.slot[i].lock, NULL);
	S.sector = fq_ns_get_sector_size(S.ns);
	S.size = fq_ns_get_size(S.ns);
	fprintf(stderr, "map-serve: %s namespace %u, %llu bytes, serving %s\n", trid.subnqn, S.nsid,
		(unsigned long long)S.size, file);
	{
		char *fargv[] = {
			(char *)"fabriq-map", (char *)"-f",
			(char *)"-o",	      (char *)"fsname=fabriq,subtype=fabriq,max_threads=16",
			(char *)file,	      NULL};

		pthread_t th;
		bool have_th = !pthread_create(&th, NULL, refresher, NULL);

		rc = fuse_main(5, fargv, &ops, NULL);
		atomic_store(&S.stopping, true);
		if (have_th) {
			sem_post(&S.changed);
			pthread_join(th, NULL);
		}
	}
	for (uint32_t i = 0; i < S.nqp; i++)
		if (S.slot[i].qp)
			fq_qpair_free(S.slot[i].qp);
	fq_ctrlr_disconnect(S.ctrlr);
	write_state("stopped");
	fprintf(stderr, "map-serve: stopped\n");
	return rc ? EXIT_LOCAL_IO : EXIT_OK;
}
