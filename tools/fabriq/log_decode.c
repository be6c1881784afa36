/* SPDX-License-Identifier: MIT */
/* Log pages to JSON (NVMe Base 2.0 §5.16.1, NVMe-oF 1.1 §5.4). No I/O here. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log_decode.h"
#include "fabriq/nvme_spec.h"

#define ADD(o, k, v) json_object_object_add(o, k, v)
#define ADD_U(o, k, v) ADD(o, k, json_object_new_uint64((uint64_t)(v)))
#define ADD_S(o, k, v) ADD(o, k, json_object_new_string(v))

/* 128-bit little-endian counters: a number when they fit 64 bits, else a decimal string. */
static json_object *u128_json(const uint8_t b[16])
{
	unsigned __int128 v = 0;
	char s[48], *p = s + sizeof(s) - 1;

	for (int i = 15; i >= 0; i--)
		v = (v << 8) | b[i];
	if (!(v >> 64))
		return json_object_new_uint64((uint64_t)v);
	*p = 0;
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	return json_object_new_string(p);
}

static void fixed_str(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = 0;
	while (len && (dst[len - 1] == ' ' || dst[len - 1] == 0))
		dst[--len] = 0;
}

json_object *log_smart_json(const struct fq_smart_log *l)
{
	json_object *o = json_object_new_object(), *cw = json_object_new_object();
	unsigned kelvin = l->temperature[0] | (unsigned)l->temperature[1] << 8;
	char name[32];

	ADD_U(o, "critical_warning", l->critical_warning);
	ADD(cw, "available_spare",
	    json_object_new_boolean(l->critical_warning & FQ_SMART_CW_SPARE));
	ADD(cw, "temp_threshold", json_object_new_boolean(l->critical_warning & FQ_SMART_CW_TEMP));
	ADD(cw, "reliability_degraded",
	    json_object_new_boolean(l->critical_warning & FQ_SMART_CW_DEGRADED));
	ADD(cw, "ro", json_object_new_boolean(l->critical_warning & FQ_SMART_CW_READ_ONLY));
	ADD(cw, "vmbu_failed", json_object_new_boolean(l->critical_warning & FQ_SMART_CW_VOLATILE));
	ADD(cw, "pmr_ro", json_object_new_boolean(l->critical_warning & FQ_SMART_CW_PMR_RO));
	ADD(o, "critical_warning_bits", cw);
	/* Composite temperature in kelvins; nvme-cli's JSON keeps kelvins too. */
	ADD_U(o, "temperature", kelvin);
	ADD(o, "temperature_celsius", json_object_new_int((int)kelvin - 273));
	ADD_U(o, "avail_spare", l->avail_spare);
	ADD_U(o, "spare_thresh", l->spare_thresh);
	ADD_U(o, "percent_used", l->percent_used);
	ADD_U(o, "endurance_grp_critical_warning_summary", l->endu_grp_crit_warn);
	ADD(o, "data_units_read", u128_json(l->data_units_read));
	ADD(o, "data_units_written", u128_json(l->data_units_written));
	ADD(o, "host_read_commands", u128_json(l->host_reads));
	ADD(o, "host_write_commands", u128_json(l->host_writes));
	ADD(o, "controller_busy_time", u128_json(l->ctrl_busy_time));
	ADD(o, "power_cycles", u128_json(l->power_cycles));
	ADD(o, "power_on_hours", u128_json(l->power_on_hours));
	ADD(o, "unsafe_shutdowns", u128_json(l->unsafe_shutdowns));
	ADD(o, "media_errors", u128_json(l->media_errors));
	ADD(o, "num_err_log_entries", u128_json(l->num_err_log_entries));
	ADD_U(o, "warning_temp_time", l->warning_temp_time);
	ADD_U(o, "critical_comp_time", l->critical_comp_time);
	/* Sensors that report 0 are not implemented (Fig. 207). */
	for (int i = 0; i < 8; i++) {
		if (!l->temp_sensor[i])
			continue;
		snprintf(name, sizeof(name), "temperature_sensor_%d", i + 1);
		ADD_U(o, name, l->temp_sensor[i]);
	}
	ADD_U(o, "thm_temp1_trans_count", l->thm_temp1_trans_count);
	ADD_U(o, "thm_temp2_trans_count", l->thm_temp2_trans_count);
	ADD_U(o, "thm_temp1_total_time", l->thm_temp1_total_time);
	ADD_U(o, "thm_temp2_total_time", l->thm_temp2_total_time);
	return o;
}

static const char *trtype_str(uint8_t t)
{
	switch (t) {
	case 0:
		return "not indicated";
	case 1:
		return "rdma";
	case 2:
		return "fc";
	case 3:
		return "tcp";
	case 0xfe:
		return "loop";
	default:
		return "unrecognized";
	}
}

json_object *log_error_json(const struct fq_error_log *e, size_t n)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();
		struct fq_cpl cpl = {.status = e[i].status};
		char st[128];

		ADD_U(x, "error_count", e[i].error_count);
		ADD_U(x, "sqid", e[i].sqid);
		ADD_U(x, "cmdid", e[i].cid);
		/* Bits 15:1 are the status field of the completion, bit 0 the phase. */
		ADD_U(x, "status_field", e[i].status >> 1);
		ADD_S(x, "status_str",
		      e[i].status >> 1 ? fq_cpl_str(&cpl, st, sizeof(st)) : "success");
		ADD_U(x, "phase_tag", e[i].status & 1);
		ADD_U(x, "parm_err_loc", e[i].param_loc);
		ADD_U(x, "lba", e[i].lba);
		ADD_U(x, "nsid", e[i].nsid);
		ADD_U(x, "vs", e[i].vs);
		ADD_S(x, "trtype", trtype_str(e[i].trtype));
		ADD_U(x, "cs", e[i].cs);
		ADD_U(x, "trtype_spec_info", e[i].trtype_spec);
		json_object_array_add(a, x);
	}
	ADD(o, "errors", a);
	return o;
}

json_object *log_fw_json(const struct fq_fw_slot_log *l)
{
	json_object *o = json_object_new_object();
	char name[8], frs[9];

	ADD_U(o, "afi", l->afi);
	ADD_U(o, "active_slot", l->afi & 7);
	ADD_U(o, "next_reset_slot", (l->afi >> 4) & 7);
	/* Empty slots (all zeroes) are left out, as nvme-cli does. */
	for (int i = 0; i < 7; i++) {
		fixed_str(frs, l->frs[i], sizeof(l->frs[i]));
		if (!frs[0])
			continue;
		snprintf(name, sizeof(name), "frs%d", i + 1);
		ADD_S(o, name, frs);
	}
	return o;
}

json_object *log_changed_ns_json(const struct fq_changed_ns_log *l)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	bool overflow = l->nsid[0] == FQ_CHANGED_NS_OVERFLOW;

	/* The list ends at the first zero entry (§5.16.1.5). */
	for (int i = 0; !overflow && i < FQ_CHANGED_NS_MAX && l->nsid[i]; i++)
		json_object_array_add(a, json_object_new_uint64(l->nsid[i]));
	ADD(o, "overflow", json_object_new_boolean(overflow));
	ADD(o, "changed_ns_list", a);
	return o;
}

static const char *ana_state_str(uint8_t s)
{
	switch (s & 0xf) {
	case FQ_ANA_OPTIMIZED:
		return "optimized";
	case FQ_ANA_NON_OPTIMIZED:
		return "non-optimized";
	case FQ_ANA_INACCESSIBLE:
		return "inaccessible";
	case FQ_ANA_PERSISTENT_LOSS:
		return "persistent-loss";
	case FQ_ANA_CHANGE:
		return "change";
	default:
		return "invalid";
	}
}

json_object *log_ana_json(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct fq_ana_log_hdr h;
	json_object *o, *a;
	size_t off = sizeof(h);

	if (len < sizeof(h))
		return NULL;
	memcpy(&h, p, sizeof(h));
	o = json_object_new_object();
	a = json_object_new_array();
	ADD_U(o, "chgcnt", h.chgcnt);
	ADD_U(o, "ngrps", h.ngrps);
	ADD(o, "ana_groups", a);
	for (unsigned g = 0; g < h.ngrps; g++) {
		struct fq_ana_group_desc d;
		json_object *x, *ns;

		if (len - off < sizeof(d))
			goto short_page;
		memcpy(&d, p + off, sizeof(d));
		off += sizeof(d);
		if ((len - off) / 4 < d.nnsids)
			goto short_page;
		x = json_object_new_object();
		ns = json_object_new_array();
		ADD_U(x, "grpid", d.grpid);
		ADD_U(x, "nnsids", d.nnsids);
		ADD_U(x, "chgcnt", d.chgcnt);
		ADD_S(x, "state", ana_state_str(d.state));
		for (uint32_t i = 0; i < d.nnsids; i++, off += 4) {
			uint32_t nsid;

			memcpy(&nsid, p + off, 4);
			json_object_array_add(ns, json_object_new_uint64(nsid));
		}
		ADD(x, "nsids", ns);
		json_object_array_add(a, x);
	}
	return o;
short_page:
	json_object_put(o);
	return NULL;
}

static const char *adrfam_str(uint8_t a)
{
	switch (a) {
	case 1:
		return "ipv4";
	case 2:
		return "ipv6";
	case 3:
		return "infiniband";
	case 4:
		return "fibre-channel";
	case 0xfe:
		return "intra-host";
	default:
		return "unrecognized";
	}
}

static const char *subtype_str(uint8_t t)
{
	switch (t) {
	case FQ_SUBTYPE_DISCOVERY_REFERRAL:
		return "discovery subsystem referral";
	case FQ_SUBTYPE_NVME:
		return "nvme subsystem";
	case FQ_SUBTYPE_CURRENT_DISCOVERY:
		return "current discovery subsystem";
	default:
		return "unrecognized";
	}
}

/* TREQ, NVMe-oF 1.1 Fig. 32: secure channel in bits 1:0, bit 2 SQ flow control. */
static void treq_str(uint8_t t, char *buf, size_t len)
{
	static const char *const sc[] = {"not specified", "required", "not required", "reserved"};

	snprintf(buf, len, "%s%s", sc[t & 3], t & 4 ? ", sq flow control disable supported" : "");
}

/* EFLAGS, NVMe Base 2.0 / TP 8013 and TP 8014. */
static void eflags_str(uint16_t e, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", e ? "" : "none",
		 e & 1 ? "duplicate discovery information " : "",
		 e & 2 ? "explicit discovery connections " : "",
		 e & 4 ? "no cdc connectivity " : "");
	if (e && buf[0])
		buf[strlen(buf) - 1] = 0;
}

size_t log_discovery_len(const void *hdr)
{
	struct fq_disc_log_hdr h;

	memcpy(&h, hdr, sizeof(h));
	/* A bound keeps a hostile NUMREC from sizing a huge read. */
	if (h.numrec > 1024)
		h.numrec = 1024;
	return sizeof(h) + (size_t)h.numrec * sizeof(struct fq_disc_log_entry);
}

json_object *log_discovery_json(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct fq_disc_log_hdr h;
	json_object *o, *a;

	if (len < sizeof(h))
		return NULL;
	memcpy(&h, p, sizeof(h));
	if (h.numrec > (len - sizeof(h)) / sizeof(struct fq_disc_log_entry))
		return NULL;
	o = json_object_new_object();
	a = json_object_new_array();
	ADD_U(o, "genctr", h.genctr);
	ADD_U(o, "numrec", h.numrec);
	ADD_U(o, "recfmt", h.recfmt);
	for (uint64_t i = 0; i < h.numrec; i++) {
		const struct fq_disc_log_entry *e =
			(const void *)(p + sizeof(h) + i * sizeof(struct fq_disc_log_entry));
		json_object *x = json_object_new_object();
		char s[257];

		ADD_S(x, "trtype", trtype_str(e->trtype));
		ADD_S(x, "adrfam", adrfam_str(e->adrfam));
		ADD_S(x, "subtype", subtype_str(e->subtype));
		treq_str(e->treq, s, sizeof(s));
		ADD_S(x, "treq", s);
		ADD_U(x, "portid", e->portid);
		fixed_str(s, e->trsvcid, sizeof(e->trsvcid));
		ADD_S(x, "trsvcid", s);
		fixed_str(s, e->subnqn, sizeof(e->subnqn));
		ADD_S(x, "subnqn", s);
		fixed_str(s, e->traddr, sizeof(e->traddr));
		ADD_S(x, "traddr", s);
		eflags_str(e->eflags, s, sizeof(s));
		ADD_S(x, "eflags", s);
		/* TCP TSAS byte 0 is SECTYPE (TP 8000 §3.4). */
		ADD_S(x, "sectype",
		      e->trtype != 3	? "n/a"
		      : e->tsas[0] == 0 ? "none"
		      : e->tsas[0] == 1 ? "tls1.2"
		      : e->tsas[0] == 2 ? "tls1.3"
					: "reserved");
		ADD_U(x, "cntlid", e->cntlid);
		ADD_U(x, "asqsz", e->asqsz);
		json_object_array_add(a, x);
	}
	ADD(o, "records", a);
	return o;
}
