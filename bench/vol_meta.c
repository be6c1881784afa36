/* SPDX-License-Identifier: MIT */
/*
 * Pool metadata at scale, over the volume engine's own API (no network):
 *
 *   vol_meta PATH [CLUSTERS...]     (default 10000 100000 1000000)
 *
 * For each count N, on a sparse file of 1 TiB + 1 GiB at PATH (recreated):
 * create a pool (1 MiB clusters), a thin volume of N clusters, allocate
 * every cluster with a 4 KiB write (queue depth 64), then
 *  - abandon the pool (the state a kill -9 leaves: no checkpoint) and time
 *    the open that replays the journal;
 *  - close it cleanly and time the open that replays nothing;
 *  - the heap the open pool holds (mallinfo2), per million clusters.
 * Then, on a 100 GiB volume with 10 GiB of clusters allocated, the time of
 * a snapshot and of a clone (median of 11).
 *
 * One JSON object per line on stdout; bench/volume.sh runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bdev/bdev.h"
#include "volume/volume.h"
#include "xport/engine.h"

#define MIB (1024ull * 1024)
#define POOL_BYTES ((1ull << 40) + (1ull << 30))
#define QD 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "vol_meta: %s: %s\n", what, strerror(-rc));
	exit(1);
}

struct writer {
	struct fq_engine *eng;
	struct fq_vol *vol;
	uint64_t next, total, done;
	int inflight, err;
	void *buf;
	struct fq_bdev_io io[QD];
	struct iovec iov[QD];
};

static void submit_next(struct writer *w, int slot);

static void write_done(struct fq_bdev_io *io, int rc)
{
	struct writer *w = io->cb_arg;

	w->inflight--;
	w->done++;
	if (rc && !w->err)
		w->err = rc;
	submit_next(w, (int)(io - w->io));
}

static void submit_next(struct writer *w, int slot)
{
	struct fq_bdev_io *io = &w->io[slot];
	int rc;

	if (w->next >= w->total || w->err)
		return;
	memset(io, 0, sizeof(*io));
	w->iov[slot] = (struct iovec){w->buf, 4096};
	io->type = FQ_BDEV_IO_WRITE;
	io->offset = w->next++ * MIB;
	io->length = 4096;
	io->iov = &w->iov[slot];
	io->iovcnt = 1;
	io->cb = write_done;
	io->cb_arg = w;
	w->inflight++;
	rc = fq_vol_submit(w->vol, w->eng, io);
	if (rc) {
		w->inflight--;
		w->err = rc;
	}
}

/* A 4 KiB write into each of the first @n clusters of @vol. */
static void allocate(struct fq_engine *eng, struct fq_vol *vol, uint64_t n)
{
	static struct writer w;

	memset(&w, 0, sizeof(w));
	w.eng = eng;
	w.vol = vol;
	w.total = n;
	if (posix_memalign(&w.buf, 4096, 4096))
		die("buffer", -ENOMEM);
	memset(w.buf, 0xa5, 4096);
	for (int i = 0; i < QD; i++)
		submit_next(&w, i);
	while (w.inflight)
		fq_engine_run(eng, 1, 1000000000);
	free(w.buf);
	if (w.err)
		die("write", w.err);
}

static struct fq_bdev *open_file(const char *path, bool create)
{
	struct fq_bdev_opts o;
	struct fq_bdev *b;
	char err[256];
	int rc;

	fq_bdev_opts_init(&o, FQ_BDEV_FILE);
	o.path = path;
	o.block_size = 4096;
	if (create) {
		o.size = POOL_BYTES;
		o.create = true;
	}
	rc = fq_bdev_open(&o, &b, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "vol_meta: %s\n", err);
		exit(1);
	}
	return b;
}

static struct fq_pool *new_pool(const char *path, struct fq_engine *eng, struct fq_bdev **bdev)
{
	struct fq_pool_opts po = {.name = "bench", .cluster_size = MIB};
	struct fq_pool *p;
	int rc;

	double t0 = now_s();

	unlink(path);
	*bdev = open_file(path, true);
	rc = fq_pool_create(*bdev, eng, &po);
	fprintf(stderr, "vol_meta: pool created in %.2f s\n", now_s() - t0);
	if (rc)
		die("pool create", rc);
	rc = fq_pool_open(*bdev, eng, &p);
	if (rc)
		die("pool open", rc);
	return p;
}

static double timed_open(struct fq_bdev *bdev, struct fq_engine *eng, struct fq_pool **p)
{
	double t0 = now_s();
	int rc = fq_pool_open(bdev, eng, p);

	if (rc)
		die("pool open", rc);
	return now_s() - t0;
}

static uint64_t allocated(struct fq_pool *p)
{
	struct fq_vol_info vi;

	fq_vol_info(fq_vol_find(p, "v"), &vi);
	return vi.allocated_bytes;
}

static void scale(const char *path, struct fq_engine *eng, uint64_t n)
{
	struct fq_bdev *bdev;
	struct fq_pool *p = new_pool(path, eng, &bdev);
	struct fq_pool_info pi;
	double t0, t_alloc, t_crash, t_clean;
	size_t h0, h1;
	int rc;

	rc = fq_vol_create(p, "v", n * MIB, false);
	if (rc)
		die("volume create", rc);
	t0 = now_s();
	allocate(eng, fq_vol_find(p, "v"), n);
	t_alloc = now_s() - t0;

	fq_pool_abandon(p);
	t_crash = timed_open(bdev, eng, &p);
	fq_pool_info(p, &pi);
	if (allocated(p) != n * MIB) {
		fprintf(stderr, "vol_meta: %llu bytes allocated after the replay, expected %llu\n",
			(unsigned long long)allocated(p), (unsigned long long)(n * MIB));
		exit(1);
	}
	rc = fq_pool_close(p);
	if (rc)
		die("pool close", rc);

	h0 = heap_in_use();
	t_clean = timed_open(bdev, eng, &p);
	h1 = heap_in_use();
	if (allocated(p) != n * MIB)
		die("allocation lost after a clean close", -EIO);
	printf("{\"kind\":\"pool_open\",\"clusters\":%llu,\"pool_bytes\":%llu,"
	       "\"first_write_allocs_per_s\":%.0f,\"journal_replayed\":%llu,"
	       "\"open_after_kill_s\":%.4f,\"open_after_clean_s\":%.4f,"
	       "\"heap_bytes\":%zu,\"heap_mib_per_million_clusters\":%.2f}\n",
	       (unsigned long long)n, (unsigned long long)POOL_BYTES, (double)n / t_alloc,
	       (unsigned long long)pi.journal_replayed, t_crash, t_clean, h1 - h0,
	       (double)(h1 - h0) / MIB * 1e6 / (double)n);
	fflush(stdout);
	fq_pool_close(p);
	fq_bdev_close(bdev);
	unlink(path);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void snapshots(const char *path, struct fq_engine *eng)
{
	enum { REPS = 11 };
	struct fq_bdev *bdev;
	struct fq_pool *p = new_pool(path, eng, &bdev);
	double snap[REPS], clone[REPS];
	char name[64], cname[64];
	uint64_t written;
	int rc = fq_vol_create(p, "v", 100 * 1024 * MIB, false);

	if (rc)
		die("volume create", rc);
	allocate(eng, fq_vol_find(p, "v"), 10 * 1024);
	written = allocated(p);
	for (int i = 0; i < REPS; i++) {
		double t0;

		snprintf(name, sizeof(name), "v@s%d", i);
		snprintf(cname, sizeof(cname), "c%d", i);
		t0 = now_s();
		rc = fq_vol_snapshot(p, name);
		snap[i] = now_s() - t0;
		if (rc)
			die("snapshot", rc);
		t0 = now_s();
		rc = fq_vol_clone(p, name, cname);
		clone[i] = now_s() - t0;
		if (rc)
			die("clone", rc);
	}
	qsort(snap, REPS, sizeof(double), cmp_d);
	qsort(clone, REPS, sizeof(double), cmp_d);
	printf("{\"kind\":\"snapshot\",\"volume_bytes\":%llu,\"allocated_bytes\":%llu,"
	       "\"snapshot_ms_median\":%.3f,\"snapshot_ms_max\":%.3f,"
	       "\"clone_ms_median\":%.3f,\"clone_ms_max\":%.3f}\n",
	       100ull * 1024 * MIB, (unsigned long long)written, snap[REPS / 2] * 1e3,
	       snap[REPS - 1] * 1e3, clone[REPS / 2] * 1e3, clone[REPS - 1] * 1e3);
	fq_pool_close(p);
	fq_bdev_close(bdev);
	unlink(path);
}

int main(int argc, char **argv)
{
	struct fq_engine eng;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: vol_meta PATH [CLUSTERS...]\n");
		return 2;
	}
	rc = fq_engine_init(&eng, 256);
	if (rc)
		die("engine", rc);
	if (argc == 2) {
		scale(argv[1], &eng, 10000);
		scale(argv[1], &eng, 100000);
		scale(argv[1], &eng, 1000000);
	}
	for (int i = 2; i < argc; i++)
		scale(argv[1], &eng, strtoull(argv[i], NULL, 0));
	snapshots(argv[1], &eng);
	fq_engine_fini(&eng);
	return 0;
}
