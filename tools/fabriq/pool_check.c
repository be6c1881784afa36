/* SPDX-License-Identifier: MIT */
/*
 * fabriq pool check PATH: the volume engine's offline check (fq_pool_check)
 * of a pool's file or device that no daemon has open. It is the one verb
 * that reads a pool itself rather than asking fabriqd, so it is built with
 * the engine's own headers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bdev/bdev.h"
#include "cli.h"
#include "rpc_client.h"
#include "volume/volume.h"
#include "xport/engine.h"

int cli_pool_check(const char *path, bool json)
{
	struct fq_pool_check_report rep = {0};
	struct fq_bdev_opts o;
	struct fq_bdev *b = NULL;
	struct fq_engine eng;
	char err[256];
	int rc;

	fq_bdev_opts_init(&o, FQ_BDEV_FILE);
	o.path = path;
	rc = fq_bdev_open(&o, &b, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq pool check: %s\n", err);
		return EXIT_LOCAL_IO;
	}
	rc = fq_engine_init(&eng, 64);
	if (rc) {
		fprintf(stderr, "fabriq pool check: io_uring: %s\n", strerror(-rc));
		fq_bdev_close(b);
		return EXIT_LOCAL_IO;
	}
	rc = fq_pool_check(b, &eng, &rep);
	fq_engine_fini(&eng);
	fq_bdev_close(b);
	if (rc) {
		fprintf(stderr, "fabriq pool check: %s: %s%s\n", path, strerror(-rc),
			rc == -EBADMSG ? " (no pool there)" : "");
		return EXIT_LOCAL_IO;
	}
	if (json)
		printf("{\"path\": \"%s\", \"clean\": %s, \"errors\": %llu, \"clusters_owned\": "
		       "%llu, \"clusters_shared\": %llu, \"first_error\": \"%s\"}\n",
		       path, rep.errors ? "false" : "true", (unsigned long long)rep.errors,
		       (unsigned long long)rep.clusters_owned,
		       (unsigned long long)rep.clusters_shared, rep.first_error);
	else if (rep.errors)
		printf("%s: %llu error(s); first: %s\n", path, (unsigned long long)rep.errors,
		       rep.first_error);
	else if (rep.clusters_shared)
		printf("%s: clean, %llu cluster(s) owned, %llu shared reference(s)\n", path,
		       (unsigned long long)rep.clusters_owned,
		       (unsigned long long)rep.clusters_shared);
	else
		printf("%s: clean, %llu cluster(s) owned\n", path,
		       (unsigned long long)rep.clusters_owned);
	return rep.errors ? EXIT_VERIFY : EXIT_OK;
}
