/* SPDX-License-Identifier: MIT */
/* Transport ID strings (src/host/trid.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "fabriq/host.h"

static void parses_all_keys_any_case(void **state)
{
	struct fq_trid t;

	(void)state;
	assert_int_equal(fq_trid_parse(&t, "  TrType:tcp ADRFAM:IPv4 traddr:192.0.2.1 "
					   "trsvcid:4420 subnqn:nqn.a:b hostnqn:nqn.h:1 "),
			 0);
	assert_int_equal(t.trtype, FQ_TRANSPORT_TCP);
	assert_int_equal(t.adrfam, FQ_AF_IPV4);
	assert_string_equal(t.traddr, "192.0.2.1");
	assert_string_equal(t.trsvcid, "4420");
	assert_string_equal(t.subnqn, "nqn.a:b");
	assert_string_equal(t.hostnqn, "nqn.h:1");
}

static void ipv6_is_detected_and_unbracketed(void **state)
{
	struct fq_trid t;

	(void)state;
	assert_int_equal(fq_trid_parse(&t, "traddr:[fe80::1] trsvcid:8009"), 0);
	assert_int_equal(t.adrfam, FQ_AF_IPV6);
	assert_string_equal(t.traddr, "fe80::1");
	assert_int_equal(fq_trid_parse(&t, "traddr:::1"), 0);
	assert_string_equal(t.traddr, "::1");
	assert_int_equal(t.adrfam, FQ_AF_IPV6);
}

static void rejects_bad_input(void **state)
{
	struct fq_trid t;
	char longnqn[300];

	(void)state;
	assert_int_equal(fq_trid_parse(&t, "trtype:RDMA traddr:1.2.3.4"), -EINVAL);
	assert_int_equal(fq_trid_parse(&t, "trsvcid:4420"), -EINVAL); /* no traddr */
	assert_int_equal(fq_trid_parse(&t, "traddr:1.2.3.4 trsvcid:70000"), -EINVAL);
	assert_int_equal(fq_trid_parse(&t, "traddr:1.2.3.4 trsvcid:44a"), -EINVAL);
	assert_int_equal(fq_trid_parse(&t, "traddr:1.2.3.4 color:blue"), -EINVAL);
	assert_int_equal(fq_trid_parse(&t, "traddr:1.2.3.4 adrfam:ipx"), -EINVAL);
	assert_int_equal(fq_trid_parse(&t, "traddr1.2.3.4"), -EINVAL);
	memset(longnqn, 'a', sizeof(longnqn));
	memcpy(longnqn, "traddr:1.1.1.1 subnqn:", 22);
	longnqn[sizeof(longnqn) - 1] = 0;
	assert_int_equal(fq_trid_parse(&t, longnqn), -EINVAL);
}

static void format_round_trips(void **state)
{
	struct fq_trid a, b;
	char buf[1024], small[16];

	(void)state;
	assert_int_equal(fq_trid_parse(&a, "traddr:::1 trsvcid:4420 subnqn:nqn.x:y"), 0);
	assert_true(fq_trid_format(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "trtype:TCP adrfam:IPv6 traddr:::1 trsvcid:4420 subnqn:nqn.x:y");
	assert_int_equal(fq_trid_parse(&b, buf), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(fq_trid_format(&a, small, sizeof(small)), -ENOSPC);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_all_keys_any_case),
		cmocka_unit_test(ipv6_is_detected_and_unbracketed),
		cmocka_unit_test(rejects_bad_input),
		cmocka_unit_test(format_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
