/* SPDX-License-Identifier: MIT */
/*
 * File backend opening: create or extend a regular file, size a block
 * device, and learn the O_DIRECT and discard abilities of what is behind it.
 */
#include "bdev/bdev.h"
#include "bdev/backend.h"
#include "bdev/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*
 * Make the missing parent directories of @path (like mkdir -p), so that a
 * configuration naming /var/lib/fabriq/ns.img works on a fresh machine.
 * *made counts the directories created, the deepest last, so a failed start
 * can remove them again.
 */
static int make_parents(const char *path, int *made, char *err, size_t errlen)
{
	char *dir;
	int rc = 0;

	*made = 0;
	if (strlen(path) >= PATH_MAX) {
		fq_bdev_errf(err, errlen, "file %s: path too long", path);
		return -ENAMETOOLONG;
	}
	dir = strdup(path);
	if (!dir) {
		fq_bdev_errf(err, errlen, "file %s: out of memory", path);
		return -ENOMEM;
	}
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (!mkdir(dir, 0700)) {
			(*made)++;
		} else if (errno != EEXIST) {
			rc = -errno;
			fq_bdev_errf(err, errlen,
				     "file %s: cannot create its directory %s: %s (create it, or "
				     "choose a path in a writable directory)",
				     path, dir, strerror(-rc));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Remove the file this open created and the directories made for it. */
void fq_bdev_file_discard(struct fq_bdev *bdev)
{
	struct file_bdev *f = bdev->priv;
	char *slash;

	if (!f || !f->created_path)
		return;
	unlink(f->created_path);
	for (int i = 0; i < f->created_dirs; i++) {
		slash = strrchr(f->created_path, '/');
		if (!slash || slash == f->created_path)
			break;
		*slash = '\0';
		if (rmdir(f->created_path))
			break; /* not empty: something else lives there now */
	}
}

/*
 * Open (or create, with O_EXCL so we know we did) the file. *created tells
 * the caller to remove it again if the rest of the setup fails; *dirs counts
 * the parent directories made for it.
 */
static int file_open_fd(const struct fq_bdev_opts *opts, bool *created, int *dirs, char *err,
			size_t errlen)
{
	int flags = O_RDWR | O_CLOEXEC | (opts->direct ? O_DIRECT : 0);
	int fd, rc;

	*created = false;
	*dirs = 0;
	if (opts->create && opts->size) {
		fd = open(opts->path, flags | O_CREAT | O_EXCL, 0600);
		if (fd < 0 && errno == ENOENT) {
			rc = make_parents(opts->path, dirs, err, errlen);
			if (rc)
				return rc;
			fd = open(opts->path, flags | O_CREAT | O_EXCL, 0600);
		}
		if (fd >= 0) {
			*created = true;
			return fd;
		}
		if (errno != EEXIST)
			goto fail;
	}
	fd = open(opts->path, flags);
	if (fd >= 0)
		return fd;
fail:
	rc = -errno;
	if (rc == -ENOENT && opts->create && !opts->size)
		fq_bdev_errf(err, errlen, "file %s: cannot create it without a size", opts->path);
	else if (rc == -EINVAL && opts->direct)
		fq_bdev_errf(err, errlen, "file %s: the filesystem refuses O_DIRECT", opts->path);
	else
		fq_bdev_errf(err, errlen, "file %s: %s", opts->path, strerror(-rc));
	return rc;
}

/*
 * The pid holding a flock() on the file @st names, from /proc/locks (lines
 * "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF"; waiters carry "->"),
 * or 0 if it is not listed.
 */
static long lock_holder(const struct stat *st)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	long pid = 0;

	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		unsigned long long ino;
		char kind[16];
		long p;

		if (strstr(line, "->") || sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &p,
						 &maj, &min, &ino) != 5)
			continue;
		if (!strcmp(kind, "FLOCK") && maj == major(st->st_dev) &&
		    min == minor(st->st_dev) && ino == (unsigned long long)st->st_ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/*
 * Two targets writing one image corrupt it, and so does one target that
 * exports it twice. An exclusive flock() belongs to the open file
 * description, so it conflicts with every other open of the file, in this
 * process or another, and goes away with the last close. The error names
 * the holder, so the user knows which process to look at.
 */
#define LOCK_RETRY_MS 20
#define LOCK_DEAD_WAIT_MS 5000

static int file_lock(int fd, const char *path, char *err, size_t errlen)
{
	char comm[64] = "";
	struct stat st;
	long pid;
	int rc;

	for (int waited_ms = 0;; waited_ms += LOCK_RETRY_MS) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		rc = -errno;
		if (rc != -EWOULDBLOCK) {
			fq_bdev_errf(err, errlen, "file %s: cannot lock it: %s", path,
				     strerror(-rc));
			return rc;
		}
		pid = fstat(fd, &st) ? 0 : lock_holder(&st);
		/*
		 * A holder that no longer exists was killed: the kernel drops
		 * its lock once the last reference to the open file goes, and
		 * an io_uring the process had set up releases its references
		 * from a work queue after the exit. /proc/locks then shows the
		 * dead pid, or 0 once the pid is gone. Wait for that (briefly)
		 * rather than refuse a restart or a check right after kill -9.
		 */
		if (waited_ms >= LOCK_DEAD_WAIT_MS || pid == (long)getpid() ||
		    (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)))
			break;
		usleep(LOCK_RETRY_MS * 1000);
	}
	if (pid == (long)getpid()) {
		fq_bdev_errf(err, errlen,
			     "file %s: this process already has it open (another namespace, or one "
			     "removed by a reload, which stays open until exit)",
			     path);
		return -EBUSY;
	}
	if (pid > 0) {
		char cpath[64];
		FILE *f;

		snprintf(cpath, sizeof(cpath), "/proc/%ld/comm", pid);
		f = fopen(cpath, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		fq_bdev_errf(err, errlen,
			     "file %s: in use by process %ld%s%s%s, which holds an exclusive lock "
			     "on it; two targets must not export the same file",
			     path, pid, comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
	} else {
		fq_bdev_errf(err, errlen,
			     "file %s: another process holds an exclusive lock on it (not listed "
			     "in /proc/locks); two targets must not export the same file",
			     path);
	}
	return -EBUSY;
}

/* O_DIRECT alignment of a regular file, from statx when the kernel reports it. */
static int file_dio_align(struct fq_bdev *bdev, struct file_bdev *f, const char *path, char *err,
			  size_t errlen)
{
	f->dio_mem_align = 512;
	f->dio_len_align = 512;
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (!statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align) {
			fq_bdev_errf(err, errlen, "file %s: the filesystem refuses O_DIRECT", path);
			return -EINVAL;
		}
		f->dio_mem_align = stx.stx_dio_mem_align ? stx.stx_dio_mem_align : 1;
		f->dio_len_align = stx.stx_dio_offset_align;
	}
#endif
	if (f->dio_len_align > bdev->block_size) {
		fq_bdev_errf(err, errlen,
			     "file %s: block size %u is smaller than the O_DIRECT alignment %u",
			     path, bdev->block_size, f->dio_len_align);
		return -EINVAL;
	}
	return 0;
}

static int file_setup_regular(struct fq_bdev *bdev, struct file_bdev *f,
			      const struct fq_bdev_opts *opts, const struct stat *st,
			      uint64_t *size, char *err, size_t errlen)
{
	uint64_t cur = (uint64_t)st->st_size;

	if (opts->size > cur && ftruncate(f->fd, (off_t)opts->size)) {
		int rc = -errno;

		fq_bdev_errf(err, errlen, "file %s: cannot extend to %" PRIu64 " bytes: %s",
			     opts->path, opts->size, strerror(-rc));
		return rc;
	}
	*size = opts->size ? opts->size : cur;
	bdev->supports_dealloc = true;
	bdev->read_zeroes_after_dealloc = true;
	return opts->direct ? file_dio_align(bdev, f, opts->path, err, errlen) : 0;
}

/*
 * Whether the device discards at all, from sysfs: probing with BLKDISCARD
 * itself would need a range, i.e. would destroy data. A partition has its
 * queue attributes in the parent's directory.
 */
static bool blkdev_can_discard(dev_t rdev)
{
	static const char *const fmt[] = {
		"/sys/dev/block/%u:%u/queue/discard_max_bytes",
		"/sys/dev/block/%u:%u/../queue/discard_max_bytes",
	};
	unsigned long long max = 0;
	char path[96];
	size_t i;

	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		FILE *fp;
		int n;

		snprintf(path, sizeof(path), fmt[i], major(rdev), minor(rdev));
		fp = fopen(path, "re");
		if (!fp)
			continue;
		n = fscanf(fp, "%llu", &max);
		fclose(fp);
		if (n == 1)
			return max > 0;
	}
	return false;
}

static int file_setup_blkdev(struct fq_bdev *bdev, struct file_bdev *f,
			     const struct fq_bdev_opts *opts, const struct stat *st, uint64_t *size,
			     char *err, size_t errlen)
{
	uint64_t devsize;
	int lbs;

	if (ioctl(f->fd, BLKGETSIZE64, &devsize) || ioctl(f->fd, BLKSSZGET, &lbs)) {
		int rc = -errno;

		fq_bdev_errf(err, errlen, "file %s: cannot query the device: %s", opts->path,
			     strerror(-rc));
		return rc;
	}
	if ((uint32_t)lbs > bdev->block_size) {
		fq_bdev_errf(err, errlen,
			     "file %s: block size %u is smaller than the device's logical "
			     "block size %d",
			     opts->path, bdev->block_size, lbs);
		return -EINVAL;
	}
	if (opts->size > devsize) {
		fq_bdev_errf(err, errlen,
			     "file %s: size %" PRIu64 " is larger than the device (%" PRIu64
			     " bytes)",
			     opts->path, opts->size, devsize);
		return -EINVAL;
	}
	*size = opts->size ? opts->size : devsize;
	f->blkdev = true;
	f->dio_mem_align = (uint32_t)lbs;
	f->dio_len_align = (uint32_t)lbs;
	bdev->supports_dealloc = blkdev_can_discard(st->st_rdev);
	/* Discard does not promise zeroes on every device. */
	bdev->read_zeroes_after_dealloc = false;
	return 0;
}

static int file_setup(struct fq_bdev *bdev, struct file_bdev *f, const struct fq_bdev_opts *opts,
		      char *err, size_t errlen)
{
	uint64_t size = 0;
	struct stat st;
	int rc;

	if (fstat(f->fd, &st)) {
		rc = -errno;
		fq_bdev_errf(err, errlen, "file %s: %s", opts->path, strerror(-rc));
		return rc;
	}
	if (S_ISREG(st.st_mode)) {
		rc = file_setup_regular(bdev, f, opts, &st, &size, err, errlen);
	} else if (S_ISBLK(st.st_mode)) {
		rc = file_setup_blkdev(bdev, f, opts, &st, &size, err, errlen);
	} else {
		fq_bdev_errf(err, errlen, "file %s: not a regular file or a block device",
			     opts->path);
		rc = -EINVAL;
	}
	if (rc)
		return rc;
	bdev->num_blocks = size / bdev->block_size;
	if (!bdev->num_blocks) {
		fq_bdev_errf(err, errlen,
			     "file %s: size %" PRIu64 " is less than one block of %u bytes",
			     opts->path, size, bdev->block_size);
		return -EINVAL;
	}
	return 0;
}

int fq_bdev_file_init(struct fq_bdev *bdev, const struct fq_bdev_opts *opts, char *err,
		      size_t errlen)
{
	struct file_bdev *f = bdev->priv;
	bool created;
	int rc;

	f->direct = opts->direct;
	atomic_init(&f->no_punch, false);
	atomic_init(&f->no_zero_range, false);
	f->fd = file_open_fd(opts, &created, &f->created_dirs, err, errlen);
	if (f->fd < 0) {
		rc = f->fd;
		f->fd = -1;
		return rc;
	}
	if (created) {
		f->created_path = strdup(opts->path);
		if (!f->created_path) {
			fq_bdev_errf(err, errlen, "file %s: out of memory", opts->path);
			rc = -ENOMEM;
			goto fail;
		}
	}
	rc = opts->no_lock ? 0 : file_lock(f->fd, opts->path, err, errlen);
	if (!rc)
		rc = file_setup(bdev, f, opts, err, errlen);
	if (rc)
		goto fail;
	bdev->ops = &fq_bdev_file_ops;
	bdev->volatile_cache = true;
	return 0;
fail:
	if (created) {
		if (f->created_path)
			fq_bdev_file_discard(bdev);
		else
			unlink(opts->path);
	}
	close(f->fd);
	f->fd = -1;
	free(f->created_path);
	f->created_path = NULL;
	return rc;
}

const struct fq_bdev_module fq_bdev_file_module = {
	.name = "file",
	.kind = FQ_BDEV_FILE,
	.ctx_size = sizeof(struct file_bdev),
	.parse = fq_bdev_parse_common,
	.keys = "size, bs, direct, create",
	.init = fq_bdev_file_init,
};
