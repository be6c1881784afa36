/* SPDX-License-Identifier: MIT */
/*
 * fabriq config: the running configuration of a fabriqd.
 *
 *   fabriq config save [-S PATH]
 *
 * prints it as an INI file that `fabriqd -c` accepts and that reproduces
 * the subsystems, hosts, listeners and namespaces (docs/management.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rpc_client.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fabriq config save [-S PATH]\n\n"
		   "Print the running configuration of fabriqd as an INI file that\n"
		   "fabriqd -c accepts (docs/management.md).\n\n"
		   "options:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -h, --help              this text\n");
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_object *res, *text;
	char err[1024];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "save")) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = cli_rpc_call(sock, "config_dump", NULL, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq config: %s\n", err);
		return rc;
	}
	if (!json_object_object_get_ex(res, "config", &text) ||
	    !json_object_is_type(text, json_type_string)) {
		fprintf(stderr, "fabriq config: fabriqd sent no configuration text\n");
		json_object_put(res);
		return EXIT_RPC;
	}
	fwrite(json_object_get_string(text), 1, (size_t)json_object_get_string_len(text), stdout);
	json_object_put(res);
	return fflush(stdout) ? EXIT_LOCAL_IO : EXIT_OK;
}
