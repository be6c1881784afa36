/* SPDX-License-Identifier: MIT */
/*
 * Failure behaviour: refused TCP connect, a listener that never answers the
 * ICReq, a host NQN the target does not allow, and a target killed in the
 * middle of I/O that comes back later.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "func_common.h"

/* A bound, listening socket that never accepts: TCP connects, nothing answers. */
static int silent_listener(char *port, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(port, len, "%u", ntohs(sa.sin_port));
	return fd;
}

int t_refused(struct fenv *e)
{
	struct fq_trid t = e->trid;
	struct fq_ctrlr *c;
	int fd, rc;

	(void)e;
	fd = silent_listener(t.trsvcid, sizeof(t.trsvcid));
	CHECK(fd >= 0, "socket");
	close(fd); /* the port is now closed: connect is refused */
	snprintf(t.traddr, sizeof(t.traddr), "127.0.0.1");
	t.adrfam = FQ_AF_IPV4;
	rc = fq_ctrlr_connect(&t, &e->opts, &c);
	CHECK(rc == -ECONNREFUSED, "connect returned %d (%s)", rc, fq_last_error());
	CHECK(strstr(fq_last_error(), "refused") && strstr(fq_last_error(), "TCP connect"),
	      "message: %s", fq_last_error());
	printf("  %s\n", fq_last_error());
	return 0;
}

int t_no_icresp(struct fenv *e)
{
	struct fq_trid t = e->trid;
	struct fq_ctrlr_opts o = e->opts;
	struct fq_ctrlr *c;
	uint64_t t0, ms;
	int fd, rc;

	fd = silent_listener(t.trsvcid, sizeof(t.trsvcid));
	CHECK(fd >= 0, "socket");
	snprintf(t.traddr, sizeof(t.traddr), "127.0.0.1");
	t.adrfam = FQ_AF_IPV4;
	o.connect_timeout_ms = 1500;
	t0 = now_ms();
	rc = fq_ctrlr_connect(&t, &o, &c);
	ms = now_ms() - t0;
	close(fd);
	CHECK(rc == -ETIMEDOUT, "connect returned %d (%s)", rc, fq_last_error());
	CHECK(strstr(fq_last_error(), "ICResp"), "message: %s", fq_last_error());
	CHECK(ms >= 1400 && ms < 6000, "timed out after %llu ms", (unsigned long long)ms);
	printf("  %s (after %llu ms)\n", fq_last_error(), (unsigned long long)ms);
	return 0;
}

int t_denied(struct fenv *e)
{
	struct fq_trid t = e->trid;
	struct fq_ctrlr *c;
	int rc;

	snprintf(t.hostnqn, sizeof(t.hostnqn),
		 "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000dead");
	rc = fq_ctrlr_connect(&t, &e->opts, &c);
	if (rc == 0)
		fq_ctrlr_disconnect(c);
	CHECK(rc == -EACCES, "connect returned %d (%s)", rc, fq_last_error());
	CHECK(strstr(fq_last_error(), "not allowed"), "message: %s", fq_last_error());
	printf("  %s\n", fq_last_error());
	return 0;
}

struct kio {
	bool busy;
	bool err;
	int *errs;
	int *oks;
};

static void kio_done(void *arg, const struct fq_cpl *cpl)
{
	struct kio *k = arg;

	k->busy = false;
	if (fq_cpl_is_error(cpl))
		(*k->errs)++;
	else
		(*k->oks)++;
}

/* Submit a write for every idle slot; returns how many were queued. */
static int refill(struct fq_qpair *qp, struct fq_ns *ns, struct kio *k, int n, uint8_t *buf,
		  uint64_t *s)
{
	uint32_t nlb = (64u << 10) / fq_ns_get_sector_size(ns);
	int queued = 0;

	for (int i = 0; i < n; i++) {
		uint64_t lba = xrand(s) % (fq_ns_get_num_sectors(ns) / nlb) * nlb;

		if (!k[i].busy && fq_ns_write(ns, qp, buf, lba, nlb, kio_done, &k[i], 0) == 0) {
			k[i].busy = true;
			queued++;
		}
	}
	return queued;
}

/*
 * Keep @n writes going for @ms. With @end_queued the loop ends on a refill
 * that queued at least one write, so that write is still unsent when the
 * caller acts: one wait can complete every write (a single receive may carry
 * all the responses), and ending on a wait could leave nothing in flight.
 * Returns the writes queued by the last refill.
 */
static int pump(struct fenv *e, struct fq_qpair *qp, struct fq_ns *ns, struct kio *k, int n,
		uint8_t *buf, uint64_t ms, bool end_queued)
{
	uint64_t end = now_ms() + ms;
	uint64_t s = e->seed;
	int queued;

	for (;;) {
		queued = refill(qp, ns, k, n, buf, &s);
		if (now_ms() >= end && (queued || !end_queued || now_ms() >= end + 10000))
			return queued;
		fq_qpair_wait(qp, 10);
	}
}

static int outstanding(const struct kio *k, int n)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += k[i].busy;
	return c;
}

int t_kill_target(struct fenv *e)
{
	struct fq_ctrlr_opts o = e->opts;
	struct kio k[16];
	int errs = 0, oks = 0, inflight, queued;
	static uint8_t buf[64 << 10], rbuf[64 << 10];
	struct fq_ctrlr *c;
	struct fq_qpair *qp;
	struct fq_ns *ns;
	uint64_t t0;

	CHECK(e->kill_cmd[0] && e->restart_cmd[0], "needs --kill-cmd and --restart-cmd");
	o.reconnect_delay_ms = 1000;
	o.ctrl_loss_timeout_ms = 600000;
	o.io_timeout_ms = 10000;
	o.keep_alive_timeout_ms = 5000;
	CHECK(fq_ctrlr_connect(&e->trid, &o, &c) == 0, "connect: %s", fq_last_error());
	ns = fq_ctrlr_get_ns(c, fq_ctrlr_first_ns(c));
	qp = NULL;
	CHECK(ns && fq_ctrlr_alloc_io_qpair(c, NULL, &qp) == 0, "qpair: %s", fq_last_error());
	memset(k, 0, sizeof(k));
	for (int i = 0; i < 16; i++) {
		k[i].errs = &errs;
		k[i].oks = &oks;
	}
	memset(buf, 0xa5, sizeof(buf));
	queued = pump(e, qp, ns, k, 16, buf, 1500, true);
	inflight = outstanding(k, 16);
	printf("  %d writes done, %d in flight (%d not yet sent); killing the target\n", oks,
	       inflight, queued);
	CHECK(queued > 0, "no write queued: %s", fq_last_error());
	/* Queued but unsent writes are in flight for the library too. */
	CHECK(fq_qpair_outstanding(qp) >= (uint32_t)inflight,
	      "library reports %u in flight, not %d", fq_qpair_outstanding(qp), inflight);
	CHECK(system(e->kill_cmd) == 0, "kill command failed");
	t0 = now_ms();
	while (outstanding(k, 16) && now_ms() - t0 < o.io_timeout_ms + 10000)
		fq_qpair_wait(qp, 100);
	CHECK(!outstanding(k, 16), "I/O still outstanding %llu ms after the kill",
	      (unsigned long long)(now_ms() - t0));
	printf("  outstanding I/O completed %llu ms after the kill (%d with an error)\n",
	       (unsigned long long)(now_ms() - t0), errs);
	/* The writes queued last never reached the target: they cannot succeed. */
	CHECK(errs >= queued, "%d writes failed, but %d never reached the target", errs, queued);
	/*
	 * The writes fail on this thread as soon as the I/O connection drops;
	 * the controller turns RESETTING on its service thread, which learns
	 * of the loss from the admin connection or from the I/O queue's reset
	 * request (made once that queue is closed, after the callbacks above).
	 * A loaded machine can run this line first: wait for the change.
	 */
	t0 = now_ms();
	while (fq_ctrlr_get_state(c) == FQ_CTRLR_LIVE && now_ms() - t0 < 10000)
		fq_qpair_wait(qp, 10);
	CHECK(fq_ctrlr_get_state(c) == FQ_CTRLR_RESETTING, "state %s",
	      fq_ctrlr_state_name(fq_ctrlr_get_state(c)));
	CHECK(system(e->restart_cmd) == 0, "restart command failed");
	t0 = now_ms();
	while (fq_qpair_get_state(qp) != FQ_QPAIR_LIVE && now_ms() - t0 < 120000)
		fq_qpair_wait(qp, 100);
	CHECK(fq_qpair_get_state(qp) == FQ_QPAIR_LIVE, "qpair did not come back");
	printf("  controller and qpair live again %llu ms after the restart (%u reconnects)\n",
	       (unsigned long long)(now_ms() - t0), fq_ctrlr_get_reconnects(c));
	CHECK(fq_ctrlr_get_reconnects(c) >= 1, "no reconnect counted");
	CHECK(fq_ns_write_sync(ns, qp, buf, 0, (uint32_t)(sizeof(buf) / fq_ns_get_sector_size(ns)),
			       0, NULL) == 0,
	      "write after reconnect");
	CHECK(fq_ns_read_sync(ns, qp, rbuf, 0, (uint32_t)(sizeof(buf) / fq_ns_get_sector_size(ns)),
			      NULL) == 0 &&
		      !memcmp(buf, rbuf, sizeof(buf)),
	      "read back after reconnect");
	fq_qpair_free(qp);
	CHECK(fq_ctrlr_disconnect(c) == 0, "disconnect");
	return 0;
}

/*
 * A target that stops answering (SIGSTOP) mid-I/O: every outstanding
 * command must complete with an error within the I/O timeout plus the
 * abort grace, and the controller must come back once the target runs.
 */
int t_stall_target(struct fenv *e)
{
	struct fq_ctrlr_opts o = e->opts;
	struct kio k[8];
	int errs = 0, oks = 0, inflight;
	static uint8_t buf[64 << 10];
	struct fq_ctrlr *c;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	uint64_t t0, limit;

	CHECK(e->stop_cmd[0] && e->cont_cmd[0], "needs --stop-cmd and --cont-cmd");
	o.reconnect_delay_ms = 500;
	o.io_timeout_ms = 2000;
	o.admin_timeout_ms = 2000;
	o.keep_alive_timeout_ms = 4000;
	o.connect_timeout_ms = 3000;
	CHECK(fq_ctrlr_connect(&e->trid, &o, &c) == 0, "connect: %s", fq_last_error());
	ns = fq_ctrlr_get_ns(c, fq_ctrlr_first_ns(c));
	CHECK(ns && fq_ctrlr_alloc_io_qpair(c, NULL, &qp) == 0, "qpair: %s", fq_last_error());
	memset(k, 0, sizeof(k));
	for (int i = 0; i < 8; i++) {
		k[i].errs = &errs;
		k[i].oks = &oks;
	}
	CHECK(system(e->stop_cmd) == 0, "stop command failed");
	pump(e, qp, ns, k, 8, buf, 200, false);
	inflight = outstanding(k, 8);
	CHECK(inflight > 0, "nothing in flight");
	t0 = now_ms();
	/* io_timeout, then the abort grace (at least 1 s), then the reset. */
	limit = o.io_timeout_ms + 1000 + 3000;
	while (outstanding(k, 8) && now_ms() - t0 < limit + 5000)
		fq_qpair_wait(qp, 100);
	printf("  %d commands in flight to a frozen target completed after %llu ms, %d with an "
	       "error\n",
	       inflight, (unsigned long long)(now_ms() - t0), errs);
	CHECK(!outstanding(k, 8), "commands still outstanding");
	CHECK(now_ms() - t0 <= limit, "took longer than the timeout allows");
	CHECK(errs == inflight, "%d of %d failed", errs, inflight);
	CHECK(system(e->cont_cmd) == 0, "cont command failed");
	t0 = now_ms();
	while (fq_qpair_get_state(qp) != FQ_QPAIR_LIVE && now_ms() - t0 < 60000)
		fq_qpair_wait(qp, 100);
	CHECK(fq_qpair_get_state(qp) == FQ_QPAIR_LIVE, "qpair did not come back (%s)",
	      fq_ctrlr_state_name(fq_ctrlr_get_state(c)));
	CHECK(fq_ns_write_sync(ns, qp, buf, 0, (uint32_t)(sizeof(buf) / fq_ns_get_sector_size(ns)),
			       0, NULL) == 0,
	      "write after recovery");
	fq_qpair_free(qp);
	CHECK(fq_ctrlr_disconnect(c) == 0, "disconnect");
	return 0;
}

/* Keep-alive runs on its own: an idle controller with a short KATO survives. */
int t_keepalive_idle(struct fenv *e)
{
	struct fq_ctrlr_opts o = e->opts;
	struct fq_ctrlr *c;
	uint32_t res;

	o.keep_alive_timeout_ms = 1000;
	CHECK(fq_ctrlr_connect(&e->trid, &o, &c) == 0, "connect: %s", fq_last_error());
	sleep(4);
	CHECK(fq_ctrlr_get_state(c) == FQ_CTRLR_LIVE, "state %s",
	      fq_ctrlr_state_name(fq_ctrlr_get_state(c)));
	CHECK(fq_ctrlr_get_reconnects(c) == 0, "controller was lost while idle");
	CHECK(fq_ctrlr_get_feature(c, 0x0f, 0, 0, 0, NULL, 0, &res) == 0, "Get Features KATO: %s",
	      fq_last_error());
	CHECK(res == 1000, "target reports KATO %u ms", res);
	CHECK(fq_ctrlr_disconnect(c) == 0, "disconnect");
	return 0;
}
