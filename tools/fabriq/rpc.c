/* SPDX-License-Identifier: MIT */
/*
 * fabriq rpc: call any method of fabriqd's management socket.
 *
 *   fabriq rpc [-S PATH] METHOD ['{"param": value, ...}']
 *   fabriq rpc [-S PATH] --list
 *
 * The result is printed as JSON; an error goes to stderr with exit status
 * 6 (3 when fabriqd cannot be reached).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rpc_client.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fabriq rpc [-S PATH] METHOD [JSON-PARAMS]\n"
		   "       fabriq rpc [-S PATH] --list\n\n"
		   "Call a method of fabriqd's management socket (docs/rpc.md) and print\n"
		   "its result as JSON.\n\n"
		   "options:\n"
		   "  -S, --socket PATH       fabriqd's socket (default " CLI_RPC_SOCKET ")\n"
		   "  -l, --list              list the methods, one per line\n"
		   "  -h, --help              this text\n");
}

static int list_methods(const char *sock)
{
	json_object *res;
	char err[512];
	int rc = cli_rpc_call(sock, "rpc_methods", NULL, &res, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "fabriq rpc: %s\n", err);
		return rc;
	}
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *m = json_object_array_get_idx(res, i), *n, *d;

		if (json_object_object_get_ex(m, "name", &n) &&
		    json_object_object_get_ex(m, "description", &d))
			printf("%-26s %s\n", json_object_get_string(n), json_object_get_string(d));
	}
	json_object_put(res);
	return EXIT_OK;
}

int cmd_rpc(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 'S'},
		{"list", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_object *params = NULL, *res;
	bool list = false;
	char err[1024];
	int c, rc;

	optind = 1;
	/* '+': stop at METHOD, so JSON such as '-1' is not taken for an option. */
	while ((c = getopt_long(argc, argv, "+S:lh", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (list && optind == argc)
		return list_methods(sock);
	if (list || optind == argc || argc - optind > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc - optind == 2) {
		params = json_tokener_parse(argv[optind + 1]);
		if (!params || !json_object_is_type(params, json_type_object)) {
			fprintf(stderr, "fabriq rpc: the parameters must be one JSON object, e.g. "
					"'{\"nqn\": \"...\"}'\n");
			json_object_put(params);
			return EXIT_USAGE;
		}
	}
	rc = cli_rpc_call(sock, argv[optind], params, &res, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fabriq rpc: %s\n", err);
		return rc;
	}
	cli_print_json(res); /* and puts it */
	return EXIT_OK;
}
