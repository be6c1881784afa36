/* SPDX-License-Identifier: MIT */
/*
 * Names of NVMe completion status values, for logs and the command-line tool.
 * Sources: NVMe Base 2.0 §4.6.1.2 (Fig. 100-104), NVM Command Set 1.0 §4.1.1
 * (I/O command set specific generic and media codes) and NVMe-oF 1.1 §3.3
 * (Connect and Discovery command specific codes).
 */
#include "status.h"

#include <stdio.h>

#include "nvme.h"

/* Generic command status, SCT 0 (NVMe Base 2.0 Fig. 100, NVM CS 1.0 Fig. 32). */
static const char *const sct_generic[256] = {
	[FQ_SC_SUCCESS] = "Successful Completion",
	[FQ_SC_INVALID_OPCODE] = "Invalid Command Opcode",
	[FQ_SC_INVALID_FIELD] = "Invalid Field in Command",
	[FQ_SC_CID_CONFLICT] = "Command ID Conflict",
	[FQ_SC_DATA_XFER_ERROR] = "Data Transfer Error",
	[FQ_SC_POWER_LOSS] = "Commands Aborted due to Power Loss Notification",
	[FQ_SC_INTERNAL] = "Internal Error",
	[FQ_SC_ABORT_REQ] = "Command Abort Requested",
	[FQ_SC_ABORT_SQ_DEL] = "Command Aborted due to SQ Deletion",
	[FQ_SC_FUSED_FAIL] = "Command Aborted due to Failed Fused Command",
	[FQ_SC_FUSED_MISSING] = "Command Aborted due to Missing Fused Command",
	[FQ_SC_INVALID_NS] = "Invalid Namespace or Format",
	[FQ_SC_CMD_SEQ_ERROR] = "Command Sequence Error",
	[FQ_SC_SGL_INVALID_LAST] = "Invalid SGL Segment Descriptor",
	[FQ_SC_SGL_INVALID_COUNT] = "Invalid Number of SGL Descriptors",
	[FQ_SC_SGL_INVALID_DATA] = "Data SGL Length Invalid",
	[0x10] = "Metadata SGL Length Invalid",
	[FQ_SC_SGL_INVALID_TYPE] = "SGL Descriptor Type Invalid",
	[0x12] = "Invalid Use of Controller Memory Buffer",
	[0x13] = "PRP Offset Invalid",
	[0x14] = "Atomic Write Unit Exceeded",
	[0x15] = "Operation Denied",
	[FQ_SC_SGL_INVALID_OFFSET] = "SGL Offset Invalid",
	/* Reserved since NVMe 1.4; kept because older peers still send it. */
	[FQ_SC_SGL_INVALID_SUBTYPE] = "SGL Sub Type Invalid",
	[0x18] = "Host Identifier Inconsistent Format",
	[0x19] = "Keep Alive Timer Expired",
	[0x1a] = "Keep Alive Timeout Invalid",
	[0x1b] = "Command Aborted due to Preempt and Abort",
	[0x1c] = "Sanitize Failed",
	[0x1d] = "Sanitize In Progress",
	[0x1e] = "SGL Data Block Granularity Invalid",
	[0x1f] = "Command Not Supported for Queue in CMB",
	[0x20] = "Namespace is Write Protected",
	[0x21] = "Command Interrupted",
	[FQ_SC_TRANSIENT_TRANSPORT] = "Transient Transport Error",
	[0x23] = "Command Prohibited by Command and Feature Lockdown",
	[0x24] = "Admin Command Media Not Ready",
	[FQ_SC_LBA_RANGE] = "LBA Out of Range",
	[FQ_SC_CAP_EXCEEDED] = "Capacity Exceeded",
	[FQ_SC_NS_NOT_READY] = "Namespace Not Ready",
	[0x83] = "Reservation Conflict",
	[0x84] = "Format In Progress",
};

/*
 * Command specific status, SCT 1 (NVMe Base 2.0 Fig. 101, NVMe-oF 1.1 Fig. 39).
 * Codes 0x80 and up depend on the command; the Fabrics Connect meaning is the
 * one named here because only Connect can fail a fabrics queue before any
 * I/O command runs, and the NVM I/O meanings (Conflicting Attributes, Invalid
 * Protection Information, Write to Read Only Range) are never sent by Fabriq.
 */
static const char *const sct_cmd_specific[256] = {
	[0x00] = "Completion Queue Invalid",
	[FQ_SC_INVALID_QID] = "Invalid Queue Identifier",
	[FQ_SC_MAX_QSIZE_EXCEEDED] = "Invalid Queue Size",
	[FQ_SC_ABORT_LIMIT] = "Abort Command Limit Exceeded",
	[FQ_SC_ASYNC_LIMIT] = "Asynchronous Event Request Limit Exceeded",
	[0x06] = "Invalid Firmware Slot",
	[0x07] = "Invalid Firmware Image",
	[0x08] = "Invalid Interrupt Vector",
	[FQ_SC_INVALID_LOG_PAGE] = "Invalid Log Page",
	[0x0a] = "Invalid Format",
	[0x0b] = "Firmware Activation Requires Conventional Reset",
	[0x0c] = "Invalid Queue Deletion",
	[FQ_SC_FEATURE_NOT_SAVEABLE] = "Feature Identifier Not Saveable",
	[FQ_SC_FEATURE_NOT_CHANGEABLE] = "Feature Not Changeable",
	[0x0f] = "Feature Not Namespace Specific",
	[0x10] = "Firmware Activation Requires NVM Subsystem Reset",
	[0x11] = "Firmware Activation Requires Controller Level Reset",
	[0x12] = "Firmware Activation Requires Maximum Time Violation",
	[0x13] = "Firmware Activation Prohibited",
	[0x14] = "Overlapping Range",
	[0x15] = "Namespace Insufficient Capacity",
	[0x16] = "Namespace Identifier Unavailable",
	[0x18] = "Namespace Already Attached",
	[0x19] = "Namespace Is Private",
	[0x1a] = "Namespace Not Attached",
	[0x1b] = "Thin Provisioning Not Supported",
	[0x1c] = "Controller List Invalid",
	[0x1d] = "Device Self-test In Progress",
	[0x1e] = "Boot Partition Write Prohibited",
	[0x1f] = "Invalid Controller Identifier",
	[0x20] = "Invalid Secondary Controller State",
	[0x21] = "Invalid Number of Controller Resources",
	[0x22] = "Invalid Resource Identifier",
	[0x23] = "Sanitize Prohibited While Persistent Memory Region is Enabled",
	[0x24] = "ANA Group Identifier Invalid",
	[0x25] = "ANA Attach Failed",
	[0x26] = "Insufficient Capacity",
	[0x27] = "Namespace Attachment Limit Exceeded",
	[0x28] = "Prohibition of Command Execution Not Supported",
	[0x29] = "I/O Command Set Not Supported",
	[0x2a] = "I/O Command Set Not Enabled",
	[0x2b] = "I/O Command Set Combination Rejected",
	[0x2c] = "Invalid I/O Command Set",
	[0x2d] = "Identifier Unavailable",
	[FQ_SC_CONNECT_INCOMPAT_FMT] = "Connect Incompatible Format",
	[FQ_SC_CONNECT_CTRL_BUSY] = "Connect Controller Busy",
	[FQ_SC_CONNECT_INVALID_PARAM] = "Connect Invalid Parameters",
	[FQ_SC_CONNECT_RESTART_DISC] = "Connect Restart Discovery",
	[FQ_SC_CONNECT_INVALID_HOST] = "Connect Invalid Host",
	[0x90] = "Discover Restart",
	[0x91] = "Authentication Required",
};

/* Media and data integrity errors, SCT 2 (NVMe Base 2.0 Fig. 102, NVM CS 1.0). */
static const char *const sct_media[256] = {
	[FQ_SC_WRITE_FAULT] = "Write Fault",
	[FQ_SC_READ_ERROR] = "Unrecovered Read Error",
	[0x82] = "End-to-end Guard Check Error",
	[0x83] = "End-to-end Application Tag Check Error",
	[0x84] = "End-to-end Reference Tag Check Error",
	[FQ_SC_COMPARE_FAILED] = "Compare Failure",
	[FQ_SC_ACCESS_DENIED] = "Access Denied",
	[0x87] = "Deallocated or Unwritten Logical Block",
	[0x88] = "End-to-End Storage Tag Check Error",
};

/* Path related status, SCT 3 (NVMe Base 2.0 Fig. 103). */
static const char *const sct_path[256] = {
	[FQ_SC_INTERNAL_PATH_ERROR] = "Internal Path Error",
	[0x01] = "Asymmetric Access Persistent Loss",
	[0x02] = "Asymmetric Access Inaccessible",
	[0x03] = "Asymmetric Access Transition",
	[0x60] = "Controller Pathing Error",
	[FQ_SC_HOST_PATH_ERROR] = "Host Pathing Error",
	[FQ_SC_ABORTED_BY_HOST] = "Command Aborted By Host",
};

const char *fq_status_name(unsigned sct, unsigned sc)
{
	static const char *const *const tables[] = {
		[FQ_SCT_GENERIC] = sct_generic,
		[FQ_SCT_CMD_SPECIFIC] = sct_cmd_specific,
		[FQ_SCT_MEDIA] = sct_media,
		[FQ_SCT_PATH] = sct_path,
	};
	const char *name = NULL;

	if (sct == FQ_SCT_VENDOR && sc <= 0xff)
		return "Vendor Specific";
	if (sct < sizeof(tables) / sizeof(tables[0]) && sc <= 0xff)
		name = tables[sct][sc];
	return name ? name : "Unknown";
}

const char *fq_status_str(uint16_t status, char *buf, size_t len)
{
	unsigned sct = fq_status_sct(status), sc = fq_status_sc(status);
	unsigned crd = (status >> 12) & 0x3;
	char crd_txt[16] = "";

	if (len == 0)
		return buf;
	/* CRD selects a Command Retry Delay time (NVMe Base 2.0 Fig. 99). */
	if (crd)
		snprintf(crd_txt, sizeof(crd_txt), ", CRD %u", crd);
	snprintf(buf, len, "%s (sct 0x%x sc 0x%02x%s%s%s)", fq_status_name(sct, sc), sct, sc,
		 crd_txt, status & FQ_STATUS_MORE ? ", More" : "",
		 status & FQ_STATUS_DNR ? ", DNR" : "");
	return buf;
}
