/* SPDX-License-Identifier: MIT */
/* The storage configuration loader (src/storage/config.c) and selectors (names.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "storage/config.h"
#include "storage/names.h"

static struct sto_config c;
static char err[512];

static int parse(const char *text)
{
	sto_config_free(&c); /* the previous parse's */
	return sto_config_parse(&c, NULL, text, err, sizeof(err));
}

static void defaults_documented(void **state)
{
	(void)state;
	assert_int_equal(parse("target_addr = 10.0.0.1\ntarget_nqn = nqn.x:y\n"), 0);
	assert_int_equal(c.backend, STO_BACKEND_NVMEOF);
	assert_string_equal(c.target_port, "4420");
	assert_int_equal(c.io_queue_count, 2);
	assert_int_equal(c.queue_depth, 128);
	assert_int_equal(c.max_batch_size, 64);
	assert_true(c.adaptive_batching);
	assert_int_equal(c.polling_mode, STO_POLL_ADAPTIVE);
	assert_int_equal(c.poll_interval_us, 0);
	assert_int_equal(c.poll_spin_max_us, 100);
	assert_int_equal(c.mem_pool_size, 1 << 20);
	assert_int_equal(c.mem_block_size, 4096);
	assert_int_equal(c.connect_timeout_ms, 5000);
	assert_int_equal(c.io_timeout_ms, 30000);
	assert_int_equal(c.retry_count, 3);
	assert_int_equal(c.keep_alive_interval, 5);
}

static void seed_keys_accepted(void **state)
{
	static const char *ini = "[nvmeof]\n"
				 "# target\n"
				 "target_nqn = nqn.2024-06.com.example:storage01\n"
				 "host_nqn = nqn.2024-06.com.client:host01\n"
				 "transport = tcp\n"
				 "target_addr = 192.168.1.100\n"
				 "target_port = 4421\n"
				 "io_queue_count = 8\n"
				 "queue_depth = 128\n"
				 "max_batch_size = 32\n"
				 "polling_mode = true\n"
				 "poll_interval_us = 10\n"
				 "mem_pool_size = 64M\n"
				 "mem_block_size = 4K\n"
				 "connect_timeout_ms = 5000 ; inline comment\n"
				 "io_timeout_ms = 30000\n"
				 "retry_count = 3\n"
				 "keep_alive_interval = 60\n";

	(void)state;
	assert_int_equal(parse(ini), 0);
	assert_string_equal(c.target_port, "4421");
	assert_string_equal(c.host_nqn, "nqn.2024-06.com.client:host01");
	assert_int_equal(c.io_queue_count, 8);
	assert_int_equal(c.max_batch_size, 32);
	assert_int_equal(c.polling_mode, STO_POLL_BUSY);
	assert_int_equal(c.poll_interval_us, 10);
	assert_int_equal(c.mem_pool_size, 64 << 20);
	assert_int_equal(c.mem_block_size, 4096);
	assert_int_equal(c.keep_alive_interval, 60);
}

/* Each rejection names its line; the table is (text, errno, "LINE: key"). */
static void rejections_name_the_line(void **state)
{
	static const struct {
		const char *ini;
		int rc;
		const char *where;
	} cases[] = {
		{"target_addr = a\nbogus = 1\n", -EINVAL, "config:2: key 'bogus': unknown key"},
		{"\n\nqueue_depth = 0\n", -EINVAL,
		 "config:3: key 'queue_depth': 0 is out of range"},
		{"queue_depth = 12x\n", -EINVAL, "config:1: key 'queue_depth': '12x' is not"},
		{"retry_count = 1\nretry_count = 2\n", -EINVAL,
		 "config:2: key 'retry_count': given "
		 "twice (first on line 1)"},
		{"polling_mode = maybe\n", -EINVAL, "config:1: key 'polling_mode'"},
		{"data_digest = perhaps\n", -EINVAL, "config:1: key 'data_digest'"},
		{"[storage]\ntransport = rdma\n", -EPROTONOSUPPORT,
		 "config:2: key 'transport': transport rdma is not supported yet"},
		{"max_send_wr = 256\n", -EPROTONOSUPPORT,
		 "config:1: key 'max_send_wr': an RDMA setting; transport rdma is not supported "
		 "yet"},
		{"transport = file\n", -EINVAL, "config:1: key 'transport'"},
		{"[volumes]\n", -EINVAL, "config:1: unknown section '[volumes]'"},
		{"retry_count = 1\n  continued\n", -EINVAL, "config:2: indented line"},
		{"[names]\nfoo/bar = nsid:1\n", -EINVAL, "config:2: key 'foo/bar'"},
		{"[names]\nx = /dev/sda\n", -EINVAL, "config:2: key 'x': expected nsid:N"},
		{"[names]\nx = nsid:1\nx = nsid:2\n", -EINVAL,
		 "config:3: key 'x': name defined twice"},
		{"[names]\nx = uuid:123\n", -EINVAL, "config:2: key 'x': uuid must be"},
		{"mem_block_size = 3000\ntarget_addr=a\ntarget_nqn=b\n", -EINVAL, "mem_block_size"},
		{"backend = file\n", -EINVAL, "needs at least one file_path"},
		{"target_addr = a\n", -EINVAL, "needs target_addr and target_nqn"},
		{"file_path = /x,bs=1000\n", -EINVAL, "config:1: key 'file_path'"},
		{"this is not ini\n", -EINVAL, "config:1: syntax error"},
		/* Sizes are the tree's one size syntax: decimal with a unit, no sign or hex. */
		{"file_size = 0x1000\n", -EINVAL,
		 "config:1: key 'file_size': '0x1000' is not a size"},
		{"file_size = -1\n", -EINVAL, "config:1: key 'file_size': '-1' is not a size"},
		{"file_size = 1.5G\n", -EINVAL, "config:1: key 'file_size'"},
		{"file_size = 16777216T\n", -EINVAL, "config:1: key 'file_size'"},
		{"mem_pool_size = 2G\n", -EINVAL,
		 "config:1: key 'mem_pool_size': 2147483648 is out of range"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].ini);

		if (rc != cases[i].rc || !strstr(err, cases[i].where))
			fail_msg("case %zu: rc %d err '%s', want %d '%s'", i, rc, err, cases[i].rc,
				 cases[i].where);
	}
}

/* K/M/G/T with an optional B or iB, as fabriqd's configuration takes them. */
static void size_units(void **state)
{
	(void)state;
	assert_int_equal(parse("backend = file\nfile_path = /tmp/a\nfile_size = 2T\n"
			       "mem_pool_size = 2MiB\nmem_block_size = 8KB\n"),
			 0);
	assert_int_equal(c.file_size, 2ull << 40);
	assert_int_equal(c.mem_pool_size, 2 << 20);
	assert_int_equal(c.mem_block_size, 8192);
	assert_int_equal(parse("backend = file\nfile_path = /tmp/a\nfile_size = 4096\n"), 0);
	assert_int_equal(c.file_size, 4096);
}

static void names_and_files(void **state)
{
	(void)state;
	assert_int_equal(parse("backend = file\nfile_path = /tmp/a\nfile_path = /tmp/b,bs=4096\n"
			       "[names]\nlogs = nsid:2\nmeta = "
			       "uuid:12345678-9abc-def0-1234-56789abcdef0\n"),
			 0);
	assert_int_equal(c.backend, STO_BACKEND_FILE);
	assert_int_equal(c.nfiles, 2);
	assert_string_equal(c.files[1].path, "/tmp/b");
	assert_int_equal(c.files[1].bs, 4096);
	assert_int_equal(c.files[0].bs, 0);
	assert_int_equal(c.nnames, 2);
	assert_string_equal(c.names[1].name, "meta");
	assert_int_equal(c.names[1].line, 6);
}

static void selectors_parse_exactly(void **state)
{
	struct sto_sel s;

	(void)state;
	assert_int_equal(sto_sel_parse("nsid:7", &s, NULL, 0), 0);
	assert_int_equal(s.kind, STO_SEL_NSID);
	assert_int_equal(s.nsid, 7);
	assert_int_equal(sto_sel_parse("nsid:0", &s, NULL, 0), -EINVAL);
	assert_int_equal(sto_sel_parse("nsid:1x", &s, NULL, 0), -EINVAL);
	assert_int_equal(sto_sel_parse("nguid:00112233-44556677-8899aabb-ccddeeff", &s, NULL, 0),
			 0);
	assert_int_equal(s.kind, STO_SEL_NGUID);
	assert_int_equal(s.id[0], 0x00);
	assert_int_equal(s.id[5], 0x55);
	assert_int_equal(s.id[15], 0xff);
	assert_int_equal(sto_sel_parse("nguid:0011", &s, NULL, 0), -EINVAL);
	assert_int_equal(sto_sel_parse("nguid:00112233445566778899aabbccddeeff00", &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(sto_sel_parse("uuid:12345678-9abc-def0-1234-56789abcdef0", &s, NULL, 0),
			 0);
	assert_int_equal(s.kind, STO_SEL_UUID);
	assert_int_equal(s.id[4], 0x9a);
	/* Dashes in the wrong places are not a UUID. */
	assert_int_equal(sto_sel_parse("uuid:123456789-abc-def0-1234-56789abcdef0", &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(sto_sel_parse("data", &s, NULL, 0), -ENOENT);
	assert_true(sto_name_is_valid("db-1.log_x"));
	assert_false(sto_name_is_valid("nsid:1"));
	assert_false(sto_name_is_valid(""));
	assert_false(sto_name_is_valid("a b"));
}

static void example_file_loads(void **state)
{
	(void)state;
	sto_config_free(&c);
	assert_int_equal(
		sto_config_parse(&c, SOURCE_DIR "/examples/storage.ini", NULL, err, sizeof(err)),
		0);
	assert_true(c.nnames >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_documented),
		cmocka_unit_test(seed_keys_accepted),
		cmocka_unit_test(rejections_name_the_line),
		cmocka_unit_test(size_units),
		cmocka_unit_test(names_and_files),
		cmocka_unit_test(selectors_parse_exactly),
		cmocka_unit_test(example_file_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
