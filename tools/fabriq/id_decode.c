/* SPDX-License-Identifier: MIT */
/*
 * Identify bit fields spelled out for id-ctrl -H and id-ns -H: NVMe Base 2.0
 * Fig. 275 (Identify Controller) and NVM Command Set 1.0 Fig. 97 (Identify
 * Namespace). Pure: identify data in, JSON out.
 */
#include <stdio.h>

#include "log_decode.h"

struct bitf {
	uint8_t hi, lo;
	const char *name;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* {"value": V, "bits": [{"bits": "[hi:lo]", "value": x, "name": ...}, ...]} */
static void field(json_object *o, const char *key, uint64_t v, const struct bitf *b, size_t n)
{
	json_object *f = json_object_new_object(), *a = json_object_new_array();
	char r[16];

	json_object_object_add(f, "value", json_object_new_uint64(v));
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();
		uint64_t mask =
			(b[i].hi - b[i].lo == 63) ? ~0ull : ((1ull << (b[i].hi - b[i].lo + 1)) - 1);

		snprintf(r, sizeof(r), "[%u:%u]", b[i].hi, b[i].lo);
		json_object_object_add(x, "bits", json_object_new_string(r));
		json_object_object_add(x, "value", json_object_new_uint64((v >> b[i].lo) & mask));
		json_object_object_add(x, "name", json_object_new_string(b[i].name));
		json_object_array_add(a, x);
	}
	json_object_object_add(f, "bits", a);
	json_object_object_add(o, key, f);
}

static const struct bitf cmic[] = {
	{0, 0, "Multiple ports"},
	{1, 1, "Multiple controllers"},
	{2, 2, "SR-IOV virtual function"},
	{3, 3, "ANA reporting"},
};
static const struct bitf oaes[] = {
	{8, 8, "Namespace Attribute Notices"},
	{9, 9, "Firmware Activation Notices"},
	{11, 11, "ANA Change Notices"},
	{12, 12, "Predictable Latency Event Aggregate Log Change Notices"},
	{13, 13, "LBA Status Information Notices"},
	{14, 14, "Endurance Group Event Aggregate Log Change Notices"},
	{15, 15, "Normal NVM Subsystem Shutdown"},
	{27, 27, "Zone Descriptor Changed Notices"},
	{31, 31, "Discovery Log Page Change Notices"},
};
static const struct bitf ctratt[] = {
	{0, 0, "128-bit Host Identifier"},
	{1, 1, "Non-Operational Power State Permissive Mode"},
	{2, 2, "NVM Sets"},
	{3, 3, "Read Recovery Levels"},
	{4, 4, "Endurance Groups"},
	{5, 5, "Predictable Latency Mode"},
	{6, 6, "Traffic Based Keep Alive"},
	{7, 7, "Namespace Granularity"},
	{8, 8, "SQ Associations"},
	{9, 9, "UUID List"},
	{10, 10, "Multi-Domain Subsystem"},
	{11, 11, "Fixed Capacity Management"},
	{12, 12, "Variable Capacity Management"},
	{13, 13, "Delete Endurance Group"},
	{14, 14, "Delete NVM Set"},
	{15, 15, "Extended LBA Formats"},
};
static const struct bitf cntrltype[] = {{7, 0, "Controller Type (1 I/O, 2 Discovery, 3 Admin)"}};
static const struct bitf oacs[] = {
	{0, 0, "Security Send and Receive"},
	{1, 1, "Format NVM"},
	{2, 2, "Firmware Commit and Image Download"},
	{3, 3, "Namespace Management"},
	{4, 4, "Device Self-test"},
	{5, 5, "Directives"},
	{6, 6, "NVMe-MI Send and Receive"},
	{7, 7, "Virtualization Management"},
	{8, 8, "Doorbell Buffer Config"},
	{9, 9, "Get LBA Status"},
	{10, 10, "Command and Feature Lockdown"},
};
static const struct bitf frmw[] = {
	{0, 0, "Firmware Slot 1 Read Only"},
	{3, 1, "Number of Firmware Slots"},
	{4, 4, "Activation Without Reset"},
};
static const struct bitf lpa[] = {
	{0, 0, "SMART Log Per Namespace"},
	{1, 1, "Commands Supported and Effects Log"},
	{2, 2, "Extended Data for Get Log Page"},
	{3, 3, "Telemetry Host-Initiated Log"},
	{4, 4, "Persistent Event Log"},
	{5, 5, "Supported Log Pages, Features Supported and Effects Logs"},
	{6, 6, "Telemetry Data Area 4"},
};
static const struct bitf qes[] = {
	{3, 0, "Required Entry Size (log2 bytes)"},
	{7, 4, "Maximum Entry Size (log2 bytes)"},
};
static const struct bitf oncs[] = {
	{0, 0, "Compare"},
	{1, 1, "Write Uncorrectable"},
	{2, 2, "Dataset Management"},
	{3, 3, "Write Zeroes"},
	{4, 4, "Save field in Set Features, Select field in Get Features"},
	{5, 5, "Reservations"},
	{6, 6, "Timestamp"},
	{7, 7, "Verify"},
	{8, 8, "Copy"},
};
static const struct bitf fuses[] = {{0, 0, "Compare and Write"}};
static const struct bitf fna[] = {
	{0, 0, "Format Applies to All Namespaces"},
	{1, 1, "Secure Erase Applies to All Namespaces"},
	{2, 2, "Cryptographic Erase"},
	{3, 3, "Format of NSID FFFFFFFFh Not Supported"},
};
static const struct bitf vwc[] = {
	{0, 0, "Volatile Write Cache Present"},
	{2, 1, "Flush Broadcast Support"},
};
static const struct bitf sgls[] = {
	{1, 0, "SGL Support (1: any alignment, 2: dword aligned)"},
	{2, 2, "Keyed SGL Data Block Descriptor"},
	{16, 16, "SGL Bit Bucket Descriptor"},
	{17, 17, "Byte Aligned Contiguous Physical Buffer of Metadata"},
	{18, 18, "SGL Longer than Data Transferred"},
	{19, 19, "MPTR Containing an SGL Descriptor"},
	{20, 20, "Address Field as Offset"},
	{21, 21, "Transport SGL Data Block Descriptor"},
};
static const struct bitf anacap[] = {
	{0, 0, "ANA Optimized State"},
	{1, 1, "ANA Non-Optimized State"},
	{2, 2, "ANA Inaccessible State"},
	{3, 3, "ANA Persistent Loss State"},
	{4, 4, "ANA Change State"},
	{6, 6, "ANAGRPID Does Not Change While Attached"},
	{7, 7, "Non-zero ANAGRPID in Namespace Management"},
};
static const struct bitf ofcs[] = {{0, 0, "Disconnect Command"}};

json_object *id_ctrl_human_json(const struct fq_id_ctrl *id)
{
	json_object *o = json_object_new_object();

	field(o, "cmic", id->cmic, cmic, N(cmic));
	field(o, "oaes", id->oaes, oaes, N(oaes));
	field(o, "ctratt", id->ctratt, ctratt, N(ctratt));
	field(o, "cntrltype", id->cntrltype, cntrltype, N(cntrltype));
	field(o, "oacs", id->oacs, oacs, N(oacs));
	field(o, "frmw", id->frmw, frmw, N(frmw));
	field(o, "lpa", id->lpa, lpa, N(lpa));
	field(o, "anacap", id->anacap, anacap, N(anacap));
	field(o, "sqes", id->sqes, qes, N(qes));
	field(o, "cqes", id->cqes, qes, N(qes));
	field(o, "oncs", id->oncs, oncs, N(oncs));
	field(o, "fuses", id->fuses, fuses, N(fuses));
	field(o, "fna", id->fna, fna, N(fna));
	field(o, "vwc", id->vwc, vwc, N(vwc));
	field(o, "sgls", id->sgls, sgls, N(sgls));
	field(o, "ofcs", id->ofcs, ofcs, N(ofcs));
	return o;
}

static const struct bitf nsfeat[] = {
	{0, 0, "Thin Provisioning"},
	{1, 1, "Namespace Atomic Write Unit fields (NAWUN, NAWUPF, NACWU)"},
	{2, 2, "Deallocated or Unwritten Logical Block Error"},
	{3, 3, "NGUID and EUI64 Never Reused"},
	{4, 4, "Optimal Performance fields (NPWG, NPWA, NPDG, NPDA, NOWS)"},
};
static const struct bitf flbas[] = {
	{3, 0, "LBA Format Index (bits 3:0)"},
	{4, 4, "Metadata at End of Data LBA (extended)"},
	{6, 5, "LBA Format Index (bits 5:4)"},
};
static const struct bitf mc[] = {
	{0, 0, "Metadata as Part of an Extended Data LBA"},
	{1, 1, "Metadata in a Separate Buffer"},
};
static const struct bitf dps[] = {
	{2, 0, "Protection Information Type (0: disabled)"},
	{3, 3, "Protection Information in the First Bytes of Metadata"},
};
static const struct bitf nmic[] = {{0, 0, "Shared Namespace (may attach to several controllers)"}};
static const struct bitf dlfeat[] = {
	{2, 0, "Deallocated Read Value (0: not reported, 1: zeroes, 2: FFh)"},
	{3, 3, "Deallocate Bit in Write Zeroes"},
	{4, 4, "Guard Field of Deallocated Blocks is the CRC"},
};
static const struct bitf nsattr[] = {{0, 0, "Write Protected"}};

json_object *id_ns_human_json(const struct fq_id_ns *id)
{
	json_object *o = json_object_new_object();

	field(o, "nsfeat", id->nsfeat, nsfeat, N(nsfeat));
	field(o, "flbas", id->flbas, flbas, N(flbas));
	field(o, "mc", id->mc, mc, N(mc));
	field(o, "dps", id->dps, dps, N(dps));
	field(o, "nmic", id->nmic, nmic, N(nmic));
	field(o, "dlfeat", id->dlfeat, dlfeat, N(dlfeat));
	field(o, "nsattr", id->nsattr, nsattr, N(nsattr));
	return o;
}
