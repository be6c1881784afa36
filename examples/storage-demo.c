/* SPDX-License-Identifier: MIT */
/*
 * storage-demo: the storage interface in one page.
 *
 *   storage-demo CONFIG.ini [NAME]
 *
 * Opens the storage the configuration describes (NVMe/TCP or a local
 * file: the program does not care), writes a record at an odd offset,
 * reads it back synchronously, then does 16 asynchronous reads and a batch,
 * and prints the health and the statistics. NAME defaults to "data".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <fabriq/storage.h>

static void on_read(void *arg, int result)
{
	int *left = arg;

	if (result)
		fprintf(stderr, "async read failed: %d\n", result);
	(*left)--;
}

static int show(struct fq_storage *st)
{
	struct fq_storage_health h;
	struct fq_storage_stats s;

	fq_storage_health_check(st, &h);
	printf("health: %s via %s, %u/%u queues, last error: %s\n", h.state_name, h.backend,
	       h.queues_live, h.queues_total, h.last_error[0] ? h.last_error : "none");
	fq_storage_get_stats(st, &s);
	for (int op = 0; op < FQ_STORAGE_NUM_OPS; op++)
		printf("%-5s %6" PRIu64 " ops %9" PRIu64 " bytes, mean %" PRIu64 " us, p99 %" PRIu64
		       " us\n",
		       fq_storage_op_name(op), s.op[op].ops, s.op[op].bytes,
		       s.op[op].lat_mean_ns / 1000, s.op[op].lat_p99_ns / 1000);
	printf("read-modify-write block reads: %" PRIu64 "\n", s.rmw_reads);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 2 ? argv[2] : "data";
	char err[512], back[64], bufs[16][512];
	const char msg[] = "hello from fabriq storage";
	struct fq_storage_io io[4];
	struct fq_storage *st;
	int rc, left = 16;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CONFIG.ini [NAME]\n", argv[0]);
		return 2;
	}
	rc = fq_storage_open(argv[1], &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	/* Any offset and length: unaligned edges are handled for us. */
	rc = fq_storage_write_sync(st, name, 1000003, msg, sizeof(msg));
	if (!rc)
		rc = fq_storage_read_sync(st, name, 1000003, back, sizeof(msg));
	if (rc) {
		fprintf(stderr, "I/O: %s\n", fq_storage_last_error(st));
		fq_storage_close(st);
		return 1;
	}
	printf("read back: \"%s\"\n", back);
	for (int i = 0; i < 16; i++)
		fq_storage_read_async(st, name, (uint64_t)i * 4096, bufs[i], 512, on_read, &left);
	while (left > 0)
		fq_storage_wait(st, 1000);
	memset(io, 0, sizeof(io));
	for (int i = 0; i < 4; i++) {
		io[i].op = i == 3 ? FQ_STORAGE_FLUSH : i % 2 ? FQ_STORAGE_READ : FQ_STORAGE_WRITE;
		io[i].name = name;
		io[i].offset = 1u << 20 | (uint64_t)i * 8192;
		io[i].buf = bufs[i];
		io[i].len = 512;
	}
	fq_storage_batch(st, io, 4);
	while (fq_storage_outstanding(st))
		fq_storage_wait(st, 1000);
	show(st);
	fq_storage_close(st);
	return 0;
}
