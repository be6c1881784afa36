/* SPDX-License-Identifier: MIT */
/* fabriq read: a byte range to a file, stdout, a hex dump, or a --verify. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct read_ctx {
	struct cli *cli;
	int fd;
	uint8_t *dump; /* hex dump when no --output */
	uint64_t mismatch_at;
	bool mismatch;
};

static int sink(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct read_ctx *r = arg;

	if (r->cli->verify) {
		uint8_t *want = malloc(len);

		if (!want)
			return -ENOMEM;
		cli_pattern_fill(r->cli->pattern, r->cli->offset + off, want, len);
		for (size_t i = 0; i < len && !r->mismatch; i++) {
			if (want[i] != buf[i]) {
				r->mismatch = true;
				r->mismatch_at = r->cli->offset + off + i;
			}
		}
		free(want);
	}
	if (r->dump)
		memcpy(r->dump + off, buf, len);
	/* stdout may be a pipe: written in order (queue depth 1), not by offset. */
	if (r->fd == STDOUT_FILENO && write(r->fd, buf, len) != (ssize_t)len)
		return -EPIPE;
	if (r->fd > STDOUT_FILENO && pwrite(r->fd, buf, len, (off_t)off) != (ssize_t)len)
		return -EPIPE;
	return 0;
}

static int check_args(struct cli *cli, struct fq_ns *ns)
{
	uint32_t ss = fq_ns_get_sector_size(ns);

	if (!cli->have_length || !cli->length) {
		fprintf(stderr, "fabriq read: --length is required\n");
		return -EINVAL;
	}
	if (cli->verify && !cli->pattern) {
		fprintf(stderr, "fabriq read: --verify needs --pattern\n");
		return -EINVAL;
	}
	if (cli->offset % ss || cli->length % ss || cli->block_size % ss || !cli->block_size) {
		fprintf(stderr,
			"fabriq read: offset, length and block size must be multiples of "
			"the %u-byte block size\n",
			ss);
		return -EINVAL;
	}
	if (cli->offset + cli->length > fq_ns_get_size(ns)) {
		fprintf(stderr, "fabriq read: range ends beyond the namespace (%llu bytes)\n",
			(unsigned long long)fq_ns_get_size(ns));
		return -EINVAL;
	}
	/* Output to a pipe must arrive in order. */
	if (cli->output && !strcmp(cli->output, "-"))
		cli->queue_depth = 1;
	return 0;
}

static int report(struct cli *cli, struct read_ctx *r, int rc, const struct fq_cpl *cpl)
{
	if (rc == -EPIPE) {
		fprintf(stderr, "fabriq read: writing %s failed\n", cli->output);
		return EXIT_LOCAL_IO;
	}
	if (rc)
		return cli_nvme_fail("read", rc, cpl);
	if (r->dump && !cli->verify && !cli->json)
		cli_hexdump(r->dump, cli->length);
	if (cli->verify && r->mismatch) {
		fprintf(stderr, "fabriq read: data differs from pattern %s at byte %llu\n",
			cli->pattern, (unsigned long long)r->mismatch_at);
		return EXIT_VERIFY;
	}
	if (cli->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "offset", json_object_new_uint64(cli->offset));
		json_object_object_add(o, "length", json_object_new_uint64(cli->length));
		json_object_object_add(o, "verified", json_object_new_boolean(cli->verify));
		/* Without --output the data itself, as one hex string. */
		if (r->dump)
			json_object_object_add(o, "data", cli_json_data(r->dump, cli->length));
		cli_print_json(o);
	} else if (cli->verify || (cli->output && strcmp(cli->output, "-"))) {
		printf("read %llu bytes at offset %llu%s\n", (unsigned long long)cli->length,
		       (unsigned long long)cli->offset, cli->verify ? ", data verified" : "");
	}
	return EXIT_OK;
}

int cmd_read(struct cli *cli)
{
	struct read_ctx r = {.cli = cli, .fd = -1};
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	struct fq_cpl cpl = {0};
	int rc;

	rc = cli_connect(cli, false, &c);
	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	if (!rc && check_args(cli, ns))
		rc = EXIT_USAGE;
	if (!rc && cli->output) {
		r.fd = !strcmp(cli->output, "-")
			       ? STDOUT_FILENO
			       : open(cli->output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (r.fd < 0) {
			fprintf(stderr, "fabriq read: %s: %s\n", cli->output, strerror(errno));
			rc = EXIT_LOCAL_IO;
		}
	} else if (!rc && !cli->verify) {
		r.dump = malloc(cli->length);
		if (!r.dump || cli->length > (64u << 20)) {
			fprintf(stderr, "fabriq read: use --output for more than 64 MiB\n");
			rc = EXIT_USAGE;
		}
	}
	if (!rc) {
		rc = cli_xfer(cli, ns, qp, false, NULL, sink, &r, &cpl);
		rc = report(cli, &r, rc, &cpl);
	}
	if (r.fd > STDOUT_FILENO)
		close(r.fd);
	free(r.dump);
	cli_close(c, qp);
	return rc;
}
