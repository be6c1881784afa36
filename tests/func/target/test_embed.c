/* SPDX-License-Identifier: MIT */
/*
 * A target embedded through fabriq/target.h, reached through fabriq/host.h
 * in the same process: a RAM namespace on a loopback port the kernel picks,
 * data written and read back, the discovery log pointing at that port, then
 * a clean stop. Also: what the configuration calls refuse, and live changes
 * (fq_target_live_*) seen by a connected host.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fabriq/host.h"
#include "fabriq/nvme_spec.h"
#include "fabriq/target.h"

#define NQN "nqn.2026-11.io.fabriq:embed"

static struct fq_target *start_target(uint16_t *port)
{
	struct fq_target_port_info pi;
	struct fq_target_opts opts;
	struct fq_target *t;

	fq_target_opts_init(&opts, sizeof(opts));
	opts.reactors = 1;
	opts.log_level = FQ_LOG_WARN;
	assert_int_equal(fq_target_create(&opts, &t), 0);
	assert_int_equal(fq_target_add_port(t, "io", "127.0.0.1:0", false), 0);
	assert_int_equal(fq_target_add_subsystem(t, NQN), 0);
	assert_int_equal(fq_target_add_ns(t, NQN, "ram:16M,bs=4096"), 0);
	if (fq_target_start(t))
		fail_msg("start: %s", fq_target_last_error(t));
	assert_int_equal(fq_target_get_port(t, 0, &pi), 0);
	assert_string_equal(pi.addr, "127.0.0.1");
	assert_false(pi.discovery_only);
	assert_int_not_equal(pi.port, 0);
	assert_int_equal(fq_target_get_port(t, 1, &pi), -ENOENT);
	*port = pi.port;
	return t;
}

static void test_write_read_back(void **state)
{
	struct fq_target_subsys_info si;
	struct fq_target_ns_info ni;
	struct fq_disc_entry *ents;
	struct fq_ctrlr *ctrlr;
	struct fq_qpair *qp;
	struct fq_trid trid;
	struct fq_target *t;
	struct fq_ns *ns;
	uint8_t *wbuf, *rbuf;
	uint16_t port;
	const struct fq_id_ctrl *id;
	char s[512];
	int n, i;

	(void)state;
	t = start_target(&port);
	assert_int_equal(fq_target_get_num_reactors(t), 1);
	assert_int_equal(fq_target_get_subsystem(t, 0, &si), 0);
	assert_string_equal(si.nqn, NQN);
	assert_true(si.allow_any_host);
	assert_int_equal(si.num_ns, 1);
	assert_int_equal(fq_target_get_ns(t, 0, 0, &ni), 0);
	assert_int_equal(ni.nsid, 1);
	assert_int_equal(ni.block_size, 4096);
	assert_int_equal(ni.num_blocks, 4096);
	assert_int_equal(fq_target_get_ns(t, 0, 1, &ni), -ENOENT);
	assert_int_equal(fq_target_get_subsystem(t, 1, &si), -ENOENT);

	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	assert_int_equal(fq_ctrlr_connect(&trid, NULL, &ctrlr), 0);
	id = fq_ctrlr_get_identify(ctrlr);
	assert_memory_equal(id->subnqn, NQN, sizeof(NQN));
	assert_int_equal(fq_ctrlr_num_ns(ctrlr), 1);
	ns = fq_ctrlr_get_ns(ctrlr, 1);
	assert_non_null(ns);
	assert_int_equal(fq_ns_get_sector_size(ns), 4096);
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);

	wbuf = malloc(64 * 1024);
	rbuf = calloc(1, 64 * 1024);
	assert_non_null(wbuf);
	assert_non_null(rbuf);
	for (i = 0; i < 64 * 1024; i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(fq_ns_write_sync(ns, qp, wbuf, 100, 16, 0, NULL), 0);
	assert_int_equal(fq_ns_read_sync(ns, qp, rbuf, 100, 16, NULL), 0);
	assert_memory_equal(wbuf, rbuf, 64 * 1024);
	free(wbuf);
	free(rbuf);
	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);

	/* The discovery log reports the port the kernel picked. */
	snprintf(s, sizeof(s), "traddr:127.0.0.1 trsvcid:%u", port);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	n = fq_discover(&trid, NULL, 0, &ents);
	assert_true(n >= 1);
	snprintf(s, sizeof(s), "%u", port);
	for (i = 0; i < n && strcmp(ents[i].subnqn, NQN); i++)
		;
	assert_true(i < n);
	assert_string_equal(ents[i].trsvcid, s);
	free(ents);

	fq_target_stop(t);
	fq_target_stop(t); /* idempotent */
	assert_int_equal(fq_target_get_port(t, 0, &(struct fq_target_port_info){0}), -EINVAL);
	fq_target_destroy(t);
}

static void test_refusals(void **state)
{
	struct fq_target *t;
	uint16_t port;

	(void)state;
	assert_int_equal(fq_target_create(NULL, &t), 0);
	assert_string_equal(fq_target_last_error(t), "");
	assert_int_equal(fq_target_add_port(t, "io", "localhost", false), -EINVAL);
	assert_non_null(strstr(fq_target_last_error(t), "localhost"));
	assert_int_equal(fq_target_add_ns(t, NQN, "ram:1M"), -ENOENT);
	assert_int_equal(fq_target_add_subsystem(t, NQN), 0);
	assert_int_equal(fq_target_add_subsystem(t, NQN), -EEXIST);
	assert_int_equal(fq_target_add_ns(t, NQN, "tape:1M"), -EINVAL);
	assert_int_equal(fq_target_add_host(t, NQN, "not an nqn"), -EINVAL);
	assert_int_equal(fq_target_reload_config(t), -ENOENT);
	/* No port: the configuration check at start refuses it, for good. */
	assert_int_equal(fq_target_start(t), -EINVAL);
	assert_non_null(strstr(fq_target_last_error(t), "port"));
	assert_int_equal(fq_target_start(t), -EBUSY);
	fq_target_destroy(t);
	fq_target_destroy(NULL);

	/* Live changes are for a running target. */
	assert_int_equal(fq_target_create(NULL, &t), 0);
	assert_int_equal(fq_target_live_create_subsystem(t, NQN, NULL, NULL, true), -EINVAL);
	assert_int_equal(fq_target_live_disconnect(t, 1), -EINVAL);
	fq_target_destroy(t);

	/* A running target takes no more configuration. */
	t = start_target(&port);
	assert_int_equal(fq_target_add_ns(t, NQN, "ram:1M"), -EBUSY);
	assert_int_equal(fq_target_add_port(t, "x", "127.0.0.1:0", false), -EBUSY);
	fq_target_destroy(t);
}

static atomic_uint aen_count, aen_cdw0;

static void on_aen(void *arg, uint32_t cdw0)
{
	(void)arg;
	atomic_store(&aen_cdw0, cdw0);
	atomic_fetch_add(&aen_count, 1);
}

/* Wait up to 5 s for the host to have seen @n events. */
static void wait_aens(unsigned n)
{
	for (int i = 0; i < 500 && atomic_load(&aen_count) < n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&aen_count), n);
	/* Notice, Namespace Attribute Changed, Changed Namespace List (log 04h). */
	assert_int_equal(atomic_load(&aen_cdw0), 0x02 | (0x04 << 16));
}

static int on_reactor(void *arg)
{
	/* Only a reactor runs this: the caller waits. */
	(*(int *)arg)++;
	return 42;
}

static void test_live_changes(void **state)
{
	struct fq_target_ctrl_info ci;
	struct fq_target_ns_stats st;
	struct fq_target_subsys_detail d;
	struct fq_ctrlr_opts opts;
	struct fq_ctrlr *ctrlr;
	struct fq_qpair *qp;
	struct fq_trid trid;
	struct fq_target *t;
	struct fq_ns *ns;
	uint32_t nsid = 0;
	int ran = 0;
	uint16_t port;
	char s[512];
	uint8_t *buf;

	(void)state;
	t = start_target(&port);
	snprintf(s, sizeof(s), "trtype:TCP traddr:127.0.0.1 trsvcid:%u subnqn:%s", port, NQN);
	assert_int_equal(fq_trid_parse(&trid, s), 0);
	fq_ctrlr_opts_init(&opts, sizeof(opts));
	opts.aer_cb = on_aen;
	assert_int_equal(fq_ctrlr_connect(&trid, &opts, &ctrlr), 0);
	assert_int_equal(fq_ctrlr_alloc_io_qpair(ctrlr, NULL, &qp), 0);

	/* A namespace added while the host is connected: event, rescan, I/O. */
	if (fq_target_live_add_ns(t, NQN, "ram:8M,bs=4096", 0, &nsid))
		fail_msg("live add: %s", fq_target_last_error(t));
	assert_int_equal(nsid, 2);
	wait_aens(1);
	assert_int_equal(fq_ctrlr_rescan_ns(ctrlr), 0);
	ns = fq_ctrlr_get_ns(ctrlr, 2);
	assert_non_null(ns);
	buf = calloc(1, 4096);
	assert_non_null(buf);
	memset(buf, 0x5a, 4096);
	assert_int_equal(fq_ns_write_sync(ns, qp, buf, 7, 1, 0, NULL), 0);
	memset(buf, 0, 4096);
	assert_int_equal(fq_ns_read_sync(ns, qp, buf, 7, 1, NULL), 0);
	assert_int_equal(buf[4095], 0x5a);
	free(buf);
	assert_int_equal(fq_target_get_ns_stats(t, 0, 1, &st), 0);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.bytes_written, 4096);
	assert_int_equal(st.errors, 0);

	/* The controller as the target sees it. */
	assert_int_equal(fq_target_get_controller(t, 0, &ci), 0);
	assert_string_equal(ci.subnqn, NQN);
	assert_string_equal(ci.port_name, "io");
	assert_true(ci.io_queues >= 1);
	assert_int_equal(ci.kato_ms, 5000);
	assert_int_equal(fq_target_get_controller(t, 1, &ci), -ENOENT);

	/* Hosts and allow-any-host. */
	assert_int_equal(fq_target_live_add_host(t, NQN, "nqn.2026-11.io.fabriq:h1"), 0);
	assert_int_equal(fq_target_live_add_host(t, NQN, "nqn.2026-11.io.fabriq:h1"), -EEXIST);
	assert_int_equal(fq_target_live_add_host(t, NQN, "bad"), -EINVAL);
	assert_int_equal(fq_target_get_host(t, 0, 0, s), 0);
	assert_string_equal(s, "nqn.2026-11.io.fabriq:h1");
	assert_int_equal(fq_target_get_host(t, 0, 1, s), -ENOENT);
	assert_int_equal(fq_target_live_allow_any_host(t, NQN, false), 0);
	assert_int_equal(fq_target_get_subsystem_detail(t, 0, &d), 0);
	assert_int_equal(d.num_hosts, 1);
	assert_int_equal(d.ports, 1);
	assert_int_equal(fq_target_live_remove_host(t, NQN, "nqn.2026-11.io.fabriq:h1"), 0);
	assert_int_equal(fq_target_live_remove_host(t, NQN, "nqn.2026-11.io.fabriq:h1"), -ENOENT);
	assert_int_equal(fq_target_live_allow_any_host(t, NQN, true), 0);

	/* Removal: another event, and the namespace is gone after a rescan. */
	assert_int_equal(fq_target_live_remove_ns(t, NQN, 2), 0);
	assert_int_equal(fq_target_live_remove_ns(t, NQN, 2), -ENOENT);
	wait_aens(2);
	assert_int_equal(fq_ctrlr_rescan_ns(ctrlr), 0);
	assert_null(fq_ctrlr_get_ns(ctrlr, 2));
	assert_int_equal(fq_ctrlr_num_ns(ctrlr), 1);

	/* Subsystems. */
	assert_int_equal(
		fq_target_live_create_subsystem(t, "nqn.2026-11.io.fabriq:two", "S2", NULL, true),
		0);
	assert_int_equal(fq_target_live_create_subsystem(t, NQN, NULL, NULL, true), -EEXIST);
	assert_int_equal(fq_target_live_create_subsystem(t, "two", NULL, NULL, true), -EINVAL);
	assert_int_equal(fq_target_live_add_ns(t, "nqn.2026-11.io.fabriq:none", "ram:1M", 0, &nsid),
			 -ENOENT);
	assert_int_equal(fq_target_live_delete_subsystem(t, "nqn.2026-11.io.fabriq:two"), 0);
	assert_int_equal(fq_target_live_delete_subsystem(t, "nqn.2026-11.io.fabriq:two"), -ENOENT);

	/* A function run on a reactor's thread, its value returned; a bad index refused. */
	assert_int_equal(fq_target_run_on_reactor(t, 0, on_reactor, &ran), 42);
	assert_int_equal(ran, 1);
	assert_int_equal(
		fq_target_run_on_reactor(t, fq_target_get_num_reactors(t), on_reactor, &ran),
		-EINVAL);
	/* A changed namespace is announced (the size is what Identify reads). */
	assert_int_equal(fq_target_live_ns_changed(t, NQN, 1), 0);
	wait_aens(3);
	assert_int_equal(fq_target_live_ns_changed(t, NQN, 9), -ENOENT);
	assert_int_equal(fq_target_live_ns_changed(t, "nqn.2026-11.io.fabriq:none", 1), -ENOENT);

	assert_int_equal(fq_qpair_free(qp), 0);
	assert_int_equal(fq_ctrlr_disconnect(ctrlr), 0);
	fq_target_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_back),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_live_changes),
	};

	/* A host may close its socket while the target still sends. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
