/* SPDX-License-Identifier: MIT */
/*
 * The fabriq tool's log page and identify decoders: field values, 128-bit
 * counters, and pages whose counts promise more than their length holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log_decode.h"
#include "proto/nvmf.h"

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, k, &v));
	return v;
}

static void smart_fields(void **state)
{
	struct fq_smart_log l;
	json_object *o;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.critical_warning = FQ_SMART_CW_TEMP | FQ_SMART_CW_READ_ONLY;
	l.temperature[0] = 0x27; /* 295 K */
	l.temperature[1] = 0x01;
	l.avail_spare = 97;
	fq_put_u128(l.host_writes, 12345);
	l.power_cycles[8] = 1; /* 2^64: beyond 64 bits */
	l.warning_temp_time = 7;
	l.temp_sensor[1] = 300;
	o = log_smart_json(&l);
	assert_int_equal(json_object_get_int(get(o, "critical_warning")), 0x0a);
	assert_true(
		json_object_get_boolean(get(get(o, "critical_warning_bits"), "temp_threshold")));
	assert_true(json_object_get_boolean(get(get(o, "critical_warning_bits"), "ro")));
	assert_false(
		json_object_get_boolean(get(get(o, "critical_warning_bits"), "available_spare")));
	assert_int_equal(json_object_get_int(get(o, "temperature")), 295);
	assert_int_equal(json_object_get_int(get(o, "temperature_celsius")), 22);
	assert_int_equal(json_object_get_int(get(o, "avail_spare")), 97);
	assert_int_equal(json_object_get_uint64(get(o, "host_write_commands")), 12345);
	assert_string_equal(json_object_get_string(get(o, "power_cycles")), "18446744073709551616");
	assert_int_equal(json_object_get_int(get(o, "warning_temp_time")), 7);
	assert_int_equal(json_object_get_int(get(o, "temperature_sensor_2")), 300);
	assert_false(json_object_object_get_ex(o, "temperature_sensor_1", NULL));
	json_object_put(o);
}

static void error_entries(void **state)
{
	struct fq_error_log e[2];
	json_object *o, *a;

	(void)state;
	memset(e, 0, sizeof(e));
	e[1].error_count = 9;
	e[1].sqid = 1;
	e[1].cid = 0x42;
	e[1].status = (uint16_t)((0x0b << 1) | 1); /* Invalid Namespace, phase 1 */
	e[1].nsid = 5;
	e[1].trtype = 3;
	o = log_error_json(e, 2);
	a = get(o, "errors");
	assert_int_equal(json_object_array_length(a), 2);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(a, 1), "cmdid")), 0x42);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(a, 1), "status_field")),
			 0x0b);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(a, 1), "phase_tag")), 1);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(a, 1), "trtype")),
			    "tcp");
	json_object_put(o);
}

static void fw_slots(void **state)
{
	struct fq_fw_slot_log l;
	json_object *o;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.afi = 0x21; /* active slot 1, slot 2 at next reset */
	memcpy(l.frs[0], "1.0     ", 8);
	memcpy(l.frs[1], "2.0     ", 8);
	o = log_fw_json(&l);
	assert_int_equal(json_object_get_int(get(o, "active_slot")), 1);
	assert_int_equal(json_object_get_int(get(o, "next_reset_slot")), 2);
	assert_string_equal(json_object_get_string(get(o, "frs1")), "1.0");
	assert_string_equal(json_object_get_string(get(o, "frs2")), "2.0");
	assert_false(json_object_object_get_ex(o, "frs3", NULL));
	json_object_put(o);
}

static void changed_ns(void **state)
{
	struct fq_changed_ns_log l;
	json_object *o;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.nsid[0] = 3;
	l.nsid[1] = 7;
	l.nsid[3] = 9; /* after the terminating zero: not listed */
	o = log_changed_ns_json(&l);
	assert_int_equal(json_object_array_length(get(o, "changed_ns_list")), 2);
	assert_false(json_object_get_boolean(get(o, "overflow")));
	json_object_put(o);
	l.nsid[0] = FQ_CHANGED_NS_OVERFLOW;
	o = log_changed_ns_json(&l);
	assert_true(json_object_get_boolean(get(o, "overflow")));
	assert_int_equal(json_object_array_length(get(o, "changed_ns_list")), 0);
	json_object_put(o);
}

static void ana_groups(void **state)
{
	uint8_t buf[16 + 32 + 8 + 32];
	struct fq_ana_log_hdr h = {.chgcnt = 4, .ngrps = 2};
	struct fq_ana_group_desc g1 = {.grpid = 1, .nnsids = 2, .state = FQ_ANA_OPTIMIZED};
	struct fq_ana_group_desc g2 = {.grpid = 2, .nnsids = 0, .state = FQ_ANA_INACCESSIBLE};
	uint32_t ns[2] = {1, 4};
	json_object *o, *g;

	(void)state;
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &g1, 32);
	memcpy(buf + 48, ns, 8);
	memcpy(buf + 56, &g2, 32);
	o = log_ana_json(buf, sizeof(buf));
	assert_non_null(o);
	g = get(o, "ana_groups");
	assert_int_equal(json_object_array_length(g), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(g, 0), "state")),
			    "optimized");
	assert_int_equal(json_object_get_int(json_object_array_get_idx(
				 get(json_object_array_get_idx(g, 0), "nsids"), 1)),
			 4);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(g, 1), "state")),
			    "inaccessible");
	json_object_put(o);
	/* NNSIDS promising more than the page holds: rejected, not read past the end. */
	assert_null(log_ana_json(buf, 16 + 32 + 4));
	assert_null(log_ana_json(buf, 8));
}

static void discovery(void **state)
{
	static uint8_t buf[2048];
	struct fq_disc_log_hdr *h = (void *)buf;
	struct fq_disc_log_entry *e = (void *)(buf + 1024);
	json_object *o, *r;

	(void)state;
	h->genctr = 5;
	h->numrec = 1;
	e->trtype = 3;
	e->adrfam = 1;
	e->subtype = FQ_SUBTYPE_NVME;
	e->treq = 4;
	e->portid = 2;
	memcpy(e->trsvcid, "4420", 4);
	memcpy(e->traddr, "192.0.2.1", 9);
	memcpy(e->subnqn, "nqn.2026-11.test:a", 18);
	assert_int_equal(log_discovery_len(buf), 2048);
	o = log_discovery_json(buf, sizeof(buf));
	assert_non_null(o);
	assert_int_equal(json_object_get_int(get(o, "genctr")), 5);
	r = json_object_array_get_idx(get(o, "records"), 0);
	assert_string_equal(json_object_get_string(get(r, "trsvcid")), "4420");
	assert_string_equal(json_object_get_string(get(r, "subnqn")), "nqn.2026-11.test:a");
	assert_string_equal(json_object_get_string(get(r, "subtype")), "nvme subsystem");
	assert_string_equal(json_object_get_string(get(r, "treq")),
			    "not specified, sq flow control disable supported");
	assert_string_equal(json_object_get_string(get(r, "sectype")), "none");
	json_object_put(o);
	/* A record count the bytes do not hold. */
	h->numrec = 2;
	assert_null(log_discovery_json(buf, sizeof(buf)));
	h->numrec = 1ull << 40;
	assert_int_equal(log_discovery_len(buf), 1024 + 1024 * 1024);
}

static void identify_bits(void **state)
{
	static struct fq_id_ctrl c;
	static struct fq_id_ns n;
	json_object *o, *bits;
	bool seen = false;

	(void)state;
	c.oncs = FQ_ONCS_DSM | FQ_ONCS_WRITE_ZEROES;
	c.sqes = 0x66;
	o = id_ctrl_human_json(&c);
	bits = get(get(o, "oncs"), "bits");
	for (size_t i = 0; i < json_object_array_length(bits); i++) {
		json_object *b = json_object_array_get_idx(bits, i);

		if (!strcmp(json_object_get_string(get(b, "name")), "Write Zeroes")) {
			assert_string_equal(json_object_get_string(get(b, "bits")), "[3:3]");
			assert_int_equal(json_object_get_int(get(b, "value")), 1);
			seen = true;
		}
		if (!strcmp(json_object_get_string(get(b, "name")), "Compare"))
			assert_int_equal(json_object_get_int(get(b, "value")), 0);
	}
	assert_true(seen);
	bits = get(get(o, "sqes"), "bits");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(bits, 1), "value")), 6);
	json_object_put(o);
	n.flbas = 0x12; /* format 2, metadata extended */
	o = id_ns_human_json(&n);
	bits = get(get(o, "flbas"), "bits");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(bits, 0), "value")), 2);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(bits, 1), "value")), 1);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(smart_fields),	 cmocka_unit_test(error_entries),
		cmocka_unit_test(fw_slots),	 cmocka_unit_test(changed_ns),
		cmocka_unit_test(ana_groups),	 cmocka_unit_test(discovery),
		cmocka_unit_test(identify_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
