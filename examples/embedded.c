/* SPDX-License-Identifier: MIT */
/*
 * embedded: the host on the program's own event loop, with no thread of the
 * library's (docs/host-api.md, "Embedding the host").
 *
 *   embedded [--rounds N] [--kill-cmd CMD --restart-cmd CMD] \
 *            "traddr:127.0.0.1 trsvcid:4420 subnqn:NQN"
 *
 * One loop carries the controller (admin queue, Keep Alive, reconnects) and
 * one qpair. Each round writes 256 KiB with a pattern, reads it back and
 * compares; each completion submits the next command, so after connecting
 * the program only runs fq_loop_run(). With --kill-cmd and --restart-cmd
 * (commands that stop and start the target again), both run through
 * system() after the first round; the controller must then reconnect from
 * the loop's timers for the rounds to go on. It prints the threads of the
 * process (io_uring's iou-wrk workers aside) before the loop exists, at the
 * end of the run and after teardown, and fails if they differ.
 * Also accepts --trid TRID and ignores other --NAME VALUE pairs, so the
 * test harness that starts a target for it can run it as it is.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fabriq/host.h>
#include <fabriq/loop.h>

#define IO_BLOCKS_BYTES (256u * 1024)

struct app {
	struct fq_loop *loop;
	struct fq_ctrlr *ctrlr;
	struct fq_ns *ns;
	struct fq_qpair *qp;
	uint8_t *wbuf, *rbuf;
	uint32_t nlb;
	int round, rounds;
	const char *kill_cmd, *restart_cmd;
	int rc;
	struct fq_timer retry; /* a command refused while reconnecting */
	struct fq_msg restart;
};

static void start_round(struct app *a);

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "iou-wrk", 7))
			n++;
	}
	closedir(d);
	return n;
}

static void finish(struct app *a, int rc)
{
	a->rc = rc;
	fq_loop_stop(a->loop);
}

static void on_read(void *arg, const struct fq_cpl *cpl)
{
	struct app *a = arg;
	char st[128];

	if (fq_cpl_is_error(cpl)) {
		/* A path error while the target restarts: do the round again. */
		fprintf(stderr, "round %d: read: %s; again\n", a->round,
			fq_cpl_str(cpl, st, sizeof(st)));
		fq_timer_arm(a->loop, &a->retry, 200000000ull);
		return;
	}
	if (memcmp(a->wbuf, a->rbuf, IO_BLOCKS_BYTES)) {
		fprintf(stderr, "round %d: data read back differs\n", a->round);
		finish(a, 1);
		return;
	}
	printf("round %d: %u KiB written and verified\n", a->round, IO_BLOCKS_BYTES / 1024);
	if (++a->round == a->rounds) {
		finish(a, 0);
		return;
	}
	if (a->round == 1 && a->restart_cmd && a->rounds > 1)
		fq_loop_post(a->loop, &a->restart); /* after this callback returns */
	else
		start_round(a);
}

static void on_write(void *arg, const struct fq_cpl *cpl)
{
	struct app *a = arg;
	char st[128];
	int rc;

	if (fq_cpl_is_error(cpl)) {
		fprintf(stderr, "round %d: write: %s; again\n", a->round,
			fq_cpl_str(cpl, st, sizeof(st)));
		fq_timer_arm(a->loop, &a->retry, 200000000ull);
		return;
	}
	memset(a->rbuf, 0, IO_BLOCKS_BYTES);
	rc = fq_ns_read(a->ns, a->qp, a->rbuf, 0, a->nlb, on_read, a, 0);
	if (rc)
		fq_timer_arm(a->loop, &a->retry, 200000000ull);
}

static void start_round(struct app *a)
{
	for (uint32_t i = 0; i < IO_BLOCKS_BYTES; i++)
		a->wbuf[i] = (uint8_t)(i * 31 + a->round * 17 + (i >> 9));
	/* -ENXIO while the qpair reconnects: try again shortly. */
	if (fq_ns_write(a->ns, a->qp, a->wbuf, 0, a->nlb, on_write, a, 0))
		fq_timer_arm(a->loop, &a->retry, 200000000ull);
}

static void retry_fn(struct fq_loop *l, struct fq_timer *t)
{
	struct app *a = (struct app *)((char *)t - offsetof(struct app, retry));

	(void)l;
	if (fq_ctrlr_get_state(a->ctrlr) == FQ_CTRLR_FAILED) {
		fprintf(stderr, "controller failed: giving up\n");
		finish(a, 1);
		return;
	}
	start_round(a);
}

static void restart_fn(struct fq_loop *l, struct fq_msg *m)
{
	struct app *a = (struct app *)((char *)m - offsetof(struct app, restart));

	(void)l;
	printf("restarting the target\n");
	fflush(stdout);
	if ((a->kill_cmd && system(a->kill_cmd) != 0) || system(a->restart_cmd) != 0) {
		fprintf(stderr, "restarting the target failed\n");
		finish(a, 1);
		return;
	}
	start_round(a);
}

int main(int argc, char **argv)
{
	struct app a = {.rounds = 4, .retry.fn = retry_fn, .restart.fn = restart_fn};
	const char *trid_str = NULL;
	struct fq_ctrlr_opts co;
	struct fq_trid trid;
	int before, during, after, rc;
	uint32_t reconnects;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			a.rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--restart-cmd") && i + 1 < argc)
			a.restart_cmd = argv[++i];
		else if (!strcmp(argv[i], "--kill-cmd") && i + 1 < argc)
			a.kill_cmd = argv[++i];
		else if (!strcmp(argv[i], "--trid") && i + 1 < argc)
			trid_str = argv[++i];
		else if (!strncmp(argv[i], "--", 2) && i + 1 < argc)
			i++; /* another option of the harness */
		else
			trid_str = argv[i];
	}
	if (!trid_str || a.rounds < 1) {
		fprintf(stderr, "usage: %s [--rounds N] [--kill-cmd CMD --restart-cmd CMD] TRID\n",
			argv[0]);
		return 2;
	}
	if (fq_trid_parse(&trid, trid_str)) {
		fprintf(stderr, "bad transport ID: %s\n", fq_last_error());
		return 2;
	}
	before = count_threads();

	rc = fq_loop_create(NULL, &a.loop);
	if (rc) {
		fprintf(stderr, "loop: %s\n", strerror(-rc));
		return 1;
	}
	fq_ctrlr_opts_init(&co, sizeof(co));
	co.loop = a.loop;
	co.reconnect_delay_ms = 200;
	if (fq_ctrlr_connect(&trid, &co, &a.ctrlr)) {
		fprintf(stderr, "%s\n", fq_last_error());
		fq_loop_destroy(a.loop);
		return 1;
	}
	a.ns = fq_ctrlr_get_ns(a.ctrlr, fq_ctrlr_first_ns(a.ctrlr));
	if (!a.ns || fq_ctrlr_alloc_io_qpair(a.ctrlr, NULL, &a.qp)) {
		fprintf(stderr, "no namespace or qpair: %s\n", fq_last_error());
		fq_ctrlr_disconnect(a.ctrlr);
		fq_loop_destroy(a.loop);
		return 1;
	}
	a.nlb = IO_BLOCKS_BYTES / fq_ns_get_sector_size(a.ns);
	a.wbuf = malloc(IO_BLOCKS_BYTES);
	a.rbuf = malloc(IO_BLOCKS_BYTES);
	a.rc = 1;
	if (a.wbuf && a.rbuf) {
		start_round(&a);
		rc = fq_loop_run(a.loop); /* everything happens in here */
		if (rc)
			a.rc = 1;
	}
	during = count_threads();
	reconnects = fq_ctrlr_get_reconnects(a.ctrlr);
	printf("reconnects: %u\n", reconnects);
	fq_qpair_free(a.qp);
	fq_ctrlr_disconnect(a.ctrlr);
	fq_loop_destroy(a.loop);
	free(a.wbuf);
	free(a.rbuf);
	after = count_threads();
	printf("threads: %d before the loop, %d while it ran, %d after\n", before, during, after);
	if (during != before || after != before)
		a.rc = 1;
	if (a.restart_cmd && a.rounds > 1 && reconnects == 0) {
		fprintf(stderr, "the target restarted but the controller never reconnected\n");
		a.rc = 1;
	}
	return a.rc;
}
