/* SPDX-License-Identifier: MIT */
/* Status names and the status string (NVMe Base 2.0 §4.6.1, NVMe-oF 1.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/nvme.h"
#include "proto/status.h"

static void names_per_type(void **state)
{
	(void)state;
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, FQ_SC_SUCCESS), "Successful Completion");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD),
			    "Invalid Field in Command");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, FQ_SC_LBA_RANGE), "LBA Out of Range");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, FQ_SC_TRANSIENT_TRANSPORT),
			    "Transient Transport Error");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, 0x19), "Keep Alive Timer Expired");
	assert_string_equal(fq_status_name(FQ_SCT_CMD_SPECIFIC, FQ_SC_INVALID_LOG_PAGE),
			    "Invalid Log Page");
	assert_string_equal(fq_status_name(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INCOMPAT_FMT),
			    "Connect Incompatible Format");
	assert_string_equal(fq_status_name(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INVALID_PARAM),
			    "Connect Invalid Parameters");
	assert_string_equal(fq_status_name(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INVALID_HOST),
			    "Connect Invalid Host");
	assert_string_equal(fq_status_name(FQ_SCT_MEDIA, FQ_SC_READ_ERROR),
			    "Unrecovered Read Error");
	assert_string_equal(fq_status_name(FQ_SCT_MEDIA, FQ_SC_COMPARE_FAILED), "Compare Failure");
	assert_string_equal(fq_status_name(FQ_SCT_PATH, 0x03), "Asymmetric Access Transition");
	assert_string_equal(fq_status_name(FQ_SCT_PATH, FQ_SC_ABORTED_BY_HOST),
			    "Command Aborted By Host");
	assert_string_equal(fq_status_name(FQ_SCT_VENDOR, 0x42), "Vendor Specific");
}

static void unknown_values(void **state)
{
	(void)state;
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, 0x7f), "Unknown");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, 0xff), "Unknown");
	assert_string_equal(fq_status_name(FQ_SCT_MEDIA, 0x00), "Unknown");
	assert_string_equal(fq_status_name(4, 0x00), "Unknown");
	assert_string_equal(fq_status_name(6, 0x02), "Unknown");
	assert_string_equal(fq_status_name(8, 0x02), "Unknown");
	assert_string_equal(fq_status_name(FQ_SCT_GENERIC, 0x102), "Unknown");
	assert_string_equal(fq_status_name(FQ_SCT_VENDOR, 0x100), "Unknown");
}

/* Every status nvme.h names has a name: no "Unknown" for codes we send. */
static void every_named_code_known(void **state)
{
	static const struct {
		unsigned sct, sc;
	} codes[] = {
		{0, FQ_SC_SUCCESS},
		{0, FQ_SC_INVALID_OPCODE},
		{0, FQ_SC_INVALID_FIELD},
		{0, FQ_SC_CID_CONFLICT},
		{0, FQ_SC_DATA_XFER_ERROR},
		{0, FQ_SC_POWER_LOSS},
		{0, FQ_SC_INTERNAL},
		{0, FQ_SC_ABORT_REQ},
		{0, FQ_SC_ABORT_SQ_DEL},
		{0, FQ_SC_FUSED_FAIL},
		{0, FQ_SC_FUSED_MISSING},
		{0, FQ_SC_INVALID_NS},
		{0, FQ_SC_CMD_SEQ_ERROR},
		{0, FQ_SC_SGL_INVALID_LAST},
		{0, FQ_SC_SGL_INVALID_COUNT},
		{0, FQ_SC_SGL_INVALID_DATA},
		{0, FQ_SC_SGL_INVALID_TYPE},
		{0, FQ_SC_SGL_INVALID_OFFSET},
		{0, FQ_SC_SGL_INVALID_SUBTYPE},
		{0, FQ_SC_TRANSIENT_TRANSPORT},
		{0, FQ_SC_LBA_RANGE},
		{0, FQ_SC_CAP_EXCEEDED},
		{0, FQ_SC_NS_NOT_READY},
		{1, FQ_SC_INVALID_QID},
		{1, FQ_SC_MAX_QSIZE_EXCEEDED},
		{1, FQ_SC_ABORT_LIMIT},
		{1, FQ_SC_ASYNC_LIMIT},
		{1, FQ_SC_INVALID_LOG_PAGE},
		{1, FQ_SC_FEATURE_NOT_SAVEABLE},
		{1, FQ_SC_FEATURE_NOT_CHANGEABLE},
		{1, FQ_SC_CONNECT_INCOMPAT_FMT},
		{1, FQ_SC_CONNECT_CTRL_BUSY},
		{1, FQ_SC_CONNECT_INVALID_PARAM},
		{1, FQ_SC_CONNECT_RESTART_DISC},
		{1, FQ_SC_CONNECT_INVALID_HOST},
		{2, FQ_SC_WRITE_FAULT},
		{2, FQ_SC_READ_ERROR},
		{2, FQ_SC_COMPARE_FAILED},
		{2, FQ_SC_ACCESS_DENIED},
		{3, FQ_SC_INTERNAL_PATH_ERROR},
		{3, FQ_SC_HOST_PATH_ERROR},
		{3, FQ_SC_ABORTED_BY_HOST},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *n = fq_status_name(codes[i].sct, codes[i].sc);

		if (strcmp(n, "Unknown") == 0)
			fail_msg("no name for sct 0x%x sc 0x%02x", codes[i].sct, codes[i].sc);
	}
}

static void status_string(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(fq_status_str(0, buf, sizeof(buf)),
			    "Successful Completion (sct 0x0 sc 0x00)");
	assert_string_equal(
		fq_status_str(FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_INVALID_FIELD) | FQ_STATUS_DNR, buf,
			      sizeof(buf)),
		"Invalid Field in Command (sct 0x0 sc 0x02, DNR)");
	assert_string_equal(
		fq_status_str(FQ_STATUS(FQ_SCT_CMD_SPECIFIC, FQ_SC_CONNECT_INVALID_HOST) |
				      FQ_STATUS_MORE | FQ_STATUS_DNR,
			      buf, sizeof(buf)),
		"Connect Invalid Host (sct 0x1 sc 0x84, More, DNR)");
	assert_string_equal(
		fq_status_str(FQ_STATUS(FQ_SCT_PATH, FQ_SC_HOST_PATH_ERROR) | FQ_STATUS_MORE, buf,
			      sizeof(buf)),
		"Host Pathing Error (sct 0x3 sc 0x70, More)");
	/* Command Retry Delay bits 13:12. */
	assert_string_equal(fq_status_str(FQ_STATUS(FQ_SCT_GENERIC, FQ_SC_NS_NOT_READY) | 0x2000,
					  buf, sizeof(buf)),
			    "Namespace Not Ready (sct 0x0 sc 0x82, CRD 2)");
	assert_string_equal(fq_status_str(FQ_STATUS(5, 0x33), buf, sizeof(buf)),
			    "Unknown (sct 0x5 sc 0x33)");
}

static void status_string_ignores_phase(void **state)
{
	char a[128], b[128];
	uint16_t st = FQ_STATUS(FQ_SCT_MEDIA, FQ_SC_WRITE_FAULT) | FQ_STATUS_DNR;

	(void)state;
	fq_status_str(st, a, sizeof(a));
	fq_status_str(st | 1, b, sizeof(b));
	assert_string_equal(a, b);
	assert_string_equal(a, "Write Fault (sct 0x2 sc 0x80, DNR)");
}

static void status_string_truncates(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(fq_status_str(FQ_STATUS(0, FQ_SC_INTERNAL), buf, sizeof(buf)), buf);
	assert_string_equal(buf, "Interna");
	/* A zero-length buffer is left alone. */
	buf[0] = 'Q';
	assert_ptr_equal(fq_status_str(0, buf, 0), buf);
	assert_int_equal(buf[0], 'Q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_per_type),
		cmocka_unit_test(unknown_values),
		cmocka_unit_test(every_named_code_known),
		cmocka_unit_test(status_string),
		cmocka_unit_test(status_string_ignores_phase),
		cmocka_unit_test(status_string_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
