/* SPDX-License-Identifier: MIT */
/* fabriq write: a file, stdin or a pattern to a byte range; --verify reads back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct write_ctx {
	struct cli *cli;
	int fd;
	uint8_t *data; /* the whole input when read from a pipe */
	size_t data_len;
	uint64_t mismatch_at;
	bool mismatch;
};

static int fill(void *arg, uint64_t off, uint8_t *buf, size_t len)
{
	struct write_ctx *w = arg;

	if (w->data) {
		size_t n = off < w->data_len ? w->data_len - off : 0;

		if (n > len)
			n = len;
		memcpy(buf, w->data + off, n);
		memset(buf + n, 0, len - n);
	} else if (w->fd >= 0) {
		ssize_t n = pread(w->fd, buf, len, (off_t)off);

		if (n < 0)
			return -EIO;
		memset(buf + n, 0, len - (size_t)n); /* short file: zero-fill the tail */
	} else {
		cli_pattern_fill(w->cli->pattern, w->cli->offset + off, buf, len);
	}
	return 0;
}

/* --verify: what the device returns must equal what fill() produced. */
static int check(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct write_ctx *w = arg;
	uint8_t *want = malloc(len);
	int rc;

	if (!want)
		return -ENOMEM;
	rc = fill(w, off, want, len);
	for (size_t i = 0; !rc && i < len && !w->mismatch; i++) {
		if (want[i] != buf[i]) {
			w->mismatch = true;
			w->mismatch_at = w->cli->offset + off + i;
		}
	}
	free(want);
	return rc;
}

static int slurp_stdin(struct write_ctx *w)
{
	size_t cap = 1 << 20, n = 0, want;
	uint8_t *p = malloc(cap), *q;
	ssize_t r;

	while (p && (r = read(STDIN_FILENO, p + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n < cap)
			continue;
		q = realloc(p, cap *= 2);
		if (!q)
			free(p);
		p = q;
	}
	if (!p)
		return -ENOMEM;
	if (!w->cli->have_length)
		w->cli->length = n;
	want = w->cli->length > n ? w->cli->length : n;
	if (want > cap) {
		q = realloc(p, want);
		if (!q) {
			free(p);
			return -ENOMEM;
		}
		p = q;
	}
	/* Input shorter than --length: the rest is zeroes. */
	memset(p + n, 0, want - n);
	w->data = p;
	w->data_len = want;
	return 0;
}

static int open_input(struct write_ctx *w)
{
	struct cli *cli = w->cli;
	struct stat st;

	if (!cli->input && !cli->pattern) {
		fprintf(stderr, "fabriq write: need --input FILE or --pattern P\n");
		return EXIT_USAGE;
	}
	if (!cli->input) {
		if (cli->have_length)
			return EXIT_OK;
		fprintf(stderr, "fabriq write: --length is required with --pattern\n");
		return EXIT_USAGE;
	}
	if (!strcmp(cli->input, "-"))
		return slurp_stdin(w) ? EXIT_LOCAL_IO : EXIT_OK;
	w->fd = open(cli->input, O_RDONLY);
	if (w->fd < 0 || fstat(w->fd, &st)) {
		fprintf(stderr, "fabriq write: %s: %s\n", cli->input, strerror(errno));
		return EXIT_LOCAL_IO;
	}
	if (!cli->have_length)
		cli->length = (uint64_t)st.st_size;
	return EXIT_OK;
}

static int check_range(struct cli *cli, struct fq_ns *ns)
{
	uint32_t ss = fq_ns_get_sector_size(ns);

	if (!cli->length || cli->offset % ss || cli->length % ss || cli->block_size % ss ||
	    !cli->block_size) {
		fprintf(stderr,
			"fabriq write: offset, length (%llu) and block size must be "
			"non-zero multiples of the %u-byte block size\n",
			(unsigned long long)cli->length, ss);
		return EXIT_USAGE;
	}
	if (cli->offset + cli->length > fq_ns_get_size(ns)) {
		fprintf(stderr, "fabriq write: range ends beyond the namespace (%llu bytes)\n",
			(unsigned long long)fq_ns_get_size(ns));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int run(struct cli *cli, struct write_ctx *w, struct fq_ns *ns, struct fq_qpair *qp)
{
	struct fq_cpl cpl = {0};
	int rc = cli_xfer(cli, ns, qp, true, fill, NULL, w, &cpl);

	if (rc)
		return cli_nvme_fail("write", rc, &cpl);
	if (cli->verify) {
		rc = cli_xfer(cli, ns, qp, false, NULL, check, w, &cpl);
		if (rc)
			return cli_nvme_fail("read back", rc, &cpl);
		if (w->mismatch) {
			fprintf(stderr, "fabriq write: read-back differs at byte %llu\n",
				(unsigned long long)w->mismatch_at);
			return EXIT_VERIFY;
		}
	}
	if (cli->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "offset", json_object_new_uint64(cli->offset));
		json_object_object_add(o, "length", json_object_new_uint64(cli->length));
		json_object_object_add(o, "verified", json_object_new_boolean(cli->verify));
		cli_print_json(o);
	} else {
		printf("wrote %llu bytes at offset %llu%s\n", (unsigned long long)cli->length,
		       (unsigned long long)cli->offset,
		       cli->verify ? ", read back and verified" : "");
	}
	return EXIT_OK;
}

int cmd_write(struct cli *cli)
{
	struct write_ctx w = {.cli = cli, .fd = -1};
	struct fq_ctrlr *c = NULL;
	struct fq_qpair *qp = NULL;
	struct fq_ns *ns;
	int rc = open_input(&w);

	if (!rc)
		rc = cli_connect(cli, false, &c);
	if (!rc)
		rc = cli_open_ns(cli, c, &ns, &qp);
	/* A file that is not a whole number of blocks is padded with zeroes. */
	if (!rc && cli->input && !cli->have_length)
		cli->length = (cli->length + fq_ns_get_sector_size(ns) - 1) /
			      fq_ns_get_sector_size(ns) * fq_ns_get_sector_size(ns);
	if (!rc)
		rc = check_range(cli, ns);
	if (!rc)
		rc = run(cli, &w, ns, qp);
	if (w.fd >= 0)
		close(w.fd);
	free(w.data);
	cli_close(c, qp);
	return rc;
}
