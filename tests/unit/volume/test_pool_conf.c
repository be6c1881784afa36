/* SPDX-License-Identifier: MIT */
/*
 * Pools created at run time and printed back as configuration: a pool made
 * by fq_pool_conf_create on a file, with a volume, is emitted by
 * fq_pool_conf_emit as [pool] sections; once closed, those sections read
 * back through fq_pool_conf_begin/key open the same pool with its volume
 * and data. A RAM pool's section formats it again with its cluster size.
 * Volume lines' limits are parsed, refused with the limit named, set at
 * open and set again on an open pool. A reactor key pins a pool's home
 * reactor over the spread, is refused out of range with where it was
 * read, and is emitted back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volume/volume.h"

#define MiB (1ull << 20)

/* Feed INI text of [pool "NAME"] sections to the reader's callbacks. */
static void read_back(const char *text)
{
	char *copy = strdup(text), *save = NULL, err[256];

	assert_non_null(copy);
	fq_pool_conf_reset();
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[FQ_POOL_NAME_MAX], *eq;

		if (sscanf(line, "[pool \"%63[^\"]\"]", name) == 1) {
			assert_int_equal(fq_pool_conf_begin(name, err, sizeof(err)), 0);
			continue;
		}
		eq = strstr(line, " = ");
		assert_non_null(eq);
		*eq = '\0';
		if (fq_pool_conf_key(line, eq + 3, err, sizeof(err)))
			fail_msg("key %s: %s", line, err);
	}
	free(copy);
}

static char *emit(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fq_pool_conf_emit(f), 0);
	fclose(f);
	return buf;
}

static void test_round_trip(void **state)
{
	char dir[] = "/tmp/fq-pool-conf-XXXXXX", path[256], err[256], *text;
	struct fq_pool_info info;
	struct fq_vol_info vi;
	struct fq_pool *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool.img", dir);
	assert_int_equal(fq_pool_conf_create("a", path, 64 * MiB, 64 * 1024, -1, err, sizeof(err)),
			 0);
	assert_int_equal(fq_pool_conf_create("a", path, 64 * MiB, 0, -1, err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(fq_pool_conf_create("b", path, 0, 0, -1, err, sizeof(err)), -EBUSY);
	assert_int_equal(fq_pool_conf_create("b/c", path, 0, 0, -1, err, sizeof(err)), -EINVAL);
	assert_int_equal(fq_pool_conf_create("b", "rel", 0, 0, -1, err, sizeof(err)), -EINVAL);
	assert_int_equal(fq_pool_conf_create("b", path, 0, 3000, -1, err, sizeof(err)), -EINVAL);
	p = fq_pool_lookup("a");
	assert_non_null(p);
	assert_int_equal(fq_vol_create(p, "v1", 8 * MiB, false), 0);
	assert_string_equal(fq_pool_conf_bdev("a") + 5, path);

	/* The RAM pool of a configuration file, next to it. */
	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("r", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("bdev", "ram:32M", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("create", "yes", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("cluster_size", "128K", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_open_all(err, sizeof(err)), 0);

	text = emit();
	assert_non_null(strstr(text, "[pool \"a\"]\nbdev = file:"));
	assert_non_null(strstr(text, "[pool \"r\"]\nbdev = ram:33554432\ncreate = yes\n"
				     "cluster_size = 131072\n"));
	fq_pool_conf_close_all();
	assert_null(fq_pool_lookup("a"));

	read_back(text);
	assert_int_equal(fq_pool_conf_open_all(err, sizeof(err)), 0);
	p = fq_pool_lookup("a");
	assert_non_null(p);
	assert_int_equal(fq_pool_info(p, &info), 0);
	assert_int_equal(info.cluster_size, 64 * 1024);
	assert_int_equal(info.volumes, 1);
	assert_non_null(fq_vol_find(p, "v1"));
	assert_int_equal(fq_vol_info(fq_vol_find(p, "v1"), &vi), 0);
	assert_int_equal(vi.size, 8 * MiB);
	p = fq_pool_lookup("r");
	assert_non_null(p);
	assert_int_equal(fq_pool_info(p, &info), 0);
	assert_int_equal(info.cluster_size, 128 * 1024);

	/* Deleting forgets the pool, in the registry and in what is emitted. */
	assert_int_equal(fq_pool_conf_delete("a", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_delete("a", err, sizeof(err)), -ENOENT);
	assert_null(fq_pool_lookup("a"));
	free(text);
	text = emit();
	assert_null(strstr(text, "[pool \"a\"]"));
	free(text);
	fq_pool_conf_close_all();
	unlink(path);
	rmdir(dir);
}

/* @val as volume line of a new section; its error message must hold @needle. */
static void refused(const char *val, const char *needle)
{
	char err[512] = "";

	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("q", err, sizeof(err)), 0);
	if (fq_pool_conf_key("volume", val, err, sizeof(err)) != -EINVAL)
		fail_msg("volume = %s was accepted", val);
	if (!strstr(err, needle))
		fail_msg("volume = %s: '%s' does not name '%s'", val, err, needle);
}

static void limits_of(struct fq_pool *p, const char *name, struct fq_vol_qos *q)
{
	struct fq_vol_info vi;

	assert_non_null(fq_vol_find(p, name));
	assert_int_equal(fq_vol_info(fq_vol_find(p, name), &vi), 0);
	*q = vi.qos;
}

/*
 * Limits on volume lines: parsed and refused with the limit named, set at
 * open, and set again by fq_pool_conf_apply_qos (a reload) over a change
 * made at run time, for the limits the line names only.
 */
static void test_limits(void **state)
{
	char err[512];
	struct fq_vol_qos q;
	struct fq_pool *p;

	(void)state;
	refused("a:8M:read_iops=x", "read_iops 'x'");
	refused("a:8M:read_iops=-1", "read_iops '-1'");
	refused("a:8M:write_iops=4294967296", "write_iops '4294967296'");
	refused("a:8M:read_bps=1Q", "read_bps '1Q'");
	refused("a:8M:burst_ms=0", "burst_ms '0'");
	refused("a:8M:burst_ms=10001", "burst_ms '10001'");
	refused("a:8M:read_iop=5", "unknown limit 'read_iop'");
	refused("a:8M:read_iops=5,write_iops", "write_iops ''");
	refused("a:8M:read_iops=1,read_iops=2", "read_iops given twice");
	refused("a:8M:thin", "NAME:SIZE[:thick][:LIMITS]");
	refused("a:8M:thick:fast", "NAME:SIZE[:thick][:LIMITS]");
	refused("a:8M:read_iops=5:thick", "read_iops '5:thick'");
	/* A limit as a key of its own says where it goes. */
	assert_int_equal(fq_pool_conf_key("read_iops", "5", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "volume = NAME:SIZE[:thick]:read_iops=N"));

	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("q", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("bdev", "ram:32M", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("create", "yes", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("cluster_size", "64K", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("volume", "a:8M:read_iops=100,write_bps=1M,burst_ms=50",
					  err, sizeof(err)),
			 0);
	assert_int_equal(fq_pool_conf_key("volume", "b:8M:thick:write_iops=7", err, sizeof(err)),
			 0);
	assert_int_equal(fq_pool_conf_key("volume", "c:8M", err, sizeof(err)), 0);
	assert_true(fq_pool_conf_has_qos("q"));
	assert_string_equal(fq_pool_conf_name(0), "q");
	assert_null(fq_pool_conf_name(1));
	assert_int_equal(fq_pool_conf_open_all(err, sizeof(err)), 0);
	p = fq_pool_lookup("q");
	assert_non_null(p);
	limits_of(p, "a", &q);
	assert_int_equal(q.read_iops, 100);
	assert_int_equal(q.write_bps, MiB);
	assert_int_equal(q.burst_ms, 50);
	assert_int_equal(q.write_iops + q.read_bps, 0);
	limits_of(p, "b", &q);
	assert_int_equal(q.write_iops, 7);
	assert_int_equal(q.read_iops, 0);
	limits_of(p, "c", &q);
	assert_int_equal(q.read_iops + q.write_iops + q.read_bps + q.write_bps, 0);

	/* Changed at run time: a reload sets what the line names, keeps the rest. */
	q = (struct fq_vol_qos){.read_iops = 5, .write_iops = 9, .burst_ms = 20};
	assert_int_equal(fq_vol_set_qos(p, "a", &q), 0);
	assert_int_equal(fq_pool_conf_apply_qos("q", err, sizeof(err)), 0);
	limits_of(p, "a", &q);
	assert_int_equal(q.read_iops, 100);
	assert_int_equal(q.write_iops, 9);
	assert_int_equal(q.write_bps, MiB);
	assert_int_equal(q.burst_ms, 50);

	/* The file read again with other values: they apply to the open pool. */
	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("q", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("bdev", "ram:32M", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("volume", "a:8M:read_iops=0", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("volume", "b:8M:thick", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_open_all(err, sizeof(err)), 0); /* open already */
	assert_int_equal(fq_pool_conf_apply_qos("q", err, sizeof(err)), 0);
	limits_of(p, "a", &q);
	assert_int_equal(q.read_iops, 0);
	assert_int_equal(q.write_iops, 9);
	limits_of(p, "b", &q);
	assert_int_equal(q.write_iops, 7); /* the line names none: kept */
	assert_int_equal(fq_pool_conf_apply_qos("nope", err, sizeof(err)), -ENOENT);
	fq_pool_conf_close_all();
	fq_pool_conf_reset();
}

/* A [pool] section of a RAM pool, formatted at open; @reactor NULL: no key. */
static void ram_section(const char *name, const char *reactor, int line)
{
	char err[512];

	assert_int_equal(fq_pool_conf_begin(name, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("bdev", "ram:16M", err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_key("create", "yes", err, sizeof(err)), 0);
	if (reactor) {
		fq_pool_conf_at("fabriqd.ini", line);
		if (fq_pool_conf_key("reactor", reactor, err, sizeof(err)))
			fail_msg("reactor = %s: %s", reactor, err);
	}
}

static void reactor_refused(const char *val)
{
	char err[512] = "";

	fq_pool_conf_reset();
	assert_int_equal(fq_pool_conf_begin("x", err, sizeof(err)), 0);
	if (fq_pool_conf_key("reactor", val, err, sizeof(err)) != -EINVAL)
		fail_msg("reactor = %s was accepted", val);
	if (!strstr(err, "reactor '") || !strstr(err, val))
		fail_msg("reactor = %s: '%s' does not name it", val, err);
}

/*
 * Home reactors: each pool gets the one with the fewest pools unless its
 * section pins one (reactor = N), which also holds when the homes are set
 * again; a pin past the target's reactors is refused with FILE:LINE, the
 * key and the number of reactors, at start (the configuration) and before
 * anything is formatted (a pool made at run time).
 */
static void test_reactor(void **state)
{
	static struct fq_engine e[3];
	struct fq_engine *engs[3] = {&e[0], &e[1], &e[2]};
	char dir[] = "/tmp/fq-pool-conf-XXXXXX", path[256], err[512], *text;

	(void)state;
	reactor_refused("one");
	reactor_refused("-1");
	reactor_refused("1x");
	reactor_refused("256");
	reactor_refused("");

	assert_int_equal(fq_vol_set_homes(engs, 3), 0);
	fq_pool_conf_reset();
	ram_section("s1", NULL, 0);
	ram_section("pin", "0", 12); /* the spread would give it reactor 1 */
	ram_section("s2", NULL, 0);
	assert_int_equal(fq_pool_conf_check_reactors(3, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_check_reactors(1, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_conf_open_all(err, sizeof(err)), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("s1")), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("pin")), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("s2")), 1);
	/* Homes set again (the target starts): the pinned pool first, the rest around it. */
	assert_int_equal(fq_vol_set_homes(engs, 2), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("pin")), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("s1")), 1);
	assert_int_equal(fq_pool_home(fq_pool_lookup("s2")), 0);
	assert_int_equal(fq_vol_set_homes(engs, 3), 0);

	/* A section asking for a reactor the target lacks. */
	ram_section("far", "3", 40);
	assert_int_equal(fq_pool_conf_check_reactors(3, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "fabriqd.ini:40: key 'reactor': pool 'far': reactor 3 is out "
				 "of range: the target has 3 reactors (0..2)");
	assert_int_equal(fq_pool_conf_check_reactors(1, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "fabriqd.ini:40: key 'reactor': pool 'far': reactor 3"));
	assert_non_null(strstr(err, "the target has 1 reactor (0..0)"));

	/* At run time: out of range refused before the file is made; in range pinned. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool.img", dir);
	assert_int_equal(fq_pool_conf_create("rt", path, 64 * MiB, 0, 3, err, sizeof(err)),
			 -ERANGE);
	assert_string_equal(err, "reactor 3 is out of range: the target has 3 reactors (0..2)");
	assert_int_not_equal(access(path, F_OK), 0);
	assert_null(fq_pool_lookup("rt"));
	assert_int_equal(fq_pool_conf_create("rt", path, 64 * MiB, 0, 2, err, sizeof(err)), 0);
	assert_int_equal(fq_pool_home(fq_pool_lookup("rt")), 2);
	/* A pin past the homes, or of no registered pool, changes nothing. */
	assert_int_equal(fq_pool_pin_home(fq_pool_lookup("rt"), 5), -ERANGE);
	assert_int_equal(fq_pool_pin_home(NULL, 1), -ENOENT);
	assert_int_equal(fq_pool_home(fq_pool_lookup("rt")), 2);

	/* Emitted as configuration: the pins, not the spread. */
	text = emit();
	assert_non_null(strstr(text, "[pool \"pin\"]\nbdev = ram:16777216\ncreate = yes\n"
				     "cluster_size = 1048576\nreactor = 0\n\n"));
	assert_non_null(strstr(text, "[pool \"s1\"]\nbdev = ram:16777216\ncreate = yes\n"
				     "cluster_size = 1048576\n\n"));
	assert_non_null(strstr(text, "bdev = file:"));
	assert_non_null(strstr(text, "/pool.img\nreactor = 2\n\n"));
	free(text);
	assert_int_equal(fq_pool_conf_delete("rt", err, sizeof(err)), 0);
	fq_pool_conf_close_all();
	fq_pool_conf_reset();
	fq_vol_set_homes(NULL, 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reactor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
