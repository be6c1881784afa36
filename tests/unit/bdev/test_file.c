/* SPDX-License-Identifier: MIT */
/*
 * File backend over a real io_uring: creation and sizing, persistence, short
 * reads at EOF, the write-zeroes fallback, hole punching, O_DIRECT and many
 * requests in flight. Files live in a fresh directory under /var/tmp (a disk
 * filesystem, where /tmp may be tmpfs).
 *
 * FQ_TEST_BLKDEV=/dev/loopN runs the data-path checks on that block device
 * too. It overwrites the device's first 64 KiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bdev/backend.h"
#include "bdev/bdev.h"
#include "bdev_test.h"

struct file_ctx {
	struct fq_engine eng;
	char dir[64];
	char path[96];
	char err[256];
};

static int setup(void **state)
{
	struct file_ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	strcpy(c->dir, "/var/tmp/fq-bdev-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/ns.img", c->dir);
	assert_int_equal(fq_engine_init(&c->eng, 32), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct file_ctx *c = *state;

	unlink(c->path);
	rmdir(c->dir);
	fq_engine_fini(&c->eng);
	free(c);
	return 0;
}

static int open_file(struct file_ctx *c, uint64_t size, bool create, bool direct,
		     struct fq_bdev **out)
{
	struct fq_bdev_opts o = {
		.kind = FQ_BDEV_FILE,
		.path = c->path,
		.size = size,
		.create = create,
		.direct = direct,
	};

	return fq_bdev_open(&o, out, c->err, sizeof(c->err));
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void put_file(const char *path, size_t len, unsigned seed)
{
	uint8_t *buf = bt_alloc(len);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	bt_fill(buf, len, 0, seed);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

static void test_create_and_persist(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev *b;
	struct stat st;
	char name[128];

	assert_int_equal(open_file(c, 1 << 20, true, false, &b), 0);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(b->num_blocks, 2048);
	assert_true(b->volatile_cache);
	assert_true(b->supports_dealloc);
	assert_null(b->ops->map_read);
	snprintf(name, sizeof(name), "file %s", c->path);
	assert_string_equal(b->name, name);
	bt_data_path(&c->eng, b);
	bt_write_pattern(&c->eng, b, (1 << 20) - 65536, 65536, 11);
	fq_bdev_close(b);

	/* Reopen with no size: the file's size is used and the data is there. */
	assert_int_equal(open_file(c, 0, false, false, &b), 0);
	assert_int_equal(b->num_blocks, 2048);
	bt_expect(&c->eng, b, (1 << 20) - 65536, 65536, 11);
	fq_bdev_close(b);
}

static void test_extend_existing(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev *b;

	put_file(c->path, 4096, 12);
	assert_int_equal(open_file(c, 65536, false, false, &b), 0);
	assert_int_equal(file_size(c->path), 65536);
	assert_int_equal(b->num_blocks, 128);
	bt_expect(&c->eng, b, 0, 4096, 12);
	bt_expect(&c->eng, b, 4096, 65536 - 4096, -1);
	fq_bdev_close(b);

	/* A given size smaller than the file exposes only that much and keeps the file. */
	assert_int_equal(open_file(c, 8192, false, false, &b), 0);
	assert_int_equal(b->num_blocks, 16);
	assert_int_equal(file_size(c->path), 65536);
	fq_bdev_close(b);
}

static void test_existing_size_rounds_down(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev_opts o = {.kind = FQ_BDEV_FILE, .path = c->path, .block_size = 4096};
	struct fq_bdev *b;
	char want[256];

	put_file(c->path, 5000, 1);
	assert_int_equal(open_file(c, 0, false, false, &b), 0);
	assert_int_equal(b->num_blocks, 9);
	fq_bdev_close(b);
	assert_int_equal(fq_bdev_open(&o, &b, c->err, sizeof(c->err)), 0);
	assert_int_equal(b->num_blocks, 1);
	fq_bdev_close(b);

	put_file(c->path, 100, 1);
	assert_int_equal(open_file(c, 0, false, false, &b), -EINVAL);
	snprintf(want, sizeof(want), "file %s: size 100 is less than one block of 512 bytes",
		 c->path);
	assert_string_equal(c->err, want);
}

static void test_open_errors(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev *b = NULL;
	char want[256];

	assert_int_equal(open_file(c, 0, false, false, &b), -ENOENT);
	snprintf(want, sizeof(want), "file %s: No such file or directory", c->path);
	assert_string_equal(c->err, want);
	assert_null(b);

	/* A size without create does not create the file. */
	assert_int_equal(open_file(c, 4096, false, false, &b), -ENOENT);
	assert_int_equal(access(c->path, F_OK), -1);

	assert_int_equal(open_file(c, 0, true, false, &b), -ENOENT);
	snprintf(want, sizeof(want), "file %s: cannot create it without a size", c->path);
	assert_string_equal(c->err, want);

	assert_int_equal(open_file(c, 1000, true, false, &b), -EINVAL);
	snprintf(want, sizeof(want), "file %s: size 1000 is not a multiple of the block size 512",
		 c->path);
	assert_string_equal(c->err, want);
	assert_int_equal(access(c->path, F_OK), -1);

	snprintf(c->path, sizeof(c->path), "%s", c->dir);
	assert_int_equal(open_file(c, 0, false, false, &b), -EISDIR);
	snprintf(c->path, sizeof(c->path), "/dev/null");
	assert_int_equal(open_file(c, 0, false, false, &b), -EINVAL);
	assert_string_equal(c->err, "file /dev/null: not a regular file or a block device");
	snprintf(c->path, sizeof(c->path), "%s/ns.img", c->dir);
}

/* A file that cannot grow to the size asked for is an error; one we just created is removed. */
static void test_extend_fails(void **state)
{
	struct file_ctx *c = *state;
	struct rlimit old, lim;
	struct fq_bdev *b = NULL;
	char want[256];
	int rc;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 65536;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = open_file(c, 1 << 20, true, false, &b);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(rc, -EFBIG);
	assert_null(b);
	snprintf(want, sizeof(want), "file %s: cannot extend to 1048576 bytes: %s", c->path,
		 strerror(EFBIG));
	assert_string_equal(c->err, want);
	assert_int_equal(access(c->path, F_OK), -1);
}

/* The file shrank behind the backend: the read stops short, then gets zeroes. */
static void test_short_read_at_eof(void **state)
{
	struct file_ctx *c = *state;
	uint8_t *a = bt_alloc(4096), *z = bt_alloc(4096);
	struct iovec rv[2] = {{a, 4096}, {z, 4096}};
	struct fq_bdev *b;

	assert_int_equal(open_file(c, 8192, true, false, &b), 0);
	bt_write_pattern(&c->eng, b, 0, 8192, 13);
	assert_int_equal(truncate(c->path, 1000), 0);
	memset(a, 0xEE, 4096);
	memset(z, 0xEE, 4096);
	assert_int_equal(bt_rw(&c->eng, b, FQ_BDEV_IO_READ, 0, rv, 2, 8192), 0);
	assert_int_equal(bt_check(a, 1000, 0, 13), -1);
	assert_int_equal(bt_check_byte(a + 1000, 4096 - 1000, 0), -1);
	assert_int_equal(bt_check_byte(z, 4096, 0), -1);
	fq_bdev_close(b);
	free(a);
	free(z);
}

/* Filesystems without FALLOC_FL_ZERO_RANGE: zeroes are written, in several chunks. */
static void test_zero_fallback(void **state)
{
	struct file_ctx *c = *state;
	uint64_t zoff = 512, zlen = (5 << 19) + 1024;
	struct fq_bdev *b, *ram;
	struct fq_bdev_opts ro = {.kind = FQ_BDEV_RAM, .size = 4096};

	assert_int_equal(open_file(c, 4 << 20, true, false, &b), 0);
	assert_int_equal(fq_bdev_file_force_zero_fallback(b, true), 0);
	bt_write_pattern(&c->eng, b, 0, 4 << 20, 14);
	assert_int_equal(bt_cmd(&c->eng, b, FQ_BDEV_IO_WRITE_ZEROES, zoff, zlen), 0);
	bt_expect(&c->eng, b, 0, zoff, 14);
	bt_expect(&c->eng, b, zoff, zlen, -1);
	bt_expect(&c->eng, b, zoff + zlen, (4 << 20) - zoff - zlen, 14);

	/* Deallocate falls back the same way and still reads zeroes. */
	assert_int_equal(bt_cmd(&c->eng, b, FQ_BDEV_IO_DEALLOCATE, 3 << 20, 512 << 10), 0);
	bt_expect(&c->eng, b, 3 << 20, 512 << 10, -1);
	bt_expect(&c->eng, b, (3 << 20) + (512 << 10), 512 << 10, 14);
	fq_bdev_close(b);

	assert_int_equal(fq_bdev_open(&ro, &ram, NULL, 0), 0);
	assert_int_equal(fq_bdev_file_force_zero_fallback(ram, true), -EINVAL);
	fq_bdev_close(ram);
}

/* Deallocate really gives the space back on a filesystem that punches holes. */
static void test_punch_frees_space(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev *b;
	struct stat before, after;

	assert_int_equal(open_file(c, 1 << 20, true, false, &b), 0);
	bt_write_pattern(&c->eng, b, 0, 1 << 20, 15);
	assert_int_equal(b->ops->sync(b), 0);
	assert_int_equal(stat(c->path, &before), 0);
	assert_int_equal(bt_cmd(&c->eng, b, FQ_BDEV_IO_DEALLOCATE, 0, 1 << 20), 0);
	assert_int_equal(stat(c->path, &after), 0);
	assert_true(after.st_blocks < before.st_blocks);
	assert_int_equal(after.st_size, 1 << 20);
	bt_expect(&c->eng, b, 0, 1 << 20, -1);
	fq_bdev_close(b);
}

static void test_direct(void **state)
{
	struct file_ctx *c = *state;
	uint8_t *buf = bt_alloc(8192);
	struct iovec iov = {buf + 1, 512};
	struct iovec halves[2] = {{buf, 256}, {buf + 4096, 256}};
	struct fq_bdev *b;
	int rc;

	rc = open_file(c, 1 << 20, true, true, &b);
	if (rc == -EINVAL) {
		free(buf);
		print_message("O_DIRECT unavailable here: %s\n", c->err);
		skip();
	}
	assert_int_equal(rc, 0);
	bt_data_path(&c->eng, b);
	assert_int_equal(bt_rw(&c->eng, b, FQ_BDEV_IO_WRITE, 0, &iov, 1, 512), -EINVAL);
	assert_int_equal(bt_rw(&c->eng, b, FQ_BDEV_IO_READ, 0, &iov, 1, 512), -EINVAL);
	assert_int_equal(bt_rw(&c->eng, b, FQ_BDEV_IO_READ, 0, halves, 2, 512), -EINVAL);
	fq_bdev_close(b);

	/* What O_DIRECT wrote is what a buffered open reads. */
	assert_int_equal(open_file(c, 0, false, false, &b), 0);
	bt_expect(&c->eng, b, 4096, 4096, 7);
	fq_bdev_close(b);
	free(buf);
}

struct many {
	int done;
	int failed;
};

static void many_cb(struct fq_bdev_io *io, int result)
{
	struct many *m = io->cb_arg;

	m->done++;
	if (result)
		m->failed++;
}

/* Requests from one reactor overlap in the ring; each completes exactly once. */
static void test_many_inflight(void **state)
{
	enum { N = 48 }; /* more than the ring's 32 SQEs */
	struct file_ctx *c = *state;
	struct fq_bdev_io io[N];
	struct iovec iov[N];
	uint8_t *buf = bt_alloc(N * 4096);
	struct many m = {0};
	struct fq_bdev *b;
	int i, turns;

	assert_int_equal(open_file(c, N * 4096, true, false, &b), 0);
	bt_fill(buf, N * 4096, 0, 16);
	memset(io, 0, sizeof(io));
	for (i = 0; i < N; i++) {
		iov[i].iov_base = buf + i * 4096;
		iov[i].iov_len = 4096;
		io[i].type = FQ_BDEV_IO_WRITE;
		io[i].offset = (uint64_t)i * 4096;
		io[i].length = 4096;
		io[i].iov = &iov[i];
		io[i].iovcnt = 1;
		io[i].cb = many_cb;
		io[i].cb_arg = &m;
		assert_int_equal(fq_bdev_submit(b, &c->eng, &io[i]), 0);
	}
	for (turns = 0; m.done < N && turns < 1000; turns++)
		assert_true(fq_engine_run(&c->eng, 1, 2000000000LL) >= 0);
	assert_int_equal(m.done, N);
	assert_int_equal(m.failed, 0);
	bt_expect(&c->eng, b, 0, N * 4096, 16);
	fq_bdev_close(b);
	free(buf);
}

/*
 * The lock of a killed daemon can outlive it for a moment (its io_uring
 * drops the file from a work queue after the exit). Here a process takes
 * the lock and exits while a child that inherited the open file keeps it
 * for 300 ms: /proc/locks names a pid that is gone. The open waits for the
 * lock instead of refusing; a live holder is still refused at once.
 */
static void test_lock_of_dead_holder(void **state)
{
	struct file_ctx *c = *state;
	struct fq_bdev *b = NULL;
	int sync_pipe[2];
	pid_t holder;
	int status;
	char ch;

	put_file(c->path, 64 * 1024, 3);
	assert_int_equal(pipe(sync_pipe), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		int fd = open(c->path, O_RDWR);

		if (fd < 0 || flock(fd, LOCK_EX))
			_exit(1);
		if (fork() == 0) { /* keeps the open file, and so the lock */
			close(sync_pipe[0]);
			if (write(sync_pipe[1], "x", 1) != 1)
				_exit(1);
			close(sync_pipe[1]);
			usleep(300 * 1000);
			_exit(0);
		}
		_exit(0);
	}
	close(sync_pipe[1]);
	assert_int_equal(read(sync_pipe[0], &ch, 1), 1);
	close(sync_pipe[0]);
	assert_int_equal(waitpid(holder, &status, 0), holder); /* the lock's pid is gone */
	assert_int_equal(status, 0);
	assert_int_equal(open_file(c, 0, false, false, &b), 0);
	fq_bdev_close(b);

	/* A live holder: refused, and named. */
	int fd = open(c->path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0)
		_exit(open_file(c, 0, false, false, &b) == -EBUSY &&
				      strstr(c->err, "in use by process")
			      ? 0
			      : 1);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_int_equal(status, 0);
	close(fd);
}

static void test_blkdev(void **state)
{
	struct file_ctx *c = *state;
	const char *dev = getenv("FQ_TEST_BLKDEV");
	struct fq_bdev_opts o = {.kind = FQ_BDEV_FILE, .path = dev};
	struct fq_bdev *b;

	if (!dev || !dev[0])
		fail_msg("FQ_TEST_BLKDEV is not set: run this test through meson, whose "
			 "wrapper attaches a loop device");
	assert_int_equal(fq_bdev_open(&o, &b, c->err, sizeof(c->err)), 0);
	assert_false(b->read_zeroes_after_dealloc);
	bt_data_path(&c->eng, b);
	fq_bdev_close(b);
	o.direct = true;
	assert_int_equal(fq_bdev_open(&o, &b, c->err, sizeof(c->err)), 0);
	bt_data_path(&c->eng, b);
	fq_bdev_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extend_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_size_rounds_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extend_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_at_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch_frees_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_of_dead_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blkdev, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
