/* SPDX-License-Identifier: MIT */
/*
 * Log pages decoded into JSON objects (log_decode.c). Pure: bytes in, a
 * json-c object out, no I/O; the commands (logs.c) print the object as JSON
 * or, through cli_print_text(), as "field : value" lines the way nvme-cli
 * shows them. Field names follow nvme-cli's JSON output.
 */
#ifndef FQ_TOOLS_LOG_DECODE_H
#define FQ_TOOLS_LOG_DECODE_H

#include <json-c/json.h>
#include <stddef.h>

#include "fabriq/nvme_spec.h"

json_object *log_smart_json(const struct fq_smart_log *l);
json_object *log_error_json(const struct fq_error_log *e, size_t n);
json_object *log_fw_json(const struct fq_fw_slot_log *l);
json_object *log_changed_ns_json(const struct fq_changed_ns_log *l);
/* Variable length pages: NULL when @len cuts a descriptor short. */
json_object *log_ana_json(const void *buf, size_t len);
json_object *log_discovery_json(const void *buf, size_t len);
/* The bytes a discovery log with the header in @buf needs (header + entries). */
size_t log_discovery_len(const void *hdr);

/* Identify data with every bit field spelled out (-H). */
json_object *id_ctrl_human_json(const struct fq_id_ctrl *id);
json_object *id_ns_human_json(const struct fq_id_ns *id);

#endif
