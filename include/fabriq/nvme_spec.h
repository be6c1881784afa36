/* SPDX-License-Identifier: MIT */
/*
 * NVMe data structures a host program reads: Identify Controller, Identify
 * Namespace, the log pages (Error Information, SMART / Health, Firmware
 * Slot, Changed Namespace List, Commands Supported and Effects, ANA) and the
 * NVMe-oF discovery log page. fq_ctrlr_get_identify(), fq_ns_get_identify(),
 * fq_ctrlr_identify() and fq_ctrlr_get_log_page() return these layouts:
 *
 *	const struct fq_id_ctrl *id = fq_ctrlr_get_identify(ctrlr);
 *
 * Multi-byte fields are little-endian on the wire. Fabriq supports only
 * little-endian hosts (checked below), so fields are plain integers; every
 * struct has its size and the offset of its multi-byte fields asserted
 * against the figure of NVMe Base 2.0, NVM Command Set 1.0 or NVMe-oF 1.1
 * named in its comment.
 */
#ifndef FABRIQ_NVME_SPEC_H
#define FABRIQ_NVME_SPEC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Fabriq needs a little-endian host");

/* Log page identifiers, NVMe Base 2.0 Fig. 202. */
enum {
	FQ_LID_ERROR = 0x01,
	FQ_LID_SMART = 0x02,
	FQ_LID_FW_SLOT = 0x03,
	FQ_LID_CHANGED_NS = 0x04,
	FQ_LID_CMD_EFFECTS = 0x05,
	FQ_LID_ANA = 0x0c,
	FQ_LID_DISCOVERY = 0x70,
};

/* Power state descriptor (32 bytes), NVMe Base 2.0 Fig. 276. */
struct fq_psd {
	uint16_t mp;
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t enlat;
	uint32_t exlat;
	uint8_t rrt, rrl, rwt, rwl;
	uint16_t idlp;
	uint8_t ips;
	uint8_t rsvd19;
	uint16_t actp;
	uint8_t apws;
	uint8_t rsvd23[9];
};
static_assert(sizeof(struct fq_psd) == 32, "PSD is 32 bytes");
static_assert(offsetof(struct fq_psd, enlat) == 4, "ENLAT at 4");
static_assert(offsetof(struct fq_psd, idlp) == 16, "IDLP at 16");
static_assert(offsetof(struct fq_psd, actp) == 20, "ACTP at 20");

/* Identify Controller data structure, NVMe Base 2.0 Fig. 275 (4096 bytes). */
struct fq_id_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;
	uint16_t cntlid;
	uint32_t ver;
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;
	uint32_t ctratt;
	uint16_t rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;
	uint8_t fguid[16];
	uint16_t crdt1, crdt2, crdt3;
	uint8_t rsvd134[122];
	uint16_t oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint16_t mtfa;
	uint32_t hmpre;
	uint32_t hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	uint32_t rpmbs;
	uint16_t edstt;
	uint8_t dsto;
	uint8_t fwug;
	uint16_t kas;
	uint16_t hctma;
	uint16_t mntmt;
	uint16_t mxtmt;
	uint32_t sanicap;
	uint32_t hmminds;
	uint16_t hmmaxd;
	uint16_t nsetidmax;
	uint16_t endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	uint32_t anagrpmax;
	uint32_t nanagrpid;
	uint32_t pels;
	uint8_t rsvd356[156];
	uint8_t sqes;
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;
	uint16_t oncs;
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t ocfs;
	uint32_t sgls;
	uint32_t mnan;
	uint8_t rsvd544[224];
	char subnqn[256];
	uint8_t rsvd1024[768];
	/* NVMe-oF 1.1 §4.1 Fig. 28: fabrics-specific fields. */
	uint32_t ioccsz;
	uint32_t iorcsz;
	uint16_t icdoff;
	uint8_t fcatt;
	uint8_t msdbd;
	uint16_t ofcs;
	uint8_t rsvd1806[242];
	struct fq_psd psd[32];
	uint8_t vs[1024];
};
static_assert(sizeof(struct fq_id_ctrl) == 4096, "Identify Controller is 4 KiB");
static_assert(offsetof(struct fq_id_ctrl, sn) == 4, "SN at 4");
static_assert(offsetof(struct fq_id_ctrl, mn) == 24, "MN at 24");
static_assert(offsetof(struct fq_id_ctrl, fr) == 64, "FR at 64");
static_assert(offsetof(struct fq_id_ctrl, cmic) == 76, "CMIC at 76");
static_assert(offsetof(struct fq_id_ctrl, mdts) == 77, "MDTS at 77");
static_assert(offsetof(struct fq_id_ctrl, cntlid) == 78, "CNTLID at 78");
static_assert(offsetof(struct fq_id_ctrl, ver) == 80, "VER at 80");
static_assert(offsetof(struct fq_id_ctrl, oaes) == 92, "OAES at 92");
static_assert(offsetof(struct fq_id_ctrl, ctratt) == 96, "CTRATT at 96");
static_assert(offsetof(struct fq_id_ctrl, cntrltype) == 111, "CNTRLTYPE at 111");
static_assert(offsetof(struct fq_id_ctrl, fguid) == 112, "FGUID at 112");
static_assert(offsetof(struct fq_id_ctrl, oacs) == 256, "OACS at 256");
static_assert(offsetof(struct fq_id_ctrl, lpa) == 261, "LPA at 261");
static_assert(offsetof(struct fq_id_ctrl, wctemp) == 266, "WCTEMP at 266");
static_assert(offsetof(struct fq_id_ctrl, hmpre) == 272, "HMPRE at 272");
static_assert(offsetof(struct fq_id_ctrl, tnvmcap) == 280, "TNVMCAP at 280");
static_assert(offsetof(struct fq_id_ctrl, rpmbs) == 312, "RPMBS at 312");
static_assert(offsetof(struct fq_id_ctrl, kas) == 320, "KAS at 320");
static_assert(offsetof(struct fq_id_ctrl, sanicap) == 328, "SANICAP at 328");
static_assert(offsetof(struct fq_id_ctrl, anatt) == 342, "ANATT at 342");
static_assert(offsetof(struct fq_id_ctrl, anagrpmax) == 344, "ANAGRPMAX at 344");
static_assert(offsetof(struct fq_id_ctrl, pels) == 352, "PELS at 352");
static_assert(offsetof(struct fq_id_ctrl, sqes) == 512, "SQES at 512");
static_assert(offsetof(struct fq_id_ctrl, maxcmd) == 514, "MAXCMD at 514");
static_assert(offsetof(struct fq_id_ctrl, nn) == 516, "NN at 516");
static_assert(offsetof(struct fq_id_ctrl, oncs) == 520, "ONCS at 520");
static_assert(offsetof(struct fq_id_ctrl, vwc) == 525, "VWC at 525");
static_assert(offsetof(struct fq_id_ctrl, awun) == 526, "AWUN at 526");
static_assert(offsetof(struct fq_id_ctrl, acwu) == 532, "ACWU at 532");
static_assert(offsetof(struct fq_id_ctrl, ocfs) == 534, "OCFS at 534");
static_assert(offsetof(struct fq_id_ctrl, sgls) == 536, "SGLS at 536");
static_assert(offsetof(struct fq_id_ctrl, mnan) == 540, "MNAN at 540");
static_assert(offsetof(struct fq_id_ctrl, subnqn) == 768, "SUBNQN at 768");
static_assert(offsetof(struct fq_id_ctrl, ioccsz) == 1792, "IOCCSZ at 1792");
static_assert(offsetof(struct fq_id_ctrl, iorcsz) == 1796, "IORCSZ at 1796");
static_assert(offsetof(struct fq_id_ctrl, icdoff) == 1800, "ICDOFF at 1800");
static_assert(offsetof(struct fq_id_ctrl, ofcs) == 1804, "OFCS at 1804");
static_assert(offsetof(struct fq_id_ctrl, psd) == 2048, "PSD at 2048");
static_assert(offsetof(struct fq_id_ctrl, vs) == 3072, "VS at 3072");

#define FQ_CTRL_TYPE_IO 1
#define FQ_CTRL_TYPE_DISCOVERY 2
#define FQ_ONCS_COMPARE (1u << 0)
#define FQ_ONCS_DSM (1u << 2)
#define FQ_ONCS_WRITE_ZEROES (1u << 3)
#define FQ_ONCS_COPY (1u << 8)	   /* NVMe Base 2.0 Fig. 275: Copy command */
#define FQ_OCFS_FORMAT_0 (1u << 0) /* Copy Descriptor Format 0h supported */
#define FQ_FUSES_COMPARE_WRITE (1u << 0)
#define FQ_LPA_CMD_EFFECTS (1u << 1)
#define FQ_LPA_EXT_DATA (1u << 2)
#define FQ_SGLS_SUPPORTED (1u << 0)
#define FQ_SGLS_OFFSET (1u << 20)

/* LBA format (4 bytes), NVM Command Set 1.0 Fig. 98. */
struct fq_lbaf {
	uint16_t ms;
	uint8_t lbads;
	uint8_t rp;
};
static_assert(sizeof(struct fq_lbaf) == 4, "LBAF is 4 bytes");

/* Identify Namespace (NVM), NVM Command Set 1.0 Fig. 97 (4096 bytes). */
struct fq_id_ns {
	uint64_t nsze;
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nsfeat;
	uint8_t nlbaf;
	uint8_t flbas;
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint16_t mssrl; /* NVM CS 2.0 Fig. 97: max single source range length */
	uint32_t mcl;	/* max copy length, logical blocks */
	uint8_t msrc;	/* max source range count, 0's based */
	uint8_t rsvd81[11];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct fq_lbaf lbaf[16];
	uint8_t rsvd192[3904];
};
static_assert(sizeof(struct fq_id_ns) == 4096, "Identify Namespace is 4 KiB");
static_assert(offsetof(struct fq_id_ns, ncap) == 8, "NCAP at 8");
static_assert(offsetof(struct fq_id_ns, nuse) == 16, "NUSE at 16");
static_assert(offsetof(struct fq_id_ns, nsfeat) == 24, "NSFEAT at 24");
static_assert(offsetof(struct fq_id_ns, flbas) == 26, "FLBAS at 26");
static_assert(offsetof(struct fq_id_ns, nmic) == 30, "NMIC at 30");
static_assert(offsetof(struct fq_id_ns, dlfeat) == 33, "DLFEAT at 33");
static_assert(offsetof(struct fq_id_ns, nawun) == 34, "NAWUN at 34");
static_assert(offsetof(struct fq_id_ns, noiob) == 46, "NOIOB at 46");
static_assert(offsetof(struct fq_id_ns, nvmcap) == 48, "NVMCAP at 48");
static_assert(offsetof(struct fq_id_ns, npwg) == 64, "NPWG at 64");
static_assert(offsetof(struct fq_id_ns, nows) == 72, "NOWS at 72");
static_assert(offsetof(struct fq_id_ns, mssrl) == 74, "MSSRL at 74");
static_assert(offsetof(struct fq_id_ns, mcl) == 76, "MCL at 76");
static_assert(offsetof(struct fq_id_ns, msrc) == 80, "MSRC at 80");
static_assert(offsetof(struct fq_id_ns, anagrpid) == 92, "ANAGRPID at 92");
static_assert(offsetof(struct fq_id_ns, nsattr) == 99, "NSATTR at 99");
static_assert(offsetof(struct fq_id_ns, nvmsetid) == 100, "NVMSETID at 100");
static_assert(offsetof(struct fq_id_ns, endgid) == 102, "ENDGID at 102");
static_assert(offsetof(struct fq_id_ns, nguid) == 104, "NGUID at 104");
static_assert(offsetof(struct fq_id_ns, eui64) == 120, "EUI64 at 120");
static_assert(offsetof(struct fq_id_ns, lbaf) == 128, "LBAF at 128");

#define FQ_NSFEAT_THIN (1u << 0)
/* NSATTR bit 0: the namespace is write protected (NVMe NVM command set 1.0, 4.1.5.1). */
#define FQ_NSATTR_WRITE_PROTECTED (1u << 0)
#define FQ_DLFEAT_READ_ZEROES 0x01 /* deallocated blocks read as zeroes */

/* Namespace Identification Descriptor, NVMe Base 2.0 Fig. 280. */
struct fq_ns_desc_hdr {
	uint8_t nidt;
	uint8_t nidl;
	uint16_t rsvd;
};
static_assert(sizeof(struct fq_ns_desc_hdr) == 4, "NS descriptor header is 4 bytes");
enum {
	FQ_NIDT_EUI64 = 1,
	FQ_NIDT_NGUID = 2,
	FQ_NIDT_UUID = 3,
	FQ_NIDT_CSI = 4,
};
#define FQ_CSI_NVM 0

/* Error Information log entry (64 bytes), NVMe Base 2.0 Fig. 205. */
struct fq_error_log {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;
	uint16_t param_loc;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_spec;
	uint8_t rsvd42[22];
};
static_assert(sizeof(struct fq_error_log) == 64, "error log entry is 64 bytes");
static_assert(offsetof(struct fq_error_log, sqid) == 8, "SQID at 8");
static_assert(offsetof(struct fq_error_log, cid) == 10, "CID at 10");
static_assert(offsetof(struct fq_error_log, status) == 12, "status at 12");
static_assert(offsetof(struct fq_error_log, param_loc) == 14, "parameter location at 14");
static_assert(offsetof(struct fq_error_log, lba) == 16, "LBA at 16");
static_assert(offsetof(struct fq_error_log, nsid) == 24, "NSID at 24");
static_assert(offsetof(struct fq_error_log, vs) == 28, "VS at 28");
static_assert(offsetof(struct fq_error_log, trtype) == 29, "TRTYPE at 29");
static_assert(offsetof(struct fq_error_log, cs) == 32, "CS at 32");
static_assert(offsetof(struct fq_error_log, trtype_spec) == 40, "TTSI at 40");

/* SMART / Health Information log (512 bytes), NVMe Base 2.0 Fig. 207. */
struct fq_smart_log {
	uint8_t critical_warning;
	uint8_t temperature[2];
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
};
static_assert(sizeof(struct fq_smart_log) == 512, "SMART log is 512 bytes");
static_assert(offsetof(struct fq_smart_log, temperature) == 1, "temperature at 1");
static_assert(offsetof(struct fq_smart_log, data_units_read) == 32, "DUR at 32");
static_assert(offsetof(struct fq_smart_log, data_units_written) == 48, "DUW at 48");
static_assert(offsetof(struct fq_smart_log, host_reads) == 64, "HRC at 64");
static_assert(offsetof(struct fq_smart_log, host_writes) == 80, "HWC at 80");
static_assert(offsetof(struct fq_smart_log, ctrl_busy_time) == 96, "CBT at 96");
static_assert(offsetof(struct fq_smart_log, power_cycles) == 112, "PWRC at 112");
static_assert(offsetof(struct fq_smart_log, power_on_hours) == 128, "POH at 128");
static_assert(offsetof(struct fq_smart_log, unsafe_shutdowns) == 144, "UNSAFE at 144");
static_assert(offsetof(struct fq_smart_log, media_errors) == 160, "MEDIA at 160");
static_assert(offsetof(struct fq_smart_log, num_err_log_entries) == 176, "errors at 176");
static_assert(offsetof(struct fq_smart_log, warning_temp_time) == 192, "WCTT at 192");
static_assert(offsetof(struct fq_smart_log, critical_comp_time) == 196, "CCTT at 196");
static_assert(offsetof(struct fq_smart_log, temp_sensor) == 200, "TS1 at 200");
static_assert(offsetof(struct fq_smart_log, thm_temp1_trans_count) == 216, "TMT1TC at 216");
static_assert(offsetof(struct fq_smart_log, thm_temp2_trans_count) == 220, "TMT2TC at 220");
static_assert(offsetof(struct fq_smart_log, thm_temp1_total_time) == 224, "TTTMT1 at 224");
static_assert(offsetof(struct fq_smart_log, thm_temp2_total_time) == 228, "TTTMT2 at 228");

/* SMART Critical Warning bits, NVMe Base 2.0 Fig. 207 byte 0. */
#define FQ_SMART_CW_SPARE (1u << 0)
#define FQ_SMART_CW_TEMP (1u << 1)
#define FQ_SMART_CW_DEGRADED (1u << 2)
#define FQ_SMART_CW_READ_ONLY (1u << 3)
#define FQ_SMART_CW_VOLATILE (1u << 4)
#define FQ_SMART_CW_PMR_RO (1u << 5)

/* Firmware Slot Information log (512 bytes), NVMe Base 2.0 §5.16.1.4 Fig. 208. */
struct fq_fw_slot_log {
	uint8_t afi; /* bits 2:0 active slot, bits 6:4 slot at next reset */
	uint8_t rsvd1[7];
	char frs[7][8]; /* firmware revision per slot, space padded */
	uint8_t rsvd64[448];
};
static_assert(sizeof(struct fq_fw_slot_log) == 512, "firmware slot log is 512 bytes");
static_assert(offsetof(struct fq_fw_slot_log, frs) == 8, "FRS1 at 8");
static_assert(offsetof(struct fq_fw_slot_log, rsvd64) == 64, "reserved from 64");

/* Changed Namespace List log (4096 bytes), NVMe Base 2.0 §5.16.1.5 Fig. 209. */
#define FQ_CHANGED_NS_MAX 1024
#define FQ_CHANGED_NS_OVERFLOW 0xffffffffu /* first entry: more than 1024 changed */
struct fq_changed_ns_log {
	uint32_t nsid[FQ_CHANGED_NS_MAX];
};
static_assert(sizeof(struct fq_changed_ns_log) == 4096, "changed namespace log is 4 KiB");

/* Asymmetric Namespace Access log header, NVMe Base 2.0 §5.16.1.12 Fig. 224. */
struct fq_ana_log_hdr {
	uint64_t chgcnt;
	uint16_t ngrps;
	uint8_t rsvd10[6];
};
static_assert(sizeof(struct fq_ana_log_hdr) == 16, "ANA log header is 16 bytes");
static_assert(offsetof(struct fq_ana_log_hdr, ngrps) == 8, "NGRPS at 8");

/* ANA group descriptor, Fig. 225; NNSIDS 4-byte NSIDs follow it. */
struct fq_ana_group_desc {
	uint32_t grpid;
	uint32_t nnsids;
	uint64_t chgcnt;
	uint8_t state; /* bits 3:0, FQ_ANA_* */
	uint8_t rsvd17[15];
};
static_assert(sizeof(struct fq_ana_group_desc) == 32, "ANA group descriptor is 32 bytes");
static_assert(offsetof(struct fq_ana_group_desc, nnsids) == 4, "NNSIDS at 4");
static_assert(offsetof(struct fq_ana_group_desc, chgcnt) == 8, "CHGCNT at 8");
static_assert(offsetof(struct fq_ana_group_desc, state) == 16, "ANAS at 16");
enum {
	FQ_ANA_OPTIMIZED = 0x1,
	FQ_ANA_NON_OPTIMIZED = 0x2,
	FQ_ANA_INACCESSIBLE = 0x3,
	FQ_ANA_PERSISTENT_LOSS = 0x4,
	FQ_ANA_CHANGE = 0xf,
};

/* Commands Supported and Effects log (4096 bytes), NVMe Base 2.0 Fig. 210. */
struct fq_effects_log {
	uint32_t acs[256];
	uint32_t iocs[256];
	uint8_t rsvd[2048];
};
static_assert(sizeof(struct fq_effects_log) == 4096, "effects log is 4 KiB");
#define FQ_EFFECTS_CSUPP (1u << 0)
#define FQ_EFFECTS_LBCC (1u << 1)

/* Discovery log page header, NVMe-oF 1.1 Fig. 31 (1024 bytes). */
struct fq_disc_log_hdr {
	uint64_t genctr;
	uint64_t numrec;
	uint16_t recfmt;
	uint8_t rsvd18[1006];
};
static_assert(sizeof(struct fq_disc_log_hdr) == 1024, "discovery header is 1 KiB");
static_assert(offsetof(struct fq_disc_log_hdr, numrec) == 8, "NUMREC at 8");
static_assert(offsetof(struct fq_disc_log_hdr, recfmt) == 16, "RECFMT at 16");

/* Discovery log page entry, NVMe-oF 1.1 Fig. 32 (1024 bytes). */
struct fq_disc_log_entry {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype;
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	uint8_t rsvd12[20];
	char trsvcid[32];
	uint8_t rsvd64[192];
	char subnqn[256];
	char traddr[256];
	uint8_t tsas[256];
};
static_assert(sizeof(struct fq_disc_log_entry) == 1024, "discovery entry is 1 KiB");
static_assert(offsetof(struct fq_disc_log_entry, portid) == 4, "PORTID at 4");
static_assert(offsetof(struct fq_disc_log_entry, cntlid) == 6, "CNTLID at 6");
static_assert(offsetof(struct fq_disc_log_entry, asqsz) == 8, "ASQSZ at 8");
static_assert(offsetof(struct fq_disc_log_entry, eflags) == 10, "EFLAGS at 10");
static_assert(offsetof(struct fq_disc_log_entry, trsvcid) == 32, "TRSVCID at 32");
static_assert(offsetof(struct fq_disc_log_entry, subnqn) == 256, "SUBNQN at 256");
static_assert(offsetof(struct fq_disc_log_entry, traddr) == 512, "TRADDR at 512");
static_assert(offsetof(struct fq_disc_log_entry, tsas) == 768, "TSAS at 768");

enum {
	FQ_TRTYPE_TCP = 3,
};
enum {
	FQ_ADRFAM_IPV4 = 1,
	FQ_ADRFAM_IPV6 = 2,
};
enum {
	FQ_SUBTYPE_DISCOVERY_REFERRAL = 1,
	FQ_SUBTYPE_NVME = 2,
	FQ_SUBTYPE_CURRENT_DISCOVERY = 3,
};
#define FQ_TREQ_NOT_SPECIFIED 0x0
#define FQ_TREQ_SQFLOW_NOT_REQUIRED 0x4 /* bit 2: SQ flow control disable allowed */

#ifdef __cplusplus
}
#endif

#endif
