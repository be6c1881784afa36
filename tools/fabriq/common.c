/* SPDX-License-Identifier: MIT */
/* Connecting, error reporting, JSON and dump helpers of the fabriq tool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *what)
{
	fprintf(stderr, "fabriq: %s: %s\n", what, fq_last_error());
	return EXIT_CONNECT;
}

int cli_nvme_fail(const char *what, int rc, const struct fq_cpl *cpl)
{
	char st[128];

	if (rc == -EIO && cpl) {
		fprintf(stderr, "fabriq: %s failed: %s\n", what, fq_cpl_str(cpl, st, sizeof(st)));
		return fq_cpl_is_path_error(cpl) ? EXIT_CONNECT : EXIT_NVME;
	}
	if (rc == -EIO) {
		fprintf(stderr, "fabriq: %s\n", fq_last_error());
		return EXIT_NVME;
	}
	fprintf(stderr, "fabriq: %s failed: %s%s%s\n", what, strerror(-rc),
		fq_last_error()[0] ? ": " : "", fq_last_error());
	return rc == -EINVAL ? EXIT_USAGE : EXIT_CONNECT;
}

int cli_connect(struct cli *cli, bool discovery, struct fq_ctrlr **c)
{
	struct fq_ctrlr_opts o;
	int rc = cli_addr_trid(&cli->addr, cli->cmd, discovery, &cli->trid);

	if (rc)
		return EXIT_USAGE;
	if (!c)
		return EXIT_OK; /* only build the TRID */
	fq_ctrlr_opts_init(&o, sizeof(o));
	o.header_digest = cli->hdgst;
	o.data_digest = cli->ddgst;
	o.num_io_queues = 1;
	/* A one-shot tool should not wait minutes for a dead target. */
	o.ctrl_loss_timeout_ms = 0;
	if (cli->connect_timeout_ms)
		o.connect_timeout_ms = cli->connect_timeout_ms;
	rc = fq_ctrlr_connect(&cli->trid, &o, c);
	if (rc) {
		fprintf(stderr, "fabriq: %s\n", fq_last_error());
		return EXIT_CONNECT;
	}
	return EXIT_OK;
}

int cli_open_ns(struct cli *cli, struct fq_ctrlr *c, struct fq_ns **ns, struct fq_qpair **qp)
{
	uint32_t nsid = cli->nsid ? cli->nsid : fq_ctrlr_first_ns(c);

	*ns = nsid ? fq_ctrlr_get_ns(c, nsid) : NULL;
	if (!*ns) {
		fprintf(stderr, "fabriq: namespace %u is not active on %s\n", nsid,
			cli->trid.subnqn);
		return EXIT_USAGE;
	}
	if (qp && fq_ctrlr_alloc_io_qpair(c, NULL, qp)) {
		fprintf(stderr, "fabriq: %s\n", fq_last_error());
		return EXIT_CONNECT;
	}
	return EXIT_OK;
}

void cli_close(struct fq_ctrlr *c, struct fq_qpair *qp)
{
	if (qp)
		fq_qpair_free(qp);
	if (c)
		fq_ctrlr_disconnect(c);
}

void cli_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void cli_print_text(json_object *o, int indent)
{
	json_object_object_foreach(o, key, val)
	{
		size_t n = json_object_is_type(val, json_type_array) ? json_object_array_length(val)
								     : 0;

		if (json_object_is_type(val, json_type_object)) {
			printf("%*s%s:\n", indent, "", key);
			cli_print_text(val, indent + 2);
		} else if (n && json_object_is_type(json_object_array_get_idx(val, 0),
						    json_type_object)) {
			for (size_t i = 0; i < n; i++) {
				printf("%*s=====%s[%zu]=====\n", indent, "", key, i);
				cli_print_text(json_object_array_get_idx(val, i), indent);
			}
		} else if (json_object_is_type(val, json_type_array)) {
			printf("%*s%-*s: %zu\n", indent, "", 40 - indent, key, n);
			for (size_t i = 0; i < n; i++)
				printf("%*s[%4zu] : %s\n", indent + 2, "", i,
				       json_object_get_string(json_object_array_get_idx(val, i)));
		} else {
			printf("%*s%-*s: %s\n", indent, "", 40 - indent, key,
			       json_object_get_string(val));
		}
	}
}

void cli_print_fields(json_object *o)
{
	json_object_object_foreach(o, key, f)
	{
		json_object *bits = json_object_object_get(f, "bits");

		printf("%-10s: %#llx\n", key,
		       (unsigned long long)json_object_get_uint64(
			       json_object_object_get(f, "value")));
		for (size_t i = 0; i < json_object_array_length(bits); i++) {
			json_object *b = json_object_array_get_idx(bits, i);

			printf("  %-8s: %#-6llx %s\n",
			       json_object_get_string(json_object_object_get(b, "bits")),
			       (unsigned long long)json_object_get_uint64(
				       json_object_object_get(b, "value")),
			       json_object_get_string(json_object_object_get(b, "name")));
		}
	}
	json_object_put(o);
}

void cli_hexdump(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i += 16) {
		printf("%08zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++)
			printf(" %02x", p[j]);
		printf("\n");
	}
}

json_object *cli_json_hex(const void *buf, size_t len)
{
	char s[129];
	const uint8_t *p = buf;

	if (len > 64)
		len = 64;
	for (size_t i = 0; i < len; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * len] = 0;
	return json_object_new_string(s);
}

json_object *cli_json_data(const void *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = buf;
	char *s = malloc(2 * len + 1);
	json_object *o;

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = hex[p[i] >> 4];
		s[2 * i + 1] = hex[p[i] & 15];
	}
	o = json_object_new_string_len(s, (int)(2 * len));
	free(s);
	return o;
}

void cli_str(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = 0;
	while (len && (dst[len - 1] == ' ' || dst[len - 1] == 0))
		dst[--len] = 0;
}

/* --pattern: "0xNN" (one byte), "incr" (byte = offset & 0xff), "random[:SEED]". */
int cli_pattern_check(const char *p)
{
	char *end;
	unsigned long v;

	if (!strcmp(p, "incr") || !strcmp(p, "random"))
		return 0;
	if (!strncmp(p, "random:", 7)) {
		strtoull(p + 7, &end, 0);
		return *end || end == p + 7 ? -EINVAL : 0;
	}
	v = strtoul(p, &end, 0);
	return *end || end == p || v > 255 ? -EINVAL : 0;
}

static uint64_t mix(uint64_t x)
{
	/* splitmix64: the value of every 8-byte word depends only on its offset. */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void cli_pattern_fill(const char *p, uint64_t off, uint8_t *buf, size_t len)
{
	if (!strcmp(p, "incr")) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(off + i);
	} else if (!strncmp(p, "random", 6)) {
		uint64_t seed = p[6] == ':' ? strtoull(p + 7, NULL, 0) : 0;

		for (size_t i = 0; i < len; i++) {
			uint64_t o = off + i;

			buf[i] = (uint8_t)(mix(seed ^ (o >> 3)) >> (8 * (o & 7)));
		}
	} else {
		memset(buf, (int)strtoul(p, NULL, 0), len);
	}
}
