/* SPDX-License-Identifier: MIT */
/*
 * fabriqd configuration: the INI loader (good files and one test per error
 * class, with the exact line and key), the size/listen/namespace parsers,
 * NQN rules and fq_conf_validate (nsid assignment, derived identifiers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/nvmf.h"
#include "target/config.h"
#include "target/state.h"
#include "volume/volume.h"

#define NQN1 "nqn.2024-01.io.fabriq:test"
#define NQN2 "nqn.2024-01.io.fabriq:other"
#define HOST1 "nqn.2014-08.org.nvmexpress:uuid:6a1c7e5e-64a4-4a41-9b55-5c8f2b2f4a10"
#define HOST2 "nqn.2024-01.io.fabriq:host2"

static char tmp_path[64];
static char err[1024];

/* Write @text to a fresh temporary .ini file; its name goes to tmp_path. */
static void write_tmp(const char *text)
{
	FILE *f;
	int fd;

	strcpy(tmp_path, "/tmp/fq-conf-XXXXXX.ini");
	fd = mkstemps(tmp_path, 4);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static int load_text(struct fq_target_conf *c, const char *text)
{
	int r;

	fq_conf_init(c);
	write_tmp(text);
	err[0] = '\0';
	r = fq_conf_load_file(c, tmp_path, err, sizeof(err));
	unlink(tmp_path);
	return r;
}

/*
 * Loading @text must fail with "FILE:LINE: key 'KEY': ..." (or
 * "FILE:LINE: ..." when @key is NULL) and the message must contain @what.
 */
static void expect_load_error(const char *text, int line, const char *key, const char *what)
{
	struct fq_target_conf c;
	char prefix[256];
	int r = load_text(&c, text);

	if (key)
		snprintf(prefix, sizeof(prefix), "%s:%d: key '%s': ", tmp_path, line, key);
	else
		snprintf(prefix, sizeof(prefix), "%s:%d: ", tmp_path, line);
	if (r != -EINVAL || strncmp(err, prefix, strlen(prefix)) || !strstr(err, what))
		fail_msg("file:\n%s\nexpected '%s...%s', got %d '%s'", text, prefix, what, r, err);
	fq_conf_free(&c);
}

#define PORT_A "[port \"a\"]\naddress = 127.0.0.1\nport = 4420\n"
#define SUB1 "[subsystem \"" NQN1 "\"]\nnamespace = ram:1M\n"

/* ---- good files ---- */

static void defaults(void **state)
{
	struct fq_target_conf c;

	(void)state;
	fq_conf_init(&c);
	assert_int_equal(c.reactors, 0);
	assert_int_equal(c.busy_poll_us, 0);
	assert_int_equal(c.max_connections, 1024);
	assert_int_equal(c.max_queue_size, 128);
	assert_int_equal(c.max_io_queues, 64);
	assert_int_equal(c.in_capsule_size, 8192);
	assert_int_equal(c.max_h2c_data, 131072);
	assert_int_equal(c.max_transfer, 131072);
	assert_int_equal(c.buffers_per_reactor, 256);
	assert_int_equal(c.kato_min_ms, 1000);
	assert_int_equal(c.log_level, 2);
	assert_int_equal(c.nports, 0);
	assert_int_equal(c.nsubsys, 0);
	assert_null(c.subsys);
	fq_conf_free(&c);
}

static const char full_file[] = "; a complete file\n"
				"[target]\n"
				"reactors = 2\n"
				"busy_poll_us = 50          ; spin a little\n"
				"max_connections = 100\n"
				"max_queue_size = 256\n"
				"max_io_queues = 8\n"
				"in_capsule_data = 4k\n"
				"max_h2c_data = 65536\n"
				"max_transfer = 256KiB\n"
				"buffers_per_reactor = 64\n"
				"kato_min_ms = 500\n"
				"log_level = debug\n"
				"\n"
				"[port \"data\"]\n"
				"address = ::1\n"
				"port = 4421\n"
				"[port \"disc\"]\n"
				"address = 127.0.0.1\n"
				"discovery_only = yes\n"
				"[port:other]\n"
				"address = localhost\n"
				"port = 4430\n"
				"discovery_only = off\n"
				"\n"
				"[subsystem \"" NQN1 "\"]\n"
				"serial = SN123\n"
				"model = Test model\n"
				"allow_host = " HOST1 "\n"
				"allow_host = " HOST2 "\n"
				"ports = data, other\n"
				"namespace = ram:1G\n"
				"namespace = file:/var/tmp/x.img:1G,direct=1,nsid=5\n"
				"namespace = null:64M,bs=4096\n"
				"\n"
				"[subsystem:" NQN2 "]\n"
				"namespace = ram:1M\n";

static void load_full_file(void **state)
{
	struct fq_target_conf c;
	struct fq_subsys_conf *s;

	(void)state;
	assert_int_equal(load_text(&c, full_file), 0);
	assert_int_equal(c.reactors, 2);
	assert_int_equal(c.busy_poll_us, 50);
	assert_int_equal(c.max_connections, 100);
	assert_int_equal(c.max_queue_size, 256);
	assert_int_equal(c.max_io_queues, 8);
	assert_int_equal(c.in_capsule_size, 4096);
	assert_int_equal(c.max_h2c_data, 65536);
	assert_int_equal(c.max_transfer, 262144);
	assert_int_equal(c.buffers_per_reactor, 64);
	assert_int_equal(c.kato_min_ms, 500);
	assert_int_equal(c.log_level, 3);

	assert_int_equal(c.nports, 3);
	assert_string_equal(c.ports[0].name, "data");
	assert_string_equal(c.ports[0].addr, "::1");
	assert_int_equal(c.ports[0].port, 4421);
	assert_false(c.ports[0].discovery_only);
	assert_string_equal(c.ports[1].name, "disc");
	assert_true(c.ports[1].discovery_only);
	assert_string_equal(c.ports[2].name, "other");
	assert_string_equal(c.ports[2].addr, "127.0.0.1");

	assert_int_equal(c.nsubsys, 2);
	s = &c.subsys[0];
	assert_string_equal(s->nqn, NQN1);
	assert_string_equal(s->serial, "SN123");
	assert_string_equal(s->model, "Test model");
	assert_false(s->allow_any_host);
	assert_int_equal(s->nhosts, 2);
	assert_string_equal(s->hosts[0], HOST1);
	assert_string_equal(s->hosts[1], HOST2);
	assert_int_equal(s->nports, 2);
	assert_int_equal(s->ports[0], 0);
	assert_int_equal(s->ports[1], 2);
	assert_int_equal(s->nns, 3);
	assert_int_equal(s->ns[0].bdev.kind, FQ_BDEV_RAM);
	assert_int_equal(s->ns[0].bdev.size, 1ULL << 30);
	assert_int_equal(s->ns[1].bdev.kind, FQ_BDEV_FILE);
	assert_ptr_equal(s->ns[1].bdev.path, s->ns[1].path);
	assert_string_equal(s->ns[1].path, "/var/tmp/x.img");
	assert_true(s->ns[1].bdev.direct);
	assert_true(s->ns[1].bdev.create);
	assert_int_equal(s->ns[2].bdev.kind, FQ_BDEV_NULL);
	assert_int_equal(s->ns[2].bdev.block_size, 4096);

	s = &c.subsys[1];
	assert_string_equal(s->nqn, NQN2);
	assert_true(s->allow_any_host);
	assert_int_equal(s->nports, 0);

	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	/* Explicit nsid 5 stays; the others count up from 1 in file order. */
	assert_int_equal(c.subsys[0].ns[0].nsid, 1);
	assert_int_equal(c.subsys[0].ns[1].nsid, 5);
	assert_int_equal(c.subsys[0].ns[2].nsid, 2);
	/* discovery_only port defaults to 8009 and is left out of default port lists. */
	assert_int_equal(c.ports[1].port, 8009);
	assert_int_equal(c.subsys[1].nports, 2);
	assert_int_equal(c.subsys[1].ports[0], 0);
	assert_int_equal(c.subsys[1].ports[1], 2);
	fq_conf_free(&c);
}

/* The shipped example must always load and validate. */
static void load_example_file(void **state)
{
	const char *dir = getenv("FQ_EXAMPLES_DIR");
	struct fq_target_conf c;
	char path[512];

	(void)state;
	if (!dir)
		fail_msg("FQ_EXAMPLES_DIR is not set: run this test through meson");
	snprintf(path, sizeof(path), "%s/fabriqd.ini", dir);
	fq_conf_init(&c);
	if (fq_conf_load_file(&c, path, err, sizeof(err)) < 0 ||
	    fq_conf_validate(&c, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(c.nsubsys >= 1);
	assert_true(c.nports >= 1);
	fq_conf_free(&c);
}

/* NQNs up to 223 bytes in section headers and values: past inih's own limits. */
static void load_long_names(void **state)
{
	char nqn[224], host[224], text[2048];
	struct fq_target_conf c;

	(void)state;
	memset(nqn, 'a', 223);
	memcpy(nqn, "nqn.2024-01.io.fabriq:", 22);
	nqn[223] = '\0';
	strcpy(host, nqn);
	host[22] = 'h';
	snprintf(text, sizeof(text),
		 PORT_A "[subsystem \"%s\"]\nallow_host = %s\nnamespace = ram:1M\n"
			"namespace = file:/tmp/%s.img:1M\n",
		 nqn, host, host + 22);
	if (load_text(&c, text) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.nsubsys, 1);
	assert_string_equal(c.subsys[0].nqn, nqn);
	assert_string_equal(c.subsys[0].hosts[0], host);
	assert_int_equal(strlen(c.subsys[0].ns[1].path), 5 + 223 - 22 + 4);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	fq_conf_free(&c);
}

/* A subsystem may name ports that are defined further down the file. */
static void load_ports_defined_later(void **state)
{
	struct fq_target_conf c;

	(void)state;
	assert_int_equal(load_text(&c, SUB1 "ports = late\n" PORT_A "[port \"late\"]\n"
					    "address = 10.0.0.1\n"),
			 0);
	assert_int_equal(c.subsys[0].nports, 1);
	assert_int_equal(c.subsys[0].ports[0], 1);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(c.ports[1].port, 4420);
	fq_conf_free(&c);
}

static void allow_any_host_rules(void **state)
{
	static const struct {
		const char *keys;
		bool any;
	} cases[] = {
		{"", true},
		{"allow_host = " HOST1 "\n", false},
		{"allow_any_host = yes\nallow_host = " HOST1 "\n", true},
		{"allow_host = " HOST1 "\nallow_any_host = true\n", true},
		{"allow_any_host = no\nallow_host = " HOST1 "\n", false},
	};
	struct fq_target_conf c;
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), PORT_A SUB1 "%s", cases[i].keys);
		assert_int_equal(load_text(&c, text), 0);
		assert_int_equal(c.subsys[0].allow_any_host, cases[i].any);
		assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
		fq_conf_free(&c);
	}
}

/* ---- load errors: every class names the file, the line and the key ---- */

static void error_numbers(void **state)
{
	(void)state;
	expect_load_error("[target]\nreactors = 1\nmax_queue_size = 8\n", 3, "max_queue_size",
			  "8 is below the minimum 16");
	expect_load_error("[target]\nmax_io_queues = 2000\n", 2, "max_io_queues",
			  "2000 is above the maximum 1024");
	expect_load_error("[target]\n\n\nin_capsule_data = 100\n", 4, "in_capsule_data",
			  "100 is not a multiple of 16");
	expect_load_error("[target]\nmax_h2c_data = 4098\n", 2, "max_h2c_data",
			  "4098 is not a multiple of 4");
	expect_load_error("[target]\nmax_transfer = 12k\n", 2, "max_transfer",
			  "12288 is not a power of two");
	expect_load_error("[target]\nmax_connections = 12x\n", 2, "max_connections",
			  "'12x' is not a valid number");
	expect_load_error("[target]\nreactors = -1\n", 2, "reactors", "'-1' is not a valid number");
	expect_load_error("[target]\nbusy_poll_us = 99999999999999999999999\n", 2, "busy_poll_us",
			  "is too large");
	expect_load_error("[target]\nbuffers_per_reactor = 4294967297\n", 2, "buffers_per_reactor",
			  "above the maximum");
	expect_load_error("[target]\nreactors = 18446744073709551615\n", 2, "reactors",
			  "18446744073709551615' is too large");
	expect_load_error("[target]\nreactors = 1025\n", 2, "reactors",
			  "1025 is above the maximum 1024");
	expect_load_error("[target]\nkato_min_ms =\n", 2, "kato_min_ms", "not a valid number");
	expect_load_error("[target]\nmax_transfer = 1.5M\n", 2, "max_transfer", "not a valid size");
	expect_load_error("[target]\nlog_level = loud\n", 2, "log_level",
			  "'loud' is not one of error, warn, info, debug");
}

static void error_keys(void **state)
{
	(void)state;
	expect_load_error("[target]\nmax_queue_sise = 64\n", 2, "max_queue_sise",
			  "did you mean 'max_queue_size'?");
	expect_load_error(PORT_A "colour = blue\n", 4, "colour", "unknown key");
	expect_load_error(PORT_A SUB1 "namespaces = ram:1M\n", 6, "namespaces",
			  "did you mean 'namespace'?");
	expect_load_error("reactors = 2\n", 1, "reactors", "keys must follow a section header");
	expect_load_error("[target]\nreactors = 2\nreactors = 3\n", 3, "reactors",
			  "given twice in this section (first on line 2)");
	expect_load_error(PORT_A "port = 4421\n", 4, "port", "given twice");
	expect_load_error(PORT_A SUB1 "serial = A\nserial = B\n", 7, "serial", "given twice");
}

static void error_ports(void **state)
{
	(void)state;
	expect_load_error("[port \"a\"]\naddress = example.com\n", 2, "address",
			  "'example.com' is not a numeric IPv4 or IPv6 address");
	expect_load_error("[port \"a\"]\naddress = [::1]\n", 2, "address", "without brackets");
	expect_load_error("[port \"a\"]\nport = 0\n", 2, "port", "'0' is not a TCP port");
	expect_load_error("[port \"a\"]\nadvertise = 10.0.0.1\n", 2, "advertise",
			  "'10.0.0.1' is not ADDR:PORT");
	expect_load_error("[port \"a\"]\nadvertise = host.example:4420\n", 2, "advertise",
			  "is not ADDR:PORT");
	expect_load_error("[port \"a\"]\nadvertise = 10.0.0.1:0\n", 2, "advertise",
			  "is not ADDR:PORT");
	expect_load_error("[port \"a\"]\nadvertise = [2001:db8::1:4420\n", 2, "advertise",
			  "is not ADDR:PORT");
	expect_load_error("[port \"a\"]\nadvertise = 10.0.0.1:1\nadvertise = 10.0.0.1:2\n", 3,
			  "advertise", "given twice");
	expect_load_error("[port \"a\"]\nport = 70000\n", 2, "port", "not a TCP port");
	expect_load_error("[port \"a\"]\ndiscovery_only = maybe\n", 2, "discovery_only",
			  "'maybe' is not a boolean");
	expect_load_error(PORT_A "[port \"a\"]\n", 4, NULL,
			  "port 'a' is defined twice (first on line 1)");
	expect_load_error("[port \"a b\"]\n", 1, NULL, "a port name is");
	expect_load_error("[port]\n", 1, NULL, "needs a name");
}

static void error_subsystems(void **state)
{
	(void)state;
	expect_load_error(PORT_A SUB1 "\n" SUB1, 7, NULL,
			  "subsystem defined twice (first on line 4)");
	expect_load_error("[subsystem \"" FQ_DISCOVERY_NQN "\"]\n", 1, NULL,
			  "the discovery NQN is reserved");
	expect_load_error("[subsystem \"iqn.2024-01.io.fabriq:x\"]\n", 1, NULL,
			  "does not start with 'nqn.yyyy-mm.'");
	expect_load_error(SUB1 "serial = 123456789012345678901\n", 3, "serial",
			  "is 21 characters, the maximum is 20");
	expect_load_error(SUB1 "model = 12345678901234567890123456789012345678901\n", 3, "model",
			  "the maximum is 40");
	expect_load_error(SUB1 "allow_any_host = perhaps\n", 3, "allow_any_host", "not a boolean");
	expect_load_error(SUB1 "allow_host = nqn.bad\n", 3, "allow_host",
			  "NQN 'nqn.bad' does not start with");
	expect_load_error(SUB1 "allow_host = " HOST1 "\nallow_host = " HOST1 "\n", 4, "allow_host",
			  "listed twice");
	expect_load_error(SUB1 "namespace = ram:12Q\n", 3, "namespace",
			  "namespace 'ram:12Q': bad size '12Q'");
	/* ports names are checked at the end, but reported at their own line. */
	expect_load_error(PORT_A SUB1 "ports = a b\n[port \"c\"]\naddress = ::1\n", 6, "ports",
			  "no port named 'b'");
	expect_load_error(PORT_A SUB1 "ports = aa\n", 6, "ports", "did you mean 'a'?");
	expect_load_error(PORT_A SUB1 "ports = a a\n", 6, "ports", "listed twice");
	expect_load_error("[port \"d\"]\naddress = ::1\ndiscovery_only = 1\n" SUB1 "ports = d\n", 6,
			  "ports", "port 'd' is discovery_only");
	expect_load_error(PORT_A SUB1 "ports = ,\n", 6, "ports", "empty list");
}

static void error_syntax(void **state)
{
	char text[10000];

	(void)state;
	expect_load_error(PORT_A "[subsytem \"" NQN1 "\"]\n", 4, NULL, "did you mean 'subsystem'?");
	expect_load_error("[global]\n", 1, NULL, "unknown section '[global]'");
	/* [pool] sections: their keys are checked by the volume engine's reader. */
	expect_load_error("[pool \"p\"]\nbdev = disk:/x\n", 2, "bdev", "expected ram:SIZE");
	expect_load_error("[pool \"p\"]\nsize = 1M\n", 2, "size", "unknown key 'size'");
	expect_load_error("[pool \"p\"]\nvolume = v\n", 2, "volume", "NAME:SIZE[:thick]");
	expect_load_error("[pool \"p\"]\ncluster_size = 3K\n", 2, "cluster_size", "a power of two");
	expect_load_error("[pool \"p\"]\n[pool \"p\"]\n", 2, NULL, "defined twice");
	expect_load_error("[pool \"a/b\"]\n", 1, NULL, "without '/'");
	expect_load_error("[pol \"p\"]\n", 1, NULL, "did you mean 'pool'?");
	expect_load_error("[target]\n[target]\n", 2, NULL, "given twice (first on line 1)");
	expect_load_error("[target \"x\"]\n", 1, NULL, "takes no name");
	expect_load_error("\n[port \"a\"\n", 2, NULL, "without a closing ']'");
	expect_load_error("[port \"a\"] junk\n", 1, NULL, "unexpected text after ']'");
	expect_load_error("[port \"a]\n", 1, NULL, "expected [KIND]");
	expect_load_error("[target]\nreactors = 1\njust words\n", 3, NULL, "syntax error");
	expect_load_error(PORT_A "  [target]\n", 4, NULL, "must start in the first column");
	/* The first error wins, even with more below it. */
	expect_load_error("[target]\nreactors = x\nmax_queue_size = 1\n", 2, "reactors",
			  "not a valid number");
	memset(text, 'x', sizeof(text));
	memcpy(text, "[target]\n; ", 11);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	expect_load_error(text, 2, NULL, "line is longer than");
}

static void error_missing_file(void **state)
{
	struct fq_target_conf c;

	(void)state;
	fq_conf_init(&c);
	assert_int_equal(fq_conf_load_file(&c, "/nonexistent/fabriqd.ini", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/fabriqd.ini"));
	fq_conf_free(&c);
}

/* ---- value parsers ---- */

static void parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"0", 0},
		{"512", 512},
		{"4k", 4096},
		{"4K", 4096},
		{"4KB", 4096},
		{"1M", 1 << 20},
		{"512MiB", 512ULL << 20},
		{"2g", 2ULL << 30},
		{"3T", 3ULL << 40},
		{"100B", 100},
		{"16777215T", 16777215ULL << 40},
		{"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {
		"",
		"-1",
		" 1",
		"1 ",
		"+1",
		"1.5G",
		"12Q",
		"k",
		"M1",
		"1iB",
		"1Mb",
		"1MiBB",
		"0x10",
		"16777216T",
		"18446744073709551616",
		"99999999999999999999999G",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (fq_conf_parse_size(good[i].s, &v) != 0 || v != good[i].v)
			fail_msg("'%s' -> %llu", good[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (fq_conf_parse_size(bad[i], &v) != -EINVAL || v != 7)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static void parse_listen(void **state)
{
	static const struct {
		const char *s, *addr;
		uint16_t port;
	} good[] = {
		{"1.2.3.4:4420", "1.2.3.4", 4420},   {"[::1]:4420", "::1", 4420},
		{"[fe80::1:2]:1", "fe80::1:2", 1},   {"localhost:8009", "127.0.0.1", 8009},
		{"0.0.0.0:65535", "0.0.0.0", 65535},
	};
	static const char *const bad[] = {
		"::1:4420",
		"1.2.3.4",
		"1.2.3.4:",
		"1.2.3.4:0",
		":4420",
		"1.2.3.4:65536",
		"1.2.3.4:44x",
		"1.2.3.4:-1",
		"host.example:4420",
		"[1.2.3.4]:4420",
		"[::1]4420",
		"[::1]",
		"[]:4420",
		"1.2.3:4420",
		"[localhost]:4420",
		"",
	};
	char addr[64];
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		port = 0;
		if (fq_conf_parse_listen(good[i].s, addr, sizeof(addr), &port) != 0 ||
		    strcmp(addr, good[i].addr) || port != good[i].port)
			fail_msg("'%s' -> '%s' %u", good[i].s, addr, port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fq_conf_parse_listen(bad[i], addr, sizeof(addr), &port) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	/* The address must fit the caller's buffer. */
	assert_int_equal(fq_conf_parse_listen("10.20.30.40:1", addr, 8, &port), -EINVAL);
}

static void parse_ns_good(void **state)
{
	static const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
					 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	struct fq_ns_conf ns;

	(void)state;
	assert_int_equal(fq_conf_parse_ns("ram:1G", &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_RAM);
	assert_int_equal(ns.bdev.size, 1ULL << 30);
	assert_int_equal(ns.bdev.block_size, 512);
	assert_int_equal(ns.nsid, 0);
	assert_null(ns.bdev.path);
	assert_false(ns.has_uuid || ns.has_nguid);
	fq_conf_ns_free(&ns); /* the spec text is kept for dumps */

	assert_int_equal(
		fq_conf_parse_ns("null:512M,bs=4096,nsid=0xFFFFFFFE", &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_NULL);
	assert_int_equal(ns.bdev.block_size, 4096);
	assert_int_equal(ns.nsid, 0xFFFFFFFEu);
	fq_conf_ns_free(&ns);

	/* A volume of a [pool]: no size of its own, POOL/NAME as the path. */
	assert_int_equal(fq_conf_parse_ns("vol:p0/db,nsid=7", &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_VOL);
	assert_string_equal(ns.path, "p0/db");
	assert_ptr_equal(ns.bdev.path, ns.path);
	assert_int_equal(ns.bdev.size, 0);
	assert_int_equal(ns.nsid, 7);
	fq_conf_ns_free(&ns); /* the path is the caller's to free */

	assert_int_equal(fq_conf_parse_ns("file:/var/lib/fabriq/ns2.img:1G,direct=1,nsid=5", &ns,
					  err, sizeof(err)),
			 0);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_FILE);
	assert_string_equal(ns.path, "/var/lib/fabriq/ns2.img");
	assert_ptr_equal(ns.bdev.path, ns.path);
	assert_int_equal(ns.bdev.size, 1ULL << 30);
	assert_true(ns.bdev.direct);
	assert_true(ns.bdev.create);
	assert_int_equal(ns.nsid, 5);
	fq_conf_ns_free(&ns);
	assert_null(ns.path);

	/* No size: open an existing file or device as it is. */
	assert_int_equal(fq_conf_parse_ns("file:/dev/sdz", &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.bdev.size, 0);
	assert_false(ns.bdev.create);
	assert_false(ns.bdev.direct);
	fq_conf_ns_free(&ns);

	assert_int_equal(fq_conf_parse_ns("file:/x.img:4M,create=0", &ns, err, sizeof(err)), 0);
	assert_false(ns.bdev.create);
	assert_int_equal(ns.bdev.size, 4 << 20);
	fq_conf_ns_free(&ns);

	assert_int_equal(fq_conf_parse_ns("ram:1M,uuid=12345678-9ABC-def0-0123-456789abcdef,"
					  "nguid=123456789abcdef00123456789ABCDEF",
					  &ns, err, sizeof(err)),
			 0);
	assert_true(ns.has_uuid);
	assert_true(ns.has_nguid);
	assert_memory_equal(ns.uuid, uuid, 16);
	assert_memory_equal(ns.nguid, uuid, 16);
	fq_conf_ns_free(&ns);
}

/* Stacked modules in front of the bottom spec, each ended by '+'. */
static void parse_ns_stack(void **state)
{
	struct fq_ns_conf ns;
	uint32_t d[2];

	(void)state;
	assert_int_equal(
		fq_conf_parse_ns("delay:read_us=200,write_us=500+ram:64M", &ns, err, sizeof(err)),
		0);
	assert_int_equal(ns.nlayers, 1);
	assert_int_equal(ns.layers[0].kind, FQ_BDEV_DELAY);
	memcpy(d, ns.layers[0].params, sizeof(d));
	assert_int_equal(d[0], 200);
	assert_int_equal(d[1], 500);
	assert_null(ns.layers[0].base);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_RAM);
	assert_int_equal(ns.bdev.size, 64 << 20);
	fq_conf_ns_free(&ns);

	/* Top first; namespace options stay with the bottom spec; a path may hold '+'. */
	assert_int_equal(fq_conf_parse_ns("delay,write_us=7+error:op=read,lba=8-15,sct=2,sc=0x81+"
					  "file:/srv/a+b/x.img:1M,nsid=3,bs=4096",
					  &ns, err, sizeof(err)),
			 0);
	assert_int_equal(ns.nlayers, 2);
	assert_int_equal(ns.layers[0].kind, FQ_BDEV_DELAY);
	assert_int_equal(ns.layers[1].kind, FQ_BDEV_ERROR);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_FILE);
	assert_string_equal(ns.path, "/srv/a+b/x.img");
	assert_int_equal(ns.bdev.size, 1 << 20);
	assert_int_equal(ns.bdev.block_size, 4096);
	assert_int_equal(ns.nsid, 3);
	fq_conf_ns_free(&ns);

	/* A module with no options. */
	assert_int_equal(fq_conf_parse_ns("error+null:1M", &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.nlayers, 1);
	assert_int_equal(ns.bdev.kind, FQ_BDEV_NULL);
	fq_conf_ns_free(&ns);

	/* The same text in the INI file. */
	{
		struct fq_target_conf c;

		assert_int_equal(load_text(&c,
					   PORT_A "[subsystem \"" NQN1 "\"]\n"
						  "namespace = delay:read_us=100+error:op=write,"
						  "lba=0-7,action=tear,tear=2+ram:1M\n"),
				 0);
		assert_int_equal(c.subsys[0].nns, 1);
		assert_int_equal(c.subsys[0].ns[0].nlayers, 2);
		assert_int_equal(c.subsys[0].ns[0].layers[1].kind, FQ_BDEV_ERROR);
		assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
		fq_conf_free(&c);
		expect_load_error("[subsystem \"" NQN1 "\"]\nnamespace = delay:speed=1+ram:1M\n", 2,
				  "namespace", "delay: unknown option 'speed'");
	}
}

static void parse_ns_errors(void **state)
{
	static const struct {
		const char *spec, *what;
	} bad[] = {
		{"ram:12Q", "namespace 'ram:12Q': bad size '12Q'"},
		{"ram:", "bad size ''"},
		{"ram:0", "bad size '0'"},
		{"ram", "expected ram:SIZE, null:SIZE, file:PATH[:SIZE] or bdev:NAME"},
		{"disk:/x", "expected ram:SIZE"},
		{"file:", "missing file path"},
		{"file::1G", "missing file path"},
		{"file:/a:b:1G", "bad size 'b:1G'"},
		{"file:/a,b", "option 'b' needs a value"},
		{"ram:1000", "size 1000 is not a multiple of the block size 512"},
		{"ram:1M,bs=1024", "bad bs '1024'"},
		{"ram:6k,bs=4096", "not a multiple of the block size 4096"},
		{"ram:1M,direct=1", "option 'direct' applies only to file namespaces"},
		{"null:1M,create=1", "applies only to file"},
		{"file:/a,direct=2", "bad direct '2'"},
		{"file:/a,create=1", "create=1 needs a size"},
		{"ram:1M,nsid=0", "bad nsid '0'"},
		{"ram:1M,nsid=4294967295", "bad nsid"},
		{"ram:1M,nsid=-1", "bad nsid"},
		{"ram:1M,nsid=1,nsid=2", "option 'nsid' given twice"},
		{"ram:1M,speed=9", "unknown option 'speed'"},
		{"ram:1M,", "option '' needs a value"},
		{"ram:1M,uuid=12345678-9abc-def0-0123-456789abcde", "bad uuid"},
		{"ram:1M,uuid=123456789abcdef00123456789abcdef", "bad uuid"},
		{"ram:1M,uuid=00000000-0000-0000-0000-000000000000", "not all zero"},
		{"ram:1M,nguid=123456789abcdef00123456789abcde", "bad nguid"},
		{"ram:1M,nguid=123456789abcdef00123456789abcdeg", "bad nguid"},
		{"ram:1M,nguid=123456789abcdef00123456789abcdef0", "bad nguid"},
		{"ram:1M,nguid=00000000000000000000000000000000", "not all zero"},
		{"delay:read_us=5", "module 'delay' needs a bdev under it"},
		{"delay+", "'': expected ram:SIZE"},
		{"delay:read_us=x+ram:1M", "delay: bad read_us 'x'"},
		{"delay:speed=9+ram:1M",
		 "delay: unknown option 'speed' (expected read_us, write_us)"},
		{"delay:read_us+ram:1M", "delay: option 'read_us' needs a value"},
		{"delay:read_us=1,read_us=2+ram:1M", "delay: option 'read_us' given twice"},
		{"error:action=boom+ram:1M", "error: bad action 'boom'"},
		{"error:lba=9-1+ram:1M", "error: bad lba '9-1'"},
		{"error:nsid=1+ram:1M", "error: unknown option 'nsid'"},
		{"raid:1+ram:1M", "'raid:1+ram:1M': expected ram:SIZE"},
		{"error+error+error+error+error+ram:1M", "more than 4 modules stacked at 'error'"},
		{"delay+ram:1M,read_us=5", "unknown option 'read_us'"},
	};
	struct fq_ns_conf ns;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (fq_conf_parse_ns(bad[i].spec, &ns, err, sizeof(err)) != -EINVAL ||
		    strncmp(err, "namespace '", 11) || !strstr(err, bad[i].what))
			fail_msg("'%s': got '%s', expected '%s'", bad[i].spec, err, bad[i].what);
	}
}

static void check_nqn(void **state)
{
	static const char *const good[] = {
		HOST1,
		"nqn.2016-06.io.spdk:cnode1",
		"nqn.2024-01.com.example",
		"nqn.2014-08.org.nvmexpress.discovery",
		"nqn.2024-12.com.example-corp.storage:disk 1",
	};
	static const char *const bad[] = {
		"",
		"nqn.14-08.org.x",
		"nqn.2014-13.org.x",
		"nqn.2014-00.org.x",
		"iqn.2014-08.org.x",
		"nqn.2014-08.",
		"nqn.2014-08.org..x",
		"nqn.2014-08.org.x.",
		"nqn.2014-08.:x",
		"nqn.2014-08.org_x:y",
		"nqn.2014-08.org.x:",
		"nqn.2014-08.org.x:a\tb",
		"nqn.2014-08.org.nvmexpress:uuid:6a1c7e5e-64a4-4a41-9b55-5c8f2b2f4a1",
		"nqn.2014-08.org.nvmexpress:uuid:6a1c7e5e64a44a419b555c8f2b2f4a10",
	};
	char nqn[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (fq_conf_check_nqn(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' rejected: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fq_conf_check_nqn(bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	/* 223 bytes is the limit (NVMe Base 2.0 §4.5). */
	memset(nqn, 'x', sizeof(nqn));
	memcpy(nqn, "nqn.2024-01.io.fabriq:", 22);
	nqn[223] = '\0';
	assert_int_equal(fq_conf_check_nqn(nqn, err, sizeof(err)), 0);
	nqn[223] = 'x';
	nqn[224] = '\0';
	assert_int_equal(fq_conf_check_nqn(nqn, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "224 bytes"));
}

/* ---- validate ---- */

/* One port, one subsystem with @specs namespaces; what the command line builds. */
static struct fq_subsys_conf *build(struct fq_target_conf *c, const char *nqn,
				    const char *const *specs, int n)
{
	struct fq_subsys_conf *s;

	fq_conf_init(c);
	c->nports = 1;
	strcpy(c->ports[0].name, "cli");
	assert_int_equal(fq_conf_parse_listen("127.0.0.1:4420", c->ports[0].addr,
					      sizeof(c->ports[0].addr), &c->ports[0].port),
			 0);
	s = fq_conf_add_subsys(c, nqn);
	assert_non_null(s);
	for (int i = 0; i < n; i++)
		assert_int_equal(fq_conf_add_ns(s, specs[i], err, sizeof(err)), 0);
	return s;
}

static void validate_assigns_nsids(void **state)
{
	static const char *const specs[] = {"ram:1M", "ram:1M,nsid=2", "null:1M", "ram:1M,nsid=9",
					    "ram:1M"};
	static const uint32_t want[] = {1, 2, 3, 9, 4};
	struct fq_target_conf c;
	struct fq_subsys_conf *s = build(&c, NQN1, specs, 5);

	(void)state;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s->ns[i].nsid, want[i]);
	assert_int_equal(s->nports, 1);
	assert_int_equal(s->ports[0], 0);
	assert_string_equal(s->model, "Fabriq NVMe/TCP target");
	fq_conf_free(&c);
}

static void validate_rejects_duplicate_nsid(void **state)
{
	static const char *const specs[] = {"ram:1M,nsid=3", "ram:1M", "ram:1M,nsid=3"};
	struct fq_target_conf c;

	(void)state;
	build(&c, NQN1, specs, 3);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nsid 3 is used twice"));
	fq_conf_free(&c);
}

/* A vol: namespace needs one reactor (the volume engine's thread rule). */
static void validate_vol_any_reactors(void **state)
{
	static const char *const specs[] = {"ram:1M", "vol:p0/db"};
	struct fq_target_conf c;

	(void)state;
	/* Each pool's home reactor serves it; the others send it their commands. */
	build(&c, NQN1, specs, 2);
	c.reactors = 2;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	fq_conf_free(&c);
}

static void validate_derives_ids(void **state)
{
	static const char *const specs[] = {"ram:1M", "ram:1M"};
	struct fq_target_conf a, b, d;
	struct fq_subsys_conf *sa = build(&a, NQN1, specs, 2);
	struct fq_subsys_conf *sb = build(&b, NQN1, specs, 2);
	struct fq_subsys_conf *sd = build(&d, NQN2, specs, 1);
	uint8_t id[16];

	(void)state;
	assert_int_equal(fq_conf_validate(&a, err, sizeof(err)), 0);
	assert_int_equal(fq_conf_validate(&b, err, sizeof(err)), 0);
	assert_int_equal(fq_conf_validate(&d, err, sizeof(err)), 0);
	/* Same NQN and nsid: same bytes, run after run. */
	assert_memory_equal(sa->ns[0].nguid, sb->ns[0].nguid, 16);
	assert_memory_equal(sa->ns[0].uuid, sb->ns[0].uuid, 16);
	assert_string_equal(sa->serial, sb->serial);
	/* Another nsid, another NQN or the other salt: other bytes. */
	assert_memory_not_equal(sa->ns[0].nguid, sa->ns[1].nguid, 16);
	assert_memory_not_equal(sa->ns[0].uuid, sa->ns[1].uuid, 16);
	assert_memory_not_equal(sa->ns[0].nguid, sd->ns[0].nguid, 16);
	assert_memory_not_equal(sa->ns[0].nguid, sa->ns[0].uuid, 16);
	assert_string_not_equal(sa->serial, sd->serial);
	for (int i = 0; i < 2; i++) {
		/* RFC 9562: version 8 in the high nibble of octet 6, variant 10xx in octet 8. */
		assert_int_equal(sa->ns[i].uuid[6] >> 4, 8);
		assert_int_equal(sa->ns[i].uuid[8] >> 6, 2);
		assert_true(sa->ns[i].has_uuid && sa->ns[i].has_nguid);
		fq_conf_derive_id(NQN1, sa->ns[i].nsid, 1, id);
		assert_memory_equal(id, sa->ns[i].uuid, 16);
	}
	fq_conf_free(&a);
	fq_conf_free(&b);
	fq_conf_free(&d);
}

/*
 * The derived bytes are what hosts see as NGUID, UUID and serial number:
 * they must never change between releases, so they are pinned here (computed
 * from the algorithm in docs/configuration.md by a separate implementation).
 */
static void derived_ids_are_stable(void **state)
{
	static const uint8_t nguid[16] = {0x8c, 0x1e, 0xaf, 0x59, 0x73, 0x13, 0x24, 0x54,
					  0xbf, 0x9e, 0x32, 0x0e, 0xa3, 0x9f, 0x4f, 0xb7};
	static const uint8_t uuid[16] = {0x61, 0xa5, 0x0a, 0x25, 0xa8, 0x07, 0x8e, 0x6a,
					 0x91, 0xe0, 0x27, 0xd7, 0x36, 0xbf, 0xe4, 0xa1};
	struct fq_target_conf c;
	struct fq_subsys_conf *s;
	uint8_t id[16];

	(void)state;
	fq_conf_derive_id(NQN1, 1, 0, id);
	assert_memory_equal(id, nguid, 16);
	fq_conf_derive_id(NQN1, 1, 1, id);
	assert_memory_equal(id, uuid, 16);
	fq_conf_init(&c);
	s = fq_conf_add_subsys(&c, NQN1);
	assert_string_equal(s->serial, "FQBF05E4CCFBC01D5C");
	fq_conf_free(&c);
}

static void validate_keeps_given_ids_and_is_idempotent(void **state)
{
	static const char *const specs[] = {
		"ram:1M,uuid=12345678-9abc-def0-0123-456789abcdef",
		"ram:1M,nguid=0123456789abcdef0123456789abcdef",
	};
	struct fq_target_conf c;
	struct fq_subsys_conf *s = build(&c, NQN1, specs, 2);
	struct fq_ns_conf first[2];

	(void)state;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(s->ns[0].uuid[0], 0x12);
	assert_int_equal(s->ns[0].uuid[15], 0xef);
	assert_int_equal(s->ns[1].nguid[0], 0x01);
	memcpy(first, s->ns, sizeof(first));
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_memory_equal(first, s->ns, sizeof(first));
	fq_conf_free(&c);
}

static void validate_errors(void **state)
{
	static const char *const specs[] = {"ram:1M"};
	struct fq_target_conf c;
	struct fq_subsys_conf *s;

	(void)state;
	fq_conf_init(&c);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no [port]"));
	c.nports = 1;
	strcpy(c.ports[0].name, "p");
	strcpy(c.ports[0].addr, "::1");
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no [subsystem]"));
	/* A daemon serving only volumes: a [pool] is enough. */
	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("p0", err, sizeof(err)), 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	fq_pool_conf_reset();
	fq_conf_free(&c);

	s = build(&c, NQN1, specs, 1);
	s->allow_any_host = false;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no host could connect"));
	assert_int_equal(fq_conf_add_host(s, "nqn.x", err, sizeof(err)), -EINVAL);
	assert_int_equal(fq_conf_add_host(s, HOST2, err, sizeof(err)), 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	strcpy(s->hosts[0], "not an nqn");
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "allow_host"));
	fq_conf_free(&c);

	s = build(&c, FQ_DISCOVERY_NQN, specs, 1);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "reserved"));
	fq_conf_free(&c);

	build(&c, NQN1, specs, 1);
	assert_non_null(fq_conf_add_subsys(&c, NQN1));
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "defined twice"));
	fq_conf_free(&c);

	s = build(&c, NQN1, specs, 1);
	s->nports = 1;
	s->ports[0] = 3;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not defined"));
	fq_conf_free(&c);

	s = build(&c, NQN1, specs, 1);
	c.ports[0].discovery_only = true;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "discovery_only"));
	fq_conf_free(&c);
}

static void validate_limits(void **state)
{
	static const char *const specs[] = {"ram:1M"};
	struct fq_target_conf c;

	(void)state;
	build(&c, NQN1, specs, 1);
	c.max_transfer = 65536;
	c.max_h2c_data = 131072;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "max_h2c_data (131072) is larger than max_transfer (65536)"));
	c.max_h2c_data = 65536;
	c.in_capsule_size = 131072;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "in_capsule_data"));
	c.in_capsule_size = 8192;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	c.max_queue_size = 8;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'max_queue_size': 8 is below the minimum 16"));
	c.max_queue_size = 128;
	c.reactors = -2;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'reactors': -2 is negative"));
	c.reactors = 0;
	c.log_level = 4;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	fq_conf_free(&c);
}

static void validate_ports_rules(void **state)
{
	static const char *const specs[] = {"ram:1M"};
	struct fq_target_conf c;

	(void)state;
	build(&c, NQN1, specs, 1);
	c.nports = 2;
	strcpy(c.ports[0].addr, "::1");
	strcpy(c.ports[1].name, "again");
	strcpy(c.ports[1].addr, "0:0::1");
	c.ports[1].port = 4420;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "both listen on"));
	c.ports[1].port = 0; /* unset means 4420: still the same endpoint */
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	c.ports[1].port = 0;
	c.ports[1].discovery_only = true;
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(c.ports[1].port, 8009);
	c.ports[1].addr[0] = '\0';
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no address"));
	fq_conf_free(&c);
}

/* The array moves as it grows; file paths must follow their entries. */
static void add_subsys_grows_and_limits(void **state)
{
	struct fq_target_conf c;
	struct fq_subsys_conf *s;
	char nqn[64];

	(void)state;
	fq_conf_init(&c);
	s = fq_conf_add_subsys(&c, NQN1);
	assert_non_null(s);
	assert_int_equal(fq_conf_add_ns(s, "file:/tmp/a.img:1M", err, sizeof(err)), 0);
	for (int i = 1; i < FQ_CONF_MAX_SUBSYS; i++) {
		snprintf(nqn, sizeof(nqn), "nqn.2024-01.io.fabriq:s%d", i);
		assert_non_null(fq_conf_add_subsys(&c, nqn));
	}
	assert_int_equal(c.nsubsys, FQ_CONF_MAX_SUBSYS);
	assert_null(fq_conf_add_subsys(&c, "nqn.2024-01.io.fabriq:one-too-many"));
	assert_ptr_equal(c.subsys[0].ns[0].bdev.path, c.subsys[0].ns[0].path);
	assert_string_equal(c.subsys[0].ns[0].bdev.path, "/tmp/a.img");
	assert_true(c.subsys[FQ_CONF_MAX_SUBSYS - 1].allow_any_host);
	fq_conf_free(&c);
	assert_null(c.subsys);
	assert_int_equal(c.nsubsys, 0);
	fq_conf_free(&c);
}

static void add_ns_and_host_limits(void **state)
{
	struct fq_target_conf c;
	struct fq_subsys_conf *s;
	char nqn[64];

	(void)state;
	fq_conf_init(&c);
	s = fq_conf_add_subsys(&c, NQN1);
	for (int i = 0; i < FQ_CONF_MAX_NS; i++)
		assert_int_equal(fq_conf_add_ns(s, "null:4k", err, sizeof(err)), 0);
	assert_int_equal(fq_conf_add_ns(s, "null:4k", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many namespaces"));
	for (int i = 0; i < FQ_CONF_MAX_HOSTS; i++) {
		snprintf(nqn, sizeof(nqn), "nqn.2024-01.io.fabriq:h%d", i);
		assert_int_equal(fq_conf_add_host(s, nqn, err, sizeof(err)), 0);
	}
	assert_int_equal(fq_conf_add_host(s, HOST1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many hosts"));
	fq_conf_free(&c);
}

/* What only the management API makes: no port, no host yet (docs/management.md). */
static void dash_values(void **state)
{
	struct fq_target_conf c;

	(void)state;
	assert_int_equal(load_text(&c, PORT_A SUB1 "ports = -\nallow_any_host = no\n"
						   "allow_host = -\n"),
			 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_true(c.subsys[0].no_ports);
	assert_int_equal(c.subsys[0].nports, 0);
	assert_true(c.subsys[0].closed);
	assert_false(c.subsys[0].allow_any_host);
	assert_string_equal(c.subsys[0].ns[0].spec, "ram:1M");
	fq_conf_free(&c);
	/* Without "-", no host and allow_any_host = no is still an error. */
	assert_int_equal(load_text(&c, PORT_A SUB1 "allow_any_host = no\n"), 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	fq_conf_free(&c);
}

static void state_section_only_in_state_files(void **state)
{
	struct fq_target_conf c;
	const char *text = "[state]\nremoved = " NQN2 "\n" PORT_A SUB1;

	(void)state;
	expect_load_error(text, 1, NULL, "unknown section");
	fq_conf_init(&c);
	write_tmp(text);
	assert_int_equal(fq_conf_load_state_file(&c, tmp_path, err, sizeof(err)), 0);
	unlink(tmp_path);
	assert_int_equal(c.nremoved, 1);
	assert_string_equal(c.removed[0], NQN2);
	fq_conf_free(&c);
}

static void merge_state(void **state)
{
	struct fq_target_conf c, st;

	(void)state;
	assert_int_equal(load_text(&c, PORT_A SUB1 "[subsystem \"" NQN2 "\"]\nnamespace = "
						   "ram:1M\n"),
			 0);
	fq_conf_init(&st);
	write_tmp("[state]\nremoved = " NQN2 "\n" PORT_A
		  "[port \"rpc1\"]\naddress = 127.0.0.1\nport = 4421\n"
		  "[subsystem \"" NQN1 "\"]\nnamespace = ram:2M,nsid=3\nports = rpc1\n"
		  "allow_any_host = no\nallow_host = " HOST2 "\n");
	assert_int_equal(fq_conf_load_state_file(&st, tmp_path, err, sizeof(err)), 0);
	unlink(tmp_path);
	assert_int_equal(fq_conf_merge_state(&c, &st, err, sizeof(err)), 0);
	fq_conf_free(&st);
	/* One port "a" (the file's), rpc1 added; NQN2 removed; NQN1 the state's. */
	assert_int_equal(c.nports, 2);
	assert_string_equal(c.ports[1].name, "rpc1");
	assert_int_equal(c.nsubsys, 1);
	assert_string_equal(c.subsys[0].nqn, NQN1);
	assert_int_equal(c.subsys[0].nns, 1);
	assert_int_equal(c.subsys[0].ns[0].nsid, 3);
	assert_int_equal(c.subsys[0].nports, 1);
	assert_int_equal(c.subsys[0].ports[0], 1);
	assert_int_equal(c.subsys[0].nhosts, 1);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	fq_conf_free(&c);
}

static void referrals(void **state)
{
	struct fq_target_conf c, st;

	(void)state;
	assert_int_equal(load_text(&c,
				   "[discovery]\nreferral = 192.0.2.1:8009\n"
				   "referral = [2001:db8::7]:4430 nqn.2024-01.io.fabriq:disc\n"),
			 0);
	assert_true(c.has_referrals);
	assert_int_equal(c.nreferrals, 2);
	assert_string_equal(c.referrals[0].addr, "192.0.2.1");
	assert_int_equal(c.referrals[0].port, 8009);
	assert_string_equal(c.referrals[0].nqn, FQ_DISCOVERY_NQN);
	assert_string_equal(c.referrals[1].addr, "2001:db8::7");
	assert_int_equal(c.referrals[1].port, 4430);
	assert_string_equal(c.referrals[1].nqn, "nqn.2024-01.io.fabriq:disc");
	assert_int_equal(fq_conf_find_referral(&c, "2001:db8::7", 4430), 1);
	assert_int_equal(fq_conf_find_referral(&c, "2001:db8::7", 4420), -1);

	/* A state file's list replaces the file's, even an empty one ("-"). */
	fq_conf_init(&st);
	write_tmp("[discovery]\nreferral = -\n");
	assert_int_equal(fq_conf_load_state_file(&st, tmp_path, err, sizeof(err)), 0);
	unlink(tmp_path);
	assert_true(st.has_referrals);
	assert_int_equal(st.nreferrals, 0);
	assert_int_equal(fq_conf_merge_state(&c, &st, err, sizeof(err)), 0);
	assert_int_equal(c.nreferrals, 0);
	fq_conf_free(&st);
	fq_conf_free(&c);
	/* A state without [discovery] leaves the file's referrals alone. */
	assert_int_equal(load_text(&c, "[discovery]\nreferral = 192.0.2.1:8009\n"), 0);
	fq_conf_init(&st);
	assert_int_equal(fq_conf_merge_state(&c, &st, err, sizeof(err)), 0);
	assert_int_equal(c.nreferrals, 1);
	fq_conf_free(&st);
	fq_conf_free(&c);

	expect_load_error("[discovery]\nreferral = 192.0.2.1\n", 2, "referral",
			  "'192.0.2.1' is not ADDR:PORT");
	expect_load_error("[discovery]\nreferral = disc.example:8009\n", 2, "referral",
			  "is not ADDR:PORT");
	expect_load_error("[discovery]\nreferral = 0.0.0.0:8009\n", 2, "referral",
			  "wildcard address");
	expect_load_error("[discovery]\nreferral = 192.0.2.1:8009 iqn.x\n", 2, "referral",
			  "referral NQN");
	expect_load_error("[discovery]\nreferral = 192.0.2.1:8009\nreferral = 192.0.2.1:8009 " NQN1
			  "\n",
			  3, "referral", "listed twice");
	expect_load_error("[discovery]\nreferrals = 192.0.2.1:8009\n", 2, "referrals",
			  "unknown key");
	expect_load_error("[discovery \"x\"]\n", 1, NULL, "takes no name");
}

static void named_bdevs(void **state)
{
	struct fq_target_conf c, st;

	(void)state;
	assert_int_equal(load_text(&c, PORT_A "[bdev \"b1\"]\nspec = delay:read_us=5+ram:1M\n"
					      "[bdev \"b2\"]\nspec = null:1M\n" SUB1
					      "namespace = bdev:b1,nsid=4\n"),
			 0);
	assert_int_equal(c.nbdevs, 2);
	assert_int_equal(fq_conf_find_bdev(&c, "b2"), 1);
	assert_int_equal(c.bdevs[0].ns.nlayers, 1);
	assert_true(c.subsys[0].ns[1].named);
	assert_string_equal(c.subsys[0].ns[1].path, "b1");
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(c.subsys[0].ns[1].nsid, 4);
	/* The state's removed_bdev drops one; its own [bdev] replaces one of the same name. */
	fq_conf_init(&st);
	write_tmp("[state]\nremoved_bdev = b2\n[bdev \"b1\"]\nspec = ram:2M\n");
	assert_int_equal(fq_conf_load_state_file(&st, tmp_path, err, sizeof(err)), 0);
	unlink(tmp_path);
	assert_int_equal(fq_conf_merge_state(&c, &st, err, sizeof(err)), 0);
	fq_conf_free(&st);
	assert_int_equal(c.nbdevs, 1);
	assert_string_equal(c.bdevs[0].ns.spec, "ram:2M");
	fq_conf_free(&c);

	/* A reference must name a [bdev], once. */
	assert_int_equal(load_text(&c, PORT_A SUB1 "namespace = bdev:nope\n"), 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no [bdev \"nope\"] defined"));
	fq_conf_free(&c);
	assert_int_equal(load_text(&c, PORT_A "[bdev \"b\"]\nspec = ram:1M\n" SUB1
					      "namespace = bdev:b\nnamespace = bdev:b\n"),
			 0);
	assert_int_equal(fq_conf_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bdev 'b' is used by namespace 2"));
	fq_conf_free(&c);

	expect_load_error("[bdev \"b\"]\n[target]\n", 1, NULL, "needs spec = SPEC");
	expect_load_error("[bdev \"b\"]\n", 1, NULL, "needs spec = SPEC");
	expect_load_error("[bdev \"b c\"]\n", 1, NULL, "a bdev name is");
	expect_load_error("[bdev \"b\"]\nspec = ram:1M\n[bdev \"b\"]\nspec = ram:1M\n", 3, NULL,
			  "defined twice");
	expect_load_error("[bdev \"b\"]\nspec = ram:1M,nsid=2\n", 2, "spec", "takes no nsid");
	expect_load_error("[bdev \"b\"]\nspec = bdev:c\n", 2, "spec", "takes no nsid");
	expect_load_error("[bdev \"b\"]\nsize = 1\n", 2, "size", "unknown key");
	expect_load_error("[bdev \"b\"]\nspec = vol:p0/v\n", 2, "spec",
			  "a volume cannot be a named bdev");
	expect_load_error(SUB1 "namespace = delay:read_us=1+bdev:b\n", 3, "namespace",
			  "not over bdev:NAME");
	expect_load_error(SUB1 "namespace = bdev:b,bs=4096\n", 3, "namespace",
			  "belongs in the named bdev's spec");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(load_full_file),
		cmocka_unit_test(load_example_file),
		cmocka_unit_test(load_long_names),
		cmocka_unit_test(load_ports_defined_later),
		cmocka_unit_test(allow_any_host_rules),
		cmocka_unit_test(error_numbers),
		cmocka_unit_test(error_keys),
		cmocka_unit_test(error_ports),
		cmocka_unit_test(error_subsystems),
		cmocka_unit_test(error_syntax),
		cmocka_unit_test(error_missing_file),
		cmocka_unit_test(parse_size),
		cmocka_unit_test(parse_listen),
		cmocka_unit_test(parse_ns_good),
		cmocka_unit_test(parse_ns_stack),
		cmocka_unit_test(parse_ns_errors),
		cmocka_unit_test(check_nqn),
		cmocka_unit_test(validate_assigns_nsids),
		cmocka_unit_test(validate_rejects_duplicate_nsid),
		cmocka_unit_test(validate_vol_any_reactors),
		cmocka_unit_test(validate_derives_ids),
		cmocka_unit_test(derived_ids_are_stable),
		cmocka_unit_test(validate_keeps_given_ids_and_is_idempotent),
		cmocka_unit_test(validate_errors),
		cmocka_unit_test(validate_limits),
		cmocka_unit_test(validate_ports_rules),
		cmocka_unit_test(add_subsys_grows_and_limits),
		cmocka_unit_test(add_ns_and_host_limits),
		cmocka_unit_test(dash_values),
		cmocka_unit_test(state_section_only_in_state_files),
		cmocka_unit_test(merge_state),
		cmocka_unit_test(referrals),
		cmocka_unit_test(named_bdevs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
